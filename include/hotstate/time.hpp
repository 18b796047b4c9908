// hotstate: the times hotstate records (audit events, saved_at_us, reloads).
#pragma once

#include <cstdint>
#include <string>

namespace hotstate {

// The system clock as hotstate records it: microseconds since the Unix epoch
// (what saves and events get when Options::clock is empty). Thread-safe.
std::int64_t now_us() noexcept;

// `time_us` (microseconds since the Unix epoch, negative before 1970) as
// ISO-8601 UTC with microseconds, "2026-11-25T03:33:54.272233Z": the same text
// as the time column of the SQL view audit_log. Thread-safe.
std::string format_time_us(std::int64_t time_us);

}  // namespace hotstate
