#include "store/store.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <limits>
#include <string>

#include "model/json_internal.hpp"
#include "store/migrations.hpp"
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

constexpr const char* snapshot_columns = "seq, plugin_id, timestamp, plugin_version, data, metadata";

std::string_view column_text(const SQLite::Column& column) {
  const char* text = column.getText();
  return {text, static_cast<std::size_t>(column.getBytes())};
}

// The current row of `statement` (columns as in snapshot_columns).
StateSnapshot read_snapshot(SQLite::Statement& statement) {
  const std::int64_t seq = statement.getColumn(0).getInt64();
  try {
    StateSnapshot snapshot(statement.getColumn(1).getString(), statement.getColumn(3).getString());
    snapshot.seq = static_cast<std::uint64_t>(seq);
    snapshot.timestamp = static_cast<std::uint64_t>(statement.getColumn(2).getInt64());
    snapshot.data = decode_json_object(column_text(statement.getColumn(4)));
    snapshot.metadata = decode_string_object(column_text(statement.getColumn(5)));
    return snapshot;
  } catch (const Error& error) {
    throw Error(ErrorCode::Corrupt, "snapshot row seq " + std::to_string(seq) + " is unreadable: " + error.what());
  }
}

}  // namespace

struct Store::Connection {
  SQLite::Database db;
  SQLite::Statement begin_immediate;
  SQLite::Statement commit;
  SQLite::Statement rollback;
  SQLite::Statement insert_snapshot;
  SQLite::Statement select_current;
  SQLite::Statement select_newest_two;
  SQLite::Statement select_by_seq;
  SQLite::Statement delete_by_seq;
  SQLite::Statement select_history;
  SQLite::Statement delete_plugin;
  SQLite::Statement delete_all;
  SQLite::Statement select_plugin_ids;
  SQLite::Statement select_max_history;

  explicit Connection(SQLite::Database opened)
      : db(std::move(opened)),
        begin_immediate(db, "BEGIN IMMEDIATE"),
        commit(db, "COMMIT"),
        rollback(db, "ROLLBACK"),
        insert_snapshot(db,
                        "INSERT INTO snapshots (plugin_id, timestamp, plugin_version, data, metadata, saved_at_us) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        select_current(db, std::string("SELECT ") + snapshot_columns +
                               " FROM snapshots WHERE plugin_id = ?1 ORDER BY seq DESC LIMIT 1"),
        select_newest_two(db, "SELECT seq FROM snapshots WHERE plugin_id = ?1 ORDER BY seq DESC LIMIT 2"),
        select_by_seq(db, std::string("SELECT ") + snapshot_columns + " FROM snapshots WHERE seq = ?1"),
        delete_by_seq(db, "DELETE FROM snapshots WHERE seq = ?1"),
        select_history(db, std::string("SELECT ") + snapshot_columns +
                               " FROM snapshots WHERE plugin_id = ?1"
                               " AND seq < (SELECT max(seq) FROM snapshots WHERE plugin_id = ?1) ORDER BY seq"),
        delete_plugin(db, "DELETE FROM snapshots WHERE plugin_id = ?1"),
        delete_all(db, "DELETE FROM snapshots"),
        select_plugin_ids(db, "SELECT DISTINCT plugin_id FROM snapshots ORDER BY plugin_id"),
        select_max_history(db, "SELECT max_history FROM settings WHERE id = 1") {}
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

// Applies each pending migration in its own transaction. Re-inspects the file
// inside each transaction, so a concurrent opener cannot slip in between.
void migrate(SQLite::Database& db, const std::string& path) {
  for (const Migration& migration : embedded_migrations()) {
    SQLite::Transaction transaction(db, SQLite::TransactionBehavior::IMMEDIATE);
    const FileIdentity identity = inspect(db);
    require_usable(identity, path);
    if (identity.user_version >= migration.version) continue;
    try {
      db.exec(std::string(migration.sql));
    } catch (const SQLite::Exception& e) {
      rethrow_sqlite("migration " + std::string(migration.name), e, e.getExtendedErrorCode());
    }
    db.exec("PRAGMA user_version = " + std::to_string(migration.version));
    transaction.commit();
  }
}

}  // namespace

Store::Store(const Options& options) {
  if (options.path.empty()) {
    throw Error(ErrorCode::InvalidArgument, "Options::path is empty (use \":memory:\" for a throwaway store)");
  }
  if (options.max_history > max_history_limit) {
    throw Error(ErrorCode::InvalidArgument, "Options::max_history is " + std::to_string(options.max_history) +
                                                "; the most is " + std::to_string(max_history_limit));
  }
  if (options.busy_timeout.count() < 0 || options.busy_timeout.count() > std::numeric_limits<int>::max()) {
    throw Error(ErrorCode::InvalidArgument, "Options::busy_timeout is out of range");
  }
  const int busy_ms = static_cast<int>(options.busy_timeout.count());
  const bool in_memory = options.path == ":memory:";
  const std::string context = "open '" + options.path + "'";

  translate_sqlite_errors(context, [&] {
    // Look at an existing file without writing to it first, so that a file
    // hotstate must refuse gets no -wal, -shm or checkpoint. The check is
    // repeated on the real connection (and in each migration transaction),
    // which also sees what a WAL holds that the main file does not yet.
    std::error_code ignored;
    if (!in_memory && std::filesystem::exists(options.path, ignored)) {
      SQLite::Database probe(immutable_uri(options.path), SQLite::OPEN_READONLY | SQLite::OPEN_URI, busy_ms);
      require_usable(inspect(probe), options.path);
    }
    SQLite::Database db(options.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, busy_ms);
    require_usable(inspect(db), options.path);
    if (!in_memory) db.execAndGet("PRAGMA journal_mode = WAL");
    db.exec(options.synchronous == Synchronous::Full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    migrate(db, options.path);
    connection_ = std::make_unique<Connection>(std::move(db));
    record_max_history(options.max_history);
  });
}

Store::~Store() = default;

void Store::record_max_history(std::size_t max_history) {
  if (this->max_history() == max_history) return;
  WriteTransaction transaction(*connection_);
  SQLite::Statement update(connection_->db, "UPDATE settings SET max_history = ?1 WHERE id = 1");
  update.bind(1, static_cast<std::int64_t>(max_history));
  update.exec();
  transaction.commit();
}

std::uint64_t Store::insert(const StateSnapshot& snapshot) {
  if (snapshot.timestamp > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    throw Error(ErrorCode::InvalidArgument, "save_snapshot: timestamp " + std::to_string(snapshot.timestamp) +
                                                " is beyond 2^63-1 seconds and cannot be stored");
  }
  require_utf8(snapshot.plugin_id, "plugin_id");
  require_utf8(snapshot.plugin_version, "plugin_version");
  const std::string data = encode_data_object(snapshot.data);
  const std::string metadata = encode_string_object(snapshot.metadata);
  return translate_sqlite_errors("save_snapshot", [&] {
    Connection& c = *connection_;
    WriteTransaction transaction(c);
    {
      StatementUse insert(c.insert_snapshot);
      insert->bindNoCopy(1, snapshot.plugin_id);
      insert->bind(2, static_cast<std::int64_t>(snapshot.timestamp));
      insert->bindNoCopy(3, snapshot.plugin_version);
      insert->bindNoCopy(4, data);
      insert->bindNoCopy(5, metadata);
      insert->bind(6, unix_microseconds_now());
      insert->exec();
    }
    const auto seq = static_cast<std::uint64_t>(c.db.getLastInsertRowid());
    transaction.commit();
    return seq;
  });
}

std::optional<StateSnapshot> Store::current(std::string_view plugin_id) {
  return translate_sqlite_errors("load_snapshot", [&]() -> std::optional<StateSnapshot> {
    StatementUse select(connection_->select_current);
    select->bind(1, std::string(plugin_id));
    if (!select->executeStep()) return std::nullopt;
    return read_snapshot(*select.operator->());
  });
}

std::optional<StateSnapshot> Store::rollback(std::string_view plugin_id) {
  return translate_sqlite_errors("rollback", [&]() -> std::optional<StateSnapshot> {
    Connection& c = *connection_;
    WriteTransaction transaction(c);
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
      StatementUse erase(c.delete_by_seq);
      erase->bind(1, newest);
      erase->exec();
    }
    std::optional<StateSnapshot> restored;
    {
      StatementUse select(c.select_by_seq);
      select->bind(1, previous);
      if (!select->executeStep()) throw Error(ErrorCode::Internal, "rollback: history row vanished");
      restored = read_snapshot(*select.operator->());
    }
    transaction.commit();
    return restored;
  });
}

std::vector<StateSnapshot> Store::history(std::string_view plugin_id) {
  return translate_sqlite_errors("get_history", [&] {
    std::vector<StateSnapshot> result;
    StatementUse select(connection_->select_history);
    select->bind(1, std::string(plugin_id));
    while (select->executeStep()) result.push_back(read_snapshot(*select.operator->()));
    return result;
  });
}

void Store::clear(std::string_view plugin_id) {
  translate_sqlite_errors("clear", [&] {
    WriteTransaction transaction(*connection_);
    {
      StatementUse erase(connection_->delete_plugin);
      erase->bind(1, std::string(plugin_id));
      erase->exec();
    }
    transaction.commit();
  });
}

void Store::clear_all() {
  translate_sqlite_errors("clear_all", [&] {
    WriteTransaction transaction(*connection_);
    StatementUse(connection_->delete_all)->exec();
    transaction.commit();
  });
}

std::vector<std::string> Store::plugin_ids() {
  return translate_sqlite_errors("plugin_ids", [&] {
    std::vector<std::string> ids;
    StatementUse select(connection_->select_plugin_ids);
    while (select->executeStep()) ids.push_back(select->getColumn(0).getString());
    return ids;
  });
}

std::size_t Store::max_history() {
  return translate_sqlite_errors("max_history", [&] {
    StatementUse select(connection_->select_max_history);
    if (!select->executeStep()) throw Error(ErrorCode::Corrupt, "the settings row is missing");
    return static_cast<std::size_t>(select->getColumn(0).getInt64());
  });
}

}  // namespace hotstate::internal
