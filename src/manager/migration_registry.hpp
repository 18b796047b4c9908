// Internal: the state migrations registered with one StateManager, and the
// chains of them that take a major version to another.
//
// Thread safety: every member function may be called from any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "hotstate/migration.hpp"
#include "model/mutex.hpp"

namespace hotstate::internal {

class MigrationRegistry {
 public:
  // Registers (or replaces) the migration of `plugin_id` ("" for every
  // plugin) from one major version to another. Throws Error(InvalidArgument)
  // for equal majors or an empty function.
  void add(std::string_view plugin_id, int from_major, int to_major, Migration migration) EXCLUDES(mutex_);

  // The shortest chain of migrations that takes the plugin's state from
  // `from` to `to` (the plugin's own migrations win over those for every
  // plugin between the same majors), in order; nullopt when there is none.
  // Copies: the caller runs them without the registry's lock.
  std::optional<std::vector<Migration>> chain(std::string_view plugin_id, int from, int to) const EXCLUDES(mutex_);

 private:
  mutable Mutex mutex_;
  // (plugin id, from major, to major) -> migration.
  std::map<std::tuple<std::string, int, int>, Migration, std::less<>> migrations_ GUARDED_BY(mutex_);
};

// The major version of `version` as a number: the text before the first
// '.', all digits; nullopt otherwise ("2.1.0" -> 2, "v2" -> nullopt).
std::optional<int> major_number(std::string_view version) noexcept;

}  // namespace hotstate::internal
