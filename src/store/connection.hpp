// Internal: opening one SQLite connection the way hotstate uses every
// connection, hardened for files prepared by someone else (SQLite's own
// guidance for untrusted databases): defensive mode, untrusted schema,
// limits on lengths and depths, an authorizer that keeps SQL from the file
// out of what hotstate runs, a time bound per call, and a busy handler that
// retries often enough that writers cannot starve one another.
#pragma once

#include <SQLiteCpp/Database.h>
#include <sqlite3.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "hotstate/options.hpp"

namespace hotstate::internal {

// The largest id below which every table's ids stay (2^53-1, the bound of
// migration 0003's *_in_range triggers).
inline constexpr std::int64_t max_row_id = 9007199254740991;

// What the SQLite callbacks of one connection read and write. One per
// connection, at a stable address, used by the one thread that uses the
// connection at a time (so plain fields).
struct ConnectionGuard {
  enum class Role {
    Writer,  // compiles SQL only inside windows where the schema was checked (compile_allowed)
    Reader,  // never compiles anything inside a view or trigger
  };
  Role role = Role::Writer;

  // Writer: whether SQL may be compiled now. Outside a checked window a
  // compile means that the schema changed under a prepared statement (SQLite
  // re-prepares it): it is denied, and the write is retried in a window that
  // checks the schema first.
  bool compile_allowed = true;
  // Writer: the schema was last checked and found to be hotstate's; writes
  // take the fast path while this holds and no compile is needed.
  bool schema_trusted = false;
  // Set when the authorizer denied something; the caller reads and clears it.
  bool denied = false;
  std::string denied_inside;  // the view or trigger whose SQL was denied, when known

  // The call's time bound (Options::call_time_limit); no bound when unset.
  std::chrono::milliseconds call_time_limit{0};
  std::chrono::steady_clock::time_point deadline{};
  bool interrupted = false;  // the progress handler stopped a statement

  // The busy handler's clock for the current wait.
  int busy_ms = 0;
  std::chrono::steady_clock::time_point busy_since{};

  // Starts a call: arms the time bound and clears the flags.
  void begin_call() noexcept;
};

// Lets the writer compile SQL for its lifetime (a window in which the SQL
// compiled is hotstate's own, or the schema was checked), then restores
// what was allowed before.
class CompileWindow {
 public:
  explicit CompileWindow(ConnectionGuard& guard) noexcept : guard_(guard), was_allowed_(guard.compile_allowed) {
    guard_.compile_allowed = true;
  }
  ~CompileWindow() { guard_.compile_allowed = was_allowed_; }
  CompileWindow(const CompileWindow&) = delete;
  CompileWindow& operator=(const CompileWindow&) = delete;

 private:
  ConnectionGuard& guard_;
  bool was_allowed_;
};

struct ConnectionSettings {
  int busy_ms = 0;
  Synchronous synchronous = Synchronous::Full;
  std::string vfs;
  std::chrono::milliseconds call_time_limit{0};
  // The longest value (string or blob) a connection creates or reads.
  std::size_t max_value_bytes = 0;
};

// `path` as SQLite's file name argument: a path is always a path, never a
// URI, so a relative "file:..." becomes "./file:...". ":memory:" stays.
std::string sqlite_file_name(const std::string& path);

// Opens `path` (a path, see sqlite_file_name; or, with SQLITE_OPEN_URI in
// `flags`, a URI hotstate built) with `flags`, and installs `guard`'s
// callbacks, the limits, the defensive settings, sha3() and the synchronous
// level. `guard` must outlive the connection.
SQLite::Database open_connection(const std::string& path, int flags, const ConnectionSettings& settings,
                                 ConnectionGuard& guard);

// Registers sha3(X) on `db`: SHA3-256 of X's bytes as a BLOB, NULL for NULL,
// exactly as the sqlite3 shell's sha3(X) (which hashes numbers as their
// text). Returns SQLite's result code.
int register_sha3(sqlite3* db) noexcept;

// fsyncs the directory holding `path`, so that a file just created there
// survives a power cut. Throws Error(Io) when the directory cannot be synced.
void sync_parent_directory(const std::string& path);

}  // namespace hotstate::internal
