// Progress of long commands on stderr, when stderr is a terminal: one line,
// rewritten in place ("\r"), with the rate and the time left; nothing at all
// when stderr is a pipe or a file, so scripts and logs see only results.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "hotstate/progress.hpp"

namespace hotstate_tool {

class ProgressLine {
 public:
  // Enabled when stderr is a terminal. HOTSTATE_PROGRESS_INTERVAL_MS (default
  // 100) is the least time between two lines of one step, 0 for every update
  // (the tests draw every line so that what they read does not depend on speed).
  ProgressLine();
  ~ProgressLine();  // ends the line, if one was drawn
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Draws `progress`, at most ten times a second (the last of a step always).
  void show(const hotstate::Progress& progress);
  // A callback for the library's long calls.
  hotstate::ProgressCallback callback() {
    if (!enabled_) return {};
    return [this](const hotstate::Progress& progress) { show(progress); };
  }
  bool enabled() const { return enabled_; }

 private:
  bool enabled_ = false;
  bool drawn_ = false;
  std::string step_;  // the step being shown
  std::chrono::steady_clock::time_point step_started_{};
  std::chrono::steady_clock::duration last_step_took_{};  // how long the step before took
  std::chrono::steady_clock::time_point last_drawn_{};
  std::size_t width_ = 0;  // of the line drawn last, to blank what a shorter one leaves
  std::chrono::milliseconds interval_{100};
};

}  // namespace hotstate_tool
