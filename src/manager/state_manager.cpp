// The manager: the public StateManager. Reads go to the cache, then to the
// store; writes go to the store, then (after the commit) to the cache.
#include "hotstate/state_manager.hpp"

#include "cache/snapshot_cache.hpp"
#include "hotstate/version.hpp"
#include "store/migrations.hpp"
#include "store/store.hpp"

namespace hotstate {

int schema_version() noexcept { return internal::latest_schema_version(); }

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

// Errors that say a write committed nothing: refused input, or a refusal
// inside the write's own transaction, which the store rolled back. Any other
// failure (Io, DiskFull, Busy, …) may have struck at COMMIT, with an outcome
// nobody knows, so the cache is dropped then.
bool committed_nothing(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::InvalidArgument:
    case ErrorCode::InvalidUtf8:
    case ErrorCode::InvalidJson:
    case ErrorCode::InvalidSnapshot:
    case ErrorCode::TypeMismatch:
    case ErrorCode::NonFiniteNumber:
    case ErrorCode::TooLarge:
    case ErrorCode::Conflict:
    case ErrorCode::NotFound:         // found missing inside the write's transaction, before any change
    case ErrorCode::UntrustedSchema:  // refused before any of the write ran
      return true;
    default:
      return false;
  }
}

// Runs `body(write)` with a cache Write begun; keeps the cache when the body
// throws an error that committed nothing.
template <class Body>
auto write_through(internal::SnapshotCache& cache, Body&& body) {
  internal::SnapshotCache::Write write(cache);
  try {
    return body(write);
  } catch (const Error& error) {
    if (committed_nothing(error.code())) write.nothing_committed();
    throw;
  }
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

std::uint64_t StateManager::save_snapshot(StateSnapshot snapshot) {
  return write_through(impl_->cache, [&](internal::SnapshotCache::Write& write) {
    const auto outcome = impl_->store.insert(snapshot);
    const SnapshotPtr saved = share_saved(std::move(snapshot), outcome.value);
    write.complete(outcome.before, outcome.after, {{saved->plugin_id, saved}});
    return outcome.value;
  });
}

std::uint64_t StateManager::save_snapshot_if(StateSnapshot snapshot, std::uint64_t expected_seq) {
  return write_through(impl_->cache, [&](internal::SnapshotCache::Write& write) {
    const auto outcome = impl_->store.insert_if(snapshot, expected_seq);
    const SnapshotPtr saved = share_saved(std::move(snapshot), outcome.value);
    write.complete(outcome.before, outcome.after, {{saved->plugin_id, saved}});
    return outcome.value;
  });
}

std::vector<std::uint64_t> StateManager::save_snapshots(std::vector<StateSnapshot> snapshots) {
  return write_through(impl_->cache, [&](internal::SnapshotCache::Write& write) {
    const auto outcome = impl_->store.insert_all(snapshots);
    std::vector<internal::CacheUpdate> updates;
    updates.reserve(snapshots.size());
    for (std::size_t i = 0; i < snapshots.size(); ++i) {
      const SnapshotPtr saved = share_saved(std::move(snapshots[i]), outcome.value[i]);
      updates.push_back({saved->plugin_id, saved});  // a later save of the same plugin wins
    }
    write.complete(outcome.before, outcome.after, updates);
    return outcome.value;
  });
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
  return write_through(impl_->cache, [&](internal::SnapshotCache::Write& write) {
    auto outcome = impl_->store.rollback(plugin_id);
    SnapshotPtr restored = share(std::move(outcome.value));
    write.complete(outcome.before, outcome.after, {{plugin_id, restored}});
    return restored;
  });
}

void StateManager::clear(std::string_view plugin_id) {
  return write_through(impl_->cache, [&](internal::SnapshotCache::Write& write) {
    const auto outcome = impl_->store.clear(plugin_id);
    write.complete(outcome.before, outcome.after, {{plugin_id, nullptr}});
  });
}

void StateManager::clear_all() {
  return write_through(impl_->cache, [&](internal::SnapshotCache::Write& write) {
    const auto outcome = impl_->store.clear_all();
    write.complete(outcome.before, outcome.after, {}, /*clear_all=*/true);
  });
}

std::vector<StateSnapshot> StateManager::get_history(std::string_view plugin_id) const {
  return impl_->store.history(plugin_id);
}

std::size_t StateManager::history_size(std::string_view plugin_id) const { return impl_->store.history_size(plugin_id); }

void StateManager::check_snapshot(const StateSnapshot& snapshot) const { impl_->store.check(snapshot); }

std::vector<std::string> StateManager::plugin_ids() const { return impl_->store.plugin_ids(); }

std::size_t StateManager::max_history() const { return impl_->store.max_history(); }

std::size_t StateManager::set_max_history(std::size_t max_history) {
  return write_through(impl_->cache, [&](internal::SnapshotCache::Write& write) {
    const auto outcome = impl_->store.set_max_history(max_history);
    // Trimming removes history rows only, never a current snapshot.
    write.complete(outcome.before, outcome.after, {});
    return outcome.value;
  });
}

std::vector<StateManager::PluginSummary> StateManager::plugin_summaries() const {
  return impl_->store.plugin_summaries();
}

const Options& StateManager::options() const noexcept { return impl_->options; }

void StateManager::backup(const std::string& path) const { impl_->store.backup_to(path); }

StateManager::VerifyReport StateManager::verify() const {
  VerifyReport report;
  report.problems = impl_->store.verify(report.schema_version);
  report.ok = report.problems.empty();
  return report;
}

// Audit, journal and life-cycle writes change no snapshot, but they are
// commits: completing the cache's Write with no updates keeps the cache valid
// across our own commit (any other writer's commit still drops it).

void StateManager::record_event(const ReloadEvent& event) {
  const std::string detail = Json::from(event.detail).text();
  return write_through(impl_->cache, [&](internal::SnapshotCache::Write& write) {
    const auto outcome = impl_->store.append_event(event.plugin_id, to_string(event.kind), detail);
    write.complete(outcome.before, outcome.after, {});
  });
}

std::vector<AuditEvent> StateManager::audit_events(const AuditQuery& query) const {
  return impl_->store.audit_events(query);
}

std::uint64_t StateManager::prune_audit(const AuditPrune& prune) {
  return write_through(impl_->cache, [&](internal::SnapshotCache::Write& write) {
    const auto outcome = impl_->store.prune_audit(prune);
    write.complete(outcome.before, outcome.after, {});
    return outcome.value;
  });
}

ReloadTicket StateManager::begin_reload(StateSnapshot pre_reload, std::string_view to_version) {
  return write_through(impl_->cache, [&](internal::SnapshotCache::Write& write) {
    const auto outcome = impl_->store.begin_reload(pre_reload, to_version);
    const SnapshotPtr saved = share_saved(std::move(pre_reload), outcome.value.snapshot_seq);
    write.complete(outcome.before, outcome.after, {{saved->plugin_id, saved}});
    return outcome.value;
  });
}

void StateManager::finish_reload(std::uint64_t reload_id, const ReloadResult& result) {
  return write_through(impl_->cache, [&](internal::SnapshotCache::Write& write) {
    const auto outcome = impl_->store.finish_reload(reload_id, result);
    write.complete(outcome.before, outcome.after, {});
  });
}

std::vector<UnfinishedReload> StateManager::unfinished_reloads() const { return impl_->store.unfinished_reloads(); }

void StateManager::resolve_reload(std::uint64_t reload_id, std::string_view note) {
  return write_through(impl_->cache, [&](internal::SnapshotCache::Write& write) {
    const auto outcome = impl_->store.resolve_reload(reload_id, note);
    write.complete(outcome.before, outcome.after, {});
  });
}

void StateManager::set_plugin_state(std::string_view plugin_id, const PluginState& state) {
  return write_through(impl_->cache, [&](internal::SnapshotCache::Write& write) {
    const auto outcome = impl_->store.set_plugin_state(plugin_id, state);
    write.complete(outcome.before, outcome.after, {});
  });
}

PluginState StateManager::plugin_state(std::string_view plugin_id) const { return impl_->store.plugin_state(plugin_id); }

StateManager::CacheStats StateManager::cache_stats() const {
  const internal::CacheCounters counters = impl_->cache.counters();
  return CacheStats{counters.hits,      counters.misses,  counters.invalidations,
                    counters.evictions, counters.entries, counters.bytes};
}

}  // namespace hotstate
