// Backups and verification of a database file.
#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate_test::file_options;
using hotstate_test::RawDb;
using hotstate_test::TempDir;

TEST_CASE("backup writes consistent copies while another thread keeps saving", "[maintenance][backup]") {
  TempDir dir;
  const auto path = dir.file("live.db");
  auto options = file_options(path, 3);
  options.synchronous = hotstate::Synchronous::Normal;
  StateManager manager(options);
  manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("i", 0));
  std::atomic<bool> stop{false};
  std::atomic<int> saved{0};
  std::thread writer([&] {
    for (int i = 1; !stop.load(); ++i) {
      manager.save_snapshots({StateSnapshot("p", "1.0.0").with_data("i", i), StateSnapshot("q", "1.0.0").with_data("i", i)});
      saved.store(i);
    }
  });
  for (int k = 0; k < 5; ++k) {
    const auto copy = dir.file("copy-" + std::to_string(k) + ".db");
    manager.backup(copy);
    auto copy_options = file_options(copy, 3);
    copy_options.read_only = true;
    StateManager restored(copy_options);
    const auto report = restored.verify();
    INFO(report.problems.size() << " problems");
    CHECK(report.ok);
    // p and q are saved in one transaction: a consistent copy has them equal.
    const auto q = restored.load_snapshot("q");
    const auto p = restored.load_snapshot("p");
    REQUIRE(p);
    CHECK((q ? q->get<int>("i") : std::optional<int>(0)) == p->get<int>("i"));
  }
  stop.store(true);
  writer.join();
  CHECK(saved.load() > 0);
}

TEST_CASE("verify reports nothing for a healthy file and each problem of a damaged one", "[maintenance][verify]") {
  TempDir dir;
  const auto path = dir.file("verify.db");
  StateManager manager(file_options(path, 2));
  for (int i = 0; i < 3; ++i) manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("i", i));
  const auto healthy = manager.verify();
  CHECK(healthy.ok);
  CHECK(healthy.problems.empty());
  CHECK(healthy.schema_version == hotstate::schema_version());

  {
    RawDb shell(path);
    shell.exec("DROP TRIGGER snapshots_trim_history");
    shell.exec("DROP VIEW snapshot_history");
    for (int i = 0; i < 3; ++i) shell.exec("INSERT INTO snapshots (plugin_id, data) VALUES ('p', '{\"i\": 9}')");
    shell.exec("INSERT INTO snapshots (plugin_id, data) VALUES ('bad', '{\"x\": 1e400}')");
  }
  const auto report = manager.verify();
  CHECK_FALSE(report.ok);
  std::string all;
  for (const auto& problem : report.problems) all += problem + "\n";
  CHECK_THAT(all, Catch::Contains("trigger snapshots_trim_history on snapshots is missing") &&
                      Catch::Contains("view snapshot_history is missing") &&
                      Catch::Contains("plugin 'p' has 6 rows") && Catch::Contains("is unreadable"));
}

TEST_CASE("verify reports each plugin whose count in snapshot_counts disagrees with its rows", "[maintenance][verify]") {
  TempDir dir;
  const auto path = dir.file("counts.db");
  StateManager manager(file_options(path, 3));
  for (int i = 0; i < 2; ++i) manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("i", i));
  manager.save_snapshot(StateSnapshot("q", "1.0.0").with_data("i", 0));
  manager.save_snapshot(StateSnapshot("r", "1.0.0").with_data("i", 0));
  REQUIRE(manager.verify().ok);
  {
    RawDb shell(path);
    shell.exec("UPDATE snapshot_counts SET row_count = 5 WHERE plugin_id = 'p'");
    shell.exec("DELETE FROM snapshot_counts WHERE plugin_id = 'q'");
    shell.exec("INSERT INTO snapshot_counts (plugin_id, row_count) VALUES ('ghost', 2)");
  }
  const auto report = manager.verify();
  CHECK(report.problems ==
        std::vector<std::string>{
            "plugin 'ghost' has 0 rows, but snapshot_counts, by which the history bound trims, says 2",
            "plugin 'p' has 2 rows, but snapshot_counts, by which the history bound trims, says 5",
            "plugin 'q' has 1 rows and no count in snapshot_counts, by which the history bound trims"});
}

TEST_CASE("verify reports a missing snapshot_counts table, and reads the rest", "[maintenance][verify]") {
  TempDir dir;
  const auto path = dir.file("no-counts.db");
  StateManager manager(file_options(path, 3));
  manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("i", 0));
  RawDb(path).exec("DROP TABLE snapshot_counts");
  const auto report = manager.verify();
  CHECK(report.problems == std::vector<std::string>{"table snapshot_counts is missing (hotstate creates it)"});
}

TEST_CASE("verify matches an event's seq to a row as SQLite compares them: 2.0 and '3' name rows 2 and 3, '4x' none",
          "[maintenance][verify][audit]") {
  TempDir dir;
  const auto path = dir.file("seqs.db");
  StateManager manager(file_options(path));
  manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("i", 1));
  {
    // Rows 2, 3 and 4 written without the trigger, and SnapshotSaved events
    // written by hand for them; then the trigger and the counts as they were.
    RawDb shell(path);
    const std::string trim = shell.query("SELECT sql FROM sqlite_master WHERE name = 'snapshots_trim_history'");
    shell.exec("DROP TRIGGER snapshots_trim_history");
    for (int i = 2; i <= 4; ++i) {
      shell.exec("INSERT INTO snapshots (plugin_id, data) VALUES ('p', '{\"i\": " + std::to_string(i) + "}')");
    }
    shell.exec("INSERT INTO audit_events (plugin_id, kind, detail) VALUES ('p', 'SnapshotSaved', '{\"seq\": 2.0}'),"
               " ('p', 'SnapshotSaved', '{\"seq\": \"3\"}'), ('p', 'SnapshotSaved', '{\"seq\": \"4x\"}')");
    shell.exec(trim);
    shell.exec("UPDATE snapshot_counts SET row_count = 4 WHERE plugin_id = 'p'");
  }
  const auto report = manager.verify();
  CHECK(report.problems ==
        std::vector<std::string>{
            "snapshot seq 4 of 'p' has no SnapshotSaved event in the audit log",
            "snapshot seq 4x of 'p' is gone with no event that removed it (deleted outside hotstate?)"});
}
