// hotstate: StateManager, durable current snapshots and history of every plugin.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hotstate/audit.hpp"
#include "hotstate/changes.hpp"
#include "hotstate/checkpoint.hpp"
#include "hotstate/migration.hpp"
#include "hotstate/options.hpp"
#include "hotstate/pin.hpp"
#include "hotstate/plugin_state.hpp"
#include "hotstate/progress.hpp"
#include "hotstate/reload.hpp"
#include "hotstate/replication.hpp"
#include "hotstate/snapshot.hpp"

namespace hotstate {

// Keeps each plugin's current snapshot and its history as rows of one SQLite
// database file (table `snapshots`), with the seed's semantics:
//  - save_snapshot makes the new snapshot current; the previous current one
//    becomes the newest history entry; history beyond max_history is dropped
//    (by a trigger in the database, so every writer obeys the same bound);
//  - rollback discards the current snapshot and makes the newest history entry
//    current;
//  - order is the order of saves (the row's seq), never the timestamp.
//
// Plugin ids: every function that takes one applies the same rule as
// save_snapshot, reads included: an id that is not UTF-8 throws
// Error(InvalidUtf8), one over Options::max_id_bytes Error(TooLarge).
//
// Every public write is one SQLite transaction, fsynced before it returns at
// Synchronous::Full: on any failure it throws Error and the database is as it
// was (after a failed fsync, Error(Io), the write may still reappear after a
// crash: its outcome is unknown, as with any fsync failure).
//
// Current snapshots are cached in memory (Options::cache_max_entries). The
// cache is written only after a commit, and it is coherent with every other
// writer of the file (other StateManagers, other processes, the sqlite3
// shell): a read that starts after another connection's commit returned sees
// that commit. A cache hit checks this by reading the WAL-index header in the
// database's -shm file (shared memory, no SQL): any commit changes it.
// After another connection's commit the next read asks the audit log what
// changed since (one index seek and a step per event) and drops only the
// plugins it names: every change of a current snapshot is recorded there by
// the schema's triggers, whoever writes. The whole cache goes only when the
// log cannot say (the schema changed, the log was pruned or replaced, more
// than 4096 events, ClearedAll or SnapshotEdited). A writer that turns
// triggers off (the shell's `.dbconfig enable_trigger off`) bypasses the
// history bound, the audit log and so this too; verify reports its rows.
//
// Thread safety: one StateManager may be shared by any number of threads.
// Reads run concurrently (cache hits under a shared lock; misses, history and
// plugin_ids each on a pooled read connection); writes serialize on one
// writer connection. Each call is atomic with respect to the others. Not
// copyable or movable (share it by reference or through a smart pointer).
class StateManager {
 public:
  // Opens (or creates) the database at options.path and brings its schema up
  // to date (each migration in its own transaction). Opening an existing
  // database changes nothing else: not its history bound (see
  // Options::max_history), not a row. A new database's directory is synced,
  // so the new file's name survives a power cut. `path` is a file name,
  // never a SQLite URI ("file:..." names a file of that name). Busy from
  // other connections is waited out up to busy_timeout. Throws Error:
  // NotADatabase for a file that is not a SQLite database, NewerSchema for a
  // database written by a newer hotstate (both left untouched),
  // UntrustedSchema for an older database whose schema is not exactly the
  // one hotstate created (it is not migrated), CannotOpen, ReadOnly (a file
  // or directory that cannot be written; Options::read_only reads it), Busy,
  // Corrupt, InvalidArgument for an empty path or max_history above
  // 2147483647.
  //
  // Files prepared by someone else: every connection runs with SQLite's
  // defensive settings (trusted_schema off, SQLITE_DBCONFIG_DEFENSIVE,
  // limits on lengths and depths), reads never run a view or trigger, and
  // every write first checks that the file's triggers and indexes are
  // exactly hotstate's; a write through a file with others throws
  // Error(UntrustedSchema) naming them and writes nothing.
  explicit StateManager(Options options);
  ~StateManager();

  StateManager(const StateManager&) = delete;
  StateManager& operator=(const StateManager&) = delete;

  // Makes `snapshot` the current snapshot of snapshot.plugin_id, moving the
  // previous current one into history and trimming history to max_history.
  // snapshot.seq is ignored; the store assigns the next one, and the call
  // returns it. Every timestamp the seed's u64 holds is stored exactly. Throws Error:
  // InvalidUtf8 for an id, version or metadata that is not UTF-8, TooLarge for one over the limits
  // in Options, ReadOnly when opened read-only, Busy, DiskFull, Io; then
  // nothing was written.
  std::uint64_t save_snapshot(StateSnapshot snapshot);

  // The current snapshot of `plugin_id`, or null when it has none. Reads the
  // database, so it sees what other processes committed.
  SnapshotPtr load_snapshot(std::string_view plugin_id) const;

  // Saves `snapshot` only if the plugin's current snapshot still has seq
  // `expected_seq` (0: only if the plugin has no snapshot), e.g. the seq of
  // the snapshot the caller loaded. Returns the new snapshot's seq. Throws
  // Error(Conflict) and writes nothing when another save, rollback or clear
  // came first; otherwise as save_snapshot.
  std::uint64_t save_snapshot_if(StateSnapshot snapshot, std::uint64_t expected_seq);

  // Saves every snapshot, in order, in one transaction: one commit, one
  // fsync. Returns their seqs, in order. All or nothing: on any failure
  // nothing was written.
  std::vector<std::uint64_t> save_snapshots(std::vector<StateSnapshot> snapshots);

  // The same as load_snapshot: the seed's fallback to a persisted file is
  // unnecessary when every save is durable.
  SnapshotPtr get_latest(std::string_view plugin_id) const;

  // Discards the current snapshot of `plugin_id` and makes the newest history
  // entry current; returns that entry. With no history returns null and
  // changes nothing.
  SnapshotPtr rollback(std::string_view plugin_id);

  // Removes the plugin's current snapshot, its history and its pins; it is
  // gone from plugin_ids(). No effect for an unknown plugin.
  void clear(std::string_view plugin_id);

  // Removes every plugin's snapshots and pins.
  void clear_all();

  // The plugin's stored snapshot `seq`: its current snapshot, a history
  // entry, or a pinned snapshot; null when none of them has that seq.
  SnapshotPtr snapshot(std::string_view plugin_id, std::uint64_t seq) const;

  // The snapshot that was the plugin's current one at `time_us`
  // (microseconds since the Unix epoch, the audit log's time), when it is
  // still stored (see snapshot()); null when the plugin had none then, or
  // that snapshot was trimmed since and is not pinned. Which snapshot was
  // current is told by the audit log, in the order things happened: saves
  // (by when each row was written), rollbacks, restores, clears, trims and
  // deletes with SQL. Throws Error(NotFound) for a time before the log's
  // newest retention prune (the events that would tell may be gone). Rows
  // that a version-1 file held before the log existed are not seen.
  SnapshotPtr snapshot_at(std::string_view plugin_id, std::int64_t time_us) const;

  // Makes a copy of the plugin's stored snapshot `seq` (see snapshot()) its
  // new current snapshot, with a new seq, in one transaction audited as
  // Restored {from_seq, to_seq}; returns it. Nothing is deleted but what the
  // history bound trims, as for any save (rollback, by contrast, deletes the
  // current snapshot). Throws Error(NotFound) when `seq` is not stored for
  // the plugin, and writes nothing.
  SnapshotPtr restore(std::string_view plugin_id, std::uint64_t seq);

  // Pins the plugin's stored snapshot `seq` (see snapshot()) under `label`,
  // moving the label if it named another snapshot; audited as Pinned. Throws
  // Error(NotFound) when `seq` is not stored for the plugin,
  // Error(InvalidArgument) for an empty label, and writes nothing. See pin.hpp.
  void pin(std::string_view plugin_id, std::uint64_t seq, std::string_view label);

  // Removes the pin; audited as Unpinned. Returns false (and writes nothing)
  // when the plugin has no pin with that label.
  bool unpin(std::string_view plugin_id, std::string_view label);

  // The snapshot pinned under `label`, or null.
  SnapshotPtr pinned(std::string_view plugin_id, std::string_view label) const;

  // The pins of `plugin_id`, or of every plugin when it is empty, by plugin
  // and label.
  std::vector<PinInfo> pins(std::string_view plugin_id = {}) const;

  // Registers (or replaces) the migration of the state of `plugin_id` ("" for
  // every plugin; a plugin's own wins) from major version `from_major` to
  // `to_major`, in either direction (a downgrade has from_major > to_major).
  // restore_for chains them (1 -> 2 -> 3, the fewest steps). Registrations
  // live in this StateManager, not in the file. Throws Error(InvalidArgument)
  // for equal majors or an empty function. See migration.hpp.
  void register_migration(std::string_view plugin_id, int from_major, int to_major, Migration migration);

  // The state a plugin at `target_version` should start from: the newest
  // stored state it can use. Candidates, newest first: the current
  // snapshot, the history, then pinned snapshots whose rows are gone. The
  // first that can be read and is either compatible with the target (the
  // seed's rule: the same major version), returned as it is, or taken to the
  // target's major by a chain of registered migrations: then migrated, saved
  // as the plugin's new current snapshot with `target_version`, and
  // returned, the save and its StateMigrated {from_seq, from_version,
  // to_version, steps} event in one transaction. An older compatible
  // snapshot never wins over a newer one that migrates: the newest state is
  // carried forward. A candidate that cannot be read (Corrupt) or whose migration
  // throws is passed over, recorded as RestoreSkipped {seq, reason}, and the
  // next one is tried. Null when nothing fits. Majors are compared as the
  // text before the first '.'; migrations need it to be a number.
  SnapshotPtr restore_for(std::string_view plugin_id, std::string_view target_version);

  // The plugin's history, oldest first, without the current snapshot.
  std::vector<StateSnapshot> get_history(std::string_view plugin_id) const;

  // How many entries get_history would return, counted in SQL without
  // reading any of them; 0 for a plugin without history or snapshots.
  std::size_t history_size(std::string_view plugin_id) const;

  // Checks `snapshot` as save_snapshot checks its input before writing
  // (UTF-8 and size of id, version, data and metadata against Options) and
  // throws the same Error; touches no file. For callers that name which
  // snapshot of a batch save_snapshots would refuse (the tool's import names
  // the file).
  void check_snapshot(const StateSnapshot& snapshot) const;

  // Every plugin with a current snapshot, sorted by the bytes of the id.
  std::vector<std::string> plugin_ids() const;

  // The history bound the database holds now (see Options::max_history).
  std::size_t max_history() const;

  // Changes the history bound of the database, for every writer, in one
  // transaction: lowering it trims every plugin's history at once. The change
  // and each trimmed row are recorded in the audit log (MaxHistoryChanged
  // {from, to}, HistoryTrimmed {seq, content_hash}). Returns how many rows it
  // trimmed. Setting the bound the database has changes nothing. Throws
  // Error: InvalidArgument above 2147483647, ReadOnly, Busy, DiskFull, Io,
  // UntrustedSchema.
  std::size_t set_max_history(std::size_t max_history);

  // A plugin's current snapshot in brief, as SQL counts and reads it: no
  // data or metadata is read or parsed.
  struct PluginSummary {
    std::string plugin_id;
    std::uint64_t seq = 0;               // the current snapshot's seq
    std::string plugin_version;          // the current snapshot's plugin_version
    std::uint64_t timestamp = 0;         // the current snapshot's timestamp (seconds)
    std::int64_t saved_at_us = 0;        // when the current snapshot was written
    std::size_t history_entries = 0;     // rows besides the current one
  };
  // Every plugin with a current snapshot, sorted as plugin_ids(). Never
  // fails because of one row: a listing of a file with unreadable rows still
  // lists every plugin (load_snapshot then reports the unreadable one).
  std::vector<PluginSummary> plugin_summaries() const;

  // The options this manager was opened with.
  const Options& options() const noexcept;

  // Writes a consistent copy of the database to `path` with SQLite's online
  // backup API: the copy is the database as of one moment, while other
  // threads and processes go on writing. The copy is written to a temporary
  // file beside `path`, fsynced, renamed over `path` and the directory
  // fsynced: `path` is either its old self or the whole copy, never a part.
  // Throws Error: InvalidArgument when `path` is this database itself (or
  // one of its -wal/-shm files), CannotOpen, Io, DiskFull; the temporary is
  // removed on failure, the source never changes.
  void backup(const std::string& path) const;
  // As backup(path), calling `progress` with the pages copied ("backup",
  // "pages") as the copy goes, still one consistent moment of the database.
  void backup(const std::string& path, const ProgressCallback& progress) const;

  // What verify() found; ok when `problems` is empty.
  struct VerifyReport {
    bool ok = true;
    std::vector<std::string> problems;  // one sentence each
    int schema_version = 0;             // the file's PRAGMA user_version
    AuditCheckpoint audit_head;         // the audit log's head as verify found it (signed with Options::audit_key, if any)
    std::uint64_t unchained_events = 0; // newest events another client wrote that no hotstate has chained yet (not a problem)
  };
  // Checks the file: PRAGMA integrity_check, schema version and application
  // id, that every schema object is exactly the SQL hotstate's migrations
  // create (changed, missing and unknown triggers, views, indexes and tables
  // are each reported), that no id is beyond 2^53-1, that no plugin
  // has more rows than the history bound allows, that each plugin's count in
  // snapshot_counts (by which the bound trims) is its number of rows, that
  // every row reads and matches its content_hash, and that the audit log is
  // consistent with the snapshots (every row has its SnapshotSaved event
  // with the same hash; every removed row is explained by a HistoryTrimmed,
  // RolledBack, Cleared or ClearedAll event). Its time is linear in the rows
  // and events (n log n with the sorts).
  // Reads only; problems are reported, not thrown (Error only when the file
  // cannot be read at all).
  VerifyReport verify() const;
  // As verify(), and also that the audit log still extends `extends`, a
  // checkpoint taken earlier (audit_head, Options::on_audit_checkpoint):
  // its event still has its chain hash, or is the last of a run a prune
  // removed with that hash. Reports a log rewritten up to it, its newest
  // events removed, and a checkpoint whose event a prune removed since
  // (which cannot be checked: take newer checkpoints).
  //
  // Both check the audit log's hash chain (checkpoint.hpp): every link, the
  // gaps prunes left and the counts they recorded, each event's position;
  // with Options::audit_key every signature, and that no event of a kind
  // only hotstate writes was inserted by another client; and, key or not,
  // that the events only hotstate writes agree with the snapshots, the
  // reload journal and each other (a RolledBack whose row is still there, a
  // row removed twice, a ReloadCompleted the journal contradicts, a prune
  // whose count differs from what it removed). Each problem names the
  // first events where the chain breaks.
  VerifyReport verify(const AuditCheckpoint& extends) const;

  // verify() with everything it can take: a checkpoint the log must extend,
  // and a callback told the rows and events checked ("verify: rows", "verify:
  // audit chain") as it goes.
  struct VerifyOptions {
    std::optional<AuditCheckpoint> extends;
    ProgressCallback progress;
  };
  VerifyReport verify(const VerifyOptions& options) const;

  // The audit log's checkpoint now: its newest chained event, the chain
  // hash there and how many events the chain holds, signed with
  // Options::audit_key if any. Keep it where the database does not reach,
  // and later check the log with verify(checkpoint). Reads only.
  AuditCheckpoint audit_head() const;

  // ---- Following changes (changes.hpp)

  // Up to `limit` audit events after `after_event_id` (0: from the start),
  // in commit order, those `filter` matches; `position` is where the next
  // call starts, and `more` says the limit was reached. Every change of any
  // writer is there: a save or a trim (SnapshotSaved, HistoryTrimmed, with
  // their seq), a rollback, restore, clear, pin, a plugin state, a reload.
  // Reads only; one index seek and a step per event read.
  ChangeBatch changes_since(std::uint64_t after_event_id, const ChangeFilter& filter = {},
                            std::size_t limit = 1000) const;
  // The newest audit event's id (0 for an empty log): a starting point for
  // changes_since.
  std::uint64_t newest_event_id() const;

  // Calls `on_event` with each audit event `options.filter` matches as
  // writers commit them (this process, another, the sqlite3 shell), until
  // the Subscription is stopped or destroyed (or this StateManager is).
  //  - On a thread hotstate starts for the subscription: never concurrently,
  //    one event at a time, in commit (event id) order, each once.
  //  - Idle, it costs a look at the WAL index every poll_interval (no SQL,
  //    no system call); after a commit it reads the new events in one query.
  //  - A slow callback delays the events behind it, which wait in the
  //    database, not in memory: nothing is dropped for slowness. A retention
  //    prune may remove events it has not read yet: options.on_missed says
  //    how many, before the events that follow.
  //  - The callback must not throw (what it throws is dropped). It may call
  //    this StateManager (reads and writes; its own writes come back to it as
  //    events) and may stop its Subscription. A failed read of the log is
  //    retried at the next poll (stats().failures).
  // Throws Error(InvalidArgument) for an empty callback or a poll_interval
  // that is not positive.
  Subscription subscribe(std::function<void(const AuditEvent&)> on_event, SubscribeOptions options = {}) const;

  // ---- Replication to PostgreSQL (replication.hpp)

  // Ships every change committed before the call to the PostgreSQL database
  // at `url` (libpq's URL or key=value string), as host options.host_id, in
  // batches of options.batch_events, each one PostgreSQL transaction with
  // the position; returns when PostgreSQL holds them all. Creates or
  // migrates PostgreSQL's schema "hotstate" first. With options.hold_prune
  // (the default) it also records the position in the file (replicas), so
  // that the retention prune keeps what is not shipped. Throws Error:
  // InvalidArgument (empty host id), Unavailable (PostgreSQL unreachable or
  // failing: what committed before stays, the rest ships next time),
  // Conflict (another file ships as this host id), NewerSchema.
  ShipReport replicate_once(const std::string& url, const ReplicationOptions& options);

  // Starts a thread that ships as replicate_once does and then follows the
  // file: after each commit of any writer (it looks at the WAL index every
  // options.poll_interval, no SQL) it ships the new events. PostgreSQL down
  // or failing: it retries, waiting retry_min doubling up to retry_max,
  // while the host's writes go on unaffected; the backlog ships once
  // PostgreSQL is back. Runs until the Replication is stopped or destroyed
  // (or this StateManager is). Throws Error(InvalidArgument) for an empty
  // host id; every later failure goes to options.on_error and stats().
  Replication replicate(const std::string& url, ReplicationOptions options);

  // The replicas the file knows of (table replicas), by host id.
  std::vector<ReplicaInfo> replicas() const;
  // Forgets a replica: the retention prune no longer keeps events for it
  // (ReplicaInfo::holds_prune goes false; the row keeps its token). One that
  // comes back holds the prune again and records in PostgreSQL the events it
  // missed. Returns whether there was one.
  bool forget_replica(std::string_view host_id);

  // ---- The audit log (see audit.hpp for the events hotstate writes itself)

  // Records a host's reload event (ReloadStarted, StatePreserved, …) in the
  // audit log, durably, in its own transaction. Throws Error: InvalidUtf8 or
  // TooLarge for the plugin id, TooLarge for a detail over
  // max_metadata_bytes, ReadOnly, Busy, DiskFull, Io; then nothing was
  // written.
  void record_event(const ReloadEvent& event);

  // The events `query` selects, in its order. Reads the database.
  std::vector<AuditEvent> audit_events(const AuditQuery& query = {}) const;

  // The retention prune, in one transaction: removes the events `prune`
  // selects (see AuditPrune for what always stays) and records an
  // AuditPruned event with the bounds and the count. Returns how many events
  // it removed. Throws Error(InvalidArgument) when `prune` sets neither
  // bound; otherwise as record_event. No other way deletes events: the
  // table's triggers refuse UPDATE and DELETE from any client.
  std::uint64_t prune_audit(const AuditPrune& prune);
  // As prune_audit(prune), telling `progress` what it does: "prune: counting"
  // (the events it will remove, found in a first pass that is undone), then
  // "prune: removing" with that total, done when it is.
  std::uint64_t prune_audit(const AuditPrune& prune, const ProgressCallback& progress);

  // ---- The reload journal (see reload.hpp)

  // Begins a reload, in one transaction: saves `pre_reload` as the plugin's
  // current snapshot (as save_snapshot), records the reload in the journal
  // with a copy of that snapshot, and a ReloadStarted event. `to_version`:
  // the version about to be loaded, when the host knows it. Throws as
  // save_snapshot; then nothing was written.
  ReloadTicket begin_reload(StateSnapshot pre_reload, std::string_view to_version = {});

  // Finishes reload `reload_id`, in one transaction: records its outcome in
  // the journal and ReloadCompleted {success, duration_us} in the audit log
  // (preceded by ReloadFailed {error, attempt} on failure). Throws Error:
  // NotFound for an unknown reload, Conflict for one that already
  // finished or was resolved; otherwise as record_event.
  void finish_reload(std::uint64_t reload_id, const ReloadResult& result);

  // Reloads that began and did not finish, oldest first, each with the
  // snapshot to return to. After a host crash the next process calls this,
  // restores (or not), then resolve_reload. Note that a reload another live
  // process is running right now is unfinished too.
  std::vector<UnfinishedReload> unfinished_reloads() const;

  // Marks an unfinished reload resolved (outcome 'resolved', with `note`)
  // and records ReloadResolved, in one transaction. Throws as finish_reload.
  void resolve_reload(std::uint64_t reload_id, std::string_view note = {});

  // ---- Plugin life cycle

  // Persists the plugin's life-cycle state; a change is recorded in the audit
  // log (PluginStateChanged {from, to, reason}) in the same transaction;
  // setting the state it already has changes nothing. Throws Error:
  // InvalidUtf8 or TooLarge for the id or the Failed reason (max_id_bytes,
  // max_metadata_bytes), ReadOnly, Busy, DiskFull, Io.
  void set_plugin_state(std::string_view plugin_id, const PluginState& state);

  // The plugin's persisted state; Unloaded for a plugin never set.
  PluginState plugin_state(std::string_view plugin_id) const;

  // What the cache has done so far (counters since this manager opened).
  struct CacheStats {
    std::uint64_t hits = 0;           // load_snapshot / get_latest answered from memory
    std::uint64_t misses = 0;         // answered from the database
    std::uint64_t invalidations = 0;  // whole cache dropped for another connection's commit (when the audit log could not say what it changed)
    std::uint64_t evictions = 0;      // entries dropped for capacity
    std::size_t entries = 0;          // plugins cached now
    std::size_t bytes = 0;            // their approximate size
    std::uint64_t refreshes = 0;      // times the audit log was read for what other connections changed
    std::uint64_t dropped = 0;        // entries dropped because another connection changed their plugin
  };
  CacheStats cache_stats() const;

 private:
  VerifyReport verify_report(const std::optional<AuditCheckpoint>& extends, const ProgressCallback& progress) const;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hotstate
