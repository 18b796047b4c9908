// Group commit: writes queued behind a running write share one commit; a
// write that fails inside the group fails alone; an acknowledged write of a
// group is durable. The queue is driven through the store's internals so
// that the groups are exactly the ones each test names (no timing involved).
#include <catch2/catch.hpp>

#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fault_vfs.hpp"
#include "store/store_internal.hpp"
#include "support.hpp"

namespace faults = hotstate_test::faults;
using hotstate::ErrorCode;
using hotstate::StateManager;
using hotstate::Synchronous;
using hotstate::internal::Commit;
using hotstate::internal::CommitUncertain;
using hotstate::internal::MutexLock;
using hotstate::internal::Store;
using hotstate_test::current_version;
using hotstate_test::RawDb;
using hotstate_test::TempDir;
using hotstate_test::versioned;
using hotstate_test::versions_of;

namespace {

std::size_t queued(Store::Shared& shared) {
  MutexLock lock(shared.queue_mutex);
  return shared.queue.size();
}

// Waits (yielding) until `count` writes are queued; false after ten seconds.
bool wait_until_queued(Store::Shared& shared, std::size_t count) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (queued(shared) < count) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// One write on its own thread, and what became of it.
struct Outcome {
  std::optional<Commit> commit;
  std::optional<ErrorCode> error;
  bool uncertain = false;
};

// Runs each write on its own thread, queued in the order given behind a
// first write that holds the front of the queue until all are queued: the
// first commits alone, the others as one group.
std::vector<Outcome> run_queued_behind_one(Store& store, const std::vector<std::function<Commit()>>& writes) {
  Store::Shared& shared = store.shared();
  std::vector<Outcome> outcomes(writes.size());
  std::vector<std::thread> threads;
  {
    MutexLock hold(shared.writer_mutex);  // the leader waits for the writer here, at the queue's front
    for (std::size_t i = 0; i < writes.size(); ++i) {
      threads.emplace_back([&, i] {
        try {
          outcomes[i].commit = writes[i]();
        } catch (const CommitUncertain& error) {
          outcomes[i].error = error.code();
          outcomes[i].uncertain = true;
        } catch (const hotstate::Error& error) {
          outcomes[i].error = error.code();
        }
      });
      if (!wait_until_queued(shared, i + 1)) FAIL("write " << i << " never reached the queue");
    }
  }
  for (auto& thread : threads) thread.join();
  return outcomes;
}

hotstate::Options durable_options(const std::string& path) {
  hotstate::Options options = faults::options(path, 10);
  options.synchronous = Synchronous::Full;
  return options;
}

}  // namespace

TEST_CASE("writes queued behind a running write share one commit, and one that fails in the group fails alone",
          "[group-commit]") {
  faults::Scope scope;
  TempDir dir;
  const auto path = dir.file("group.db");
  std::optional<Store> opened;
  opened.emplace(durable_options(path));
  Store& store = *opened;
  store.insert(versioned("p", 1));
  store.insert(versioned("q", 1));
  {
    RawDb shell(path);
    // begin_reload now fails at its last statement, inside SQLite.
    shell.exec("DELETE FROM audit_kinds WHERE kind = 'ReloadStarted'");
  }
  const std::uint64_t syncs_before = faults::syncs();

  const auto outcomes = run_queued_behind_one(
      store, {
                 [&] { return store.insert(versioned("lead", 1)).commit; },
                 [&] { return store.insert(versioned("a", 1)).commit; },
                 [&] { return store.insert_if(versioned("p", 2), 12345).commit; },  // Conflict
                 [&] { return store.begin_reload(versioned("q", 2), "2.0.0").commit; },  // Constraint
                 [&] { return store.insert(versioned("a", 2)).commit; },
                 [&] { return store.clear("q").commit; },
                 [&] { return store.insert(versioned("b", 1)).commit; },
             });

  for (const std::size_t ok : {0, 1, 4, 5, 6}) {
    INFO("write " << ok);
    CHECK_FALSE(outcomes[ok].error.has_value());
  }
  CHECK(outcomes[2].error == ErrorCode::Conflict);
  CHECK(outcomes[3].error == ErrorCode::Constraint);
  CHECK_FALSE(outcomes[2].uncertain);  // refused inside its savepoint: known to have committed nothing
  CHECK_FALSE(outcomes[3].uncertain);

  // The leader committed alone; the five that succeeded behind it, together.
  const Commit& alone = *outcomes[0].commit;
  CHECK(alone.after.commit_counter() == alone.before.commit_counter() + 1);
  const Commit& group = *outcomes[1].commit;
  CHECK(group.before == alone.after);
  CHECK(group.after.commit_counter() == group.before.commit_counter() + 1);
  for (const std::size_t member : {4, 5, 6}) {
    CHECK(outcomes[member].commit->before == group.before);
    CHECK(outcomes[member].commit->after == group.after);
  }
  // Each write's Commit names the group's changes in order: a1, a2, q cleared, b1.
  REQUIRE(group.current.size() == 4);
  CHECK(group.current[0].plugin_id == "a");
  CHECK(group.current[1].snapshot->get<int>("version") == 2);
  CHECK(group.current[2].plugin_id == "q");
  CHECK(group.current[2].snapshot == nullptr);
  CHECK(group.current[3].plugin_id == "b");
  CHECK(faults::syncs() - syncs_before == 2);  // one fsync of the -wal per commit

  opened.reset();
  StateManager manager(hotstate_test::file_options(path));
  CHECK(current_version(manager, "a") == 2);
  CHECK(versions_of(manager.get_history("a")) == std::vector<int>{1});
  CHECK(current_version(manager, "b") == 1);
  CHECK(current_version(manager, "p") == 1);     // the Conflict wrote nothing
  CHECK(manager.load_snapshot("q") == nullptr);  // cleared; the failed begin_reload left nothing
  CHECK(manager.unfinished_reloads().empty());
  CHECK(manager.verify().ok);
}

TEST_CASE("a write that queues while a group runs joins the group before it commits", "[group-commit]") {
  faults::Scope scope;
  TempDir dir;
  const auto path = dir.file("grow.db");
  Store store(durable_options(path));
  Store::Shared& shared = store.shared();
  std::thread late;
  std::optional<Commit> late_commit;
  bool late_queued = false;
  const std::uint64_t syncs_before = faults::syncs();

  const auto outcomes = run_queued_behind_one(
      store, {
                 [&] { return store.insert(versioned("lead", 1)).commit; },
                 // The group's first write starts another write and waits,
                 // inside the group, until it is queued behind the group.
                 [&] {
                   return shared
                       .write("waits", Store::Shared::Statements::Many,
                              [&](Store::Connection&, Commit&) {
                                late = std::thread([&] { late_commit = store.insert(versioned("late", 1)).commit; });
                                late_queued = wait_until_queued(shared, 3);  // the group's two writes, and it
                                return 0;
                              })
                       .commit;
                 },
                 [&] { return store.insert(versioned("a", 1)).commit; },
             });
  late.join();
  REQUIRE(late_queued);
  REQUIRE(late_commit.has_value());
  const Commit& group = *outcomes[1].commit;
  CHECK(group.before == outcomes[0].commit->after);
  CHECK(late_commit->before == group.before);  // in the group, not after it
  CHECK(late_commit->after == group.after);
  CHECK(outcomes[2].commit->after == group.after);
  REQUIRE(group.current.size() == 2);
  CHECK(group.current[0].plugin_id == "a");
  CHECK(group.current[1].plugin_id == "late");
  CHECK(faults::syncs() - syncs_before == 2);  // the leader's commit, and the group's
}

TEST_CASE("every acknowledged write of a group commit survives a power cut right after it", "[group-commit][power]") {
  faults::Scope scope;
  TempDir dir;
  const auto path = dir.file("group-power.db");
  {
    Store store(durable_options(path));
    store.insert(versioned("lead", 1));
    faults::record_power_loss(path);
    const auto outcomes = run_queued_behind_one(store, {
                                                           [&] { return store.insert(versioned("lead", 2)).commit; },
                                                           [&] { return store.insert(versioned("a", 1)).commit; },
                                                           [&] { return store.insert(versioned("b", 1)).commit; },
                                                           [&] { return store.insert(versioned("a", 2)).commit; },
                                                       });
    for (const auto& outcome : outcomes) CHECK_FALSE(outcome.error.has_value());
    CHECK(outcomes[1].commit->after == outcomes[3].commit->after);  // a group
    faults::cut_power();
  }
  faults::restore_after_power_loss(faults::PowerLoss::DropUnsynced, 1);
  StateManager manager(hotstate_test::file_options(path));
  CHECK(current_version(manager, "lead") == 2);
  CHECK(current_version(manager, "a") == 2);
  CHECK(current_version(manager, "b") == 1);
  CHECK(manager.verify().ok);
}

TEST_CASE("a group whose commit fails reports every write in it as of unknown outcome", "[group-commit][fault]") {
  faults::Scope scope;
  TempDir dir;
  const auto path = dir.file("group-sync.db");
  Store store(durable_options(path));
  store.insert(versioned("lead", 1));
  faults::fail_nth_sync(2);  // the first commit (the leader's, alone) syncs; the group's does not
  const auto outcomes = run_queued_behind_one(store, {
                                                         [&] { return store.insert(versioned("lead", 2)).commit; },
                                                         [&] { return store.insert(versioned("a", 1)).commit; },
                                                         [&] { return store.insert_if(versioned("lead", 3), 999).commit; },
                                                         [&] { return store.insert(versioned("b", 1)).commit; },
                                                     });
  CHECK_FALSE(outcomes[0].error.has_value());
  CHECK(outcomes[1].error == ErrorCode::Io);
  CHECK(outcomes[1].uncertain);
  CHECK(outcomes[3].uncertain);
  CHECK(outcomes[2].error == ErrorCode::Conflict);  // failed alone before the commit: known to have committed nothing
  CHECK_FALSE(outcomes[2].uncertain);
}
