// Internal: what the store's files share. The store / query layer is split
// by concept, one file each, all behind Store (store.hpp):
//   opening.cpp         opening a file, refusing foreign ones, migrations, the WAL index
//   rows.cpp            a snapshot as a row and back; the rules for ids and sizes
//   snapshots.cpp       saves, rollback, clear, current, history, the history bound
//   audit_log.cpp       the audit log: events, queries, the retention prune
//   reload_journal.cpp  begin, finish and resolve reloads
//   plugin_states.cpp   each plugin's life-cycle state
//   maintenance.cpp     backup and verify
//   write_path.cpp      the write queue, group commit, the schema gate, retries
// Connections themselves (hardening, callbacks) are in connection.*, the
// schema check in schema_guard.*. Nothing here is part of the public API.
#pragma once

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <exception>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hotstate/error.hpp"
#include "hotstate/json.hpp"
#include "hotstate/time.hpp"
#include "model/audit_kinds.hpp"
#include "model/mutex.hpp"
#include "store/connection.hpp"
#include "store/migrations.hpp"
#include "store/schema_guard.hpp"
#include "store/sqlite_error.hpp"
#include "store/store.hpp"
#include "store/write_outcome.hpp"

namespace hotstate::internal {

// PRAGMA application_id of a hotstate database ("HSTA"), set by migration 0001.
constexpr int hotstate_application_id = 0x48535441;
constexpr std::size_t max_history_limit = 2147483647;

// What a file says about itself before hotstate writes anything to it.
struct FileIdentity {
  int application_id = 0;
  int user_version = 0;
  std::int64_t schema_objects = 0;
};

// The identity of the file `db` has open (PRAGMAs; reads nothing else).
FileIdentity inspect(SQLite::Database& db);
// A file: URI naming `path`, opened immutable: SQLite reads the main file
// only, with no locks and no -wal or -shm, so looking at it creates nothing.
std::string immutable_uri(const std::string& path);
// Throws unless hotstate may use (and migrate) a file with this identity.
void require_usable(const FileIdentity& identity, const std::string& path);


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

inline constexpr const char* snapshot_columns = "seq, plugin_id, timestamp, plugin_version, data, metadata, canonical_hash";

inline std::string_view column_text(const SQLite::Column& column) {
  const char* text = column.getText();
  return {text, static_cast<std::size_t>(column.getBytes())};
}

// The current row of `statement` (columns as in snapshot_columns). A row
// whose canonical_hash matches its texts is exactly as hotstate wrote it, and
// is split without a parser; any other row is parsed and canonicalized.
// Throws Error(Corrupt) for a row it cannot read.
StateSnapshot read_snapshot(SQLite::Statement& statement);

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
  SQLite::Statement select_audit_position;
  // The writer's statements that fire triggers; readers have none.
  std::optional<SQLite::Statement> insert_snapshot;
  std::optional<SQLite::Statement> delete_by_seq;
  std::optional<SQLite::Statement> delete_plugin;
  std::optional<SQLite::Statement> delete_all;
  // One write of a group commit inside the group's transaction.
  std::optional<SQLite::Statement> savepoint;
  std::optional<SQLite::Statement> release_savepoint;
  std::optional<SQLite::Statement> rollback_to_savepoint;

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
        select_max_history(db, "SELECT max_history FROM settings WHERE id = 1"),
        // One statement, so one view of the database: the schema version
        // and the newest event of the same moment.
        select_audit_position(db,
                              "SELECT (SELECT schema_version FROM pragma_schema_version), id, time_us"
                              "  FROM (SELECT 1) LEFT JOIN (SELECT id, time_us FROM audit_events ORDER BY id DESC LIMIT 1)") {
    if (guard->role != ConnectionGuard::Role::Writer) return;
    insert_snapshot.emplace(db,
                            "INSERT INTO snapshots (plugin_id, timestamp, plugin_version, data, metadata, saved_at_us, "
                            "canonical_hash, content_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    delete_by_seq.emplace(db, "DELETE FROM snapshots WHERE seq = ?1");
    delete_plugin.emplace(db, "DELETE FROM snapshots WHERE plugin_id = ?1");
    delete_all.emplace(db, "DELETE FROM snapshots");
    savepoint.emplace(db, "SAVEPOINT hotstate_write");
    release_savepoint.emplace(db, "RELEASE hotstate_write");
    rollback_to_savepoint.emplace(db, "ROLLBACK TO hotstate_write");
  }
};

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
// writes do (see opening.cpp).
bool affects_writes(const SchemaDifference& difference);
// Throws Error(UntrustedSchema), naming each object, unless the schema of
// `db` at `version` is hotstate's as far as writes are concerned.
void require_trusted_schema(sqlite3* db, int version, const std::string& path, std::string_view refused);
// The Corrupt error for a "disk full" that was a table with no id left to
// give (an id beyond 2^53-1 written outside hotstate), if that is the case.
std::optional<Error> diagnose_used_up_ids(Store::Connection& c, std::string_view context);

// Runs `attempt` again while it fails with Busy (another connection holds
// the lock, migrates, checkpoints or recovers the file), until busy_ms have
// passed; SQLite errors become Error as by translate_sqlite_errors.
template <class Attempt>
auto retry_while_busy(std::string_view context, int busy_ms, Attempt&& attempt) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_ms);
  for (int tries = 0;; ++tries) {
    try {
      return translate_sqlite_errors(context, attempt);
    } catch (const Error& error) {
      if (error.code() != ErrorCode::Busy || std::chrono::steady_clock::now() >= deadline) throw;
      std::this_thread::sleep_for(std::chrono::microseconds(50) * std::min(tries + 1, 20));
    }
  }
}
// Applies each pending migration in its own transaction (see opening.cpp).
void migrate(SQLite::Database& db, const std::string& path, std::optional<std::size_t> initial_max_history);
// The WAL-index header as SQLite itself maps it for `db`, or null.
const volatile std::uint32_t* map_wal_index(SQLite::Database& db);
// Both copies of the WAL-index header, read as SQLite's readers do.
ChangeMarker read_wal_index_header(const volatile std::uint32_t* words) noexcept;

// The audit log's position now, in `c`'s view (see AuditPosition).
AuditPosition read_audit_position(Store::Connection& c);

struct Store::Shared {
  std::string path;
  bool in_memory = false;
  ConnectionSettings settings;
  bool read_only = false;
  std::size_t max_id_bytes = 0;
  std::size_t max_data_bytes = 0;
  std::size_t max_metadata_bytes = 0;
  std::function<std::int64_t()> clock;  // Options::clock; empty: the system clock
  bool track_audit_position = false;    // each Commit carries the audit log's position (for a cache)
  std::string audit_key;                // Options::audit_key: signs the audit chain; empty: unsigned

  std::int64_t now_us() const { return clock ? clock() : hotstate::now_us(); }
  // How read connections open the file: the path and flags the writer (or,
  // read-only, the first connection) succeeded with.
  std::string reader_path;
  int reader_flags = 0;

  // Writes: one connection, one at a time.
  Mutex writer_mutex;
  std::unique_ptr<Connection> writer GUARDED_BY(writer_mutex);

  // Reads: idle connections, opened on demand.
  Mutex pool_mutex;
  std::vector<std::unique_ptr<Connection>> idle_readers GUARDED_BY(pool_mutex);

  // Replaces the writer connection (opening; null closes it).
  void install_writer(std::unique_ptr<Connection> connection) EXCLUDES(writer_mutex) {
    MutexLock lock(writer_mutex);
    writer = std::move(connection);
  }

  const volatile std::uint32_t* wal_index = nullptr;
  std::atomic<std::uint32_t> memory_commits{0};  // the marker of a :memory: database

  ChangeMarker marker() const noexcept {
    if (wal_index != nullptr) {
      // A commit writes the header's second copy, then (after a memory
      // barrier) its first: for a fraction of a microsecond the copies
      // differ. A reader as fast as a cache hit lands in that window about
      // once per commit of another process (a miss each time), so a torn
      // header is read again a few times before it counts as torn.
      ChangeMarker marker = read_wal_index_header(wal_index);
      for (int tries = 0; tries < 64 && !marker.stable; ++tries) {
        if (tries >= 8) std::this_thread::yield();
        marker = read_wal_index_header(wal_index);
      }
      return marker;
    }
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

  // A read connection for one call: from the pool, or the writer's for
  // :memory:, held with writer_mutex for the lease's life (a lock kept in a
  // member, which the thread-safety analysis cannot follow: hence
  // NO_THREAD_SAFETY_ANALYSIS on the two functions that rely on it).
  class ReadLease {
   public:
    explicit ReadLease(Shared& shared) NO_THREAD_SAFETY_ANALYSIS : shared_(shared) {
      if (shared_.in_memory) {
        memory_lock_ = std::unique_lock(shared_.writer_mutex);
        return;
      }
      {
        MutexLock lock(shared_.pool_mutex);
        if (!shared_.idle_readers.empty()) {
          connection_ = std::move(shared_.idle_readers.back());
          shared_.idle_readers.pop_back();
        }
      }
      if (!connection_) connection_ = shared_.open_reader(shared_.reader_path, shared_.reader_flags);
    }
    ~ReadLease() {
      if (!connection_) return;
      MutexLock lock(shared_.pool_mutex);
      shared_.idle_readers.push_back(std::move(connection_));
    }
    ReadLease(const ReadLease&) = delete;
    ReadLease& operator=(const ReadLease&) = delete;
    Connection& operator*() NO_THREAD_SAFETY_ANALYSIS { return connection_ ? *connection_ : *shared_.writer; }

   private:
    Shared& shared_;
    std::unique_lock<Mutex> memory_lock_;
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

  // Runs `body(connection, commit)` as one write and returns its value with
  // the Commit it filled in (the body adds the current snapshots it set; the
  // change markers are added here). A failure while the commit ran is thrown
  // as CommitUncertain; any other failure committed nothing (see
  // write_outcome.hpp).
  //
  // Group commit, as leveldb's writer queue: writes queue up; the one at the
  // front runs every write queued behind it (up to max_group) in one
  // transaction, each in its own savepoint, and commits once, so that
  // concurrent writers share one commit and one fsync. A write that fails
  // (refused input, Conflict, a trigger's RAISE) is rolled back to its
  // savepoint and fails alone; each caller returns only after the commit
  // that holds its write. A write with nobody queued behind it runs alone,
  // in BEGIN IMMEDIATE … COMMIT: also a single-statement body
  // (Statements::One, kept as a hint), since the events any write adds are
  // chained in its transaction before it commits (audit_chain.hpp; with an
  // audit key, the events other clients wrote are chained first, as theirs).
  // Either way the Commit's markers bracket the
  // commit: a commit counter that moved by exactly one says no other commit
  // came in between. A Busy failure that SQLite's busy handler did not absorb
  // is retried until the busy timeout has passed (write_path.cpp).
  //
  // A group grows while it runs: after its last write, the writes that
  // queued meanwhile join it, until none is waiting (or max_group), and
  // only then does it commit. Without this, the threads of one group,
  // acknowledged together, would queue again while the next group (the
  // threads that had queued meanwhile) was already running, and groups
  // would alternate between two halves of the writers. While writers run
  // concurrently (the write at the front waited behind another, or the last
  // group had several) even a write with nobody behind it runs as a group,
  // so that the writers just acknowledged can join it. At Synchronous::Full,
  // where a commit costs an fsync, the group also waits for the last group's
  // threads that have not queued again yet, at most half the time the last
  // group took (PostgreSQL's commit_delay, measured instead of set).
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
  using BodyValue = decltype(std::declval<Body&>()(std::declval<Connection&>(), std::declval<Commit&>()));

  // A write waiting for its turn, and then its outcome.
  struct QueuedWrite {
    std::string_view context;
    Statements statements = Statements::Many;
    // The caller's body, its type erased; it keeps its value in the caller's frame.
    void (*run)(void* body, Connection& c, Commit& commit) = nullptr;
    void* body = nullptr;
    // Set by the thread that ran the write, before `done`:
    std::exception_ptr failure;  // null: committed, as `commit` says
    Commit commit;
    bool done = false;  // read and written with queue_mutex held
    std::thread::id thread = std::this_thread::get_id();  // the caller's
    // Signalled when the write is done, when it reaches the front of the
    // queue, and (at the front, gathering) when awaited threads are back:
    // each waiter has its own, so that a commit wakes only the threads it
    // concerns (as leveldb's writers).
    std::condition_variable wake;
  };
  static constexpr std::size_t max_group = 64;

  template <class Body>
  WriteOutcome<BodyValue<Body>> write(std::string_view context, Statements statements, Body&& body)
      EXCLUDES(writer_mutex, queue_mutex) {
    if (read_only) {
      throw Error(ErrorCode::ReadOnly, std::string(context) + ": this StateManager was opened read-only");
    }
    std::optional<BodyValue<Body>> value;
    auto run_body = [&](Connection& c, Commit& commit) { value.emplace(body(c, commit)); };
    QueuedWrite queued;
    queued.context = context;
    queued.statements = statements;
    queued.run = [](void* erased, Connection& c, Commit& commit) { (*static_cast<decltype(run_body)*>(erased))(c, commit); };
    queued.body = &run_body;
    run_queued(queued);
    if (queued.failure) std::rethrow_exception(queued.failure);
    return WriteOutcome<BodyValue<Body>>{std::move(*value), std::move(queued.commit)};
  }

  // Queues `write` and returns once it ran, alone or in a group, with its
  // outcome in it. Never throws.
  void run_queued(QueuedWrite& write) EXCLUDES(writer_mutex, queue_mutex);
  // Runs `group` (the front of the queue) with the writer connection, alone
  // or, when `together`, in one transaction that takes in the writes queued
  // behind it while it runs (grow).
  void run_group(std::vector<QueuedWrite*>& group, bool together) EXCLUDES(writer_mutex);
  // Adds to `group` the writes queued right behind it, up to max_group
  // (at Full, once the last group's threads are back; see above).
  void grow(std::vector<QueuedWrite*>& group) EXCLUDES(queue_mutex);
  // Adds to `group`, the front of the queue, the writes that follow it, up
  // to max_group.
  void take_queued(std::vector<QueuedWrite*>& group) REQUIRES(queue_mutex);

  // After a commit of `c` that began with `changes_before` total changes:
  // a :memory: database's marker moves.
  void count_memory_commit(Connection& c, int changes_before) noexcept {
    if (in_memory && c.db.getTotalChanges() != changes_before) {
      memory_commits.fetch_add(1, std::memory_order_release);
    }
  }

  // After a commit of `c`: the rest of what its Commit says, the audit log's
  // position first, then the marker (see Commit::position). Never throws: a
  // position that cannot be read is unknown.
  void finish_commit(Connection& c, int changes_before, Commit& commit) noexcept {
    count_memory_commit(c, changes_before);
    if (track_audit_position) {
      try {
        commit.position = read_audit_position(c);
      } catch (...) {
        commit.position = AuditPosition{};
      }
    }
    commit.after = marker();
  }

  Mutex queue_mutex;
  std::deque<QueuedWrite*> queue GUARDED_BY(queue_mutex);
  std::size_t last_group_size GUARDED_BY(queue_mutex) = 0;
  // The threads of the last group that have not queued again, whether a
  // group is waiting for them, and how long the last group took.
  std::vector<std::thread::id> awaited GUARDED_BY(queue_mutex);
  bool gathering GUARDED_BY(queue_mutex) = false;
  std::chrono::steady_clock::duration last_run GUARDED_BY(queue_mutex){};
  static constexpr std::chrono::microseconds max_gathering{1000};
};

// A snapshot's row, encoded (and checked) before any transaction starts.
struct EncodedRow {
  const StateSnapshot* snapshot;
  std::string data;
  std::string metadata;
  std::int64_t hash;
  std::string content_hash;  // SHA3-256 of data || metadata, lowercase hex
};

void require_within(std::size_t size, std::size_t limit, const char* what);
// The one rule for a plugin id (and a version), on every path that takes
// one, reads included: UTF-8, within max_id_bytes.
void require_id(const Store::Shared& limits, std::string_view text, const char* what);
// Encodes and checks a snapshot before any transaction starts.
EncodedRow encode_row(const Store::Shared& limits, const StateSnapshot& snapshot);
// Inserts the row; returns its seq.
std::uint64_t insert_row(Store::Connection& c, const EncodedRow& row, std::int64_t time_us);

// A snapshot on its way into the database, held where its Commit can hand
// it on as it is: not copied, only its seq filled in once known.
using SnapshotToSave = std::shared_ptr<StateSnapshot>;
inline SnapshotToSave to_save(StateSnapshot&& snapshot) {
  return std::make_shared<StateSnapshot>(std::move(snapshot));
}
// Inserts `saved` (encoded as `row`) and records it as its plugin's current snapshot in `commit`.
inline std::uint64_t insert_current(Store::Connection& c, Commit& commit, const SnapshotToSave& saved,
                                    const EncodedRow& row, std::int64_t time_us) {
  saved->seq = insert_row(c, row, time_us);
  commit.current.push_back({saved->plugin_id, saved});
  return saved->seq;
}

// Pins the plugin's stored snapshot `seq` (a row, else a pin's copy) under
// `label` inside the caller's transaction; false when nothing changed (no
// such snapshot, or the label names it already).
bool pin_stored(Store::Connection& c, std::string_view plugin_id, std::uint64_t seq, std::string_view label,
                std::int64_t now_us);

// Appends an event to the audit log inside the caller's transaction.
std::uint64_t insert_event(Store::Connection& c, std::int64_t time_us, std::string_view plugin_id,
                           std::string_view kind, const std::string& detail);
using Detail = std::map<std::string, Json>;
inline std::string detail_text(const Detail& detail) { return Json::from(detail).text(); }

}  // namespace hotstate::internal
