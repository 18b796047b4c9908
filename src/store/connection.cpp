#include "store/connection.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <random>
#include <string_view>
#include <thread>

#include "hotstate/error.hpp"
#include "model/sha3.hpp"

namespace hotstate::internal {

namespace {

// sha3(X): SHA3-256 of X's bytes as a BLOB, NULL for NULL, exactly as the
// sqlite3 shell's sha3(X) (which hashes numbers as their text). Migration
// 0002 uses it to hash existing snapshots; shell users recompute the same
// content hashes with the shell's own.
void sql_sha3(sqlite3_context* context, int /*argc*/, sqlite3_value** argv) {
  sqlite3_value* value = argv[0];
  const int type = sqlite3_value_type(value);
  if (type == SQLITE_NULL) return;
  const void* bytes = type == SQLITE_BLOB ? sqlite3_value_blob(value) : sqlite3_value_text(value);
  const auto size = static_cast<std::size_t>(sqlite3_value_bytes(value));
  const auto digest =
      sha3_256(bytes == nullptr ? std::string_view() : std::string_view(static_cast<const char*>(bytes), size));
  sqlite3_result_blob(context, digest.data(), static_cast<int>(digest.size()), SQLITE_TRANSIENT);
}

// The authorizer runs while SQLite compiles a statement, including the
// bodies of the triggers it fires and the views it reads (`inside` names
// them, and the common table expressions of the statement itself). Readers
// never need a view or trigger: hotstate reads tables, and names its own
// common table expressions hotstate_cte_*. The
// writer compiles only in windows where the schema was checked; a compile
// anywhere else is a re-prepare after another connection changed the schema.
int authorize(void* arg, int /*action*/, const char* /*a*/, const char* /*b*/, const char* /*database*/,
              const char* inside) {
  auto& guard = *static_cast<ConnectionGuard*>(arg);
  const bool allowed = guard.role == ConnectionGuard::Role::Reader
                           ? inside == nullptr || std::string_view(inside).rfind("hotstate_cte_", 0) == 0
                           : guard.compile_allowed;
  if (allowed) return SQLITE_OK;
  if (!guard.denied && inside != nullptr) guard.denied_inside = inside;
  guard.denied = true;
  return SQLITE_DENY;
}

// Stops a statement that runs past the call's deadline (SQLITE_INTERRUPT).
int check_deadline(void* arg) {
  auto& guard = *static_cast<ConnectionGuard*>(arg);
  if (guard.call_time_limit.count() <= 0 || std::chrono::steady_clock::now() < guard.deadline) return 0;
  guard.interrupted = true;
  return 1;
}

// Waits for another connection's lock in short, jittered sleeps (20 µs
// growing to 1 ms) until busy_ms have passed. SQLite's own handler sleeps up
// to 100 ms between tries, long enough for two busy writers to keep taking
// the lock in turn while a third sleeps past its timeout.
int wait_while_busy(void* arg, int attempt) {
  auto& guard = *static_cast<ConnectionGuard*>(arg);
  const auto now = std::chrono::steady_clock::now();
  if (attempt == 0) guard.busy_since = now;
  const auto waited = now - guard.busy_since;
  const auto limit = std::chrono::milliseconds(guard.busy_ms);
  if (waited >= limit) return 0;
  thread_local std::minstd_rand jitter(static_cast<unsigned>(std::hash<std::thread::id>()(std::this_thread::get_id())));
  const int base_us = std::min(1000, 20 << std::min(attempt, 6));
  const auto pause = std::chrono::microseconds(base_us / 2 + static_cast<int>(jitter() % static_cast<unsigned>(base_us)));
  std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, limit - waited));
  return 1;
}

int clamp_to_int(std::size_t value) { return static_cast<int>(std::min<std::size_t>(value, INT_MAX)); }

void check(sqlite3* db, int rc) {
  if (rc != SQLITE_OK) throw SQLite::Exception(db, rc);
}

}  // namespace

int register_sha3(sqlite3* db) noexcept {
  return sqlite3_create_function_v2(db, "sha3", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
                                    sql_sha3, nullptr, nullptr, nullptr);
}

void ConnectionGuard::begin_call() noexcept {
  denied = false;
  denied_inside.clear();
  interrupted = false;
  if (call_time_limit.count() > 0) deadline = std::chrono::steady_clock::now() + call_time_limit;
}

std::string sqlite_file_name(const std::string& path) {
  if (path.rfind("file:", 0) == 0) return "./" + path;
  return path;
}

SQLite::Database open_connection(const std::string& path, int flags, const ConnectionSettings& settings,
                                 ConnectionGuard& guard) {
  const bool uri = (flags & SQLITE_OPEN_URI) != 0;
  // SQLite takes "file:" names as URIs when built with SQLITE_USE_URI (as
  // Debian's is) even without SQLITE_OPEN_URI: sqlite_file_name keeps a path a path.
  SQLite::Database db(uri ? path : sqlite_file_name(path), flags, settings.busy_ms, settings.vfs);
  sqlite3* handle = db.getHandle();
  guard.busy_ms = settings.busy_ms;
  guard.call_time_limit = settings.call_time_limit;
  check(handle, sqlite3_busy_handler(handle, wait_while_busy, &guard));

  // SQLite's advice for databases from untrusted sources: no writable
  // schema or other foot-guns, and limits that bound what one statement can
  // make SQLite do. Its other advice, trusted_schema off (functions in the
  // schema only if marked innocuous), cannot be taken with this SQLite
  // (3.40): its JSON functions are not marked innocuous, so the file's
  // schema, hotstate's own CHECKs included, would not even load. What it
  // guards against is kept out otherwise: writes compile only against a
  // schema checked to be exactly hotstate's, and reads compile nothing
  // inside a view or trigger (see authorize).
  check(handle, sqlite3_db_config(handle, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr));
  sqlite3_limit(handle, SQLITE_LIMIT_LENGTH, clamp_to_int(settings.max_value_bytes));
  sqlite3_limit(handle, SQLITE_LIMIT_SQL_LENGTH, 1'000'000);
  sqlite3_limit(handle, SQLITE_LIMIT_COLUMN, 100);
  sqlite3_limit(handle, SQLITE_LIMIT_EXPR_DEPTH, 100);
  sqlite3_limit(handle, SQLITE_LIMIT_COMPOUND_SELECT, 8);
  sqlite3_limit(handle, SQLITE_LIMIT_VDBE_OP, 100'000);
  sqlite3_limit(handle, SQLITE_LIMIT_FUNCTION_ARG, 16);
  sqlite3_limit(handle, SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_limit(handle, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1000);
  sqlite3_limit(handle, SQLITE_LIMIT_TRIGGER_DEPTH, 10);
  sqlite3_limit(handle, SQLITE_LIMIT_WORKER_THREADS, 0);

  check(handle, register_sha3(handle));
  db.exec(settings.synchronous == Synchronous::Full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
  // Installed last: the statements above are hotstate's own.
  check(handle, sqlite3_set_authorizer(handle, authorize, &guard));
  if (settings.call_time_limit.count() > 0) sqlite3_progress_handler(handle, 1000, check_deadline, &guard);
  return db;
}

void sync_parent_directory(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) parent = ".";
  const int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorCode::Io, "cannot open directory '" + parent.string() + "' to sync it");
  const int synced = ::fsync(fd);
  ::close(fd);
  if (synced != 0) throw Error(ErrorCode::Io, "cannot sync directory '" + parent.string() + "'");
}

}  // namespace hotstate::internal
