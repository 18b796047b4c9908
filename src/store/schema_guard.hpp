// Internal: the schema a hotstate file must have, and what a file has instead.
//
// A file prepared by someone else can carry SQL that SQLite runs inside
// hotstate's own statements: triggers (on hotstate's tables, or with the name
// and a different body of one of hotstate's), views (also in place of a table
// of the same name), CHECK / DEFAULT / generated-column expressions in a
// changed table, expression and partial indexes, virtual tables. Everything of
// that kind lives in sqlite_schema, so comparing sqlite_schema with what the
// migrations build finds all of it. (TEMP objects live in the connection's own
// temp schema, which no file can fill; a "CREATE TEMP TRIGGER" row that a file
// plants in its sqlite_schema is loaded into main and is reported like any
// other unknown trigger.)
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>
#include <vector>

namespace hotstate::internal {

// A row of sqlite_schema: type ('table', 'index', 'view', 'trigger'), name,
// tbl_name, sql. SQLite's own objects are left out: sqlite_sequence and the
// sqlite_stat tables with the exact SQL SQLite gives them, and the
// sqlite_autoindex_* indexes (no SQL). Any other row, even one named
// sqlite_*, is an object like the others.
struct SchemaObject {
  std::string type, name, table, sql;
};

// The objects the embedded migrations 1..version build, sorted by (type, name):
// the migrations run on a fresh :memory: database as the store runs them
// (each in a BEGIN IMMEDIATE transaction, its SQL then PRAGMA user_version),
// with sha3() registered. Computed once per process and version; thread-safe;
// the reference stays valid for the life of the process. version 0 is the
// empty schema. Throws Error(InvalidArgument) for a version outside
// 0..embedded_migrations().size(), Error(Internal) if a migration fails.
const std::vector<SchemaObject>& expected_schema(int version);

// `sql` with comments (-- and /* */) removed and the whitespace between tokens
// normalized: one space between two word tokens (keywords, identifiers,
// numbers, parameters, string and blob literals, quoted identifiers), none
// around punctuation, except a space between two punctuation tokens that
// would otherwise read as one token or a comment ("- -", "/ *", "< =", "| |").
// Tokens are kept byte for byte (no case folding; string literals and quoted
// identifiers exactly as written, '--' and newlines inside them included), so
// two texts normalize alike only when SQLite reads the same tokens from them.
// For comparing schema text that is the same SQL in another layout.
std::string normalize_sql(std::string_view sql);

struct SchemaDifference {
  enum class Kind {
    Missing,  // hotstate creates it (type, name); the file does not have it
    Changed,  // the file has it, with another normalized SQL or on another table
    Unknown,  // hotstate does not create it (or the file has a second row of that type and name)
  };
  Kind kind;
  std::string type, name, table;  // table: the object's tbl_name in the file (Missing: in hotstate's schema)
};

// db's main schema against expected_schema(version): objects missing, objects
// whose normalized SQL or table differs (Changed), and objects hotstate does
// not create (Unknown: triggers, views, indexes, tables, including virtual
// tables and their shadow tables). Sorted by (type, name, kind); empty when
// the schema is hotstate's. Reads main.sqlite_schema only (nothing of the file
// runs); the caller decides what is fatal. Throws Error (Corrupt for a schema
// SQLite cannot load, e.g. two triggers of one name) if sqlite_schema cannot
// be read, and as expected_schema for a bad version.
std::vector<SchemaDifference> compare_schema(sqlite3* db, int version);

// One sentence, e.g. "trigger evil on snapshots is not hotstate's". Control
// characters, DEL, C1 controls, invalid UTF-8 and backslashes in names are
// written as \xHH (\\), so the sentence is safe to print to a terminal.
std::string describe(const SchemaDifference& difference);

}  // namespace hotstate::internal
