// The store: what a replicator ships (ReplicationBatch), read in one read
// transaction, and the file's record of its replicas (table replicas).
#include "store/replication_rows.hpp"
#include "store/store_internal.hpp"

#include <limits>

namespace hotstate::internal {

std::string TableSpec::column_list() const {
  std::string list;
  for (const auto& column : columns) {
    if (!list.empty()) list += ", ";
    if (std::string_view(column.name) == "timestamp") {
      list += "\"timestamp\"";
    } else {
      list += column.name;
    }
  }
  return list;
}

const TableSpec& snapshots_table() {
  static const TableSpec spec{"snapshots",
                              {{"seq", true},
                               {"plugin_id", false},
                               {"timestamp", true},
                               {"plugin_version", false},
                               {"data", false},
                               {"metadata", false},
                               {"saved_at_us", true},
                               {"canonical_hash", true},
                               {"content_hash", false}}};
  return spec;
}
const TableSpec& audit_events_table() {
  static const TableSpec spec{"audit_events",
                              {{"id", true},
                               {"time_us", true},
                               {"plugin_id", false},
                               {"kind", false},
                               {"detail", false},
                               {"chain", false},
                               {"chain_position", true},
                               {"mac", false}}};
  return spec;
}
const TableSpec& audit_gaps_table() {
  static const TableSpec spec{"audit_gaps",
                              {{"first_id", true},
                               {"last_id", true},
                               {"events", true},
                               {"pruned_by", true},
                               {"chain", false},
                               {"chain_position", true}}};
  return spec;
}
const TableSpec& plugin_states_table() {
  static const TableSpec spec{
      "plugin_states", {{"plugin_id", false}, {"state", false}, {"reason", false}, {"changed_at_us", true}}};
  return spec;
}
const TableSpec& reloads_table() {
  static const TableSpec spec{"reloads",
                              {{"id", true},
                               {"plugin_id", false},
                               {"from_version", false},
                               {"to_version", false},
                               {"started_at_us", true},
                               {"snapshot_seq", true},
                               {"last_good_snapshot", false},
                               {"finished_at_us", true},
                               {"outcome", false},
                               {"note", false}}};
  return spec;
}
const TableSpec& pins_table() {
  static const TableSpec spec{"pins",
                              {{"plugin_id", false},
                               {"label", false},
                               {"seq", true},
                               {"timestamp", true},
                               {"plugin_version", false},
                               {"data", false},
                               {"metadata", false},
                               {"saved_at_us", true},
                               {"canonical_hash", true},
                               {"content_hash", false},
                               {"pinned_at_us", true}}};
  return spec;
}

namespace {

Row read_row(SQLite::Statement& select, std::size_t columns) {
  Row row;
  row.reserve(columns);
  for (int i = 0; i < static_cast<int>(columns); ++i) {
    const auto column = select.getColumn(i);
    if (column.isNull()) {
      row.emplace_back();
    } else if (column.isInteger()) {
      row.push_back(Cell::of(column.getInt64()));
    } else {
      row.push_back(Cell::of(std::string(column_text(column))));
    }
  }
  return row;
}

std::vector<Row> read_rows(SQLite::Statement& select, std::size_t columns) {
  std::vector<Row> rows;
  while (select.executeStep()) rows.push_back(read_row(select, columns));
  return rows;
}

// A JSON array of integers, to bind as json_each's argument.
std::string json_array(const std::vector<std::int64_t>& values) {
  std::string text = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(values[i]);
  }
  return text + "]";
}

std::vector<std::int64_t> read_integers(SQLite::Statement& select) {
  std::vector<std::int64_t> values;
  while (select.executeStep()) {
    if (!select.getColumn(0).isNull()) values.push_back(select.getColumn(0).getInt64());
  }
  return values;
}

std::vector<std::string> read_texts(SQLite::Statement& select) {
  std::vector<std::string> values;
  while (select.executeStep()) values.emplace_back(column_text(select.getColumn(0)));
  return values;
}

// SELECT <columns> FROM <table> <where>: built once per table and clause, so
// that the connection's statement cache (keyed by the text's address) keeps it.
const char* select_sql(const TableSpec& spec, const char* where) {
  static Mutex mutex;
  static std::map<std::pair<const TableSpec*, std::string>, std::unique_ptr<std::string>> texts;
  MutexLock lock(mutex);
  auto& slot = texts[{&spec, where}];
  if (!slot) slot = std::make_unique<std::string>("SELECT " + spec.column_list() + " FROM " + spec.name + " " + where);
  return slot->c_str();
}

// The range of events of a batch is (after, position].
struct Range {
  std::int64_t after = 0;
  std::int64_t position = 0;
};

std::vector<std::int64_t> touched_integers(Store::Connection& c, const char* sql, const Range& range) {
  StatementUse select(c.statement(sql));
  select->bind(1, range.after);
  select->bind(2, range.position);
  return read_integers(*select.operator->());
}

std::vector<std::string> touched_texts(Store::Connection& c, const char* sql, const Range& range) {
  StatementUse select(c.statement(sql));
  select->bind(1, range.after);
  select->bind(2, range.position);
  return read_texts(*select.operator->());
}

// Rolls the read transaction back unless it ended.
class ReadTransaction {
 public:
  explicit ReadTransaction(Store::Connection& c) : c_(c) { StatementUse(c_.statement("BEGIN"))->exec(); }
  ~ReadTransaction() {
    try {
      StatementUse(c_.statement("ROLLBACK"))->exec();
    } catch (...) {  // a failed BEGIN's connection has nothing to roll back
    }
  }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;

 private:
  Store::Connection& c_;
};

FileSettings read_settings(Store::Connection& c) {
  FileSettings settings;
  StatementUse select(c.statement(
      "SELECT max_history, audit_chain_from,"
      " ifnull((SELECT seq FROM sqlite_sequence WHERE name = 'snapshots'), 0),"
      " ifnull((SELECT seq FROM sqlite_sequence WHERE name = 'reloads'), 0),"
      " ifnull((SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'), 0)"
      " FROM settings WHERE id = 1"));
  if (select->executeStep()) {
    settings.max_history = select->getColumn(0).getInt64();
    settings.audit_chain_from = select->getColumn(1).getInt64();
    settings.snapshots_seq_high = select->getColumn(2).getInt64();
    settings.reloads_id_high = select->getColumn(3).getInt64();
    settings.events_id_high = select->getColumn(4).getInt64();
  }
  return settings;
}

}  // namespace

ReplicationBatch Store::replication_batch(const ReplicationCursor& cursor) const {
  return shared_->read("replicate", [&](Connection& c) {
    ReadTransaction transaction(c);
    ReplicationBatch batch;
    const auto after = static_cast<std::int64_t>(std::min<std::uint64_t>(cursor.after_event_id, max_row_id));
    {
      StatementUse newest(c.statement("SELECT ifnull(max(id), 0) FROM audit_events"));
      newest->executeStep();
      batch.newest = static_cast<std::uint64_t>(newest->getColumn(0).getInt64());
    }
    {
      StatementUse select(c.statement(select_sql(audit_events_table(), "WHERE id > ?1 ORDER BY id LIMIT ?2")));
      select->bind(1, after);
      select->bind(2, static_cast<std::int64_t>(std::min<std::size_t>(std::max<std::size_t>(cursor.limit, 1),
                                                                      std::numeric_limits<std::int32_t>::max())));
      batch.events = read_rows(*select.operator->(), audit_events_table().columns.size());
    }
    if (after > 0) {
      StatementUse select(c.statement(select_sql(audit_events_table(), "WHERE id = ?1")));
      select->bind(1, after);
      if (select->executeStep()) batch.anchor = read_row(*select.operator->(), audit_events_table().columns.size());
    }
    const Range range{after, batch.events.empty() ? after : batch.events.back()[0].integer};
    batch.position = static_cast<std::uint64_t>(range.position);
    if (!batch.events.empty()) batch.last_event_us = batch.events.back()[1].integer;
    {
      // As events_after: the gaps' events after the start, up to the last event read.
      StatementUse gaps(c.statement(
          "SELECT ifnull(sum(CASE WHEN first_id > ?1 THEN events ELSE last_id - ?1 END), 0) FROM audit_gaps"
          " WHERE last_id > ?1 AND first_id < ?2"));
      gaps->bind(1, range.after);
      gaps->bind(2, range.position);
      if (gaps->executeStep()) batch.missed = static_cast<std::uint64_t>(gaps->getColumn(0).getInt64());
    }
    // Events shipped before they were chained: those chained since. The
    // unchained events are always the newest (hotstate chains in id order),
    // so chained_through is the event before the first unchained one.
    {
      const auto chained_from = static_cast<std::int64_t>(std::min<std::uint64_t>(cursor.chained_through, max_row_id));
      StatementUse select(c.statement(
          "SELECT id, chain, chain_position, mac FROM audit_events WHERE id > ?1 AND id <= ?2 AND chain IS NOT NULL"
          " ORDER BY id"));
      select->bind(1, chained_from);
      select->bind(2, range.after);
      batch.chained = read_rows(*select.operator->(), 4);
      StatementUse first_unchained(
          c.statement("SELECT min(id) FROM audit_events WHERE id > ?1 AND id <= ?2 AND chain IS NULL"));
      first_unchained->bind(1, chained_from);
      first_unchained->bind(2, range.position);
      first_unchained->executeStep();
      batch.chained_through = first_unchained->getColumn(0).isNull()
                                  ? static_cast<std::uint64_t>(range.position)
                                  : static_cast<std::uint64_t>(first_unchained->getColumn(0).getInt64() - 1);
    }
    // The gaps of the prunes in the batch, and those PostgreSQL holds without
    // their chain hash once the file has it (not before: each batch would
    // ship them again and commit with nothing new).
    {
      StatementUse select(c.statement(select_sql(
          audit_gaps_table(),
          "WHERE (pruned_by > ?1 AND pruned_by <= ?2)"
          " OR (first_id IN (SELECT value FROM json_each(?3)) AND chain IS NOT NULL) ORDER BY first_id")));
      select->bind(1, range.after);
      select->bind(2, range.position);
      select->bind(3, json_array(cursor.unchained_gaps));
      batch.gaps = read_rows(*select.operator->(), audit_gaps_table().columns.size());
    }
    // The rows the events touched, as the file holds them now: only in a
    // batch that reaches the file's newest event, so that PostgreSQL's rows
    // are always the file's as of one event (hosts.rows_as_of), never ahead
    // of the events it holds. A backlog ships its events in several batches
    // and the rows with the last; the touched set then spans all of them.
    batch.rows = batch.position >= batch.newest;
    if (batch.rows) {
      const auto rows_from = static_cast<std::int64_t>(std::min<std::uint64_t>(cursor.rows_as_of, max_row_id));
      const Range rows_range{std::min(rows_from, range.after), range.position};
      batch.settings = read_settings(c);
      // Events a prune removed before they shipped (or a first shipment, of
      // a file whose log may have been pruned long ago): the rows they
      // touched are unknown, so every row ships, replacing PostgreSQL's.
      {
        StatementUse gaps(c.statement("SELECT count(*) FROM audit_gaps WHERE last_id > ?1 AND first_id < ?2"));
        gaps->bind(1, rows_range.after);
        gaps->bind(2, rows_range.position);
        gaps->executeStep();
        batch.full = cursor.rows_as_of == 0 || gaps->getColumn(0).getInt64() > 0;
      }
      if (batch.full) {
        StatementUse snapshots(c.statement(select_sql(snapshots_table(), "ORDER BY seq")));
        batch.snapshots = read_rows(*snapshots.operator->(), snapshots_table().columns.size());
        StatementUse states(c.statement(select_sql(plugin_states_table(), "ORDER BY plugin_id")));
        batch.plugin_states = read_rows(*states.operator->(), plugin_states_table().columns.size());
        StatementUse pins(c.statement(select_sql(pins_table(), "ORDER BY plugin_id, label")));
        batch.pins = read_rows(*pins.operator->(), pins_table().columns.size());
        StatementUse reloads(c.statement(select_sql(reloads_table(), "ORDER BY id")));
        batch.reloads = read_rows(*reloads.operator->(), reloads_table().columns.size());
      } else {
        // The snapshot rows the events name, by seq.
        batch.snapshot_seqs = touched_integers(
            c,
            "SELECT json_extract(detail, '$.seq') FROM audit_events WHERE id > ?1 AND id <= ?2"
            "   AND kind IN ('SnapshotSaved', 'HistoryTrimmed', 'SnapshotEdited', 'SnapshotDeleted')"
            " UNION SELECT json_extract(detail, '$.from_seq') FROM audit_events WHERE id > ?1 AND id <= ?2"
            "   AND kind = 'RolledBack'"
            " UNION SELECT json_extract(detail, '$.to_seq') FROM audit_events WHERE id > ?1 AND id <= ?2"
            "   AND kind IN ('Restored', 'RolledBack')",
            rows_range);
        {
          StatementUse select(
              c.statement(select_sql(snapshots_table(), "WHERE seq IN (SELECT value FROM json_each(?1)) ORDER BY seq")));
          select->bind(1, json_array(batch.snapshot_seqs));
          batch.snapshots = read_rows(*select.operator->(), snapshots_table().columns.size());
        }
        // Clears name a plugin, or every plugin: PostgreSQL keeps what the file has.
        batch.cleared_all = !touched_integers(c,
                                              "SELECT 1 FROM audit_events WHERE id > ?1 AND id <= ?2"
                                              " AND kind = 'ClearedAll' LIMIT 1",
                                              rows_range)
                                 .empty();
        if (batch.cleared_all || cursor.reconcile) {
          StatementUse select(c.statement("SELECT seq FROM snapshots ORDER BY seq"));
          batch.all_seqs = read_integers(*select.operator->());
        }
        if (cursor.reconcile) {
          batch.reconciled = true;
          StatementUse select(c.statement("SELECT id FROM reloads ORDER BY id"));
          batch.all_reload_ids = read_integers(*select.operator->());
        }
        if (!batch.cleared_all) {
          batch.cleared_plugins = touched_texts(
              c, "SELECT DISTINCT plugin_id FROM audit_events WHERE id > ?1 AND id <= ?2 AND kind = 'Cleared'",
              rows_range);
          for (const auto& plugin : batch.cleared_plugins) {
            StatementUse select(c.statement("SELECT seq FROM snapshots WHERE plugin_id = ?1 ORDER BY seq"));
            select->bind(1, plugin);
            batch.cleared_keep.push_back(read_integers(*select.operator->()));
          }
        }
        // Life-cycle states and pins, by plugin.
        batch.state_plugins = touched_texts(
            c, "SELECT DISTINCT plugin_id FROM audit_events WHERE id > ?1 AND id <= ?2 AND kind = 'PluginStateChanged'",
            rows_range);
        {
          StatementUse select(c.statement(select_sql(
              plugin_states_table(), "WHERE plugin_id IN (SELECT value FROM json_each(?1)) ORDER BY plugin_id")));
          select->bind(1, Json::from(batch.state_plugins).text());
          batch.plugin_states = read_rows(*select.operator->(), plugin_states_table().columns.size());
        }
        if (batch.cleared_all) {
          StatementUse select(c.statement("SELECT DISTINCT plugin_id FROM pins ORDER BY plugin_id"));
          batch.pin_plugins = read_texts(*select.operator->());
        }
        for (auto& plugin : touched_texts(c,
                                          "SELECT DISTINCT plugin_id FROM audit_events WHERE id > ?1 AND id <= ?2"
                                          " AND kind IN ('Pinned', 'Unpinned', 'Cleared')",
                                          rows_range)) {
          if (std::find(batch.pin_plugins.begin(), batch.pin_plugins.end(), plugin) == batch.pin_plugins.end()) {
            batch.pin_plugins.push_back(std::move(plugin));
          }
        }
        {
          StatementUse select(c.statement(select_sql(
              pins_table(), "WHERE plugin_id IN (SELECT value FROM json_each(?1)) ORDER BY plugin_id, label")));
          select->bind(1, Json::from(batch.pin_plugins).text());
          batch.pins = read_rows(*select.operator->(), pins_table().columns.size());
        }
        // The journal: rows the events name, new rows, and the rows PostgreSQL
        // holds unfinished (a reload finishes in the journal and in the log, but
        // another client may finish it in the journal alone).
        batch.reload_ids = touched_integers(c,
                                            "SELECT json_extract(detail, '$.reload_id') FROM audit_events"
                                            " WHERE id > ?1 AND id <= ?2 AND kind IN ('ReloadStarted', 'ReloadCompleted',"
                                            " 'ReloadFailed', 'ReloadResolved')",
                                            rows_range);
        {
          StatementUse select(c.statement("SELECT id FROM reloads WHERE id > ?1 ORDER BY id"));
          select->bind(1, cursor.reloads_id_high);
          for (const auto id : read_integers(*select.operator->())) batch.reload_ids.push_back(id);
        }
        batch.reload_ids.insert(batch.reload_ids.end(), cursor.unfinished_reloads.begin(), cursor.unfinished_reloads.end());
        std::sort(batch.reload_ids.begin(), batch.reload_ids.end());
        batch.reload_ids.erase(std::unique(batch.reload_ids.begin(), batch.reload_ids.end()), batch.reload_ids.end());
        {
          StatementUse select(
              c.statement(select_sql(reloads_table(), "WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id")));
          select->bind(1, json_array(batch.reload_ids));
          batch.reloads = read_rows(*select.operator->(), reloads_table().columns.size());
        }
    
      }
    }
    return batch;
  });
}

std::optional<ReplicaInfo> Store::replica(std::string_view host_id) const {
  return shared_->read("replica", [&](Connection& c) -> std::optional<ReplicaInfo> {
    StatementUse select(
        c.statement("SELECT target, token, shipped_event_id, holds_prune FROM replicas WHERE host_id = ?1"));
    select->bind(1, std::string(host_id));
    if (!select->executeStep()) return std::nullopt;
    return ReplicaInfo{std::string(host_id), select->getColumn(0).getString(), select->getColumn(1).getString(),
                         static_cast<std::uint64_t>(select->getColumn(2).getInt64()), select->getColumn(3).getInt() != 0};
  });
}

WriteOutcome<bool> Store::record_replica(const ReplicaInfo& record) {
  return shared_->write("record the replica's position", Shared::Statements::One, [&](Connection& c, Commit&) {
    StatementUse upsert(c.statement(
        "INSERT INTO replicas (host_id, target, token, shipped_event_id, holds_prune) VALUES (?1, ?2, ?3, ?4, ?5)"
        " ON CONFLICT (host_id) DO UPDATE SET target = excluded.target, token = excluded.token,"
        " shipped_event_id = excluded.shipped_event_id, holds_prune = excluded.holds_prune,"
        " updated_at_us = CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)"));
    upsert->bind(1, record.host_id);
    upsert->bind(2, record.target);
    upsert->bind(3, record.token);
    upsert->bind(4, static_cast<std::int64_t>(std::min<std::uint64_t>(record.shipped_event_id, max_row_id)));
    upsert->bind(5, record.holds_prune ? 1 : 0);
    return upsert->exec() > 0;
  });
}

WriteOutcome<bool> Store::drop_replica(std::string_view host_id) {
  return shared_->write("drop the replica", Shared::Statements::One, [&](Connection& c, Commit&) {
    StatementUse erase(c.statement("DELETE FROM replicas WHERE host_id = ?1"));
    erase->bind(1, std::string(host_id));
    return erase->exec() > 0;
  });
}

WriteOutcome<bool> Store::forget_replica(std::string_view host_id) {
  return shared_->write("forget the replica", Shared::Statements::One, [&](Connection& c, Commit&) {
    // The row stays, with its token: the host's replicator may come back,
    // and then holds the prune again from where PostgreSQL stands.
    StatementUse release(c.statement("UPDATE replicas SET holds_prune = 0 WHERE host_id = ?1"));
    release->bind(1, std::string(host_id));
    return release->exec() > 0;
  });
}

std::vector<ReplicaInfo> Store::replicas() const {
  return shared_->read("replicas", [&](Connection& c) {
    StatementUse select(c.statement(
        "SELECT host_id, target, token, shipped_event_id, holds_prune FROM replicas ORDER BY host_id"));
    std::vector<ReplicaInfo> records;
    while (select->executeStep()) {
      records.push_back(ReplicaInfo{select->getColumn(0).getString(), select->getColumn(1).getString(),
                                      select->getColumn(2).getString(),
                                      static_cast<std::uint64_t>(select->getColumn(3).getInt64()),
                                      select->getColumn(4).getInt() != 0});
    }
    return records;
  });
}

}  // namespace hotstate::internal
