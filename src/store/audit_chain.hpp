// Internal: the audit log's hash chain (migrations/0007_audit_chain.sql).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hotstate/checkpoint.hpp"
#include "hotstate/progress.hpp"
#include "store/store_internal.hpp"

namespace hotstate::internal {

// A run of events a prune removed, as the encoding of its AuditPruned event covers it.
struct AuditGap {
  std::int64_t first_id = 0;
  std::int64_t last_id = 0;
  std::int64_t events = 0;
};

// An event's encoding: id, time_us (its decimal text), plugin_id, kind and
// detail, and for an AuditPruned event each of its gaps, as netstrings
// (<length in bytes>:<bytes>,); the view audit_chain_links computes the same.
std::string chain_encoding(std::int64_t id, std::string_view time_us, std::string_view plugin_id, std::string_view kind,
                           std::string_view detail, const std::vector<AuditGap>& gaps);
// lower(hex(sha3(previous || encoding))).
std::string chain_hash(std::string_view previous, std::string_view encoding);
// audit_events.mac: HMAC-SHA3-256 of "hotstate:" or "foreign:" and the chain hash.
std::string event_mac(std::string_view key, bool written_by_hotstate, std::string_view chain);
// AuditCheckpoint::signature.
std::string checkpoint_signature(std::string_view key, const AuditCheckpoint& checkpoint);

// Chains every event not chained yet (the newest ones), in id order, inside
// the caller's write transaction; with a key, signs each as written by
// hotstate or, `written_by_hotstate` false, found from another client.
// Returns the new head, or nullopt when nothing was pending.
std::optional<AuditCheckpoint> chain_pending(Store::Connection& c, const std::string& key, bool written_by_hotstate);

// The newest chained event as a checkpoint (signed with `key` when not empty).
AuditCheckpoint read_audit_head(SQLite::Database& db, const std::string& key);

// What verify_chain found besides its problems.
struct ChainSummary {
  AuditCheckpoint head;            // the newest chained event
  std::uint64_t unchained = 0;     // newest events another client wrote, not chained yet
  std::uint64_t signed_by_hotstate = 0;
  std::uint64_t signed_foreign = 0;
};

// Walks the whole chain: every link, every gap and the prunes that left them,
// the positions, with `key` every signature, and with `extends` that the log
// still extends that checkpoint; then the events of kinds only hotstate
// writes against the snapshots, the journal and each other. Appends a
// sentence per problem (the first few of each sort). Linear in the events.
void verify_chain(SQLite::Database& db, const std::string& key, const std::optional<AuditCheckpoint>& extends,
                  std::vector<std::string>& problems, ChainSummary& summary, const ProgressCallback& progress = {});

}  // namespace hotstate::internal
