// Plugins whose current snapshot cannot be read: the rows another client
// wrote or damaged, or that are over the limits. The commands that go
// through every plugin (plugins, export) list or write every other one, and
// name these on stderr with exit code 1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hotstate/hotstate.hpp"

namespace hotstate_tool {

// Whether `error`, thrown while reading one plugin's current snapshot,
// concerns that row only (written or damaged by another client, or over the
// limits), so that the other plugins can still be read. Busy, TimedOut, Io
// and the like concern the whole file and end the command.
bool is_unreadable_row(const hotstate::Error& error);

// A plugin whose current snapshot could not be read, and why.
struct UnreadablePlugin {
  std::string plugin_id;
  std::uint64_t seq = 0;
  std::string error;
};

// Runs `read`, which reads the plugin's current row. When the row cannot be
// read, the plugin is added to `unreadable` and read()'s empty value
// returned; failures of the whole file are thrown.
template <class Read>
auto read_current_row(const hotstate::StateManager::PluginSummary& summary, std::vector<UnreadablePlugin>& unreadable,
                      const Read& read) -> decltype(read()) {
  try {
    return read();
  } catch (const hotstate::Error& error) {
    if (!is_unreadable_row(error)) throw;
    unreadable.push_back({summary.plugin_id, summary.seq, error.what()});
    return {};
  }
}

// Names each unreadable plugin on stderr, then how many of `total` there
// were. Returns the exit code: 1 when there was one, else 0.
int report_unreadable(const std::vector<UnreadablePlugin>& unreadable, std::size_t total, std::string_view done);

// `plugin` as a JSON object: {plugin_id, seq, error}.
void write_unreadable(hotstate::JsonWriter& out, const UnreadablePlugin& plugin);

}  // namespace hotstate_tool
