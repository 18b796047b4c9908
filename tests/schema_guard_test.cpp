// The schema guard (src/store/schema_guard.hpp): the schema the migrations
// build, SQL normalization, and what a file prepared by someone else carries
// in sqlite_schema that would run SQL inside hotstate (issue 10, point 5).
// Each hostile change is made with a plain sqlite3 connection to a real file
// that hotstate created, as a person with the sqlite3 shell would make it.
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "hotstate/hotstate.hpp"
#include "store/migrations.hpp"
#include "store/schema_guard.hpp"
#include "support.hpp"

namespace {

using hotstate::internal::compare_schema;
using hotstate::internal::describe;
using hotstate::internal::embedded_migrations;
using hotstate::internal::expected_schema;
using hotstate::internal::normalize_sql;
using hotstate::internal::SchemaDifference;
using hotstate::internal::SchemaObject;
using hotstate_test::TempDir;
using Kind = SchemaDifference::Kind;

const int latest = static_cast<int>(embedded_migrations().size());

// A plain sqlite3 connection to a file (the sqlite3 shell's view of it).
class Db {
 public:
  explicit Db(const std::string& path, int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      const std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw std::runtime_error("cannot open " + path + ": " + message);
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  ~Db() { sqlite3_close(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  sqlite3* handle() const { return db_; }

  void exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      const std::string message = error != nullptr ? error : sqlite3_errmsg(db_);
      sqlite3_free(error);
      throw std::runtime_error(sql + ": " + message);
    }
  }

  // The first column of the first row as text ("" when there is none).
  std::string single(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    }
    std::string value;
    const int rc = sqlite3_step(statement);
    if (rc == SQLITE_ROW && sqlite3_column_text(statement, 0) != nullptr) {
      value.assign(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0)),
                   static_cast<std::size_t>(sqlite3_column_bytes(statement, 0)));
    }
    sqlite3_finalize(statement);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    return value;
  }

  // Rows written straight into sqlite_schema, as only a hostile tool would.
  void exec_writable_schema(const std::string& sql) {
    exec("PRAGMA writable_schema = ON");
    exec(sql);
    exec("PRAGMA writable_schema = OFF");
  }

 private:
  sqlite3* db_ = nullptr;
};

// A database file created by hotstate, with one snapshot in it.
std::string hotstate_file(const TempDir& dir, const std::string& name = "state.db") {
  const std::string path = dir.file(name);
  hotstate::StateManager manager(hotstate_test::file_options(path));
  manager.save_snapshot(hotstate_test::versioned("counter", 1));
  return path;
}

// compare_schema on a fresh read-only connection (nothing of the file is cached).
std::vector<SchemaDifference> differences_in(const std::string& path, int version = latest) {
  Db db(path, SQLITE_OPEN_READONLY);
  return compare_schema(db.handle(), version);
}

using Fact = std::tuple<Kind, std::string, std::string, std::string>;  // kind, type, name, table

std::set<Fact> facts(const std::vector<SchemaDifference>& differences) {
  std::set<Fact> out;
  for (const auto& d : differences) out.emplace(d.kind, d.type, d.name, d.table);
  return out;
}

std::string listing(const std::vector<SchemaDifference>& differences) {
  std::ostringstream out;
  for (const auto& d : differences) out << "  " << describe(d) << "\n";
  return differences.empty() ? "  (no differences)\n" : out.str();
}

const SchemaObject& expected_object(const std::string& type, const std::string& name) {
  for (const auto& object : expected_schema(latest)) {
    if (object.type == type && object.name == name) return object;
  }
  throw std::logic_error("hotstate's schema has no " + type + " " + name);
}

std::string replace_first(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::logic_error("'" + from + "' not found in: " + text);
  return text.replace(at, from.size(), to);
}

}  // namespace

// ---------------------------------------------------------------------------
// normalize_sql

TEST_CASE("normalize_sql removes comments and normalizes whitespace between tokens", "[schema][schema_guard]") {
  CHECK(normalize_sql("CREATE TABLE t (\n  a INTEGER,  -- the first\n  b TEXT /* the second */ NOT NULL\n)") ==
        "CREATE TABLE t(a INTEGER,b TEXT NOT NULL)");
  CHECK(normalize_sql("  SELECT\t1 ,\r\n\f 2  ;  ") == "SELECT 1,2;");
  CHECK(normalize_sql("-- only a comment") == "");
  CHECK(normalize_sql("/* only a comment */") == "");
  CHECK(normalize_sql("") == "");
  // A comment separates two words as whitespace does.
  CHECK(normalize_sql("SELECT/**/1") == "SELECT 1");
  CHECK(normalize_sql("SELECT--x\n1") == "SELECT 1");
  // An unterminated block comment runs to the end; a line comment to the end of its line.
  CHECK(normalize_sql("SELECT 1 /* open") == "SELECT 1");
  CHECK(normalize_sql("SELECT 1 -- no newline") == "SELECT 1");
  // Punctuation: no space around it.
  CHECK(normalize_sql("WHERE seq = ( SELECT max ( seq ) FROM s AS x ) AND a . b <> 1") ==
        "WHERE seq=(SELECT max(seq)FROM s AS x)AND a.b<>1");
  // No case folding: only layout is normalized.
  CHECK(normalize_sql("select 1") == "select 1");
  CHECK(normalize_sql("select 1") != normalize_sql("SELECT 1"));
}

TEST_CASE("normalize_sql keeps string literals and quoted identifiers byte for byte", "[schema][schema_guard]") {
  CHECK(normalize_sql("SELECT 'a -- not a comment\n  /* nor this */  end' ,  'it''s'") ==
        "SELECT 'a -- not a comment\n  /* nor this */  end','it''s'");
  CHECK(normalize_sql("SELECT \"a  b\" , `c -- d` ,[e  /* f */] FROM t") == "SELECT \"a  b\",`c -- d`,[e  /* f */] FROM t");
  CHECK(normalize_sql("SELECT \"say \"\"hi\"\"\"  ,  x'0A0b'") == "SELECT \"say \"\"hi\"\"\",x'0A0b'");
  // An unterminated string runs to the end, unchanged.
  CHECK(normalize_sql("SELECT 'open  -- x\n  y") == "SELECT 'open  -- x\n  y");
  // Only whitespace outside strings is normalized.
  CHECK(normalize_sql("SELECT 'a  b'") != normalize_sql("SELECT 'a b'"));
  CHECK(normalize_sql("SELECT \"a\tb\"") != normalize_sql("SELECT \"a b\""));
}

TEST_CASE("normalize_sql never makes different tokens read alike", "[schema][schema_guard]") {
  // Two punctuation tokens that would read as one token (or a comment) keep a space.
  CHECK(normalize_sql("a - - 1") == "a- -1");
  CHECK(normalize_sql("a - -1") != normalize_sql("a--1"));
  CHECK(normalize_sql("a < = b") == "a< =b");
  CHECK(normalize_sql("a < = b") != normalize_sql("a <= b"));
  CHECK(normalize_sql("a | | b") != normalize_sql("a || b"));
  CHECK(normalize_sql("a / * b") == "a/ *b");
  CHECK(normalize_sql("a - > b") != normalize_sql("a -> b"));
  CHECK(normalize_sql("a -> > b") != normalize_sql("a ->> b"));
  CHECK(normalize_sql("a = = b") != normalize_sql("a == b"));
  // Words (strings and quoted identifiers among them) keep a space between them.
  CHECK(normalize_sql("SELECT 'a' 'b'") == "SELECT 'a' 'b'");
  CHECK(normalize_sql("SELECT 'a' 'b'") != normalize_sql("SELECT 'a''b'"));
  CHECK(normalize_sql("SELECT x 'ab'") != normalize_sql("SELECT x'ab'"));
  CHECK(normalize_sql("SELECT \"a\" \"b\"") != normalize_sql("SELECT \"a\"\"b\""));
  CHECK(normalize_sql("SELECT 1 . 5") != normalize_sql("SELECT 1.5"));
  CHECK(normalize_sql("SELECT 1.5e3, .5, 0x1F, ?1, :name, @v, $w") == "SELECT 1.5e3,.5,0x1F,?1,:name,@v,$w");
}

TEST_CASE("normalize_sql is idempotent on hotstate's schema", "[schema][schema_guard]") {
  for (const auto& object : expected_schema(latest)) {
    INFO(object.type << " " << object.name);
    const std::string once = normalize_sql(object.sql);
    CHECK(normalize_sql(once) == once);
    CHECK(once.find("--") == std::string::npos);  // hotstate's SQL has comments, no "- -"
  }
}

// ---------------------------------------------------------------------------
// expected_schema

TEST_CASE("expected_schema is what the migrations build, once per version", "[schema][schema_guard]") {
  REQUIRE(latest >= 2);
  CHECK(expected_schema(0).empty());
  for (int version = 1; version <= latest; ++version) {
    const auto& objects = expected_schema(version);
    INFO("version " << version);
    REQUIRE_FALSE(objects.empty());
    CHECK(std::is_sorted(objects.begin(), objects.end(), [](const SchemaObject& a, const SchemaObject& b) {
      return std::tie(a.type, a.name) < std::tie(b.type, b.name);
    }));
    for (const auto& object : objects) {
      INFO(object.type << " " << object.name);
      CHECK(object.name.rfind("sqlite_", 0) != 0);  // SQLite's own objects are left out
      CHECK_FALSE(object.sql.empty());
      CHECK_FALSE(object.table.empty());
    }
    CHECK(&expected_schema(version) == &objects);  // computed once, the same object every time
  }
  CHECK(expected_object("table", "snapshots").table == "snapshots");
  CHECK(expected_object("trigger", "snapshots_trim_history").table == "snapshots");
  CHECK(expected_object("index", "snapshots_by_plugin").table == "snapshots");
  CHECK(expected_object("view", "current_snapshots").table == "current_snapshots");
  // Version 2 replaced the trim trigger of version 1 (it records trimmed rows since).
  const auto trim_in = [](int version) {
    for (const auto& object : expected_schema(version)) {
      if (object.type == "trigger" && object.name == "snapshots_trim_history") return object.sql;
    }
    return std::string();
  };
  CHECK(trim_in(1).find("HistoryTrimmed") == std::string::npos);
  CHECK(trim_in(2).find("HistoryTrimmed") != std::string::npos);

  CHECK(hotstate_test::error_code_of([] { expected_schema(-1); }) == hotstate::ErrorCode::InvalidArgument);
  CHECK(hotstate_test::error_code_of([] { expected_schema(latest + 1); }) == hotstate::ErrorCode::InvalidArgument);
}

TEST_CASE("expected_schema gives every thread the same schema", "[schema][schema_guard]") {
  std::vector<const std::vector<SchemaObject>*> seen(8, nullptr);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&seen, i] { seen[i] = &expected_schema(latest - static_cast<int>(i % 2)); });
  }
  for (auto& thread : threads) thread.join();
  for (std::size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == &expected_schema(latest - static_cast<int>(i % 2)));
}

TEST_CASE("expected_schema has byte for byte the SQL of a file hotstate created", "[schema][schema_guard]") {
  TempDir dir;
  Db db(hotstate_file(dir), SQLITE_OPEN_READONLY);
  std::set<std::tuple<std::string, std::string, std::string, std::string>> in_file;
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(db.handle(),
                             "SELECT type, name, tbl_name, sql FROM sqlite_master "
                             "WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
                             -1, &statement, nullptr) == SQLITE_OK);
  while (sqlite3_step(statement) == SQLITE_ROW) {
    auto text = [&](int column) { return std::string(reinterpret_cast<const char*>(sqlite3_column_text(statement, column))); };
    in_file.emplace(text(0), text(1), text(2), text(3));
  }
  sqlite3_finalize(statement);
  std::set<std::tuple<std::string, std::string, std::string, std::string>> expected;
  for (const auto& o : expected_schema(latest)) expected.emplace(o.type, o.name, o.table, o.sql);
  CHECK(in_file == expected);
}

// ---------------------------------------------------------------------------
// compare_schema: files without differences

TEST_CASE("a database hotstate created has no schema differences", "[schema][schema_guard]") {
  TempDir dir;
  const std::string path = hotstate_file(dir);
  const auto differences = differences_in(path);
  INFO(listing(differences));
  CHECK(differences.empty());
}

TEST_CASE("a database at an older schema version matches that version, and again once migrated",
          "[schema][schema_guard]") {
  TempDir dir;
  const std::string path = dir.file("v1.db");
  {
    // Migration 0001 alone, as a hotstate of schema version 1 applied it.
    Db db(path);
    db.exec("BEGIN IMMEDIATE");
    db.exec(std::string(embedded_migrations().at(0).sql));
    db.exec("PRAGMA user_version = 1");
    db.exec("COMMIT");
  }
  {
    const auto differences = differences_in(path, 1);
    INFO(listing(differences));
    CHECK(differences.empty());
  }
  CHECK_FALSE(differences_in(path, latest).empty());  // not yet the current schema
  { hotstate::StateManager manager(hotstate_test::file_options(path)); }
  const auto differences = differences_in(path, latest);
  INFO(listing(differences));
  CHECK(differences.empty());
}

TEST_CASE("a database created from schema/schema.sql has the migrations' schema in normalized SQL",
          "[schema][schema_guard]") {
  TempDir dir;
  const std::string path = dir.file("from_schema_sql.db");
  {
    Db db(path);
    db.exec(hotstate_test::read_file(std::string(HOTSTATE_SOURCE_DIR) + "/schema/schema.sql"));
  }
  const auto differences = differences_in(path);
  INFO("schema/schema.sql against migrations/*.sql:\n" << listing(differences));
  CHECK(differences.empty());
}

TEST_CASE("the same SQL in another layout is no difference", "[schema][schema_guard]") {
  TempDir dir;
  const std::string path = hotstate_file(dir);
  {
    Db db(path);
    // hotstate's own trigger re-created in its most compact form, with a comment added.
    const std::string sql = normalize_sql(expected_object("trigger", "snapshots_seq_immutable").sql);
    db.exec("DROP TRIGGER snapshots_seq_immutable");
    db.exec(replace_first(sql, "BEGIN", "\n  BEGIN  -- re-created by hand\n  "));
    REQUIRE(db.single("SELECT sql FROM sqlite_master WHERE name = 'snapshots_seq_immutable'") !=
            expected_object("trigger", "snapshots_seq_immutable").sql);
  }
  const auto differences = differences_in(path);
  INFO(listing(differences));
  CHECK(differences.empty());
}

TEST_CASE("SQLite's own objects are not reported; the same names with other SQL are", "[schema][schema_guard]") {
  TempDir dir;
  const std::string path = hotstate_file(dir);
  Db db(path);
  db.exec("ANALYZE");  // sqlite_stat1 (and sqlite_stat4 where compiled in)
  REQUIRE(db.single("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'") == "1");
  {
    const auto differences = differences_in(path);
    INFO(listing(differences));
    CHECK(differences.empty());
  }
  db.exec_writable_schema("UPDATE sqlite_master SET sql = 'CREATE TABLE sqlite_stat1(tbl,idx,stat,extra)' "
                          "WHERE name = 'sqlite_stat1'");
  const auto differences = differences_in(path);
  INFO(listing(differences));
  CHECK(facts(differences) == std::set<Fact>{{Kind::Unknown, "table", "sqlite_stat1", "sqlite_stat1"}});
}

// ---------------------------------------------------------------------------
// compare_schema: hostile files

TEST_CASE("every schema object a hostile file adds or changes is reported", "[schema][schema_guard]") {
  TempDir dir;
  const std::string path = hotstate_file(dir);
  Db db(path);
  std::set<Fact> expected;

  SECTION("a trigger added to snapshots (an endless recursive query)") {
    db.exec("CREATE TRIGGER evil AFTER INSERT ON snapshots BEGIN "
            "SELECT count(*) FROM (WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT i FROM r); END");
    expected = {{Kind::Unknown, "trigger", "evil", "snapshots"}};
    CHECK(describe(differences_in(path).at(0)) == "trigger evil on snapshots is not hotstate's");
  }
  SECTION("snapshots_audit_edit replaced by a body of the same name") {
    db.exec("DROP TRIGGER snapshots_audit_edit");
    db.exec("CREATE TRIGGER snapshots_audit_edit AFTER UPDATE OF plugin_id, timestamp, plugin_version, data, metadata "
            "ON snapshots BEGIN SELECT 1; END");
    expected = {{Kind::Changed, "trigger", "snapshots_audit_edit", "snapshots"}};
    CHECK(describe(differences_in(path).at(0)) == "trigger snapshots_audit_edit on snapshots differs from hotstate's");
  }
  SECTION("snapshots_trim_history replaced by a backdoor of the same name that rewrites every save") {
    db.exec("DROP TRIGGER snapshots_trim_history");
    db.exec("CREATE TRIGGER snapshots_trim_history AFTER INSERT ON snapshots BEGIN "
            "UPDATE snapshots SET data = '{\"owned\":true}' WHERE seq = NEW.seq; END");
    expected = {{Kind::Changed, "trigger", "snapshots_trim_history", "snapshots"}};
  }
  SECTION("hotstate's trigger with one string literal changed") {
    const std::string sql = expected_object("trigger", "settings_keep_row").sql;
    db.exec("DROP TRIGGER settings_keep_row");
    db.exec(replace_first(sql, "'hotstate: ", "'hotstate:  "));
    expected = {{Kind::Changed, "trigger", "settings_keep_row", "settings"}};
  }
  SECTION("hotstate's trigger name on another table") {
    const std::string sql = expected_object("trigger", "snapshots_seq_immutable").sql;
    db.exec("DROP TRIGGER snapshots_seq_immutable");
    db.exec("CREATE TRIGGER snapshots_seq_immutable BEFORE UPDATE ON audit_kinds BEGIN SELECT 1; END");
    expected = {{Kind::Changed, "trigger", "snapshots_seq_immutable", "audit_kinds"}};
  }
  SECTION("a trigger of hotstate's removed") {
    db.exec("DROP TRIGGER settings_keep_row");
    expected = {{Kind::Missing, "trigger", "settings_keep_row", "settings"}};
    CHECK(describe(differences_in(path).at(0)) == "trigger settings_keep_row on settings is missing (hotstate creates it)");
  }
  SECTION("a table of its own with a trigger that deletes from snapshots") {
    db.exec("CREATE TABLE side (x)");
    db.exec("CREATE TRIGGER side_wipe AFTER INSERT ON side BEGIN DELETE FROM snapshots; END");
    expected = {{Kind::Unknown, "table", "side", "side"}, {Kind::Unknown, "trigger", "side_wipe", "side"}};
    CHECK(describe(differences_in(path).at(0)) == "table side is not hotstate's");
  }
  SECTION("a view of its own, and an INSTEAD OF trigger on it") {
    db.exec("CREATE VIEW extra AS SELECT plugin_id FROM snapshots");
    db.exec("CREATE TRIGGER extra_write INSTEAD OF INSERT ON extra BEGIN DELETE FROM snapshots; END");
    expected = {{Kind::Unknown, "view", "extra", "extra"}, {Kind::Unknown, "trigger", "extra_write", "extra"}};
  }
  SECTION("a view of hotstate's with another body") {
    db.exec("DROP VIEW current_snapshots");
    db.exec("CREATE VIEW current_snapshots AS SELECT * FROM snapshots");
    expected = {{Kind::Changed, "view", "current_snapshots", "current_snapshots"}};
  }
  SECTION("a table replaced by a view of the same name") {
    db.exec("DROP TABLE snapshots");
    db.exec("CREATE VIEW snapshots AS WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) "
            "SELECT i AS seq, '' AS plugin_id, 0 AS timestamp, '' AS plugin_version, '{}' AS data, '{}' AS metadata, "
            "0 AS saved_at_us, NULL AS canonical_hash, NULL AS content_hash FROM r");
    // The table goes, and with it the indexes and triggers on it.
    for (const auto& object : expected_schema(latest)) {
      if (object.table == "snapshots") expected.emplace(Kind::Missing, object.type, object.name, object.table);
    }
    expected.emplace(Kind::Unknown, "view", "snapshots", "snapshots");
    REQUIRE(expected.count({Kind::Missing, "table", "snapshots", "snapshots"}) == 1);
  }
  SECTION("a generated column added to snapshots with ALTER TABLE") {
    db.exec("ALTER TABLE snapshots ADD COLUMN evil INTEGER AS (length(data) * 2) VIRTUAL");
    expected = {{Kind::Changed, "table", "snapshots", "snapshots"}};
  }
  SECTION("a CHECK of hotstate's table changed in one string literal (written into sqlite_schema)") {
    REQUIRE(expected_object("table", "audit_kinds").sql.find("'host'") != std::string::npos);
    db.exec_writable_schema("UPDATE sqlite_master SET sql = replace(sql, '''host''', '''Host''') "
                            "WHERE name = 'audit_kinds'");
    expected = {{Kind::Changed, "table", "audit_kinds", "audit_kinds"}};
  }
  SECTION("an expression index") {
    db.exec("CREATE INDEX evil_expression ON snapshots (length(data) * 2)");
    expected = {{Kind::Unknown, "index", "evil_expression", "snapshots"}};
    CHECK(describe(differences_in(path).at(0)) == "index evil_expression on snapshots is not hotstate's");
  }
  SECTION("a partial index") {
    db.exec("CREATE INDEX evil_partial ON audit_events (id) WHERE json_extract(detail, '$.seq') > 0");
    expected = {{Kind::Unknown, "index", "evil_partial", "audit_events"}};
  }
  SECTION("an index of hotstate's with another definition") {
    db.exec("DROP INDEX snapshots_by_plugin");
    db.exec("CREATE INDEX snapshots_by_plugin ON snapshots (plugin_id, seq) WHERE length(data) > 0");
    expected = {{Kind::Changed, "index", "snapshots_by_plugin", "snapshots"}};
  }
  SECTION("a virtual table and its shadow tables") {
    if (sqlite3_compileoption_used("ENABLE_FTS5") == 0) {
      WARN("this SQLite has no FTS5; the virtual table case is not checked");
      return;
    }
    db.exec("CREATE VIRTUAL TABLE search USING fts5(text)");
    for (const char* name : {"search", "search_data", "search_idx", "search_content", "search_docsize", "search_config"}) {
      expected.emplace(Kind::Unknown, "table", name, name);
    }
  }

  const auto differences = differences_in(path);
  INFO(listing(differences));
  CHECK(facts(differences) == expected);
}

TEST_CASE("a trigger row planted in sqlite_schema as CREATE TEMP TRIGGER runs, and is reported",
          "[schema][schema_guard]") {
  TempDir dir;
  const std::string path = hotstate_file(dir);
  {
    Db db(path);
    db.exec_writable_schema(
        "INSERT INTO sqlite_master (type, name, tbl_name, rootpage, sql) VALUES ('trigger', 'planted', 'snapshots', 0, "
        "'CREATE TEMP TRIGGER planted AFTER INSERT ON snapshots BEGIN "
        "INSERT INTO audit_events (plugin_id, kind) VALUES (''planted'', ''RollbackTriggered''); END')");
    // And one named like SQLite's own objects, which SQLite loads as well.
    db.exec_writable_schema(
        "INSERT INTO sqlite_master (type, name, tbl_name, rootpage, sql) VALUES ('trigger', 'sqlite_planted', "
        "'snapshots', 0, 'CREATE TRIGGER sqlite_planted AFTER INSERT ON snapshots BEGIN "
        "INSERT INTO audit_events (plugin_id, kind) VALUES (''sqlite_planted'', ''RollbackTriggered''); END')");
  }
  {
    // A new connection loads both from the file, and both run.
    Db db(path);
    db.exec("INSERT INTO snapshots (plugin_id) VALUES ('victim')");
    CHECK(db.single("SELECT count(*) FROM audit_events WHERE plugin_id IN ('planted', 'sqlite_planted')") == "2");
  }
  const auto differences = differences_in(path);
  INFO(listing(differences));
  CHECK(facts(differences) == std::set<Fact>{{Kind::Unknown, "trigger", "planted", "snapshots"},
                                             {Kind::Unknown, "trigger", "sqlite_planted", "snapshots"}});
}

TEST_CASE("a TEMP trigger belongs to its connection, never to the file", "[schema][schema_guard]") {
  TempDir dir;
  const std::string path = hotstate_file(dir);
  {
    Db db(path);
    db.exec("CREATE TEMP TRIGGER mine AFTER INSERT ON snapshots BEGIN SELECT 1; END");
    REQUIRE(db.single("SELECT count(*) FROM sqlite_temp_master WHERE name = 'mine'") == "1");
    // compare_schema reads the main schema: the connection's own temp schema is its owner's business.
    CHECK(compare_schema(db.handle(), latest).empty());
  }
  CHECK(differences_in(path).empty());
}

TEST_CASE("a schema SQLite cannot load makes compare_schema throw", "[schema][schema_guard]") {
  TempDir dir;
  const std::string path = hotstate_file(dir);
  {
    Db db(path);
    // A second trigger of the same name: SQLite refuses the whole schema.
    db.exec_writable_schema(
        "INSERT INTO sqlite_master (type, name, tbl_name, rootpage, sql) "
        "SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master WHERE name = 'settings_keep_row'");
  }
  CHECK(hotstate_test::error_code_of([&] { differences_in(path); }) == hotstate::ErrorCode::Corrupt);
}

// ---------------------------------------------------------------------------
// describe

TEST_CASE("describe names the object in one sentence, safe to print", "[schema][schema_guard]") {
  CHECK(describe({Kind::Unknown, "trigger", "evil", "snapshots"}) == "trigger evil on snapshots is not hotstate's");
  CHECK(describe({Kind::Changed, "table", "snapshots", "snapshots"}) == "table snapshots differs from hotstate's");
  CHECK(describe({Kind::Missing, "index", "snapshots_by_plugin", "snapshots"}) ==
        "index snapshots_by_plugin on snapshots is missing (hotstate creates it)");
  CHECK(describe({Kind::Unknown, "view", "v", "v"}) == "view v is not hotstate's");
  // Terminal escapes, C1 controls, invalid UTF-8 and backslashes are written out; other UTF-8 stays.
  CHECK(describe({Kind::Unknown, "trigger", "evil\x1b[2J\r\x7f", "snap\xc2\x9bshots"}) ==
        "trigger evil\\x1b[2J\\x0d\\x7f on snap\\xc2\\x9bshots is not hotstate's");
  CHECK(describe({Kind::Unknown, "trigger", "caf\xc3\xa9\xff\\", "t"}) == "trigger caf\xc3\xa9\\xff\\\\ on t is not hotstate's");
}
