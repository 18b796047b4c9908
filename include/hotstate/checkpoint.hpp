// hotstate: audit checkpoints, the proof that the audit log was not changed.
//
// Every audit event is chained: its chain hash is SHA3-256 over the chain
// hash before it and the event's own fields (id, time, plugin id, kind,
// detail, each length-prefixed), so changing, removing, inserting or
// reordering any event changes every chain hash after it. A checkpoint is the
// chain's head at one moment: kept somewhere the database does not reach (the
// host's own log, a metrics system; Options::on_audit_checkpoint hands one
// over after each commit), it lets StateManager::verify (and `hotstate verify
// --audit-head ID:HASH`) prove later that the log still extends it. With
// Options::audit_key, hotstate also signs each event's chain hash and each
// checkpoint with HMAC-SHA3-256, so that even a log rewritten with a
// consistent new chain is detected, and events another client inserted are
// told from hotstate's own. The encoding is in migrations/0007_audit_chain.sql
// and docs/sqlite-shell.md (which checks it with the sqlite3 shell).
//
// Thread safety: a plain value; copy it and hand it between threads freely.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hotstate/json.hpp"

namespace hotstate {

// The audit log's hash chain at one event. A value type.
struct AuditCheckpoint {
  std::uint64_t event_id = 0;     // the newest chained event; 0 for an empty log
  std::string chain_hash;         // its chain hash, 64 lowercase hex digits (64 zeros for an empty log)
  std::uint64_t event_count = 0;  // events the chain holds up to event_id, pruned ones included
  std::int64_t time_us = 0;       // that event's time, microseconds since the Unix epoch (0 for an empty log)
  // HMAC-SHA3-256 with Options::audit_key of "checkpoint:" + to_text() + ":"
  // + event_count in decimal, 64 lowercase hex digits; empty when the
  // StateManager has no key.
  std::string signature;

  // "ID:HASH", as `hotstate verify --audit-head` takes it.
  std::string to_text() const;
  // Parses "ID:HASH" (HASH: 64 hex digits, either case). Throws
  // Error(InvalidArgument) on anything else.
  static AuditCheckpoint parse(std::string_view text);

  friend bool operator==(const AuditCheckpoint&, const AuditCheckpoint&) = default;
};

// {"event_id", "chain_hash", "event_count", "time_us", "time" (format_time_us),
// "signature" (only when signed), "text" (to_text())}, so that
// Json::from(checkpoint) works.
void to_json(JsonWriter& out, const AuditCheckpoint& checkpoint);

}  // namespace hotstate
