// The hotstate tool's commands. Each prints a table for people, or JSON with
// `json`, and returns the exit code; errors are thrown (hotstate::Error, or
// UsageError for a wrong argument) and reported by main.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "hotstate/hotstate.hpp"

namespace hotstate_tool {

// A command line that names something that does not exist.
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

}  // namespace hotstate_tool
