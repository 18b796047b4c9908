// The hotstate tool's text in and out: escapes for the terminal, tables,
// times, and the arguments it reads as numbers or times. Used by the
// commands, the demo and the command line alike; each defined once here.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "hotstate/hotstate.hpp"

namespace hotstate_tool {

// A command line that names something that does not exist, or an argument
// the tool cannot read (exit code 2).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---- Text for people: escapes, tables

// `text` made safe for a terminal, as one line: every byte that is not
// printable becomes a visible escape, so text from the file (ids, versions,
// data, metadata, error messages quoting them) cannot move the cursor,
// rewrite earlier lines or send commands to the terminal. \n, \t and \r are
// written as such; other C0 controls, DEL and bytes that are not UTF-8 as
// \xNN; C1 controls (U+0080 to U+009F) as \u0085. Everything else, other
// UTF-8 included, is unchanged, so escaping twice changes nothing. For
// every human-readable output; --json output is JSON-escaped instead.
std::string printable(std::string_view text);

// Characters (UTF-8 code points) in `text`: every byte but continuation bytes.
std::size_t display_width(std::string_view text);

// `text` cut to at most `width` characters (UTF-8 code points), ending in
// "..." when cut.
std::string shorten(std::string_view text, std::size_t width);

// Prints a table for people to stdout: the header, then the rows, each column
// as wide as its widest cell (the last one unpadded), two spaces between
// columns, every line prefixed with `indent`. Every cell goes through
// printable(), so that a row stays one line and cannot drive the terminal.
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                 std::string_view indent = {});

// ---- Text for scripts: JSON

// Text from the file for a JSON member: exact when it is UTF-8; JSON cannot
// hold other bytes, so those (only in rows other clients wrote) are shown
// escaped rather than failing the whole output.
std::string json_text(std::string_view text);

// Writes `key` and the JSON object whose text `text` is, as read from the
// store; a text hotstate cannot read (only possible for rows other clients
// wrote) goes in as a string.
void embed_json_text(hotstate::JsonWriter& out, std::string_view key, const std::string& text);

// ---- Times

// "2023-11-14T22:13:20Z" for whole seconds since the Unix epoch (a
// snapshot's timestamp); the number itself when it is beyond any date.
std::string iso_time(std::uint64_t seconds);

// Event times: hotstate::format_time_us and hotstate::now_us (time.hpp).

// The forms parse_time_argument accepts, for help texts and its message.
inline constexpr std::string_view kTimeForms =
    "an ISO-8601 UTC date or date-time (2026-11-25, 2026-11-25T10:00:00Z, 2026-11-25T10:00:00.123456Z, "
    "'2026-11-25 10:00:00'), a duration back from now (90s, 15m, 24h, 7d) or @<unix seconds>";

// ---- Arguments

// A --since/--until argument as microseconds since the Unix epoch: one of
// kTimeForms ("2026-11-25", "2026-11-25T10:00:00Z",
// "2026-11-25T10:00:00.123456Z", "2026-11-25 10:00:00"; a duration back from
// `now_us`: "90s", "15m", "24h", "7d"; "@<unix seconds>"). Throws
// UsageError, naming the accepted forms, for anything else. `option` names
// the option in that message.
std::int64_t parse_time_argument(std::string_view text, std::int64_t now_us, std::string_view option = "--since");

// `text` as a whole number from 0 to `max`: decimal digits only, no sign,
// space or exponent ("-1" and "99999999999999999999" are refused rather than
// wrapped). Throws UsageError naming `what` ("SEQ_A", "--limit") otherwise.
std::uint64_t parse_count(std::string_view text, std::string_view what, std::uint64_t max);

}  // namespace hotstate_tool
