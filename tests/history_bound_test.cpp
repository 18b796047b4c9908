// The history bound (max_history) as the schema keeps it: each plugin's
// newest max_history + 1 rows, for every writer, trimmed by the count of its
// rows in snapshot_counts, which triggers keep through every insert, removal
// and move, whoever makes it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "support.hpp"

using hotstate::StateManager;
using hotstate_test::current_version;
using hotstate_test::file_options;
using hotstate_test::RawDb;
using hotstate_test::TempDir;
using hotstate_test::versioned;
using hotstate_test::versions_of;

namespace {

std::string shell_insert(const std::string& plugin_id, int version) {
  return "INSERT INTO snapshots (plugin_id, plugin_version, data) VALUES ('" + plugin_id + "', '1.0.0', '{\"version\": " +
         std::to_string(version) + "}')";
}

// "plugin=rows ..." as snapshot_counts says, and as the rows are.
std::string counted(RawDb& raw) {
  return raw.query(
      "SELECT ifnull(group_concat(plugin_id || '=' || row_count, ' '), '') FROM (SELECT plugin_id, row_count"
      " FROM snapshot_counts ORDER BY plugin_id)");
}
std::string actual(RawDb& raw) {
  return raw.query(
      "SELECT ifnull(group_concat(plugin_id || '=' || n, ' '), '') FROM (SELECT plugin_id, count(*) AS n"
      " FROM snapshots GROUP BY plugin_id ORDER BY plugin_id)");
}

// The versions of the plugin's rows, oldest first (history, then current).
std::vector<int> kept(const StateManager& manager, const std::string& plugin_id) {
  std::vector<int> versions = versions_of(manager.get_history(plugin_id));
  const int current = current_version(manager, plugin_id);
  if (current != -1) versions.push_back(current);
  return versions;
}

std::vector<int> range(int first, int last) {
  std::vector<int> values;
  for (int v = first; v <= last; ++v) values.push_back(v);
  return values;
}

}  // namespace

TEST_CASE("each plugin keeps exactly its newest max_history + 1 rows at every bound, saved or inserted by the shell",
          "[history][counts]") {
  for (const int bound : {0, 1, 3, 10}) {
    INFO("max_history " << bound);
    TempDir dir;
    const std::string path = dir.file("bound.db");
    StateManager manager(file_options(path, static_cast<std::size_t>(bound)));
    RawDb shell(path);
    const int inserts = 3 * bound + 7;
    for (int version = 1; version <= inserts; ++version) {
      if (version % 3 == 0) {
        shell.exec(shell_insert("p", version));
      } else {
        manager.save_snapshot(versioned("p", version));
      }
      if (version % 2 == 0) manager.save_snapshot(versioned("q", version));
      CHECK(kept(manager, "p") == range(std::max(1, version - bound), version));
      REQUIRE(counted(shell) == actual(shell));
    }
    // Every row that went is recorded, oldest first, and nothing else went.
    CHECK(shell.query_int("SELECT count(*) FROM audit_events WHERE kind = 'HistoryTrimmed' AND plugin_id = 'p'") ==
          inserts - (bound + 1));
    CHECK(shell.query("SELECT group_concat(json_extract(detail, '$.seq'), ' ') FROM (SELECT detail FROM audit_events"
                      " WHERE kind = 'HistoryTrimmed' AND plugin_id = 'p' ORDER BY id)") ==
          shell.query("SELECT group_concat(json_extract(detail, '$.seq'), ' ') FROM (SELECT detail FROM audit_events"
                      " WHERE kind = 'SnapshotSaved' AND plugin_id = 'p' ORDER BY id LIMIT " +
                      std::to_string(inserts - (bound + 1)) + ")"));
    const auto report = manager.verify();
    INFO((report.problems.empty() ? std::string() : report.problems.front()));
    CHECK(report.ok);
  }
}

TEST_CASE("snapshot_counts follows every removal: rollback, clear, clear_all and the shell's DELETE and UPDATE",
          "[history][counts]") {
  TempDir dir;
  const std::string path = dir.file("counts.db");
  StateManager manager(file_options(path, 3));
  RawDb shell(path);
  for (int version = 1; version <= 6; ++version) manager.save_snapshot(versioned("p", version));  // trims 1, 2
  for (int version = 1; version <= 2; ++version) manager.save_snapshot(versioned("q", version));
  CHECK(counted(shell) == "p=4 q=2");

  // Right after a save of p that trimmed, the shell deletes one of p's rows
  // in the middle: it is counted out like any other removal.
  manager.save_snapshot(versioned("p", 7));  // trims 3
  shell.exec("DELETE FROM snapshots WHERE plugin_id = 'p' AND json_extract(data, '$.version') = 5");
  CHECK(counted(shell) == "p=3 q=2");
  manager.save_snapshot(versioned("p", 8));  // no trim: p had 3 rows
  CHECK(kept(manager, "p") == std::vector<int>{4, 6, 7, 8});
  manager.save_snapshot(versioned("p", 9));  // trims 4
  CHECK(kept(manager, "p") == std::vector<int>{6, 7, 8, 9});

  CHECK(manager.rollback("p")->get<int>("version") == 8);
  CHECK(counted(shell) == "p=3 q=2");
  shell.exec("DELETE FROM snapshots WHERE plugin_id = 'q' AND json_extract(data, '$.version') = 2");
  CHECK(counted(shell) == "p=3 q=1");
  // A row moved to another plugin is counted there.
  shell.exec("UPDATE snapshots SET plugin_id = 'r' WHERE plugin_id = 'p' AND json_extract(data, '$.version') = 6");
  CHECK(counted(shell) == "p=2 q=1 r=1");
  manager.clear("q");
  CHECK(counted(shell) == "p=2 r=1");
  for (int version = 10; version <= 14; ++version) manager.save_snapshot(versioned("p", version));
  CHECK(kept(manager, "p") == std::vector<int>{11, 12, 13, 14});
  CHECK(counted(shell) == actual(shell));

  manager.clear_all();
  CHECK(counted(shell).empty());
  for (int version = 1; version <= 5; ++version) shell.exec(shell_insert("p", version));
  CHECK(kept(manager, "p") == std::vector<int>{2, 3, 4, 5});
  CHECK(counted(shell) == "p=4");
  CHECK(manager.verify().ok);
}

TEST_CASE("rows moved into a plugin beyond its bound are trimmed by its next insert, several at once",
          "[history][counts]") {
  TempDir dir;
  const std::string path = dir.file("moved.db");
  StateManager manager(file_options(path, 2));
  RawDb shell(path);
  for (int version = 1; version <= 2; ++version) manager.save_snapshot(versioned("q", version));  // seqs 1, 2
  for (int version = 3; version <= 5; ++version) manager.save_snapshot(versioned("p", version));  // seqs 3..5
  // An UPDATE never trims: p has 5 rows for a bound of 3 until its next insert.
  shell.exec("UPDATE snapshots SET plugin_id = 'p' WHERE plugin_id = 'q'");
  CHECK(counted(shell) == "p=5");
  shell.exec(shell_insert("p", 6));
  CHECK(kept(manager, "p") == std::vector<int>{4, 5, 6});
  CHECK(counted(shell) == "p=3");
  CHECK(shell.query("SELECT group_concat(json_extract(detail, '$.seq'), ' ') FROM (SELECT detail FROM audit_events"
                    " WHERE kind = 'HistoryTrimmed' ORDER BY id)") == "1 2 3");
  CHECK(manager.verify().ok);
}

TEST_CASE("lowering the bound trims and recounts every plugin; raising it lets each history grow again",
          "[history][counts]") {
  TempDir dir;
  const std::string path = dir.file("lowered.db");
  StateManager manager(file_options(path, 5));
  RawDb shell(path);
  for (int version = 1; version <= 8; ++version) manager.save_snapshot(versioned("p", version));
  for (int version = 1; version <= 2; ++version) manager.save_snapshot(versioned("q", version));
  CHECK(manager.set_max_history(1) == 4);
  CHECK(counted(shell) == "p=2 q=2");
  shell.exec("UPDATE settings SET max_history = 0");
  CHECK(counted(shell) == "p=1 q=1");
  shell.exec("UPDATE settings SET max_history = 3");
  for (int version = 9; version <= 14; ++version) manager.save_snapshot(versioned("p", version));
  CHECK(kept(manager, "p") == std::vector<int>{11, 12, 13, 14});
  CHECK(counted(shell) == "p=4 q=1");
  // A lowered bound counts anew, so it also mends a count written by hand.
  shell.exec("UPDATE snapshot_counts SET row_count = 1 WHERE plugin_id = 'p'");
  CHECK(manager.set_max_history(2) == 1);
  CHECK(counted(shell) == "p=3 q=1");
  CHECK(manager.verify().ok);
}

TEST_CASE("a save into a full history leaves snapshot_counts unwritten; one that grows the history writes it",
          "[history][counts]") {
  TempDir dir;
  const std::string path = dir.file("quiet.db");
  StateManager manager(file_options(path, 2));
  RawDb shell(path);
  // TEMP triggers see this connection's writes only: the shell's inserts.
  shell.exec("CREATE TEMP TABLE writes (what TEXT)");
  shell.exec("CREATE TEMP TRIGGER count_inserted AFTER INSERT ON main.snapshot_counts BEGIN"
             " INSERT INTO writes VALUES ('insert'); END");
  shell.exec("CREATE TEMP TRIGGER count_updated AFTER UPDATE ON main.snapshot_counts BEGIN"
             " INSERT INTO writes VALUES ('update'); END");
  shell.exec("CREATE TEMP TRIGGER count_deleted AFTER DELETE ON main.snapshot_counts BEGIN"
             " INSERT INTO writes VALUES ('delete'); END");
  const auto writes = [&] { return shell.query("SELECT ifnull(group_concat(what, ' '), '') FROM writes"); };
  for (int version = 1; version <= 3; ++version) shell.exec(shell_insert("p", version));
  CHECK(writes() == "insert update update");
  shell.exec("DELETE FROM writes");
  for (int version = 4; version <= 10; ++version) shell.exec(shell_insert("p", version));
  CHECK(writes().empty());
  CHECK(kept(manager, "p") == std::vector<int>{8, 9, 10});
  CHECK(counted(shell) == "p=3");
}

TEST_CASE("an INSERT OR REPLACE over an existing snapshot row is refused, and nothing changes", "[history][counts]") {
  TempDir dir;
  const std::string path = dir.file("replace.db");
  StateManager manager(file_options(path, 3));
  manager.save_snapshot(versioned("p", 1));
  manager.save_snapshot(versioned("q", 1));
  RawDb shell(path);
  const std::string before = shell.query("SELECT group_concat(seq || plugin_id || data, '|') FROM snapshots") +
                             shell.query("SELECT group_concat(id || kind, '|') FROM audit_events") + counted(shell);
  const std::string seq = std::to_string(manager.load_snapshot("q")->seq);
  CHECK(shell.try_exec("INSERT OR REPLACE INTO snapshots (seq, plugin_id, data) VALUES (" + seq +
                       ", 'p', '{\"version\": 2}')") == SQLITE_CONSTRAINT);
  CHECK_THAT(shell.last_error(), Catch::Contains("a snapshot with this seq exists"));
  CHECK(shell.try_exec("REPLACE INTO snapshots (seq, plugin_id) VALUES (" + seq + ", 'q')") == SQLITE_CONSTRAINT);
  CHECK(shell.query("SELECT group_concat(seq || plugin_id || data, '|') FROM snapshots") +
            shell.query("SELECT group_concat(id || kind, '|') FROM audit_events") + counted(shell) ==
        before);
  CHECK(current_version(manager, "q") == 1);
  // Changing a row stays an UPDATE (audited as SnapshotEdited).
  shell.exec("UPDATE snapshots SET data = '{\"version\": 5}' WHERE seq = " + seq);
  CHECK(current_version(manager, "q") == 5);
  CHECK(manager.verify().ok);
}

TEST_CASE("a batch that saves one plugin many times trims it exactly, and a statement that fails half-way "
          "leaves rows and counts as they were",
          "[history][counts]") {
  TempDir dir;
  const std::string path = dir.file("batch.db");
  StateManager manager(file_options(path, 2));
  RawDb shell(path);
  std::vector<hotstate::StateSnapshot> batch;
  for (int version = 1; version <= 7; ++version) batch.push_back(versioned(version % 2 == 0 ? "q" : "p", version));
  manager.save_snapshots(batch);
  CHECK(kept(manager, "p") == std::vector<int>{3, 5, 7});
  CHECK(kept(manager, "q") == std::vector<int>{2, 4, 6});
  CHECK(counted(shell) == "p=3 q=3");
  const std::string rows = shell.query("SELECT group_concat(seq, ' ') FROM snapshots");
  // The third row is refused: the two before it, their trims and counts go too.
  CHECK(shell.try_exec("INSERT INTO snapshots (plugin_id, data) VALUES ('p', '{\"version\": 8}'),"
                       " ('p', '{\"version\": 9}'), ('p', 'not json')") == SQLITE_CONSTRAINT);
  shell.exec("BEGIN");
  for (int version = 10; version <= 13; ++version) shell.exec(shell_insert("q", version));
  shell.exec("ROLLBACK");
  CHECK(shell.query("SELECT group_concat(seq, ' ') FROM snapshots") == rows);
  CHECK(counted(shell) == "p=3 q=3");
  manager.save_snapshot(versioned("p", 14));
  CHECK(kept(manager, "p") == std::vector<int>{5, 7, 14});
  CHECK(manager.verify().ok);
}
