#include "hotstate/plugin_state.hpp"

#include <ostream>

namespace hotstate {

PluginState PluginState::failed(std::string reason) {
  PluginState state(Kind::Failed);
  state.reason_ = std::move(reason);
  return state;
}

namespace {

constexpr PluginState::Kind all_kinds[] = {PluginState::Kind::Unloaded,  PluginState::Kind::Loading,
                                           PluginState::Kind::Loaded,    PluginState::Kind::Running,
                                           PluginState::Kind::Reloading, PluginState::Kind::Failed,
                                           PluginState::Kind::Unloading};

}  // namespace

std::string_view PluginState::kind_name(Kind kind) noexcept {
  switch (kind) {
    case Kind::Unloaded: return "Unloaded";
    case Kind::Loading: return "Loading";
    case Kind::Loaded: return "Loaded";
    case Kind::Running: return "Running";
    case Kind::Reloading: return "Reloading";
    case Kind::Failed: return "Failed";
    case Kind::Unloading: return "Unloading";
  }
  return "Unknown";
}

std::optional<PluginState::Kind> PluginState::kind_named(std::string_view name) noexcept {
  for (const Kind kind : all_kinds) {
    if (kind_name(kind) == name) return kind;
  }
  return std::nullopt;
}

std::string PluginState::to_string() const {
  std::string text(kind_name(kind_));
  if (kind_ == Kind::Failed) text += ": " + reason_;
  return text;
}

std::string to_string(const PluginState& state) { return state.to_string(); }

std::ostream& operator<<(std::ostream& out, const PluginState& state) { return out << state.to_string(); }

}  // namespace hotstate
