// The store: the audit log (events, queries, the retention prune).
#include "store/progress_reporter.hpp"
#include "store/store_internal.hpp"

#include <algorithm>
#include <limits>

namespace hotstate::internal {

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

WriteOutcome<bool> Store::append_event(std::string_view plugin_id, std::string_view kind, const std::string& detail) {
  require_id(*shared_, plugin_id, "plugin_id");
  require_within(detail.size(), shared_->max_metadata_bytes, "the event's detail");
  return shared_->write("record_event", Shared::Statements::One, [&](Connection& c, Commit&) {
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
      return kind == audit_kind::snapshot_saved || kind == audit_kind::history_trimmed;
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

WriteOutcome<std::uint64_t> Store::prune_audit(const AuditPrune& prune, const ProgressCallback& progress) {
  if (!prune.older_than_us && !prune.keep_newest) {
    throw Error(ErrorCode::InvalidArgument, "prune_audit: set older_than_us, keep_newest or both; nothing was written");
  }
  return shared_->write("prune_audit", Shared::Statements::Many, [&](Connection& c, Commit&) -> std::uint64_t {
    Detail detail;
    if (prune.older_than_us) detail["before_us"] = Json::from(*prune.older_than_us);
    if (prune.keep_newest) {
      // Keep the newest N: remove every event up to the (N+1)-th newest.
      StatementUse cut(c.statement("SELECT id FROM audit_events ORDER BY id DESC LIMIT 1 OFFSET ?1"));
      cut->bind(1, static_cast<std::int64_t>(std::min<std::size_t>(*prune.keep_newest, std::numeric_limits<std::int64_t>::max())));
      detail["before_id"] = Json::from(cut->executeStep() ? cut->getColumn(0).getInt64() + 1 : std::int64_t{0});
    }
    // What a prune removes is decided by the trigger audit_events_prune
    // alone. Its AuditPruned event also records how many events it removed,
    // so the prune runs once inside a savepoint to count them, is undone,
    // and runs again with the count: twice the work of a rare call, and one
    // rule instead of two that could drift apart.
    // It counts what it removed by the gaps it left (audit_gaps, one row per
    // run of removed events, holding their number).
    const auto run_prune = [&](const Detail& event_detail) -> std::int64_t {
      const std::uint64_t event_id = insert_event(c, shared_->now_us(), "", audit_kind::audit_pruned, detail_text(event_detail));
      StatementUse removed(c.statement("SELECT ifnull(sum(events), 0) FROM audit_gaps WHERE pruned_by = ?1"));
      removed->bind(1, static_cast<std::int64_t>(event_id));
      removed->executeStep();
      return removed->getColumn(0).getInt64();
    };
    if (progress) {
      try {
        progress(Progress{"prune: counting", 0, 0, "events"});
      } catch (...) {  // the contract says it must not throw; what it throws is dropped
      }
    }
    StatementUse(c.statement("SAVEPOINT count_prune"))->exec();
    const std::int64_t deleted = run_prune(detail);
    StatementUse(c.statement("ROLLBACK TO count_prune"))->exec();
    StatementUse(c.statement("RELEASE count_prune"))->exec();
    detail["deleted"] = Json::from(deleted);
    ProgressReporter reporter(progress, "prune: removing", "events", static_cast<std::uint64_t>(deleted));
    reporter.update(0, true);
    if (run_prune(detail) != deleted) {
      throw Error(ErrorCode::Internal, "prune_audit: the prune removed a different number of events the second time");
    }
    reporter.finish(static_cast<std::uint64_t>(deleted));
    return static_cast<std::uint64_t>(deleted);
  });
}

Store::EventsAfter Store::events_after(std::uint64_t after_id, std::size_t limit) const {
  return shared_->read("changes_since", [&](Connection& c) {
    EventsAfter out;
    const auto after = static_cast<std::int64_t>(std::min<std::uint64_t>(after_id, static_cast<std::uint64_t>(max_row_id)));
    {
      StatementUse select(c.statement(
          "SELECT id, time_us, plugin_id, kind, detail FROM audit_events WHERE id > ?1 ORDER BY id LIMIT ?2"));
      select->bind(1, after);
      select->bind(2, static_cast<std::int64_t>(std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max())));
      while (select->executeStep()) {
        out.events.push_back(AuditEvent{static_cast<std::uint64_t>(select->getColumn(0).getInt64()),
                                        select->getColumn(1).getInt64(), select->getColumn(2).getString(),
                                        select->getColumn(3).getString(), select->getColumn(4).getString()});
      }
    }
    // What a prune removed in between: the gaps' events after the start and
    // before the last event read (with none read, all after the start); of
    // a gap that spans the start, its ids after the start (ids inside a gap
    // run without holes).
    StatementUse gaps(c.statement(
        "SELECT ifnull(sum(CASE WHEN first_id > ?1 THEN events ELSE last_id - ?1 END), 0) FROM audit_gaps"
        " WHERE last_id > ?1 AND (?2 IS NULL OR first_id < ?2)"));
    gaps->bind(1, after);
    if (out.events.empty()) {
      gaps->bind(2);
    } else {
      gaps->bind(2, static_cast<std::int64_t>(out.events.back().id));
    }
    if (gaps->executeStep()) out.missed = static_cast<std::uint64_t>(gaps->getColumn(0).getInt64());
    return out;
  });
}

std::uint64_t Store::newest_event_id() const {
  return shared_->read("newest_event_id", [&](Connection& c) -> std::uint64_t {
    StatementUse select(c.statement("SELECT ifnull(max(id), 0) FROM audit_events"));
    select->executeStep();
    return static_cast<std::uint64_t>(select->getColumn(0).getInt64());
  });
}

}  // namespace hotstate::internal
