// Internal: the store / query layer. The only code that runs SQL against the
// tables; maps rows to StateSnapshot and back. Not thread-safe: its owner
// serializes calls.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hotstate/options.hpp"
#include "hotstate/snapshot.hpp"

namespace hotstate::internal {

class Store {
 public:
  // Opens or creates the database, refuses foreign and newer files untouched,
  // applies pending migrations (one transaction each) and records
  // options.max_history. Throws Error.
  explicit Store(const Options& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Appends `snapshot` as the plugin's newest row, in one transaction; the
  // trim trigger drops rows beyond the history bound. Returns the new seq.
  std::uint64_t insert(const StateSnapshot& snapshot);

  // The plugin's newest row.
  std::optional<StateSnapshot> current(std::string_view plugin_id);

  // In one transaction: if the plugin has at least two rows, deletes the
  // newest and returns the one before it; otherwise changes nothing.
  std::optional<StateSnapshot> rollback(std::string_view plugin_id);

  // Every row but the newest, oldest first.
  std::vector<StateSnapshot> history(std::string_view plugin_id);

  void clear(std::string_view plugin_id);
  void clear_all();
  std::vector<std::string> plugin_ids();
  std::size_t max_history();

  struct Connection;  // the SQLite connection and its prepared statements

 private:
  void record_max_history(std::size_t max_history);
  std::unique_ptr<Connection> connection_;
};

}  // namespace hotstate::internal
