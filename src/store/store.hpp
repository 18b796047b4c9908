// Internal: the store / query layer. The only code that runs SQL against the
// tables; maps rows to StateSnapshot and back.
//
// Thread safety: every member function may be called from any thread. Writes
// serialize on one writer connection; reads run concurrently, each on a
// connection borrowed from a pool (a :memory: database has one connection,
// so there reads serialize with writes too).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hotstate/audit.hpp"
#include "hotstate/checkpoint.hpp"
#include "hotstate/options.hpp"
#include "hotstate/pin.hpp"
#include "hotstate/plugin_state.hpp"
#include "hotstate/progress.hpp"
#include "hotstate/replication.hpp"
#include "hotstate/reload.hpp"
#include "hotstate/snapshot.hpp"
#include "hotstate/state_manager.hpp"
#include "store/change_marker.hpp"
#include "store/replication_rows.hpp"
#include "store/write_outcome.hpp"

namespace hotstate::internal {

class Store {
 public:
  // Opens or creates the database (a new one with options.max_history),
  // refuses foreign and newer files untouched, and applies pending migrations
  // (one transaction each) to a file whose schema is exactly that of its
  // version; retries while Busy, up to the busy timeout. Throws Error.
  explicit Store(const Options& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // The database's change marker now: a few loads from shared memory, no SQL.
  ChangeMarker marker() const noexcept;

  // What other writers changed after `from`, read from the audit log: the
  // plugins its events name, or `everything` when the log cannot say (the
  // position is unknown, its event is gone or another's, the schema changed,
  // too many events, or an event that changes plugins it does not name).
  // Cost: one index seek, and one step per event since `from`.
  ChangesSince changes_since(const AuditPosition& from) const;

  // Every write method returns what it committed or throws as
  // write_outcome.hpp says. Its Commit names each plugin whose current
  // snapshot it set, with the snapshot as saved (seq filled in).

  // Appends `snapshot` as the plugin's newest row, in one transaction; the
  // trim trigger drops rows beyond the history bound. Returns the new seq.
  WriteOutcome<std::uint64_t> insert(StateSnapshot snapshot);

  // As insert, if the plugin's newest row has seq `expected_seq` (0: the
  // plugin has no row); otherwise throws Error(Conflict) and writes nothing.
  WriteOutcome<std::uint64_t> insert_if(StateSnapshot snapshot, std::uint64_t expected_seq);

  // Appends every snapshot, in order, in one transaction. Returns their seqs.
  WriteOutcome<std::vector<std::uint64_t>> insert_all(std::vector<StateSnapshot> snapshots);

  // In one transaction: if the plugin has at least two rows, deletes the
  // newest and returns the one before it; otherwise changes nothing and
  // returns null.
  WriteOutcome<SnapshotPtr> rollback(std::string_view plugin_id);

  // Clear removes the plugin's rows and pins (clear_all, every plugin's).
  WriteOutcome<bool> clear(std::string_view plugin_id);
  WriteOutcome<bool> clear_all();

  // The plugin's stored snapshot `seq`: its row in snapshots, else a pin's copy.
  std::optional<StateSnapshot> stored(std::string_view plugin_id, std::uint64_t seq) const;
  // Inserts a copy of the stored snapshot `seq` (its texts as stored) as the
  // plugin's newest row and records Restored; returns the new row. Throws
  // Error(NotFound) when `seq` is not stored for the plugin.
  WriteOutcome<SnapshotPtr> restore(std::string_view plugin_id, std::uint64_t seq);
  // The seq of the plugin's current snapshot at `time_us`, told by replaying
  // its audit events up to then; nullopt when it had none. Throws
  // Error(NotFound) when the log was pruned after `time_us`.
  std::optional<std::uint64_t> current_seq_at(std::string_view plugin_id, std::int64_t time_us) const;
  // restore_for's candidates: the plugin's rows, newest first, then the seqs
  // of its pins whose rows are gone, newest first.
  std::vector<std::uint64_t> candidate_seqs(std::string_view plugin_id) const;
  // A candidate restore_for passed over, and why.
  struct Skipped {
    std::uint64_t seq = 0;
    std::string reason;
  };
  // A migrated state: where it came from.
  struct MigratedFrom {
    std::uint64_t seq = 0;
    std::string version;
    std::size_t steps = 0;
  };
  // In one transaction: a RestoreSkipped event per skipped candidate, the
  // migrated snapshot as the plugin's newest row, and StateMigrated.
  WriteOutcome<SnapshotPtr> insert_migrated(StateSnapshot snapshot, MigratedFrom from, std::vector<Skipped> skipped);
  // The RestoreSkipped events alone, in one transaction.
  WriteOutcome<bool> record_skipped(std::string_view plugin_id, std::vector<Skipped> skipped);
  // Pins (pins.cpp): see StateManager.
  WriteOutcome<bool> pin(std::string_view plugin_id, std::uint64_t seq, std::string_view label);
  WriteOutcome<bool> unpin(std::string_view plugin_id, std::string_view label);
  std::optional<StateSnapshot> pinned(std::string_view plugin_id, std::string_view label) const;
  std::vector<PinInfo> pins(std::string_view plugin_id) const;

  // The plugin's newest row.
  std::optional<StateSnapshot> current(std::string_view plugin_id) const;
  // Every row but the newest, oldest first.
  std::vector<StateSnapshot> history(std::string_view plugin_id) const;
  // How many rows history() would return.
  std::size_t history_size(std::string_view plugin_id) const;
  // Throws as insert() does for input it refuses before any transaction.
  void check(const StateSnapshot& snapshot) const;
  std::vector<std::string> plugin_ids() const;
  std::size_t max_history() const;
  // Sets the bound in one transaction; returns the number of rows trimmed.
  WriteOutcome<std::size_t> set_max_history(std::size_t max_history);
  std::vector<StateManager::PluginSummary> plugin_summaries() const;

  // The audit log: appends one event in its own transaction.
  WriteOutcome<bool> append_event(std::string_view plugin_id, std::string_view kind, const std::string& detail);
  std::vector<AuditEvent> audit_events(const AuditQuery& query) const;
  // Returns how many events the prune removed.
  WriteOutcome<std::uint64_t> prune_audit(const AuditPrune& prune, const ProgressCallback& progress);
  // Up to `limit` events after `after_id`, in id order, and how many events
  // after `after_id` and before the last of them (with none, any after
  // `after_id`) a prune removed (audit_gaps). One index seek and a step per
  // event.
  struct EventsAfter {
    std::vector<AuditEvent> events;
    std::uint64_t missed = 0;
  };
  EventsAfter events_after(std::uint64_t after_id, std::size_t limit) const;
  // The newest event's id; 0 when the log is empty.
  std::uint64_t newest_event_id() const;

  // The reload journal (see StateManager for the contracts).
  WriteOutcome<ReloadTicket> begin_reload(StateSnapshot snapshot, std::string_view to_version);
  WriteOutcome<bool> finish_reload(std::uint64_t reload_id, const ReloadResult& result);
  WriteOutcome<bool> resolve_reload(std::uint64_t reload_id, std::string_view note);
  std::vector<UnfinishedReload> unfinished_reloads() const;

  // Plugin life-cycle states.
  WriteOutcome<bool> set_plugin_state(std::string_view plugin_id, const PluginState& state);
  PluginState plugin_state(std::string_view plugin_id) const;

  // A consistent copy to `path` through the online backup API, from a read connection.
  void backup_to(const std::string& path, const ProgressCallback& progress) const;
  // Problems found by the checks of StateManager::verify; empty when none.
  // With `extends`, also whether the audit log still extends that
  // checkpoint. `head` gets the audit log's head as verify found it (signed
  // with the audit key, if any), `unchained` the number of newest events
  // another client wrote that no hotstate has chained yet.
  std::vector<std::string> verify(int& schema_version, const std::optional<AuditCheckpoint>& extends,
                                  AuditCheckpoint& head, std::uint64_t& unchained,
                                  const ProgressCallback& progress) const;
  // The audit log's head: its newest chained event, one index step (plus one
  // per event not chained yet).
  AuditCheckpoint audit_head() const;

  // Replication (replication_feed.cpp). The events after the cursor and the
  // rows they touched, as one read transaction sees them.
  ReplicationBatch replication_batch(const ReplicationCursor& cursor) const;
  // The file's replicas (table replicas).
  std::optional<ReplicaInfo> replica(std::string_view host_id) const;
  std::vector<ReplicaInfo> replicas() const;
  // Adds or updates a replica's row (one single-statement write).
  WriteOutcome<bool> record_replica(const ReplicaInfo& record);
  // Releases its hold: the prune no longer keeps events for it (the row and
  // its token stay, for when it comes back). Whether there was one.
  WriteOutcome<bool> forget_replica(std::string_view host_id);
  // Removes its row (a host id PostgreSQL refused on the first try).
  WriteOutcome<bool> drop_replica(std::string_view host_id);
  // Writes a new database file at `path` (which must not exist) holding
  // exactly `image`'s rows, in one transaction (rebuild.cpp).
  static void rebuild_file(const std::string& path, const HostImage& image);

  struct Connection;  // a SQLite connection and its prepared statements
  struct Shared;      // the connections, the pool and the options, shared by every call

  // The internals, for the tests of the write queue (group_commit_test.cpp).
  Shared& shared() noexcept { return *shared_; }

 private:
  std::unique_ptr<Shared> shared_;
};

}  // namespace hotstate::internal
