// Test helpers: temporary directories and a raw sqlite3 connection, standing
// in for "another client" such as the sqlite3 shell.
#pragma once

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "hotstate/hotstate.hpp"

namespace hotstate_test {

// A fresh directory, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("hotstate-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// A plain sqlite3 connection, as the sqlite3 shell would have.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(db_));
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  // Runs SQL; returns the SQLite result code (SQLITE_OK on success).
  int try_exec(const std::string& sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
    last_error_ = message ? message : "";
    sqlite3_free(message);
    return rc;
  }
  void exec(const std::string& sql) {
    if (try_exec(sql) != SQLITE_OK) throw std::runtime_error(sql + ": " + last_error_);
  }
  // The first column of the first row, as text ("" when there is no row).
  std::string query(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    }
    std::string result;
    const int rc = sqlite3_step(statement);
    if (rc == SQLITE_ROW && sqlite3_column_text(statement, 0) != nullptr) {
      result.assign(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0)),
                    static_cast<std::size_t>(sqlite3_column_bytes(statement, 0)));
    }
    sqlite3_finalize(statement);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    return result;
  }
  long long query_int(const std::string& sql) { return std::stoll(query(sql)); }
  const std::string& last_error() const { return last_error_; }

 private:
  sqlite3* db_ = nullptr;
  std::string last_error_;
};

inline hotstate::Options file_options(const std::string& path, std::size_t max_history = 10) {
  hotstate::Options options;
  options.path = path;
  options.max_history = max_history;
  return options;
}

inline hotstate::Options memory_options(std::size_t max_history = 10) { return file_options(":memory:", max_history); }

// The code of the hotstate::Error that `body` throws; fails the test if it
// throws anything else or nothing.
template <class Body>
hotstate::ErrorCode error_code_of(Body&& body) {
  try {
    body();
  } catch (const hotstate::Error& error) {
    return error.code();
  }
  throw std::logic_error("expected a hotstate::Error, nothing was thrown");
}

// Runs `body` in a forked child process (a second process with its own
// connections, as another host would be). True when it ran without throwing.
template <class Body>
bool run_in_child_process(Body&& body) {
  const pid_t child = fork();
  if (child < 0) return false;
  if (child == 0) {
    int status = 0;
    try {
      body();
    } catch (...) {
      status = 1;
    }
    _exit(status);
  }
  int status = -1;
  if (waitpid(child, &status, 0) != child) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Catch2 matcher: REQUIRE_THROWS_MATCHES(expr, hotstate::Error, HasCode(ErrorCode::Busy)).
class HasCode : public Catch::MatcherBase<hotstate::Error> {
 public:
  explicit HasCode(hotstate::ErrorCode code) : code_(code) {}
  bool match(const hotstate::Error& error) const override { return error.code() == code_; }
  std::string describe() const override { return std::string("has code ") + hotstate::to_string(code_); }

 private:
  hotstate::ErrorCode code_;
};

// A snapshot of `plugin_id` whose data says which save it was.
inline hotstate::StateSnapshot versioned(const std::string& plugin_id, int version) {
  return hotstate::StateSnapshot(plugin_id, "1.0.0").with_data("version", version);
}

inline std::vector<int> versions_of(const std::vector<hotstate::StateSnapshot>& snapshots) {
  std::vector<int> versions;
  for (const auto& snapshot : snapshots) versions.push_back(snapshot.get<int>("version").value_or(-1));
  return versions;
}

// The version of the plugin's current snapshot, -1 when it has none.
inline int current_version(const hotstate::StateManager& manager, const std::string& plugin_id) {
  auto current = manager.load_snapshot(plugin_id);
  return current ? current->get<int>("version").value_or(-1) : -1;
}

}  // namespace hotstate_test
