#include "manager/migration_registry.hpp"

#include <charconv>
#include <deque>
#include <set>

#include "hotstate/error.hpp"

namespace hotstate::internal {

void MigrationRegistry::add(std::string_view plugin_id, int from_major, int to_major, Migration migration) {
  if (from_major == to_major) {
    throw Error(ErrorCode::InvalidArgument, "register_migration: from_major and to_major are both " +
                                                std::to_string(from_major) + "; a migration changes the major version");
  }
  if (!migration) throw Error(ErrorCode::InvalidArgument, "register_migration: the migration is empty");
  MutexLock lock(mutex_);
  migrations_[{std::string(plugin_id), from_major, to_major}] = std::move(migration);
}

std::optional<std::vector<Migration>> MigrationRegistry::chain(std::string_view plugin_id, int from, int to) const {
  MutexLock lock(mutex_);
  // The edges out of each major: the plugin's own, else those for every plugin.
  std::map<int, std::map<int, const Migration*>> edges;
  for (const auto& [key, migration] : migrations_) {
    const auto& [owner, source, target] = key;
    if (owner.empty()) edges[source].emplace(target, &migration);
  }
  for (const auto& [key, migration] : migrations_) {
    const auto& [owner, source, target] = key;
    if (!owner.empty() && owner == plugin_id) edges[source][target] = &migration;
  }
  // Breadth first: the fewest steps.
  std::map<int, std::pair<int, const Migration*>> came_from;  // major -> (previous major, step)
  std::deque<int> frontier{from};
  std::set<int> seen{from};
  while (!frontier.empty() && !seen.count(to)) {
    const int major = frontier.front();
    frontier.pop_front();
    const auto out = edges.find(major);
    if (out == edges.end()) continue;
    for (const auto& [target, migration] : out->second) {
      if (!seen.insert(target).second) continue;
      came_from[target] = {major, migration};
      frontier.push_back(target);
    }
  }
  if (!seen.count(to)) return std::nullopt;
  std::vector<Migration> steps;
  for (int major = to; major != from;) {
    const auto& [previous, migration] = came_from.at(major);
    steps.push_back(*migration);
    major = previous;
  }
  return std::vector<Migration>(steps.rbegin(), steps.rend());
}

std::optional<int> major_number(std::string_view version) noexcept {
  const std::string_view major = version.substr(0, version.find('.'));
  int number = 0;
  const auto [end, error] = std::from_chars(major.data(), major.data() + major.size(), number);
  if (major.empty() || error != std::errc() || end != major.data() + major.size()) return std::nullopt;
  return number;
}

}  // namespace hotstate::internal
