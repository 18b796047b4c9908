// greeter 3.0.0: a breaking update. Its state calls the last message
// "greeting" (1.x called it "last_message"), so it cannot read 1.x state as
// it is: the host registers the migration 1 -> 3 that renames the key, and
// restore_for hands 3.0.0 the migrated state. Built as greeter_v4.so.
#include "plugin_api.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace {

class Greeter final : public hotstate_example::HostedPlugin {
 public:
  std::string name() const override { return "greeter"; }
  std::string plugin_version() const override { return "3.0.0"; }

  void initialize() override {}

  std::string run_step() override {
    ++ticks_;
    greeting_ = "greetings #" + std::to_string(ticks_) + " from greeter " + plugin_version();
    return greeting_;
  }

  std::string describe() const override {
    return "ticks " + std::to_string(ticks_) + ", greeting \"" + greeting_ + "\"";
  }

  hotstate::StateSnapshot create_snapshot() const override {
    return hotstate::StateSnapshot(name(), plugin_version()).with_data("ticks", ticks_).with_data("greeting", greeting_);
  }

  void restore_snapshot(const hotstate::StateSnapshot& snapshot) override {
    require_compatible(snapshot);
    if (!snapshot.data.count("greeting")) throw std::runtime_error("3.0.0's state needs a greeting");
    ticks_ = snapshot.get<std::int64_t>("ticks").value_or(0);
    greeting_ = snapshot.get<std::string>("greeting").value_or("");
  }

 private:
  std::int64_t ticks_ = 0;
  std::string greeting_;
};

}  // namespace

HOTSTATE_EXAMPLE_PLUGIN(Greeter)
