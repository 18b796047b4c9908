// The store: backups and verify.
#include "store/store_internal.hpp"

#include <SQLiteCpp/Backup.h>
#include <SQLiteCpp/Transaction.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "model/sha3.hpp"
#include "store/audit_chain.hpp"
#include "store/progress_reporter.hpp"

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

void Store::backup_to(const std::string& path, const ProgressCallback& progress) const {
  if (path.empty()) throw Error(ErrorCode::InvalidArgument, "backup: the destination path is empty");
  if (!shared_->in_memory) require_other_file(shared_->path, path);
  TemporaryBeside temporary(path);
  shared_->read("backup", [&](Connection& c) {
    {
      SQLite::Database destination(sqlite_file_name(temporary.path()), SQLite::OPEN_READWRITE);
      // Every step runs inside one read transaction of the source, so the
      // copy is the database as of one moment (WAL readers do not block
      // writers), however many steps the progress needs. Errors throw; Busy
      // and Locked are returned.
      SQLite::Transaction moment(c.db, SQLite::TransactionBehavior::DEFERRED);
      (void)c.db.execAndGet("SELECT count(*) FROM sqlite_schema");  // the read starts here
      SQLite::Backup backup(destination, c.db);
      ProgressReporter reporter(progress, "backup", "pages");
      const int pages_per_step = progress ? 4096 : -1;
      int step = SQLITE_OK;
      while ((step = backup.executeStep(pages_per_step)) == SQLITE_OK) {
        const auto total = static_cast<std::uint64_t>(backup.getTotalPageCount());
        reporter.set_total(total);
        reporter.update(total - static_cast<std::uint64_t>(backup.getRemainingPageCount()), true);
      }
      if (step != SQLITE_DONE) throw SQLite::Exception("backup: the copy did not complete", step);
      const auto total = static_cast<std::uint64_t>(backup.getTotalPageCount());
      reporter.set_total(total);
      reporter.finish(total);
      moment.commit();
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
//
// Each query reads each table once, in time linear in the rows and events
// (n log n with the sorts and lookups): events are matched to rows through
// the rows' primary key, never by scanning a list once per row, and each
// "is there a later event" is a maximum taken once. The comparisons are the
// ones SQLite makes between a row's seq and a seq in an event's detail
// (numeric affinity: a seq written as 5.0 or '5' names row 5), so a file
// gets the same lines as from a query that scans the log per row.
void verify_audit(SQLite::Database& db, std::vector<std::string>& problems) {
  // hotstate_cte_saved: each SnapshotSaved event with the row it names (found
  // by primary key), the hash it recorded and the row's own. A row is named
  // by no event (0), or by an event whose hash differs, unless the row was
  // edited since (1: one line for each such event).
  SQLite::Statement rows(db,
      "WITH hotstate_cte_saved AS MATERIALIZED ("
      "       SELECT r.seq, r.plugin_id, r.content_hash AS row_hash,"
      "              json_extract(e.detail, '$.content_hash') AS saved_hash"
      "         FROM audit_events AS e CROSS JOIN snapshots AS r ON r.seq = json_extract(e.detail, '$.seq')"
      "        WHERE e.kind = 'SnapshotSaved'),"
      "     hotstate_cte_edited AS MATERIALIZED (SELECT DISTINCT json_extract(detail, '$.seq') AS seq"
      "                                            FROM audit_events WHERE kind = 'SnapshotEdited')"
      " SELECT seq, plugin_id, 0 FROM snapshots WHERE seq NOT IN (SELECT seq FROM hotstate_cte_saved)"
      " UNION ALL"
      " SELECT seq, plugin_id, 1 FROM hotstate_cte_saved"
      "  WHERE NOT ifnull(saved_hash IS NULL OR saved_hash IS row_hash"
      "                   OR seq IN (SELECT seq FROM hotstate_cte_edited), 0)"
      " ORDER BY 1");
  while (rows.executeStep()) {
    const std::string which = "snapshot seq " + rows.getColumn(0).getString() + " of '" + rows.getColumn(1).getString() + "'";
    if (rows.getColumn(2).getInt() == 0) {
      problems.push_back(which + " has no SnapshotSaved event in the audit log");
    } else {
      problems.push_back(which + " differs from what its SnapshotSaved event recorded, with no SnapshotEdited event");
    }
  }
  // A row is explained as gone by an event naming its seq (HistoryTrimmed,
  // RolledBack), or by a Cleared event of its plugin or a ClearedAll event
  // after its SnapshotSaved event: its event comes before the last such event,
  // taken once per plugin (hotstate_cte_cleared, joined through the index
  // SQLite builds for it) and once for the file.
  SQLite::Statement gone(db,
      "WITH hotstate_cte_saved AS MATERIALIZED (SELECT id, plugin_id, json_extract(detail, '$.seq') AS seq"
      "                              FROM audit_events WHERE kind = 'SnapshotSaved'),"
      "     hotstate_cte_removed AS MATERIALIZED (SELECT json_extract(detail, '$.seq') AS seq FROM audit_events"
      "                               WHERE kind = 'HistoryTrimmed'"
      "                              UNION SELECT json_extract(detail, '$.from_seq') FROM audit_events"
      "                               WHERE kind = 'RolledBack'),"
      "     hotstate_cte_cleared AS MATERIALIZED (SELECT plugin_id, max(id) AS last_id FROM audit_events"
      "                               WHERE kind = 'Cleared' AND kind NOT IN ('SnapshotSaved', 'HistoryTrimmed')"
      "                               GROUP BY plugin_id)"
      " SELECT hotstate_cte_saved.seq, hotstate_cte_saved.plugin_id"
      "   FROM hotstate_cte_saved LEFT JOIN hotstate_cte_cleared"
      "     ON hotstate_cte_cleared.plugin_id = hotstate_cte_saved.plugin_id"
      "  WHERE hotstate_cte_saved.seq NOT IN (SELECT seq FROM snapshots)"
      "    AND hotstate_cte_saved.seq NOT IN (SELECT seq FROM hotstate_cte_removed WHERE seq IS NOT NULL)"
      "    AND NOT ifnull(hotstate_cte_saved.id < hotstate_cte_cleared.last_id, 0)"
      "    AND NOT ifnull(hotstate_cte_saved.id < (SELECT max(id) FROM audit_events WHERE kind = 'ClearedAll'"
      "                                              AND kind NOT IN ('SnapshotSaved', 'HistoryTrimmed')), 0)"
      "  ORDER BY hotstate_cte_saved.seq LIMIT 100");
  while (gone.executeStep()) {
    problems.push_back("snapshot seq " + gone.getColumn(0).getString() + " of '" + gone.getColumn(1).getString() +
                       "' is gone with no event that removed it (deleted outside hotstate?)");
  }
}

// snapshot_counts against the rows: the history bound trims by these
// counts, so a count that is wrong trims too much or too little.
void verify_counts(SQLite::Database& db, std::vector<std::string>& problems) {
  SQLite::Statement counts(db,
      "WITH hotstate_cte_rows AS MATERIALIZED (SELECT plugin_id, count(*) AS row_count FROM snapshots GROUP BY plugin_id)"
      " SELECT hotstate_cte_rows.plugin_id, hotstate_cte_rows.row_count, snapshot_counts.row_count"
      "   FROM hotstate_cte_rows LEFT JOIN snapshot_counts ON snapshot_counts.plugin_id = hotstate_cte_rows.plugin_id"
      "  WHERE snapshot_counts.row_count IS NOT hotstate_cte_rows.row_count"
      " UNION ALL"
      " SELECT plugin_id, 0, row_count FROM snapshot_counts"
      "  WHERE NOT EXISTS (SELECT 1 FROM snapshots WHERE snapshots.plugin_id = snapshot_counts.plugin_id)"
      " ORDER BY 1 LIMIT 100");
  while (counts.executeStep()) {
    const std::string plugin = "plugin '" + counts.getColumn(0).getString() + "'";
    const std::string rows = counts.getColumn(1).getString();
    if (counts.getColumn(2).isNull()) {
      problems.push_back(plugin + " has " + rows +
                         " rows and no count in snapshot_counts, by which the history bound trims");
    } else {
      problems.push_back(plugin + " has " + rows + " rows, but snapshot_counts, by which the history bound trims, says " +
                         counts.getColumn(2).getString());
    }
  }
}

}  // namespace

AuditCheckpoint Store::audit_head() const {
  return shared_->read("audit_head", [&](Connection& c) { return read_audit_head(c.db, shared_->audit_key); });
}

std::vector<std::string> Store::verify(int& schema_version, const std::optional<AuditCheckpoint>& extends,
                                       AuditCheckpoint& head, std::uint64_t& unchained,
                                       const ProgressCallback& progress) const {
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
    bool counts_are_hotstates = true;
    for (const SchemaDifference& difference : compare_schema(c.db.getHandle(), latest_schema_version())) {
      problems.push_back(describe(difference));
      if (difference.name == "snapshot_counts") counts_are_hotstates = false;
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
    if (counts_are_hotstates) verify_counts(c.db, problems);
    {
      SQLite::Statement rows(c.db, std::string("SELECT ") + snapshot_columns + ", content_hash FROM snapshots ORDER BY seq");
      ProgressReporter reporter(progress, "verify: rows", "rows");
      if (progress) reporter.set_total(static_cast<std::uint64_t>(c.db.execAndGet("SELECT count(*) FROM snapshots").getInt64()));
      std::uint64_t checked = 0;
      while (rows.executeStep()) {
        reporter.update(++checked);
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
      reporter.finish(checked);
    }
    {
      // Each pin's copy: readable, and matching its content hash.
      SQLite::Statement pins(c.db, std::string("SELECT ") + snapshot_columns + ", content_hash, label FROM pins"
                                                                              " ORDER BY plugin_id, label");
      while (pins.executeStep()) {
        const std::string name = "pin '" + pins.getColumn(8).getString() + "' of plugin '" +
                                 pins.getColumn(1).getString() + "' (seq " + pins.getColumn(0).getString() + ")";
        try {
          (void)read_snapshot(pins);
        } catch (const Error& error) {
          problems.push_back(name + " is unreadable: " + std::string(error.message()));
        }
        if (!pins.getColumn(7).isNull() &&
            pins.getColumn(7).getString() != sha3_256_hex(column_text(pins.getColumn(4)), column_text(pins.getColumn(5)))) {
          problems.push_back(name + " does not match its content_hash (data or metadata changed without it)");
        }
      }
    }
    verify_audit(c.db, problems);
    ChainSummary summary;
    verify_chain(c.db, shared_->audit_key, extends, problems, summary, progress);
    head = summary.head;
    unchained = summary.unchained;
    return problems;
  });
}

}  // namespace hotstate::internal
