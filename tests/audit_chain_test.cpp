// The audit log's hash chain (migration 0007, checkpoint.hpp): with the
// triggers dropped through the sqlite3 shell (and put back, so that only the
// chain can tell), every change to the log is detected by verify, the
// removal of its newest events and a consistent rewrite against a checkpoint
// taken before, and with an audit key too; prunes keep it verifiable; events
// that only hotstate writes, forged with a plain INSERT, are flagged.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "hotstate/hotstate.hpp"
#include "support.hpp"

using hotstate::AuditCheckpoint;
using hotstate::Options;
using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate_test::file_options;
using hotstate_test::RawDb;
using hotstate_test::TempDir;

namespace {

const std::string key = "0123456789abcdef0123456789abcdef";

Options keyed(Options options) {
  options.audit_key = key;
  return options;
}

// A log of about 30 events: saves of two plugins, a trim, a rollback, a
// plugin state, a reload that succeeded. Returns the head after it.
AuditCheckpoint write_log(const Options& options) {
  StateManager manager(options);
  for (int i = 1; i <= 6; ++i) {
    manager.save_snapshot(StateSnapshot("alpha", "1.0.0").with_data("count", i));
    manager.save_snapshot(StateSnapshot("beta", "2.0.0").with_data("count", 10 * i));
  }
  manager.rollback("alpha");
  manager.set_plugin_state("alpha", hotstate::PluginState(hotstate::PluginState::Kind::Loaded));
  const auto ticket = manager.begin_reload(StateSnapshot("alpha", "1.0.0").with_data("count", 99), "1.1.0");
  manager.finish_reload(ticket.id, hotstate::ReloadResult::succeeded());
  return manager.audit_head();
}

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  return quoted + "'";
}

// Runs `sql` through the sqlite3 shell with every trigger on the audit
// tables dropped first and put back after, as an attacker who wants hotstate
// to find its own schema would. Requires the shell to succeed.
void tamper(const std::string& path, const std::string& sql) {
  std::string script = ".bail on\nBEGIN;\n";
  std::string restore;
  {
    RawDb raw(path);
    const long long count = raw.query_int(
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('audit_events', 'audit_gaps')");
    REQUIRE(count > 0);
    for (long long i = 0; i < count; ++i) {
      const std::string offset = std::to_string(i);
      const std::string name = raw.query(
          "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('audit_events', 'audit_gaps')"
          " ORDER BY rowid LIMIT 1 OFFSET " + offset);
      const std::string trigger_sql = raw.query(
          "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('audit_events', 'audit_gaps')"
          " ORDER BY rowid LIMIT 1 OFFSET " + offset);
      script += "DROP TRIGGER \"" + name + "\";\n";
      restore += trigger_sql + ";\n";
    }
  }
  script += sql + "\n" + restore + "COMMIT;\n";
  const TempDir dir;
  const std::string script_file = dir.file("tamper.sql");
  hotstate_test::write_file(script_file, script);
  const std::string output_file = dir.file("tamper.out");
  const std::string command = "sqlite3 " + shell_quote(path) + " < " + shell_quote(script_file) + " > " +
                              shell_quote(output_file) + " 2>&1";
  const int status = std::system(command.c_str());
  INFO("sqlite3 said: " << hotstate_test::read_file(output_file));
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}

// The problems verify reports, joined, for the checks below.
std::string problems_of(const StateManager::VerifyReport& report) {
  std::string joined;
  for (const auto& problem : report.problems) joined += problem + "\n";
  return joined;
}

std::string problems_of_file(const Options& options) { return problems_of(StateManager(options).verify()); }

std::string problems_against(const Options& options, const AuditCheckpoint& checkpoint) {
  return problems_of(StateManager(options).verify(checkpoint));
}

long long middle_event(const std::string& path) {
  RawDb raw(path);
  return raw.query_int("SELECT id FROM audit_events WHERE kind = 'SnapshotSaved' ORDER BY id LIMIT 1 OFFSET 5");
}

// The whole chain recomputed with the shell's sha3(), through the schema's
// own view, as an attacker with the file (and without the key) can.
const std::string recompute_chain =
    "CREATE TEMP TABLE forged (id INTEGER PRIMARY KEY, chain TEXT, chain_position INTEGER);\n"
    "WITH RECURSIVE links (id, chain, chain_position) AS (\n"
    "  SELECT l.id, lower(hex(sha3('0000000000000000000000000000000000000000000000000000000000000000' || "
    "l.encoding))), 1\n"
    "    FROM audit_chain_links AS l WHERE l.id = (SELECT min(id) FROM audit_events)\n"
    "  UNION ALL\n"
    "  SELECT l.id, lower(hex(sha3(links.chain || l.encoding))), links.chain_position + 1\n"
    "    FROM links JOIN audit_chain_links AS l ON l.id = (SELECT min(id) FROM audit_events WHERE id > links.id))\n"
    "INSERT INTO forged SELECT * FROM links;\n"
    "UPDATE audit_events SET (chain, chain_position) = (SELECT chain, chain_position FROM forged WHERE forged.id = "
    "audit_events.id), mac = NULL;\n";

}  // namespace

TEST_CASE("an untouched audit log verifies, and its head is the chain's newest event", "[audit_chain]") {
  TempDir dir;
  const std::string path = dir.file("log.db");
  const AuditCheckpoint head = write_log(file_options(path));
  StateManager manager(file_options(path));
  const auto report = manager.verify(head);
  INFO(problems_of(report));
  CHECK(report.ok);
  CHECK(report.audit_head == head);
  CHECK(manager.audit_head() == head);
  RawDb raw(path);
  CHECK(head.event_id == static_cast<std::uint64_t>(raw.query_int("SELECT max(id) FROM audit_events")));
  CHECK(head.event_count == static_cast<std::uint64_t>(raw.query_int("SELECT count(*) FROM audit_events")));
  CHECK(head.chain_hash.size() == 64);
  CHECK(head.signature.empty());
  // Every event is chained, and the schema's view agrees with every link.
  CHECK(raw.query_int("SELECT count(*) FROM audit_events WHERE chain IS NULL") == 0);
  CHECK(AuditCheckpoint::parse(head.to_text()) == AuditCheckpoint{head.event_id, head.chain_hash, 0, 0, ""});
}

TEST_CASE("with the triggers dropped, an edited detail, time, kind or plugin id breaks the chain at that event",
          "[audit_chain]") {
  TempDir dir;
  const std::string path = dir.file("log.db");
  write_log(file_options(path));
  const long long id = middle_event(path);
  const std::string where = " WHERE id = " + std::to_string(id) + ";";
  std::string change;
  SECTION("detail") { change = "UPDATE audit_events SET detail = json_set(detail, '$.size', 1)" + where; }
  SECTION("time") { change = "UPDATE audit_events SET time_us = time_us + 1" + where; }
  SECTION("kind") { change = "UPDATE audit_events SET kind = 'SnapshotEdited'" + where; }
  SECTION("plugin id") { change = "UPDATE audit_events SET plugin_id = 'gamma'" + where; }
  tamper(path, change);
  const std::string problems = problems_of_file(file_options(path));
  CHECK_THAT(problems, Catch::Contains("the audit chain breaks at event " + std::to_string(id) + " ("));
}

TEST_CASE("with the triggers dropped, a deleted, an inserted or two swapped events break the chain",
          "[audit_chain]") {
  TempDir dir;
  const std::string path = dir.file("log.db");
  write_log(file_options(path));
  const long long id = middle_event(path);
  const std::string n = std::to_string(id);
  const std::string next = std::to_string(id + 1);
  SECTION("an event deleted in the middle") {
    tamper(path, "DELETE FROM audit_events WHERE id = " + n + ";");
    CHECK_THAT(problems_of_file(file_options(path)),
               Catch::Contains("the audit chain breaks at event " + next) &&
                   Catch::Contains("ids " + n + " are missing, and no prune removed them"));
  }
  SECTION("two events swapped") {
    tamper(path, "UPDATE audit_events SET id = -1 WHERE id = " + n + "; UPDATE audit_events SET id = " + n +
                     " WHERE id = " + next + "; UPDATE audit_events SET id = " + next + " WHERE id = -1;");
    CHECK_THAT(problems_of_file(file_options(path)), Catch::Contains("the audit chain breaks at event " + n));
  }
  SECTION("an event inserted in the middle, chained as the attacker can") {
    // Every event from id on moves up one; the forged event takes id and a
    // chain hash computed from the one before it.
    tamper(path,
           "UPDATE audit_events SET id = -id WHERE id >= " + n + ";\n"
           "UPDATE audit_events SET id = 1 - id WHERE id < 0;\n"
           "INSERT INTO audit_events (id, time_us, plugin_id, kind, detail) VALUES (" + n +
               ", 1, 'alpha', 'RollbackTriggered', '{}');\n"
               "UPDATE audit_events SET chain = (SELECT lower(hex(sha3(previous || encoding))) FROM audit_chain_links"
               " WHERE id = " + n + ") WHERE id = " + n + ";");
    const std::string problems = problems_of_file(file_options(path));
    CHECK_THAT(problems, Catch::Contains("the audit chain breaks at event " + next));
    CHECK_THAT(problems, !Catch::Contains("the audit chain breaks at event " + n + " "));
  }
  SECTION("an event inserted unchained between chained ones") {
    tamper(path,
           "UPDATE audit_events SET id = -id WHERE id >= " + n + ";\n"
           "UPDATE audit_events SET id = 1 - id WHERE id < 0;\n"
           "INSERT INTO audit_events (id, time_us, plugin_id, kind, detail) VALUES (" + n +
               ", 1, 'alpha', 'RollbackTriggered', '{}');");
    CHECK_THAT(problems_of_file(file_options(path)),
               Catch::Contains("audit event " + n + " is not chained, but event " + next + " after it is"));
  }
}

TEST_CASE("the newest events deleted are detected against a checkpoint taken before", "[audit_chain]") {
  TempDir dir;
  const std::string path = dir.file("log.db");
  const AuditCheckpoint head = write_log(file_options(path));
  tamper(path, "DELETE FROM audit_events WHERE id > " + std::to_string(head.event_id - 3) + ";");
  // Alone the log is a shorter chain, intact: only a checkpoint can tell.
  const std::string problems = problems_against(file_options(path), head);
  CHECK_THAT(problems, Catch::Contains("the audit log does not extend checkpoint " + head.to_text() +
                                       ": it ends at event " + std::to_string(head.event_id - 3)));
}

TEST_CASE("a log rewritten with a consistent new chain is detected against an earlier checkpoint and with a key",
          "[audit_chain]") {
  TempDir dir;
  const std::string path = dir.file("log.db");
  const AuditCheckpoint head = write_log(keyed(file_options(path)));
  {
    const auto report = StateManager(keyed(file_options(path))).verify(head);
    INFO(problems_of(report));
    REQUIRE(report.ok);
  }
  const std::string id = std::to_string(middle_event(path));
  tamper(path, "UPDATE audit_events SET detail = json_set(detail, '$.size', 1) WHERE id = " + id + ";\n" +
                   recompute_chain);
  // Without key or checkpoint the rewritten log is consistent: nothing can tell.
  CHECK(StateManager(file_options(path)).verify().ok);
  CHECK_THAT(problems_against(file_options(path), head),
             Catch::Contains("the audit log does not extend checkpoint " + head.to_text()));
  CHECK_THAT(problems_of_file(keyed(file_options(path))),
             Catch::Contains("no audit event is signed with this audit key"));
}

TEST_CASE("with a key, a chain recomputed over signed events fails their signatures", "[audit_chain]") {
  TempDir dir;
  const std::string path = dir.file("log.db");
  write_log(keyed(file_options(path)));
  const std::string id = std::to_string(middle_event(path));
  // The attacker keeps the signatures (it cannot make new ones).
  std::string keep_macs = recompute_chain;
  keep_macs.replace(keep_macs.find(", mac = NULL"), std::string(", mac = NULL").size(), "");
  tamper(path, "UPDATE audit_events SET plugin_id = 'gamma' WHERE id = " + id + ";\n" + keep_macs);
  CHECK(StateManager(file_options(path)).verify().ok);
  CHECK_THAT(problems_of_file(keyed(file_options(path))),
             Catch::Contains("audit event " + id + " (SnapshotSaved) has a signature that does not match"));
  CHECK_THAT(problems_of_file(keyed(file_options(path))), Catch::Contains("a signature that does not match"));
}

TEST_CASE("a prune, then more events, still verify, against the checkpoint taken after the prune too",
          "[audit_chain]") {
  TempDir dir;
  const std::string path = dir.file("log.db");
  StateManager manager(keyed(file_options(path, 1)));
  manager.save_snapshot(StateSnapshot("alpha", "1.0.0").with_data("count", 0));
  const AuditCheckpoint first = manager.audit_head();  // its row is trimmed below, so a prune may remove it
  for (int i = 1; i <= 6; ++i) {
    manager.save_snapshot(StateSnapshot("alpha", "1.0.0").with_data("count", i));
    manager.save_snapshot(StateSnapshot("beta", "2.0.0").with_data("count", 10 * i));
  }
  const AuditCheckpoint before = manager.audit_head();
  const std::uint64_t removed = manager.prune_audit(hotstate::AuditPrune{std::nullopt, 5});
  CHECK(removed > 0);
  const AuditCheckpoint after_prune = manager.audit_head();
  CHECK(after_prune.event_count == before.event_count + 1);  // pruned events still count
  for (int i = 0; i < 5; ++i) manager.save_snapshot(StateSnapshot("alpha", "1.0.0").with_data("count", 100 + i));
  manager.prune_audit(hotstate::AuditPrune{std::nullopt, 3});
  manager.save_snapshot(StateSnapshot("beta", "2.0.0").with_data("count", 7));
  const auto report = manager.verify(after_prune);
  INFO(problems_of(report));
  CHECK(report.ok);
  CHECK(manager.verify(before).ok);
  {
    RawDb raw(path);
    CHECK(raw.query_int("SELECT count(*) FROM audit_gaps") > 0);
    CHECK(raw.query_int("SELECT sum(events) FROM audit_gaps") ==
          raw.query_int("SELECT sum(json_extract(detail, '$.deleted')) FROM audit_events WHERE kind = 'AuditPruned'"));
    CHECK(raw.query_int("SELECT count(*) FROM audit_events WHERE id = " + std::to_string(first.event_id)) == 0);
  }
  // The checkpoint at the first event names an event a prune removed, not as the last of its run.
  const auto old = manager.verify(first);
  CHECK_FALSE(old.ok);
  CHECK_THAT(problems_of(old), Catch::Contains("cannot show that it extends checkpoint " + first.to_text()));

  SECTION("a gap grown over an event the prune kept is detected") {
    tamper(path,
           "DELETE FROM audit_events WHERE id = (SELECT min(id) FROM audit_events WHERE id > (SELECT min(last_id) FROM audit_gaps));\n"
           "UPDATE audit_gaps SET last_id = (SELECT min(id) - 1 FROM audit_events WHERE id > audit_gaps.last_id),"
           " events = events + 1 WHERE first_id = (SELECT min(first_id) FROM audit_gaps);");
    CHECK_FALSE(StateManager(file_options(path)).verify().ok);
  }
}

TEST_CASE("events only hotstate writes, forged with a plain INSERT, are flagged without a key and refused as "
          "another client's with one",
          "[audit_chain]") {
  TempDir dir;
  const std::string path = dir.file("log.db");
  write_log(keyed(file_options(path)));
  RawDb raw(path);
  std::string expected;
  SECTION("a RolledBack covering a deleted snapshot") {
    const std::string seq = raw.query("SELECT max(seq) FROM snapshots WHERE plugin_id = 'beta'");
    const std::string before = raw.query("SELECT max(seq) FROM snapshots WHERE plugin_id = 'beta' AND seq < " + seq);
    raw.exec("DELETE FROM snapshots WHERE seq = " + seq);
    raw.exec("INSERT INTO audit_events (plugin_id, kind, detail) VALUES ('beta', 'RolledBack', json_object('from_seq', " +
             seq + ", 'to_seq', " + before + "))");
    expected = "snapshot seq " + seq + " is recorded as removed more than once";
  }
  SECTION("an AuditPruned with a false count") {
    raw.exec("INSERT INTO audit_events (kind, detail) VALUES ('AuditPruned', '{\"before_id\": 3, \"deleted\": 100}')");
    expected = "says it removed 100 events, but the gaps it left hold ";
  }
  SECTION("a ReloadCompleted that never happened") {
    raw.exec("INSERT INTO audit_events (plugin_id, kind, detail) VALUES ('alpha', 'ReloadCompleted', "
             "'{\"reload_id\": 42, \"success\": true, \"duration_us\": 5}')");
    expected = "names reload 42, which the reload journal does not have";
  }
  const std::string forged_id = raw.query("SELECT max(id) FROM audit_events WHERE kind <> 'SnapshotSaved'");
  CHECK_THAT(problems_of_file(file_options(path)), Catch::Contains(expected));
  {
    // A keyed write chains the foreign events first, signed as another client's.
    StateManager manager(keyed(file_options(path)));
    manager.save_snapshot(StateSnapshot("alpha", "1.0.0").with_data("count", 1));
  }
  CHECK_THAT(problems_of_file(keyed(file_options(path))),
             Catch::Contains("audit event " + forged_id + " (") &&
                 Catch::Contains("was inserted by another client: only hotstate writes this kind"));
}

TEST_CASE("events another client writes with the triggers in place are chained by hotstate's next write and verify",
          "[audit_chain]") {
  TempDir dir;
  const std::string path = dir.file("log.db");
  write_log(keyed(file_options(path)));
  {
    RawDb raw(path);
    raw.exec("INSERT INTO snapshots (plugin_id, data) VALUES ('shell', '{\"a\": 1}')");
    raw.exec("UPDATE settings SET max_history = 3");
    CHECK(raw.query_int("SELECT count(*) FROM audit_events WHERE chain IS NULL") > 0);
    // Nobody but hotstate's chaining may set a chain, and only where there is none.
    CHECK(raw.try_exec("INSERT INTO audit_events (kind, chain) VALUES ('PluginDiscovered', 'x')") != SQLITE_OK);
    CHECK(raw.try_exec("UPDATE audit_events SET chain = NULL WHERE id = 1") != SQLITE_OK);
    CHECK(raw.try_exec("INSERT INTO audit_events (id, kind) VALUES (2, 'PluginDiscovered')") != SQLITE_OK);
    CHECK(raw.try_exec("DELETE FROM audit_gaps") == SQLITE_OK);  // nothing to delete yet
    CHECK(raw.try_exec("INSERT INTO audit_gaps (first_id, last_id, events, pruned_by) VALUES (1, 1, 1, 1)") != SQLITE_OK);
  }
  {
    const auto report = StateManager(keyed(file_options(path))).verify();
    INFO(problems_of(report));
    CHECK(report.ok);  // not chained yet is not a problem
    CHECK(report.unchained_events > 0);
  }
  StateManager(keyed(file_options(path))).save_snapshot(StateSnapshot("alpha", "1.0.0"));
  const auto report = StateManager(keyed(file_options(path))).verify();
  INFO(problems_of(report));
  CHECK(report.ok);
  CHECK(report.unchained_events == 0);
  RawDb raw(path);
  CHECK(raw.query_int("SELECT count(*) FROM audit_events WHERE mac IS NULL") == 0);
}

TEST_CASE("on_audit_checkpoint hands the host each new head, in order, every N events, signed with the key",
          "[audit_chain]") {
  TempDir dir;
  const std::string path = dir.file("log.db");
  std::vector<AuditCheckpoint> handed;
  Options options = keyed(file_options(path));
  options.audit_checkpoint_every = 4;
  options.on_audit_checkpoint = [&](const AuditCheckpoint& checkpoint) { handed.push_back(checkpoint); };
  StateManager manager(options);
  for (int i = 0; i < 20; ++i) manager.save_snapshot(StateSnapshot("alpha", "1.0.0").with_data("count", i));
  REQUIRE(handed.size() >= 4);
  for (std::size_t i = 1; i < handed.size(); ++i) {
    CHECK(handed[i].event_id > handed[i - 1].event_id);
    CHECK(handed[i].event_count >= handed[i - 1].event_count + 4);
  }
  const AuditCheckpoint head = manager.audit_head();
  CHECK(head.event_count - handed.back().event_count < 4);
  for (const AuditCheckpoint& checkpoint : handed) {
    CHECK(checkpoint.signature.size() == 64);
    CHECK(manager.verify(checkpoint).ok);
  }
  CHECK_FALSE(head.signature.empty());
  // A checkpoint whose hash is not the log's is reported.
  AuditCheckpoint wrong = handed.front();
  wrong.chain_hash[0] = wrong.chain_hash[0] == '0' ? '1' : '0';
  CHECK_THAT(problems_of(manager.verify(wrong)), Catch::Contains("does not extend checkpoint " + wrong.to_text()));
}

TEST_CASE("a checkpoint parses from ID:HASH and nothing else", "[audit_chain]") {
  const std::string hash(64, 'a');
  CHECK(AuditCheckpoint::parse("12:" + hash).event_id == 12);
  CHECK(AuditCheckpoint::parse("12:" + std::string(64, 'A')).chain_hash == hash);
  for (const std::string& bad : {std::string(""), std::string("12"), "12:" + hash.substr(1), ":" + hash, "x:" + hash,
                                "12:" + std::string(63, 'a') + "g", "-1:" + hash}) {
    INFO(bad);
    CHECK(hotstate_test::error_code_of([&] { (void)AuditCheckpoint::parse(bad); }) ==
          hotstate::ErrorCode::InvalidArgument);
  }
}

TEST_CASE("threads writing at once chain every event once, and the host gets checkpoints one at a time, in order",
          "[audit_chain][threads]") {
  TempDir dir;
  const std::string path = dir.file("log.db");
  std::vector<AuditCheckpoint> handed;  // the callback runs one call at a time
  Options options = keyed(file_options(path, 3));
  options.synchronous = hotstate::Synchronous::Normal;
  options.on_audit_checkpoint = [&](const AuditCheckpoint& checkpoint) { handed.push_back(checkpoint); };
  StateManager manager(options);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&manager, t] {
      const std::string plugin = "plugin-" + std::to_string(t);
      for (int i = 0; i < 40; ++i) {
        manager.save_snapshot(StateSnapshot(plugin, "1.0.0").with_data("i", i));
        if (i % 10 == 9) manager.rollback(plugin);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  REQUIRE_FALSE(handed.empty());
  for (std::size_t i = 1; i < handed.size(); ++i) CHECK(handed[i].event_id > handed[i - 1].event_id);
  const auto report = manager.verify(handed.back());
  INFO(problems_of(report));
  CHECK(report.ok);
  CHECK(report.audit_head == manager.audit_head());
  CHECK(handed.back() == manager.audit_head());  // the last commit's head was handed over
  RawDb raw(path);
  CHECK(raw.query_int("SELECT count(*) FROM audit_events WHERE chain IS NULL OR mac IS NULL") == 0);
  CHECK(raw.query_int("SELECT max(chain_position) FROM audit_events") == raw.query_int("SELECT count(*) FROM audit_events"));
}
