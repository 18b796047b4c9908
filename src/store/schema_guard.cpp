#include "store/schema_guard.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "hotstate/error.hpp"
#include "model/hex.hpp"
#include "model/mutex.hpp"
#include "store/connection.hpp"
#include "store/migrations.hpp"
#include "store/sqlite_error.hpp"

namespace hotstate::internal {

namespace {

// ---- SQL tokens, as SQLite's tokenizer (tokenize.c) reads them.

enum class TokenKind { Space, Comment, Word, Punct };

bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == '\v'; }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_hex_digit(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
// SQLite's IdChar: letters, digits, '_', '$' and every byte of a multi-byte UTF-8 character.
bool is_id_char(unsigned char c) { return is_alpha(c) || is_digit(c) || c == '_' || c == '$' || c >= 0x80; }

unsigned char at(std::string_view s, std::size_t i) { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0; }

std::size_t skip_id_chars(std::string_view s, std::size_t i) {
  while (i < s.size() && is_id_char(at(s, i))) ++i;
  return i;
}

// A numeric literal starting at i (a digit, or '.' before a digit): decimal
// with fraction and exponent, or hexadecimal; SQLite runs any identifier
// characters that follow into the same (then illegal) token.
std::size_t number_end(std::string_view s, std::size_t i) {
  if (at(s, i) == '0' && (at(s, i + 1) == 'x' || at(s, i + 1) == 'X') && is_hex_digit(at(s, i + 2))) {
    i += 2;
    while (is_hex_digit(at(s, i)) || at(s, i) == '_') ++i;
    return skip_id_chars(s, i);
  }
  while (is_digit(at(s, i)) || at(s, i) == '_') ++i;
  if (at(s, i) == '.') {
    ++i;
    while (is_digit(at(s, i)) || at(s, i) == '_') ++i;
  }
  if ((at(s, i) == 'e' || at(s, i) == 'E') &&
      (is_digit(at(s, i + 1)) || ((at(s, i + 1) == '+' || at(s, i + 1) == '-') && is_digit(at(s, i + 2))))) {
    i += 2;
    while (is_digit(at(s, i)) || at(s, i) == '_') ++i;
  }
  return skip_id_chars(s, i);
}

// The end of a quoted token opened by s[i]: 'string', "identifier",
// `identifier` (the quote doubled inside stands for itself); unterminated:
// the rest of the text.
std::size_t quoted_end(std::string_view s, std::size_t i) {
  const char quote = s[i];
  for (std::size_t j = i + 1; j < s.size(); ++j) {
    if (s[j] != quote) continue;
    if (j + 1 < s.size() && s[j + 1] == quote) {
      ++j;
      continue;
    }
    return j + 1;
  }
  return s.size();
}

// The token that starts at `i` (i < s.size()): its end, and its kind.
std::size_t token_end(std::string_view s, std::size_t i, TokenKind& kind) {
  const unsigned char c = at(s, i);
  kind = TokenKind::Punct;
  if (is_space(c)) {
    kind = TokenKind::Space;
    while (i < s.size() && is_space(at(s, i))) ++i;
    return i;
  }
  switch (c) {
    case '-':
      if (at(s, i + 1) == '-') {
        kind = TokenKind::Comment;
        const std::size_t newline = s.find('\n', i + 2);
        return newline == std::string_view::npos ? s.size() : newline;
      }
      if (at(s, i + 1) == '>') return i + (at(s, i + 2) == '>' ? 3 : 2);
      return i + 1;
    case '/':
      if (at(s, i + 1) == '*') {
        kind = TokenKind::Comment;
        const std::size_t close = s.find("*/", i + 2);
        return close == std::string_view::npos ? s.size() : close + 2;
      }
      return i + 1;
    case '=': return i + (at(s, i + 1) == '=' ? 2 : 1);
    case '<': return i + (at(s, i + 1) == '=' || at(s, i + 1) == '>' || at(s, i + 1) == '<' ? 2 : 1);
    case '>': return i + (at(s, i + 1) == '=' || at(s, i + 1) == '>' ? 2 : 1);
    case '!': return i + (at(s, i + 1) == '=' ? 2 : 1);
    case '|': return i + (at(s, i + 1) == '|' ? 2 : 1);
    case '\'':
    case '"':
    case '`': kind = TokenKind::Word; return quoted_end(s, i);
    case '[': {
      kind = TokenKind::Word;
      const std::size_t close = s.find(']', i + 1);
      return close == std::string_view::npos ? s.size() : close + 1;
    }
    case '.':
      if (is_digit(at(s, i + 1))) {
        kind = TokenKind::Word;
        return number_end(s, i);
      }
      return i + 1;
    case '?':
      kind = TokenKind::Word;
      ++i;
      while (is_digit(at(s, i))) ++i;
      return i;
    case '$':
    case '@':
    case ':':
    case '#': kind = TokenKind::Word; return skip_id_chars(s, i + 1);
    default: break;
  }
  if (is_digit(c)) {
    kind = TokenKind::Word;
    return number_end(s, i);
  }
  if ((c == 'x' || c == 'X') && at(s, i + 1) == '\'') {  // blob literal x'0A'
    kind = TokenKind::Word;
    const std::size_t close = s.find('\'', i + 2);
    return close == std::string_view::npos ? s.size() : close + 1;
  }
  if (is_id_char(c)) {
    kind = TokenKind::Word;
    return skip_id_chars(s, i);
  }
  return i + 1;  // any other byte is a token of its own (SQLite: illegal)
}

// True when `first` written right before `second` would not read back as
// these two tokens (e.g. "-" "-1" would start a comment, "<" "=" would be "<=").
bool would_merge(std::string_view first, std::string_view second) {
  const std::string joined = std::string(first) + std::string(second);
  TokenKind kind{};
  return token_end(joined, 0, kind) != first.size();
}

// ---- sqlite_schema rows.

struct SchemaRow {
  SchemaObject object;
  bool sql_is_null = false;
};

// SQLite's own objects: the tables it creates itself, with exactly the SQL it
// gives them, and the indexes behind UNIQUE and PRIMARY KEY constraints (no SQL).
bool is_sqlite_internal(const SchemaRow& row) {
  static const std::pair<std::string_view, std::string_view> own_tables[] = {
      {"sqlite_sequence", "CREATE TABLE sqlite_sequence(name,seq)"},
      {"sqlite_stat1", "CREATE TABLE sqlite_stat1(tbl,idx,stat)"},
      {"sqlite_stat2", "CREATE TABLE sqlite_stat2(tbl,idx,sampleno,sample)"},
      {"sqlite_stat3", "CREATE TABLE sqlite_stat3(tbl,idx,neq,nlt,ndlt,sample)"},
      {"sqlite_stat4", "CREATE TABLE sqlite_stat4(tbl,idx,neq,nlt,ndlt,sample)"},
  };
  const SchemaObject& o = row.object;
  if (o.type == "table" && !row.sql_is_null) {
    for (const auto& [name, sql] : own_tables) {
      if (o.name == name && o.table == name && o.sql == sql) return true;
    }
    return false;
  }
  return o.type == "index" && row.sql_is_null && o.name.rfind("sqlite_autoindex_", 0) == 0;
}

std::string column_string(sqlite3_stmt* statement, int column) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
  if (text == nullptr) return {};
  return std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(statement, column)));
}

[[noreturn]] void throw_sqlite(sqlite3* db, int rc, std::string_view context) {
  const int code = db != nullptr ? sqlite3_extended_errcode(db) : rc;
  const SQLite::Exception error(db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc), code);
  rethrow_sqlite(context, error, code);
}

// Every row of db's main schema but SQLite's own, in rowid order. Reading it
// makes SQLite load (parse) the schema; nothing of it runs.
std::vector<SchemaRow> read_schema(sqlite3* db, std::string_view context) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT type, name, tbl_name, sql FROM main.sqlite_master ORDER BY rowid", -1, &raw,
                              nullptr);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> statement(raw, sqlite3_finalize);
  if (rc != SQLITE_OK) throw_sqlite(db, rc, context);
  std::vector<SchemaRow> rows;
  while ((rc = sqlite3_step(statement.get())) == SQLITE_ROW) {
    SchemaRow row;
    row.object.type = column_string(statement.get(), 0);
    row.object.name = column_string(statement.get(), 1);
    row.object.table = column_string(statement.get(), 2);
    row.sql_is_null = sqlite3_column_type(statement.get(), 3) == SQLITE_NULL;
    row.object.sql = column_string(statement.get(), 3);
    if (!is_sqlite_internal(row)) rows.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) throw_sqlite(db, rc, context);
  return rows;
}

// ---- The schema the migrations build.

void exec_or_throw(sqlite3* db, const std::string& sql, std::string_view context) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return;
  std::string text = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  throw Error(ErrorCode::Internal, std::string(context) + ": " + text);
}

std::vector<SchemaObject> build_expected_schema(int version) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, sqlite3_close_v2);
  if (rc != SQLITE_OK) throw_sqlite(db.get(), rc, "expected_schema: open :memory:");
  // The same sha3() the store's connections have: migration 0002 uses it.
  const int function_rc = register_sha3(db.get());
  if (function_rc != SQLITE_OK) throw_sqlite(db.get(), function_rc, "expected_schema: register sha3");

  for (const Migration& migration : embedded_migrations()) {
    if (migration.version > version) break;
    const std::string context = "expected_schema: migration " + std::string(migration.name);
    exec_or_throw(db.get(), "BEGIN IMMEDIATE", context);
    exec_or_throw(db.get(), std::string(migration.sql), context);
    exec_or_throw(db.get(), "PRAGMA user_version = " + std::to_string(migration.version), context);
    exec_or_throw(db.get(), "COMMIT", context);
  }

  std::vector<SchemaObject> objects;
  for (SchemaRow& row : read_schema(db.get(), "expected_schema")) objects.push_back(std::move(row.object));
  std::sort(objects.begin(), objects.end(), [](const SchemaObject& a, const SchemaObject& b) {
    return std::tie(a.type, a.name) < std::tie(b.type, b.name);
  });
  return objects;
}

// ---- Sentences.

// `text` with control characters (C0, DEL, C1), invalid UTF-8 and '\' escaped.
std::string printable(std::string_view text) {
  std::string out;
  auto escape = [&](unsigned char byte) {
    out += "\\x";
    append_hex(out, byte);
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\\') {
      out += "\\\\";
      ++i;
      continue;
    }
    if (c < 0x20 || c == 0x7F) {
      escape(c);
      ++i;
      continue;
    }
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    // A UTF-8 sequence: its length, and whether it is well formed (shortest
    // form, no surrogates, at most U+10FFFF).
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
      code_point = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      code_point = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      code_point = c & 0x07;
    }
    bool valid = length != 0 && i + length <= text.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto continuation = static_cast<unsigned char>(text[i + k]);
      if ((continuation & 0xC0) != 0x80) valid = false;
      code_point = (code_point << 6) | (continuation & 0x3F);
    }
    if (valid) {
      valid = !(length == 3 && (code_point < 0x800 || (code_point >= 0xD800 && code_point <= 0xDFFF))) &&
              !(length == 4 && (code_point < 0x10000 || code_point > 0x10FFFF));
    }
    if (!valid) {
      escape(c);
      ++i;
      continue;
    }
    if (code_point >= 0x80 && code_point <= 0x9F) {  // C1 controls
      for (std::size_t k = 0; k < length; ++k) escape(static_cast<unsigned char>(text[i + k]));
    } else {
      out.append(text.substr(i, length));
    }
    i += length;
  }
  return out;
}

}  // namespace

std::string normalize_sql(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  std::string_view previous;
  bool previous_is_word = false;
  std::size_t i = 0;
  while (i < sql.size()) {
    TokenKind kind{};
    const std::size_t end = token_end(sql, i, kind);
    const std::string_view token = sql.substr(i, end - i);
    i = end;
    if (kind == TokenKind::Space || kind == TokenKind::Comment) continue;
    const bool is_word = kind == TokenKind::Word;
    if (!previous.empty() && ((previous_is_word && is_word) || would_merge(previous, token))) out += ' ';
    out += token;
    previous = token;
    previous_is_word = is_word;
  }
  return out;
}

const std::vector<SchemaObject>& expected_schema(int version) {
  const int latest = latest_schema_version();
  if (version < 0 || version > latest) {
    throw Error(ErrorCode::InvalidArgument, "expected_schema: schema version " + std::to_string(version) +
                                                " is not one of 0.." + std::to_string(latest));
  }
  struct Built {
    Mutex mutex;
    std::map<int, std::vector<SchemaObject>> schemas GUARDED_BY(mutex);  // node-based: references stay valid
  };
  static Built built;
  MutexLock lock(built.mutex);
  const auto found = built.schemas.find(version);
  if (found != built.schemas.end()) return found->second;
  return built.schemas.emplace(version, build_expected_schema(version)).first->second;
}

std::vector<SchemaDifference> compare_schema(sqlite3* db, int version) {
  const std::vector<SchemaObject>& expected = expected_schema(version);
  std::map<std::pair<std::string, std::string>, const SchemaObject*> by_key;
  for (const SchemaObject& object : expected) by_key.emplace(std::make_pair(object.type, object.name), &object);

  std::vector<SchemaDifference> differences;
  std::set<std::pair<std::string, std::string>> seen;
  for (const SchemaRow& row : read_schema(db, "compare_schema")) {
    const SchemaObject& actual = row.object;
    auto key = std::make_pair(actual.type, actual.name);
    const auto found = by_key.find(key);
    if (found == by_key.end() || !seen.insert(key).second) {
      differences.push_back({SchemaDifference::Kind::Unknown, actual.type, actual.name, actual.table});
      continue;
    }
    const SchemaObject& wanted = *found->second;
    if (row.sql_is_null || actual.table != wanted.table || normalize_sql(actual.sql) != normalize_sql(wanted.sql)) {
      differences.push_back({SchemaDifference::Kind::Changed, actual.type, actual.name, actual.table});
    }
  }
  for (const SchemaObject& object : expected) {
    if (seen.count({object.type, object.name}) == 0) {
      differences.push_back({SchemaDifference::Kind::Missing, object.type, object.name, object.table});
    }
  }
  std::sort(differences.begin(), differences.end(), [](const SchemaDifference& a, const SchemaDifference& b) {
    return std::tie(a.type, a.name, a.kind, a.table) < std::tie(b.type, b.name, b.kind, b.table);
  });
  return differences;
}

std::string describe(const SchemaDifference& difference) {
  std::string what = printable(difference.type) + " " + printable(difference.name);
  const bool names_its_table = difference.type == "trigger" || difference.type == "index";
  if (!difference.table.empty() && (names_its_table || difference.table != difference.name)) {
    what += " on " + printable(difference.table);
  }
  switch (difference.kind) {
    case SchemaDifference::Kind::Missing: return what + " is missing (hotstate creates it)";
    case SchemaDifference::Kind::Changed: return what + " differs from hotstate's";
    case SchemaDifference::Kind::Unknown: break;
  }
  return what + " is not hotstate's";
}

}  // namespace hotstate::internal
