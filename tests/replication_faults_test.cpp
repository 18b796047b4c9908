// Replication under faults: PostgreSQL stopped in the middle of shipping and
// started again, the replicator killed with SIGKILL mid-batch again and
// again, and 50 hosts shipping into one database at once. Each ends with
// PostgreSQL holding exactly what each file holds (replication_compare.hpp),
// every event shipped once and none missing.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <exception>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "postgresql_test_cluster.hpp"
#include "replication_compare.hpp"
#include "support.hpp"

using hotstate::ReplicationOptions;
using hotstate::StateManager;
using hotstate_test::ChildProcess;
using hotstate_test::eventually;
using hotstate_test::file_options;
using hotstate_test::RandomHost;
using hotstate_test::require_each_event_once;
using hotstate_test::require_replica_matches;
using hotstate_test::TempDir;

namespace {

// A host writing random operations on a thread of its own until stopped;
// its last write is hotstate's (a plain save), so that every event is
// chained when the last one ships.
class Writer {
 public:
  Writer(StateManager& manager, const std::string& db, std::uint64_t seed, RandomHost::Settings settings = {})
      : host_(manager, db, seed, settings) {
    thread_ = std::thread([this] {
      try {
        while (!stop_.load()) {
          host_.step();
          operations_.fetch_add(1);
        }
        host_.save_plain("alpha");
      } catch (...) {
        failure_ = std::current_exception();
      }
      done_.store(true);
    });
  }
  ~Writer() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  std::uint64_t operations() const { return operations_.load(); }
  bool failed() const { return done_.load() && failure_ != nullptr; }
  // Stops and joins it; rethrows what an operation threw.
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    if (failure_) {
      auto failure = failure_;
      failure_ = nullptr;
      std::rethrow_exception(failure);
    }
  }
  // After stop().
  std::string summary() const { return host_.summary(); }

 private:
  RandomHost host_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::atomic<std::uint64_t> operations_{0};
  std::exception_ptr failure_;
  std::thread thread_;
};

// Starts PostgreSQL again if the test leaves while it is stopped, so that
// the test cases after it find it running.
class ResumeOnExit {
 public:
  ResumeOnExit() = default;
  ~ResumeOnExit() {
    if (!paused_) return;
    try {
      resume_test_pg();
    } catch (...) {  // the test already failed; the next ones will say PostgreSQL is down
    }
  }
  ResumeOnExit(const ResumeOnExit&) = delete;
  ResumeOnExit& operator=(const ResumeOnExit&) = delete;
  void pause() {
    pause_test_pg();
    paused_ = true;
  }
  void resume() {
    paused_ = false;
    resume_test_pg();
  }

 private:
  bool paused_ = false;
};

}  // namespace

TEST_CASE("PostgreSQL stopped in the middle of shipping and started again: the follower ships every change once, "
          "and the host's writes never fail",
          "[replication][faults]") {
  const std::string url = fresh_test_database("replication_pg_restart");
  TempDir dir;
  const std::string db = dir.file("host.db");
  StateManager manager(file_options(db, 4));
  ReplicationOptions options;
  options.host_id = "restarted";
  options.batch_events = 50;
  options.poll_interval = std::chrono::milliseconds(2);
  options.retry_min = std::chrono::milliseconds(10);
  options.retry_max = std::chrono::milliseconds(200);
  std::atomic<std::uint64_t> batches_seen{0};
  options.on_batch = [&](std::uint64_t, std::uint64_t events) {
    if (events > 0) batches_seen.fetch_add(1);
  };
  // Shipped once first: the replica holds the prune from the start.
  manager.replicate_once(url, options);
  RandomHost::Settings settings;
  settings.unaudited_sql = false;  // a follower reconciles once a minute: not within this test
  Writer writer(manager, db, 21, settings);
  // A backlog first, so that the follower ships batch after batch.
  REQUIRE(eventually([&] { return writer.operations() >= 200 || writer.failed(); }));
  REQUIRE_FALSE(writer.failed());
  hotstate::Replication replication = manager.replicate(url, options);
  // Stopped right after the first batch committed: the follower is in its next one.
  REQUIRE(eventually([&] { return batches_seen.load() >= 1; }));
  ResumeOnExit postgresql;
  postgresql.pause();
  const auto at_pause = writer.operations();
  const auto failures_before = replication.stats().failures;
  // The writes go on while PostgreSQL is down, and the follower fails and retries.
  const bool retried = eventually([&] {
    return writer.operations() >= at_pause + 60 && replication.stats().failures >= failures_before + 2;
  });
  CHECK_FALSE(replication.stats().connected);
  postgresql.resume();
  REQUIRE(retried);
  REQUIRE_FALSE(writer.failed());
  // Shipping again, while the writes go on.
  const auto at_resume = batches_seen.load();
  const auto operations_at_resume = writer.operations();
  REQUIRE(eventually([&] { return batches_seen.load() > at_resume + 2 && writer.operations() > operations_at_resume + 30; }));
  writer.stop();  // rethrows a failed write
  const std::uint64_t newest = manager.newest_event_id();
  INFO("operations: " << writer.summary() << "; the newest event " << newest);
  REQUIRE(replication.wait_shipped(newest, std::chrono::seconds(60)));
  const auto stats = replication.stats();
  INFO("last error: " << stats.last_error);
  CHECK(stats.failures > failures_before);
  CHECK(stats.missed == 0);
  CHECK(stats.connected);
  require_replica_matches(db, url, "restarted");
  replication.stop();
  require_each_event_once(db, url, "restarted");
}

TEST_CASE("a replicator killed with SIGKILL mid-batch again and again ships every change once", "[replication][faults]") {
  const std::string url = fresh_test_database("replication_killed");
  TempDir dir;
  const std::string db = dir.file("host.db");
  StateManager manager(file_options(db, 4));
  // Shipped once first: the replica holds the prune from the start.
  ReplicationOptions options;
  options.host_id = "killed";
  manager.replicate_once(url, options);
  Writer writer(manager, db, 31);
  std::mt19937 random(31);
  const int rounds = 5 * hotstate_test::replication_test_scale();
  for (int round = 0; round < rounds; ++round) {
    INFO("round " << round);
    ChildProcess replicator({HOTSTATE_REPLICATION_CHILD, "follow", db, url, "killed", "7"});
    const auto started = replicator.next_line();
    INFO(replicator.err());
    REQUIRE(started == std::optional<std::string>("following"));
    // Killed after a few committed batches, while the backlog the writer
    // made meanwhile (it was dead) ships in batches of 7: mid-batch; or
    // (none) while it connects or ships its first.
    const int batches = std::uniform_int_distribution<int>(0, 6)(random);
    for (int b = 0; b < batches; ++b) {
      const auto line = replicator.next_line();
      REQUIRE(line.has_value());
      REQUIRE(line->rfind("batch ", 0) == 0);
    }
    CHECK(replicator.stop(SIGKILL) == -1);
    CHECK(replicator.signal() == SIGKILL);
    REQUIRE_FALSE(writer.failed());
  }
  writer.stop();
  INFO("operations: " << writer.summary());
  const auto report = manager.replicate_once(url, options);
  CHECK(report.missed == 0);
  CHECK(report.position == manager.newest_event_id());
  require_replica_matches(db, url, "killed");
  require_each_event_once(db, url, "killed");
}

TEST_CASE("two replicators of the same file and host at once ship every change once", "[replication][faults]") {
  const std::string url = fresh_test_database("replication_two_replicators");
  TempDir dir;
  const std::string db = dir.file("host.db");
  StateManager manager(file_options(db, 4));
  ReplicationOptions options;
  options.host_id = "twice";
  options.batch_events = 5;
  options.poll_interval = std::chrono::milliseconds(1);
  manager.replicate_once(url, options);
  // One follower in this process, on this manager; another in a process of its own.
  hotstate::Replication follower = manager.replicate(url, options);
  ChildProcess other({HOTSTATE_REPLICATION_CHILD, "follow", db, url, "twice", "3"});
  REQUIRE(other.next_line() == std::optional<std::string>("following"));
  RandomHost::Settings settings;
  settings.unaudited_sql = false;  // followers reconcile once a minute: not within this test
  Writer writer(manager, db, 41, settings);
  // Both ship: each commits batches of the writer's events.
  REQUIRE(eventually([&] { return follower.stats().events > 50 || writer.failed(); }));
  for (int i = 0; i < 5; ++i) {
    const auto line = other.next_line();
    INFO(other.err());
    REQUIRE(line.has_value());
  }
  writer.stop();
  const std::uint64_t newest = manager.newest_event_id();
  INFO("operations: " << writer.summary() << "; the newest event " << newest);
  REQUIRE(follower.wait_shipped(newest, std::chrono::seconds(60)));
  CHECK(other.stop(SIGTERM) == 0);
  follower.stop();
  CHECK(follower.stats().failures == 0);
  require_replica_matches(db, url, "twice");
  require_each_event_once(db, url, "twice");
}

TEST_CASE("50 hosts ship into one PostgreSQL database at once, each its own file and host id", "[replication][faults]") {
  const std::string url = fresh_test_database("replication_many_hosts");
  TempDir dir;
  constexpr int hosts = 50;
  const int operations = 30 * hotstate_test::replication_test_scale();
  std::vector<std::unique_ptr<ChildProcess>> children;
  for (int i = 0; i < hosts; ++i) {
    children.push_back(std::make_unique<ChildProcess>(std::vector<std::string>{
        HOTSTATE_REPLICATION_CHILD, "host", dir.file("host-" + std::to_string(i) + ".db"), url,
        "host-" + std::to_string(i), std::to_string(operations), std::to_string(1000 + i)}));
  }
  for (int i = 0; i < hosts; ++i) {
    auto& child = *children[static_cast<std::size_t>(i)];
    std::string out;
    while (auto line = child.next_line(std::chrono::seconds(300))) out += *line + "\n";
    const int exit_code = child.wait();
    INFO("host-" << i << ": " << out << child.err());
    CHECK(exit_code == 0);
    CHECK(out.rfind("done ", 0) == 0);
  }
  for (int i = 0; i < hosts; ++i) {
    const std::string host_id = "host-" + std::to_string(i);
    hotstate_test::check_replica_matches(dir.file(host_id + ".db"), url, host_id);
    require_each_event_once(dir.file(host_id + ".db"), url, host_id);
  }
  hotstate_test::PgReader pg(url);
  CHECK(pg.integer("SELECT count(*) FROM hotstate.hosts") == hosts);
  CHECK(pg.integer("SELECT count(*) FROM hotstate.schema_version") == hotstate::postgresql_schema_version());
}
