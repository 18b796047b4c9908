// The cost of a save against the length of the history it trims: one
// plugin whose history is full (max_history + 1 rows), saved again and
// again, at max_history 10, 100, 1,000 and 10,000, each figure next to a raw
// SQLite baseline measured in the same run.
//
//   hotstate_bench_trim [--dir DIR] [--quick]
//
// Two parts:
//   1. save_snapshot through hotstate's public API, at Synchronous::Normal
//      and Full, against a raw baseline that does the least any bounded
//      history must: in one transaction, INSERT the row and DELETE the
//      plugin's oldest (no triggers, no audit). Target: the save at 10,000
//      rows costs at most 2x the save at 100 rows, in wall time and in CPU
//      time.
//   2. The schema alone: the same INSERT statement hotstate runs, through the
//      sqlite3 C API, into a file hotstate created (its triggers trim, count
//      and audit), against the same file with the trim of schema version 3
//      put back (it walked max_history + 1 index entries per insert).
//      Target: at max_history 10 the current schema costs no more than
//      version 3's (within 5 %, the noise of one run).
//
// Every figure is the median of several rounds, in wall time and in CPU time
// of the measuring thread (SQLite's work and its write calls, without the
// waits), which the load of a shared machine and the disk's latency disturb
// less; the variants of one figure are interleaved round by round so that
// drift hits them alike.
#include <sqlite3.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "hotstate/hotstate.hpp"

namespace {

using hotstate_bench::make_snapshot;
using hotstate_bench::check_rc;

using Clock = std::chrono::steady_clock;

double cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

struct Config {
  std::filesystem::path dir;
  std::vector<int> bounds{10, 100, 1000, 10000};
  int rounds = 11;
  int normal_ops = 400;
  int full_ops = 40;
  int raw_ops = 400;
};

void fresh(const std::filesystem::path& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(path.string() + suffix);
}


// --- Raw SQLite --------------------------------------------------------------


struct RawDb {
  sqlite3* db = nullptr;
  RawDb(const std::string& path, const char* synchronous) {
    const int rc = sqlite3_open(path.c_str(), &db);
    if (rc != SQLITE_OK) {
      sqlite3_close(db);
      throw std::runtime_error("open " + path);
    }
    exec("PRAGMA journal_mode = WAL");
    exec(std::string("PRAGMA synchronous = ") + synchronous);
  }
  ~RawDb() { sqlite3_close(db); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  void exec(const std::string& sql) { check_rc(db, sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), sql); }
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* statement = nullptr;
    check_rc(db, sqlite3_prepare_v2(db, sql, -1, &statement, nullptr), sql);
    return statement;
  }
  bool has_table(const char* name) {
    sqlite3_stmt* statement = prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
    sqlite3_bind_text(statement, 1, name, -1, SQLITE_STATIC);
    const bool found = sqlite3_step(statement) == SQLITE_ROW;
    sqlite3_finalize(statement);
    return found;
  }
};

void step_and_reset(sqlite3* db, sqlite3_stmt* statement, const char* what) {
  check_rc(db, sqlite3_step(statement), what);
  sqlite3_reset(statement);
}

// The texts hotstate stores for make_snapshot("plugin", i): its canonical JSON.
struct RawRow {
  std::string data;
  std::string metadata;
};
RawRow raw_row(int i) {
  const hotstate::StateSnapshot snapshot = make_snapshot("plugin", i);
  return {hotstate::Json::from(snapshot.data).text(), hotstate::Json::from(snapshot.metadata).text()};
}

// hotstate's own INSERT (store_internal.hpp), with fixed values for what it computes.
constexpr const char* hotstate_insert_sql =
    "INSERT INTO snapshots (plugin_id, timestamp, plugin_version, data, metadata, saved_at_us, canonical_hash,"
    " content_hash) VALUES ('plugin', 1700000000, '1.4.2', ?1, ?2, 1700000000000000, 123,"
    " '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef')";

void bind_row(sqlite3_stmt* insert, const RawRow& row) {
  sqlite3_bind_text(insert, 1, row.data.data(), static_cast<int>(row.data.size()), SQLITE_STATIC);
  sqlite3_bind_text(insert, 2, row.metadata.data(), static_cast<int>(row.metadata.size()), SQLITE_STATIC);
}

// The trim of schema version 3 (migrations/0003): the cut found by walking
// max_history + 1 index entries from the newest row, on every insert.
constexpr const char* version_3_trim = R"(
CREATE TRIGGER snapshots_trim_history AFTER INSERT ON snapshots
BEGIN
  INSERT INTO audit_events (time_us, plugin_id, kind, detail)
  VALUES (max(NEW.saved_at_us, 0), NEW.plugin_id, 'SnapshotSaved',
          json_object('seq', NEW.seq, 'plugin_version', NEW.plugin_version,
                      'size', length(CAST(NEW.data AS BLOB)) + length(CAST(NEW.metadata AS BLOB)),
                      'content_hash', NEW.content_hash));
  INSERT INTO audit_events (time_us, plugin_id, kind, detail)
  SELECT max(NEW.saved_at_us, 0), plugin_id, 'HistoryTrimmed', json_object('seq', seq, 'content_hash', content_hash)
    FROM snapshots
   WHERE plugin_id = NEW.plugin_id
     AND seq <= (SELECT seq FROM snapshots
                  WHERE plugin_id = NEW.plugin_id
                  ORDER BY seq DESC
                  LIMIT 1 OFFSET (SELECT max_history + 1 FROM settings WHERE id = 1))
   ORDER BY seq;
  DELETE FROM snapshots
   WHERE plugin_id = NEW.plugin_id
     AND seq <= (SELECT seq FROM snapshots
                  WHERE plugin_id = NEW.plugin_id
                  ORDER BY seq DESC
                  LIMIT 1 OFFSET (SELECT max_history + 1 FROM settings WHERE id = 1));
END;)";

// Turns a file of hotstate's (history already full) into one whose inserts
// trim as schema version 3 did: the count table and its triggers go, the
// version 3 trim comes back. A file of version 3 is left as it is.
void put_back_version_3_trim(RawDb& raw) {
  if (!raw.has_table("snapshot_counts")) return;
  raw.exec("BEGIN IMMEDIATE");
  for (const char* trigger : {"snapshots_count_delete", "snapshots_count_move", "snapshots_insert_new_seq",
                              "snapshots_trim_history", "settings_trim_history"}) {
    raw.exec(std::string("DROP TRIGGER IF EXISTS ") + trigger);
  }
  raw.exec("DROP TABLE snapshot_counts");
  raw.exec(version_3_trim);
  raw.exec("COMMIT");
}

// --- Measuring ---------------------------------------------------------------

struct Sample {
  std::vector<double> wall_us;
  std::vector<double> cpu_us;
  void add(double wall, double cpu, int ops) {
    wall_us.push_back(wall * 1e6 / ops);
    cpu_us.push_back(cpu * 1e6 / ops);
  }
  static double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
  }
  double wall() const { return median(wall_us); }
  double cpu() const { return median(cpu_us); }
};

// Runs `ops` calls of `op` and adds their time per call to `sample`.
void timed(Sample& sample, int ops, const std::function<void()>& op) {
  const auto wall_start = Clock::now();
  const double cpu_start = cpu_seconds();
  for (int k = 0; k < ops; ++k) op();
  sample.add(std::chrono::duration<double>(Clock::now() - wall_start).count(), cpu_seconds() - cpu_start, ops);
}

struct Level {
  hotstate::Synchronous synchronous;
  const char* name;
  int ops;
};

// Part 1: hotstate's save against the raw INSERT + DELETE of the oldest row.
void bench_saves(const Config& config, const Level& level) {
  std::printf("\n  save_snapshot with a full history, synchronous=%s (median of %d rounds of %d; wall and CPU time)\n",
              level.name, config.rounds, level.ops);
  std::printf("  %-12s %11s %11s %12s %11s %7s  %s\n", "max_history", "hotstate", "cpu", "raw ins+del", "cpu",
              "ratio", "vs max_history 100 (wall, cpu)");
  Sample at_100;
  for (const int bound : config.bounds) {
    const auto ours_path = config.dir / ("save-" + std::to_string(bound) + ".db");
    const auto raw_path = config.dir / ("raw-" + std::to_string(bound) + ".db");
    fresh(ours_path);
    fresh(raw_path);
    hotstate::Options options;
    options.path = ours_path.string();
    options.synchronous = level.synchronous;
    options.max_history = static_cast<std::size_t>(bound);
    hotstate::StateManager manager(options);
    std::vector<hotstate::StateSnapshot> fill;
    for (int i = 0; i <= bound + 1; ++i) fill.push_back(make_snapshot("plugin", i));
    manager.save_snapshots(std::move(fill));

    RawDb raw(raw_path.string(), level.synchronous == hotstate::Synchronous::Full ? "FULL" : "NORMAL");
    raw.exec("CREATE TABLE snapshots (seq INTEGER PRIMARY KEY AUTOINCREMENT, plugin_id TEXT NOT NULL,"
             " timestamp INTEGER NOT NULL, plugin_version TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL,"
             " saved_at_us INTEGER NOT NULL, canonical_hash INTEGER, content_hash TEXT)");
    raw.exec("CREATE INDEX snapshots_by_plugin ON snapshots (plugin_id, seq)");
    sqlite3_stmt* insert = raw.prepare(hotstate_insert_sql);
    sqlite3_stmt* remove_oldest = raw.prepare(
        "DELETE FROM snapshots WHERE seq = (SELECT seq FROM snapshots WHERE plugin_id = 'plugin' ORDER BY seq LIMIT 1)");
    sqlite3_stmt* begin = raw.prepare("BEGIN IMMEDIATE");
    sqlite3_stmt* commit = raw.prepare("COMMIT");
    const RawRow row = raw_row(0);
    bind_row(insert, row);
    raw.exec("BEGIN IMMEDIATE");
    for (int i = 0; i <= bound; ++i) step_and_reset(raw.db, insert, "fill");
    raw.exec("COMMIT");

    std::vector<hotstate::StateSnapshot> snapshots;
    for (int i = 0; i < level.ops; ++i) snapshots.push_back(make_snapshot("plugin", i));
    Sample ours;
    Sample base;
    for (int r = 0; r < config.rounds; ++r) {
      const auto raw_round = [&] {
        timed(base, level.ops, [&] {
          step_and_reset(raw.db, begin, "begin");
          step_and_reset(raw.db, insert, "insert");
          step_and_reset(raw.db, remove_oldest, "delete");
          step_and_reset(raw.db, commit, "commit");
        });
      };
      int k = 0;
      const auto ours_round = [&] { timed(ours, level.ops, [&] { manager.save_snapshot(snapshots[k++ % level.ops]); }); };
      if (r % 2 == 0) {
        raw_round();
        ours_round();
      } else {
        ours_round();
        raw_round();
      }
    }
    for (sqlite3_stmt* statement : {insert, remove_oldest, begin, commit}) sqlite3_finalize(statement);
    if (manager.history_size("plugin") != static_cast<std::size_t>(bound)) {
      throw std::runtime_error("the history is not at its bound");
    }
    if (bound == 100) at_100 = ours;
    std::string versus;
    if (bound != 100 && !at_100.wall_us.empty()) {
      const double wall = ours.wall() / at_100.wall();
      const double cpu = ours.cpu() / at_100.cpu();
      char text[96];
      if (bound == 10000) {
        std::snprintf(text, sizeof text, "%.2fx, %.2fx (target <= 2.00x: %s)", wall, cpu,
                      wall <= 2.0 && cpu <= 2.0 ? "met" : "NOT met");
      } else {
        std::snprintf(text, sizeof text, "%.2fx, %.2fx", wall, cpu);
      }
      versus = text;
    }
    std::printf("  %-12d %8.1f us %8.1f us %9.1f us %8.1f us %6.2fx  %s\n", bound, ours.wall(), ours.cpu(),
                base.wall(), base.cpu(), ours.wall() / base.wall(), versus.c_str());
    std::fflush(stdout);
    fresh(raw_path);
  }
}

// Part 2: the current schema's triggers against version 3's trim, raw inserts.
void bench_schema(const Config& config) {
  std::printf("\n  the schema alone: hotstate's INSERT through the sqlite3 C API, synchronous=NORMAL\n");
  std::printf("  (median of %d rounds of %d; wall and CPU time per insert)\n", config.rounds, config.raw_ops);
  std::printf("  %-12s %11s %11s %12s %11s %9s  %s\n", "max_history", "schema now", "cpu", "v3 trim", "cpu", "cpu ratio",
              "");
  for (const int bound : config.bounds) {
    const auto now_path = config.dir / ("schema-now-" + std::to_string(bound) + ".db");
    const auto old_path = config.dir / ("schema-v3-" + std::to_string(bound) + ".db");
    for (const auto& path : {now_path, old_path}) {
      fresh(path);
      hotstate::Options options;
      options.path = path.string();
      options.synchronous = hotstate::Synchronous::Normal;
      options.max_history = static_cast<std::size_t>(bound);
      hotstate::StateManager manager(options);
      std::vector<hotstate::StateSnapshot> fill;
      for (int i = 0; i <= bound + 1; ++i) fill.push_back(make_snapshot("plugin", i));
      manager.save_snapshots(std::move(fill));
    }
    RawDb now(now_path.string(), "NORMAL");
    RawDb old(old_path.string(), "NORMAL");
    put_back_version_3_trim(old);
    sqlite3_stmt* insert_now = now.prepare(hotstate_insert_sql);
    sqlite3_stmt* insert_old = old.prepare(hotstate_insert_sql);
    const RawRow row = raw_row(1);
    bind_row(insert_now, row);
    bind_row(insert_old, row);
    // Warm both (caches, the WAL) before measuring.
    for (int k = 0; k < 50; ++k) {
      step_and_reset(now.db, insert_now, "insert");
      step_and_reset(old.db, insert_old, "insert");
    }
    Sample now_sample;
    Sample old_sample;
    for (int r = 0; r < config.rounds; ++r) {
      const auto now_round = [&] {
        timed(now_sample, config.raw_ops, [&] { step_and_reset(now.db, insert_now, "insert"); });
      };
      const auto old_round = [&] {
        timed(old_sample, config.raw_ops, [&] { step_and_reset(old.db, insert_old, "insert"); });
      };
      if (r % 2 == 0) {
        now_round();
        old_round();
      } else {
        old_round();
        now_round();
      }
    }
    sqlite3_finalize(insert_now);
    sqlite3_finalize(insert_old);
    const double ratio = now_sample.cpu() / old_sample.cpu();
    std::string verdict;
    if (bound == 10) verdict = ratio <= 1.05 ? "target <= 1.05x: met" : "target <= 1.05x: NOT met";
    std::printf("  %-12d %8.1f us %8.1f us %9.1f us %8.1f us %8.2fx  %s\n", bound, now_sample.wall(), now_sample.cpu(),
                old_sample.wall(), old_sample.cpu(), ratio, verdict.c_str());
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  config.dir = std::filesystem::current_path() / "bench-data";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--dir" && i + 1 < argc) {
      config.dir = argv[++i];
    } else if (arg == "--quick") {
      config.rounds = 3;
      config.normal_ops = 100;
      config.full_ops = 10;
      config.raw_ops = 100;
    } else {
      std::fprintf(stderr, "usage: hotstate_bench_trim [--dir DIR] [--quick]\n");
      return 2;
    }
  }
  std::filesystem::create_directories(config.dir);
  std::printf("hotstate %s (schema version %d): the cost of a save against the history it keeps; SQLite %s\n",
              hotstate::version_string, hotstate::schema_version(), sqlite3_libversion());
  try {
    bench_saves(config, {hotstate::Synchronous::Normal, "NORMAL", config.normal_ops});
    bench_saves(config, {hotstate::Synchronous::Full, "FULL", config.full_ops});
    bench_schema(config);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "hotstate_bench_trim: %s\n", error.what());
    return 1;
  }
  std::filesystem::remove_all(config.dir);
  return 0;
}
