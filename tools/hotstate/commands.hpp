// The hotstate tool's commands. Each prints a table for people, or JSON with
// `json`, and returns the exit code; errors are thrown (hotstate::Error, or
// UsageError for a wrong argument) and reported by main.
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

// The file name export uses for a plugin id: safe for any id.
std::string file_name_for(const std::string& plugin_id);

// `text` as a whole number from 0 to `max`: decimal digits only, no sign,
// space or exponent ("-1" and "99999999999999999999" are refused rather than
// wrapped). Throws UsageError naming `what` ("SEQ_A", "--limit") otherwise.
std::uint64_t parse_count(std::string_view text, std::string_view what, std::uint64_t max);

// `text` made safe for a terminal, as one line: every byte that is not
// printable becomes a visible escape, so text from the file (ids, versions,
// data, metadata, error messages quoting them) cannot move the cursor,
// rewrite earlier lines or send commands to the terminal. \n, \t and \r are
// written as such; other C0 controls, DEL and bytes that are not UTF-8 as
// \xNN; C1 controls (U+0080 to U+009F) as \u0085. Everything else, other
// UTF-8 included, is unchanged, so escaping twice changes nothing. For
// every human-readable output; --json output is JSON-escaped instead.
std::string printable(std::string_view text);

// Exit code 1 when a plugin's snapshot cannot be read (each is named on
// stderr, and in JSON as an entry with an "error" member); every other
// plugin is listed.
int command_plugins(hotstate::StateManager& manager, bool json);
int command_show(hotstate::StateManager& manager, const std::string& plugin_id, bool json);
int command_history(hotstate::StateManager& manager, const std::string& plugin_id, bool json);
int command_diff(hotstate::StateManager& manager, const std::string& plugin_id, std::uint64_t seq_a,
                 std::uint64_t seq_b, bool json);
int command_rollback(hotstate::StateManager& manager, const std::string& plugin_id, bool json);
// Writes every readable plugin's file (exit code 1, naming the others, when
// a snapshot cannot be read). Never writes outside `directory`, never leaves
// a temporary file behind.
int command_export(hotstate::StateManager& manager, const std::string& directory, bool json);
// Imports every DIR/*.json or nothing; refuses links, anything but regular
// files, and files larger than the manager's limits allow.
int command_import(hotstate::StateManager& manager, const std::string& directory, bool json);
// Exit code 1 when verify found a problem.
int command_verify(hotstate::StateManager& manager, bool json);
// Refuses an existing `path` (exit code 1) unless `force`.
int command_backup(hotstate::StateManager& manager, const std::string& path, bool force, bool json);
// Sets the database's history bound. A lower bound that would trim history
// rows is refused (exit code 1, nothing changed, the rows and plugins named
// on stderr) unless `force`.
int command_set_max_history(hotstate::StateManager& manager, std::size_t max_history, bool force, bool json);
int command_state(hotstate::StateManager& manager, const std::string& plugin_id, bool json);
int command_audit(hotstate::StateManager& manager, const hotstate::AuditQuery& query, bool json);
int command_reloads(hotstate::StateManager& manager, bool json);
// Throws UsageError for a reload that does not exist.
int command_resolve(hotstate::StateManager& manager, std::uint64_t reload_id, const std::string& note, bool json);
// The retention prune (StateManager::prune_audit); prints how many events went.
int command_prune_audit(hotstate::StateManager& manager, const hotstate::AuditPrune& prune, bool json);

// ---- Helpers shared with the demo

// `time_us` (microseconds since the Unix epoch) as ISO-8601 UTC with
// microseconds, "2026-11-25T03:33:54.272233Z": the same text as the time
// column of the SQL view audit_log.
std::string iso_time_us(std::int64_t time_us);

// A --since/--until argument as microseconds since the Unix epoch: an
// ISO-8601 UTC date or date-time ("2026-11-25", "2026-11-25T10:00:00Z",
// "2026-11-25T10:00:00.123456Z", "2026-11-25 10:00:00"), a duration back
// from `now_us` ("90s", "15m", "24h", "7d") or "@<unix seconds>". Throws
// UsageError, naming the accepted forms, for anything else. `option` names
// the option in that message.
std::int64_t parse_time_argument(std::string_view text, std::int64_t now_us, std::string_view option = "--since");

// The system clock, microseconds since the Unix epoch.
std::int64_t now_us();

// `text` cut to at most `width` characters (UTF-8 code points), ending in
// "..." when cut.
std::string shorten(std::string_view text, std::size_t width);

// Prints a table for people to stdout: the header, then the rows, each column
// as wide as its widest cell (the last one unpadded), two spaces between
// columns, every line prefixed with `indent`. Every cell goes through
// printable(), so that a row stays one line and cannot drive the terminal.
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                 std::string_view indent = {});

}  // namespace hotstate_tool
