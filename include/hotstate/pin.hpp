// hotstate: pins, snapshots kept by a label. A pinned snapshot stays readable
// (StateManager::pinned, StateManager::snapshot by its seq) whatever saves,
// trims, rollbacks and restores happen, until it is unpinned or its plugin is
// cleared. A pin holds its own copy of the snapshot, so it never counts
// against max_history; get_history lists the rows of the history only, so a
// pinned snapshot shows there while its row is in the history, and not after
// the bound trimmed it (`in_snapshots` says which). Table `pins`, view
// `pinned_snapshots`; each pin and unpin is audited (Pinned, Unpinned).
//
// Thread safety: a plain value; copy it and hand it between threads freely.
#pragma once

#include <cstdint>
#include <string>

#include "hotstate/json.hpp"

namespace hotstate {

// One pin, as StateManager::pins lists it. A value type.
struct PinInfo {
  std::string plugin_id;
  std::string label;           // unique per plugin, e.g. "last-known-good"
  std::uint64_t seq = 0;       // the pinned snapshot's seq
  std::string plugin_version;  // the version that made it
  std::int64_t pinned_at_us = 0;  // when it was pinned, microseconds since the Unix epoch
  bool in_snapshots = false;   // its row is still in the plugin's history (or is its current snapshot)

  friend bool operator==(const PinInfo&, const PinInfo&) = default;
};

// A pin as a JSON object, so that Json::from(pin) and Json::from(pins) work:
// {"plugin_id", "label", "seq", "plugin_version", "pinned_at_us", "pinned"
// (format_time_us, as the view pinned_snapshots shows it), "in_snapshots"}.
void to_json(JsonWriter& out, const PinInfo& pin);

}  // namespace hotstate
