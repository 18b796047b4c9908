// The manager: state across versions. register_migration and restore_for
// (see state_manager.hpp for the contract).
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "manager/manager_impl.hpp"

namespace hotstate {

void StateManager::register_migration(std::string_view plugin_id, int from_major, int to_major, Migration migration) {
  impl_->migrations.add(plugin_id, from_major, to_major, std::move(migration));
}

SnapshotPtr StateManager::restore_for(std::string_view plugin_id, std::string_view target_version) {
  using Skipped = internal::Store::Skipped;
  std::vector<Skipped> skipped;
  // Every candidate that can be read, newest first; the others are passed over.
  std::vector<SnapshotPtr> readable;
  for (const std::uint64_t seq : impl_->store.candidate_seqs(plugin_id)) {
    try {
      if (SnapshotPtr candidate = internal::share(impl_->store.stored(plugin_id, seq))) {
        readable.push_back(std::move(candidate));
      }
    } catch (const Error& error) {
      if (error.code() != ErrorCode::Corrupt) throw;
      skipped.push_back({seq, "unreadable: " + std::string(error.message())});
    }
  }
  const auto record_skipped = [&] {
    if (!skipped.empty()) impl_->write(&internal::Store::record_skipped, plugin_id, std::move(skipped));
  };

  // Newest first: one the target runs as it is, or one a chain of
  // migrations takes to the target's major.
  const std::optional<int> target_major = internal::major_number(target_version);
  for (const SnapshotPtr& candidate : readable) {
    if (candidate->is_compatible(target_version)) {
      record_skipped();
      return candidate;
    }
    const std::optional<int> from_major = internal::major_number(candidate->plugin_version);
    if (!target_major || !from_major) continue;
    const auto chain = impl_->migrations.chain(plugin_id, *from_major, *target_major);
    if (!chain) continue;
    StateSnapshot migrated = *candidate;
    try {
      for (const Migration& step : *chain) migrated = step(std::move(migrated));
      migrated.plugin_id = std::string(plugin_id);
      migrated.plugin_version = std::string(target_version);
      impl_->store.check(migrated);  // refused input counts as a failed migration
    } catch (const std::exception& error) {
      skipped.push_back({candidate->seq, std::string("migration failed: ") + error.what()});
      continue;
    } catch (...) {
      skipped.push_back({candidate->seq, "migration failed: it threw something that is not a std::exception"});
      continue;
    }
    internal::Store::MigratedFrom from{candidate->seq, candidate->plugin_version, chain->size()};
    return impl_->write(&internal::Store::insert_migrated, std::move(migrated), std::move(from), std::move(skipped));
  }
  record_skipped();
  return nullptr;
}

}  // namespace hotstate
