// Following changes (changes.hpp): changes_since reads every writer's
// changes in commit order; a subscription delivers them as they commit, on
// its own thread, each once, reading the log only after a commit.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hotstate/hotstate.hpp"
#include "support.hpp"

using hotstate::AuditEvent;
using hotstate::ChangeFilter;
using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate::Subscription;
using hotstate::SubscribeOptions;
using hotstate_test::file_options;
using hotstate_test::RawDb;
using hotstate_test::TempDir;

namespace {

// Events a callback collected, and a way to wait for them.
class Collected {
 public:
  void add(const AuditEvent& event) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      events_.push_back(event);
    }
    changed_.notify_all();
  }
  // Waits (up to 20 s) until `count` events came; returns them.
  std::vector<AuditEvent> wait_for(std::size_t count) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(20), [&] { return events_.size() >= count; });
    return events_;
  }
  std::vector<AuditEvent> now() {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<AuditEvent> events_;
};

std::vector<std::string> kinds_of(const std::vector<AuditEvent>& events) {
  std::vector<std::string> kinds;
  for (const auto& event : events) kinds.push_back(event.kind);
  return kinds;
}

// Waits, up to 20 s, until `done` holds, looking every poll interval.
template <class Done>
bool eventually(Done&& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace

TEST_CASE("changes_since reads every writer's changes in commit order, filtered, a limit at a time", "[changes]") {
  TempDir dir;
  const std::string path = dir.file("changes.db");
  StateManager manager(file_options(path, 5));
  const std::uint64_t start = manager.newest_event_id();
  manager.save_snapshot(StateSnapshot("alpha", "1.0.0").with_data("n", 1));
  manager.save_snapshot(StateSnapshot("alpha", "1.0.0").with_data("n", 2));
  {
    RawDb shell(path);
    shell.exec("INSERT INTO snapshots (plugin_id, data) VALUES ('beta', '{\"n\": 3}')");
  }
  manager.rollback("alpha");
  const auto all = manager.changes_since(start);
  CHECK(kinds_of(all.events) == std::vector<std::string>{"SnapshotSaved", "SnapshotSaved", "SnapshotSaved", "RolledBack"});
  CHECK(all.events[2].plugin_id == "beta");
  CHECK(all.position == manager.newest_event_id());
  CHECK_FALSE(all.more);
  CHECK(all.missed == 0);

  const auto alpha = manager.changes_since(start, ChangeFilter{{"alpha"}, {}});
  CHECK(kinds_of(alpha.events) == std::vector<std::string>{"SnapshotSaved", "SnapshotSaved", "RolledBack"});
  const auto rollbacks = manager.changes_since(start, ChangeFilter{{}, {"RolledBack"}});
  CHECK(kinds_of(rollbacks.events) == std::vector<std::string>{"RolledBack"});

  const auto first_two = manager.changes_since(start, {}, 2);
  CHECK(first_two.events.size() == 2);
  CHECK(first_two.more);
  const auto rest = manager.changes_since(first_two.position);
  CHECK(rest.events.size() == 2);
  CHECK(rest.events.front().id == first_two.events.back().id + 1);
  CHECK(manager.changes_since(manager.newest_event_id()).events.empty());

  // A prune removes what a reader had not read yet: it is told how many.
  for (int i = 0; i < 10; ++i) manager.save_snapshot(StateSnapshot("alpha", "1.0.0").with_data("n", 10 + i));
  const std::uint64_t removed = manager.prune_audit(hotstate::AuditPrune{std::nullopt, 3});
  REQUIRE(removed > 0);
  const auto after_prune = manager.changes_since(first_two.position);
  CHECK(after_prune.missed > 0);
  CHECK(after_prune.missed <= removed);
}

TEST_CASE("a subscription delivers each event once, in commit order, from this process, another and the shell",
          "[changes][threads]") {
  TempDir dir;
  const std::string path = dir.file("subscribed.db");
  StateManager manager(file_options(path, 3));
  manager.save_snapshot(StateSnapshot("alpha", "1.0.0"));  // before subscribing: not delivered
  Collected collected;
  SubscribeOptions options;
  options.poll_interval = std::chrono::milliseconds(1);
  Subscription subscription = manager.subscribe([&](const AuditEvent& event) { collected.add(event); }, options);
  const std::uint64_t start = subscription.position();

  StateManager other(file_options(path));
  std::thread writer([&] {
    for (int i = 0; i < 20; ++i) other.save_snapshot(StateSnapshot("beta", "1.0.0").with_data("n", i));
  });
  for (int i = 0; i < 20; ++i) manager.save_snapshot(StateSnapshot("alpha", "1.0.0").with_data("n", i));
  writer.join();
  {
    RawDb shell(path);
    shell.exec("INSERT INTO snapshots (plugin_id, data) VALUES ('gamma', '{}')");
  }
  const auto expected = manager.changes_since(start, {}, 10000).events;
  REQUIRE(expected.size() >= 41);
  const auto got = collected.wait_for(expected.size());
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].id == expected[i].id);
    CHECK(got[i].kind == expected[i].kind);
  }
  CHECK(got.back().plugin_id == "gamma");
  CHECK(subscription.stats().delivered == got.size());
  subscription.stop();
  CHECK_FALSE(subscription.active());
  manager.save_snapshot(StateSnapshot("alpha", "1.0.0"));
  CHECK(collected.now().size() == got.size());  // nothing after stop
}

TEST_CASE("an idle subscription reads the log only after a commit", "[changes]") {
  TempDir dir;
  const std::string path = dir.file("idle.db");
  StateManager manager(file_options(path));
  manager.save_snapshot(StateSnapshot("alpha", "1.0.0"));
  Collected collected;
  SubscribeOptions options;
  options.poll_interval = std::chrono::milliseconds(1);
  options.filter.kinds = {"RolledBack"};
  Subscription subscription = manager.subscribe([&](const AuditEvent& event) { collected.add(event); }, options);
  REQUIRE(eventually([&] { return subscription.stats().polls >= 50; }));
  const auto idle = subscription.stats();
  CHECK(idle.queries <= 1);  // the read at the start, and none while nothing commits

  manager.save_snapshot(StateSnapshot("alpha", "1.0.0").with_data("n", 2));
  manager.rollback("alpha");
  REQUIRE(collected.wait_for(1).size() == 1);  // the filter passed the rollback only
  CHECK(collected.now().front().kind == "RolledBack");
  const auto after = subscription.stats();
  CHECK(after.queries - idle.queries <= 2);
  REQUIRE(eventually([&] { return subscription.stats().polls >= after.polls + 50; }));
  CHECK(subscription.stats().queries == after.queries);
}

TEST_CASE("a slow subscriber loses nothing but what a prune removed, and is told how many", "[changes][threads]") {
  TempDir dir;
  const std::string path = dir.file("slow.db");
  StateManager manager(file_options(path, 2));
  std::mutex gate_mutex;
  std::condition_variable gate_changed;
  bool gate_open = false;
  Collected collected;
  std::uint64_t missed = 0;
  SubscribeOptions options;
  options.poll_interval = std::chrono::milliseconds(1);
  options.batch_size = 1;
  options.on_missed = [&](std::uint64_t count) { missed += count; };
  Subscription subscription = manager.subscribe(
      [&](const AuditEvent& event) {
        collected.add(event);
        std::unique_lock<std::mutex> lock(gate_mutex);
        gate_changed.wait(lock, [&] { return gate_open; });
      },
      options);
  manager.save_snapshot(StateSnapshot("alpha", "1.0.0").with_data("n", 0));
  REQUIRE(collected.wait_for(1).size() == 1);  // the callback now holds its thread
  for (int i = 1; i <= 30; ++i) manager.save_snapshot(StateSnapshot("alpha", "1.0.0").with_data("n", i));
  const std::uint64_t removed = manager.prune_audit(hotstate::AuditPrune{std::nullopt, 5});
  REQUIRE(removed > 0);
  {
    std::lock_guard<std::mutex> lock(gate_mutex);
    gate_open = true;
  }
  gate_changed.notify_all();
  const std::uint64_t newest = manager.newest_event_id();
  REQUIRE(eventually([&] { return subscription.position() == newest; }));
  const auto got = collected.now();
  for (std::size_t i = 1; i < got.size(); ++i) CHECK(got[i].id > got[i - 1].id);
  CHECK(got.back().kind == "AuditPruned");
  CHECK(subscription.stats().missed == missed);
  CHECK(missed > 0);
  CHECK(got.size() + missed >= 1 + 30 + 1);  // every event delivered or counted as missed
}

TEST_CASE("a subscription stops from its own callback, and the manager stops the ones left running", "[changes]") {
  TempDir dir;
  const std::string path = dir.file("stop.db");
  Collected collected;
  Subscription outliving;
  {
    StateManager manager(file_options(path));
    Subscription own;
    SubscribeOptions options;
    options.poll_interval = std::chrono::milliseconds(1);
    options.after_event_id = 0;
    manager.save_snapshot(StateSnapshot("alpha", "1.0.0"));
    manager.save_snapshot(StateSnapshot("alpha", "1.0.0"));
    std::mutex own_mutex;
    std::unique_lock<std::mutex> hold(own_mutex);
    own = manager.subscribe(
        [&](const AuditEvent& event) {
          collected.add(event);
          std::lock_guard<std::mutex> lock(own_mutex);
          own.stop();
        },
        options);
    hold.unlock();
    REQUIRE(collected.wait_for(1).size() >= 1);
    REQUIRE(eventually([&] { return !own.active(); }));
    CHECK(collected.now().size() == 1);
    // Left running: the manager's destructor stops it.
    outliving = manager.subscribe([](const AuditEvent&) {}, options);
    CHECK(outliving.active());
    CHECK_THROWS_AS(manager.subscribe(nullptr), hotstate::Error);
  }
  CHECK_FALSE(outliving.active());
  outliving.stop();
}
