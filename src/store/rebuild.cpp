// The store: a new file from a replica's rows (Store::rebuild_file).
//
// The file is made as hotstate makes any new file (so its schema, settings
// row, journal mode and identity are hotstate's own), then filled in one
// transaction with the schema's triggers set aside: they exist to keep
// writers honest (events only appended and unchained, gaps only by prunes,
// every insert audited), and the rows written here are a copy of rows they
// already admitted once. The triggers come back with their exact SQL, in
// their order, before the commit.
#include "store/store_internal.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <random>

namespace hotstate::internal {

namespace {

constexpr std::string_view context = "restore";

bool exists(const std::string& path) {
  std::error_code ignored;
  return std::filesystem::exists(std::filesystem::symlink_status(path, ignored));
}

// A file path.restoring-XXXXXX created exclusively beside `path`; removed,
// with the -wal, -shm and -journal SQLite may leave, unless kept.
class RestoringFile {
 public:
  explicit RestoringFile(const std::string& path) {
    std::random_device random;
    static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    for (int attempt = 0; attempt < 100; ++attempt) {
      std::string candidate = path + ".restoring-";
      for (int i = 0; i < 8; ++i) candidate += digits[random() % (sizeof(digits) - 1)];
      // 0644 as SQLite creates files (less the umask).
      const int fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd >= 0) {
        ::close(fd);
        path_ = std::move(candidate);
        return;
      }
      if (errno != EEXIST) break;
    }
    throw Error(ErrorCode::CannotOpen, std::string(context) + ": cannot create a file beside '" + path + "'");
  }
  ~RestoringFile() {
    if (kept_) return;
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(path_ + suffix, ignored);
  }
  RestoringFile(const RestoringFile&) = delete;
  RestoringFile& operator=(const RestoringFile&) = delete;
  const std::string& path() const { return path_; }
  void keep() { kept_ = true; }

 private:
  std::string path_;
  bool kept_ = false;
};

void sync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorCode::Io, std::string(context) + ": cannot open '" + path + "' to sync it");
  const int synced = ::fsync(fd);
  ::close(fd);
  if (synced != 0) throw Error(ErrorCode::Io, std::string(context) + ": cannot sync '" + path + "'");
}

// rename() that never replaces: a file that appeared at `to` meanwhile is
// kept. Falls back to link + unlink where the file system has no
// RENAME_NOREPLACE.
void rename_without_replacing(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return;
  int error = errno;
  if (error == EINVAL || error == ENOSYS) {
    if (::link(from.c_str(), to.c_str()) == 0) {
      ::unlink(from.c_str());
      return;
    }
    error = errno;
  }
  if (error == EEXIST) {
    throw Error(ErrorCode::InvalidArgument,
                std::string(context) + ": '" + to + "' appeared while it was rebuilt; it was left as it is");
  }
  throw Error(ErrorCode::CannotOpen, std::string(context) + ": cannot rename the rebuilt file to '" + to + "'");
}

std::string quoted_identifier(const std::string& name) {
  std::string quoted = "\"";
  for (const char c : name) {
    quoted += c;
    if (c == '"') quoted += '"';
  }
  return quoted + "\"";
}

void bind_cell(SQLite::Statement& statement, int index, const Cell& cell) {
  switch (cell.kind) {
    case Cell::Kind::null: statement.bind(index); break;
    case Cell::Kind::integer: statement.bind(index, cell.integer); break;
    case Cell::Kind::text: statement.bind(index, cell.text); break;
  }
}

void insert_rows(SQLite::Database& db, const TableSpec& spec, const std::vector<Row>& rows) {
  if (rows.empty()) return;
  std::string placeholders;
  for (std::size_t i = 1; i <= spec.columns.size(); ++i) {
    placeholders += (i > 1 ? ", ?" : "?") + std::to_string(i);
  }
  SQLite::Statement insert(db, std::string("INSERT INTO ") + spec.name + " (" + spec.column_list() + ") VALUES (" +
                                   placeholders + ")");
  for (const Row& row : rows) {
    if (row.size() != spec.columns.size()) {
      throw Error(ErrorCode::Internal, std::string(context) + ": a row of " + spec.name + " has " +
                                           std::to_string(row.size()) + " values, not " +
                                           std::to_string(spec.columns.size()));
    }
    insert.reset();
    insert.clearBindings();
    for (std::size_t i = 0; i < row.size(); ++i) bind_cell(insert, static_cast<int>(i + 1), row[i]);
    insert.exec();
  }
}

std::int64_t highest_id(const std::vector<Row>& rows) {
  std::int64_t highest = 0;
  for (const Row& row : rows) {
    if (!row.empty() && row[0].kind == Cell::Kind::integer) highest = std::max(highest, row[0].integer);
  }
  return highest;
}

// Everything of `image` into the new file `db`, in one transaction.
void fill(SQLite::Database& db, const HostImage& image) {
  SQLite::Statement begin(db, "BEGIN IMMEDIATE");
  begin.exec();
  try {
    // The triggers, in creation order: SQLite runs triggers of one kind
    // newest first, so their order is part of what they do.
    std::vector<std::pair<std::string, std::string>> triggers;
    {
      SQLite::Statement select(db, "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY rowid");
      while (select.executeStep()) triggers.emplace_back(select.getColumn(0).getString(), select.getColumn(1).getString());
    }
    for (const auto& trigger : triggers) db.exec("DROP TRIGGER " + quoted_identifier(trigger.first));

    // A new file has none of these rows; emptied all the same, so the file
    // holds the image's rows and nothing else.
    for (const char* table : {"snapshots", "snapshot_counts", "audit_events", "audit_gaps", "plugin_states", "reloads",
                              "pins", "replicas"}) {
      db.exec(std::string("DELETE FROM ") + table);
    }
    {
      SQLite::Statement settings(db, "UPDATE settings SET max_history = ?1, audit_chain_from = ?2 WHERE id = 1");
      settings.bind(1, image.settings.max_history);
      settings.bind(2, image.settings.audit_chain_from);
      if (settings.exec() != 1) throw Error(ErrorCode::Internal, std::string(context) + ": the new file has no settings row");
    }
    insert_rows(db, snapshots_table(), image.snapshots);
    insert_rows(db, audit_events_table(), image.events);
    insert_rows(db, audit_gaps_table(), image.gaps);
    insert_rows(db, plugin_states_table(), image.plugin_states);
    insert_rows(db, reloads_table(), image.reloads);
    insert_rows(db, pins_table(), image.pins);
    db.exec("INSERT INTO snapshot_counts (plugin_id, row_count) SELECT plugin_id, count(*) FROM snapshots GROUP BY plugin_id");
    // The highest ids ever used, which rows since removed may have held:
    // ids are never reused.
    db.exec("DELETE FROM sqlite_sequence");
    {
      SQLite::Statement sequence(db, "INSERT INTO sqlite_sequence (name, seq) VALUES (?1, ?2)");
      const std::pair<const char*, std::int64_t> highs[] = {
          {"snapshots", std::max(image.settings.snapshots_seq_high, highest_id(image.snapshots))},
          {"reloads", std::max(image.settings.reloads_id_high, highest_id(image.reloads))},
          {"audit_events", std::max(image.settings.events_id_high, highest_id(image.events))}};
      for (const auto& [name, high] : highs) {
        if (high <= 0) continue;  // never used: SQLite has no row for it either
        sequence.reset();
        sequence.bind(1, name);
        sequence.bind(2, high);
        sequence.exec();
      }
    }
    {
      // The host's token: the file ships on as the same host.
      SQLite::Statement replica(db,
                                "INSERT INTO replicas (host_id, target, token, shipped_event_id, holds_prune)"
                                " VALUES (?1, ?2, ?3, ?4, 1)");
      replica.bind(1, image.host_id);
      replica.bind(2, image.target);
      replica.bind(3, image.token);
      replica.bind(4, static_cast<std::int64_t>(std::min<std::uint64_t>(image.rows_as_of, max_row_id)));
      replica.exec();
    }
    for (const auto& trigger : triggers) db.exec(trigger.second);
    // The schema must be hotstate's exactly, or hotstate would refuse the file.
    std::string differences;
    for (const SchemaDifference& difference : compare_schema(db.getHandle(), latest_schema_version())) {
      differences += (differences.empty() ? "" : "; ") + describe(difference);
    }
    if (!differences.empty()) {
      throw Error(ErrorCode::Internal, std::string(context) + ": the rebuilt schema differs from hotstate's: " + differences);
    }
    db.exec("COMMIT");
  } catch (...) {
    try {
      db.exec("ROLLBACK");
    } catch (...) {  // SQLite rolled back already
    }
    throw;
  }
}

}  // namespace

void Store::rebuild_file(const std::string& path, const HostImage& image) {
  if (path.empty() || path == ":memory:") {
    throw Error(ErrorCode::InvalidArgument, std::string(context) + ": the file to rebuild needs a path");
  }
  if (image.host_id.empty() || image.token.empty()) {
    throw Error(ErrorCode::InvalidArgument, std::string(context) + ": the image has no host id or token");
  }
  if (image.settings.max_history < 0 || static_cast<std::uint64_t>(image.settings.max_history) > max_history_limit) {
    throw Error(ErrorCode::InvalidArgument,
                std::string(context) + ": max_history " + std::to_string(image.settings.max_history) + " is out of range");
  }
  // A -wal or -journal without its file would be replayed into the new one.
  for (const char* suffix : {"", "-wal", "-journal"}) {
    if (exists(path + suffix)) {
      throw Error(ErrorCode::InvalidArgument,
                  std::string(context) + ": '" + path + suffix + "' exists; nothing was changed (rebuild into a new path)");
    }
  }
  RestoringFile restoring(path);
  try {
    {
      // Made as hotstate makes every new file: schema, identity, WAL mode.
      Options options;
      options.path = restoring.path();
      options.max_history = static_cast<std::size_t>(image.settings.max_history);
      options.cache_max_entries = 0;
      const Store created(options);
    }
    {
      SQLite::Database db(sqlite_file_name(restoring.path()), SQLite::OPEN_READWRITE);
      fill(db, image);
      // Everything into the main file before it is renamed (a -wal would
      // not follow the rename); closing the last connection removes it.
      db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    }
    if (exists(restoring.path() + "-wal")) {
      throw Error(ErrorCode::Io, std::string(context) + ": the rebuilt file's -wal could not be merged into it");
    }
  } catch (const SQLite::Exception& e) {
    rethrow_sqlite(context, e, e.getExtendedErrorCode());
  }
  // Whole or not at all: the file reaches the disk before its name does.
  sync_file(restoring.path());
  rename_without_replacing(restoring.path(), path);
  restoring.keep();
  sync_parent_directory(path);
}

}  // namespace hotstate::internal
