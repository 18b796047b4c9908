#include "hotstate/plugin_state.hpp"

#include <ostream>

namespace hotstate {

PluginState PluginState::failed(std::string reason) {
  PluginState state(Kind::Failed);
  state.reason_ = std::move(reason);
  return state;
}

std::string PluginState::to_string() const {
  switch (kind_) {
    case Kind::Unloaded: return "Unloaded";
    case Kind::Loading: return "Loading";
    case Kind::Loaded: return "Loaded";
    case Kind::Running: return "Running";
    case Kind::Reloading: return "Reloading";
    case Kind::Failed: return "Failed: " + reason_;
    case Kind::Unloading: return "Unloading";
  }
  return "Unknown";
}

std::string to_string(const PluginState& state) { return state.to_string(); }

std::ostream& operator<<(std::ostream& out, const PluginState& state) { return out << state.to_string(); }

}  // namespace hotstate
