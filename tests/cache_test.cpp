// The write-through cache: hits, coherence with every other writer, capacity,
// and the writes that go through it (conditional and batched saves).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include "support.hpp"

using hotstate::ErrorCode;
using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate_test::current_version;
using hotstate_test::error_code_of;
using hotstate_test::file_options;
using hotstate_test::memory_options;
using hotstate_test::RawDb;
using hotstate_test::TempDir;
using hotstate_test::versioned;
using hotstate_test::versions_of;

// --- Hits -------------------------------------------------------------------------

TEST_CASE("a second load is a cache hit that shares the same immutable snapshot", "[cache]") {
  TempDir dir;
  StateManager manager(file_options(dir.file("hit.db")));
  manager.save_snapshot(versioned("p", 1));
  const auto before = manager.cache_stats();

  auto first = manager.load_snapshot("p");
  auto second = manager.load_snapshot("p");
  REQUIRE(first);
  CHECK(first.get() == second.get());  // no copy of the snapshot
  CHECK(manager.get_latest("p").get() == first.get());
  const auto after = manager.cache_stats();
  CHECK(after.hits == before.hits + 3);
  CHECK(after.misses == before.misses);
}

TEST_CASE("a save is written through: the next load is a hit with the new seq", "[cache]") {
  StateManager manager(memory_options());
  manager.save_snapshot(versioned("p", 1));
  manager.save_snapshot(versioned("p", 2));
  const auto misses = manager.cache_stats().misses;
  auto current = manager.load_snapshot("p");
  REQUIRE(current);
  CHECK(current->get<int>("version") == 2);
  CHECK(current->seq > 0);
  CHECK(manager.cache_stats().misses == misses);
}

TEST_CASE("a plugin known to have no snapshot is a cache hit too", "[cache]") {
  StateManager manager(memory_options());
  CHECK(manager.load_snapshot("nobody") == nullptr);
  const auto hits = manager.cache_stats().hits;
  CHECK(manager.load_snapshot("nobody") == nullptr);
  CHECK(manager.cache_stats().hits == hits + 1);
}

TEST_CASE("rollback, clear and clear_all update the cache", "[cache]") {
  TempDir dir;
  StateManager manager(file_options(dir.file("updates.db")));
  for (int version = 1; version <= 3; ++version) manager.save_snapshot(versioned("p", version));
  manager.save_snapshot(versioned("q", 1));
  REQUIRE(current_version(manager, "p") == 3);

  manager.rollback("p");
  CHECK(current_version(manager, "p") == 2);
  manager.clear("p");
  CHECK(manager.load_snapshot("p") == nullptr);
  CHECK(current_version(manager, "q") == 1);
  manager.clear_all();
  CHECK(manager.load_snapshot("q") == nullptr);

  const auto stats = manager.cache_stats();
  CHECK(stats.invalidations == 0);  // only our own commits happened
  StateManager fresh(file_options(dir.file("updates.db")));
  CHECK(fresh.plugin_ids().empty());
}

TEST_CASE("a failed write never reaches the cache", "[cache][errors]") {
  TempDir dir;
  const auto path = dir.file("failed.db");
  StateManager manager(file_options(path));
  manager.save_snapshot(versioned("p", 1));
  REQUIRE(current_version(manager, "p") == 1);

  {
    RawDb shell(path);
    // Every save now fails inside SQLite, after its row was inserted: its
    // audit event has a kind the audit log no longer knows.
    shell.exec("DELETE FROM audit_kinds WHERE kind = 'SnapshotSaved'");
  }
  CHECK(error_code_of([&] { manager.save_snapshot(versioned("p", 2)); }) == ErrorCode::Constraint);
  CHECK(current_version(manager, "p") == 1);
  CHECK(error_code_of([&] { manager.save_snapshots({versioned("q", 1), versioned("p", 2)}); }) ==
        ErrorCode::Constraint);
  CHECK(manager.load_snapshot("q") == nullptr);
  CHECK(current_version(manager, "p") == 1);
}

TEST_CASE("a write refused before it commits anything keeps the cache warm", "[cache][errors]") {
  TempDir dir;
  hotstate::Options options = file_options(dir.file("refused.db"));
  options.max_data_bytes = 64;
  StateManager manager(options);
  manager.save_snapshot(versioned("p", 1));
  manager.save_snapshot(versioned("q", 1));
  REQUIRE(current_version(manager, "p") == 1);
  REQUIRE(current_version(manager, "q") == 1);
  const auto before = manager.cache_stats();

  // Refused input (before any SQL) and a conflict (its own transaction rolled back).
  CHECK(error_code_of([&] {
          manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("big", std::string(100, 'x')));
        }) == ErrorCode::TooLarge);
  CHECK(error_code_of([&] { manager.save_snapshot(StateSnapshot("\xff", "1.0.0")); }) == ErrorCode::InvalidUtf8);
  CHECK(error_code_of([&] { manager.save_snapshot_if(versioned("p", 2), 12345); }) == ErrorCode::Conflict);
  CHECK(error_code_of([&] { manager.finish_reload(99, hotstate::ReloadResult::succeeded()); }) ==
        ErrorCode::NotFound);

  CHECK(current_version(manager, "p") == 1);
  CHECK(current_version(manager, "q") == 1);
  const auto after = manager.cache_stats();
  CHECK(after.misses == before.misses);  // both answered from memory
  CHECK(after.hits == before.hits + 2);
  CHECK(after.entries == before.entries);
}

TEST_CASE("a write that SQLite refuses inside its own transaction keeps the cache warm", "[cache][errors]") {
  TempDir dir;
  const auto path = dir.file("rolled-back.db");
  StateManager manager(file_options(path));
  manager.save_snapshot(versioned("p", 1));
  manager.save_snapshot(versioned("q", 1));
  {
    RawDb shell(path);
    // begin_reload now fails at its last statement, its ReloadStarted event,
    // after its snapshot and journal rows: its transaction is rolled back.
    shell.exec("DELETE FROM audit_kinds WHERE kind = 'ReloadStarted'");
  }
  REQUIRE(current_version(manager, "p") == 1);  // the shell's commit dropped the cache; these refill it
  REQUIRE(current_version(manager, "q") == 1);
  const auto before = manager.cache_stats();

  CHECK(error_code_of([&] { (void)manager.begin_reload(versioned("p", 2), "2.0.0"); }) == ErrorCode::Constraint);

  CHECK(current_version(manager, "p") == 1);
  CHECK(current_version(manager, "q") == 1);
  const auto after = manager.cache_stats();
  CHECK(after.misses == before.misses);  // the store said nothing committed: both answered from memory
  CHECK(after.hits == before.hits + 2);
  CHECK(after.invalidations == before.invalidations);
  CHECK(manager.unfinished_reloads().empty());
}

// --- Coherence with other writers ------------------------------------------------

TEST_CASE("another StateManager's commit on the same file is seen by the next load", "[cache][coherence]") {
  TempDir dir;
  const auto path = dir.file("two-managers.db");
  StateManager reader(file_options(path));
  StateManager writer(file_options(path));
  writer.save_snapshot(versioned("p", 1));
  REQUIRE(current_version(reader, "p") == 1);
  REQUIRE(current_version(reader, "p") == 1);  // cached now

  writer.save_snapshot(versioned("p", 2));
  CHECK(current_version(reader, "p") == 2);
  writer.rollback("p");
  CHECK(current_version(reader, "p") == 1);
  writer.clear("p");
  CHECK(reader.load_snapshot("p") == nullptr);
  CHECK(reader.cache_stats().dropped == 3);  // p, each time; nothing else was cached
  CHECK(reader.cache_stats().invalidations == 0);
}

TEST_CASE("a row written with raw SQL is seen by the next load through the cache", "[cache][coherence][sql]") {
  TempDir dir;
  const auto path = dir.file("raw.db");
  StateManager manager(file_options(path));
  manager.save_snapshot(versioned("p", 1));
  REQUIRE(current_version(manager, "p") == 1);

  RawDb shell(path);
  shell.exec("INSERT INTO snapshots (plugin_id, data) VALUES ('p', '{\"version\": 2}')");
  CHECK(current_version(manager, "p") == 2);
  shell.exec("DELETE FROM snapshots WHERE plugin_id = 'p' AND seq = (SELECT max(seq) FROM snapshots)");
  CHECK(current_version(manager, "p") == 1);
  shell.exec("UPDATE snapshots SET data = '{\"version\": 7}' WHERE plugin_id = 'p'");
  CHECK(current_version(manager, "p") == 7);
}

TEST_CASE("a change made in the sqlite3 shell program is seen by the next load", "[cache][coherence][sql]") {
  TempDir dir;
  const auto path = dir.file("shell.db");
  StateManager manager(file_options(path));
  manager.save_snapshot(versioned("p", 1));
  REQUIRE(current_version(manager, "p") == 1);

  const std::string command = "sqlite3 '" + path +
                              "' \"INSERT INTO snapshots (plugin_id, data) VALUES ('p', '{\\\"version\\\": 3}')\"";
  REQUIRE(std::system(command.c_str()) == 0);
  CHECK(current_version(manager, "p") == 3);
}

TEST_CASE("another process's commit is seen by the next load through the cache", "[cache][coherence][process]") {
  TempDir dir;
  const auto path = dir.file("process.db");
  StateManager manager(file_options(path));
  manager.save_snapshot(versioned("p", 1));
  REQUIRE(current_version(manager, "p") == 1);
  REQUIRE(current_version(manager, "p") == 1);

  REQUIRE(hotstate_test::run_in_child_process([&] {
    StateManager other(file_options(path));
    other.save_snapshot(versioned("p", 2));
  }));
  CHECK(current_version(manager, "p") == 2);
}

// --- Capacity -----------------------------------------------------------------------

TEST_CASE("the cache holds at most cache_max_entries plugins, least recently used out", "[cache][capacity]") {
  auto options = memory_options();
  options.cache_max_entries = 3;
  StateManager manager(options);
  for (const char* id : {"a", "b", "c", "d"}) manager.save_snapshot(StateSnapshot(id, "1.0.0"));
  // The saves filled the cache with b, c, d (a went first). Use b, then load a.
  (void)manager.load_snapshot("b");
  (void)manager.load_snapshot("a");  // miss: evicts c, the least recently used
  CHECK(manager.cache_stats().entries == 3);

  const auto hits = manager.cache_stats().hits;
  (void)manager.load_snapshot("b");
  (void)manager.load_snapshot("a");
  (void)manager.load_snapshot("d");
  CHECK(manager.cache_stats().hits == hits + 3);
  const auto misses = manager.cache_stats().misses;
  (void)manager.load_snapshot("c");
  CHECK(manager.cache_stats().misses == misses + 1);
  CHECK(manager.cache_stats().evictions >= 2);
}

TEST_CASE("the cache stays within cache_max_bytes", "[cache][capacity]") {
  auto options = memory_options();
  options.cache_max_bytes = 8 * 1024;
  StateManager manager(options);
  const std::string payload(500, 'x');
  for (int i = 0; i < 100; ++i) {
    manager.save_snapshot(StateSnapshot("p" + std::to_string(i), "1.0.0").with_data("payload", payload));
  }
  const auto stats = manager.cache_stats();
  CHECK(stats.bytes <= options.cache_max_bytes);
  CHECK(stats.entries > 0);
  CHECK(stats.entries < 100);
  for (int i = 0; i < 100; ++i) CHECK(manager.load_snapshot("p" + std::to_string(i))->get<std::string>("payload"));
}

TEST_CASE("cache_max_entries 0 turns the cache off", "[cache][capacity]") {
  auto options = memory_options();
  options.cache_max_entries = 0;
  StateManager manager(options);
  manager.save_snapshot(versioned("p", 1));
  CHECK(current_version(manager, "p") == 1);
  CHECK(current_version(manager, "p") == 1);
  CHECK(manager.cache_stats().hits == 0);
  CHECK(manager.cache_stats().entries == 0);
}

// --- Conditional and batched saves --------------------------------------------------

TEST_CASE("save_snapshot_if saves only over the seq the caller read", "[cache][conflict]") {
  StateManager manager(memory_options());
  const auto first = manager.save_snapshot_if(versioned("p", 1), 0);
  CHECK(first == manager.load_snapshot("p")->seq);

  const auto read = manager.load_snapshot("p")->seq;
  manager.save_snapshot(versioned("p", 2));  // someone else saves first
  CHECK(error_code_of([&] { manager.save_snapshot_if(versioned("p", 3), read); }) == ErrorCode::Conflict);
  CHECK(current_version(manager, "p") == 2);
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{1});

  const auto second = manager.save_snapshot_if(versioned("p", 3), manager.load_snapshot("p")->seq);
  CHECK(current_version(manager, "p") == 3);
  CHECK(manager.load_snapshot("p")->seq == second);
}

TEST_CASE("save_snapshot_if with 0 saves only a plugin that has no snapshot", "[cache][conflict]") {
  StateManager manager(memory_options());
  manager.save_snapshot_if(versioned("p", 1), 0);
  CHECK(error_code_of([&] { manager.save_snapshot_if(versioned("p", 2), 0); }) == ErrorCode::Conflict);
  manager.clear("p");
  manager.save_snapshot_if(versioned("p", 3), 0);
  CHECK(current_version(manager, "p") == 3);
}

TEST_CASE("save_snapshot_if sees a rollback made by another connection", "[cache][conflict]") {
  TempDir dir;
  const auto path = dir.file("conflict.db");
  StateManager manager(file_options(path));
  StateManager other(file_options(path));
  manager.save_snapshot(versioned("p", 1));
  manager.save_snapshot(versioned("p", 2));
  const auto read = manager.load_snapshot("p")->seq;
  other.rollback("p");
  CHECK(error_code_of([&] { manager.save_snapshot_if(versioned("p", 3), read); }) == ErrorCode::Conflict);
  CHECK(current_version(manager, "p") == 1);
}

TEST_CASE("save_snapshots writes all snapshots in one transaction, in order", "[cache][batch]") {
  TempDir dir;
  const auto path = dir.file("batch.db");
  StateManager manager(file_options(path, 2));
  std::vector<StateSnapshot> batch;
  for (int version = 1; version <= 5; ++version) batch.push_back(versioned("p", version));
  batch.push_back(versioned("q", 1));
  const auto seqs = manager.save_snapshots(batch);
  REQUIRE(seqs.size() == 6);
  for (std::size_t i = 1; i < seqs.size(); ++i) CHECK(seqs[i - 1] < seqs[i]);
  CHECK(current_version(manager, "p") == 5);
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{3, 4});
  CHECK(manager.load_snapshot("q")->seq == seqs.back());
  CHECK(manager.save_snapshots({}).empty());

  RawDb raw(path);
  CHECK(raw.query_int("SELECT count(*) FROM snapshots") == 4);
}

TEST_CASE("a batch with one bad snapshot writes nothing", "[cache][batch][errors]") {
  StateManager manager(memory_options());
  manager.save_snapshot(versioned("p", 1));
  StateSnapshot bad_id("bad\xff", "3");
  CHECK(error_code_of([&] { manager.save_snapshots({versioned("p", 2), bad_id}); }) == ErrorCode::InvalidUtf8);
  CHECK(current_version(manager, "p") == 1);
  CHECK(manager.get_history("p").empty());
}
