// The database file: restarts, other writers (raw SQL, other processes),
// migrations, refused files and failed writes.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "support.hpp"

using hotstate::ErrorCode;
using hotstate::Json;
using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate_test::current_version;
using hotstate_test::error_code_of;
using hotstate_test::versioned;
using hotstate_test::versions_of;
using hotstate_test::file_options;
using hotstate_test::RawDb;
using hotstate_test::TempDir;
using hotstate_test::HasCode;

namespace {

std::string raw_insert(const std::string& plugin_id, int version) {
  return "INSERT INTO snapshots (plugin_id, timestamp, plugin_version, data, metadata) VALUES ('" + plugin_id +
         "', 1700000000, '1.0.0', '{\"version\": " + std::to_string(version) + "}', '{\"by\": \"shell\"}')";
}

}  // namespace

// --- Restarts -------------------------------------------------------------------

TEST_CASE("a reopened database has the same current snapshots and history", "[storage][restart]") {
  TempDir dir;
  const auto path = dir.file("state.db");
  {
    StateManager manager(file_options(path));
    for (int version = 1; version <= 4; ++version) manager.save_snapshot(versioned("a", version));
    manager.save_snapshot(versioned("b", 1));
  }
  StateManager reopened(file_options(path));
  CHECK(reopened.plugin_ids() == std::vector<std::string>{"a", "b"});
  CHECK(current_version(reopened, "a") == 4);
  CHECK(versions_of(reopened.get_history("a")) == std::vector<int>{1, 2, 3});
  CHECK(reopened.rollback("a")->get<int>("version") == 3);
}

TEST_CASE("rollback works after a restart and its effect survives another", "[storage][restart][rollback]") {
  TempDir dir;
  const auto path = dir.file("state.db");
  {
    StateManager manager(file_options(path));
    for (int version = 1; version <= 3; ++version) manager.save_snapshot(versioned("p", version));
  }
  {
    StateManager manager(file_options(path));
    REQUIRE(manager.rollback("p"));
  }
  StateManager manager(file_options(path));
  CHECK(current_version(manager, "p") == 2);
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{1});
}

TEST_CASE("what another process commits is seen by the next call", "[storage][process]") {
  TempDir dir;
  const auto path = dir.file("shared.db");
  StateManager manager(file_options(path));
  manager.save_snapshot(versioned("p", 1));
  REQUIRE(current_version(manager, "p") == 1);

  REQUIRE(hotstate_test::run_in_child_process([&] {
    StateManager other(file_options(path));
    other.save_snapshot(versioned("p", 2));
    other.save_snapshot(versioned("q", 1));
  }));

  CHECK(current_version(manager, "p") == 2);
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{1});
  CHECK(manager.plugin_ids() == std::vector<std::string>{"p", "q"});
}

TEST_CASE("the database file is in WAL mode", "[storage]") {
  TempDir dir;
  const auto path = dir.file("wal.db");
  StateManager manager(file_options(path));
  manager.save_snapshot(versioned("p", 1));
  RawDb raw(path);
  CHECK(raw.query("PRAGMA journal_mode") == "wal");
}

TEST_CASE("Synchronous::Normal opens and saves like Full", "[storage]") {
  TempDir dir;
  auto options = file_options(dir.file("normal.db"));
  options.synchronous = hotstate::Synchronous::Normal;
  StateManager manager(options);
  manager.save_snapshot(versioned("p", 1));
  CHECK(current_version(manager, "p") == 1);
}

TEST_CASE("two :memory: stores are private to their StateManager", "[storage]") {
  StateManager first(hotstate_test::memory_options());
  StateManager second(hotstate_test::memory_options());
  first.save_snapshot(versioned("p", 1));
  CHECK(second.load_snapshot("p") == nullptr);
}

// --- Rows from other clients (the sqlite3 shell) ---------------------------------

TEST_CASE("a row inserted with raw SQL becomes the plugin's current snapshot", "[storage][sql]") {
  TempDir dir;
  const auto path = dir.file("shell.db");
  StateManager manager(file_options(path));
  manager.save_snapshot(versioned("p", 1));

  RawDb shell(path);
  shell.exec(raw_insert("p", 2));

  auto current = manager.load_snapshot("p");
  REQUIRE(current);
  CHECK(current->get<int>("version") == 2);
  CHECK(current->timestamp == 1700000000);
  CHECK(current->get_metadata("by") == std::optional<std::string_view>("shell"));
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{1});
  CHECK(manager.rollback("p")->get<int>("version") == 1);
}

TEST_CASE("rows inserted with raw SQL are trimmed to max_history by the trigger", "[storage][sql][history]") {
  TempDir dir;
  const auto path = dir.file("trim.db");
  StateManager manager(file_options(path, 3));
  RawDb shell(path);
  for (int version = 1; version <= 10; ++version) shell.exec(raw_insert("p", version));
  CHECK(shell.query_int("SELECT count(*) FROM snapshots WHERE plugin_id = 'p'") == 4);
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{7, 8, 9});
  CHECK(current_version(manager, "p") == 10);
}

TEST_CASE("a raw insert may leave out every column but plugin_id", "[storage][sql]") {
  TempDir dir;
  const auto path = dir.file("defaults.db");
  StateManager manager(file_options(path));
  RawDb shell(path);
  shell.exec("INSERT INTO snapshots (plugin_id) VALUES ('bare')");
  auto current = manager.load_snapshot("bare");
  REQUIRE(current);
  CHECK(current->data.empty());
  CHECK(current->metadata.empty());
  CHECK(current->plugin_version.empty());
  CHECK(current->timestamp > 1600000000);
}

TEST_CASE("the schema refuses rows the engine could not read", "[storage][sql]") {
  TempDir dir;
  const auto path = dir.file("checks.db");
  StateManager manager(file_options(path));
  RawDb shell(path);
  CHECK(shell.try_exec("INSERT INTO snapshots (plugin_id, data) VALUES ('p', 'not json')") == SQLITE_CONSTRAINT);
  CHECK(shell.try_exec("INSERT INTO snapshots (plugin_id, data) VALUES ('p', '[1,2]')") == SQLITE_CONSTRAINT);
  CHECK(shell.try_exec("INSERT INTO snapshots (plugin_id, metadata) VALUES ('p', '{\"n\": 1}')") ==
        SQLITE_CONSTRAINT);
  CHECK(shell.try_exec("INSERT INTO snapshots (plugin_id, timestamp) VALUES ('p', 1.5)") == SQLITE_CONSTRAINT);
  CHECK(shell.try_exec("UPDATE settings SET max_history = -1") == SQLITE_CONSTRAINT);
  CHECK(shell.try_exec("DELETE FROM settings") == SQLITE_CONSTRAINT);
  manager.save_snapshot(versioned("p", 1));
  const auto seq = std::to_string(manager.load_snapshot("p")->seq);
  CHECK(shell.try_exec("INSERT INTO snapshots (seq, plugin_id) VALUES (" + seq + " - 1, 'p')") != SQLITE_OK);
  CHECK(shell.try_exec("UPDATE snapshots SET seq = seq + 100") == SQLITE_CONSTRAINT);
  CHECK(manager.plugin_ids() == std::vector<std::string>{"p"});
  CHECK(manager.get_history("p").empty());
}

TEST_CASE("a raw row whose JSON simdjson cannot read gives a Corrupt error, not a crash", "[storage][sql][errors]") {
  TempDir dir;
  const auto path = dir.file("bad-row.db");
  StateManager manager(file_options(path));
  RawDb shell(path);
  // SQLite's json_valid accepts 1e400; a double cannot hold it.
  shell.exec("INSERT INTO snapshots (plugin_id, data) VALUES ('p', '{\"x\": 1e400}')");
  CHECK(error_code_of([&] { (void)manager.load_snapshot("p"); }) == ErrorCode::Corrupt);
  manager.clear("p");
  CHECK(manager.plugin_ids().empty());
}

// --- max_history across opens --------------------------------------------------

TEST_CASE("opening a database never changes its history bound or trims it", "[storage][history]") {
  TempDir dir;
  const auto path = dir.file("bound.db");
  {
    StateManager host(file_options(path, 100));
    for (int version = 1; version <= 60; ++version) host.save_snapshot(versioned("p", version));
  }
  // A second program with default Options, one with a lower bound, a
  // read-only one, and a write that does nothing: the bound stays 100.
  {
    hotstate::Options defaults;
    defaults.path = path;
    StateManager second(defaults);
    CHECK(second.max_history() == 100);
    CHECK(second.rollback("unknown-plugin") == nullptr);
  }
  {
    StateManager lower(file_options(path, 2));
    CHECK(lower.max_history() == 100);
    lower.save_snapshot(versioned("p", 61));
  }
  StateManager manager(file_options(path, 10));
  CHECK(manager.max_history() == 100);
  CHECK(manager.get_history("p").size() == 60);
  RawDb raw(path);
  CHECK(raw.query_int("SELECT count(*) FROM audit_events WHERE kind = 'HistoryTrimmed'") == 0);
  CHECK(raw.query_int("SELECT count(*) FROM audit_events WHERE kind = 'MaxHistoryChanged'") == 0);
}

TEST_CASE("max_history in Options is the bound of a database it creates", "[storage][history]") {
  TempDir dir;
  { StateManager created(file_options(dir.file("five.db"), 5)); }
  hotstate::Options defaults;
  defaults.path = dir.file("five.db");
  CHECK(StateManager(defaults).max_history() == 5);
  defaults.path = dir.file("default.db");
  CHECK(StateManager(defaults).max_history() == 10);
}

TEST_CASE("set_max_history changes the bound on purpose, trims at once and is audited", "[storage][history]") {
  TempDir dir;
  const auto path = dir.file("set.db");
  StateManager manager(file_options(path, 5));
  for (int version = 1; version <= 8; ++version) manager.save_snapshot(versioned("p", version));
  for (int version = 1; version <= 3; ++version) manager.save_snapshot(versioned("q", version));
  CHECK(manager.set_max_history(5) == 0);  // the bound it has: nothing happens
  CHECK(manager.set_max_history(2) == 3);
  CHECK(manager.max_history() == 2);
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{6, 7});
  CHECK(versions_of(manager.get_history("q")) == std::vector<int>{1, 2});
  CHECK(manager.set_max_history(1) == 2);
  CHECK(manager.set_max_history(10) == 0);
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{7});  // trimmed rows do not come back
  for (int version = 9; version <= 20; ++version) manager.save_snapshot(versioned("p", version));
  CHECK(manager.get_history("p").size() == 10);
  CHECK_THROWS_MATCHES(manager.set_max_history(2147483648u), hotstate::Error, HasCode(ErrorCode::InvalidArgument));

  RawDb raw(path);
  CHECK(raw.query("SELECT group_concat(detail, ' ') FROM (SELECT detail FROM audit_events"
                       " WHERE kind = 'MaxHistoryChanged' ORDER BY id)") ==
        R"({"from":5,"to":2} {"from":2,"to":1} {"from":1,"to":10})");
  CHECK(raw.query_int("SELECT count(*) FROM audit_events WHERE kind = 'HistoryTrimmed'") == 10);
  CHECK(manager.verify().ok);
}

TEST_CASE("a bound changed in the shell holds for the engine's next save", "[storage][history][sql]") {
  TempDir dir;
  const auto path = dir.file("shell-bound.db");
  StateManager manager(file_options(path, 10));
  for (int version = 1; version <= 6; ++version) manager.save_snapshot(versioned("p", version));
  RawDb shell(path);
  shell.exec("UPDATE settings SET max_history = 1");
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{5});
  manager.save_snapshot(versioned("p", 7));
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{6});
  CHECK(manager.max_history() == 1);
}

// --- Migrations and refused files ------------------------------------------------

TEST_CASE("a new database gets the current schema version", "[storage][migration]") {
  TempDir dir;
  const auto path = dir.file("new.db");
  { StateManager manager(file_options(path)); }
  RawDb raw(path);
  CHECK(raw.query_int("PRAGMA user_version") == hotstate::schema_version());
  CHECK(raw.query_int("PRAGMA application_id") == 0x48535441);
  CHECK(raw.query("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name = 'snapshots_trim_history'") ==
        "snapshots_trim_history");
}

TEST_CASE("an empty existing file becomes a hotstate database", "[storage][migration]") {
  TempDir dir;
  const auto path = dir.file("empty.db");
  hotstate_test::write_file(path, "");
  StateManager manager(file_options(path));
  manager.save_snapshot(versioned("p", 1));
  CHECK(current_version(manager, "p") == 1);
}

// Opening a file with nothing to migrate reads its version and takes no write
// lock, so it does not wait for a writer. The short busy timeout makes a
// regression fail (Busy) rather than wait.
TEST_CASE("a file with nothing to migrate opens while another connection holds the write lock",
          "[storage][migration][busy]") {
  TempDir dir;
  const auto path = dir.file("locked.db");
  {
    StateManager manager(file_options(path));
    manager.save_snapshot(versioned("p", 1));
  }
  RawDb other(path);
  other.exec("BEGIN IMMEDIATE");
  other.exec(raw_insert("q", 1));  // not committed while the manager opens

  auto options = file_options(path);
  options.busy_timeout = std::chrono::milliseconds(10);
  StateManager manager(options);
  CHECK(current_version(manager, "p") == 1);
  CHECK(manager.plugin_ids() == std::vector<std::string>{"p"});
  // The lock was held all along: a write waits for it, and gives up.
  CHECK(error_code_of([&] { manager.save_snapshot(versioned("p", 2)); }) == ErrorCode::Busy);

  other.exec("COMMIT");
  manager.save_snapshot(versioned("p", 2));
  CHECK(current_version(manager, "p") == 2);
  CHECK(manager.plugin_ids() == std::vector<std::string>{"p", "q"});
}

TEST_CASE("a database of a newer schema version is refused and left untouched", "[storage][migration][errors]") {
  TempDir dir;
  const auto path = dir.file("newer.db");
  {
    StateManager manager(file_options(path));
    manager.save_snapshot(versioned("p", 1));
  }
  {
    RawDb raw(path);
    raw.exec("PRAGMA user_version = " + std::to_string(hotstate::schema_version() + 1));
  }
  const std::string before = hotstate_test::read_file(path);

  try {
    StateManager manager(file_options(path));
    FAIL("a newer schema was opened");
  } catch (const hotstate::Error& error) {
    CHECK(error.code() == ErrorCode::NewerSchema);
    CHECK_THAT(error.what(), Catch::Contains("newer"));
  }
  CHECK(hotstate_test::read_file(path) == before);
  CHECK_FALSE(std::filesystem::exists(path + "-wal"));
  CHECK_FALSE(std::filesystem::exists(path + "-shm"));
}

TEST_CASE("a file that is not a SQLite database is refused and left untouched", "[storage][errors]") {
  TempDir dir;
  const auto path = dir.file("notes.txt");
  std::string text;
  for (int i = 0; i < 200; ++i) text += "these are somebody's notes, not a database\n";
  hotstate_test::write_file(path, text);

  CHECK(error_code_of([&] { StateManager manager(file_options(path)); }) == ErrorCode::NotADatabase);
  CHECK(hotstate_test::read_file(path) == text);
  CHECK_FALSE(std::filesystem::exists(path + "-wal"));
  CHECK_FALSE(std::filesystem::exists(path + "-journal"));
}

TEST_CASE("another application's SQLite database is refused and left untouched", "[storage][errors]") {
  TempDir dir;
  const auto path = dir.file("other-app.db");
  {
    RawDb raw(path);
    raw.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers VALUES (1, 'x')");
  }
  const std::string before = hotstate_test::read_file(path);
  CHECK(error_code_of([&] { StateManager manager(file_options(path)); }) == ErrorCode::NotADatabase);
  CHECK(hotstate_test::read_file(path) == before);

  {
    RawDb raw(path);
    raw.exec("PRAGMA application_id = 12345");
  }
  CHECK(error_code_of([&] { StateManager manager(file_options(path)); }) == ErrorCode::NotADatabase);
}

TEST_CASE("bad options are refused before any file is created", "[storage][errors]") {
  TempDir dir;
  CHECK(error_code_of([] { StateManager manager(hotstate_test::file_options("")); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([&] { StateManager manager(file_options(dir.file("huge.db"), std::size_t{1} << 40)); }) ==
        ErrorCode::InvalidArgument);
  CHECK_FALSE(std::filesystem::exists(dir.file("huge.db")));
}

TEST_CASE("a database in a missing directory gives CannotOpen", "[storage][errors]") {
  TempDir dir;
  CHECK(error_code_of([&] { StateManager manager(file_options(dir.file("missing/dir/state.db"))); }) ==
        ErrorCode::CannotOpen);
}

// --- Failed writes change nothing --------------------------------------------------

TEST_CASE("a save that fails inside SQLite leaves the previous state intact", "[storage][errors][atomic]") {
  TempDir dir;
  const auto path = dir.file("atomic.db");
  StateManager manager(file_options(path, 2));
  for (int version = 1; version <= 3; ++version) manager.save_snapshot(versioned("p", version));

  RawDb shell(path);
  // Fails after the row was written, inside the same statement: the audit
  // trigger's event has a kind the audit log no longer knows (a change of
  // data, not of the schema, which hotstate would refuse to write through).
  shell.exec("DELETE FROM audit_kinds WHERE kind = 'HistoryTrimmed'");
  try {
    manager.save_snapshot(versioned("p", 4));
    FAIL("the save did not fail");
  } catch (const hotstate::Error& error) {
    CHECK(error.code() == ErrorCode::Constraint);
    CHECK_THAT(error.what(), Catch::Contains("unknown audit event kind"));
  }
  CHECK(current_version(manager, "p") == 3);
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{1, 2});

  shell.exec("INSERT INTO audit_kinds (kind, source, meaning) VALUES ('HistoryTrimmed', 'engine', 'restored')");
  manager.save_snapshot(versioned("p", 4));
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{2, 3});
}

TEST_CASE("a write lock held past the busy timeout gives Busy and loses nothing", "[storage][errors][busy]") {
  TempDir dir;
  const auto path = dir.file("busy.db");
  auto options = file_options(path);
  options.busy_timeout = std::chrono::milliseconds(20);
  StateManager manager(options);
  manager.save_snapshot(versioned("p", 1));

  RawDb other(path);
  other.exec("BEGIN IMMEDIATE");
  CHECK(error_code_of([&] { manager.save_snapshot(versioned("p", 2)); }) == ErrorCode::Busy);
  CHECK(error_code_of([&] { (void)manager.rollback("p"); }) == ErrorCode::Busy);
  CHECK(current_version(manager, "p") == 1);  // readers are not blocked in WAL mode
  other.exec("COMMIT");

  manager.save_snapshot(versioned("p", 2));
  CHECK(current_version(manager, "p") == 2);
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{1});
}

TEST_CASE("rows edited by other clients are re-read in full, whatever their check value says", "[storage][sql]") {
  TempDir dir;
  const auto path = dir.file("edited.db");
  StateManager manager(file_options(path));
  manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("a", 1).with_data("b", std::vector<int>{1, 2}));
  REQUIRE(manager.load_snapshot("p")->data.at("b").text() == "[1,2]");

  RawDb shell(path);
  // Not canonical: spaces, unsorted keys, a double written as 2.50. The row keeps hotstate's old check value.
  shell.exec("UPDATE snapshots SET data = '{ \"b\" : [1, 2.50], \"a\" : 1 }' WHERE plugin_id = 'p'");
  auto edited = manager.load_snapshot("p");
  REQUIRE(edited);
  CHECK(edited->data.at("b").text() == "[1,2.5]");
  CHECK(edited->data.at("a").text() == "1");

  shell.exec("UPDATE snapshots SET canonical_hash = 12345, metadata = '{\"k\": \"v\\u00e9\"}' WHERE plugin_id = 'p'");
  edited = manager.load_snapshot("p");
  REQUIRE(edited);
  CHECK(edited->get_metadata("k") == std::optional<std::string_view>("v\xc3\xa9"));
  CHECK(Json::parse(edited->to_bytes()) == Json::parse(StateSnapshot::from_bytes(edited->to_bytes()).to_bytes()));
}

// --- Space: free pages and the -wal --------------------------------------------------

// SQLite reuses the pages a delete frees; hotstate keeps it that way. Rows of
// 16 KB (four overflow pages each) make the snapshots far larger than the
// audit log, which grows with every save until a prune (well under a page a
// save): a file that did not reuse its pages would grow by four pages a save.
TEST_CASE("the pages that trimming and clear_all free are reused by later saves, so the file does not grow with them",
          "[storage][space]") {
  TempDir dir;
  const auto path = dir.file("space.db");
  auto options = file_options(path, 2);
  options.synchronous = hotstate::Synchronous::Normal;
  StateManager manager(options);
  const std::string filler(16000, 'x');
  int saved = 0;
  const auto save = [&](int count) {
    for (int i = 0; i < count; ++i, ++saved) {
      manager.save_snapshot(versioned("plugin-" + std::to_string(saved % 10), saved).with_data("filler", filler));
    }
  };
  RawDb raw(path);
  save(30);  // every plugin at its bound: 3 rows each, 120 overflow pages
  const long long settled = raw.query_int("PRAGMA page_count");

  save(300);  // each save trims a row
  const long long after_trims = raw.query_int("PRAGMA page_count");
  INFO("pages: " << settled << " at the bound, " << after_trims << " after 300 more saves");
  CHECK(after_trims - settled < 150);  // 1200 more without reuse

  manager.clear_all();
  CHECK(raw.query_int("PRAGMA page_count") == after_trims);
  CHECK(raw.query_int("PRAGMA freelist_count") >= 100);
  save(30);  // as many rows as were cleared
  CHECK(raw.query_int("PRAGMA page_count") - after_trims < 30);
  CHECK(raw.query_int("PRAGMA freelist_count") < 30);
}

// hotstate keeps free pages for reuse; to give them back to the system
// (say after clearing a large file that will not fill again), VACUUM in the
// sqlite3 shell, as README says. The open StateManager notices the rewritten
// file, checks its schema again, and goes on.
TEST_CASE("a VACUUM in the sqlite3 shell gives the free pages back while a StateManager has the file open",
          "[storage][space][sql]") {
  TempDir dir;
  const auto path = dir.file("vacuum.db");
  auto options = file_options(path, 2);
  options.synchronous = hotstate::Synchronous::Normal;
  StateManager manager(options);
  for (int i = 0; i < 30; ++i) {
    manager.save_snapshot(versioned("plugin-" + std::to_string(i % 10), i).with_data("filler", std::string(16000, 'x')));
  }
  manager.clear_all();
  RawDb shell(path);
  const long long pages = shell.query_int("PRAGMA page_count");
  REQUIRE(shell.query_int("PRAGMA freelist_count") >= 100);

  shell.exec("VACUUM");
  CHECK(shell.query_int("PRAGMA freelist_count") == 0);
  CHECK(shell.query_int("PRAGMA page_count") <= pages - 100);

  manager.save_snapshot(versioned("p", 1));
  CHECK(current_version(manager, "p") == 1);
  CHECK(manager.plugin_ids() == std::vector<std::string>{"p"});
  const auto report = manager.verify();
  INFO((report.problems.empty() ? std::string() : report.problems.front()));
  CHECK(report.ok);
}

// The -wal keeps its size between checkpoints, but one that a large write
// made bigger than journal_size_limit (twice its size at SQLite's automatic
// checkpoint: 8,240,000 bytes) is cut back at the next commit once the
// checkpoint has restarted it.
TEST_CASE("a save of a large state that trims an old one writes about its own size to the -wal, not the old one's again",
          "[storage][space]") {
  TempDir dir;
  const auto path = dir.file("secure-delete.db");
  auto options = file_options(path, 1);
  options.synchronous = hotstate::Synchronous::Normal;
  StateManager manager(options);
  const std::string filler(2'000'000, 'x');
  manager.save_snapshot(versioned("big", 1).with_data("filler", filler));
  manager.save_snapshot(versioned("big", 2).with_data("filler", filler));
  RawDb(path).exec("PRAGMA wal_checkpoint(TRUNCATE)");
  REQUIRE(std::filesystem::file_size(path + "-wal") == 0);

  manager.save_snapshot(versioned("big", 3).with_data("filler", filler));  // trims version 1: 2 MB of overflow pages
  CHECK(std::filesystem::file_size(path + "-wal") < 2'000'000 * 12 / 10);
  CHECK(versions_of(manager.get_history("big")) == std::vector<int>{2});
}

TEST_CASE("a -wal file that a large write made big is cut back by the next write", "[storage][space]") {
  TempDir dir;
  const auto path = dir.file("wal.db");
  auto options = file_options(path);
  options.synchronous = hotstate::Synchronous::Normal;
  StateManager manager(options);
  manager.save_snapshot(versioned("big", 1).with_data("filler", std::string(10'000'000, 'x')));
  const auto wal_size = [&] { return std::filesystem::file_size(path + "-wal"); };
  CHECK(wal_size() > 10'000'000);

  manager.clear("big");
  CHECK(wal_size() <= 8'240'000);
  manager.save_snapshot(versioned("small", 1));
  CHECK(wal_size() <= 8'240'000);
  CHECK(current_version(manager, "small") == 1);
  CHECK(manager.plugin_ids() == std::vector<std::string>{"small"});
}
