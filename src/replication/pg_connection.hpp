// Internal: a PostgreSQL connection through libpq, RAII, with the few calls
// the replicator needs: statements with text parameters, COPY FROM STDIN, and
// transactions. Every failure is Error(Unavailable) naming what failed.
//
// Why libpq and not libpqxx: libpq is PostgreSQL's own client library, in
// Debian as libpq5/libpq-dev for every release, with a stable C ABI; libpqxx
// is a C++ layer over it (pulling libpq in anyway) whose ABI changes with its
// major versions (Debian 12 has 7.7). hotstate needs four calls (connect,
// execute with parameters, COPY, error text) and keeps its own RAII, so the
// wrapper is smaller than the dependency, and a static consumer links only
// -lpq.
//
// Thread safety: none; one connection per thread (the replicator's own).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct pg_conn;
struct pg_result;

namespace hotstate::internal {

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(pg_result* result) : result_(result, &clear) {}

  int rows() const;
  bool null(int row, int column) const;
  std::string_view text(int row, int column) const;
  std::int64_t integer(int row, int column) const;  // the text read as a bigint
  std::uint64_t affected() const;                    // rows an UPDATE/DELETE/INSERT touched

 private:
  static void clear(pg_result* result);
  std::shared_ptr<pg_result> result_;
};

// A parameter: text, or NULL.
using PgParam = std::optional<std::string>;

class PgConnection {
 public:
  // Connects (the URL as libpq takes it: postgresql://… or key=value).
  // Throws Error(Unavailable) when it cannot.
  explicit PgConnection(const std::string& url);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement (or, without parameters, several) and returns its result.
  PgResult exec(const std::string& sql);
  PgResult exec(const std::string& sql, const std::vector<PgParam>& params);
  // COPY … FROM STDIN with `data` in COPY's text format.
  void copy_in(const std::string& copy_sql, const std::string& data);
  // Whether the connection is still good (after a failure it may not be).
  bool ok() const;

 private:
  [[noreturn]] void fail(const std::string& what, pg_result* result = nullptr) const;
  pg_conn* conn_ = nullptr;
};

// A transaction: begun by the constructor (`begin`, e.g. "BEGIN" or "BEGIN
// ISOLATION LEVEL REPEATABLE READ READ ONLY"), rolled back by the destructor
// unless commit() ran. A rollback that fails is dropped: the connection is
// gone, and PostgreSQL rolled the transaction back itself.
class PgTransaction {
 public:
  PgTransaction(PgConnection& pg, const std::string& begin) : pg_(pg) { pg_.exec(begin); }
  ~PgTransaction();
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;
  void commit();

 private:
  PgConnection& pg_;
  bool open_ = true;
};

// COPY's text format: appends `value` escaped (backslash, tab, newline, CR).
void append_copy_text(std::string& out, std::string_view value);
// A PostgreSQL array literal of bigints, "{1,2,3}", and of texts, quoted.
std::string pg_bigint_array(const std::vector<std::int64_t>& values);
std::string pg_text_array(const std::vector<std::string>& values);
std::string pg_text_array(const std::vector<std::optional<std::string>>& values);  // nullopt: NULL
// The URL without its password (for messages and the file's replicas row).
std::string url_without_password(const std::string& url);

}  // namespace hotstate::internal
