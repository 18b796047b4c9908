// The store: saves, rollback, clear, the current snapshot and history of
// each plugin, and the history bound.
#include "store/store_internal.hpp"

#include <set>


namespace hotstate::internal {

WriteOutcome<std::uint64_t> Store::insert(StateSnapshot snapshot) {
  const SnapshotToSave saved = to_save(std::move(snapshot));
  const EncodedRow row = encode_row(*shared_, *saved);
  return shared_->write("save_snapshot", Shared::Statements::One, [&](Connection& c, Commit& commit) {
    return insert_current(c, commit, saved, row, shared_->now_us());
  });
}

WriteOutcome<std::uint64_t> Store::insert_if(StateSnapshot snapshot, std::uint64_t expected_seq) {
  const SnapshotToSave saved = to_save(std::move(snapshot));
  const EncodedRow row = encode_row(*shared_, *saved);
  return shared_->write("save_snapshot_if", Shared::Statements::Many, [&](Connection& c, Commit& commit) {
    std::uint64_t current_seq = 0;
    {
      StatementUse select(c.select_current_seq);
      select->bind(1, saved->plugin_id);
      if (select->executeStep() && !select->getColumn(0).isNull()) {
        current_seq = static_cast<std::uint64_t>(select->getColumn(0).getInt64());
      }
    }
    if (current_seq != expected_seq) {
      throw Error(ErrorCode::Conflict, "save_snapshot_if: the current snapshot of the plugin has seq " +
                                           std::to_string(current_seq) + ", not " + std::to_string(expected_seq) +
                                           "; nothing was written");
    }
    return insert_current(c, commit, saved, row, shared_->now_us());
  });
}

WriteOutcome<std::vector<std::uint64_t>> Store::insert_all(std::vector<StateSnapshot> snapshots) {
  std::vector<SnapshotToSave> saved;
  std::vector<EncodedRow> rows;
  saved.reserve(snapshots.size());
  rows.reserve(snapshots.size());
  for (auto& snapshot : snapshots) {
    saved.push_back(to_save(std::move(snapshot)));
    rows.push_back(encode_row(*shared_, *saved.back()));
  }
  return shared_->write("save_snapshots", Shared::Statements::Many, [&](Connection& c, Commit& commit) {
    std::vector<std::uint64_t> seqs;
    seqs.reserve(rows.size());
    commit.current.reserve(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      seqs.push_back(insert_current(c, commit, saved[i], rows[i], shared_->now_us()));
    }
    return seqs;
  });
}

WriteOutcome<SnapshotPtr> Store::rollback(std::string_view plugin_id) {
  require_id(*shared_, plugin_id, "plugin_id");
  return shared_->write("rollback", Shared::Statements::Many, [&](Connection& c, Commit& commit) -> SnapshotPtr {
    std::int64_t newest = 0;
    std::int64_t previous = 0;
    {
      StatementUse select(c.select_newest_two);
      select->bind(1, std::string(plugin_id));
      if (!select->executeStep()) return nullptr;
      newest = select->getColumn(0).getInt64();
      if (!select->executeStep()) return nullptr;  // no history: change nothing
      previous = select->getColumn(0).getInt64();
    }
    // The event first: while the row goes it is the newest event, which
    // tells the schema's delete trigger that rollback recorded it.
    insert_event(c, shared_->now_us(), plugin_id, audit_kind::rolled_back,
                 detail_text({{"from_seq", Json::from(newest)}, {"to_seq", Json::from(previous)}}));
    {
      StatementUse erase(*c.delete_by_seq);
      erase->bind(1, newest);
      erase->exec();
    }
    StatementUse select(c.select_by_seq);
    select->bind(1, previous);
    if (!select->executeStep()) throw Error(ErrorCode::Internal, "rollback: history row vanished");
    SnapshotPtr restored = std::make_shared<const StateSnapshot>(read_snapshot(*select.operator->()));
    commit.current.push_back({std::string(plugin_id), restored});
    return restored;
  });
}

WriteOutcome<bool> Store::clear(std::string_view plugin_id) {
  require_id(*shared_, plugin_id, "plugin_id");
  return shared_->write("clear", Shared::Statements::Many, [&](Connection& c, Commit& commit) {
    std::int64_t rows = 0;
    std::int64_t newest = 0;
    {
      StatementUse count(c.statement("SELECT count(*), coalesce(max(seq), 0) FROM snapshots WHERE plugin_id = ?1"));
      count->bind(1, std::string(plugin_id));
      count->executeStep();
      rows = count->getColumn(0).getInt64();
      newest = count->getColumn(1).getInt64();
    }
    // Its pins go first: their Unpinned events come before Cleared, which
    // must be the newest event while the rows go.
    std::int64_t unpinned = 0;
    {
      StatementUse unpin(c.statement("DELETE FROM pins WHERE plugin_id = ?1"));
      unpin->bind(1, std::string(plugin_id));
      unpinned = unpin->exec();
    }
    if (rows == 0) return unpinned > 0;
    // The event first, as in rollback; then the plugin's row count, which
    // the row-count trigger leaves alone while Cleared is the newest event.
    insert_event(c, shared_->now_us(), plugin_id, audit_kind::cleared,
                 detail_text({{"rows", Json::from(rows)}, {"newest_seq", Json::from(newest)}}));
    {
      StatementUse uncount(c.statement("DELETE FROM snapshot_counts WHERE plugin_id = ?1"));
      uncount->bind(1, std::string(plugin_id));
      uncount->exec();
    }
    StatementUse erase(*c.delete_plugin);
    erase->bind(1, std::string(plugin_id));
    erase->exec();
    commit.current.push_back({std::string(plugin_id), nullptr});
    return true;
  });
}

WriteOutcome<bool> Store::clear_all() {
  return shared_->write("clear_all", Shared::Statements::Many, [&](Connection& c, Commit& commit) {
    std::int64_t rows = 0;
    std::int64_t plugins = 0;
    {
      StatementUse count(c.statement("SELECT count(*), count(DISTINCT plugin_id) FROM snapshots"));
      count->executeStep();
      rows = count->getColumn(0).getInt64();
      plugins = count->getColumn(1).getInt64();
    }
    // The pins first, as in clear.
    const std::int64_t unpinned = StatementUse(c.statement("DELETE FROM pins"))->exec();
    if (rows == 0) return unpinned > 0;
    // The event first, as in rollback; then every row count, which the
    // row-count trigger leaves alone while ClearedAll is the newest event.
    insert_event(c, shared_->now_us(), "", audit_kind::cleared_all,
                 detail_text({{"rows", Json::from(rows)}, {"plugins", Json::from(plugins)}}));
    StatementUse(c.statement("DELETE FROM snapshot_counts"))->exec();
    StatementUse(*c.delete_all)->exec();
    commit.removed_every_plugin = true;
    return true;
  });
}

namespace {

// The stored snapshot ?1 (seq) of plugin ?2: its row, else a pin's copy.
#define HOTSTATE_STORED_ROW                                                                                          \
  "(SELECT 0 AS source, seq, plugin_id, timestamp, plugin_version, data, metadata, saved_at_us, canonical_hash,"    \
  " content_hash FROM snapshots WHERE seq = ?1 AND plugin_id = ?2"                                                   \
  " UNION ALL SELECT 1, seq, plugin_id, timestamp, plugin_version, data, metadata, saved_at_us, canonical_hash,"     \
  " content_hash FROM pins WHERE seq = ?1 AND plugin_id = ?2 ORDER BY source LIMIT 1)"
constexpr const char* stored_row_sql =
    "SELECT seq, plugin_id, timestamp, plugin_version, data, metadata, canonical_hash FROM " HOTSTATE_STORED_ROW;
// Its texts as stored, as the plugin's newest row (?3: saved_at_us): the copy
// has the same content hash.
constexpr const char* restore_sql =
    "INSERT INTO snapshots (plugin_id, timestamp, plugin_version, data, metadata, saved_at_us, canonical_hash,"
    " content_hash) SELECT plugin_id, timestamp, plugin_version, data, metadata, ?3, canonical_hash, content_hash"
    " FROM " HOTSTATE_STORED_ROW;
// A pin of it under ?3 at ?4, moving the label if it named another snapshot.
constexpr const char* pin_sql =
    "INSERT INTO pins (plugin_id, label, seq, timestamp, plugin_version, data, metadata, saved_at_us, canonical_hash,"
    " content_hash, pinned_at_us) SELECT plugin_id, ?3, seq, timestamp, plugin_version, data, metadata, saved_at_us,"
    " canonical_hash, content_hash, ?4 FROM " HOTSTATE_STORED_ROW " WHERE true"
    " ON CONFLICT (plugin_id, label) DO UPDATE SET seq = excluded.seq, timestamp = excluded.timestamp,"
    " plugin_version = excluded.plugin_version, data = excluded.data, metadata = excluded.metadata,"
    " saved_at_us = excluded.saved_at_us, canonical_hash = excluded.canonical_hash,"
    " content_hash = excluded.content_hash, pinned_at_us = excluded.pinned_at_us WHERE seq IS NOT excluded.seq";
#undef HOTSTATE_STORED_ROW

// A seq a row can have: 1 to max_row_id (connection.hpp).
bool possible_seq(std::uint64_t seq) { return seq > 0 && seq <= static_cast<std::uint64_t>(max_row_id); }

void require_seq(std::uint64_t seq, const char* context) {
  if (!possible_seq(seq)) {
    throw Error(ErrorCode::NotFound, std::string(context) + ": no snapshot has seq " + std::to_string(seq) +
                                         "; nothing was written");
  }
}

}  // namespace

std::optional<StateSnapshot> Store::stored(std::string_view plugin_id, std::uint64_t seq) const {
  require_id(*shared_, plugin_id, "plugin_id");
  if (!possible_seq(seq)) return std::nullopt;
  return shared_->read("snapshot", [&](Connection& c) -> std::optional<StateSnapshot> {
    StatementUse select(c.statement(stored_row_sql));
    select->bind(1, static_cast<std::int64_t>(seq));
    select->bind(2, std::string(plugin_id));
    if (!select->executeStep()) return std::nullopt;
    return read_snapshot(*select.operator->());
  });
}

bool pin_stored(Store::Connection& c, std::string_view plugin_id, std::uint64_t seq, std::string_view label,
                std::int64_t now_us) {
  StatementUse insert(c.statement(pin_sql));
  insert->bind(1, static_cast<std::int64_t>(seq));
  insert->bind(2, std::string(plugin_id));
  insert->bind(3, std::string(label));
  insert->bind(4, now_us);
  return insert->exec() > 0;
}

WriteOutcome<bool> Store::pin(std::string_view plugin_id, std::uint64_t seq, std::string_view label) {
  require_id(*shared_, plugin_id, "plugin_id");
  require_id(*shared_, label, "the pin's label");
  if (label.empty()) throw Error(ErrorCode::InvalidArgument, "pin: the label is empty; nothing was written");
  require_seq(seq, "pin");
  return shared_->write("pin", Shared::Statements::Many, [&](Connection& c, Commit&) {
    {
      StatementUse exists(c.statement(stored_row_sql));
      exists->bind(1, static_cast<std::int64_t>(seq));
      exists->bind(2, std::string(plugin_id));
      if (!exists->executeStep()) {
        throw Error(ErrorCode::NotFound, "pin: plugin '" + std::string(plugin_id) + "' has no stored snapshot " +
                                             std::to_string(seq) + "; nothing was written");
      }
    }
    return pin_stored(c, plugin_id, seq, label, shared_->now_us());
  });
}

WriteOutcome<SnapshotPtr> Store::restore(std::string_view plugin_id, std::uint64_t seq) {
  require_id(*shared_, plugin_id, "plugin_id");
  require_seq(seq, "restore");
  return shared_->write("restore", Shared::Statements::Many, [&](Connection& c, Commit& commit) -> SnapshotPtr {
    StatementUse copy(c.statement(restore_sql));
    copy->bind(1, static_cast<std::int64_t>(seq));
    copy->bind(2, std::string(plugin_id));
    copy->bind(3, shared_->now_us());
    if (copy->exec() == 0) {
      throw Error(ErrorCode::NotFound, "restore: plugin '" + std::string(plugin_id) + "' has no stored snapshot " +
                                           std::to_string(seq) + "; nothing was written");
    }
    const std::int64_t new_seq = c.db.getLastInsertRowid();
    insert_event(c, shared_->now_us(), plugin_id, audit_kind::restored,
                 detail_text({{"from_seq", Json::from(seq)}, {"to_seq", Json::from(new_seq)}}));
    StatementUse select(c.select_by_seq);
    select->bind(1, new_seq);
    if (!select->executeStep()) throw Error(ErrorCode::Internal, "restore: the new row vanished");
    SnapshotPtr restored = std::make_shared<const StateSnapshot>(read_snapshot(*select.operator->()));
    commit.current.push_back({std::string(plugin_id), restored});
    return restored;
  });
}

std::optional<std::uint64_t> Store::current_seq_at(std::string_view plugin_id, std::int64_t time_us) const {
  require_id(*shared_, plugin_id, "plugin_id");
  return shared_->read("snapshot_at", [&](Connection& c) -> std::optional<std::uint64_t> {
    {
      StatementUse pruned(c.statement("SELECT max(time_us) FROM audit_events WHERE kind = 'AuditPruned'"));
      if (pruned->executeStep() && !pruned->getColumn(0).isNull() && pruned->getColumn(0).getInt64() > time_us) {
        throw Error(ErrorCode::NotFound, "snapshot_at: the audit log was pruned at " +
                                             format_time_us(pruned->getColumn(0).getInt64()) +
                                             ", after that time; which snapshot was current then cannot be told");
      }
    }
    // The plugin's rows alive at each event; the current one is the newest.
    std::set<std::int64_t> live;
    StatementUse events(c.statement(
        "SELECT kind, json_extract(detail, '$.seq'), json_extract(detail, '$.from_seq') FROM audit_events"
        " WHERE plugin_id IN (?1, '') AND (plugin_id = ?1 OR kind = 'ClearedAll') AND time_us <= ?2"
        "   AND kind IN ('SnapshotSaved', 'HistoryTrimmed', 'RolledBack', 'Cleared', 'ClearedAll', 'SnapshotDeleted')"
        " ORDER BY id"));
    events->bind(1, std::string(plugin_id));
    events->bind(2, time_us);
    while (events->executeStep()) {
      const std::string_view kind = column_text(events->getColumn(0));
      const std::int64_t seq = events->getColumn(1).getInt64();
      if (kind == audit_kind::snapshot_saved) {
        live.insert(seq);
      } else if (kind == audit_kind::history_trimmed || kind == audit_kind::snapshot_deleted) {
        live.erase(seq);
      } else if (kind == audit_kind::rolled_back) {
        live.erase(events->getColumn(2).getInt64());
      } else if (kind == audit_kind::cleared_all || kind == audit_kind::cleared) {
        live.clear();
      }
    }
    if (live.empty()) return std::nullopt;
    return static_cast<std::uint64_t>(*live.rbegin());
  });
}

std::vector<std::uint64_t> Store::candidate_seqs(std::string_view plugin_id) const {
  require_id(*shared_, plugin_id, "plugin_id");
  return shared_->read("restore_for", [&](Connection& c) {
    StatementUse select(c.statement(
        "SELECT seq, 0 AS pinned FROM snapshots WHERE plugin_id = ?1"
        " UNION SELECT seq, 1 FROM pins WHERE plugin_id = ?1"
        "   AND NOT EXISTS (SELECT 1 FROM snapshots WHERE snapshots.seq = pins.seq AND snapshots.plugin_id = ?1)"
        " ORDER BY pinned, seq DESC"));
    select->bind(1, std::string(plugin_id));
    std::vector<std::uint64_t> seqs;
    while (select->executeStep()) seqs.push_back(static_cast<std::uint64_t>(select->getColumn(0).getInt64()));
    return seqs;
  });
}

namespace {

void insert_skipped(Store::Connection& c, std::int64_t time_us, std::string_view plugin_id,
                    const std::vector<Store::Skipped>& skipped) {
  for (const Store::Skipped& each : skipped) {
    insert_event(c, time_us, plugin_id, audit_kind::restore_skipped,
                 detail_text({{"seq", Json::from(each.seq)}, {"reason", Json::from(each.reason)}}));
  }
}

}  // namespace

WriteOutcome<SnapshotPtr> Store::insert_migrated(StateSnapshot snapshot, MigratedFrom from, std::vector<Skipped> skipped) {
  const SnapshotToSave saved = to_save(std::move(snapshot));
  const EncodedRow row = encode_row(*shared_, *saved);
  return shared_->write("restore_for", Shared::Statements::Many, [&](Connection& c, Commit& commit) -> SnapshotPtr {
    const std::int64_t now = shared_->now_us();
    insert_skipped(c, now, saved->plugin_id, skipped);
    insert_current(c, commit, saved, row, now);
    insert_event(c, now, saved->plugin_id, audit_kind::state_migrated,
                 detail_text({{"from_seq", Json::from(from.seq)},
                              {"from_version", Json::from(from.version)},
                              {"to_version", Json::from(saved->plugin_version)},
                              {"steps", Json::from(from.steps)}}));
    return saved;
  });
}

WriteOutcome<bool> Store::record_skipped(std::string_view plugin_id, std::vector<Skipped> skipped) {
  require_id(*shared_, plugin_id, "plugin_id");
  return shared_->write("restore_for", Shared::Statements::Many, [&](Connection& c, Commit&) {
    insert_skipped(c, shared_->now_us(), plugin_id, skipped);
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

std::size_t Store::history_size(std::string_view plugin_id) const {
  require_id(*shared_, plugin_id, "plugin_id");
  return shared_->read("history_size", [&](Connection& c) {
    StatementUse count(c.statement("SELECT max(count(*) - 1, 0) FROM snapshots WHERE plugin_id = ?1"));
    count->bind(1, std::string(plugin_id));
    count->executeStep();
    return static_cast<std::size_t>(count->getColumn(0).getInt64());
  });
}

void Store::check(const StateSnapshot& snapshot) const { (void)encode_row(*shared_, snapshot); }

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
  // Trimming removes history rows only, never a current snapshot: the Commit names none.
  return shared_->write("set_max_history", Shared::Statements::Many, [&](Connection& c, Commit&) -> std::size_t {
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

}  // namespace hotstate::internal
