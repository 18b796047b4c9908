// The plugin ABI of the hot-reload host example (examples/host.cpp).
//
// A plugin is a shared library (a CMake MODULE) that exports two C functions:
//
//   hotstate_example::HostedPlugin* hotstate_example_create_plugin();
//   void hotstate_example_destroy_plugin(hotstate_example::HostedPlugin*);
//
// The host finds them with dlsym, creates the plugin, talks to it through the
// C++ interface below, and hands it back to the library that made it to be
// destroyed (its vtable, its operator delete) before dlclose.
//
// A C++ vtable across dlopen is fine here because the host and every plugin
// are built by the same compiler, with the same flags and the same headers,
// in the same CMake build. A host loading plugins built elsewhere would need
// a C interface (or at least a version handshake) instead.
//
// hotstate's code exists once in the process: the host and every plugin link
// the shared libhotstate.so (a plugin's DT_NEEDED finds the copy the host
// already loaded), and it stays loaded while plugins come and go. A private
// copy of the static libhotstate.a linked into each plugin would not do: its
// thread_local JSON parsers register thread-exit destructors, so glibc keeps
// the plugin loaded until the thread that used them exits: dlclose would leave
// the old version mapped, and the next dlopen of the same path would silently
// hand back the old code (the host checks for that: unload() in host.cpp).
//
// Plugins are compiled with -fvisibility=hidden and export only the two entry
// points. That hides what a plugin defines, not what it uses: its references
// to hotstate's functions still bind to libhotstate.so's.
#pragma once

#include <stdexcept>
#include <string>

#include "hotstate/snapshot.hpp"
#include "hotstate/stateful_plugin.hpp"

namespace hotstate_example {

// What the host needs from a plugin besides its state (StatefulPlugin:
// create_snapshot, restore_snapshot, is_snapshot_compatible,
// plugin_version). The host calls it from one thread.
class HostedPlugin : public hotstate::StatefulPlugin {
 public:
  // The plugin's id: its snapshots, life-cycle state and audit events are
  // kept under this id, the same for every version of the plugin.
  virtual std::string name() const = 0;

  // Gets ready to run, after the host has created it (and before the host
  // hands it the saved state). Throws (any std::exception) when the plugin
  // cannot run; the host then rolls the reload back.
  virtual void initialize() = 0;

  // One unit of the plugin's work; changes its state. Returns a line saying
  // what it did.
  virtual std::string run_step() = 0;

  // The plugin's state, briefly, for the host's log.
  virtual std::string describe() const = 0;

 protected:
  // For restore_snapshot: throws std::runtime_error, naming both versions,
  // unless this plugin can read `snapshot` (is_snapshot_compatible).
  void require_compatible(const hotstate::StateSnapshot& snapshot) const {
    if (!is_snapshot_compatible(snapshot)) {
      throw std::runtime_error(name() + " " + plugin_version() + " cannot read the state of version " +
                               snapshot.plugin_version);
    }
  }
};

}  // namespace hotstate_example

// The exported entry points: plain C names, so dlsym finds them.
#define HOTSTATE_EXAMPLE_EXPORT extern "C" __attribute__((visibility("default")))

// Creates the plugin; null when it cannot (the entry points never throw).
using hotstate_example_create_fn = hotstate_example::HostedPlugin* (*)();
// Destroys a plugin that hotstate_example_create_plugin of the same library made.
using hotstate_example_destroy_fn = void (*)(hotstate_example::HostedPlugin*);

inline constexpr const char* hotstate_example_create_symbol = "hotstate_example_create_plugin";
inline constexpr const char* hotstate_example_destroy_symbol = "hotstate_example_destroy_plugin";

// Defines the two entry points for the plugin class `Plugin` (default-
// constructible): put it once in the plugin's source, after the class.
#define HOTSTATE_EXAMPLE_PLUGIN(Plugin)                                                                         \
  HOTSTATE_EXAMPLE_EXPORT hotstate_example::HostedPlugin* hotstate_example_create_plugin() {                   \
    try {                                                                                                       \
      return new Plugin();                                                                                      \
    } catch (...) {                                                                                             \
      return nullptr;                                                                                           \
    }                                                                                                           \
  }                                                                                                             \
  HOTSTATE_EXAMPLE_EXPORT void hotstate_example_destroy_plugin(hotstate_example::HostedPlugin* plugin) { delete plugin; }
