// greeter 1.1.0: a compatible update of 1.0.0. It also keeps its three most
// recent messages, a field 1.0.0's state does not have: restoring 1.0.0's
// state starts that list from the last message. Built as greeter_v2.so.
#include "plugin_api.hpp"

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kRecent = 3;

class Greeter final : public hotstate_example::HostedPlugin {
 public:
  std::string name() const override { return "greeter"; }
  std::string plugin_version() const override { return "1.1.0"; }

  void initialize() override {}

  std::string run_step() override {
    ++ticks_;
    last_message_ = "hello #" + std::to_string(ticks_) + " from greeter " + plugin_version();
    recent_messages_.push_back(last_message_);
    if (recent_messages_.size() > kRecent) recent_messages_.erase(recent_messages_.begin());
    return last_message_;
  }

  std::string describe() const override {
    return "ticks " + std::to_string(ticks_) + ", last message \"" + last_message_ + "\", " +
           std::to_string(recent_messages_.size()) + " recent messages";
  }

  hotstate::StateSnapshot create_snapshot() const override {
    return hotstate::StateSnapshot(name(), plugin_version())
        .with_data("ticks", ticks_)
        .with_data("last_message", last_message_)
        .with_data("recent_messages", recent_messages_);
  }

  // Reads 1.x state: 1.0.0's has no recent_messages.
  void restore_snapshot(const hotstate::StateSnapshot& snapshot) override {
    require_compatible(snapshot);
    ticks_ = snapshot.get<std::int64_t>("ticks").value_or(0);
    last_message_ = snapshot.get<std::string>("last_message").value_or("");
    if (auto recent = snapshot.get<std::vector<std::string>>("recent_messages")) {
      recent_messages_ = std::move(*recent);
    } else {
      recent_messages_.clear();
      if (!last_message_.empty()) recent_messages_.push_back(last_message_);
    }
  }

 private:
  std::int64_t ticks_ = 0;
  std::string last_message_;
  std::vector<std::string> recent_messages_;
};

}  // namespace

HOTSTATE_EXAMPLE_PLUGIN(Greeter)
