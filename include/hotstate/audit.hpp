// hotstate: the audit log. What was reloaded, when, from which version to
// which, with what state, what failed and what was rolled back.
//
// Thread safety: every type here is a plain value; copy it and hand it between
// threads freely. Distinct objects may be used concurrently; one object is not
// synchronized. StateManager's audit calls are thread-safe (state_manager.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hotstate/json.hpp"

namespace hotstate {

// One row of the audit log (table `audit_events`, view `audit_log`). A value
// type.
//
// Kinds written by hotstate itself, in the same transaction as the change
// (so a change and its event are both durable or both absent):
//   SnapshotSaved      {seq, plugin_version, size, content_hash}: any insert
//                      into snapshots, whoever wrote it (a trigger records it)
//   HistoryTrimmed     {seq, content_hash}: a row the history bound removed
//   SnapshotEdited     {seq, content_hash}: a snapshot row changed with SQL
//   SnapshotDeleted    {seq, content_hash}: a plugin's current snapshot row
//                      deleted with SQL (not by rollback or clear)
//   RolledBack         {from_seq, to_seq}
//   Cleared            {rows, newest_seq}
//   ClearedAll         {rows, plugins}
//   PluginStateChanged {from, to, reason}
//   ReloadStarted      {reload_id, from_version, to_version, snapshot_seq}
//                      (begin_reload)
//   ReloadCompleted    {reload_id, success, duration_us}, and before it, on
//                      failure, ReloadFailed {reload_id, error, attempt}
//                      (finish_reload)
//   ReloadResolved     {reload_id, note} (resolve_reload)
//   AuditPruned        {before_id, before_us, deleted} (prune_audit)
//   MaxHistoryChanged  {from, to} (set_max_history, or an UPDATE of settings)
// Kinds a host records with StateManager::record_event: see ReloadEvent.
// content_hash is SHA3-256 of the snapshot's data and metadata texts, in
// lowercase hex: lower(hex(sha3(data || metadata))) in the sqlite3 shell;
// null for rows that another client wrote without one.
struct AuditEvent {
  std::uint64_t id = 0;      // event order: increases with every event
  std::int64_t time_us = 0;  // microseconds since the Unix epoch
  std::string plugin_id;     // empty for database-wide events (ClearedAll, AuditPruned)
  std::string kind;          // e.g. "SnapshotSaved", "ReloadFailed"
  std::string detail;        // a JSON object, the event's fields, as stored

  // `detail` parsed. Throws Error(InvalidJson) when the stored text is not
  // JSON hotstate reads (only possible for rows other clients wrote).
  Json detail_json() const;

  // `detail` for a one-line display: the JSON object without its
  // content_hash (64 hex digits that say nothing at a glance); `detail` as
  // stored when it is not a JSON object hotstate reads. Never throws Error.
  std::string short_detail() const;

  friend bool operator==(const AuditEvent&, const AuditEvent&) = default;
};

// An event as a JSON object, so that Json::from(event) and Json::from(events)
// work: {"id", "time_us", "time" (format_time_us, as the view audit_log
// shows it), "plugin_id", "kind", "detail"}. The detail is embedded as JSON,
// or as a JSON string when it is text another client stored that is not JSON.
void to_json(JsonWriter& out, const AuditEvent& event);

enum class AuditOrder {
  NewestFirst,
  OldestFirst,
};

// Which events StateManager::audit_events returns. Every field narrows the
// result; the defaults select the newest 100 events of every plugin and kind.
struct AuditQuery {
  std::optional<std::string> plugin_id;  // only this plugin's events ("" selects database-wide events)
  std::vector<std::string> kinds;        // only these kinds; empty: every kind
  std::optional<std::int64_t> since_us;  // only events at or after this time
  std::optional<std::int64_t> until_us;  // only events before this time
  AuditOrder order = AuditOrder::NewestFirst;  // by event order (id), not by time
  std::size_t limit = 100;                     // at most this many; 0: no limit
};

// The retention prune: removes events older than a time and/or beyond a
// count, and records itself as an AuditPruned event. It never removes an
// AuditPruned event, nor the SnapshotSaved event of a snapshot that still
// exists, so every snapshot row stays accounted for.
struct AuditPrune {
  std::optional<std::int64_t> older_than_us;  // remove events with time_us before this
  std::optional<std::size_t> keep_newest;     // remove all but the newest this many
};

// An event of a plugin's hot reload, as a hot-reload manager emits them,
// recorded in the audit log by StateManager::record_event. A value type.
struct ReloadEvent {
  enum class Kind {
    ReloadStarted,
    StatePreserved,
    StateRestored,
    ReloadCompleted,  // detail: success, duration_us
    ReloadFailed,     // detail: error, attempt
    RollbackTriggered,  // detail: reason
    PluginDiscovered,
    PluginRemoved,
  };

  Kind kind = Kind::ReloadStarted;
  std::string plugin_id;
  std::map<std::string, Json> detail;  // stored as a JSON object

  static ReloadEvent reload_started(std::string plugin_id);
  static ReloadEvent state_preserved(std::string plugin_id);
  static ReloadEvent state_restored(std::string plugin_id);
  static ReloadEvent reload_completed(std::string plugin_id, bool success, std::chrono::microseconds duration);
  static ReloadEvent reload_failed(std::string plugin_id, std::string error, std::uint32_t attempt);
  static ReloadEvent rollback_triggered(std::string plugin_id, std::string reason);
  static ReloadEvent plugin_discovered(std::string plugin_id);
  static ReloadEvent plugin_removed(std::string plugin_id);

  // Adds (or replaces) a field of the detail, e.g. with("reload_id", id) or
  // with("path", "/plugins/x.so"). Throws Error as Json::from does.
  template <class T>
  ReloadEvent& with(std::string key, const T& value) {
    detail.insert_or_assign(std::move(key), Json::from(value));
    return *this;
  }
};

// The kind's name as stored in audit_events.kind: "ReloadStarted", ….
std::string_view to_string(ReloadEvent::Kind kind) noexcept;

// The ReloadEvent kind that to_string names `name`, or nullopt.
std::optional<ReloadEvent::Kind> reload_event_kind(std::string_view name) noexcept;

// Every ReloadEvent kind, in the enum's order.
std::span<const ReloadEvent::Kind> reload_event_kinds() noexcept;

// The name of every kind the audit log holds, as the schema's table
// audit_kinds lists them: hotstate's own kinds first (see AuditEvent), then
// ReloadEvent's in the enum's order.
std::span<const std::string_view> audit_kinds() noexcept;

}  // namespace hotstate
