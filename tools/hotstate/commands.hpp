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

int command_plugins(hotstate::StateManager& manager, bool json);
int command_show(hotstate::StateManager& manager, const std::string& plugin_id, bool json);
int command_history(hotstate::StateManager& manager, const std::string& plugin_id, bool json);
int command_diff(hotstate::StateManager& manager, const std::string& plugin_id, std::uint64_t seq_a,
                 std::uint64_t seq_b, bool json);
int command_rollback(hotstate::StateManager& manager, const std::string& plugin_id, bool json);
int command_export(hotstate::StateManager& manager, const std::string& directory, bool json);
int command_import(hotstate::StateManager& manager, const std::string& directory, bool json);
// Exit code 1 when verify found a problem.
int command_verify(hotstate::StateManager& manager, bool json);
int command_backup(hotstate::StateManager& manager, const std::string& path, bool json);
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
// columns, every line prefixed with `indent`. Control characters in cells
// are shown escaped (\n, \t, \xNN) so that a row stays one line.
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                 std::string_view indent = {});

}  // namespace hotstate_tool
