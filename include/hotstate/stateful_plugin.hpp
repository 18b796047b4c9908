// hotstate: StatefulPlugin, the interface a plugin implements to keep its state across reloads.
#pragma once

#include <string>

#include "hotstate/snapshot.hpp"

namespace hotstate {

// Implemented by plugins. The host calls create_snapshot() before unloading a
// plugin, saves it with StateManager::save_snapshot, and after loading the new
// version hands the snapshot to restore_snapshot() if is_snapshot_compatible().
// Thread safety is the implementer's; the host calls these from one thread.
class StatefulPlugin {
 public:
  virtual ~StatefulPlugin() = default;

  // The plugin's current state.
  virtual StateSnapshot create_snapshot() const = 0;

  // Takes over the state in `snapshot`. Throws (any std::exception) when it
  // cannot; the host then treats the reload as failed.
  virtual void restore_snapshot(const StateSnapshot& snapshot) = 0;

  // Whether `snapshot` can be restored into this version; by default the
  // seed's rule, equal major versions.
  virtual bool is_snapshot_compatible(const StateSnapshot& snapshot) const {
    return snapshot.is_compatible(plugin_version());
  }

  // This plugin's version, e.g. "1.2.3".
  virtual std::string plugin_version() const = 0;
};

}  // namespace hotstate
