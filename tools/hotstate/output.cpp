// The hotstate tool's text in and out: escapes, tables, JSON members, times,
// and the arguments read as numbers or times (output.hpp).
#include "output.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace hotstate_tool {

using hotstate::Json;
using hotstate::JsonWriter;

// ---- Text for people: escapes

namespace {

bool in_range(unsigned char c, unsigned char low, unsigned char high) { return c >= low && c <= high; }

// The length of the well-formed UTF-8 sequence `text` starts with (2 to 4
// bytes, by the table of Unicode's section 3.9: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 when it does not start with one.
std::size_t utf8_sequence_length(std::string_view text) {
  const auto byte = [&](std::size_t i) { return i < text.size() ? static_cast<unsigned char>(text[i]) : 0; };
  const unsigned char lead = byte(0);
  const auto continuation = [&](std::size_t i) { return in_range(byte(i), 0x80, 0xBF); };
  if (in_range(lead, 0xC2, 0xDF)) return continuation(1) ? 2 : 0;
  if (in_range(lead, 0xE0, 0xEF)) {
    const bool second = lead == 0xE0   ? in_range(byte(1), 0xA0, 0xBF)
                        : lead == 0xED ? in_range(byte(1), 0x80, 0x9F)
                                       : continuation(1);
    return second && continuation(2) ? 3 : 0;
  }
  if (in_range(lead, 0xF0, 0xF4)) {
    const bool second = lead == 0xF0   ? in_range(byte(1), 0x90, 0xBF)
                        : lead == 0xF4 ? in_range(byte(1), 0x80, 0x8F)
                                       : continuation(1);
    return second && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

bool is_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t length = utf8_sequence_length(text.substr(i));
    if (length == 0) return false;
    i += length;
  }
  return true;
}

void append_escape(std::string& out, const char* format, unsigned value) {
  char escaped[8];
  std::snprintf(escaped, sizeof escaped, format, value);
  out += escaped;
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      out += text[i++];
      continue;
    }
    if (c < 0x80) {  // C0 controls and DEL
      if (c == '\n') {
        out += "\\n";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c == '\r') {
        out += "\\r";
      } else {
        append_escape(out, "\\x%02X", c);
      }
      ++i;
      continue;
    }
    const std::size_t length = utf8_sequence_length(text.substr(i));
    if (length == 0) {
      append_escape(out, "\\x%02X", c);  // not UTF-8: one byte at a time
      ++i;
    } else if (length == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
      append_escape(out, "\\u%04X", static_cast<unsigned char>(text[i + 1]));  // C1 control U+0080..U+009F
      i += 2;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

// Text from the file for a JSON member: exact when it is UTF-8; JSON cannot
// hold other bytes, so those (only in rows other clients wrote) are shown
// escaped rather than failing the whole output.
std::string json_text(std::string_view text) { return is_utf8(text) ? std::string(text) : printable(text); }

// Characters (UTF-8 code points) in `text`: every byte but continuation bytes.
std::size_t display_width(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char ch) {
    return (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  }));
}

std::string shorten(std::string_view text, std::size_t width) {
  if (display_width(text) <= width) return std::string(text);
  const std::size_t keep = width > 3 ? width - 3 : 0;
  std::size_t chars = 0;
  std::size_t end = 0;
  for (; end < text.size(); ++end) {
    if ((static_cast<unsigned char>(text[end]) & 0xC0) != 0x80 && chars++ == keep) break;
  }
  return std::string(text.substr(0, end)) + "...";
}

void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                 std::string_view indent) {
  std::vector<std::size_t> widths(header.size(), 0);
  const auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(printable(row[i])));
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  const auto print_row = [&](const std::vector<std::string>& row) {
    std::string line(indent);
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? printable(row[i]) : std::string();
      line += cell;
      if (i + 1 < widths.size()) line += std::string(widths[i] - display_width(cell) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
}

// ---- Text for scripts: JSON

void embed_json_text(JsonWriter& out, std::string_view key, const std::string& text) {
  out.key(key);
  try {
    out.json(Json::parse(text));
  } catch (const hotstate::Error&) {
    out.string(text);
  }
}

// ---- Times

namespace {

constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::int64_t kSecondsPerDay = 86'400;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// `count` digits at text[pos…] as a number, or nullopt.
std::optional<std::int64_t> digits_at(std::string_view text, std::size_t pos, std::size_t count) {
  if (pos + count > text.size()) return std::nullopt;
  std::int64_t value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (!is_digit(text[i])) return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

// A whole string of 1 to 12 digits as a number (12 digits of seconds still
// fit in microseconds), or nullopt.
std::optional<std::int64_t> small_number(std::string_view text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  return digits_at(text, 0, text.size());
}

// YYYY-MM-DD[(T|space)HH:MM:SS[.fraction][Z]], UTC.
std::optional<std::int64_t> parse_iso(std::string_view text) {
  const auto year = digits_at(text, 0, 4);
  const auto month = digits_at(text, 5, 2);
  const auto day = digits_at(text, 8, 2);
  if (!year || !month || !day || text[4] != '-' || text[7] != '-') return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(static_cast<int>(*year)),
                                         std::chrono::month(static_cast<unsigned>(*month)),
                                         std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok()) return std::nullopt;  // e.g. month 13, or February 30
  std::int64_t seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::sys_days(date).time_since_epoch()).count();
  if (text.size() == 10) return seconds * kMicrosPerSecond;
  if (text[10] != 'T' && text[10] != 't' && text[10] != ' ') return std::nullopt;
  const auto hour = digits_at(text, 11, 2);
  const auto minute = digits_at(text, 14, 2);
  const auto second = digits_at(text, 17, 2);
  if (!hour || !minute || !second || text[13] != ':' || text[16] != ':') return std::nullopt;
  if (*hour > 23 || *minute > 59 || *second > 59) return std::nullopt;
  seconds += *hour * 3600 + *minute * 60 + *second;
  std::int64_t micros = 0;
  std::size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t count = 0;
    std::int64_t scale = 100'000;
    for (; pos < text.size() && is_digit(text[pos]); ++pos, ++count) {
      if (count < 6) {  // beyond microseconds: read, not kept
        micros += (text[pos] - '0') * scale;
        scale /= 10;
      }
    }
    if (count == 0 || count > 9) return std::nullopt;
  }
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) ++pos;
  if (pos != text.size()) return std::nullopt;
  return seconds * kMicrosPerSecond + micros;
}

}  // namespace

std::string iso_time(std::uint64_t seconds) {
  const auto t = static_cast<std::time_t>(seconds);
  std::tm utc{};
  if (gmtime_r(&t, &utc) == nullptr) return std::to_string(seconds);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

// ---- Arguments

std::int64_t parse_time_argument(std::string_view text, std::int64_t now, std::string_view option) {
  std::optional<std::int64_t> result;
  if (!text.empty() && text.front() == '@') {
    if (const auto seconds = small_number(text.substr(1))) result = *seconds * kMicrosPerSecond;
  } else if (text.size() >= 2 && is_digit(text.front()) && !is_digit(text.back()) &&
             text.find_first_not_of("0123456789") == text.size() - 1) {
    std::int64_t unit = 0;
    switch (text.back()) {
      case 's': unit = kMicrosPerSecond; break;
      case 'm': unit = 60 * kMicrosPerSecond; break;
      case 'h': unit = 3600 * kMicrosPerSecond; break;
      case 'd': unit = kSecondsPerDay * kMicrosPerSecond; break;
      default: break;
    }
    const auto amount = small_number(text.substr(0, text.size() - 1));
    if (unit != 0 && amount && *amount <= std::numeric_limits<std::int64_t>::max() / unit) {
      result = std::max<std::int64_t>(now - *amount * unit, 0);
    }
  } else if (text.size() >= 10) {
    result = parse_iso(text);
  }
  if (!result) {
    throw UsageError(std::string(option) + " '" + printable(text) + "' is not a time: give " + std::string(kTimeForms));
  }
  return *result;
}

std::uint64_t parse_count(std::string_view text, std::string_view what, std::uint64_t max) {
  // Digits only, read by std::from_chars, which reports a value beyond 64
  // bits as out of range: strtoull, behind the usual conversions, would
  // accept "-1" and "+1" and wrap or saturate what does not fit.
  std::uint64_t value = 0;
  const bool digits_only = !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!digits_only || error != std::errc() || end != text.data() + text.size() || value > max) {
    throw UsageError(std::string(what) + " '" + printable(text) + "' is not a whole number from 0 to " +
                     std::to_string(max));
  }
  return value;
}

}  // namespace hotstate_tool
