// The store: backups and verify.
#include "store/store_internal.hpp"

#include <SQLiteCpp/Backup.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "model/sha3.hpp"

namespace hotstate::internal {

namespace {

// Throws InvalidArgument when `destination` is the database at `source` or
// one of its -wal, -shm or -journal files (however spelled: ./x, a symlink).
void require_other_file(const std::string& source, const std::string& destination) {
  namespace fs = std::filesystem;
  std::error_code ignored;
  const fs::path normal = fs::absolute(destination, ignored).lexically_normal();
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    const std::string own = source + suffix;
    // The same file however spelled: the same inode where it exists, the
    // same normal path where it does not (yet).
    const bool same = fs::equivalent(own, destination, ignored) ||
                      (!normal.empty() && fs::absolute(own, ignored).lexically_normal() == normal);
    if (same) {
      throw Error(ErrorCode::InvalidArgument,
                  "backup: '" + destination + "' is the database itself ('" + own + "'); nothing was written");
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
      SQLite::Backup backup(destination, c.db);
      // One step copies every page inside one read transaction of the source:
      // the copy is the database as of that moment (WAL readers do not block
      // writers). Errors throw; Busy and Locked are returned.
      const int step = backup.executeStep(-1);
      if (step != SQLITE_DONE) throw SQLite::Exception("backup: the copy did not complete", step);
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
