// The store: what other writers changed, told by the audit log, so that a
// cache drops only the plugins another process changed (see AuditPosition).
#include "model/audit_kinds.hpp"
#include "store/store_internal.hpp"

#include <algorithm>
#include <span>

namespace hotstate::internal {

namespace {

// More events than this since the cache's position: drop everything rather
// than read them all (the cache refills on demand).
constexpr std::int64_t most_events_read = 4096;

// What an event says about the plugins' current snapshots.
enum class Reach {
  none,        // nothing: history, life-cycle states, reloads, the log itself
  plugin,      // the current snapshot of the event's plugin
  everything,  // any plugin's (or the event does not name the one it changed)
};

Reach reach_of(std::string_view kind) {
  namespace k = audit_kind;
  if (kind == k::snapshot_saved || kind == k::rolled_back || kind == k::cleared || kind == k::snapshot_deleted) {
    return Reach::plugin;
  }
  // The trim never removes a plugin's newest row, nor does a lower bound.
  // Restored and StateMigrated come with the SnapshotSaved of the row they
  // saved; pins are copies beside the snapshots.
  if (kind == k::history_trimmed || kind == k::max_history_changed || kind == k::plugin_state_changed ||
      kind == k::reload_resolved || kind == k::audit_pruned || kind == k::pinned || kind == k::unpinned ||
      kind == k::restored || kind == k::state_migrated || kind == k::restore_skipped) {
    return Reach::none;
  }
  const auto host_kinds = std::span(k::all).subspan(k::first_reload_event);
  if (std::find(host_kinds.begin(), host_kinds.end(), kind) != host_kinds.end()) return Reach::none;
  // ClearedAll; SnapshotEdited, which names the row's plugin after the edit
  // but not the one an edit of plugin_id took it from; any other kind.
  return Reach::everything;
}

}  // namespace

AuditPosition read_audit_position(Store::Connection& c) {
  StatementUse select(c.select_audit_position);
  if (!select->executeStep()) throw Error(ErrorCode::Internal, "the audit log's position: no row");
  AuditPosition position;
  position.schema_version = select->getColumn(0).getInt64();
  position.event_id = select->getColumn(1).getInt64();  // NULL (no event) reads as 0
  position.event_time_us = select->getColumn(2).getInt64();
  position.known = true;
  return position;
}

ChangesSince Store::changes_since(const AuditPosition& from) const {
  return shared_->read("changes_since", [&](Connection& c) {
    ChangesSince changes;
    // The schema version first: a schema changed after it is caught next time.
    changes.position = read_audit_position(c);
    const auto everything = [&] {
      changes.everything = true;
      changes.plugins.clear();
      return changes;
    };
    if (!from.known || from.schema_version != changes.position.schema_version) return everything();
    StatementUse select(c.statement(
        "SELECT id, time_us, kind, plugin_id FROM audit_events WHERE id >= ?1 ORDER BY id LIMIT ?2"));
    select->bind(1, from.event_id);
    select->bind(2, most_events_read + 2);  // the event at `from`, and one too many
    std::int64_t read = 0;
    bool first = true;
    while (select->executeStep()) {
      const std::int64_t id = select->getColumn(0).getInt64();
      if (first) {
        first = false;
        // The event at the position must still be there, the same: else the
        // log was pruned past it or is another file's.
        if (from.event_id > 0) {
          if (id != from.event_id || select->getColumn(1).getInt64() != from.event_time_us) return everything();
          continue;
        }
        // An empty log says nothing about what was there before it.
        return everything();
      }
      if (++read > most_events_read) return everything();
      changes.position.event_id = id;
      changes.position.event_time_us = select->getColumn(1).getInt64();
      switch (reach_of(select->getColumn(2).getText())) {
        case Reach::none:
          break;
        case Reach::plugin:
          if (select->getColumn(3).isNull()) return everything();
          changes.plugins.push_back(select->getColumn(3).getString());
          break;
        case Reach::everything:
          return everything();
      }
    }
    // A log emptied since `from` (it never is: the prune keeps its own events).
    if (first && from.event_id > 0) return everything();
    return changes;
  });
}

}  // namespace hotstate::internal
