// hotstate: PluginState, where a plugin is in its hot-reload life cycle.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace hotstate {

// One of the seed's states; Failed carries a reason. A value type.
class PluginState {
 public:
  enum class Kind { Unloaded, Loading, Loaded, Running, Reloading, Failed, Unloading };
  using enum Kind;  // so PluginState::Running reads as in the seed

  // Unloaded, the seed's default.
  PluginState() = default;
  // Any state; Failed gets an empty reason.
  PluginState(Kind kind) : kind_(kind) {}  // NOLINT(google-explicit-constructor): reads as the seed's enum
  // Failed with a reason.
  static PluginState failed(std::string reason);

  Kind kind() const noexcept { return kind_; }
  // The reason of a Failed state; empty for every other state.
  const std::string& reason() const noexcept { return reason_; }

  // Exactly as the seed displays it: "Unloaded", …, "Failed: <reason>".
  std::string to_string() const;

  // A kind's name, "Unloaded", …, "Failed" (no reason): the names the
  // database (plugin_states.state), the audit log and the C API use.
  static std::string_view kind_name(Kind kind) noexcept;
  // The kind with that name; nullopt for any other text.
  static std::optional<Kind> kind_named(std::string_view name) noexcept;

  friend bool operator==(const PluginState&, const PluginState&) = default;

 private:
  Kind kind_ = Kind::Unloaded;
  std::string reason_;
};

std::string to_string(const PluginState& state);
std::ostream& operator<<(std::ostream& out, const PluginState& state);

}  // namespace hotstate
