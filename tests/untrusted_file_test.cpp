// Files prepared by someone else (the sqlite3 shell, another program, an
// attacker): hotstate never loses data, runs their SQL, or reports what is
// not so. The regressions of issue 10, at the library's level.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "support.hpp"

using hotstate::ErrorCode;
using hotstate::Json;
using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate_test::current_version;
using hotstate_test::error_code_of;
using hotstate_test::file_options;
using hotstate_test::RawDb;
using hotstate_test::TempDir;
using hotstate_test::versioned;
using hotstate_test::versions_of;

namespace {

// `depth` nested arrays around 1: [[...[1]...]].
std::string nested_arrays(int depth) { return std::string(static_cast<std::size_t>(depth), '[') + "1" + std::string(static_cast<std::size_t>(depth), ']'); }

// An endless query: planted in a trigger, it would hang whoever fires it.
constexpr const char* endless_query =
    "WITH RECURSIVE forever(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM forever) SELECT count(*) FROM forever";

// Runs in `directory` for the lifetime of the object.
class InDirectory {
 public:
  explicit InDirectory(const std::string& directory) : previous_(std::filesystem::current_path()) {
    std::filesystem::current_path(directory);
  }
  ~InDirectory() { std::filesystem::current_path(previous_); }
  InDirectory(const InDirectory&) = delete;
  InDirectory& operator=(const InDirectory&) = delete;

 private:
  std::filesystem::path previous_;
};

}  // namespace

TEST_CASE("a value as deep as with_data allows reads back, also when the shell wrote it", "[untrusted][json]") {
  TempDir dir;
  const auto path = dir.file("deep.db");
  StateManager manager(file_options(path));
  const Json deepest = Json::parse(nested_arrays(static_cast<int>(hotstate::json_max_depth)));
  manager.save_snapshot(StateSnapshot("api", "1").with_data("v", deepest));
  CHECK(manager.load_snapshot("api")->data.at("v") == deepest);

  RawDb shell(path);
  shell.exec("INSERT INTO snapshots (plugin_id, data) VALUES ('shell', '{\"v\":" + deepest.text() + "}')");
  CHECK(manager.load_snapshot("shell")->data.at("v") == deepest);
  // One level deeper is what with_data refuses: reading refuses it too, as Corrupt.
  shell.exec("INSERT INTO snapshots (plugin_id, data) VALUES ('deeper', '{\"v\":" +
             nested_arrays(static_cast<int>(hotstate::json_max_depth) + 1) + "}')");
  CHECK(error_code_of([&] { (void)manager.load_snapshot("deeper"); }) == ErrorCode::Corrupt);
  CHECK(manager.plugin_summaries().size() == 3);
}

TEST_CASE("an explicit id near 2^63 is refused and every later write still works", "[untrusted][ids]") {
  TempDir dir;
  const auto path = dir.file("ids.db");
  StateManager manager(file_options(path));
  manager.save_snapshot(versioned("p", 1));
  auto ticket = manager.begin_reload(versioned("p", 2), "2");
  RawDb shell(path);
  CHECK(shell.try_exec("INSERT INTO snapshots (seq, plugin_id) VALUES (9223372036854775807, 'p')") == SQLITE_CONSTRAINT);
  CHECK(shell.try_exec("INSERT INTO audit_events (id, kind) VALUES (9223372036854775807, 'PluginRemoved')") ==
        SQLITE_CONSTRAINT);
  CHECK(shell.try_exec("INSERT INTO reloads (id, plugin_id, started_at_us, snapshot_seq) VALUES "
                       "(9223372036854775807, 'p', 0, 1)") == SQLITE_CONSTRAINT);
  CHECK(shell.try_exec("UPDATE reloads SET id = 9223372036854775807") == SQLITE_CONSTRAINT);
  CHECK(shell.try_exec("INSERT INTO snapshots (seq, plugin_id) VALUES (9007199254740992, 'p')") == SQLITE_CONSTRAINT);
  CHECK(shell.try_exec("INSERT INTO snapshots (seq, plugin_id) VALUES (9007199254740990, 'p')") == SQLITE_OK);
  manager.finish_reload(ticket.id, hotstate::ReloadResult::succeeded());
  manager.save_snapshot(versioned("p", 3));  // 2^53-1 is the last id
  CHECK(current_version(manager, "p") == 3);
  CHECK(manager.load_snapshot("p")->seq == 9007199254740991u);
}

TEST_CASE("ids used up outside hotstate are reported as such, never as a full disk", "[untrusted][ids]") {
  TempDir dir;
  const auto path = dir.file("used-up.db");
  StateManager manager(file_options(path));
  manager.save_snapshot(versioned("p", 1));
  RawDb shell(path);
  shell.exec("UPDATE sqlite_sequence SET seq = 9223372036854775807 WHERE name = 'snapshots'");
  try {
    manager.save_snapshot(versioned("p", 2));
    FAIL("the save did not fail");
  } catch (const hotstate::Error& error) {
    CHECK(error.code() == ErrorCode::Corrupt);
    CHECK_THAT(error.what(), Catch::Contains("snapshots") && Catch::Contains("not full"));
  }
  CHECK(current_version(manager, "p") == 1);
  const auto report = manager.verify();
  CHECK_FALSE(report.ok);
  CHECK_THAT(report.problems, Catch::VectorContains(std::string(
                                  "table snapshots has used ids up to 9223372036854775807, beyond 9007199254740991: "
                                  "no id is left for the next row")));
}

TEST_CASE("a trigger planted on a table of hotstate's stops every write, named, before it runs", "[untrusted][schema]") {
  TempDir dir;
  const auto path = dir.file("planted.db");
  StateManager manager(file_options(path));
  for (int version = 1; version <= 3; ++version) manager.save_snapshot(versioned("p", version));
  RawDb shell(path);
  shell.exec(std::string("CREATE TRIGGER planted AFTER DELETE ON snapshots BEGIN SELECT (") + endless_query + "); END");

  // The manager opened before the trigger was planted, and one opened after.
  StateManager later(file_options(path));
  for (StateManager* writer : {&manager, &later}) {
    try {
      (void)writer->rollback("p");
      FAIL("the rollback ran");
    } catch (const hotstate::Error& error) {
      CHECK(error.code() == ErrorCode::UntrustedSchema);
      CHECK_THAT(error.what(), Catch::Contains("trigger planted on snapshots is not hotstate's"));
    }
    CHECK(error_code_of([&] { writer->save_snapshot(versioned("p", 4)); }) == ErrorCode::UntrustedSchema);
    CHECK(error_code_of([&] { writer->clear_all(); }) == ErrorCode::UntrustedSchema);
    CHECK(error_code_of([&] { writer->set_plugin_state("p", hotstate::PluginState::Running); }) ==
          ErrorCode::UntrustedSchema);
  }
  // Reads go on, and say the same as before.
  CHECK(current_version(manager, "p") == 3);
  CHECK(versions_of(later.get_history("p")) == std::vector<int>{1, 2});
  const auto report = later.verify();
  CHECK_THAT(report.problems, Catch::VectorContains(std::string("trigger planted on snapshots is not hotstate's")));

  // Once the file is hotstate's again, writes go on.
  shell.exec("DROP TRIGGER planted");
  CHECK(manager.rollback("p")->get<int>("version") == 2);
  later.save_snapshot(versioned("p", 5));
  CHECK(current_version(manager, "p") == 5);
}

TEST_CASE("a trigger of hotstate's with a new body is not run and verify names it", "[untrusted][schema]") {
  TempDir dir;
  const auto path = dir.file("backdoor.db");
  StateManager manager(file_options(path));
  manager.save_snapshot(versioned("p", 1));
  RawDb shell(path);
  // Same name, a body that rewrites every later save.
  shell.exec("DROP TRIGGER snapshots_audit_edit");
  shell.exec(
      "CREATE TRIGGER snapshots_audit_edit AFTER INSERT ON snapshots BEGIN "
      "UPDATE snapshots SET data = '{\"owned\":true}' WHERE seq = NEW.seq; END");
  CHECK(error_code_of([&] { manager.save_snapshot(versioned("p", 2)); }) == ErrorCode::UntrustedSchema);
  StateManager reopened(file_options(path));
  CHECK(error_code_of([&] { reopened.save_snapshot(versioned("p", 2)); }) == ErrorCode::UntrustedSchema);
  CHECK(RawDb(path).query_int("SELECT count(*) FROM snapshots WHERE data LIKE '%owned%'") == 0);
  const auto report = reopened.verify();
  CHECK_FALSE(report.ok);
  CHECK_THAT(report.problems, Catch::VectorContains(std::string("trigger snapshots_audit_edit on snapshots differs from hotstate's")));
}

TEST_CASE("verify reports every schema object that is not exactly hotstate's", "[untrusted][schema]") {
  TempDir dir;
  const auto path = dir.file("verify.db");
  { StateManager manager(file_options(path)); }
  RawDb shell(path);
  shell.exec("CREATE INDEX snapshots_slow ON snapshots (length(data))");
  shell.exec("CREATE VIEW extra AS SELECT 1");
  shell.exec("DROP VIEW audit_log");
  StateManager manager(file_options(path));
  const auto problems = manager.verify().problems;
  CHECK_THAT(problems, Catch::VectorContains(std::string("index snapshots_slow on snapshots is not hotstate's")));
  CHECK_THAT(problems, Catch::VectorContains(std::string("view extra is not hotstate's")));
  CHECK_THAT(problems, Catch::VectorContains(std::string("view audit_log is missing (hotstate creates it)")));
  // An index on hotstate's table runs SQL in every write: refused. A view does not.
  CHECK(error_code_of([&] { manager.save_snapshot(versioned("p", 1)); }) == ErrorCode::UntrustedSchema);
  shell.exec("DROP INDEX snapshots_slow");
  manager.save_snapshot(versioned("p", 1));
  CHECK(current_version(manager, "p") == 1);
}

TEST_CASE("reads never run a view or trigger from the file", "[untrusted][schema]") {
  TempDir dir;
  const auto path = dir.file("view.db");
  {
    StateManager manager(file_options(path));
    manager.save_snapshot(versioned("p", 1));
  }
  RawDb shell(path);
  // The table settings replaced by a view of the same name whose query never ends.
  shell.exec("PRAGMA foreign_keys = OFF");
  shell.exec("DROP TRIGGER settings_keep_row");
  shell.exec("ALTER TABLE settings RENAME TO settings_gone");
  shell.exec(std::string("CREATE VIEW settings AS SELECT 1 AS id, (") + endless_query + ") AS max_history");
  hotstate::Options options = file_options(path);
  options.read_only = true;
  try {
    StateManager reader(options);
    FAIL("opened");
  } catch (const hotstate::Error& error) {
    CHECK(error.code() == ErrorCode::UntrustedSchema);
    CHECK_THAT(error.what(), Catch::Contains("'settings'"));
  }
  StateManager writer(file_options(path));
  CHECK(error_code_of([&] { (void)writer.max_history(); }) == ErrorCode::UntrustedSchema);
  CHECK(error_code_of([&] { writer.save_snapshot(versioned("p", 2)); }) == ErrorCode::UntrustedSchema);
}

TEST_CASE("a migration refuses an older file that carries foreign SQL and leaves it as it was", "[untrusted][migration]") {
  TempDir dir;
  const auto path = dir.file("v1.db");
  {
    RawDb v1(path);
    v1.exec(hotstate_test::read_file(std::string(HOTSTATE_SOURCE_DIR) + "/tests/fixtures/db/v1.sql"));
    v1.exec(std::string("CREATE TRIGGER planted AFTER UPDATE ON snapshots BEGIN SELECT (") + endless_query + "); END");
  }
  const std::string before = hotstate_test::read_file(path);
  try {
    StateManager manager(file_options(path));
    FAIL("the file was opened");
  } catch (const hotstate::Error& error) {
    CHECK(error.code() == ErrorCode::UntrustedSchema);
    CHECK_THAT(error.what(), Catch::Contains("planted") && Catch::Contains("left as it was"));
  }
  CHECK(RawDb(path).query_int("PRAGMA user_version") == 1);
  CHECK(hotstate_test::read_file(path) == before);
}

TEST_CASE("call_time_limit stops a call that runs too long inside SQLite, and it changes nothing", "[untrusted][time]") {
  TempDir dir;
  const auto path = dir.file("slow.db");
  {
    StateManager manager(file_options(path, 0));
    std::vector<StateSnapshot> many;
    for (int i = 0; i < 20000; ++i) many.push_back(versioned("p" + std::to_string(i), i));
    manager.save_snapshots(many);
  }
  hotstate::Options options = file_options(path);
  options.call_time_limit = std::chrono::milliseconds(1);
  StateManager manager(options);
  // verify reads every row and the whole audit log: far more than 1 ms.
  CHECK(error_code_of([&] { (void)manager.verify(); }) == ErrorCode::TimedOut);
  CHECK(error_code_of([&] { manager.clear_all(); }) == ErrorCode::TimedOut);
  CHECK(current_version(manager, "p7") == 7);  // a short call still works
}

TEST_CASE("a path that starts with file: is a file name, never a SQLite URI", "[untrusted][path]") {
  TempDir dir;
  InDirectory here(dir.path().string());
  {
    StateManager manager(file_options("file:x?mode=memory"));
    manager.save_snapshot(versioned("p", 1));
  }
  CHECK(std::filesystem::is_regular_file(dir.path().string() + "/file:x?mode=memory"));
  StateManager reopened(file_options("file:x?mode=memory"));
  CHECK(current_version(reopened, "p") == 1);
}

TEST_CASE("a row over the limits is refused with TooLarge when read, and the listing goes on", "[untrusted][size]") {
  TempDir dir;
  const auto path = dir.file("big.db");
  hotstate::Options options = file_options(path);
  options.max_data_bytes = 1 << 20;
  options.max_metadata_bytes = 1 << 16;
  StateManager manager(options);
  manager.save_snapshot(versioned("small", 1));
  RawDb shell(path);
  shell.exec("INSERT INTO snapshots (plugin_id, data) VALUES ('big', '{\"blob\":\"' || hex(zeroblob(2000000)) || '\"}')");
  CHECK(error_code_of([&] { (void)manager.load_snapshot("big"); }) == ErrorCode::TooLarge);
  manager.save_snapshot(versioned("big", 2));  // the big row becomes history
  CHECK(error_code_of([&] { (void)manager.get_history("big"); }) == ErrorCode::TooLarge);
  CHECK(current_version(manager, "small") == 1);
  const auto summaries = manager.plugin_summaries();
  REQUIRE(summaries.size() == 2);
  CHECK(summaries[0].plugin_id == "big");
  CHECK(summaries[1].plugin_id == "small");
  CHECK(summaries[0].history_entries == 1);
  CHECK(summaries[1].history_entries == 0);
}

TEST_CASE("reading leaves no -wal or -shm file where there was none", "[untrusted][read_only]") {
  TempDir dir;
  const auto path = dir.file("clean.db");
  {
    StateManager manager(file_options(path));
    manager.save_snapshot(versioned("p", 1));
  }
  REQUIRE_FALSE(std::filesystem::exists(path + "-wal"));
  REQUIRE_FALSE(std::filesystem::exists(path + "-shm"));
  {
    hotstate::Options options = file_options(path);
    options.read_only = true;
    StateManager reader(options);
    CHECK(current_version(reader, "p") == 1);
    CHECK(reader.get_history("p").empty());
    CHECK(reader.verify().ok);
    CHECK(error_code_of([&] { reader.save_snapshot(versioned("p", 2)); }) == ErrorCode::ReadOnly);
  }
  CHECK_FALSE(std::filesystem::exists(path + "-wal"));
  CHECK_FALSE(std::filesystem::exists(path + "-shm"));
  CHECK(RawDb(path).query_int("SELECT count(*) FROM snapshots") == 1);
}

TEST_CASE("every call that takes a plugin id refuses one that is not UTF-8 and writes nothing", "[untrusted][ids]") {
  TempDir dir;
  const auto path = dir.file("utf8.db");
  StateManager manager(file_options(path));
  manager.save_snapshot(versioned("p", 1));
  const std::string bad = "p\xff";
  hotstate::AuditQuery query;
  query.plugin_id = bad;
  const auto events_before = RawDb(path).query_int("SELECT count(*) FROM audit_events");
  CHECK(error_code_of([&] { (void)manager.rollback(bad); }) == ErrorCode::InvalidUtf8);
  CHECK(error_code_of([&] { manager.clear(bad); }) == ErrorCode::InvalidUtf8);
  CHECK(error_code_of([&] { (void)manager.load_snapshot(bad); }) == ErrorCode::InvalidUtf8);
  CHECK(error_code_of([&] { (void)manager.get_latest(bad); }) == ErrorCode::InvalidUtf8);
  CHECK(error_code_of([&] { (void)manager.get_history(bad); }) == ErrorCode::InvalidUtf8);
  CHECK(error_code_of([&] { (void)manager.plugin_state(bad); }) == ErrorCode::InvalidUtf8);
  CHECK(error_code_of([&] { manager.set_plugin_state(bad, hotstate::PluginState::Running); }) == ErrorCode::InvalidUtf8);
  CHECK(error_code_of([&] { (void)manager.audit_events(query); }) == ErrorCode::InvalidUtf8);
  CHECK(error_code_of([&] { (void)manager.rollback(std::string(2000, 'x')); }) == ErrorCode::TooLarge);
  CHECK(RawDb(path).query_int("SELECT count(*) FROM audit_events") == events_before);
  CHECK(current_version(manager, "p") == 1);
}

TEST_CASE("backup refuses the database itself and replaces another file whole", "[untrusted][backup]") {
  TempDir dir;
  const auto path = dir.file("source.db");
  StateManager manager(file_options(path));
  manager.save_snapshot(versioned("p", 1));
  const std::string before = hotstate_test::read_file(path);
  CHECK(error_code_of([&] { manager.backup(path); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([&] { manager.backup(dir.path().string() + "/./source.db"); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([&] { manager.backup(path + "-wal"); }) == ErrorCode::InvalidArgument);
  std::filesystem::create_symlink(path, dir.file("link.db"));
  CHECK(error_code_of([&] { manager.backup(dir.file("link.db")); }) == ErrorCode::InvalidArgument);
  CHECK(current_version(manager, "p") == 1);

  const auto copy = dir.file("copy.db");
  hotstate_test::write_file(copy, "an older file in the way");
  manager.backup(copy);
  hotstate::Options options = file_options(copy);
  options.read_only = true;
  CHECK(current_version(StateManager(options), "p") == 1);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"copy.db", "link.db", "source.db", "source.db-shm", "source.db-wal"});
}
