#include "store/store.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include "model/json_internal.hpp"
#include "model/sha3.hpp"
#include "store/connection.hpp"
#include "store/migrations.hpp"
#include "store/schema_guard.hpp"
#include "store/sqlite_error.hpp"

namespace hotstate::internal {

namespace {

// PRAGMA application_id of a hotstate database ("HSTA"), set by migration 0001.
constexpr int hotstate_application_id = 0x48535441;
constexpr std::size_t max_history_limit = 2147483647;

// What a file says about itself before hotstate writes anything to it.
struct FileIdentity {
  int application_id = 0;
  int user_version = 0;
  std::int64_t schema_objects = 0;
};

FileIdentity inspect(SQLite::Database& db) {
  FileIdentity identity;
  identity.application_id = db.execAndGet("PRAGMA application_id").getInt();
  identity.user_version = db.execAndGet("PRAGMA user_version").getInt();
  identity.schema_objects = db.execAndGet("SELECT count(*) FROM sqlite_master").getInt64();
  return identity;
}

// A file: URI naming `path`, opened immutable: SQLite reads the main file
// only, with no locks and no -wal or -shm, so looking at it creates nothing.
std::string immutable_uri(const std::string& path) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string uri = "file:";
  for (const char ch : path) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '/' || c == '.' || c == '_' || c == '-' || c == '~') {
      uri += ch;
    } else {
      uri += '%';
      uri += hex[c >> 4];
      uri += hex[c & 0xF];
    }
  }
  return uri + "?immutable=1";
}

int latest_schema_version() { return static_cast<int>(embedded_migrations().size()); }

// Throws unless hotstate may use (and migrate) a file with this identity.
void require_usable(const FileIdentity& identity, const std::string& path) {
  if (identity.application_id != 0 && identity.application_id != hotstate_application_id) {
    throw Error(ErrorCode::NotADatabase,
                "'" + path + "' is a SQLite database of another application (application_id " +
                    std::to_string(identity.application_id) + "); left untouched");
  }
  if (identity.application_id == 0 && identity.user_version == 0 && identity.schema_objects > 0) {
    throw Error(ErrorCode::NotADatabase,
                "'" + path + "' is a SQLite database that hotstate did not create; left untouched");
  }
  if (identity.user_version > latest_schema_version()) {
    throw Error(ErrorCode::NewerSchema, "'" + path + "' has schema version " + std::to_string(identity.user_version) +
                                            ", newer than this hotstate's " + std::to_string(latest_schema_version()) +
                                            "; upgrade hotstate to open it (the file was left untouched)");
  }
}

std::int64_t unix_microseconds_now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Resets a statement when a use of it ends, however it ends.
class StatementUse {
 public:
  explicit StatementUse(SQLite::Statement& statement) : statement_(statement) { statement_.tryReset(); }
  ~StatementUse() { statement_.tryReset(); }
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;
  SQLite::Statement* operator->() { return &statement_; }

 private:
  SQLite::Statement& statement_;
};

constexpr const char* snapshot_columns = "seq, plugin_id, timestamp, plugin_version, data, metadata, canonical_hash";

std::string_view column_text(const SQLite::Column& column) {
  const char* text = column.getText();
  return {text, static_cast<std::size_t>(column.getBytes())};
}

// The current row of `statement` (columns as in snapshot_columns). A row
// whose canonical_hash matches its texts is exactly as hotstate wrote it, and
// is split without a parser; any other row is parsed and canonicalized.
StateSnapshot read_snapshot(SQLite::Statement& statement) {
  const std::int64_t seq = statement.getColumn(0).getInt64();
  try {
    StateSnapshot snapshot = SnapshotAccess::unstamped();
    snapshot.plugin_id = statement.getColumn(1).getString();
    snapshot.plugin_version = statement.getColumn(3).getString();
    snapshot.seq = static_cast<std::uint64_t>(seq);
    snapshot.timestamp = static_cast<std::uint64_t>(statement.getColumn(2).getInt64());
    const std::string_view data = column_text(statement.getColumn(4));
    const std::string_view metadata = column_text(statement.getColumn(5));
    const SQLite::Column hash = statement.getColumn(6);
    const bool as_written = !hash.isNull() && static_cast<std::uint64_t>(hash.getInt64()) == canonical_hash(data, metadata);
    if (!as_written || !split_canonical_object(data, snapshot.data) ||
        !split_canonical_string_object(metadata, snapshot.metadata)) {
      snapshot.data = decode_json_object(data);
      snapshot.metadata = decode_string_object(metadata);
    }
    return snapshot;
  } catch (const Error& error) {
    throw Error(ErrorCode::Corrupt, "snapshot row seq " + std::to_string(seq) + " is unreadable: " + error.what());
  }
}

}  // namespace

struct Store::Connection {
  // Declared first: it outlives db, whose SQLite callbacks use it. Shared,
  // so that whoever opened the connection can still read it when preparing
  // the statements below fails.
  std::shared_ptr<ConnectionGuard> guard;
  SQLite::Database db;
  SQLite::Statement begin_immediate;
  SQLite::Statement commit;
  SQLite::Statement rollback;
  SQLite::Statement select_current;
  SQLite::Statement select_newest_two;
  SQLite::Statement select_current_seq;
  SQLite::Statement select_by_seq;
  SQLite::Statement select_history;
  SQLite::Statement select_plugin_ids;
  SQLite::Statement select_max_history;
  // The writer's statements that fire triggers; readers have none.
  std::optional<SQLite::Statement> insert_snapshot;
  std::optional<SQLite::Statement> delete_by_seq;
  std::optional<SQLite::Statement> delete_plugin;
  std::optional<SQLite::Statement> delete_all;

  // Statements used less often, prepared on first use. Keyed by the address
  // of a string literal.
  std::unordered_map<const char*, std::unique_ptr<SQLite::Statement>> prepared;
  SQLite::Statement& statement(const char* sql) {
    auto& slot = prepared[sql];
    if (!slot) slot = std::make_unique<SQLite::Statement>(db, sql);
    return *slot;
  }

  Connection(std::shared_ptr<ConnectionGuard> opened_guard, SQLite::Database opened)
      : guard(std::move(opened_guard)),
        db(std::move(opened)),
        begin_immediate(db, "BEGIN IMMEDIATE"),
        commit(db, "COMMIT"),
        rollback(db, "ROLLBACK"),
        select_current(db, std::string("SELECT ") + snapshot_columns +
                               " FROM snapshots WHERE plugin_id = ?1 ORDER BY seq DESC LIMIT 1"),
        select_newest_two(db, "SELECT seq FROM snapshots WHERE plugin_id = ?1 ORDER BY seq DESC LIMIT 2"),
        select_current_seq(db, "SELECT max(seq) FROM snapshots WHERE plugin_id = ?1"),
        select_by_seq(db, std::string("SELECT ") + snapshot_columns + " FROM snapshots WHERE seq = ?1"),
        select_history(db, std::string("SELECT ") + snapshot_columns +
                               " FROM snapshots WHERE plugin_id = ?1"
                               " AND seq < (SELECT max(seq) FROM snapshots WHERE plugin_id = ?1) ORDER BY seq"),
        select_plugin_ids(db, "SELECT DISTINCT plugin_id FROM snapshots ORDER BY plugin_id"),
        select_max_history(db, "SELECT max_history FROM settings WHERE id = 1") {
    if (guard->role != ConnectionGuard::Role::Writer) return;
    insert_snapshot.emplace(db,
                            "INSERT INTO snapshots (plugin_id, timestamp, plugin_version, data, metadata, saved_at_us, "
                            "canonical_hash, content_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    delete_by_seq.emplace(db, "DELETE FROM snapshots WHERE seq = ?1");
    delete_plugin.emplace(db, "DELETE FROM snapshots WHERE plugin_id = ?1");
    delete_all.emplace(db, "DELETE FROM snapshots");
  }
};

namespace {

// BEGIN IMMEDIATE now; ROLLBACK when it goes out of scope uncommitted.
class WriteTransaction {
 public:
  explicit WriteTransaction(Store::Connection& c) : c_(c) {
    StatementUse(c_.begin_immediate)->exec();
  }
  ~WriteTransaction() {
    if (!committed_) {
      StatementUse use(c_.rollback);
      use->tryExecuteStep();
    }
  }
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;
  void commit() {
    StatementUse(c_.commit)->exec();
    committed_ = true;
  }

 private:
  Store::Connection& c_;
  bool committed_ = false;
};

// Whether a difference from hotstate's schema may change what hotstate's
// writes do: anything on hotstate's tables (their definition, a trigger or
// index on them, one of hotstate's triggers or indexes changed or gone). A
// view, or a table of someone else's with its own triggers, does not run
// inside hotstate's writes; verify reports those too.
bool affects_writes(const SchemaDifference& difference) {
  if (difference.type == "view") return false;
  static const std::set<std::string, std::less<>> hotstate_tables = [] {
    std::set<std::string, std::less<>> tables;
    for (const SchemaObject& object : expected_schema(static_cast<int>(embedded_migrations().size()))) {
      if (object.type == "table") tables.insert(object.name);
    }
    return tables;
  }();
  if (difference.kind != SchemaDifference::Kind::Unknown) return true;
  if (difference.type == "table") return hotstate_tables.count(difference.name) > 0;
  return hotstate_tables.count(difference.table) > 0;
}

// Throws Error(UntrustedSchema), naming each object, unless the schema of
// `db` at `version` is hotstate's as far as writes are concerned.
void require_trusted_schema(sqlite3* db, int version, const std::string& path, std::string_view refused) {
  std::string names;
  for (const SchemaDifference& difference : compare_schema(db, version)) {
    if (!affects_writes(difference)) continue;
    names += names.empty() ? "" : "; ";
    names += describe(difference);
  }
  if (names.empty()) return;
  throw Error(ErrorCode::UntrustedSchema, "'" + path + "': " + names + "; " + std::string(refused) +
                                              " (`hotstate verify` lists every difference)");
}

// A write that failed with "disk full" may instead have found no id left to
// give: AUTOINCREMENT reports SQLITE_FULL when a table's sequence reached
// 2^63-1, which an explicit id (written before migration 0003 refused them,
// or in sqlite_sequence itself) can cause. Returns the Corrupt error that
// says so, for that case.
std::optional<Error> diagnose_used_up_ids(SQLite::Database& db, std::string_view context) {
  try {
    SQLite::Statement used_up(db, "SELECT name, seq FROM sqlite_sequence WHERE seq > ?1 ORDER BY name LIMIT 1");
    used_up.bind(1, static_cast<std::int64_t>(max_row_id));
    if (!used_up.executeStep()) return std::nullopt;
    return Error(ErrorCode::Corrupt,
                 std::string(context) + ": the ids of table " + used_up.getColumn(0).getString() + " reach " +
                     used_up.getColumn(1).getString() +
                     " (an id written outside hotstate), above hotstate's bound 9007199254740991: no id is left to "
                     "give, so nothing was written; the disk is not full (`hotstate verify` reports it)");
  } catch (const SQLite::Exception&) {
    return std::nullopt;  // best effort: the original error stands
  }
}

// Applies each pending migration in its own transaction. Re-inspects the file
// inside each transaction, so a concurrent opener cannot slip in between. A
// database created here (schema version 0) gets `initial_max_history` in the
// transaction that creates it.
void migrate(SQLite::Database& db, const std::string& path, std::optional<std::size_t> initial_max_history) {
  for (const Migration& migration : embedded_migrations()) {
    SQLite::Transaction transaction(db, SQLite::TransactionBehavior::IMMEDIATE);
    const FileIdentity identity = inspect(db);
    require_usable(identity, path);
    if (identity.user_version >= migration.version) continue;
    // Migrating runs hotstate's SQL against the file's tables and fires their
    // triggers: only through the exact schema of the file's version.
    require_trusted_schema(db.getHandle(), identity.user_version, path,
                           "hotstate does not migrate a file with these, so it was left as it was");
    try {
      db.exec(std::string(migration.sql));
      if (identity.user_version == 0 && initial_max_history) {
        SQLite::Statement update(db, "UPDATE settings SET max_history = ?1 WHERE id = 1");
        update.bind(1, static_cast<std::int64_t>(*initial_max_history));
        update.exec();
      }
    } catch (const SQLite::Exception& e) {
      rethrow_sqlite("migration " + std::string(migration.name), e, e.getExtendedErrorCode());
    }
    db.exec("PRAGMA user_version = " + std::to_string(migration.version));
    transaction.commit();
  }
}

}  // namespace

namespace {

// The WAL-index header as SQLite itself maps it for `db` (xShmMap of region
// 0 of its -shm file), or null when the database is not in WAL mode or the
// VFS has no shared memory. The mapping lives as long as `db` is open.
const volatile std::uint32_t* map_wal_index(SQLite::Database& db) {
  if (db.execAndGet("PRAGMA journal_mode").getString() != "wal") return nullptr;
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db.getHandle(), "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
      file == nullptr || file->pMethods == nullptr || file->pMethods->iVersion < 2 ||
      file->pMethods->xShmMap == nullptr) {
    return nullptr;
  }
  constexpr int wal_index_page_size = 32768;  // WALINDEX_PGSZ
  void volatile* region = nullptr;
  if (file->pMethods->xShmMap(file, 0, wal_index_page_size, 0, &region) != SQLITE_OK) return nullptr;
  return static_cast<const volatile std::uint32_t*>(region);
}

// Reads both copies of the header the way SQLite's readers do (first copy,
// barrier, second copy). Other processes write this memory while we read
// it; a torn read shows as two different copies. Not instrumented by
// ThreadSanitizer: the race is the protocol, checked by the comparison.
__attribute__((no_sanitize("thread"))) ChangeMarker read_wal_index_header(const volatile std::uint32_t* words) noexcept {
  ChangeMarker marker;
  std::array<std::uint32_t, 12> second{};
  for (std::size_t i = 0; i < 12; ++i) marker.header[i] = words[i];
  std::atomic_thread_fence(std::memory_order_acquire);
  for (std::size_t i = 0; i < 12; ++i) second[i] = words[12 + i];
  marker.stable = marker.header == second;
  return marker;
}

}  // namespace

struct Store::Shared {
  std::string path;
  bool in_memory = false;
  ConnectionSettings settings;
  bool read_only = false;
  std::size_t max_id_bytes = 0;
  std::size_t max_data_bytes = 0;
  std::size_t max_metadata_bytes = 0;
  std::function<std::int64_t()> clock;  // Options::clock; empty: the system clock

  std::int64_t now_us() const { return clock ? clock() : unix_microseconds_now(); }
  // How read connections open the file: the path and flags the writer (or,
  // read-only, the first connection) succeeded with.
  std::string reader_path;
  int reader_flags = 0;

  // Writes: one connection, one at a time.
  std::mutex writer_mutex;
  std::unique_ptr<Connection> writer;

  // Reads: idle connections, opened on demand.
  std::mutex pool_mutex;
  std::vector<std::unique_ptr<Connection>> idle_readers;

  const volatile std::uint32_t* wal_index = nullptr;
  std::atomic<std::uint32_t> memory_commits{0};  // the marker of a :memory: database

  ChangeMarker marker() const noexcept {
    if (wal_index != nullptr) return read_wal_index_header(wal_index);
    ChangeMarker marker;
    if (!in_memory) {
      marker.stable = false;  // no WAL index: nothing tells us about other writers
      return marker;
    }
    marker.header[2] = memory_commits.load(std::memory_order_acquire);
    return marker;
  }

  // A connection for reading: nothing inside a view or trigger is compiled.
  std::unique_ptr<Connection> open_reader(const std::string& file, int flags) const {
    auto guard = std::make_shared<ConnectionGuard>();
    guard->role = ConnectionGuard::Role::Reader;
    SQLite::Database db = open_connection(file, flags, settings, *guard);
    db.exec("PRAGMA query_only = ON");
    return make_connection(std::move(guard), std::move(db));
  }

  // A Connection, its statements prepared; a statement the guard refused to
  // compile (a table of hotstate's that is a view in this file) throws
  // Error(UntrustedSchema).
  std::unique_ptr<Connection> make_connection(std::shared_ptr<ConnectionGuard> guard, SQLite::Database db) const {
    try {
      return std::make_unique<Connection>(guard, std::move(db));
    } catch (const SQLite::Exception& e) {
      explain_guard_failure("open '" + path + "'", *guard, e);
      throw;
    }
  }

  // A read connection for one call: from the pool, or the writer's for :memory:.
  class ReadLease {
   public:
    explicit ReadLease(Shared& shared) : shared_(shared) {
      if (shared_.in_memory) {
        memory_lock_ = std::unique_lock(shared_.writer_mutex);
        return;
      }
      {
        std::lock_guard lock(shared_.pool_mutex);
        if (!shared_.idle_readers.empty()) {
          connection_ = std::move(shared_.idle_readers.back());
          shared_.idle_readers.pop_back();
        }
      }
      if (!connection_) connection_ = shared_.open_reader(shared_.reader_path, shared_.reader_flags);
    }
    ~ReadLease() {
      if (!connection_) return;
      std::lock_guard lock(shared_.pool_mutex);
      shared_.idle_readers.push_back(std::move(connection_));
    }
    ReadLease(const ReadLease&) = delete;
    ReadLease& operator=(const ReadLease&) = delete;
    Connection& operator*() { return connection_ ? *connection_ : *shared_.writer; }

   private:
    Shared& shared_;
    std::unique_lock<std::mutex> memory_lock_;
    std::unique_ptr<Connection> connection_;
  };

  template <class Body>
  auto read(std::string_view context, Body&& body) {
    return translate_sqlite_errors(context, [&] {
      ReadLease lease(*this);
      Connection& c = *lease;
      c.guard->begin_call();
      try {
        return body(c);
      } catch (const SQLite::Exception& e) {
        explain_guard_failure(context, *c.guard, e);
        throw;
      }
    });
  }

  // Rethrows a SQLite failure the guard caused as what it means.
  void explain_guard_failure(std::string_view context, const ConnectionGuard& guard, const SQLite::Exception& e) const {
    if (guard.interrupted) {
      throw Error(ErrorCode::TimedOut, std::string(context) + ": stopped after Options::call_time_limit (" +
                                           std::to_string(settings.call_time_limit.count()) +
                                           " ms) inside SQLite; nothing was changed (" + e.what() + ")");
    }
    if (guard.denied) {
      throw Error(ErrorCode::UntrustedSchema,
                  std::string(context) + ": '" + path + "' would make hotstate run SQL from the file" +
                      (guard.denied_inside.empty() ? std::string() : " (in '" + guard.denied_inside + "')") +
                      ", which it never does; nothing was changed (`hotstate verify` lists the schema's differences)");
    }
  }

  // Runs `body` as one write and reports the change markers around it.
  // Multi-statement bodies run in one transaction (BEGIN IMMEDIATE … COMMIT);
  // a single-statement body runs in autocommit, which SQLite makes atomic
  // by itself, saving the two round trips. Either way, `before` and `after`
  // bracket the commit: a commit counter that moved by exactly one says no
  // other commit came in between. A Busy failure that SQLite's busy handler
  // did not absorb is retried until the busy timeout has passed.
  //
  // The schema gate: the writer's statements were compiled against a schema
  // that was checked to be hotstate's, and while it is unchanged they run as
  // they are (the fast path). When another connection changed the schema,
  // SQLite re-prepares a statement before running it; the authorizer denies
  // that compile, and the write runs again in a transaction that first
  // compares the schema with hotstate's and refuses a file whose triggers,
  // indexes or tables are not hotstate's (Error(UntrustedSchema)).
  enum class Statements { One, Many };
  template <class Body>
  auto write(std::string_view context, Statements statements, Body&& body)
      -> WriteOutcome<decltype(body(std::declval<Connection&>()))> {
    if (read_only) {
      throw Error(ErrorCode::ReadOnly, std::string(context) + ": this StateManager was opened read-only");
    }
    std::lock_guard lock(writer_mutex);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(settings.busy_ms);
    for (int attempt = 0;; ++attempt) {
      try {
        return translate_sqlite_errors(context, [&] { return write_once(context, statements, body); });
      } catch (const Error& error) {
        if (error.code() == ErrorCode::DiskFull) {
          // hotstate's own query of SQLite's own table: nothing of the file's runs.
          const bool allowed = writer->guard->compile_allowed;
          writer->guard->compile_allowed = true;
          std::optional<Error> used_up = diagnose_used_up_ids(writer->db, context);
          writer->guard->compile_allowed = allowed;
          if (used_up) throw *used_up;
        }
        if (error.code() != ErrorCode::Busy || std::chrono::steady_clock::now() >= deadline) throw;
        std::this_thread::sleep_for(std::chrono::microseconds(50) * std::min(attempt + 1, 20));
      }
    }
  }

  template <class Body>
  auto write_once(std::string_view context, Statements statements, Body& body)
      -> WriteOutcome<decltype(body(std::declval<Connection&>()))> {
    Connection& c = *writer;
    ConnectionGuard& guard = *c.guard;
    guard.begin_call();
    if (guard.schema_trusted) {
      try {
        return run_write(c, statements == Statements::Many, body);
      } catch (const SQLite::Exception& e) {
        // A denied compile: the schema changed under a prepared statement
        // (nothing ran); check it below. Anything else is what it says.
        if (!guard.denied || guard.interrupted) {
          explain_guard_failure(context, guard, e);
          throw;
        }
        guard.begin_call();
      }
    }
    guard.schema_trusted = false;
    guard.compile_allowed = true;
    struct DenyCompiles {
      ConnectionGuard& guard;
      ~DenyCompiles() { guard.compile_allowed = false; }
    } deny_afterwards{guard};
    try {
      // One transaction holds the write lock from the check to the commit,
      // so the schema checked is the schema the statements compile against.
      return run_write(c, /*transaction=*/true, body, [&] {
        require_trusted_schema(c.db.getHandle(), static_cast<int>(embedded_migrations().size()), path,
                               "hotstate does not write through a file with these, so nothing was written");
        guard.schema_trusted = true;
      });
    } catch (const SQLite::Exception& e) {
      explain_guard_failure(context, guard, e);
      throw;
    }
  }

  template <class Body, class Check = void (*)()>
  auto run_write(Connection& c, bool transaction_wanted, Body& body, Check check = [] {})
      -> WriteOutcome<decltype(body(std::declval<Connection&>()))> {
    using Value = decltype(body(std::declval<Connection&>()));
    std::optional<WriteTransaction> transaction;
    if (transaction_wanted) transaction.emplace(c);
    check();
    const ChangeMarker before = marker();
    const int changes_before = c.db.getTotalChanges();
    Value value = body(c);
    if (transaction) transaction->commit();
    if (in_memory && c.db.getTotalChanges() != changes_before) {
      memory_commits.fetch_add(1, std::memory_order_release);
    }
    return WriteOutcome<Value>{std::move(value), before, marker()};
  }
};

namespace {

// A snapshot's row, encoded (and checked) before any transaction starts.
struct EncodedRow {
  const StateSnapshot* snapshot;
  std::string data;
  std::string metadata;
  std::int64_t hash;
  std::string content_hash;  // SHA3-256 of data || metadata, lowercase hex
};

void require_within(std::size_t size, std::size_t limit, const char* what) {
  if (size > limit) {
    throw Error(ErrorCode::TooLarge, std::string(what) + " is " + std::to_string(size) + " bytes; the limit is " +
                                         std::to_string(limit) + " (Options); nothing was written");
  }
}

// The one rule for a plugin id (and a version), on every path that takes
// one, reads included: UTF-8, within max_id_bytes.
void require_id(const Store::Shared& limits, std::string_view text, const char* what) {
  require_within(text.size(), limits.max_id_bytes, what);
  require_utf8(text, what);
}

EncodedRow encode_row(const Store::Shared& limits, const StateSnapshot& snapshot) {
  require_within(snapshot.plugin_id.size(), limits.max_id_bytes, "plugin_id");
  require_within(snapshot.plugin_version.size(), limits.max_id_bytes, "plugin_version");
  require_utf8(snapshot.plugin_id, "plugin_id");
  require_utf8(snapshot.plugin_version, "plugin_version");
  EncodedRow row{&snapshot, encode_data_object(snapshot.data), encode_string_object(snapshot.metadata), 0, {}};
  require_within(row.data.size(), limits.max_data_bytes, "the snapshot's data");
  require_within(row.metadata.size(), limits.max_metadata_bytes, "the snapshot's metadata");
  row.hash = static_cast<std::int64_t>(canonical_hash(row.data, row.metadata));
  row.content_hash = sha3_256_hex(row.data, row.metadata);
  return row;
}

std::uint64_t insert_row(Store::Connection& c, const EncodedRow& row, std::int64_t time_us) {
  StatementUse insert(*c.insert_snapshot);
  insert->bindNoCopy(1, row.snapshot->plugin_id);
  // Every u64 the seed accepts: above 2^63-1 as the int64 with the same bits
  // (migration 0003), read back by the cast in read_snapshot.
  insert->bind(2, static_cast<std::int64_t>(row.snapshot->timestamp));
  insert->bindNoCopy(3, row.snapshot->plugin_version);
  insert->bindNoCopy(4, row.data);
  insert->bindNoCopy(5, row.metadata);
  insert->bind(6, time_us);
  insert->bind(7, row.hash);
  insert->bindNoCopy(8, row.content_hash);
  insert->exec();
  return static_cast<std::uint64_t>(c.db.getLastInsertRowid());
}

}  // namespace

namespace {

// A read-only store: no file is created, nothing migrates, nothing is written.
// The file is opened read-write when it may be (every connection with
// query_only on), because only then can the last connection to close remove
// the -wal and -shm files that reading a WAL database creates; otherwise
// read-only. On a read-only directory SQLite cannot create the -shm it wants
// for a WAL database; when there is no -wal (so the main file holds
// everything), the file is opened immutable instead, and the cache stays off.
void open_read_only(Store::Shared& shared) {
  const auto open_and_check = [&](const std::string& path, int open_flags) {
    std::unique_ptr<Store::Connection> c = shared.open_reader(path, open_flags);
    const FileIdentity identity = inspect(c->db);
    require_usable(identity, shared.path);
    if (identity.user_version < latest_schema_version()) {
      throw Error(ErrorCode::ReadOnly, "'" + shared.path + "' has schema version " +
                                           std::to_string(identity.user_version) + " and needs migrating to " +
                                           std::to_string(latest_schema_version()) +
                                           ", which a read-only StateManager cannot do; open it once for writing");
    }
    shared.reader_path = path;
    shared.reader_flags = open_flags;
    return c;
  };
  const int read_write = SQLite::OPEN_READWRITE | SQLite::OPEN_NOMUTEX;
  const int read_only = SQLite::OPEN_READONLY | SQLite::OPEN_NOMUTEX;
  std::unique_ptr<Store::Connection> c;
  if (!shared.in_memory) {
    try {
      c = open_and_check(shared.path, read_write);
      if (sqlite3_db_readonly(c->db.getHandle(), "main") == 1) c.reset();
    } catch (const SQLite::Exception& e) {
      const int primary = e.getErrorCode() & 0xFF;
      if (primary != SQLITE_CANTOPEN && primary != SQLITE_READONLY && primary != SQLITE_PERM) throw;
    }
  }
  if (!c) {
    try {
      c = open_and_check(shared.path, read_only);
    } catch (const SQLite::Exception& e) {
      const int primary = e.getErrorCode() & 0xFF;
      std::error_code ignored;
      if ((primary != SQLITE_CANTOPEN && primary != SQLITE_READONLY) || shared.in_memory ||
          !std::filesystem::exists(shared.path, ignored) || std::filesystem::exists(shared.path + "-wal", ignored)) {
        throw;
      }
      c = open_and_check(immutable_uri(shared.path), read_only | SQLite::OPEN_URI);
    }
  }
  shared.writer = std::move(c);
  if (!shared.in_memory && (shared.reader_flags & SQLite::OPEN_URI) == 0) {
    shared.wal_index = map_wal_index(shared.writer->db);
  }
}

// Opens (or creates) the database for writing and migrates it. Returns
// whether it created the file.
bool open_writable(Store::Shared& shared, const Options& options) {
  // Look at an existing file without writing to it first, so that a file
  // hotstate must refuse gets no -wal, -shm or checkpoint. The check is
  // repeated on the real connection (and in each migration transaction),
  // which also sees what a WAL holds that the main file does not yet.
  // The probe reads the main file alone: when a -wal exists (a process or
  // the power died, possibly in the middle of a checkpoint) the main file
  // may be partly backfilled while main file + -wal are intact, so there a
  // SQLite error of the probe is no verdict; the real connection decides.
  std::error_code ignored;
  const bool existed = shared.in_memory || std::filesystem::exists(options.path, ignored);
  if (!shared.in_memory && existed) {
    try {
      ConnectionGuard probe_guard;
      probe_guard.role = ConnectionGuard::Role::Reader;
      SQLite::Database probe =
          open_connection(immutable_uri(options.path), SQLite::OPEN_READONLY | SQLite::OPEN_URI, shared.settings, probe_guard);
      require_usable(inspect(probe), options.path);
    } catch (const SQLite::Exception&) {
      if (!std::filesystem::exists(options.path + "-wal", ignored)) throw;
    }
  }
  // NOMUTEX: each connection is used by one thread at a time (the writer under
  // writer_mutex, readers leased from the pool), so SQLite's own per-call
  // connection mutex would only cost time.
  shared.reader_path = options.path;
  shared.reader_flags = SQLite::OPEN_READWRITE | SQLite::OPEN_NOMUTEX;
  auto guard = std::make_shared<ConnectionGuard>();
  guard->role = ConnectionGuard::Role::Writer;
  guard->compile_allowed = true;  // hotstate's own SQL, until the statements are prepared
  SQLite::Database db = open_connection(options.path, shared.reader_flags | SQLite::OPEN_CREATE, shared.settings, *guard);
  const FileIdentity identity = inspect(db);
  require_usable(identity, options.path);
  // An older file is migrated only through its exact schema: checked before
  // anything (even the journal mode) is changed, so a refused file is left
  // byte for byte as it was. Each migration checks again in its transaction.
  if (identity.user_version > 0 && identity.user_version < latest_schema_version()) {
    require_trusted_schema(db.getHandle(), identity.user_version, options.path,
                           "hotstate does not migrate a file with these, so it was left as it was");
  }
  // SQLite opens a file it may not write (mode 0444, EACCES) read-only
  // without a word; say so now rather than at the first write.
  if (sqlite3_db_readonly(db.getHandle(), "main") == 1) {
    throw Error(ErrorCode::ReadOnly, "'" + options.path +
                                         "' cannot be written (a read-only file or file system); open it with "
                                         "Options::read_only to read it");
  }
  if (!shared.in_memory) db.execAndGet("PRAGMA journal_mode = WAL");
  migrate(db, options.path, options.max_history);
  // A :memory: database is private to this process: hotstate made every
  // object in it. A file's writer starts untrusted: its first write checks the
  // schema in its own transaction, and from the end of this constructor on,
  // nothing compiles outside such a check.
  if (shared.in_memory) guard->schema_trusted = true;
  ConnectionGuard& writer_guard = *guard;
  shared.writer = shared.make_connection(std::move(guard), std::move(db));
  if (!shared.in_memory) {
    shared.wal_index = map_wal_index(shared.writer->db);
    writer_guard.compile_allowed = false;
  }
  return !existed;
}

// Runs `open` again while it fails with Busy (another connection is
// migrating, checkpointing or recovering the file), until busy_ms passed.
template <class Open>
auto retry_while_busy(std::string_view context, int busy_ms, Open&& open) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_ms);
  for (int attempt = 0;; ++attempt) {
    try {
      return translate_sqlite_errors(context, open);
    } catch (const Error& error) {
      if (error.code() != ErrorCode::Busy || std::chrono::steady_clock::now() >= deadline) throw;
      std::this_thread::sleep_for(std::chrono::microseconds(100) * std::min(attempt + 1, 20));
    }
  }
}

}  // namespace

Store::Store(const Options& options) : shared_(std::make_unique<Shared>()) {
  if (options.path.empty()) {
    throw Error(ErrorCode::InvalidArgument, "Options::path is empty (use \":memory:\" for a throwaway store)");
  }
  if (options.max_history && *options.max_history > max_history_limit) {
    throw Error(ErrorCode::InvalidArgument, "Options::max_history is " + std::to_string(*options.max_history) +
                                                "; the most is " + std::to_string(max_history_limit));
  }
  if (options.busy_timeout.count() < 0 || options.busy_timeout.count() > std::numeric_limits<int>::max()) {
    throw Error(ErrorCode::InvalidArgument, "Options::busy_timeout is out of range");
  }
  if (options.call_time_limit.count() < 0) {
    throw Error(ErrorCode::InvalidArgument, "Options::call_time_limit is negative");
  }
  Shared& shared = *shared_;
  shared.path = options.path;
  shared.in_memory = options.path == ":memory:";
  shared.settings.busy_ms = static_cast<int>(options.busy_timeout.count());
  shared.settings.synchronous = options.synchronous;
  shared.settings.vfs = options.vfs;
  shared.settings.call_time_limit = options.call_time_limit;
  // The longest value a connection reads or makes: a whole snapshot in the
  // seed's layout (the journal's copy) with room for its fields. A longer row
  // (another client wrote it) is refused with TooLarge instead of loaded.
  const std::size_t max_value = options.max_data_bytes + options.max_metadata_bytes + 2 * options.max_id_bytes + 4096;
  shared.settings.max_value_bytes = max_value < options.max_data_bytes ? std::numeric_limits<std::size_t>::max() : max_value;
  shared.read_only = options.read_only;
  shared.max_id_bytes = options.max_id_bytes;
  shared.max_data_bytes = options.max_data_bytes;
  shared.max_metadata_bytes = options.max_metadata_bytes;
  shared.clock = options.clock;

  retry_while_busy("open '" + options.path + "'", shared.settings.busy_ms, [&] {
      shared.writer.reset();
      shared.wal_index = nullptr;
      if (shared.read_only) {
        open_read_only(shared);
        return;
      }
      // A new file's name is durable only once its directory is synced.
      if (open_writable(shared, options)) sync_parent_directory(options.path);
  });
}

Store::~Store() = default;

ChangeMarker Store::marker() const noexcept { return shared_->marker(); }

WriteOutcome<std::uint64_t> Store::insert(const StateSnapshot& snapshot) {
  const EncodedRow row = encode_row(*shared_, snapshot);
  return shared_->write("save_snapshot", Shared::Statements::One, [&](Connection& c) { return insert_row(c, row, shared_->now_us()); });
}

WriteOutcome<std::uint64_t> Store::insert_if(const StateSnapshot& snapshot, std::uint64_t expected_seq) {
  const EncodedRow row = encode_row(*shared_, snapshot);
  return shared_->write("save_snapshot_if", Shared::Statements::Many, [&](Connection& c) {
    std::uint64_t current_seq = 0;
    {
      StatementUse select(c.select_current_seq);
      select->bind(1, snapshot.plugin_id);
      if (select->executeStep() && !select->getColumn(0).isNull()) {
        current_seq = static_cast<std::uint64_t>(select->getColumn(0).getInt64());
      }
    }
    if (current_seq != expected_seq) {
      throw Error(ErrorCode::Conflict, "save_snapshot_if: the current snapshot of the plugin has seq " +
                                           std::to_string(current_seq) + ", not " + std::to_string(expected_seq) +
                                           "; nothing was written");
    }
    return insert_row(c, row, shared_->now_us());
  });
}

WriteOutcome<std::vector<std::uint64_t>> Store::insert_all(const std::vector<StateSnapshot>& snapshots) {
  std::vector<EncodedRow> rows;
  rows.reserve(snapshots.size());
  for (const auto& snapshot : snapshots) rows.push_back(encode_row(*shared_, snapshot));
  return shared_->write("save_snapshots", Shared::Statements::Many, [&](Connection& c) {
    std::vector<std::uint64_t> seqs;
    seqs.reserve(rows.size());
    for (const auto& row : rows) seqs.push_back(insert_row(c, row, shared_->now_us()));
    return seqs;
  });
}

namespace {

constexpr const char* insert_event_sql =
    "INSERT INTO audit_events (time_us, plugin_id, kind, detail) VALUES (?1, ?2, ?3, ?4)";

// Appends an event to the audit log inside the caller's transaction.
std::uint64_t insert_event(Store::Connection& c, std::int64_t time_us, std::string_view plugin_id,
                           std::string_view kind, const std::string& detail) {
  StatementUse insert(c.statement(insert_event_sql));
  insert->bind(1, time_us);
  insert->bind(2, std::string(plugin_id));
  insert->bind(3, std::string(kind));
  insert->bindNoCopy(4, detail);
  insert->exec();
  return static_cast<std::uint64_t>(c.db.getLastInsertRowid());
}

using Detail = std::map<std::string, Json>;

std::string detail_text(const Detail& detail) { return Json::from(detail).text(); }

}  // namespace

WriteOutcome<std::optional<StateSnapshot>> Store::rollback(std::string_view plugin_id) {
  require_id(*shared_, plugin_id, "plugin_id");
  return shared_->write("rollback", Shared::Statements::Many, [&](Connection& c) -> std::optional<StateSnapshot> {
    std::int64_t newest = 0;
    std::int64_t previous = 0;
    {
      StatementUse select(c.select_newest_two);
      select->bind(1, std::string(plugin_id));
      if (!select->executeStep()) return std::nullopt;
      newest = select->getColumn(0).getInt64();
      if (!select->executeStep()) return std::nullopt;  // no history: change nothing
      previous = select->getColumn(0).getInt64();
    }
    {
      StatementUse erase(*c.delete_by_seq);
      erase->bind(1, newest);
      erase->exec();
    }
    insert_event(c, shared_->now_us(), plugin_id, "RolledBack",
                 detail_text({{"from_seq", Json::from(newest)}, {"to_seq", Json::from(previous)}}));
    StatementUse select(c.select_by_seq);
    select->bind(1, previous);
    if (!select->executeStep()) throw Error(ErrorCode::Internal, "rollback: history row vanished");
    return read_snapshot(*select.operator->());
  });
}

WriteOutcome<bool> Store::clear(std::string_view plugin_id) {
  require_id(*shared_, plugin_id, "plugin_id");
  return shared_->write("clear", Shared::Statements::Many, [&](Connection& c) {
    std::int64_t rows = 0;
    std::int64_t newest = 0;
    {
      StatementUse count(c.statement("SELECT count(*), coalesce(max(seq), 0) FROM snapshots WHERE plugin_id = ?1"));
      count->bind(1, std::string(plugin_id));
      count->executeStep();
      rows = count->getColumn(0).getInt64();
      newest = count->getColumn(1).getInt64();
    }
    if (rows == 0) return false;
    StatementUse erase(*c.delete_plugin);
    erase->bind(1, std::string(plugin_id));
    erase->exec();
    insert_event(c, shared_->now_us(), plugin_id, "Cleared",
                 detail_text({{"rows", Json::from(rows)}, {"newest_seq", Json::from(newest)}}));
    return true;
  });
}

WriteOutcome<bool> Store::clear_all() {
  return shared_->write("clear_all", Shared::Statements::Many, [&](Connection& c) {
    std::int64_t rows = 0;
    std::int64_t plugins = 0;
    {
      StatementUse count(c.statement("SELECT count(*), count(DISTINCT plugin_id) FROM snapshots"));
      count->executeStep();
      rows = count->getColumn(0).getInt64();
      plugins = count->getColumn(1).getInt64();
    }
    if (rows == 0) return false;
    StatementUse(*c.delete_all)->exec();
    insert_event(c, shared_->now_us(), "", "ClearedAll",
                 detail_text({{"rows", Json::from(rows)}, {"plugins", Json::from(plugins)}}));
    return true;
  });
}

std::optional<StateSnapshot> Store::current(std::string_view plugin_id) const {
  require_id(*shared_, plugin_id, "plugin_id");
  return shared_->read("load_snapshot", [&](Connection& c) -> std::optional<StateSnapshot> {
    StatementUse select(c.select_current);
    select->bind(1, std::string(plugin_id));
    if (!select->executeStep()) return std::nullopt;
    return read_snapshot(*select.operator->());
  });
}

std::vector<StateSnapshot> Store::history(std::string_view plugin_id) const {
  require_id(*shared_, plugin_id, "plugin_id");
  return shared_->read("get_history", [&](Connection& c) {
    std::vector<StateSnapshot> result;
    result.reserve(16);
    StatementUse select(c.select_history);
    select->bind(1, std::string(plugin_id));
    while (select->executeStep()) result.push_back(read_snapshot(*select.operator->()));
    return result;
  });
}

std::vector<std::string> Store::plugin_ids() const {
  return shared_->read("plugin_ids", [&](Connection& c) {
    std::vector<std::string> ids;
    StatementUse select(c.select_plugin_ids);
    while (select->executeStep()) ids.push_back(select->getColumn(0).getString());
    return ids;
  });
}

WriteOutcome<std::size_t> Store::set_max_history(std::size_t max_history) {
  if (max_history > max_history_limit) {
    throw Error(ErrorCode::InvalidArgument, "set_max_history: " + std::to_string(max_history) + " is above the most, " +
                                                std::to_string(max_history_limit) + "; nothing was written");
  }
  return shared_->write("set_max_history", Shared::Statements::Many, [&](Connection& c) -> std::size_t {
    const auto rows = [&] { return c.db.execAndGet("SELECT count(*) FROM snapshots").getInt64(); };
    const std::int64_t rows_before = rows();
    // The settings triggers delete what the lower bound trims, and audit the
    // change and every trimmed row.
    StatementUse update(c.statement("UPDATE settings SET max_history = ?1 WHERE id = 1 AND max_history <> ?1"));
    update->bind(1, static_cast<std::int64_t>(max_history));
    update->exec();
    return static_cast<std::size_t>(rows_before - rows());
  });
}

std::vector<StateManager::PluginSummary> Store::plugin_summaries() const {
  return shared_->read("plugin_summaries", [&](Connection& c) {
    std::vector<StateManager::PluginSummary> summaries;
    StatementUse select(c.statement(
        "SELECT s.plugin_id, s.seq, s.plugin_version, s.timestamp, s.saved_at_us,"
        "       (SELECT count(*) FROM snapshots AS h WHERE h.plugin_id = s.plugin_id) - 1"
        "  FROM snapshots AS s"
        " WHERE s.seq = (SELECT max(seq) FROM snapshots WHERE plugin_id = s.plugin_id)"
        " ORDER BY s.plugin_id"));
    while (select->executeStep()) {
      StateManager::PluginSummary summary;
      summary.plugin_id = select->getColumn(0).getString();
      summary.seq = static_cast<std::uint64_t>(select->getColumn(1).getInt64());
      summary.plugin_version = select->getColumn(2).getString();
      summary.timestamp = static_cast<std::uint64_t>(select->getColumn(3).getInt64());
      summary.saved_at_us = select->getColumn(4).getInt64();
      summary.history_entries = static_cast<std::size_t>(select->getColumn(5).getInt64());
      summaries.push_back(std::move(summary));
    }
    return summaries;
  });
}

std::size_t Store::max_history() const {
  return shared_->read("max_history", [&](Connection& c) {
    StatementUse select(c.select_max_history);
    if (!select->executeStep()) throw Error(ErrorCode::Corrupt, "the settings row is missing");
    return static_cast<std::size_t>(select->getColumn(0).getInt64());
  });
}

// ---- The audit log, the reload journal and plugin life-cycle states

namespace {

// A reload's journal row, read inside the transaction that finishes it.
struct JournalRow {
  std::string plugin_id;
  std::int64_t started_at_us = 0;
};

JournalRow unfinished_journal_row(Store::Connection& c, std::uint64_t reload_id, const char* context) {
  StatementUse select(c.statement("SELECT plugin_id, started_at_us, outcome FROM reloads WHERE id = ?1"));
  select->bind(1, static_cast<std::int64_t>(reload_id));
  if (!select->executeStep()) {
    throw Error(ErrorCode::InvalidArgument,
                std::string(context) + ": there is no reload " + std::to_string(reload_id) + "; nothing was written");
  }
  if (!select->getColumn(2).isNull()) {
    throw Error(ErrorCode::Conflict, std::string(context) + ": reload " + std::to_string(reload_id) +
                                         " already ended (" + select->getColumn(2).getString() +
                                         "); nothing was written");
  }
  return {select->getColumn(0).getString(), select->getColumn(1).getInt64()};
}

void end_journal_row(Store::Connection& c, std::uint64_t reload_id, const char* outcome, std::int64_t time_us,
                     const std::string& note) {
  StatementUse update(c.statement(
      "UPDATE reloads SET outcome = ?2, finished_at_us = ?3, note = ?4, last_good_snapshot = NULL WHERE id = ?1"));
  update->bind(1, static_cast<std::int64_t>(reload_id));
  update->bind(2, outcome);
  update->bind(3, time_us);
  update->bindNoCopy(4, note);
  update->exec();
}

}  // namespace

WriteOutcome<bool> Store::append_event(std::string_view plugin_id, std::string_view kind, const std::string& detail) {
  require_id(*shared_, plugin_id, "plugin_id");
  require_within(detail.size(), shared_->max_metadata_bytes, "the event's detail");
  return shared_->write("record_event", Shared::Statements::One, [&](Connection& c) {
    insert_event(c, shared_->now_us(), plugin_id, kind, detail);
    return true;
  });
}

std::vector<AuditEvent> Store::audit_events(const AuditQuery& query) const {
  if (query.plugin_id) require_id(*shared_, *query.plugin_id, "AuditQuery::plugin_id");
  // Built per call: which filters apply varies; every value is bound.
  std::string sql = "SELECT id, time_us, plugin_id, kind, detail FROM audit_events WHERE 1";
  if (query.plugin_id) sql += " AND plugin_id = :plugin";
  if (!query.kinds.empty()) {
    sql += " AND kind IN (";
    for (std::size_t i = 0; i < query.kinds.size(); ++i) sql += (i == 0 ? ":kind" : ", :kind") + std::to_string(i);
    sql += ")";
    // Repeating the partial index's condition lets SQLite use it.
    const bool rare = std::none_of(query.kinds.begin(), query.kinds.end(), [](const std::string& kind) {
      return kind == "SnapshotSaved" || kind == "HistoryTrimmed";
    });
    if (rare) sql += " AND kind NOT IN ('SnapshotSaved', 'HistoryTrimmed')";
  }
  if (query.since_us) sql += " AND time_us >= :since";
  if (query.until_us) sql += " AND time_us < :until";
  sql += query.order == AuditOrder::NewestFirst ? " ORDER BY id DESC" : " ORDER BY id";
  if (query.limit > 0) sql += " LIMIT :limit";
  return shared_->read("audit_events", [&](Connection& c) {
    SQLite::Statement select(c.db, sql);
    if (query.plugin_id) select.bind(":plugin", *query.plugin_id);
    for (std::size_t i = 0; i < query.kinds.size(); ++i) select.bind(":kind" + std::to_string(i), query.kinds[i]);
    if (query.since_us) select.bind(":since", *query.since_us);
    if (query.until_us) select.bind(":until", *query.until_us);
    if (query.limit > 0) {
      select.bind(":limit", static_cast<std::int64_t>(std::min<std::size_t>(query.limit, std::numeric_limits<std::int64_t>::max())));
    }
    std::vector<AuditEvent> events;
    while (select.executeStep()) {
      events.push_back(AuditEvent{static_cast<std::uint64_t>(select.getColumn(0).getInt64()),
                                  select.getColumn(1).getInt64(), select.getColumn(2).getString(),
                                  select.getColumn(3).getString(), select.getColumn(4).getString()});
    }
    return events;
  });
}

WriteOutcome<std::uint64_t> Store::prune_audit(const AuditPrune& prune) {
  if (!prune.older_than_us && !prune.keep_newest) {
    throw Error(ErrorCode::InvalidArgument, "prune_audit: set older_than_us, keep_newest or both; nothing was written");
  }
  return shared_->write("prune_audit", Shared::Statements::Many, [&](Connection& c) -> std::uint64_t {
    Detail detail;
    if (prune.older_than_us) detail["before_us"] = Json::from(*prune.older_than_us);
    if (prune.keep_newest) {
      // Keep the newest N: remove every event up to the (N+1)-th newest.
      StatementUse cut(c.statement("SELECT id FROM audit_events ORDER BY id DESC LIMIT 1 OFFSET ?1"));
      cut->bind(1, static_cast<std::int64_t>(std::min<std::size_t>(*prune.keep_newest, std::numeric_limits<std::int64_t>::max())));
      detail["before_id"] = Json::from(cut->executeStep() ? cut->getColumn(0).getInt64() + 1 : std::int64_t{0});
    }
    // The same rule as the trigger audit_events_prune, to count beforehand.
    StatementUse count(c.statement(
        "SELECT count(*) FROM audit_events WHERE kind <> 'AuditPruned'"
        " AND (id < json_extract(?1, '$.before_id') OR time_us < json_extract(?1, '$.before_us'))"
        " AND NOT (kind = 'SnapshotSaved' AND EXISTS (SELECT 1 FROM snapshots"
        "          WHERE seq = json_extract(audit_events.detail, '$.seq')))"));
    const std::string bounds = detail_text(detail);
    count->bind(1, bounds);
    count->executeStep();
    const std::int64_t deleted = count->getColumn(0).getInt64();
    detail["deleted"] = Json::from(deleted);
    const int changes_before = c.db.getTotalChanges();
    insert_event(c, shared_->now_us(), "", "AuditPruned", detail_text(detail));
    if (c.db.getTotalChanges() - changes_before != deleted + 1) {
      throw Error(ErrorCode::Internal, "prune_audit: the prune trigger removed a different number of events");
    }
    return static_cast<std::uint64_t>(deleted);
  });
}

WriteOutcome<ReloadTicket> Store::begin_reload(const StateSnapshot& snapshot, std::string_view to_version) {
  const EncodedRow row = encode_row(*shared_, snapshot);
  require_id(*shared_, to_version, "to_version");
  const std::string last_good = snapshot.to_bytes();
  return shared_->write("begin_reload", Shared::Statements::Many, [&](Connection& c) {
    ReloadTicket ticket;
    ticket.started_at_us = shared_->now_us();
    ticket.snapshot_seq = insert_row(c, row, ticket.started_at_us);
    {
      StatementUse insert(c.statement(
          "INSERT INTO reloads (plugin_id, from_version, to_version, started_at_us, snapshot_seq, last_good_snapshot)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
      insert->bindNoCopy(1, snapshot.plugin_id);
      insert->bindNoCopy(2, snapshot.plugin_version);
      insert->bind(3, std::string(to_version));
      insert->bind(4, ticket.started_at_us);
      insert->bind(5, static_cast<std::int64_t>(ticket.snapshot_seq));
      insert->bindNoCopy(6, last_good);
      insert->exec();
      ticket.id = static_cast<std::uint64_t>(c.db.getLastInsertRowid());
    }
    insert_event(c, ticket.started_at_us, snapshot.plugin_id, "ReloadStarted",
                 detail_text({{"reload_id", Json::from(ticket.id)},
                              {"from_version", Json::from(snapshot.plugin_version)},
                              {"to_version", Json::from(std::string(to_version))},
                              {"snapshot_seq", Json::from(ticket.snapshot_seq)}}));
    return ticket;
  });
}

WriteOutcome<bool> Store::finish_reload(std::uint64_t reload_id, const ReloadResult& result) {
  if (!result.success) {
    require_utf8(result.error, "the reload's error");
    require_within(result.error.size(), shared_->max_metadata_bytes, "the reload's error");
  }
  return shared_->write("finish_reload", Shared::Statements::Many, [&](Connection& c) {
    const JournalRow journal = unfinished_journal_row(c, reload_id, "finish_reload");
    const std::int64_t now = shared_->now_us();
    const std::string note = result.success ? std::string() : result.error;
    end_journal_row(c, reload_id, result.success ? "succeeded" : "failed", now, note);
    if (!result.success) {
      insert_event(c, now, journal.plugin_id, "ReloadFailed",
                   detail_text({{"reload_id", Json::from(reload_id)},
                                {"error", Json::from(result.error)},
                                {"attempt", Json::from(result.attempt)}}));
    }
    insert_event(c, now, journal.plugin_id, "ReloadCompleted",
                 detail_text({{"reload_id", Json::from(reload_id)},
                              {"success", Json::from(result.success)},
                              {"duration_us", Json::from(std::max<std::int64_t>(0, now - journal.started_at_us))}}));
    return true;
  });
}

WriteOutcome<bool> Store::resolve_reload(std::uint64_t reload_id, std::string_view note) {
  require_utf8(note, "the note");
  require_within(note.size(), shared_->max_metadata_bytes, "the note");
  return shared_->write("resolve_reload", Shared::Statements::Many, [&](Connection& c) {
    const JournalRow journal = unfinished_journal_row(c, reload_id, "resolve_reload");
    const std::int64_t now = shared_->now_us();
    end_journal_row(c, reload_id, "resolved", now, std::string(note));
    insert_event(c, now, journal.plugin_id, "ReloadResolved",
                 detail_text({{"reload_id", Json::from(reload_id)}, {"note", Json::from(std::string(note))}}));
    return true;
  });
}

std::vector<UnfinishedReload> Store::unfinished_reloads() const {
  return shared_->read("unfinished_reloads", [&](Connection& c) {
    std::vector<UnfinishedReload> reloads;
    StatementUse select(c.statement(
        "SELECT id, plugin_id, from_version, to_version, started_at_us, snapshot_seq, last_good_snapshot"
        " FROM reloads WHERE outcome IS NULL ORDER BY id"));
    while (select->executeStep()) {
      UnfinishedReload reload;
      reload.id = static_cast<std::uint64_t>(select->getColumn(0).getInt64());
      reload.plugin_id = select->getColumn(1).getString();
      reload.from_version = select->getColumn(2).getString();
      reload.to_version = select->getColumn(3).getString();
      reload.started_at_us = select->getColumn(4).getInt64();
      const auto seq = static_cast<std::uint64_t>(select->getColumn(5).getInt64());
      if (select->getColumn(6).isNull()) {
        throw Error(ErrorCode::Corrupt, "unfinished reload " + std::to_string(reload.id) + " has no last_good_snapshot");
      }
      try {
        reload.last_good = StateSnapshot::from_bytes(column_text(select->getColumn(6)));
      } catch (const Error& error) {
        throw Error(ErrorCode::Corrupt, "the last good snapshot of reload " + std::to_string(reload.id) +
                                            " is unreadable: " + error.what());
      }
      reload.last_good.seq = seq;
      reloads.push_back(std::move(reload));
    }
    return reloads;
  });
}

WriteOutcome<bool> Store::set_plugin_state(std::string_view plugin_id, const PluginState& state) {
  require_id(*shared_, plugin_id, "plugin_id");
  require_utf8(state.reason(), "the Failed reason");
  require_within(state.reason().size(), shared_->max_metadata_bytes, "the Failed reason");
  return shared_->write("set_plugin_state", Shared::Statements::One, [&](Connection& c) {
    // The triggers on plugin_states record the transition in the audit log.
    StatementUse upsert(c.statement(
        "INSERT INTO plugin_states (plugin_id, state, reason, changed_at_us) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT (plugin_id) DO UPDATE SET state = excluded.state, reason = excluded.reason,"
        " changed_at_us = excluded.changed_at_us"
        " WHERE state IS NOT excluded.state OR reason IS NOT excluded.reason"));
    upsert->bind(1, std::string(plugin_id));
    upsert->bind(2, std::string(PluginState::kind_name(state.kind())));
    upsert->bind(3, state.reason());
    upsert->bind(4, shared_->now_us());
    upsert->exec();
    return true;
  });
}

PluginState Store::plugin_state(std::string_view plugin_id) const {
  require_id(*shared_, plugin_id, "plugin_id");
  return shared_->read("plugin_state", [&](Connection& c) {
    StatementUse select(c.statement("SELECT state, reason FROM plugin_states WHERE plugin_id = ?1"));
    select->bind(1, std::string(plugin_id));
    if (!select->executeStep()) return PluginState();
    const std::string name = select->getColumn(0).getString();
    const auto kind = PluginState::kind_named(name);
    if (!kind) throw Error(ErrorCode::Corrupt, "plugin_states holds an unknown state '" + name + "'");
    if (*kind == PluginState::Kind::Failed) return PluginState::failed(select->getColumn(1).getString());
    return PluginState(*kind);
  });
}

namespace {

// Throws InvalidArgument when `destination` is the database at `source` or
// one of its -wal, -shm or -journal files (however spelled: ./x, a symlink).
void require_other_file(const std::string& source, const std::string& destination) {
  namespace fs = std::filesystem;
  std::error_code error;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    const std::string own = source + suffix;
    if (fs::equivalent(own, destination, error) && !error) {
      throw Error(ErrorCode::InvalidArgument,
                  "backup: '" + destination + "' is the database itself ('" + own + "'); nothing was written");
    }
  }
  const fs::path normal = fs::absolute(destination, error).lexically_normal();
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    if (!error && fs::absolute(source + suffix, error).lexically_normal() == normal) {
      throw Error(ErrorCode::InvalidArgument, "backup: '" + destination + "' is the database itself; nothing was written");
    }
  }
}

// fsyncs a file by name.
void sync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorCode::Io, "backup: cannot open '" + path + "' to sync it");
  const int synced = ::fsync(fd);
  ::close(fd);
  if (synced != 0) throw Error(ErrorCode::Io, "backup: cannot sync '" + path + "'");
}

// A temporary file beside `path`, removed with its journal unless kept.
class TemporaryBeside {
 public:
  explicit TemporaryBeside(const std::string& path) {
    std::string pattern = path + ".tmp-XXXXXX";
    const int fd = ::mkstemp(pattern.data());
    if (fd < 0) throw Error(ErrorCode::CannotOpen, "backup: cannot create a temporary file beside '" + path + "'");
    ::close(fd);
    path_ = pattern;
  }
  ~TemporaryBeside() {
    if (kept_) return;
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
    std::filesystem::remove(path_ + "-journal", ignored);
  }
  TemporaryBeside(const TemporaryBeside&) = delete;
  TemporaryBeside& operator=(const TemporaryBeside&) = delete;
  const std::string& path() const { return path_; }
  void keep() { kept_ = true; }

 private:
  std::string path_;
  bool kept_ = false;
};

}  // namespace

void Store::backup_to(const std::string& path) const {
  if (path.empty()) throw Error(ErrorCode::InvalidArgument, "backup: the destination path is empty");
  if (!shared_->in_memory) require_other_file(shared_->path, path);
  TemporaryBeside temporary(path);
  shared_->read("backup", [&](Connection& c) {
    {
      SQLite::Database destination(sqlite_file_name(temporary.path()), SQLite::OPEN_READWRITE);
      sqlite3_backup* backup = sqlite3_backup_init(destination.getHandle(), "main", c.db.getHandle(), "main");
      if (backup == nullptr) {
        throw SQLite::Exception(destination.getHandle(), sqlite3_errcode(destination.getHandle()));
      }
      // One step copies every page inside one read transaction of the source:
      // the copy is the database as of that moment (WAL readers do not block writers).
      const int step = sqlite3_backup_step(backup, -1);
      const int finish = sqlite3_backup_finish(backup);
      if (step != SQLITE_DONE) throw SQLite::Exception("backup step failed", step);
      if (finish != SQLITE_OK) throw SQLite::Exception(destination.getHandle(), finish);
    }
    return true;
  });
  // Whole or not at all: the copy reaches the disk before its name does.
  sync_file(temporary.path());
  if (std::rename(temporary.path().c_str(), path.c_str()) != 0) {
    throw Error(ErrorCode::CannotOpen, "backup: cannot rename the copy to '" + path + "'");
  }
  temporary.keep();
  sync_parent_directory(path);
}

namespace {

// The audit log against the snapshots: every row has its SnapshotSaved event
// with the same content hash (when the event recorded one) or a
// SnapshotEdited event, and every row that is gone is explained by an event
// that removed it.
void verify_audit(SQLite::Database& db, std::vector<std::string>& problems) {
  SQLite::Statement rows(db,
      "WITH hotstate_cte_saved AS MATERIALIZED (SELECT id, json_extract(detail, '$.seq') AS seq,"
      "                                   json_extract(detail, '$.content_hash') AS content_hash"
      "                              FROM audit_events WHERE kind = 'SnapshotSaved'),"
      "     hotstate_cte_edited AS MATERIALIZED (SELECT DISTINCT json_extract(detail, '$.seq') AS seq"
      "                              FROM audit_events WHERE kind = 'SnapshotEdited')"
      " SELECT s.seq, s.plugin_id, hotstate_cte_saved.id IS NOT NULL,"
      "        hotstate_cte_saved.content_hash IS NULL OR hotstate_cte_saved.content_hash IS s.content_hash"
      "        OR s.seq IN (SELECT seq FROM hotstate_cte_edited)"
      "   FROM snapshots AS s LEFT JOIN hotstate_cte_saved ON hotstate_cte_saved.seq = s.seq ORDER BY s.seq");
  while (rows.executeStep()) {
    const std::string which = "snapshot seq " + rows.getColumn(0).getString() + " of '" + rows.getColumn(1).getString() + "'";
    if (rows.getColumn(2).getInt() == 0) {
      problems.push_back(which + " has no SnapshotSaved event in the audit log");
    } else if (rows.getColumn(3).getInt() == 0) {
      problems.push_back(which + " differs from what its SnapshotSaved event recorded, with no SnapshotEdited event");
    }
  }
  SQLite::Statement gone(db,
      "WITH hotstate_cte_saved AS MATERIALIZED (SELECT id, plugin_id, json_extract(detail, '$.seq') AS seq"
      "                              FROM audit_events WHERE kind = 'SnapshotSaved'),"
      "     hotstate_cte_removed AS MATERIALIZED (SELECT json_extract(detail, '$.seq') AS seq FROM audit_events"
      "                               WHERE kind = 'HistoryTrimmed'"
      "                              UNION SELECT json_extract(detail, '$.from_seq') FROM audit_events"
      "                               WHERE kind = 'RolledBack')"
      " SELECT hotstate_cte_saved.seq, hotstate_cte_saved.plugin_id FROM hotstate_cte_saved"
      "  WHERE hotstate_cte_saved.seq NOT IN (SELECT seq FROM snapshots)"
      "    AND hotstate_cte_saved.seq NOT IN (SELECT seq FROM hotstate_cte_removed WHERE seq IS NOT NULL)"
      "    AND NOT EXISTS (SELECT 1 FROM audit_events AS c WHERE c.kind = 'Cleared'"
      "                       AND c.plugin_id = hotstate_cte_saved.plugin_id AND c.id > hotstate_cte_saved.id)"
      "    AND NOT EXISTS (SELECT 1 FROM audit_events AS c WHERE c.kind = 'ClearedAll' AND c.id > hotstate_cte_saved.id)"
      "  ORDER BY hotstate_cte_saved.seq LIMIT 100");
  while (gone.executeStep()) {
    problems.push_back("snapshot seq " + gone.getColumn(0).getString() + " of '" + gone.getColumn(1).getString() +
                       "' is gone with no event that removed it (deleted outside hotstate?)");
  }
}

}  // namespace

std::vector<std::string> Store::verify(int& schema_version) const {
  return shared_->read("verify", [&](Connection& c) {
    std::vector<std::string> problems;
    {
      SQLite::Statement integrity(c.db, "PRAGMA integrity_check(20)");
      while (integrity.executeStep()) {
        const std::string line = integrity.getColumn(0).getString();
        if (line != "ok") problems.push_back("integrity_check: " + line);
      }
    }
    const FileIdentity identity = inspect(c.db);
    schema_version = identity.user_version;
    if (identity.user_version != latest_schema_version()) {
      problems.push_back("schema version " + std::to_string(identity.user_version) + ", expected " +
                         std::to_string(latest_schema_version()));
    }
    if (identity.application_id != hotstate_application_id) {
      problems.push_back("application_id " + std::to_string(identity.application_id) + " is not hotstate's");
    }
    // Every schema object, exactly as hotstate's migrations create it.
    for (const SchemaDifference& difference : compare_schema(c.db.getHandle(), latest_schema_version())) {
      problems.push_back(describe(difference));
    }
    // Ids beyond the bound leave AUTOINCREMENT nothing to give.
    {
      SQLite::Statement ids(c.db, "SELECT name, seq FROM sqlite_sequence WHERE seq > ?1 ORDER BY name");
      ids.bind(1, static_cast<std::int64_t>(max_row_id));
      while (ids.executeStep()) {
        problems.push_back("table " + ids.getColumn(0).getString() + " has used ids up to " +
                           ids.getColumn(1).getString() + ", beyond " + std::to_string(max_row_id) +
                           ": no id is left for the next row");
      }
    }
    {
      SQLite::Statement over(c.db,
                             "SELECT plugin_id, count(*) FROM snapshots GROUP BY plugin_id "
                             "HAVING count(*) > (SELECT max_history + 1 FROM settings WHERE id = 1)");
      while (over.executeStep()) {
        problems.push_back("plugin '" + over.getColumn(0).getString() + "' has " + over.getColumn(1).getString() +
                           " rows, more than max_history + 1");
      }
    }
    {
      SQLite::Statement rows(c.db, std::string("SELECT ") + snapshot_columns + ", content_hash FROM snapshots ORDER BY seq");
      while (rows.executeStep()) {
        try {
          (void)read_snapshot(rows);
        } catch (const Error& error) {
          problems.push_back(error.what());
        }
        if (!rows.getColumn(7).isNull() &&
            rows.getColumn(7).getString() != sha3_256_hex(column_text(rows.getColumn(4)), column_text(rows.getColumn(5)))) {
          problems.push_back("snapshot seq " + rows.getColumn(0).getString() +
                             " does not match its content_hash (data or metadata changed without it)");
        }
      }
    }
    verify_audit(c.db, problems);
    return problems;
  });
}

}  // namespace hotstate::internal
