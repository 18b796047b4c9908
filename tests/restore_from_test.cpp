// restore-from: a host's file rebuilt from PostgreSQL, row for row, and
// going on from there as the same host.
#include <catch2/catch.hpp>

#include <libpq-fe.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hotstate/hotstate.hpp"
#include "postgresql_test_cluster.hpp"
#include "store/replication_rows.hpp"
#include "store/store.hpp"
#include "support.hpp"

using hotstate::ErrorCode;
using hotstate::PluginState;
using hotstate::ReloadEvent;
using hotstate::ReloadResult;
using hotstate::ReplicationOptions;
using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate_test::error_code_of;
using hotstate_test::file_options;
using hotstate_test::RawDb;
using hotstate_test::TempDir;
using hotstate_test::versioned;

namespace {

using Rows = std::vector<std::vector<std::string>>;

// Every row `sql` returns, each value with its SQLite type ("integer:5",
// "text:x", "null"), so that 5 and '5' differ.
Rows rows_of(const std::string& path, const std::string& sql) {
  sqlite3* raw_db = nullptr;
  const int opened = sqlite3_open_v2(path.c_str(), &raw_db, SQLITE_OPEN_READWRITE, nullptr);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw_db, &sqlite3_close);
  REQUIRE(opened == SQLITE_OK);
  sqlite3_busy_timeout(raw_db, 5000);
  sqlite3_stmt* raw_statement = nullptr;
  INFO(sql << ": " << sqlite3_errmsg(raw_db));
  REQUIRE(sqlite3_prepare_v2(raw_db, sql.c_str(), -1, &raw_statement, nullptr) == SQLITE_OK);
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> statement(raw_statement, &sqlite3_finalize);
  Rows rows;
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(raw_statement)) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(raw_statement); ++i) {
      switch (sqlite3_column_type(raw_statement, i)) {
        case SQLITE_NULL: row.emplace_back("null"); break;
        case SQLITE_INTEGER: row.push_back("integer:" + std::to_string(sqlite3_column_int64(raw_statement, i))); break;
        default: {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(raw_statement, i));
          row.push_back("text:" + std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(raw_statement, i))));
        }
      }
    }
    rows.push_back(std::move(row));
  }
  REQUIRE(rc == SQLITE_DONE);
  return rows;
}

// What a hotstate file holds, table by table, in key order.
const std::vector<std::pair<std::string, std::string>>& file_contents() {
  static const std::vector<std::pair<std::string, std::string>> queries = {
      {"snapshots", "SELECT * FROM snapshots ORDER BY seq"},
      {"audit_events", "SELECT * FROM audit_events ORDER BY id"},
      {"audit_gaps", "SELECT * FROM audit_gaps ORDER BY first_id"},
      {"plugin_states", "SELECT * FROM plugin_states ORDER BY plugin_id"},
      {"reloads", "SELECT * FROM reloads ORDER BY id"},
      {"pins", "SELECT * FROM pins ORDER BY plugin_id, label"},
      {"settings", "SELECT * FROM settings"},
      {"sqlite_sequence", "SELECT name, seq FROM sqlite_sequence ORDER BY name"},
      {"snapshot_counts", "SELECT * FROM snapshot_counts ORDER BY plugin_id"},
      {"audit_kinds", "SELECT * FROM audit_kinds ORDER BY kind"},
      {"schema", "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"},
      {"trigger order", "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY rowid"},
      {"user_version", "PRAGMA user_version"},
      {"application_id", "PRAGMA application_id"},
      {"journal_mode", "PRAGMA journal_mode"},
  };
  return queries;
}

void require_same_contents(const std::string& original, const std::string& rebuilt) {
  for (const auto& [table, sql] : file_contents()) {
    INFO("table " << table);
    CHECK(rows_of(rebuilt, sql) == rows_of(original, sql));
  }
}

// The first column of the first row of `sql` on PostgreSQL, "" for none or NULL.
std::string pg_value(const std::string& url, const std::string& sql) {
  auto connection = hotstate_test::connect_test_pg(url);
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(connection.get(), sql.c_str()), &PQclear);
  INFO(sql << ": " << PQerrorMessage(connection.get()));
  REQUIRE(PQresultStatus(result.get()) == PGRES_TUPLES_OK);
  if (PQntuples(result.get()) == 0 || PQgetisnull(result.get(), 0, 0)) return "";
  return PQgetvalue(result.get(), 0, 0);
}

ReplicationOptions as_host(const std::string& host_id, bool hold_prune = true) {
  ReplicationOptions options;
  options.host_id = host_id;
  options.hold_prune = hold_prune;
  return options;
}

hotstate::Options keyed(const std::string& path, const std::string& key, std::size_t max_history = 3) {
  auto options = file_options(path, max_history);
  options.audit_key = key;
  return options;
}

// Files in `dir` whose names contain ".restoring-": what a rebuild left.
std::vector<std::string> leftovers(const TempDir& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    const auto name = entry.path().filename().string();
    if (name.find(".restoring-") != std::string::npos) names.push_back(name);
  }
  return names;
}

std::set<std::string> file_names(const TempDir& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) names.insert(entry.path().filename().string());
  return names;
}

// An event and a snapshot written by another client (the sqlite3 shell):
// unchained until hotstate's next write.
void write_as_another_client(const std::string& path, const std::string& note) {
  RawDb raw(path);
  // A kind the schema's triggers write for any client (verify, with a key,
  // flags one only hotstate writes when another client wrote it).
  raw.exec("INSERT INTO audit_events (plugin_id, kind, detail) VALUES ('a', 'PluginStateChanged',"
           " json_object('from', 'Running', 'to', 'Running', 'reason', '', 'note', '" + note + "'))");
  raw.exec("INSERT INTO snapshots (plugin_id, plugin_version, data, metadata) VALUES ('shell', '0.1.0', json_object('note', '" +
           note + "'), '{}')");
}

// A history of every kind, written through `manager` on the file at `path`.
void write_varied_history(StateManager& manager, const std::string& path) {
  for (int i = 1; i <= 6; ++i) manager.save_snapshot(versioned("a", i));  // beyond max_history 3: trims
  for (int i = 1; i <= 3; ++i) manager.save_snapshot(versioned("b", i).with_metadata("m", "x"));
  const auto oldest_a = manager.get_history("a").front();
  manager.pin("a", oldest_a.seq, "oldest");  // trimmed below: the pin keeps its copy
  manager.pin("a", manager.load_snapshot("a")->seq, "good");
  REQUIRE(manager.rollback("a") != nullptr);
  manager.save_snapshot(versioned("a", 7));
  manager.save_snapshot(versioned("a", 8));
  manager.save_snapshot(versioned("a", 9));
  REQUIRE(manager.snapshot("a", oldest_a.seq) != nullptr);  // still there, as the pin's copy
  manager.restore("a", manager.get_history("a").front().seq);
  manager.save_snapshot(versioned("c", 1));
  manager.pin("c", manager.load_snapshot("c")->seq, "gone-with-c");
  manager.clear("c");
  manager.set_plugin_state("a", PluginState::Running);
  manager.set_plugin_state("b", PluginState::failed("it broke"));
  manager.set_plugin_state("d", PluginState::Loaded);
  const auto succeeded = manager.begin_reload(versioned("b", 10), "2.0.0");
  manager.finish_reload(succeeded.id, ReloadResult::succeeded_pinning());
  const auto failed = manager.begin_reload(versioned("b", 11), "3.0.0");
  manager.finish_reload(failed.id, ReloadResult::failed("did not load", 2));
  const auto resolved = manager.begin_reload(versioned("a", 10), "2.0.0");
  manager.resolve_reload(resolved.id, "the host restarted");
  manager.begin_reload(versioned("a", 11), "2.1.0");  // left unfinished: the journal keeps its snapshot
  manager.record_event(ReloadEvent::plugin_discovered("e").with("path", "/plugins/e.so"));
  write_as_another_client(path, "mid-way");
  manager.save_snapshot(versioned("b", 12));  // chains what the other client wrote
  manager.set_max_history(2);                 // trims every plugin
  manager.set_max_history(4);
}

}  // namespace

TEST_CASE("restore-from rebuilds a host's file row for row, and it verifies against the original's checkpoint",
          "[postgresql][restore_from]") {
  const std::string url = fresh_test_database("restore_from_rows");
  const std::string key(32, 'k');
  TempDir dir;
  const auto original = dir.file("original.db");
  const auto rebuilt = dir.file("rebuilt.db");
  hotstate::AuditCheckpoint head;
  std::uint64_t shipped = 0;
  {
    StateManager manager(keyed(original, key));
    write_varied_history(manager, original);
    REQUIRE(manager.replicate_once(url, as_host("h1")).events > 0);
    // Prunes remove only what PostgreSQL holds; the fleet keeps it, marked.
    for (int i = 13; i <= 16; ++i) manager.save_snapshot(versioned("b", i));
    REQUIRE(manager.prune_audit(hotstate::AuditPrune{std::nullopt, 10}) > 0);
    manager.save_snapshot(versioned("a", 20));
    manager.replicate_once(url, as_host("h1"));
    // The newest seq rolled back: the highest seq ever used is above every row's.
    REQUIRE(manager.rollback("a") != nullptr);
    REQUIRE(RawDb(original).query_int("SELECT seq FROM sqlite_sequence WHERE name = 'snapshots'") >
            RawDb(original).query_int("SELECT max(seq) FROM snapshots"));
    // Last, another client's event, not chained yet: shipped as it is
    // (holding no prune, the replicator writes nothing to the file, which
    // would chain it, once the file's row says so: the switch is a write).
    manager.replicate_once(url, as_host("h1", false));
    RawDb(original).exec("INSERT INTO audit_events (plugin_id, kind, detail) VALUES ('a', 'PluginStateChanged',"
                         " json_object('from', 'Running', 'to', 'Running', 'reason', ''))");
    head = manager.audit_head();
    shipped = manager.replicate_once(url, as_host("h1", false)).position;
    REQUIRE(shipped == manager.newest_event_id());
    const auto report = manager.verify();
    INFO(Catch::Detail::stringify(report.problems));
    REQUIRE(report.ok);
    REQUIRE(report.unchained_events == 1);
  }
  REQUIRE(pg_value(url, "SELECT count(*) FROM hotstate.audit_events WHERE pruned_by IS NOT NULL") != "0");

  const auto report = hotstate::restore_from(url, "h1", rebuilt);
  CHECK(report.position == shipped);
  CHECK(report.snapshots == static_cast<std::uint64_t>(RawDb(original).query_int("SELECT count(*) FROM snapshots")));
  CHECK(report.events == static_cast<std::uint64_t>(RawDb(original).query_int("SELECT count(*) FROM audit_events")));
  CHECK(report.reloads == 4);
  CHECK(report.pins == static_cast<std::uint64_t>(RawDb(original).query_int("SELECT count(*) FROM pins")));
  CHECK(leftovers(dir).empty());
  CHECK_FALSE(std::filesystem::exists(rebuilt + "-wal"));

  // Compared before any hotstate opens the rebuilt file: its first write
  // would chain the other client's event.
  REQUIRE(RawDb(original).query_int("SELECT count(*) FROM audit_gaps") > 0);
  REQUIRE(RawDb(original).query_int("SELECT count(*) FROM audit_events WHERE mac IS NOT NULL") > 0);
  REQUIRE(RawDb(original).query_int("SELECT count(*) FROM audit_events WHERE chain IS NULL") == 1);
  require_same_contents(original, rebuilt);
  // The replicas row: the host's, at the position PostgreSQL holds (the
  // original's lags: its last replicator held no prune, so recorded nothing).
  // The rebuilt file holds the prune for its host whatever the original's
  // last replicator chose (PostgreSQL does not know it).
  const std::string replica = "SELECT host_id, target, token FROM replicas ORDER BY host_id";
  CHECK(rows_of(rebuilt, replica) == rows_of(original, replica));
  CHECK(RawDb(rebuilt).query_int("SELECT holds_prune FROM replicas") == 1);
  CHECK(RawDb(rebuilt).query_int("SELECT shipped_event_id FROM replicas") == static_cast<long long>(shipped));
  CHECK(RawDb(original).query_int("SELECT shipped_event_id FROM replicas") <= static_cast<long long>(shipped));
  CHECK(RawDb(rebuilt).query("PRAGMA integrity_check") == "ok");

  for (const bool with_key : {true, false}) {
    INFO("with the audit key: " << with_key);
    StateManager manager(with_key ? keyed(rebuilt, key) : file_options(rebuilt));
    const auto plain = manager.verify();
    INFO(Catch::Detail::stringify(plain.problems));
    CHECK(plain.ok);
    CHECK(plain.unchained_events == 1);
    if (with_key) {
      const auto extending = manager.verify(head);
      INFO(Catch::Detail::stringify(extending.problems));
      CHECK(extending.ok);
      CHECK(manager.audit_head() == head);
    }
  }
  // Opening and verifying wrote nothing.
  require_same_contents(original, rebuilt);
}

TEST_CASE("restore-from refuses an existing file, an unknown host and an unreachable PostgreSQL, leaving nothing behind",
          "[postgresql][restore_from]") {
  const std::string url = fresh_test_database("restore_from_refusals");
  TempDir dir;
  const auto original = dir.file("original.db");
  {
    StateManager manager(file_options(original));
    manager.save_snapshot(versioned("a", 1));
    manager.replicate_once(url, as_host("h1"));
  }
  const auto before = file_names(dir);

  SECTION("an existing file is left as it is") {
    const auto existing = dir.file("existing.db");
    hotstate_test::write_file(existing, "not to be touched");
    const auto names = file_names(dir);
    CHECK(error_code_of([&] { hotstate::restore_from(url, "h1", existing); }) == ErrorCode::InvalidArgument);
    CHECK(hotstate_test::read_file(existing) == "not to be touched");
    CHECK(error_code_of([&] { hotstate::restore_from(url, "h1", original); }) == ErrorCode::InvalidArgument);
    CHECK(file_names(dir) == names);
  }
  SECTION("a -wal without its file is refused: it would be replayed into the new one") {
    const auto orphan = dir.file("orphan.db");
    hotstate_test::write_file(orphan + "-wal", "stale");
    CHECK(error_code_of([&] { hotstate::restore_from(url, "h1", orphan); }) == ErrorCode::InvalidArgument);
    CHECK_FALSE(std::filesystem::exists(orphan));
  }
  SECTION("an unknown host is NotFound, naming it") {
    try {
      hotstate::restore_from(url, "no-such-host", dir.file("new.db"));
      FAIL("restore_from did not throw");
    } catch (const hotstate::Error& error) {
      CHECK(error.code() == ErrorCode::NotFound);
      CHECK(std::string(error.what()).find("no-such-host") != std::string::npos);
    }
    CHECK(file_names(dir) == before);
  }
  SECTION("a database no host replicated to is NotFound") {
    const std::string empty = fresh_test_database("restore_from_empty");
    CHECK(error_code_of([&] { hotstate::restore_from(empty, "h1", dir.file("new.db")); }) == ErrorCode::NotFound);
    CHECK(file_names(dir) == before);
  }
  SECTION("a newer PostgreSQL schema is refused") {
    auto connection = hotstate_test::connect_test_pg(url);
    hotstate_test::exec_test_pg(connection.get(), "INSERT INTO hotstate.schema_version (version) VALUES (99)");
    CHECK(error_code_of([&] { hotstate::restore_from(url, "h1", dir.file("new.db")); }) == ErrorCode::NewerSchema);
    CHECK(file_names(dir) == before);
  }
  SECTION("an unreachable PostgreSQL is Unavailable") {
    const std::string nowhere = "postgresql://127.0.0.1:1/nowhere?connect_timeout=5";
    CHECK(error_code_of([&] { hotstate::restore_from(nowhere, "h1", dir.file("new.db")); }) == ErrorCode::Unavailable);
    CHECK(file_names(dir) == before);
  }
  SECTION("a rebuild that fails half-way removes its file") {
    hotstate::internal::HostImage image;
    image.host_id = "h1";
    image.token = "t";
    image.events.push_back({hotstate::internal::Cell::of(std::int64_t{1})});  // too few columns
    CHECK(error_code_of([&] { hotstate::internal::Store::rebuild_file(dir.file("new.db"), image); }) ==
          ErrorCode::Internal);
    CHECK(file_names(dir) == before);
  }
}

TEST_CASE("a file restore-from rebuilt goes on as the same host: it saves and ships without a conflict",
          "[postgresql][restore_from]") {
  const std::string url = fresh_test_database("restore_from_goes_on");
  const std::string key(32, 'g');
  TempDir dir;
  const auto original = dir.file("original.db");
  const auto rebuilt = dir.file("rebuilt.db");
  {
    StateManager manager(keyed(original, key));
    write_varied_history(manager, original);
    REQUIRE(manager.prune_audit(hotstate::AuditPrune{std::nullopt, 5}) > 0);
    write_as_another_client(original, "unchained");
    manager.replicate_once(url, as_host("h1", false));
  }
  const auto restored = hotstate::restore_from(url, "h1", rebuilt);
  {
    StateManager manager(keyed(rebuilt, key));
    const auto seq = manager.save_snapshot(versioned("a", 100));  // chains the other client's events first
    manager.set_plugin_state("a", PluginState::Reloading);
    const auto shipped = manager.replicate_once(url, as_host("h1"));
    CHECK(shipped.position == manager.newest_event_id());
    CHECK(shipped.position > restored.position);
    CHECK(shipped.missed == 0);
    const std::string host = "host_id = 'h1'";
    CHECK(pg_value(url, "SELECT shipped_event_id FROM hotstate.hosts WHERE " + host) ==
          std::to_string(manager.newest_event_id()));
    CHECK(pg_value(url, "SELECT max(id) FROM hotstate.audit_events WHERE " + host) ==
          std::to_string(manager.newest_event_id()));
    CHECK(pg_value(url, "SELECT count(*) FROM hotstate.audit_events WHERE chain IS NULL AND " + host) == "0");
    CHECK(pg_value(url, "SELECT data FROM hotstate.snapshots WHERE seq = " + std::to_string(seq) + " AND " + host) ==
          R"({"version":100})");
    CHECK(pg_value(url, "SELECT state FROM hotstate.plugin_states WHERE plugin_id = 'a' AND " + host) == "Reloading");
    const auto report = manager.verify();
    INFO(Catch::Detail::stringify(report.problems));
    CHECK(report.ok);
  }
  // Rebuilt again from there: the same file as the one that went on.
  const auto again = dir.file("again.db");
  hotstate::restore_from(url, "h1", again);
  require_same_contents(rebuilt, again);
}

#ifdef HOTSTATE_CLI
namespace {

struct ToolRun {
  int exit_code = -1;
  std::string out, err;
};

// The tool with `arguments`, through /bin/sh (each argument quoted).
ToolRun run_tool(const TempDir& dir, const std::vector<std::string>& arguments) {
  std::string command = hotstate_test::shell_quote(HOTSTATE_CLI);
  for (const auto& argument : arguments) command += " " + hotstate_test::shell_quote(argument);
  const auto err_path = (dir.path() / "tool.err").string();
  command += " 2>" + hotstate_test::shell_quote(err_path);
  ToolRun run;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) run.out.append(buffer, n);
  const int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.err = hotstate_test::read_file(err_path);
  std::filesystem::remove(err_path);
  return run;
}

}  // namespace

TEST_CASE("hotstate restore-from rebuilds a file and says what it holds", "[postgresql][restore_from][cli]") {
  const std::string url = fresh_test_database("restore_from_tool");
  TempDir dir;
  const auto original = dir.file("original.db");
  {
    StateManager manager(file_options(original));
    manager.save_snapshot(versioned("a", 1));
    manager.save_snapshot(versioned("a", 2));
    manager.pin("a", manager.load_snapshot("a")->seq, "good");
    manager.replicate_once(url, as_host("tool-host"));
  }
  const auto rebuilt = dir.file("rebuilt.db");
  const auto text = run_tool(dir, {"--db", rebuilt, "restore-from", url, "--host-id", "tool-host"});
  INFO(text.err);
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("2 snapshot(s)") != std::string::npos);
  CHECK(text.out.find("1 pin(s)") != std::string::npos);
  CHECK(text.out.find("tool-host") != std::string::npos);
  require_same_contents(original, rebuilt);

  const auto as_json = dir.file("json.db");
  const auto json = run_tool(dir, {"--db", as_json, "--json", "restore-from", url, "--host-id", "tool-host"});
  INFO(json.err);
  CHECK(json.exit_code == 0);
  const auto parsed = hotstate::Json::parse(json.out);
  CHECK(parsed.text().find(R"("snapshots":2)") != std::string::npos);
  CHECK(parsed.text().find(R"("pins":1)") != std::string::npos);
  CHECK(parsed.text().find(R"("host_id":"tool-host")") != std::string::npos);

  const auto refused = run_tool(dir, {"--db", original, "restore-from", url, "--host-id", "tool-host"});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("exists") != std::string::npos);
  CHECK(refused.out.empty());
}
#endif
