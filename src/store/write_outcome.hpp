// Internal: what a store write committed, as only the store can know it.
//
// A write method of Store either returns a WriteOutcome (it committed, and
// says what changed) or throws. What it throws says what is known:
//   CommitUncertain  the failure struck while the commit itself ran (COMMIT,
//                    or the one statement of an autocommit write): the write
//                    may or may not be in the database;
//   anything else    nothing was committed (the input was refused, or the
//                    write's own transaction was rolled back).
// The layers above keep what they hold across the second kind and drop it
// across the first.
#pragma once

#include <string>
#include <optional>
#include <vector>

#include "hotstate/checkpoint.hpp"
#include "hotstate/error.hpp"
#include "hotstate/snapshot.hpp"
#include "store/change_marker.hpp"

namespace hotstate::internal {

// One plugin's current snapshot after a commit (null: it has none now).
struct CurrentSnapshot {
  std::string plugin_id;
  SnapshotPtr snapshot;
};

// What one committed write changed.
struct Commit {
  // The change markers read inside the write's transaction before its first
  // change, and just after its commit: a commit counter that moved by
  // exactly one says no other writer committed in between.
  ChangeMarker before;
  ChangeMarker after;
  // The plugins whose current snapshot the write set, in the order it set
  // them (a later entry for the same plugin wins).
  std::vector<CurrentSnapshot> current;
  // The write removed every plugin's snapshots.
  bool removed_every_plugin = false;
  // The audit log's position just after the commit, read before `after`
  // (so that when only this write came between the markers, it is exactly
  // the commit's). Unknown when it could not be read.
  AuditPosition position;
  // The audit log's new head when the commit chained events (audit_chain.hpp).
  std::optional<AuditCheckpoint> audit_head;
};

template <class T>
struct WriteOutcome {
  T value;
  Commit commit;
};

// A write that failed while committing: its outcome is unknown. Carries the
// code and message of the failure itself; callers catching hotstate::Error
// see no difference.
class CommitUncertain : public Error {
 public:
  explicit CommitUncertain(const Error& failure) : Error(failure) {}
};

}  // namespace hotstate::internal
