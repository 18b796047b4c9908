// The hotstate tool: restore, pin, unpin, pins (see commands.hpp).
#include <cstdio>
#include <iostream>
#include <string>

#include "commands.hpp"
#include "output.hpp"

namespace hotstate_tool {

using hotstate::JsonWriter;
using hotstate::StateManager;

int command_restore(StateManager& manager, const std::string& plugin_id, std::uint64_t seq, bool json) {
  const auto restored = manager.restore(plugin_id, seq);
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("plugin_id", plugin_id);
    out.member("from_seq", seq);
    out.member("seq", restored->seq);
    out.member("plugin_version", restored->plugin_version);
    out.end_object();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  std::printf("%s: a copy of seq %llu is the current snapshot now, seq %llu (version %s); nothing was deleted\n",
              printable(plugin_id).c_str(), static_cast<unsigned long long>(seq),
              static_cast<unsigned long long>(restored->seq), printable(restored->plugin_version).c_str());
  return 0;
}

int command_pin(StateManager& manager, const std::string& plugin_id, std::uint64_t seq, const std::string& label,
                bool json) {
  manager.pin(plugin_id, seq, label);
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("plugin_id", plugin_id);
    out.member("label", label);
    out.member("seq", seq);
    out.end_object();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  std::printf("%s: seq %llu pinned as %s\n", printable(plugin_id).c_str(), static_cast<unsigned long long>(seq),
              printable(label).c_str());
  return 0;
}

int command_unpin(StateManager& manager, const std::string& plugin_id, const std::string& label, bool json) {
  const bool removed = manager.unpin(plugin_id, label);
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("plugin_id", plugin_id);
    out.member("label", label);
    out.member("unpinned", removed);
    out.end_object();
    std::cout << out.take().text() << "\n";
  } else if (removed) {
    std::printf("%s: %s unpinned\n", printable(plugin_id).c_str(), printable(label).c_str());
  } else {
    std::fprintf(stderr, "hotstate: %s has no pin %s: nothing changed\n", printable(plugin_id).c_str(),
                 printable(label).c_str());
  }
  return removed ? 0 : 1;
}

int command_pins(StateManager& manager, const std::string& plugin_id, bool json) {
  const auto pins = manager.pins(plugin_id);
  if (json) {
    std::cout << hotstate::Json::from(pins).text() << "\n";
    return 0;
  }
  std::printf("%-20s %-20s %8s  %-12s %-27s  %s\n", "PLUGIN", "LABEL", "SEQ", "VERSION", "PINNED (UTC)", "ROW");
  for (const auto& pin : pins) {
    std::printf("%-20s %-20s %8llu  %-12s %-27s  %s\n", shorten(printable(pin.plugin_id), 20).c_str(),
                shorten(printable(pin.label), 20).c_str(), static_cast<unsigned long long>(pin.seq),
                shorten(printable(pin.plugin_version), 12).c_str(), hotstate::format_time_us(pin.pinned_at_us).c_str(),
                pin.in_snapshots ? "in history" : "trimmed, kept by the pin");
  }
  return 0;
}

}  // namespace hotstate_tool
