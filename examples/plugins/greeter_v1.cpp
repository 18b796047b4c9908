// greeter 1.0.0: counts its ticks and remembers the last message it sent.
// Built as the plugin library greeter_v1.so (see examples/CMakeLists.txt).
#include "plugin_api.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace {

class Greeter final : public hotstate_example::HostedPlugin {
 public:
  std::string name() const override { return "greeter"; }
  std::string plugin_version() const override { return "1.0.0"; }

  void initialize() override {}

  std::string run_step() override {
    ++ticks_;
    last_message_ = "hello #" + std::to_string(ticks_) + " from greeter " + plugin_version();
    return last_message_;
  }

  std::string describe() const override {
    return "ticks " + std::to_string(ticks_) + ", last message \"" + last_message_ + "\"";
  }

  hotstate::StateSnapshot create_snapshot() const override {
    return hotstate::StateSnapshot(name(), plugin_version())
        .with_data("ticks", ticks_)
        .with_data("last_message", last_message_);
  }

  void restore_snapshot(const hotstate::StateSnapshot& snapshot) override {
    require_compatible(snapshot);
    ticks_ = snapshot.get<std::int64_t>("ticks").value_or(0);
    last_message_ = snapshot.get<std::string>("last_message").value_or("");
  }

 private:
  std::int64_t ticks_ = 0;
  std::string last_message_;
};

}  // namespace

HOTSTATE_EXAMPLE_PLUGIN(Greeter)
