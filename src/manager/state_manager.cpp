// The manager: the public StateManager. Reads go to the cache, then to the
// store; writes go to the store, then (after the commit) to the cache.
#include "hotstate/state_manager.hpp"

#include "cache/snapshot_cache.hpp"
#include "hotstate/version.hpp"
#include "store/migrations.hpp"
#include "store/store.hpp"

namespace hotstate {

int schema_version() noexcept { return static_cast<int>(internal::embedded_migrations().size()); }

namespace {

SnapshotPtr share(std::optional<StateSnapshot> snapshot) {
  if (!snapshot) return nullptr;
  return std::make_shared<const StateSnapshot>(std::move(*snapshot));
}

SnapshotPtr share_saved(StateSnapshot&& snapshot, std::uint64_t seq) {
  snapshot.seq = seq;
  return std::make_shared<const StateSnapshot>(std::move(snapshot));
}

internal::CacheLimits cache_limits(const Options& options, const internal::Store& store) {
  // Without a change marker nothing would tell the cache about other writers.
  if (!store.marker().stable) return {};
  return {options.cache_max_entries, options.cache_max_bytes};
}

}  // namespace

struct StateManager::Impl {
  explicit Impl(Options opened_with)
      : options(std::move(opened_with)), store(options), cache(cache_limits(options, store)) {}

  const Options options;
  // Each keeps its own locks; no call holds a lock of one while waiting for
  // the other's, so no lock order can invert (the seed's save_snapshot and
  // rollback took two locks in opposite orders).
  internal::Store store;
  internal::SnapshotCache cache;
};

StateManager::StateManager(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}

StateManager::~StateManager() = default;

void StateManager::save_snapshot(StateSnapshot snapshot) {
  internal::SnapshotCache::Write write(impl_->cache);
  const auto outcome = impl_->store.insert(snapshot);
  const SnapshotPtr saved = share_saved(std::move(snapshot), outcome.value);
  write.complete(outcome.before, outcome.after, {{saved->plugin_id, saved}});
}

std::uint64_t StateManager::save_snapshot_if(StateSnapshot snapshot, std::uint64_t expected_seq) {
  internal::SnapshotCache::Write write(impl_->cache);
  const auto outcome = impl_->store.insert_if(snapshot, expected_seq);
  const SnapshotPtr saved = share_saved(std::move(snapshot), outcome.value);
  write.complete(outcome.before, outcome.after, {{saved->plugin_id, saved}});
  return outcome.value;
}

std::vector<std::uint64_t> StateManager::save_snapshots(std::vector<StateSnapshot> snapshots) {
  internal::SnapshotCache::Write write(impl_->cache);
  const auto outcome = impl_->store.insert_all(snapshots);
  std::vector<internal::CacheUpdate> updates;
  updates.reserve(snapshots.size());
  for (std::size_t i = 0; i < snapshots.size(); ++i) {
    const SnapshotPtr saved = share_saved(std::move(snapshots[i]), outcome.value[i]);
    updates.push_back({saved->plugin_id, saved});  // a later save of the same plugin wins
  }
  write.complete(outcome.before, outcome.after, updates);
  return outcome.value;
}

SnapshotPtr StateManager::load_snapshot(std::string_view plugin_id) const {
  const internal::ChangeMarker marker = impl_->store.marker();
  auto lookup = impl_->cache.find(plugin_id, marker);
  if (lookup.hit) return std::move(lookup.snapshot);
  SnapshotPtr snapshot = share(impl_->store.current(plugin_id));
  impl_->cache.fill(lookup.ticket, plugin_id, snapshot);
  return snapshot;
}

SnapshotPtr StateManager::get_latest(std::string_view plugin_id) const { return load_snapshot(plugin_id); }

SnapshotPtr StateManager::rollback(std::string_view plugin_id) {
  internal::SnapshotCache::Write write(impl_->cache);
  auto outcome = impl_->store.rollback(plugin_id);
  SnapshotPtr restored = share(std::move(outcome.value));
  write.complete(outcome.before, outcome.after, {{plugin_id, restored}});
  return restored;
}

void StateManager::clear(std::string_view plugin_id) {
  internal::SnapshotCache::Write write(impl_->cache);
  const auto outcome = impl_->store.clear(plugin_id);
  write.complete(outcome.before, outcome.after, {{plugin_id, nullptr}});
}

void StateManager::clear_all() {
  internal::SnapshotCache::Write write(impl_->cache);
  const auto outcome = impl_->store.clear_all();
  write.complete(outcome.before, outcome.after, {}, /*clear_all=*/true);
}

std::vector<StateSnapshot> StateManager::get_history(std::string_view plugin_id) const {
  return impl_->store.history(plugin_id);
}

std::vector<std::string> StateManager::plugin_ids() const { return impl_->store.plugin_ids(); }

std::size_t StateManager::max_history() const { return impl_->store.max_history(); }

const Options& StateManager::options() const noexcept { return impl_->options; }

void StateManager::backup(const std::string& path) const { impl_->store.backup_to(path); }

StateManager::VerifyReport StateManager::verify() const {
  VerifyReport report;
  report.problems = impl_->store.verify(report.schema_version);
  report.ok = report.problems.empty();
  return report;
}

StateManager::CacheStats StateManager::cache_stats() const {
  const internal::CacheCounters counters = impl_->cache.counters();
  return CacheStats{counters.hits,      counters.misses,  counters.invalidations,
                    counters.evictions, counters.entries, counters.bytes};
}

}  // namespace hotstate
