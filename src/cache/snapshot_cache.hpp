// Internal: the in-memory cache of current snapshots, between the manager and
// the store. It holds immutable SnapshotPtrs (null: the plugin is known to
// have none), is only changed after a commit, and trusts its content only
// while the store's change marker is the one it was validated at. When
// another connection commits, the store's audit log says which plugins it
// changed (from the position the cache was validated at): only those are
// dropped.
//
// Thread safety: every member function may be called from any thread; hits
// take a shared lock, changes an exclusive one.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hotstate/snapshot.hpp"
#include "model/mutex.hpp"
#include "store/change_marker.hpp"
#include "store/write_outcome.hpp"

namespace hotstate::internal {

struct CacheLimits {
  std::size_t max_entries = 0;  // 0 disables the cache
  std::size_t max_bytes = 0;
};

struct CacheCounters {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t invalidations = 0;  // times the whole cache was dropped for another writer's commit
  std::uint64_t refreshes = 0;      // times another writer's commits were read from the audit log
  std::uint64_t dropped = 0;        // entries dropped because another writer changed their plugin
  std::uint64_t evictions = 0;
  std::size_t entries = 0;
  std::size_t bytes = 0;
};

class SnapshotCache {
 public:
  explicit SnapshotCache(CacheLimits limits);
  SnapshotCache(const SnapshotCache&) = delete;
  SnapshotCache& operator=(const SnapshotCache&) = delete;

  // Proof that a miss happened while the cache was in a given state.
  struct Ticket {
    std::uint64_t generation = 0;
  };
  // Another connection committed since the cache was validated: what it
  // changed must be read from the store, from `position`, and handed to
  // refresh().
  struct Refresh {
    std::uint64_t generation = 0;
    AuditPosition position;
  };
  struct Lookup {
    bool hit = false;
    SnapshotPtr snapshot;            // on a hit; null means "known to have none"
    Ticket ticket;                   // on a miss, for fill()
    std::optional<Refresh> refresh;  // on a miss: read the changes, then call refresh()
  };

  // `marker` must have been read from the store just before this call (and
  // so before the store read that follows a miss). A hit runs no SQL, parses
  // nothing, copies no snapshot and allocates nothing.
  Lookup find(std::string_view plugin_id, const ChangeMarker& marker) EXCLUDES(mutex_);

  // After find() asked for it: drops what `changes` (read from the store
  // after `marker`, from `refresh.position`) names, takes `marker` as
  // validated, and looks `plugin_id` up again. Applies nothing if the cache
  // changed since find() (another refresh or a write did it): then a miss.
  Lookup refresh(const Refresh& refresh, const ChangeMarker& marker, const ChangesSince& changes,
                 std::string_view plugin_id) EXCLUDES(mutex_);

  // Records what a miss read from the store, unless the cache changed since
  // the lookup (a write or an invalidation would make it possibly stale).
  void fill(const Ticket& ticket, std::string_view plugin_id, SnapshotPtr snapshot) EXCLUDES(mutex_);

  // A write through the cache. Begin it before the store write (lookups
  // meanwhile bypass the cache); end it with one call: complete() with the
  // store's Commit, or nothing_committed(). Destroyed with neither (the
  // write's outcome is unknown), it drops the whole cache: a failed write
  // never reaches the cache, and nothing stale survives an outcome it
  // cannot know.
  class Write {
   public:
    explicit Write(SnapshotCache& cache);
    ~Write();
    Write(const Write&) = delete;
    Write& operator=(const Write&) = delete;
    // Applies what the write committed. If no other writer committed in
    // between, the cache stays warm and takes the write's current snapshots;
    // otherwise it is dropped.
    void complete(const Commit& commit);
    // The write failed and is known to have committed nothing: the cache
    // stays as it is. Other writers are still caught by the marker check of
    // every lookup.
    void nothing_committed() noexcept { completed_ = true; }

   private:
    SnapshotCache& cache_;
    bool completed_ = false;
  };

  CacheCounters counters() const EXCLUDES(mutex_);

 private:
  struct Entry {
    std::string plugin_id;
    SnapshotPtr snapshot;
    std::size_t bytes = 0;
    // Set by hits, cleared by the clock hand: recently used entries get a
    // second chance before eviction (CLOCK, an approximation of LRU that
    // lets hits run under a shared lock).
    mutable std::atomic<bool> referenced{false};
  };
  using Entries = std::list<Entry>;

  bool enabled() const noexcept { return limits_.max_entries > 0; }
  void upsert_locked(std::string_view plugin_id, SnapshotPtr snapshot) REQUIRES(mutex_);
  void clear_locked() REQUIRES(mutex_);
  bool erase_locked(std::string_view plugin_id) REQUIRES(mutex_);
  void evict_locked() REQUIRES(mutex_);
  Lookup lookup_locked(std::string_view plugin_id) const REQUIRES_SHARED(mutex_);

  const CacheLimits limits_;
  mutable SharedMutex mutex_;
  Entries entries_ GUARDED_BY(mutex_);  // front: newest or promoted
  std::unordered_map<std::string_view, Entries::iterator> index_ GUARDED_BY(mutex_);  // keys view Entry::plugin_id
  ChangeMarker validated_ GUARDED_BY(mutex_);  // the marker at which every entry was known to be current
  // The audit log's position at validated_ or later: what another writer
  // changes after it is in the events that follow it.
  AuditPosition position_ GUARDED_BY(mutex_);
  std::uint64_t generation_ GUARDED_BY(mutex_) = 0;
  std::size_t bytes_ GUARDED_BY(mutex_) = 0;
  std::atomic<int> pending_writes_{0};

  mutable std::atomic<std::uint64_t> hits_{0};
  mutable std::atomic<std::uint64_t> misses_{0};
  std::atomic<std::uint64_t> invalidations_{0};
  std::atomic<std::uint64_t> evictions_{0};
  std::atomic<std::uint64_t> refreshes_{0};
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace hotstate::internal
