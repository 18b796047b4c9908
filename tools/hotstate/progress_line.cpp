// Progress of long commands on stderr (progress_line.hpp).
#include "progress_line.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace hotstate_tool {

namespace {

std::string seconds_text(double seconds) {
  const long whole = static_cast<long>(seconds + 0.5);
  char text[48];
  if (whole < 60) {
    std::snprintf(text, sizeof text, "%ld s", whole);
  } else {
    std::snprintf(text, sizeof text, "%ld min %02ld s", whole / 60, whole % 60);
  }
  return text;
}

}  // namespace

ProgressLine::ProgressLine() : enabled_(::isatty(STDERR_FILENO) == 1) {
  if (const char* interval = std::getenv("HOTSTATE_PROGRESS_INTERVAL_MS"); interval != nullptr && *interval != '\0') {
    interval_ = std::chrono::milliseconds(std::strtol(interval, nullptr, 10));
  }
}

ProgressLine::~ProgressLine() {
  if (drawn_) std::fputs("\n", stderr);
}

void ProgressLine::show(const hotstate::Progress& progress) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (progress.what != step_) {
    if (!step_.empty()) last_step_took_ = now - step_started_;
    step_ = std::string(progress.what);
    step_started_ = now;
  } else if (progress.done < progress.total && now - last_drawn_ < interval_) {
    return;
  }
  last_drawn_ = now;
  const double elapsed = std::chrono::duration<double>(now - step_started_).count();
  std::string line = step_ + ": " + std::to_string(progress.done);
  if (progress.total > 0) {
    char percent[32];
    std::snprintf(percent, sizeof percent, " (%.1f %%)", 100.0 * static_cast<double>(progress.done) / static_cast<double>(progress.total));
    line += " of " + std::to_string(progress.total) + " " + std::string(progress.unit) + percent;
  } else {
    line += " " + std::string(progress.unit);
  }
  if (progress.done > 0 && elapsed > 0) {
    const double rate = static_cast<double>(progress.done) / elapsed;
    char rate_text[48];
    std::snprintf(rate_text, sizeof rate_text, ", %.0f %s/s", rate, std::string(progress.unit).c_str());
    line += rate_text;
    if (progress.total > progress.done) {
      line += ", " + seconds_text(static_cast<double>(progress.total - progress.done) / rate) + " left";
    }
  } else if (progress.total > 0 && progress.done == 0 && last_step_took_.count() > 0) {
    // A step that reports only its start and end (a prune's removal): as
    // long as the step before it (its count) took.
    line += ", about " + seconds_text(std::chrono::duration<double>(last_step_took_).count()) + " left";
  }
  const std::size_t width = line.size();
  if (width < width_) line.append(width_ - width, ' ');
  width_ = width;
  std::fprintf(stderr, "\r%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace hotstate_tool
