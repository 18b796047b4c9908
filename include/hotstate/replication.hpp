// hotstate: shipping a file's changes to PostgreSQL, for fleets, and
// rebuilding a file from there.
//
// The file stays the source of truth; PostgreSQL is the fleet's copy. A
// replicator reads the audit log (the change log: every change of every
// writer, in commit order) after the position PostgreSQL holds, and ships
// each batch in one PostgreSQL transaction: the events, the rows they touched
// as the file holds them (snapshots, pins, plugin states, the reload journal,
// settings, gaps prunes left) and the new position, all or nothing. So a
// crash of either side, or a PostgreSQL that is down, loses nothing and ships
// nothing twice: the next run starts after the position PostgreSQL committed.
// The replicator only reads the file (WAL readers never block its writers),
// so the host's own writes do not wait for it; about once a second it records
// its position in the file (table replicas), so that the retention prune
// keeps what it has not shipped.
//
// PostgreSQL's schema is migrations/postgresql/NNNN_*.sql (schema "hotstate",
// keyed by host id), applied by the replicator when missing.
//
// Thread safety: ReplicationOptions, ShipReport and RestoreFromReport are plain
// values. A Replication may be stopped and read from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "hotstate/error.hpp"

namespace hotstate {

// How a replicator ships.
struct ReplicationOptions {
  // The host's id in PostgreSQL (hotstate.hosts.host_id): unique in the
  // fleet, chosen by its operator. Required (not empty).
  std::string host_id;
  // Events per batch (one PostgreSQL transaction); a longer backlog ships in
  // several.
  std::size_t batch_events = 2000;
  // Following (StateManager::replicate): how often it looks for commits when
  // idle. A look reads the WAL index in shared memory, no SQL.
  std::chrono::milliseconds poll_interval{20};
  // Following: how often an idle replicator tells PostgreSQL it is alive
  // (hosts.last_contact_at), so that hotstate.stale_hosts tells a quiet host
  // from a lost one.
  std::chrono::milliseconds heartbeat_interval{10000};
  // Following: after a failure (PostgreSQL down, refused), the first wait
  // before trying again; it doubles up to retry_max.
  std::chrono::milliseconds retry_min{100};
  std::chrono::milliseconds retry_max{5000};
  // Record the shipped position in the file (replicas) so that the retention
  // prune keeps the events not shipped yet. (The file's replicas row is
  // written either way, once: it keeps the host's token.) Off: a prune may remove events
  // before they ship; the replicator then records them in PostgreSQL
  // (hotstate.shipment_gaps) and says so (ShipReport::missed).
  bool hold_prune = true;
  // Called after each batch PostgreSQL committed, on the replicating thread.
  std::function<void(std::uint64_t position, std::uint64_t events)> on_batch;
  // Called when a batch failed (following retries it), on the replicating thread.
  std::function<void(const Error& error)> on_error;
  // Called when events were pruned from the file before they shipped (also
  // recorded in PostgreSQL), on the replicating thread.
  std::function<void(std::uint64_t missed)> on_missed;
};

// A replica the file knows of (table replicas), as its replicator last
// recorded it. A value type.
struct ReplicaInfo {
  std::string host_id;                // the id it ships as
  std::string target;                 // the PostgreSQL URL, without its password
  std::string token;                  // the random token PostgreSQL's hosts row must carry
  std::uint64_t shipped_event_id = 0; // the newest event PostgreSQL confirmed (lags, never leads)
  bool holds_prune = true;            // whether the retention prune keeps the events after it
};

// What StateManager::replicate_once shipped. A value type.
struct ShipReport {
  std::uint64_t position = 0;  // the newest event PostgreSQL holds now
  std::uint64_t events = 0;    // events shipped by this call
  std::uint64_t batches = 0;   // PostgreSQL transactions committed by this call
  std::uint64_t missed = 0;    // events a prune removed before they shipped (recorded in hotstate.shipment_gaps)
};

// A replicator following the file (StateManager::replicate). Move-only;
// destroying it stops it. It must be stopped before its StateManager is
// destroyed, or that destructor stops it.
class Replication {
 public:
  Replication() = default;  // none
  ~Replication();
  Replication(Replication&&) noexcept;
  Replication& operator=(Replication&&) noexcept;
  Replication(const Replication&) = delete;
  Replication& operator=(const Replication&) = delete;

  // Stops the thread: it finishes or abandons (PostgreSQL rolls it back) the
  // batch in progress and returns. Idempotent.
  void stop();
  // Whether it is still following.
  bool active() const;

  struct Stats {
    std::uint64_t position = 0;  // the newest event PostgreSQL confirmed holding
    std::uint64_t events = 0;    // events shipped since it started
    std::uint64_t batches = 0;   // batches committed
    std::uint64_t failures = 0;  // batches that failed (retried)
    std::uint64_t missed = 0;    // events pruned before they shipped
    bool connected = false;      // whether its PostgreSQL connection is up
    std::string last_error;      // the newest failure's message; empty when none yet
  };
  Stats stats() const;
  // Blocks until PostgreSQL holds every event up to `event_id`, or `timeout`
  // passes; returns whether it does.
  bool wait_shipped(std::uint64_t event_id, std::chrono::milliseconds timeout) const;

  struct State;  // internal

 private:
  friend class StateManager;
  explicit Replication(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

// What restore_from rebuilt. A value type.
struct RestoreFromReport {
  std::uint64_t snapshots = 0;   // snapshot rows
  std::uint64_t events = 0;      // audit events (those the host's file held, not those its prunes removed)
  std::uint64_t reloads = 0;     // reload journal rows
  std::uint64_t pins = 0;        // pins
  // The rebuilt file is the host's as of this event: PostgreSQL's newest
  // consistent point (its rows come with the last batch of a backlog).
  std::uint64_t position = 0;
  // The newest event PostgreSQL holds of the host: `position`, unless the
  // host stopped in the middle of shipping a backlog; then the events after
  // `position` stay in PostgreSQL only, and the rebuilt file must ship as
  // another host id (as the same one it is refused: Conflict).
  std::uint64_t shipped = 0;
};

// Rebuilds the file of host `host_id` from the PostgreSQL database at `url`
// into a new file at `db_path`: its snapshots and history, pins, plugin
// states, reload journal, settings and audit log (with its chain, so that
// verify passes on it), as of the newest event whose rows PostgreSQL holds
// (RestoreFromReport::position). The file is written
// beside `db_path` and renamed into place only when complete; an existing
// file at `db_path` is refused (Error(InvalidArgument)), nothing is changed.
// The new file ships on as the same host (its replicas row carries the
// host's token). Throws Error(NotFound) when PostgreSQL has no such host,
// Error(Unavailable) when PostgreSQL cannot be reached or fails.
RestoreFromReport restore_from(const std::string& url, const std::string& host_id, const std::string& db_path);

// The PostgreSQL schema version this hotstate writes (the newest of
// migrations/postgresql/).
int postgresql_schema_version() noexcept;

}  // namespace hotstate
