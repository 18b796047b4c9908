// What the benchmarks of tools/bench share: the plugin state they save, and
// how they check the SQLite C API's result codes of their raw baselines.
#pragma once

#include <sqlite3.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "hotstate/snapshot.hpp"

namespace hotstate_bench {

// About 300 bytes of JSON data, as a plugin would keep; `i` varies it.
inline hotstate::StateSnapshot make_snapshot(const std::string& id, long i) {
  return hotstate::StateSnapshot(id, "1.4.2")
      .with_data("counter", i)
      .with_data("name", std::string("session-") + std::to_string(i % 97))
      .with_data("ratios", std::vector<double>{0.25, 1.5, 3.75, 12.125})
      .with_data("limits", std::map<std::string, int>{{"connections", 64}, {"queue", 1024}, {"retries", 5}})
      .with_data("flags", std::vector<bool>{true, false, true})
      .with_data("note", std::string("state preserved across a hot reload of the plugin; nothing to see here"))
      .with_data("owner", std::string("runtime-team"))
      .with_data("window", std::vector<int>{120, 240, 480, 960, 1920, 3840})
      .with_metadata("reason", "hot-reload")
      .with_metadata("host", "bench");
}

// Throws std::runtime_error naming `what` unless `rc` is a success code.
inline void check_rc(sqlite3* db, int rc, const std::string& what) {
  if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {
    throw std::runtime_error(what + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
  }
}

}  // namespace hotstate_bench
