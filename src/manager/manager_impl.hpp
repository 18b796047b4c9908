// Internal: what a StateManager holds (its Impl), shared by the manager's
// files: state_manager.cpp and restore_for.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "cache/snapshot_cache.hpp"
#include "hotstate/changes.hpp"
#include "hotstate/state_manager.hpp"
#include "manager/migration_registry.hpp"
#include "model/mutex.hpp"
#include "store/store.hpp"

namespace hotstate {

namespace internal {

inline SnapshotPtr share(std::optional<StateSnapshot> snapshot) {
  if (!snapshot) return nullptr;
  return std::make_shared<const StateSnapshot>(std::move(*snapshot));
}

inline CacheLimits cache_limits(const Options& options, const Store& store) {
  // Without a change marker nothing would tell the cache about other writers.
  if (!store.marker().stable) return {};
  return {options.cache_max_entries, options.cache_max_bytes};
}

}  // namespace internal

struct StateManager::Impl {
  explicit Impl(Options opened_with)
      : options(std::move(opened_with)), store(options), cache(internal::cache_limits(options, store)) {}

  const Options options;
  // Each keeps its own locks; no call holds a lock of one while waiting for
  // the other's, so no lock order can invert (the seed's save_snapshot and
  // rollback took two locks in opposite orders).
  internal::Store store;
  internal::SnapshotCache cache;
  internal::MigrationRegistry migrations;

  // Every write: the store's write method, then one update of the cache
  // with what the store says it committed. A failure the store knows
  // committed nothing keeps the cache; one whose outcome is unknown
  // (CommitUncertain, or anything that is not a hotstate::Error) drops it.
  //
  // Then, when the commit chained audit events, the new head goes to
  // Options::on_audit_checkpoint (hand_checkpoint), outside the cache's locks.
  template <class Method, class... Args>
  auto write(Method method, Args&&... args) {
    std::optional<AuditCheckpoint> head;
    auto value = [&] {
      internal::SnapshotCache::Write cache_write(cache);
      try {
        auto outcome = (store.*method)(std::forward<Args>(args)...);
        cache_write.complete(outcome.commit);
        head = std::move(outcome.commit.audit_head);
        return std::move(outcome.value);
      } catch (const internal::CommitUncertain&) {
        throw;
      } catch (const Error&) {
        cache_write.nothing_committed();
        throw;
      }
    }();
    if (head) hand_checkpoint(*head);
    return value;
  }

  // Options::on_audit_checkpoint: one call at a time, in increasing order,
  // once audit_checkpoint_every events were chained since the last call. A
  // write the callback itself makes hands no checkpoint (the next one will).
  void hand_checkpoint(const AuditCheckpoint& head) EXCLUDES(checkpoint_mutex) {
    if (!options.on_audit_checkpoint || in_checkpoint_callback) return;
    internal::MutexLock lock(checkpoint_mutex);
    if (head.event_id <= last_checkpoint_id) return;
    const std::uint64_t every = std::max<std::uint64_t>(1, options.audit_checkpoint_every);
    if (last_checkpoint_id != 0 && head.event_count < last_checkpoint_count + every) return;
    last_checkpoint_id = head.event_id;
    last_checkpoint_count = head.event_count;
    in_checkpoint_callback = true;
    try {
      options.on_audit_checkpoint(head);
    } catch (...) {  // the contract says it must not throw; what it throws is dropped
    }
    in_checkpoint_callback = false;
  }

  // The subscriptions (changes.hpp): stopped when the manager goes, since
  // their threads read through its store.
  void track(const std::shared_ptr<Subscription::State>& subscription) EXCLUDES(subscriptions_mutex) {
    internal::MutexLock lock(subscriptions_mutex);
    std::erase_if(subscriptions, [](const std::weak_ptr<Subscription::State>& held) { return held.expired(); });
    subscriptions.push_back(subscription);
  }
  // The replications (replication.hpp), stopped likewise.
  void track(const std::shared_ptr<Replication::State>& replication) EXCLUDES(subscriptions_mutex) {
    internal::MutexLock lock(subscriptions_mutex);
    std::erase_if(replications, [](const std::weak_ptr<Replication::State>& held) { return held.expired(); });
    replications.push_back(replication);
  }
  ~Impl();

  internal::Mutex subscriptions_mutex;
  std::vector<std::weak_ptr<Subscription::State>> subscriptions GUARDED_BY(subscriptions_mutex);
  std::vector<std::weak_ptr<Replication::State>> replications GUARDED_BY(subscriptions_mutex);

  internal::Mutex checkpoint_mutex;
  std::uint64_t last_checkpoint_id GUARDED_BY(checkpoint_mutex) = 0;
  std::uint64_t last_checkpoint_count GUARDED_BY(checkpoint_mutex) = 0;
  static inline thread_local bool in_checkpoint_callback = false;
};

// Stops a replication's thread (replication.cpp).
void stop_replication(Replication::State& state);

}  // namespace hotstate
