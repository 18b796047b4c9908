// PluginState and StatefulPlugin, as the seed defines them.
#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "hotstate/plugin_state.hpp"
#include "hotstate/snapshot.hpp"
#include "hotstate/stateful_plugin.hpp"

using hotstate::PluginState;
using hotstate::StatefulPlugin;
using hotstate::StateSnapshot;

// ---------------------------------------------------------------------------
// PluginState

TEST_CASE("PluginState displays exactly as the seed", "[plugin][state]") {
  // The seed's test_plugin_state_display.
  REQUIRE(PluginState(PluginState::Unloaded).to_string() == "Unloaded");
  REQUIRE(PluginState(PluginState::Running).to_string() == "Running");
  REQUIRE(PluginState::failed("test").to_string() == "Failed: test");
  // And the rest.
  REQUIRE(PluginState(PluginState::Loading).to_string() == "Loading");
  REQUIRE(PluginState(PluginState::Loaded).to_string() == "Loaded");
  REQUIRE(PluginState(PluginState::Reloading).to_string() == "Reloading");
  REQUIRE(PluginState(PluginState::Unloading).to_string() == "Unloading");
  REQUIRE(PluginState::failed("").to_string() == "Failed: ");
  REQUIRE(PluginState::failed("disk: full\nretry").to_string() == "Failed: disk: full\nretry");
  REQUIRE(PluginState(PluginState::Failed).to_string() == "Failed: ");
  REQUIRE(hotstate::to_string(PluginState::failed("x")) == "Failed: x");
  REQUIRE(hotstate::to_string(PluginState(PluginState::Reloading)) == "Reloading");
}

TEST_CASE("PluginState defaults to Unloaded", "[plugin][state]") {
  const PluginState state;
  REQUIRE(state.kind() == PluginState::Unloaded);
  REQUIRE(state.reason().empty());
  REQUIRE(state.to_string() == "Unloaded");
  REQUIRE(state == PluginState(PluginState::Unloaded));
}

TEST_CASE("PluginState keeps a reason only for Failed", "[plugin][state]") {
  const PluginState failed = PluginState::failed("boom");
  REQUIRE(failed.kind() == PluginState::Failed);
  REQUIRE(failed.reason() == "boom");
  REQUIRE(PluginState(PluginState::Running).reason().empty());
}

TEST_CASE("PluginState equality compares the state and the reason", "[plugin][state]") {
  REQUIRE(PluginState(PluginState::Running) == PluginState(PluginState::Running));
  REQUIRE_FALSE(PluginState(PluginState::Running) == PluginState(PluginState::Loaded));
  REQUIRE(PluginState::failed("a") == PluginState::failed("a"));
  REQUIRE_FALSE(PluginState::failed("a") == PluginState::failed("b"));
  REQUIRE(PluginState::failed("") == PluginState(PluginState::Failed));
  REQUIRE_FALSE(PluginState::failed("") == PluginState(PluginState::Unloaded));
  REQUIRE(PluginState::failed("a") != PluginState::failed("b"));

  // A copy is equal; changing the copy leaves the original.
  PluginState state = PluginState::failed("x");
  const PluginState copy = state;
  state = PluginState::Loading;
  REQUIRE(copy == PluginState::failed("x"));
  REQUIRE(state == PluginState(PluginState::Loading));
}

TEST_CASE("PluginState writes its display to a stream", "[plugin][state]") {
  std::ostringstream out;
  out << PluginState(PluginState::Loaded) << '|' << PluginState::failed("test") << '|' << PluginState();
  REQUIRE(out.str() == "Loaded|Failed: test|Unloaded");
}

// ---------------------------------------------------------------------------
// StatefulPlugin

namespace {

// A plugin that counts events and remembers the last few names.
class CounterPlugin : public StatefulPlugin {
 public:
  explicit CounterPlugin(std::string version) : version_(std::move(version)) {}

  int counter = 0;
  std::string name;
  std::vector<std::string> recent;
  std::optional<double> ratio;

  StateSnapshot create_snapshot() const override {
    StateSnapshot snapshot("counter-plugin", version_);
    snapshot.with_data("counter", counter)
        .with_data("name", name)
        .with_data("recent", recent)
        .with_data("ratio", ratio)
        .with_metadata("written_by", version_);
    return snapshot;
  }

  void restore_snapshot(const StateSnapshot& snapshot) override {
    const auto restored_counter = snapshot.get<int>("counter");
    const auto restored_name = snapshot.get<std::string>("name");
    const auto restored_recent = snapshot.get<std::vector<std::string>>("recent");
    const auto restored_ratio = snapshot.get<std::optional<double>>("ratio");
    if (!restored_counter || !restored_name || !restored_recent || !restored_ratio) {
      throw std::runtime_error("snapshot lacks the counter plugin's state");
    }
    counter = *restored_counter;
    name = *restored_name;
    recent = *restored_recent;
    ratio = *restored_ratio;
  }

  std::string plugin_version() const override { return version_; }

 private:
  std::string version_;
};

// Accepts its own major version and the one before it.
class LenientPlugin : public CounterPlugin {
 public:
  using CounterPlugin::CounterPlugin;
  bool is_snapshot_compatible(const StateSnapshot& snapshot) const override {
    return CounterPlugin::is_snapshot_compatible(snapshot) || snapshot.is_compatible("1");
  }
};

}  // namespace

TEST_CASE("a StatefulPlugin's state survives a snapshot into a new instance", "[plugin][stateful]") {
  CounterPlugin before("1.0.0");
  before.counter = 42;
  before.name = "h\xC3\xA9llo";
  before.recent = {"a", "b"};
  before.ratio = 0.25;

  const StateSnapshot snapshot = before.create_snapshot();
  REQUIRE(snapshot.plugin_id == "counter-plugin");
  REQUIRE(snapshot.plugin_version == "1.0.0");
  REQUIRE(snapshot.get<int>("counter") == std::optional<int>(42));
  REQUIRE(snapshot.get_metadata("written_by") == std::optional<std::string_view>("1.0.0"));

  CounterPlugin after("1.4.0");
  const StatefulPlugin& as_interface = after;
  REQUIRE(as_interface.is_snapshot_compatible(snapshot));
  after.restore_snapshot(snapshot);
  REQUIRE(after.counter == 42);
  REQUIRE(after.name == "h\xC3\xA9llo");
  REQUIRE(after.recent == std::vector<std::string>{"a", "b"});
  REQUIRE(after.ratio == std::optional<double>(0.25));
}

TEST_CASE("a StatefulPlugin's state survives to_bytes and from_bytes", "[plugin][stateful]") {
  CounterPlugin before("2.1.0");
  before.counter = -7;
  before.name = "";
  before.recent = {};
  before.ratio = std::nullopt;

  const StateSnapshot restored = StateSnapshot::from_bytes(before.create_snapshot().to_bytes());
  CounterPlugin after("2.0.0");
  after.counter = 99;
  after.ratio = 1.0;
  after.restore_snapshot(restored);
  REQUIRE(after.counter == -7);
  REQUIRE(after.name.empty());
  REQUIRE(after.recent.empty());
  REQUIRE_FALSE(after.ratio.has_value());
  REQUIRE(after.create_snapshot().data == before.create_snapshot().data);
}

TEST_CASE("restore_snapshot may throw for a snapshot it cannot take", "[plugin][stateful]") {
  CounterPlugin plugin("1.0.0");
  plugin.counter = 5;
  StateSnapshot wrong("counter-plugin", "1.0.0");
  wrong.with_data("counter", "not a number").with_data("name", "n").with_data("recent", std::vector<std::string>{});
  wrong.with_data("ratio", nullptr);
  StatefulPlugin& as_interface = plugin;
  REQUIRE_THROWS_AS(as_interface.restore_snapshot(wrong), std::runtime_error);
  REQUIRE(plugin.counter == 5);
}

TEST_CASE("is_snapshot_compatible follows major versions by default", "[plugin][stateful]") {
  const CounterPlugin v1("1.2.3");
  const StatefulPlugin& plugin = v1;
  REQUIRE(plugin.plugin_version() == "1.2.3");
  REQUIRE(plugin.is_snapshot_compatible(StateSnapshot("p", "1.0.0")));
  REQUIRE(plugin.is_snapshot_compatible(StateSnapshot("p", "1.99.0")));
  REQUIRE(plugin.is_snapshot_compatible(StateSnapshot("p", "1")));
  REQUIRE_FALSE(plugin.is_snapshot_compatible(StateSnapshot("p", "2.0.0")));
  REQUIRE_FALSE(plugin.is_snapshot_compatible(StateSnapshot("p", "0.9.0")));
  REQUIRE_FALSE(plugin.is_snapshot_compatible(StateSnapshot("p", "11.0.0")));

  // A snapshot written by this plugin is compatible with it.
  REQUIRE(plugin.is_snapshot_compatible(v1.create_snapshot()));
  REQUIRE_FALSE(CounterPlugin("2.0.0").is_snapshot_compatible(v1.create_snapshot()));
}

TEST_CASE("a plugin may override is_snapshot_compatible", "[plugin][stateful]") {
  const std::unique_ptr<StatefulPlugin> plugin = std::make_unique<LenientPlugin>("2.0.0");
  REQUIRE(plugin->is_snapshot_compatible(StateSnapshot("p", "2.5.0")));
  REQUIRE(plugin->is_snapshot_compatible(StateSnapshot("p", "1.0.0")));
  REQUIRE_FALSE(plugin->is_snapshot_compatible(StateSnapshot("p", "3.0.0")));
}

TEST_CASE("each PluginState kind has a name that reads back, and nothing else does", "[plugin]") {
  using hotstate::PluginState;
  for (const auto kind : {PluginState::Unloaded, PluginState::Loading, PluginState::Loaded, PluginState::Running,
                          PluginState::Reloading, PluginState::Failed, PluginState::Unloading}) {
    INFO(PluginState::kind_name(kind));
    CHECK(PluginState::kind_named(PluginState::kind_name(kind)) == kind);
    if (kind != PluginState::Failed) CHECK(PluginState(kind).to_string() == PluginState::kind_name(kind));
  }
  CHECK(PluginState::kind_name(PluginState::Failed) == "Failed");
  CHECK_FALSE(PluginState::kind_named("Failed: x").has_value());
  CHECK_FALSE(PluginState::kind_named("running").has_value());
  CHECK_FALSE(PluginState::kind_named("").has_value());
}
