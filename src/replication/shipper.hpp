// Internal: ships a file's changes to PostgreSQL, one batch per PostgreSQL
// transaction (replication.hpp says what a batch holds and why it is exactly
// once). Used by StateManager::replicate_once and by the thread of
// StateManager::replicate.
//
// Thread safety: none; one Shipper per replicating thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "hotstate/replication.hpp"
#include "replication/pg_connection.hpp"
#include "store/store.hpp"

namespace hotstate::internal {

class Shipper {
 public:
  // Does not connect yet. `file_path` is informative (hosts.target_file).
  Shipper(Store& store, std::string url, ReplicationOptions options, std::string file_path);

  struct Shipped {
    std::uint64_t events = 0;    // events this batch shipped
    std::uint64_t position = 0;  // PostgreSQL's position after it
    std::uint64_t newest = 0;    // the file's newest event when the batch was read
    std::uint64_t missed = 0;    // events a prune removed before they shipped
    bool committed = false;      // a PostgreSQL transaction committed (events, rows or a heartbeat)
    bool more = false;           // the batch was full: more events are waiting
  };
  // Ships the next batch: connects (and migrates PostgreSQL's schema, and
  // registers the host) first when not connected. With nothing to ship it
  // commits nothing, unless `heartbeat`. With `reconcile` it also drops from
  // PostgreSQL the snapshot and journal rows the file no longer has (deleted
  // by another client without an audit event), in the next batch that
  // carries rows (the one that reaches the file's newest event). Throws Error (Unavailable,
  // Conflict when another file ships as this host, NewerSchema); after a
  // failure the connection is dropped and the next call connects again.
  Shipped ship(bool heartbeat = false, bool reconcile = false);

  // Records the shipped position in the file (replicas), when it moved since
  // the last record (or `force`). Only with options.hold_prune; a failure
  // (a busy or read-only file) is left for the next call.
  void record_position(bool force);

  bool connected() const { return pg_ != nullptr; }
  void disconnect() { pg_.reset(); }
  std::uint64_t position() const { return position_; }

 private:
  void connect();
  Shipped ship_connected(bool heartbeat, bool reconcile);

  Store& store_;
  std::string url_;
  ReplicationOptions options_;
  std::string file_path_;
  std::string token_;
  std::unique_ptr<PgConnection> pg_;
  std::uint64_t position_ = 0;
  std::uint64_t recorded_position_ = 0;
  bool recorded_once_ = false;
  bool reconcile_pending_ = false;  // asked for, not shipped yet (only a batch with rows reconciles)
};

}  // namespace hotstate::internal
