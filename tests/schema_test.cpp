// schema/schema.sql, the schema written for people, against the schema the
// migrations build: they must describe the same database, the file must be
// commented column by column, and a database made from it must work.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "hotstate/hotstate.hpp"
#include "store/schema_guard.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path schema_sql_path = fs::path(HOTSTATE_SOURCE_DIR) / "schema" / "schema.sql";

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A database file path unique to this test run, removed (with its WAL and
// shared-memory files) when the object goes out of scope.
class TempDatabase {
 public:
  explicit TempDatabase(const std::string& label) {
    std::random_device entropy;
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    std::mt19937_64 rng((static_cast<std::uint64_t>(entropy()) << 32) ^ static_cast<std::uint64_t>(now));
    path_ = fs::temp_directory_path() /
            ("hotstate_schema_test_" + label + "_" + std::to_string(rng()) + ".db");
  }
  ~TempDatabase() {
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(path_.string() + suffix, ignored);
  }
  TempDatabase(const TempDatabase&) = delete;
  TempDatabase& operator=(const TempDatabase&) = delete;

  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

// A plain sqlite3 connection, closed on scope exit.
class Connection {
 public:
  explicit Connection(const std::string& path, int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw std::runtime_error("cannot open " + path + ": " + message);
    }
  }
  ~Connection() { sqlite3_close(db_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs a script of any number of statements, as `sqlite3 file < script` does.
  void exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      const std::string message = error ? error : sqlite3_errmsg(db_);
      sqlite3_free(error);
      throw std::runtime_error("sqlite3_exec failed: " + message);
    }
  }

  // Every row of one statement, each column as text ("NULL" for NULL).
  std::vector<std::vector<std::string>> query(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
      throw std::runtime_error("cannot prepare '" + sql + "': " + sqlite3_errmsg(db_));
    }
    std::vector<std::vector<std::string>> rows;
    int rc = SQLITE_OK;
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(statement); ++i) {
        const unsigned char* text = sqlite3_column_text(statement, i);
        row.emplace_back(text ? reinterpret_cast<const char*>(text) : "NULL");
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(statement);
    if (rc != SQLITE_DONE) throw std::runtime_error("cannot run '" + sql + "': " + sqlite3_errmsg(db_));
    return rows;
  }

  std::vector<std::string> column(const std::string& sql) {
    std::vector<std::string> values;
    for (auto& row : query(sql)) values.push_back(row.at(0));
    return values;
  }

  std::string single(const std::string& sql) { return query(sql).at(0).at(0); }

  sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

std::string quoted(const std::string& name) { return "\"" + name + "\""; }

std::string join(const std::vector<std::string>& parts, const char* separator = " ") {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

// What the schema of a database is, as comparable facts keyed by the object
// they describe: every object's SQL (normalized: comments and layout aside,
// token for token) and table, tables and their columns, indexes and their
// columns, trigger names (with their table, in creation order per table),
// view names and view columns, and the file identity.
std::map<std::string, std::string> describe_schema(Connection& db) {
  std::map<std::string, std::string> facts;
  facts["pragma application_id"] = db.single("PRAGMA application_id");
  facts["pragma user_version"] = db.single("PRAGMA user_version");
  for (const auto& object : db.query("SELECT type, name, tbl_name, sql IS NULL, sql FROM sqlite_schema")) {
    facts["sql of " + object.at(0) + " " + object.at(1)] =
        "on " + object.at(2) + ": " + (object.at(3) == "1" ? "NULL" : hotstate::internal::normalize_sql(object.at(4)));
  }

  for (const auto& table :
       db.column("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")) {
    facts["table " + table] = "exists";
    // table_xinfo: cid, name, type, notnull, dflt_value, pk, hidden.
    for (const auto& c : db.query("PRAGMA table_xinfo(" + quoted(table) + ")")) {
      facts["table " + table + " column " + c.at(1)] = "cid=" + c.at(0) + " type=" + c.at(2) +
                                                       " notnull=" + c.at(3) + " default=" + c.at(4) +
                                                       " pk=" + c.at(5) + " hidden=" + c.at(6);
    }
    // index_list: seq, name, unique, origin, partial.
    for (const auto& index : db.query("PRAGMA index_list(" + quoted(table) + ")")) {
      std::vector<std::string> columns;
      // index_info: seqno, cid, name.
      for (const auto& ic : db.query("PRAGMA index_info(" + quoted(index.at(1)) + ")")) {
        columns.push_back(ic.at(2) + "#" + ic.at(1));
      }
      facts["table " + table + " index " + index.at(1)] = "unique=" + index.at(2) + " origin=" + index.at(3) +
                                                          " partial=" + index.at(4) + " columns=" + join(columns);
    }
    facts["table " + table + " triggers in creation order"] =
        join(db.column("SELECT name FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = '" + table +
                       "' ORDER BY rowid"));
    // sqlite_sequence's rows are SQLite's bookkeeping (a migration's empty
    // INSERT … SELECT leaves a 0 there), not schema.
    if (table != "sqlite_sequence") facts["table " + table + " row count"] = db.single("SELECT count(*) FROM " + quoted(table));
  }
  for (const auto& trigger : db.query("SELECT name, tbl_name FROM sqlite_schema WHERE type = 'trigger'")) {
    facts["trigger " + trigger.at(0)] = "on " + trigger.at(1);
  }
  for (const auto& view : db.column("SELECT name FROM sqlite_schema WHERE type = 'view' ORDER BY name")) {
    std::vector<std::string> columns;
    for (const auto& c : db.query("PRAGMA table_xinfo(" + quoted(view) + ")")) columns.push_back(c.at(1));
    facts["view " + view] = "columns=" + join(columns);
  }
  facts["settings"] = join(db.column("SELECT id || ':' || max_history FROM settings ORDER BY id"));
  return facts;
}

void build_from_schema_sql(const std::string& path) {
  Connection db(path);
  db.exec(read_text(schema_sql_path));
}

void build_with_library(const std::string& path) {
  hotstate::Options options;
  options.path = path;
  hotstate::StateManager manager(options);
}

std::string trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  const auto end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

std::string upper(std::string text) {
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return text;
}

struct ColumnLine {
  std::string name;
  int line_number;
  bool commented;
};

// The column definitions in every CREATE TABLE block of `sql`, by table. A
// line inside a block starts a column unless it is a comment, blank, or
// continues the previous column or declares a table constraint.
std::map<std::string, std::vector<ColumnLine>> columns_in_create_table_blocks(const std::string& sql) {
  static const std::set<std::string> not_a_column = {"CHECK",   "DEFAULT", "CONSTRAINT", "PRIMARY", "UNIQUE",
                                                     "FOREIGN", "REFERENCES", "NOT",      "NULL",    "COLLATE",
                                                     "GENERATED", "AS",    "(",          ")"};
  std::map<std::string, std::vector<ColumnLine>> tables;
  std::istringstream lines(sql);
  std::string line;
  std::string table;  // the block being read; empty outside blocks
  int line_number = 0;
  while (std::getline(lines, line)) {
    ++line_number;
    const std::string code = trim(line.substr(0, line.find("--")));
    if (code.empty()) continue;
    if (table.empty()) {
      const std::string prefix = "CREATE TABLE ";
      if (upper(code).rfind(prefix, 0) == 0) {
        std::string rest = trim(code.substr(prefix.size()));
        if (upper(rest).rfind("IF NOT EXISTS ", 0) == 0) rest = trim(rest.substr(14));
        table = trim(rest.substr(0, rest.find('(')));
        tables[table];
      }
      continue;
    }
    if (code.front() == ')' && code.back() == ';') {  // the block's closing ");" (or ") STRICT;")
      table.clear();
      continue;
    }
    std::string word = code.substr(0, code.find_first_of(" \t(,"));
    if (word.empty()) word = code.substr(0, 1);
    if (not_a_column.count(upper(word)) != 0) continue;
    if (word.size() > 1 && (word.front() == '"' || word.front() == '`' || word.front() == '[')) {
      word = word.substr(1, word.size() - 2);
    }
    tables[table].push_back({word, line_number, line.find("--") != std::string::npos});
  }
  return tables;
}

}  // namespace

TEST_CASE("schema.sql describes the same schema the migrations build", "[schema]") {
  TempDatabase from_library("library");
  TempDatabase from_file("file");
  build_with_library(from_library.path());
  build_from_schema_sql(from_file.path());

  Connection library_db(from_library.path(), SQLITE_OPEN_READONLY);
  Connection file_db(from_file.path(), SQLITE_OPEN_READONLY);
  const auto library_facts = describe_schema(library_db);
  const auto file_facts = describe_schema(file_db);

  // A sanity check that the description sees the schema at all.
  REQUIRE(library_facts.count("table snapshots column plugin_id") == 1);
  REQUIRE(library_facts.count("view current_snapshots") == 1);
  CHECK(library_facts.at("pragma application_id") == "1213420609");
  CHECK(library_facts.at("pragma user_version") == std::to_string(hotstate::schema_version()));

  std::set<std::string> keys;
  for (const auto& [key, value] : library_facts) keys.insert(key);
  for (const auto& [key, value] : file_facts) keys.insert(key);
  for (const auto& key : keys) {
    INFO("schema fact: " << key);
    const auto in_library = library_facts.find(key);
    const auto in_file = file_facts.find(key);
    const std::string library_value = in_library == library_facts.end() ? "<missing>" : in_library->second;
    const std::string file_value = in_file == file_facts.end() ? "<missing>" : in_file->second;
    CHECK(file_value == library_value);
  }

  // The same comparison as hotstate makes of a file it opens: every object of
  // the migrations' schema, by normalized SQL and table, and nothing else.
  std::string differences;
  for (const auto& difference : hotstate::internal::compare_schema(file_db.handle(), hotstate::schema_version())) {
    differences += "\n  " + hotstate::internal::describe(difference);
  }
  INFO("schema/schema.sql against migrations/*.sql:" << differences);
  CHECK(differences.empty());
}

TEST_CASE("schema.sql comments every column of every table", "[schema]") {
  const std::string sql = read_text(schema_sql_path);
  const auto tables = columns_in_create_table_blocks(sql);

  // The parse found every table and every column the file creates.
  TempDatabase from_file("comments");
  build_from_schema_sql(from_file.path());
  Connection db(from_file.path(), SQLITE_OPEN_READONLY);
  std::set<std::string> created_tables;
  for (const auto& name : db.column("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")) {
    created_tables.insert(name);
  }
  std::set<std::string> parsed_tables;
  for (const auto& [name, columns] : tables) parsed_tables.insert(name);
  REQUIRE(parsed_tables == created_tables);

  for (const auto& [table, columns] : tables) {
    std::vector<std::string> parsed_names;
    for (const auto& column : columns) parsed_names.push_back(column.name);
    const auto created_names = db.column("SELECT name FROM pragma_table_xinfo('" + table + "') ORDER BY cid");
    INFO("table " << table);
    CHECK(parsed_names == created_names);
    for (const auto& column : columns) {
      INFO("column " << table << "." << column.name << " on line " << column.line_number << " of schema/schema.sql");
      CHECK(column.commented);
    }
  }
}

TEST_CASE("a database created from schema.sql opens with hotstate as current and stores snapshots", "[schema]") {
  TempDatabase file("opens");
  build_from_schema_sql(file.path());

  {
    hotstate::Options options;
    options.path = file.path();
    options.max_history = 5;  // used only when hotstate creates a file: this one exists
    hotstate::StateManager manager(options);
    CHECK(manager.max_history() == 10);  // schema.sql's bound: opening changes nothing (issue 10, point 1)
    CHECK(manager.plugin_ids().empty());

    manager.save_snapshot(hotstate::StateSnapshot("counter", "1.0.0").with_data("count", 1).with_metadata("k", "v"));
    manager.save_snapshot(hotstate::StateSnapshot("counter", "1.1.0").with_data("count", 2));

    const hotstate::SnapshotPtr current = manager.load_snapshot("counter");
    REQUIRE(current != nullptr);
    CHECK(current->plugin_version == "1.1.0");
    CHECK(current->get<int>("count") == 2);
    CHECK(manager.get_history("counter").size() == 1);

    const hotstate::SnapshotPtr restored = manager.rollback("counter");
    REQUIRE(restored != nullptr);
    CHECK(restored->get<int>("count") == 1);
    CHECK(restored->get_metadata("k") == std::optional<std::string_view>("v"));
  }

  // Opening ran no migration: the file still has the identity schema.sql gave it.
  Connection db(file.path(), SQLITE_OPEN_READONLY);
  CHECK(db.single("PRAGMA application_id") == "1213420609");
  CHECK(db.single("PRAGMA user_version") == std::to_string(hotstate::schema_version()));
  CHECK(db.single("SELECT json_extract(data, '$.count') FROM current_snapshots WHERE plugin_id = 'counter'") == "1");
}
