// StateManager::verify as the file grows: its time at N and at 10·N plugins,
// in the same run, and the ratio against the target (linear: 10× the rows
// and events may take at most 15× the time).
//
//   hotstate_bench_verify [--dir DIR] [--sizes N1,N2,...] [--rounds R] [--one-row] [--quick]
//
// Two files per size, both filled through the public API (save_snapshots in
// batches): "one row each", N plugins with one snapshot each and its
// SnapshotSaved event; and "full log", the same N plugins after a clear_all,
// three saves each with max_history 1 (so one trim each), a rollback of
// every 100th plugin and a clear of every 100th other one: rows and events
// of every kind verify reads. The row and event counts are read with the
// SQLite C API. --one-row measures the first file alone.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "hotstate/hotstate.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

struct Config {
  std::filesystem::path dir;
  std::vector<int> sizes{10000, 100000};
  int rounds = 3;
  bool one_row_only = false;
};

void fresh(const std::filesystem::path& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(path.string() + suffix);
}

hotstate::StateSnapshot snapshot_of(int plugin, int step) {
  return hotstate::StateSnapshot("plugin-" + std::to_string(plugin), "1.0." + std::to_string(step))
      .with_data("counter", step)
      .with_data("name", std::string("session-") + std::to_string(plugin % 97))
      .with_data("window", std::vector<int>{120, 240, 480, 960})
      .with_metadata("reason", "hot-reload");
}

// Saves step `step` of plugins 0..n-1, in batches of 10,000.
void save_all(hotstate::StateManager& manager, int n, int step) {
  constexpr int batch_size = 10000;
  for (int first = 0; first < n; first += batch_size) {
    std::vector<hotstate::StateSnapshot> batch;
    for (int i = first; i < std::min(n, first + batch_size); ++i) batch.push_back(snapshot_of(i, step));
    manager.save_snapshots(std::move(batch));
  }
}

std::int64_t count_rows(const std::filesystem::path& path, const char* sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + path.string());
  }
  sqlite3_stmt* statement = nullptr;
  std::int64_t count = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) == SQLITE_OK && sqlite3_step(statement) == SQLITE_ROW) {
    count = sqlite3_column_int64(statement, 0);
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return count;
}

struct Measured {
  std::int64_t rows = 0;
  std::int64_t events = 0;
  double seconds = 0;
};

// Fills a file as `scenario` says, then times verify() (median of the rounds).
Measured measure(const Config& config, int n, bool full_log) {
  const auto path = config.dir / ((full_log ? "full-log-" : "one-row-") + std::to_string(n) + ".db");
  fresh(path);
  {
    hotstate::Options options;
    options.path = path.string();
    options.synchronous = hotstate::Synchronous::Normal;
    options.max_history = full_log ? 1 : 10;
    hotstate::StateManager manager(options);
    save_all(manager, n, 1);
    if (full_log) {
      manager.clear_all();
      for (int step = 1; step <= 3; ++step) save_all(manager, n, step);
      for (int i = 0; i < n; i += 100) (void)manager.rollback("plugin-" + std::to_string(i));
      for (int i = 50; i < n; i += 100) manager.clear("plugin-" + std::to_string(i));
    }
  }
  Measured measured;
  measured.rows = count_rows(path, "SELECT count(*) FROM snapshots");
  measured.events = count_rows(path, "SELECT count(*) FROM audit_events");
  hotstate::Options options;
  options.path = path.string();
  hotstate::StateManager manager(options);
  std::vector<double> times;
  for (int r = 0; r < config.rounds; ++r) {
    const auto start = Clock::now();
    const auto report = manager.verify();
    times.push_back(seconds_since(start));
    if (!report.ok) {
      throw std::runtime_error("verify found problems in " + path.string() + ": " + report.problems.front());
    }
  }
  std::sort(times.begin(), times.end());
  measured.seconds = times[times.size() / 2];
  fresh(path);
  return measured;
}

std::vector<int> parse_sizes(const std::string& text) {
  std::vector<int> sizes;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!part.empty()) sizes.push_back(std::atoi(part.c_str()));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return sizes;
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  config.dir = std::filesystem::current_path() / "bench-data";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--dir" && i + 1 < argc) {
      config.dir = argv[++i];
    } else if (arg == "--sizes" && i + 1 < argc) {
      config.sizes = parse_sizes(argv[++i]);
    } else if (arg == "--rounds" && i + 1 < argc) {
      config.rounds = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--one-row") {
      config.one_row_only = true;
    } else if (arg == "--quick") {
      config.sizes = {1000, 10000};
      config.rounds = 1;
    } else {
      std::fprintf(stderr,
                   "usage: hotstate_bench_verify [--dir DIR] [--sizes N1,N2,...] [--rounds R] [--one-row] [--quick]\n");
      return 2;
    }
  }
  if (config.sizes.empty() || std::any_of(config.sizes.begin(), config.sizes.end(), [](int n) { return n < 100; })) {
    std::fprintf(stderr, "hotstate_bench_verify: each size must be at least 100\n");
    return 2;
  }
  std::filesystem::create_directories(config.dir);
  std::printf("hotstate %s: verify() against the size of the file (median of %d)\n", hotstate::version_string,
              config.rounds);
  std::printf("  %-10s %9s %10s %10s %12s %9s %9s  %s\n", "file", "plugins", "rows", "events", "verify", "ns/item",
              "ratio", "target (10x the items: <= 15x the time)");
  bool all_met = true;
  try {
    for (const bool full_log : {false, true}) {
      if (full_log && config.one_row_only) break;
      Measured first;
      for (std::size_t k = 0; k < config.sizes.size(); ++k) {
        const int n = config.sizes[k];
        const Measured m = measure(config, n, full_log);
        const double items = static_cast<double>(m.rows + m.events);
        std::string ratio;
        std::string verdict;
        if (k == 0) {
          first = m;
        } else {
          const double time_ratio = m.seconds / first.seconds;
          const double item_ratio = items / static_cast<double>(first.rows + first.events);
          char text[64];
          std::snprintf(text, sizeof text, "%.2fx", time_ratio);
          ratio = text;
          // Linear within half again: the time may grow 1.5× as fast as the items.
          const bool met = time_ratio <= 1.5 * item_ratio;
          all_met = all_met && met;
          std::snprintf(text, sizeof text, "<= %.1fx (%.1fx the items): %s", 1.5 * item_ratio, item_ratio,
                        met ? "met" : "NOT met");
          verdict = text;
        }
        std::printf("  %-10s %9d %10lld %10lld %10.3f s %9.0f %9s  %s\n", full_log ? "full log" : "one row",
                    n, static_cast<long long>(m.rows), static_cast<long long>(m.events), m.seconds,
                    m.seconds * 1e9 / items, ratio.c_str(), verdict.c_str());
        std::fflush(stdout);
      }
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "hotstate_bench_verify: %s\n", error.what());
    return 1;
  }
  std::filesystem::remove_all(config.dir);
  return all_met ? 0 : 1;
}
