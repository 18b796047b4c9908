// Databases of every older schema version open with the current library and
// keep every snapshot. Each version's database is frozen as a SQL dump in
// tests/fixtures/db/vN.sql (never regenerated). Migrating takes the write
// lock, and runs once however many processes open the file at once.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "support.hpp"

using hotstate::StateManager;
using hotstate_test::file_options;
using hotstate_test::RawDb;
using hotstate_test::TempDir;

namespace {

// A database file made from the frozen dump of schema version `version`.
std::string database_of_version(const TempDir& dir, int version) {
  const std::string path = dir.file("v" + std::to_string(version) + ".db");
  const std::string dump =
      hotstate_test::read_file(std::string(HOTSTATE_SOURCE_DIR) + "/tests/fixtures/db/v" + std::to_string(version) + ".sql");
  REQUIRE_FALSE(dump.empty());
  RawDb raw(path);
  raw.exec(dump);
  REQUIRE(raw.query_int("PRAGMA user_version") == version);
  return path;
}

}  // namespace

TEST_CASE("a version 1 database opens with the current library and keeps every snapshot", "[migration]") {
  TempDir dir;
  const std::string path = database_of_version(dir, 1);
  {
    StateManager manager(file_options(path, 3));
    CHECK(manager.plugin_ids() == std::vector<std::string>{"counter", "rolled", "unicode/../plugin"});

    const auto counter = manager.load_snapshot("counter");
    REQUIRE(counter);
    CHECK(counter->get<int>("count") == 5);
    CHECK(counter->plugin_version == "1.1.0");
    CHECK(counter->timestamp == 1700000005);
    CHECK(counter->data.at("names").text() == R"(["a","b"])");
    CHECK(counter->get_metadata("reason") == std::optional<std::string_view>("hot-reload"));
    std::vector<int> history;
    for (const auto& entry : manager.get_history("counter")) history.push_back(entry.get<int>("count").value_or(-1));
    CHECK(history == std::vector<int>{2, 3, 4});

    const auto unicode = manager.load_snapshot("unicode/../plugin");
    REQUIRE(unicode);
    CHECK(unicode->get<std::string>("greeting") == std::optional<std::string>("h\xc3\xa9llo \xf0\x9f\x98\x80"));
    CHECK(unicode->data.at("big").text() == "18446744073709551615");
    CHECK(unicode->data.at("neg_zero").text() == "-0.0");

    const auto rolled = manager.load_snapshot("rolled");
    REQUIRE(rolled);
    CHECK(rolled->get<int>("v") == 1);
    CHECK(manager.get_history("rolled").empty());

    // Saving goes on after the rows of the old file, and the bound still holds.
    const auto before = counter->seq;
    manager.save_snapshot(hotstate::StateSnapshot("counter", "1.1.0").with_data("count", 6));
    CHECK(manager.load_snapshot("counter")->seq > before);
    CHECK(manager.load_snapshot("counter")->seq > 8);
    CHECK(manager.get_history("counter").size() == 3);
  }
  RawDb raw(path);
  CHECK(raw.query_int("PRAGMA user_version") == hotstate::schema_version());
  CHECK(raw.query("PRAGMA integrity_check") == "ok");

  // Migration 0002 hashed every existing row and recorded each in the new
  // audit log, so the old rows are accounted for like new ones.
  CHECK(raw.query_int("SELECT count(*) FROM snapshots WHERE content_hash IS NULL") == 0);
  CHECK(raw.query_int("SELECT count(*) FROM audit_events WHERE kind = 'SnapshotSaved'"
                      " AND json_extract(detail, '$.recorded_by') = 'migration 0002'") == 6);
  StateManager manager(file_options(path, 3));
  const auto report = manager.verify();
  INFO((report.problems.empty() ? std::string() : report.problems.front()));
  CHECK(report.ok);
}

TEST_CASE("a version 2 database opens with the current library and keeps every snapshot, event and reload",
          "[migration]") {
  TempDir dir;
  const std::string path = database_of_version(dir, 2);
  std::string events_before;
  {
    RawDb raw(path);
    events_before = raw.query("SELECT group_concat(id || kind || detail, '|') FROM audit_events");
  }
  {
    StateManager manager(file_options(path));  // opening never changes the file's bound
    CHECK(manager.max_history() == 3);
    CHECK(manager.plugin_ids() == std::vector<std::string>{"counter", "rolled", "unicode/../plugin"});
    const auto counter = manager.load_snapshot("counter");
    REQUIRE(counter);
    CHECK(counter->seq == 10);
    CHECK(counter->get<int>("count") == 7);
    std::vector<std::uint64_t> seqs;
    for (const auto& entry : manager.get_history("counter")) seqs.push_back(entry.seq);
    CHECK(seqs == std::vector<std::uint64_t>{5, 9});
    CHECK(manager.get_history("counter").front().timestamp == 1764000005);
    const auto unicode = manager.load_snapshot("unicode/../plugin");
    REQUIRE(unicode);
    CHECK(unicode->timestamp == 9223372036854775807u);
    CHECK(unicode->data.at("big").text() == "18446744073709551615");
    CHECK(manager.plugin_state("rolled").to_string() == "Failed: bad state");
    const auto unfinished = manager.unfinished_reloads();
    REQUIRE(unfinished.size() == 1);
    CHECK(unfinished[0].id == 2);
    CHECK(unfinished[0].last_good.get<int>("count") == 7);

    // The rebuilt table keeps the highest seq ever used (11, rolled back): no seq is reused.
    manager.save_snapshot(hotstate::StateSnapshot("counter", "1.1.0").with_data("count", 8));
    CHECK(manager.load_snapshot("counter")->seq == 12);
    const auto report = manager.verify();
    INFO((report.problems.empty() ? std::string() : report.problems.front()));
    CHECK(report.ok);
  }
  RawDb raw(path);
  CHECK(raw.query_int("PRAGMA user_version") == hotstate::schema_version());
  CHECK(raw.query("PRAGMA integrity_check") == "ok");
  // Migration 0003 rebuilt snapshots without writing an audit event: the log
  // is the one the file had, plus the save above.
  CHECK(raw.query("SELECT group_concat(id || kind || detail, '|') FROM audit_events WHERE id <= 23") == events_before);
  CHECK(raw.query_int("SELECT count(*) FROM audit_events WHERE id > 23 AND kind <> 'SnapshotSaved'"
                      " AND kind <> 'HistoryTrimmed'") == 0);
}

// Opening takes the write lock only when a migration is due, and then waits
// for it: the file stays at its version until the migration can run whole.
TEST_CASE("a version 1 database waits for another connection's write lock before migrating and keeps its version "
          "until then",
          "[migration][busy]") {
  TempDir dir;
  const std::string path = database_of_version(dir, 1);
  RawDb other(path);
  other.exec("PRAGMA journal_mode = WAL");
  other.exec("BEGIN IMMEDIATE");
  auto options = file_options(path, 3);
  options.busy_timeout = std::chrono::milliseconds(10);
  CHECK(hotstate_test::error_code_of([&] { StateManager manager(options); }) == hotstate::ErrorCode::Busy);
  CHECK(other.query_int("PRAGMA user_version") == 1);
  other.exec("COMMIT");

  {
    StateManager manager(options);
    CHECK(manager.load_snapshot("counter")->get<int>("count") == 5);
  }
  CHECK(other.query_int("PRAGMA user_version") == hotstate::schema_version());
}

// Several processes open the same version 1 file at once: each migration
// re-reads the version inside its own write transaction, so each runs once
// (migration 0002 records one SnapshotSaved event per existing row: six).
TEST_CASE("processes opening a version 1 database at the same time migrate it once and all open it",
          "[migration][processes]") {
  TempDir dir;
  const std::string path = database_of_version(dir, 1);
  constexpr int process_count = 4;
  int go[2];
  REQUIRE(pipe(go) == 0);
  std::vector<pid_t> children;
  for (int i = 0; i < process_count; ++i) {
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      close(go[1]);
      char byte = 0;
      (void)!read(go[0], &byte, 1);  // returns when the parent closes its end: all start together
      int status = 1;
      try {
        StateManager manager(file_options(path, 3));
        const auto counter = manager.load_snapshot("counter");
        if (counter && counter->get<int>("count") == 5 && manager.get_history("counter").size() == 3) status = 0;
      } catch (...) {
      }
      _exit(status);
    }
    children.push_back(child);
  }
  close(go[0]);
  close(go[1]);
  int opened = 0;
  for (const pid_t child : children) {
    int status = -1;
    if (waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0) ++opened;
  }
  CHECK(opened == process_count);
  RawDb raw(path);
  CHECK(raw.query_int("PRAGMA user_version") == hotstate::schema_version());
  CHECK(raw.query_int("SELECT count(*) FROM audit_events WHERE kind = 'SnapshotSaved'"
                      " AND json_extract(detail, '$.recorded_by') = 'migration 0002'") == 6);
  CHECK(raw.query("PRAGMA integrity_check") == "ok");
}

namespace {

// Every row of the tables a migration must keep, as one text each.
std::vector<std::string> kept_tables(RawDb& raw) {
  return {raw.query("SELECT group_concat(seq || '|' || plugin_id || '|' || timestamp || '|' || plugin_version || '|' ||"
                    " data || '|' || metadata || '|' || saved_at_us || '|' || ifnull(canonical_hash, '') || '|' ||"
                    " ifnull(content_hash, ''), char(10)) FROM (SELECT * FROM snapshots ORDER BY seq)"),
          raw.query("SELECT group_concat(id || '|' || time_us || '|' || plugin_id || '|' || kind || '|' || detail,"
                    " char(10)) FROM (SELECT * FROM audit_events ORDER BY id)"),
          raw.query("SELECT group_concat(id || '|' || plugin_id || '|' || from_version || '|' || to_version || '|' ||"
                    " started_at_us || '|' || snapshot_seq || '|' || ifnull(last_good_snapshot, '') || '|' ||"
                    " ifnull(finished_at_us, '') || '|' || ifnull(outcome, '') || '|' || note, char(10))"
                    " FROM (SELECT * FROM reloads ORDER BY id)"),
          raw.query("SELECT group_concat(plugin_id || '|' || state || '|' || reason || '|' || changed_at_us, char(10))"
                    " FROM (SELECT * FROM plugin_states ORDER BY plugin_id)"),
          raw.query("SELECT group_concat(name || '|' || seq, char(10)) FROM (SELECT * FROM sqlite_sequence ORDER BY name)"),
          raw.query("SELECT group_concat(id || '|' || max_history) FROM settings")};
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

std::vector<std::uint64_t> seqs_of(const StateManager& manager, const std::string& plugin_id) {
  std::vector<std::uint64_t> seqs;
  for (const auto& entry : manager.get_history(plugin_id)) seqs.push_back(entry.seq);
  if (const auto current = manager.load_snapshot(plugin_id)) seqs.push_back(current->seq);
  return seqs;
}

}  // namespace

TEST_CASE("a version 3 database migrates keeping every row, seq, event, journal row and state, and counts each "
          "plugin's rows",
          "[migration]") {
  TempDir dir;
  const std::string path = database_of_version(dir, 3);
  std::vector<std::string> before;
  {
    RawDb raw(path);
    before = kept_tables(raw);
  }
  {
    StateManager manager(file_options(path));  // opening never changes the file's bound
    CHECK(manager.max_history() == 4);
    CHECK(manager.plugin_ids() == std::vector<std::string>{"counter", "rolled", "shell", "unicode/../plugin"});
    CHECK(seqs_of(manager, "counter") == std::vector<std::uint64_t>{16, 17, 18, 19, 22});
    CHECK(manager.load_snapshot("counter")->get<int>("count") == 13);
    CHECK(manager.load_snapshot("rolled")->get<bool>("edited") == true);
    CHECK(manager.load_snapshot("unicode/../plugin")->timestamp == 18446744073709551615u);
    CHECK(manager.plugin_state("rolled").to_string() == "Failed: bad state");
    const auto unfinished = manager.unfinished_reloads();
    REQUIRE(unfinished.size() == 1);
    CHECK(unfinished[0].id == 3);
    CHECK(unfinished[0].last_good.get<int>("count") == 9);
    const auto report = manager.verify();
    INFO((report.problems.empty() ? std::string() : report.problems.front()));
    CHECK(report.ok);
  }
  RawDb raw(path);
  CHECK(raw.query_int("PRAGMA user_version") == hotstate::schema_version());
  CHECK(raw.query("PRAGMA integrity_check") == "ok");
  // Migration 0004 writes no row, event or seq of its own: each table is as it was.
  CHECK(kept_tables(raw) == before);
  CHECK(counted(raw) == "counter=5 rolled=1 shell=2 unicode/../plugin=1");
  CHECK(counted(raw) == actual(raw));
}

TEST_CASE("after a version 3 database migrates, the bound trims exactly: saves, shell inserts, a lowered and a raised "
          "bound, rollback, clear and clear_all",
          "[migration][history]") {
  TempDir dir;
  const std::string path = database_of_version(dir, 3);
  StateManager manager(file_options(path));
  RawDb shell(path);
  REQUIRE(manager.max_history() == 4);

  // counter's history is full (5 rows): each save trims its oldest row.
  manager.save_snapshot(hotstate::StateSnapshot("counter", "2.0.0").with_data("count", 14));
  CHECK(seqs_of(manager, "counter") == std::vector<std::uint64_t>{17, 18, 19, 22, 23});
  CHECK(shell.query("SELECT detail ->> '$.seq' FROM audit_events WHERE kind = 'HistoryTrimmed'"
                    " ORDER BY id DESC LIMIT 1") == "16");
  // shell's 2 rows grow to 5 by the shell's inserts, then stay 5.
  for (int n = 3; n <= 7; ++n) {
    shell.exec("INSERT INTO snapshots (plugin_id, data) VALUES ('shell', '{\"n\": " + std::to_string(n) + "}')");
  }
  CHECK(shell.query("SELECT group_concat(data ->> '$.n', ' ') FROM (SELECT data FROM snapshots WHERE plugin_id = 'shell'"
                    " ORDER BY seq)") == "3 4 5 6 7");
  CHECK(counted(shell) == "counter=5 rolled=1 shell=5 unicode/../plugin=1");

  CHECK(manager.set_max_history(1) == 6);
  CHECK(counted(shell) == "counter=2 rolled=1 shell=2 unicode/../plugin=1");
  CHECK(manager.set_max_history(5) == 0);
  for (int count = 15; count <= 22; ++count) {
    manager.save_snapshot(hotstate::StateSnapshot("counter", "2.0.0").with_data("count", count));
  }
  CHECK(manager.history_size("counter") == 5);
  CHECK(manager.load_snapshot("counter")->get<int>("count") == 22);
  CHECK(counted(shell) == actual(shell));

  CHECK(manager.rollback("counter")->get<int>("count") == 21);
  manager.clear("shell");
  CHECK(counted(shell) == "counter=5 rolled=1 unicode/../plugin=1");
  manager.clear_all();
  CHECK(counted(shell).empty());
  for (int count = 1; count <= 8; ++count) {
    manager.save_snapshot(hotstate::StateSnapshot("counter", "3.0.0").with_data("count", count));
  }
  CHECK(manager.history_size("counter") == 5);
  CHECK(counted(shell) == "counter=6");
  const auto report = manager.verify();
  INFO((report.problems.empty() ? std::string() : report.problems.front()));
  CHECK(report.ok);
}

TEST_CASE("a version 4 database migrates keeping every row, event, count, journal row and state, and from then on "
          "records a current row deleted with SQL",
          "[migration][audit]") {
  TempDir dir;
  const std::string path = database_of_version(dir, 4);
  std::vector<std::string> before;
  std::string counts_before;
  {
    RawDb raw(path);
    before = kept_tables(raw);
    counts_before = counted(raw);
  }
  {
    StateManager manager(file_options(path));
    CHECK(manager.max_history() == 4);
    CHECK(seqs_of(manager, "counter") == std::vector<std::uint64_t>{16, 17, 18, 19, 22});
    CHECK(manager.plugin_state("rolled").to_string() == "Failed: bad state");
    CHECK(manager.unfinished_reloads().size() == 1);
    CHECK(manager.verify().ok);
  }
  RawDb raw(path);
  CHECK(raw.query_int("PRAGMA user_version") == hotstate::schema_version());
  CHECK(raw.query("PRAGMA integrity_check") == "ok");
  // Migration 0005 adds a kind and a trigger, and writes no row, event or seq.
  CHECK(kept_tables(raw) == before);
  CHECK(counted(raw) == counts_before);
  CHECK(raw.query_int("SELECT count(*) FROM audit_kinds WHERE kind = 'SnapshotDeleted' AND source = 'engine'") == 1);

  raw.exec("DELETE FROM snapshots WHERE seq = 22");  // counter's current row
  CHECK(raw.query("SELECT plugin_id || ' ' || kind || ' ' || (detail ->> '$.seq') FROM audit_events"
                  " ORDER BY id DESC LIMIT 1") == "counter SnapshotDeleted 22");
  StateManager manager(file_options(path));
  CHECK(seqs_of(manager, "counter") == std::vector<std::uint64_t>{16, 17, 18, 19});
}

TEST_CASE("a version 5 database migrates keeping every row, event, count, journal row and state, and takes pins "
          "and restores from then on",
          "[migration][pins]") {
  TempDir dir;
  const std::string path = database_of_version(dir, 5);
  std::vector<std::string> before;
  std::string counts_before;
  {
    RawDb raw(path);
    before = kept_tables(raw);
    counts_before = counted(raw);
  }
  {
    StateManager manager(file_options(path));
    CHECK(seqs_of(manager, "counter") == std::vector<std::uint64_t>{16, 17, 18, 19, 22});
    CHECK(manager.pins().empty());
    CHECK(manager.verify().ok);
  }
  RawDb raw(path);
  CHECK(raw.query_int("PRAGMA user_version") == hotstate::schema_version());
  CHECK(raw.query("PRAGMA integrity_check") == "ok");
  // Migration 0006 adds a table, a view, kinds and triggers, and writes no row, event or seq.
  CHECK(kept_tables(raw) == before);
  CHECK(counted(raw) == counts_before);
  CHECK(raw.query_int("SELECT count(*) FROM audit_kinds WHERE kind IN ('Pinned', 'Unpinned', 'Restored',"
                      " 'StateMigrated', 'RestoreSkipped')") == 5);

  StateManager manager(file_options(path));
  manager.pin("counter", 16, "oldest");
  const auto restored = manager.restore("counter", 16);
  REQUIRE(restored);
  CHECK(manager.load_snapshot("counter")->seq == restored->seq);
  CHECK(manager.pinned("counter", "oldest")->seq == 16);  // the bound (4) trimmed its row; the pin keeps it
  CHECK(manager.snapshot("counter", 16) != nullptr);
  CHECK(manager.verify().ok);
}

TEST_CASE("a version 6 database migrates keeping every row and event, chains its events in order, and its "
          "earlier prunes stay valid",
          "[migration][audit_chain]") {
  TempDir dir;
  const std::string path = database_of_version(dir, 6);
  std::vector<std::string> before;
  std::string counts_before;
  long long newest_event = 0;
  {
    RawDb raw(path);
    before = kept_tables(raw);
    counts_before = counted(raw);
    newest_event = raw.query_int("SELECT max(id) FROM audit_events");
  }
  hotstate::AuditCheckpoint head;
  {
    // Opening for reading refuses to migrate; the first writer's open does it.
    StateManager manager(file_options(path));
    const auto report = manager.verify();
    std::string problems;
    for (const auto& problem : report.problems) problems += problem + "\n";
    INFO(problems);
    CHECK(report.ok);
    head = manager.audit_head();
  }
  RawDb raw(path);
  CHECK(raw.query_int("PRAGMA user_version") == hotstate::schema_version());
  CHECK(raw.query("PRAGMA integrity_check") == "ok");
  // Migration 0007 adds columns, a table, a view and triggers; it writes no row or event.
  CHECK(kept_tables(raw) == before);
  CHECK(counted(raw) == counts_before);
  // Every event there was is chained, in id order, counted from 1 (the
  // events older prunes removed were never chained).
  CHECK(raw.query_int("SELECT count(*) FROM audit_events WHERE chain IS NULL") == 0);
  CHECK(raw.query("SELECT group_concat(chain_position) FROM (SELECT chain_position FROM audit_events ORDER BY id)") ==
        raw.query("SELECT group_concat(n) FROM (SELECT row_number() OVER (ORDER BY id) AS n FROM audit_events)"));
  CHECK(head.event_id == static_cast<std::uint64_t>(newest_event));
  CHECK(head.event_count == static_cast<std::uint64_t>(raw.query_int("SELECT count(*) FROM audit_events")));
  CHECK(raw.query_int("SELECT audit_chain_from FROM settings") == newest_event + 1);
  CHECK(raw.query_int("SELECT count(*) FROM audit_gaps") == 0);

  // From then on every write extends the chain, and the checkpoint of the migration still holds.
  StateManager manager(file_options(path));
  manager.save_snapshot(hotstate::StateSnapshot("counter", "1.0.0").with_data("count", 1));
  manager.prune_audit(hotstate::AuditPrune{std::nullopt, 4});
  manager.save_snapshot(hotstate::StateSnapshot("counter", "1.0.0").with_data("count", 2));
  CHECK(manager.verify(head).ok);
}

TEST_CASE("a version 7 database migrates keeping every row and event, and from then on the prune keeps the events "
          "a replica has not received",
          "[migration][replication]") {
  TempDir dir;
  const std::string path = database_of_version(dir, 7);
  std::vector<std::string> before;
  std::string counts_before;
  {
    RawDb raw(path);
    before = kept_tables(raw);
    counts_before = counted(raw);
    REQUIRE(raw.query_int("SELECT count(*) FROM audit_events WHERE chain IS NULL") == 1);
  }
  {
    StateManager manager(file_options(path));
    const auto report = manager.verify();
    std::string problems;
    for (const auto& problem : report.problems) problems += problem + "\n";
    INFO(problems);
    CHECK(report.ok);
  }
  RawDb raw(path);
  CHECK(raw.query_int("PRAGMA user_version") == hotstate::schema_version());
  CHECK(raw.query("PRAGMA integrity_check") == "ok");
  // Migration 0008 adds a table and replaces two triggers; it writes no row or event.
  CHECK(kept_tables(raw) == before);
  CHECK(counted(raw) == counts_before);
  CHECK(raw.query_int("SELECT count(*) FROM replicas") == 0);

  // A replica that has received none of the events there are holds the
  // prune, for every writer: here the sqlite3 shell's own prune of them all.
  const long long shipped = raw.query_int("SELECT min(id) FROM audit_events") - 1;
  raw.exec("INSERT INTO replicas (host_id, target, token, shipped_event_id) VALUES ('h1', 'postgresql:///x', 't', " +
           std::to_string(shipped) + ")");
  const long long events = raw.query_int("SELECT count(*) FROM audit_events");
  const long long newest = raw.query_int("SELECT max(id) FROM audit_events");
  raw.exec("INSERT INTO audit_events (kind, detail) VALUES ('AuditPruned', json_object('before_id', " +
           std::to_string(newest + 1) + ", 'deleted', 0))");
  CHECK(raw.query_int("SELECT count(*) FROM audit_events") == events + 1);
  // Nothing else may delete a held event either.
  CHECK_THROWS(raw.exec("DELETE FROM audit_events WHERE id = " + std::to_string(newest)));
  // Without the hold the next prune removes them.
  raw.exec("UPDATE replicas SET holds_prune = 0");
  StateManager manager(file_options(path));
  const auto removed = manager.prune_audit(hotstate::AuditPrune{std::nullopt, 1});
  CHECK(removed > 0);
  CHECK(manager.verify().ok);
}
