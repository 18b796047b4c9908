// Internal: the names of the audit log's kinds, one definition each. The
// schema's table audit_kinds lists the same names (a test compares them);
// audit_kinds() in audit.hpp is the public list.
#pragma once

#include <string_view>

namespace hotstate::internal::audit_kind {

// Written by hotstate or the schema's triggers, in the change's transaction.
inline constexpr std::string_view snapshot_saved = "SnapshotSaved";
inline constexpr std::string_view history_trimmed = "HistoryTrimmed";
inline constexpr std::string_view snapshot_edited = "SnapshotEdited";
inline constexpr std::string_view rolled_back = "RolledBack";
inline constexpr std::string_view cleared = "Cleared";
inline constexpr std::string_view cleared_all = "ClearedAll";
inline constexpr std::string_view plugin_state_changed = "PluginStateChanged";
inline constexpr std::string_view reload_resolved = "ReloadResolved";
inline constexpr std::string_view audit_pruned = "AuditPruned";
inline constexpr std::string_view max_history_changed = "MaxHistoryChanged";
inline constexpr std::string_view snapshot_deleted = "SnapshotDeleted";
inline constexpr std::string_view pinned = "Pinned";
inline constexpr std::string_view unpinned = "Unpinned";
inline constexpr std::string_view restored = "Restored";
inline constexpr std::string_view state_migrated = "StateMigrated";
inline constexpr std::string_view restore_skipped = "RestoreSkipped";

// ReloadEvent's kinds, in the enum's order (to_string(ReloadEvent::Kind)).
inline constexpr std::string_view reload_started = "ReloadStarted";
inline constexpr std::string_view state_preserved = "StatePreserved";
inline constexpr std::string_view state_restored = "StateRestored";
inline constexpr std::string_view reload_completed = "ReloadCompleted";
inline constexpr std::string_view reload_failed = "ReloadFailed";
inline constexpr std::string_view rollback_triggered = "RollbackTriggered";
inline constexpr std::string_view plugin_discovered = "PluginDiscovered";
inline constexpr std::string_view plugin_removed = "PluginRemoved";

// Every kind, as the schema's INSERT INTO audit_kinds lists them.
inline constexpr std::string_view all[] = {
    snapshot_saved,  history_trimmed,      snapshot_edited, rolled_back,      cleared,
    cleared_all,     plugin_state_changed, reload_resolved, audit_pruned,     max_history_changed,
    snapshot_deleted, pinned,               unpinned,        restored,         state_migrated,
    restore_skipped,
    reload_started,  state_preserved,      state_restored,  reload_completed, reload_failed,
    rollback_triggered, plugin_discovered, plugin_removed,
};
// Where ReloadEvent's kinds start in `all`.
inline constexpr std::size_t first_reload_event = 16;

// Kinds only hotstate's own calls write (no trigger of the schema does): with
// an audit key, such an event that hotstate did not sign as its own was
// inserted by another client. The others are written by the schema's
// triggers for any writer (a save with the sqlite3 shell records SnapshotSaved).
inline constexpr bool written_only_by_hotstate(std::string_view kind) {
  for (const std::string_view by_triggers : {snapshot_saved, history_trimmed, snapshot_edited, snapshot_deleted,
                                             plugin_state_changed, max_history_changed, pinned, unpinned}) {
    if (kind == by_triggers) return false;
  }
  for (const std::string_view known : all) {
    if (kind == known) return true;
  }
  return false;
}

}  // namespace hotstate::internal::audit_kind
