// The manager: the public StateManager on top of the store. It owns the
// locking; the store owns the SQL.
#include "hotstate/state_manager.hpp"

#include <mutex>

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
}  // namespace

struct StateManager::Impl {
  explicit Impl(Options opened_with) : options(std::move(opened_with)), store(options) {}

  const Options options;
  // One lock for the one connection: every call is atomic with respect to the
  // others, and there is no second lock whose order could invert (the seed's
  // save_snapshot and rollback took two locks in opposite orders).
  std::mutex mutex;
  internal::Store store;
};

StateManager::StateManager(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}

StateManager::~StateManager() = default;

void StateManager::save_snapshot(StateSnapshot snapshot) {
  std::lock_guard lock(impl_->mutex);
  impl_->store.insert(snapshot);
}

SnapshotPtr StateManager::load_snapshot(std::string_view plugin_id) const {
  std::lock_guard lock(impl_->mutex);
  return share(impl_->store.current(plugin_id));
}

SnapshotPtr StateManager::get_latest(std::string_view plugin_id) const { return load_snapshot(plugin_id); }

SnapshotPtr StateManager::rollback(std::string_view plugin_id) {
  std::lock_guard lock(impl_->mutex);
  return share(impl_->store.rollback(plugin_id));
}

void StateManager::clear(std::string_view plugin_id) {
  std::lock_guard lock(impl_->mutex);
  impl_->store.clear(plugin_id);
}

void StateManager::clear_all() {
  std::lock_guard lock(impl_->mutex);
  impl_->store.clear_all();
}

std::vector<StateSnapshot> StateManager::get_history(std::string_view plugin_id) const {
  std::lock_guard lock(impl_->mutex);
  return impl_->store.history(plugin_id);
}

std::vector<std::string> StateManager::plugin_ids() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->store.plugin_ids();
}

std::size_t StateManager::max_history() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->store.max_history();
}

const Options& StateManager::options() const noexcept { return impl_->options; }

}  // namespace hotstate
