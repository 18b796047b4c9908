// State across versions: restore_for picks the state a version should start
// from, compatible as it is or migrated by a chain of registered migrations
// (upgrades and downgrades), passing over what cannot be read or migrated.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

#include "support.hpp"

using hotstate::ErrorCode;
using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate_test::error_code_of;
using hotstate_test::file_options;
using hotstate_test::RawDb;
using hotstate_test::TempDir;

namespace {

StateSnapshot at_version(const std::string& plugin_version, int count) {
  return StateSnapshot("p", plugin_version).with_data("count", count);
}

// 1.x keeps "count"; 2.x calls it "total"; 3.x keeps it as a string "value".
StateSnapshot one_to_two(StateSnapshot snapshot) {
  snapshot.data["total"] = snapshot.data.at("count");
  snapshot.data.erase("count");
  return snapshot;
}
StateSnapshot two_to_three(StateSnapshot snapshot) {
  snapshot.with_data("value", std::to_string(snapshot.get<int>("total").value()));
  snapshot.data.erase("total");
  return snapshot;
}
StateSnapshot two_to_one(StateSnapshot snapshot) {
  snapshot.data["count"] = snapshot.data.at("total");
  snapshot.data.erase("total");
  return snapshot;
}

std::string events_of(RawDb& shell, const std::string& kind) {
  return shell.query("SELECT ifnull(group_concat(detail, ' '), '') FROM (SELECT detail FROM audit_events WHERE kind = '" +
                     kind + "' ORDER BY id)");
}

}  // namespace

TEST_CASE("restore_for returns the newest compatible snapshot as it is, and writes nothing", "[restore-for]") {
  TempDir dir;
  const auto path = dir.file("compatible.db");
  StateManager manager(file_options(path));
  manager.save_snapshot(at_version("1.0.0", 1));
  const auto newest_one = manager.save_snapshot(at_version("1.2.0", 2));
  manager.save_snapshot(at_version("2.0.0", 3));
  RawDb shell(path);
  const auto events = shell.query_int("SELECT count(*) FROM audit_events");

  const auto for_two = manager.restore_for("p", "2.1.0");
  REQUIRE(for_two);
  CHECK(for_two->get<int>("count") == 3);
  // 1.5.0 finds 1.2.0 in the history, newest first, and nothing is saved.
  const auto for_one = manager.restore_for("p", "1.5.0");
  REQUIRE(for_one);
  CHECK(for_one->seq == newest_one);
  CHECK(manager.load_snapshot("p")->plugin_version == "2.0.0");
  CHECK(shell.query_int("SELECT count(*) FROM audit_events") == events);
}

TEST_CASE("a chain 1 -> 2 -> 3 migrates the newest snapshot and saves it with the target version, audited in the "
          "same transaction, and it survives reopening",
          "[restore-for]") {
  TempDir dir;
  const auto path = dir.file("chain.db");
  std::uint64_t from_seq = 0;
  {
    StateManager manager(file_options(path));
    manager.save_snapshot(at_version("1.0.0", 1));
    from_seq = manager.save_snapshot(at_version("1.4.0", 7));
    manager.register_migration("p", 1, 2, one_to_two);
    manager.register_migration("", 2, 3, two_to_three);  // for every plugin

    const auto migrated = manager.restore_for("p", "3.0.1");
    REQUIRE(migrated);
    CHECK(migrated->plugin_version == "3.0.1");
    CHECK(migrated->get<std::string>("value") == std::optional<std::string>("7"));
    CHECK(migrated->data.count("count") == 0);
    CHECK(migrated->seq > from_seq);
    CHECK(manager.load_snapshot("p")->seq == migrated->seq);
    // Asked again, the migrated state is compatible as it is.
    CHECK(manager.restore_for("p", "3.2.0")->seq == migrated->seq);
  }
  RawDb shell(path);
  CHECK(events_of(shell, "StateMigrated") == R"({"from_seq":)" + std::to_string(from_seq) +
                                                 R"(,"from_version":"1.4.0","steps":2,"to_version":"3.0.1"})");
  // The save and its event are one transaction: the same time, the event right after the save's.
  CHECK(shell.query("SELECT kind FROM audit_events WHERE id = (SELECT max(id) - 1 FROM audit_events)") == "SnapshotSaved");
  StateManager reopened(file_options(path));
  CHECK(reopened.load_snapshot("p")->plugin_version == "3.0.1");
  CHECK(reopened.get_history("p").size() == 2);  // the 1.x snapshots are kept
  CHECK(reopened.verify().ok);
}

TEST_CASE("a downgrade 2 -> 1 runs a registered downgrade when no 1.x state is stored", "[restore-for]") {
  TempDir dir;
  StateManager manager(file_options(dir.file("downgrade.db")));
  manager.save_snapshot(StateSnapshot("p", "2.3.0").with_data("total", 41));
  CHECK(manager.restore_for("p", "1.9.0") == nullptr);  // nothing registered yet
  manager.register_migration("p", 2, 1, two_to_one);
  const auto downgraded = manager.restore_for("p", "1.9.0");
  REQUIRE(downgraded);
  CHECK(downgraded->plugin_version == "1.9.0");
  CHECK(downgraded->get<int>("count") == 41);
}

TEST_CASE("a migration that throws is passed over, recorded, and an older snapshot is migrated instead",
          "[restore-for]") {
  TempDir dir;
  const auto path = dir.file("throws.db");
  StateManager manager(file_options(path));
  const auto older = manager.save_snapshot(at_version("1.0.0", 5));
  const auto newer = manager.save_snapshot(at_version("1.1.0", -1));
  manager.register_migration("p", 1, 2, [](StateSnapshot snapshot) {
    if (snapshot.get<int>("count").value_or(0) < 0) throw std::runtime_error("count is negative");
    return one_to_two(std::move(snapshot));
  });
  const auto migrated = manager.restore_for("p", "2.0.0");
  REQUIRE(migrated);
  CHECK(migrated->get<int>("total") == 5);
  RawDb shell(path);
  CHECK(events_of(shell, "RestoreSkipped") ==
        R"({"reason":"migration failed: count is negative","seq":)" + std::to_string(newer) + "}");
  CHECK(shell.query("SELECT detail ->> '$.from_seq' FROM audit_events WHERE kind = 'StateMigrated'") ==
        std::to_string(older));
}

TEST_CASE("an unreadable current row written with the sqlite3 shell falls back to the history", "[restore-for][sql]") {
  TempDir dir;
  const auto path = dir.file("unreadable.db");
  StateManager manager(file_options(path));
  const auto good = manager.save_snapshot(at_version("1.0.0", 3));
  RawDb shell(path);
  // SQLite's json_valid accepts 1e400; a double cannot hold it.
  shell.exec("INSERT INTO snapshots (plugin_id, plugin_version, data) VALUES ('p', '1.0.1', '{\"count\": 1e400}')");
  const std::string bad = shell.query("SELECT max(seq) FROM snapshots");
  CHECK(error_code_of([&] { manager.load_snapshot("p"); }) == ErrorCode::Corrupt);

  const auto restored = manager.restore_for("p", "1.2.0");
  REQUIRE(restored);
  CHECK(restored->seq == good);
  CHECK(shell.query("SELECT (detail ->> '$.seq') || ' ' || substr(detail ->> '$.reason', 1, 11) FROM audit_events"
                    " WHERE kind = 'RestoreSkipped'") == bad + " unreadable:");
}

TEST_CASE("restore_for falls back to a pinned snapshot whose row the history bound trimmed", "[restore-for][pins]") {
  TempDir dir;
  StateManager manager(file_options(dir.file("pinned.db"), 1));
  const auto good = manager.save_snapshot(at_version("1.0.0", 9));
  manager.pin("p", good, "last-known-good");
  for (int i = 0; i < 3; ++i) manager.save_snapshot(at_version("2.0.0", i));
  CHECK(manager.snapshot("p", good) != nullptr);
  const auto restored = manager.restore_for("p", "1.3.0");
  REQUIRE(restored);
  CHECK(restored->seq == good);
  CHECK(restored->get<int>("count") == 9);
}

TEST_CASE("a plugin's own migration wins over one for every plugin; nothing that fits gives null", "[restore-for]") {
  TempDir dir;
  StateManager manager(file_options(dir.file("own.db")));
  manager.save_snapshot(at_version("1.0.0", 2));
  manager.register_migration("", 1, 2, [](StateSnapshot snapshot) { return snapshot.with_data("by", "everyone"); });
  manager.register_migration("p", 1, 2, [](StateSnapshot snapshot) { return snapshot.with_data("by", "p"); });
  CHECK(manager.restore_for("p", "2.0.0")->get<std::string>("by") == std::optional<std::string>("p"));
  CHECK(manager.restore_for("p", "7.0.0") == nullptr);
  CHECK(manager.restore_for("p", "next") == nullptr);
  CHECK(manager.restore_for("unknown", "1.0.0") == nullptr);
}

TEST_CASE("register_migration refuses equal majors and an empty function", "[restore-for][errors]") {
  StateManager manager(hotstate_test::memory_options());
  CHECK(error_code_of([&] { manager.register_migration("p", 2, 2, one_to_two); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([&] { manager.register_migration("p", 1, 2, hotstate::Migration{}); }) ==
        ErrorCode::InvalidArgument);
}

TEST_CASE("restore_for carries the newest state forward: a newer snapshot that migrates wins over an older compatible "
          "one",
          "[restore-for]") {
  TempDir dir;
  StateManager manager(file_options(dir.file("newest.db")));
  manager.save_snapshot(StateSnapshot("p", "2.0.0").with_data("total", 1));  // an old 2.x state
  manager.save_snapshot(at_version("1.9.0", 8));                             // newer, after a downgrade
  manager.register_migration("p", 1, 2, one_to_two);
  const auto started = manager.restore_for("p", "2.1.0");
  REQUIRE(started);
  CHECK(started->get<int>("total") == 8);
  // Without a migration that fits, the older compatible one is the newest usable.
  StateManager other(file_options(dir.file("older.db")));
  other.save_snapshot(StateSnapshot("p", "2.0.0").with_data("total", 1));
  other.save_snapshot(at_version("1.9.0", 8));
  CHECK(other.restore_for("p", "2.1.0")->get<int>("total") == 1);
}
