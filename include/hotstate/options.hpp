// hotstate: Options, how a StateManager opens its database.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "hotstate/checkpoint.hpp"

namespace hotstate {

// When a commit is flushed to stable storage (SQLite's `PRAGMA synchronous`,
// always in WAL mode).
enum class Synchronous {
  Full,    // every commit is fsynced before save_snapshot returns: survives power loss
  Normal,  // commits survive a crash of the process; the last ones may be lost on power loss
};

struct Options {
  // The database file, created when missing; ":memory:" for a private store
  // that vanishes with its StateManager.
  std::string path;

  // History entries kept per plugin besides its current snapshot (0 keeps no
  // history), for a database this StateManager creates; unset: 10. The bound
  // lives in the database (table `settings`) and holds for every writer.
  // Opening an existing database never changes it: the file keeps its own
  // bound whatever this says (StateManager::max_history() tells which), so a
  // second program or a tool opened with other Options cannot trim anybody's
  // history. Change it on purpose with StateManager::set_max_history, which
  // is audited. At most 2147483647.
  std::optional<std::size_t> max_history;

  Synchronous synchronous = Synchronous::Full;

  // How long a write waits for another connection's lock before it fails
  // with Error(Busy).
  std::chrono::milliseconds busy_timeout{5000};

  // The cache of current snapshots: at most this many plugins and about this
  // many bytes of snapshots; the least recently used go first. 0 entries
  // turns the cache off.
  std::size_t cache_max_entries = 4096;
  std::size_t cache_max_bytes = std::size_t{64} << 20;

  // Opens the database for reading only: no file is created, no migration
  // runs, and every write throws Error(ReadOnly) without touching the file;
  // no -wal or -shm file is left behind where there was none. Reads work as
  // usual, also on a read-only file or directory.
  bool read_only = false;

  // Size limits, checked before anything is written (Error(TooLarge)):
  // a plugin id and a plugin version, in bytes;
  std::size_t max_id_bytes = 1024;
  // a snapshot's data and its metadata, as compact JSON text.
  std::size_t max_data_bytes = std::size_t{16} << 20;
  std::size_t max_metadata_bytes = std::size_t{1} << 20;

  // How long one call may spend inside SQLite before it is interrupted: the
  // call then throws Error(TimedOut) and a write is undone whole. 0: no
  // bound. Waiting for another connection's lock is bounded by busy_timeout
  // instead. For tools that open files prepared by someone else.
  std::chrono::milliseconds call_time_limit{0};

  // The SQLite VFS to open the database with; empty for SQLite's default.
  // For hosts with their own VFS, and for fault-injection tests.
  std::string vfs;

  // The time hotstate records (snapshots.saved_at_us and the audit log's
  // times), microseconds since the Unix epoch; empty for the system clock.
  // For tests and for hosts that replay with their own time. Called from
  // any thread that writes, so it must be thread-safe.
  std::function<std::int64_t()> clock;

  // The audit log's hash chain (checkpoint.hpp).
  //
  // A secret only the host holds, never written to the database: with it,
  // hotstate signs every event it chains (audit_events.mac: HMAC-SHA3-256 of
  // "hotstate:" or, for an event another client wrote, "foreign:" and the
  // chain hash) and every checkpoint it hands over, and verify() checks them,
  // so that a log rewritten with a consistent new chain, an unsigned event,
  // or an event of a kind only hotstate writes that another client inserted
  // are detected. Empty: no signatures (the chain and checkpoints still
  // prove the log against an earlier checkpoint). Use 32 random bytes.
  std::string audit_key;

  // Called with the audit log's new head after a commit of this StateManager
  // that chained events, once at least audit_checkpoint_every events were
  // chained since the last call (1: after every such commit), so that the
  // host can keep checkpoints where the database does not reach. Called on
  // the writing thread after the commit (never inside a transaction, never
  // with a lock of hotstate's held), one call at a time, with checkpoints in
  // increasing order (a checkpoint overtaken by a newer one is skipped). It
  // must not throw; what it throws is dropped.
  std::function<void(const AuditCheckpoint&)> on_audit_checkpoint;
  std::uint64_t audit_checkpoint_every = 1;
};

}  // namespace hotstate
