// The manager: the public StateManager. Reads go to the cache, then to the
// store; writes go to the store, then (after the commit) to the cache.
#include "hotstate/state_manager.hpp"

#include "hotstate/version.hpp"
#include "manager/manager_impl.hpp"
#include "store/migrations.hpp"

namespace hotstate {

int schema_version() noexcept { return internal::latest_schema_version(); }

StateManager::StateManager(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}

StateManager::~StateManager() = default;

std::uint64_t StateManager::save_snapshot(StateSnapshot snapshot) {
  return impl_->write(&internal::Store::insert, std::move(snapshot));
}

std::uint64_t StateManager::save_snapshot_if(StateSnapshot snapshot, std::uint64_t expected_seq) {
  return impl_->write(&internal::Store::insert_if, std::move(snapshot), expected_seq);
}

std::vector<std::uint64_t> StateManager::save_snapshots(std::vector<StateSnapshot> snapshots) {
  return impl_->write(&internal::Store::insert_all, std::move(snapshots));
}

SnapshotPtr StateManager::load_snapshot(std::string_view plugin_id) const {
  const internal::ChangeMarker marker = impl_->store.marker();
  auto lookup = impl_->cache.find(plugin_id, marker);
  if (lookup.refresh) {
    // Another connection committed: drop only the plugins it changed.
    const internal::ChangesSince changes = impl_->store.changes_since(lookup.refresh->position);
    lookup = impl_->cache.refresh(*lookup.refresh, marker, changes, plugin_id);
  }
  if (lookup.hit) return std::move(lookup.snapshot);
  SnapshotPtr snapshot = internal::share(impl_->store.current(plugin_id));
  impl_->cache.fill(lookup.ticket, plugin_id, snapshot);
  return snapshot;
}

SnapshotPtr StateManager::get_latest(std::string_view plugin_id) const { return load_snapshot(plugin_id); }

SnapshotPtr StateManager::rollback(std::string_view plugin_id) { return impl_->write(&internal::Store::rollback, plugin_id); }

void StateManager::clear(std::string_view plugin_id) { impl_->write(&internal::Store::clear, plugin_id); }

SnapshotPtr StateManager::snapshot(std::string_view plugin_id, std::uint64_t seq) const {
  return internal::share(impl_->store.stored(plugin_id, seq));
}

SnapshotPtr StateManager::snapshot_at(std::string_view plugin_id, std::int64_t time_us) const {
  const std::optional<std::uint64_t> seq = impl_->store.current_seq_at(plugin_id, time_us);
  return seq ? internal::share(impl_->store.stored(plugin_id, *seq)) : nullptr;
}

SnapshotPtr StateManager::restore(std::string_view plugin_id, std::uint64_t seq) {
  return impl_->write(&internal::Store::restore, plugin_id, seq);
}

void StateManager::pin(std::string_view plugin_id, std::uint64_t seq, std::string_view label) {
  impl_->write(&internal::Store::pin, plugin_id, seq, label);
}

bool StateManager::unpin(std::string_view plugin_id, std::string_view label) {
  return impl_->write(&internal::Store::unpin, plugin_id, label);
}

SnapshotPtr StateManager::pinned(std::string_view plugin_id, std::string_view label) const {
  return internal::share(impl_->store.pinned(plugin_id, label));
}

std::vector<PinInfo> StateManager::pins(std::string_view plugin_id) const { return impl_->store.pins(plugin_id); }

void StateManager::clear_all() { impl_->write(&internal::Store::clear_all); }

std::vector<StateSnapshot> StateManager::get_history(std::string_view plugin_id) const {
  return impl_->store.history(plugin_id);
}

std::size_t StateManager::history_size(std::string_view plugin_id) const { return impl_->store.history_size(plugin_id); }

void StateManager::check_snapshot(const StateSnapshot& snapshot) const { impl_->store.check(snapshot); }

std::vector<std::string> StateManager::plugin_ids() const { return impl_->store.plugin_ids(); }

std::size_t StateManager::max_history() const { return impl_->store.max_history(); }

std::size_t StateManager::set_max_history(std::size_t max_history) {
  return impl_->write(&internal::Store::set_max_history, max_history);
}

std::vector<StateManager::PluginSummary> StateManager::plugin_summaries() const {
  return impl_->store.plugin_summaries();
}

const Options& StateManager::options() const noexcept { return impl_->options; }

void StateManager::backup(const std::string& path) const { impl_->store.backup_to(path, {}); }

void StateManager::backup(const std::string& path, const ProgressCallback& progress) const {
  impl_->store.backup_to(path, progress);
}

StateManager::VerifyReport StateManager::verify() const { return verify_report(std::nullopt, {}); }

StateManager::VerifyReport StateManager::verify(const AuditCheckpoint& extends) const {
  return verify_report(extends, {});
}

StateManager::VerifyReport StateManager::verify(const VerifyOptions& options) const {
  return verify_report(options.extends, options.progress);
}

StateManager::VerifyReport StateManager::verify_report(const std::optional<AuditCheckpoint>& extends,
                                                       const ProgressCallback& progress) const {
  VerifyReport report;
  report.problems =
      impl_->store.verify(report.schema_version, extends, report.audit_head, report.unchained_events, progress);
  report.ok = report.problems.empty();
  return report;
}

AuditCheckpoint StateManager::audit_head() const { return impl_->store.audit_head(); }

void StateManager::record_event(const ReloadEvent& event) {
  const std::string_view kind = to_string(event.kind);
  if (kind.empty()) {
    throw Error(ErrorCode::InvalidArgument, "record_event: " + std::to_string(static_cast<int>(event.kind)) +
                                                " is not a ReloadEvent::Kind; nothing was written");
  }
  impl_->write(&internal::Store::append_event, event.plugin_id, kind, Json::from(event.detail).text());
}

std::vector<AuditEvent> StateManager::audit_events(const AuditQuery& query) const {
  return impl_->store.audit_events(query);
}

std::uint64_t StateManager::prune_audit(const AuditPrune& prune) {
  return impl_->write(&internal::Store::prune_audit, prune, ProgressCallback{});
}

std::uint64_t StateManager::prune_audit(const AuditPrune& prune, const ProgressCallback& progress) {
  return impl_->write(&internal::Store::prune_audit, prune, progress);
}

ReloadTicket StateManager::begin_reload(StateSnapshot pre_reload, std::string_view to_version) {
  return impl_->write(&internal::Store::begin_reload, std::move(pre_reload), to_version);
}

void StateManager::finish_reload(std::uint64_t reload_id, const ReloadResult& result) {
  impl_->write(&internal::Store::finish_reload, reload_id, result);
}

std::vector<UnfinishedReload> StateManager::unfinished_reloads() const { return impl_->store.unfinished_reloads(); }

void StateManager::resolve_reload(std::uint64_t reload_id, std::string_view note) {
  impl_->write(&internal::Store::resolve_reload, reload_id, note);
}

void StateManager::set_plugin_state(std::string_view plugin_id, const PluginState& state) {
  impl_->write(&internal::Store::set_plugin_state, plugin_id, state);
}

PluginState StateManager::plugin_state(std::string_view plugin_id) const { return impl_->store.plugin_state(plugin_id); }

StateManager::CacheStats StateManager::cache_stats() const {
  const internal::CacheCounters counters = impl_->cache.counters();
  return CacheStats{counters.hits,      counters.misses,  counters.invalidations, counters.evictions,
                    counters.entries,   counters.bytes,   counters.refreshes,     counters.dropped};
}

}  // namespace hotstate
