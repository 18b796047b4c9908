// The store: opening a file, refusing the ones hotstate must not touch,
// migrating the schema, and the WAL index the cache checks.
#include "store/store_internal.hpp"

#include <SQLiteCpp/Transaction.h>

#include "model/hex.hpp"

#include <cctype>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <set>

namespace hotstate::internal {

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
  std::string uri = "file:";
  for (const char ch : path) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '/' || c == '.' || c == '_' || c == '-' || c == '~') {
      uri += ch;
    } else {
      uri += '%';
      append_hex(uri, c, HexCase::Upper);
    }
  }
  return uri + "?immutable=1";
}


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

// Whether a difference from hotstate's schema may change what hotstate's
// writes do: anything on hotstate's tables (their definition, a trigger or
// index on them, one of hotstate's triggers or indexes changed or gone). A
// view, or a table of someone else's with its own triggers, does not run
// inside hotstate's writes; verify reports those too.
bool affects_writes(const SchemaDifference& difference) {
  if (difference.type == "view") return false;
  static const std::set<std::string, std::less<>> hotstate_tables = [] {
    std::set<std::string, std::less<>> tables;
    for (const SchemaObject& object : expected_schema(latest_schema_version())) {
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
std::optional<Error> diagnose_used_up_ids(Store::Connection& c, std::string_view context) {
  // hotstate's own query of SQLite's own table: nothing of the file's runs.
  const CompileWindow window(*c.guard);
  try {
    SQLite::Statement used_up(c.db, "SELECT name, seq FROM sqlite_sequence WHERE seq > ?1 ORDER BY name LIMIT 1");
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

// Applies each pending migration in its own transaction. A file at the
// latest version takes no write lock at all: its version is read outside any
// write transaction, so a file another connection is writing to opens at
// once. When a migration is due, the file is inspected again inside each
// BEGIN IMMEDIATE transaction, so a concurrent opener that migrated
// meanwhile is seen and no migration runs twice. A database created here
// (schema version 0) gets `initial_max_history` in the transaction that
// creates it.
void migrate(SQLite::Database& db, const std::string& path, std::optional<std::size_t> initial_max_history) {
  const FileIdentity current = inspect(db);
  require_usable(current, path);
  if (current.user_version >= latest_schema_version()) return;
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

namespace {

// Bounds the -wal file the writer leaves behind. SQLite checkpoints once
// the -wal holds wal_autocheckpoint pages (1000) and then writes it again
// from the start, keeping the file at its size (overwriting costs less than
// growing: an fsync of a file whose size changed writes its metadata too).
// Without a limit, a -wal that one large transaction (clear_all, a prune, a
// big batch) or a checkpoint held up by a reader made big stays that big for
// as long as the file is open. With this limit, SQLite cuts it back at the
// first commit after the restart. Twice the size at the checkpoint
// (8,240,000 bytes with 4 KiB pages), so ordinary writes never shrink and
// regrow it.
void limit_wal_size(SQLite::Database& db) {
  constexpr std::int64_t checkpoint_pages = 1000;  // SQLite's wal_autocheckpoint, which hotstate keeps
  constexpr std::int64_t frame_header_bytes = 24;
  const std::int64_t page_size = db.execAndGet("PRAGMA page_size").getInt64();
  db.exec("PRAGMA journal_size_limit = " + std::to_string(2 * checkpoint_pages * (page_size + frame_header_bytes)));
}

// Debian's SQLite is built with SECURE_DELETE on: every deleted row's bytes
// are overwritten with zeros, so a trim of a row that spills into overflow
// pages writes each of those pages again (twice the -wal bytes of a large
// save). FAST keeps the zeroing wherever it costs no extra write (the bytes
// inside a b-tree page that changes anyway) and leaves freed overflow pages
// as they are until a later save reuses them (README, Space: VACUUM).
void zero_deleted_content_without_extra_writes(SQLite::Database& db) { db.exec("PRAGMA secure_delete = FAST"); }

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
  if (!shared.in_memory && (shared.reader_flags & SQLite::OPEN_URI) == 0) shared.wal_index = map_wal_index(c->db);
  shared.install_writer(std::move(c));
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
  // An older file is migrated only through its exact schema: checked before
  // anything (even the journal mode) is changed, so a refused file is left
  // byte for byte as it was. Each migration checks again in its transaction.
  // The version and the schema are read in one read transaction: another
  // process migrating the file in between would otherwise pair one version's
  // number with the next version's schema and look foreign.
  FileIdentity identity;
  {
    SQLite::Transaction consistent_read(db, SQLite::TransactionBehavior::DEFERRED);
    identity = inspect(db);
    require_usable(identity, options.path);
    if (identity.user_version > 0 && identity.user_version < latest_schema_version()) {
      require_trusted_schema(db.getHandle(), identity.user_version, options.path,
                             "hotstate does not migrate a file with these, so it was left as it was");
    }
    consistent_read.commit();
  }
  // SQLite opens a file it may not write (mode 0444, EACCES) read-only
  // without a word; say so now rather than at the first write.
  if (sqlite3_db_readonly(db.getHandle(), "main") == 1) {
    throw Error(ErrorCode::ReadOnly, "'" + options.path +
                                         "' cannot be written (a read-only file or file system); open it with "
                                         "Options::read_only to read it");
  }
  if (!shared.in_memory) {
    db.execAndGet("PRAGMA journal_mode = WAL");
    limit_wal_size(db);
  }
  zero_deleted_content_without_extra_writes(db);
  // The migrations are one call: Options::call_time_limit bounds them from
  // here (a progress handler with no call begun would stop the first long one).
  guard->begin_call();
  migrate(db, options.path, options.max_history);
  // A :memory: database is private to this process: hotstate made every
  // object in it. A file's writer starts untrusted: its first write checks the
  // schema in its own transaction, and from the end of this constructor on,
  // nothing compiles outside such a check.
  if (shared.in_memory) guard->schema_trusted = true;
  ConnectionGuard& writer_guard = *guard;
  std::unique_ptr<Store::Connection> writer = shared.make_connection(std::move(guard), std::move(db));
  if (!shared.in_memory) {
    shared.wal_index = map_wal_index(writer->db);
    writer_guard.compile_allowed = false;
  }
  shared.install_writer(std::move(writer));
  return !existed;
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
  shared.audit_key = options.audit_key;
  // Only a cache asks what other writers changed, and only a file has any.
  shared.track_audit_position = !shared.in_memory && options.cache_max_entries > 0;

  retry_while_busy("open '" + options.path + "'", shared.settings.busy_ms, [&] {
      shared.install_writer(nullptr);
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

}  // namespace hotstate::internal
