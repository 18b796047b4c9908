// Internal: what a StateManager holds (its Impl), shared by the manager's
// files: state_manager.cpp and restore_for.cpp.
#pragma once

#include <memory>
#include <optional>
#include <utility>

#include "cache/snapshot_cache.hpp"
#include "hotstate/state_manager.hpp"
#include "manager/migration_registry.hpp"
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
  template <class Method, class... Args>
  auto write(Method method, Args&&... args) {
    internal::SnapshotCache::Write cache_write(cache);
    try {
      auto outcome = (store.*method)(std::forward<Args>(args)...);
      cache_write.complete(outcome.commit);
      return std::move(outcome.value);
    } catch (const internal::CommitUncertain&) {
      throw;
    } catch (const Error&) {
      cache_write.nothing_committed();
      throw;
    }
  }
};

}  // namespace hotstate
