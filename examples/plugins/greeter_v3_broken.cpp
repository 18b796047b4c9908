// greeter 2.0.0: a broken release. It loads, but initialize() fails (it needs
// a config file nobody deployed), so the host rolls the reload back to the
// version that ran before. Built as greeter_v3_broken.so.
#include "plugin_api.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace {

class Greeter final : public hotstate_example::HostedPlugin {
 public:
  std::string name() const override { return "greeter"; }
  std::string plugin_version() const override { return "2.0.0"; }

  void initialize() override {
    throw std::runtime_error("greeter 2.0.0 cannot open its config file greeter-2.toml: it was never deployed");
  }

  std::string run_step() override {
    ++ticks_;
    return "hello #" + std::to_string(ticks_) + " from greeter " + plugin_version();
  }

  std::string describe() const override { return "ticks " + std::to_string(ticks_); }

  hotstate::StateSnapshot create_snapshot() const override {
    return hotstate::StateSnapshot(name(), plugin_version()).with_data("ticks", ticks_);
  }

  void restore_snapshot(const hotstate::StateSnapshot& snapshot) override {
    ticks_ = snapshot.get<std::int64_t>("ticks").value_or(0);
  }

  // 2.0.0 would read 1.x state (it never gets that far).
  bool is_snapshot_compatible(const hotstate::StateSnapshot& snapshot) const override {
    return snapshot.is_compatible("1.0.0") || snapshot.is_compatible(plugin_version());
  }

 private:
  std::int64_t ticks_ = 0;
};

}  // namespace

HOTSTATE_EXAMPLE_PLUGIN(Greeter)
