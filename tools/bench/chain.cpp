// The cost of the audit log's hash chain (issue 15) per write: single saves at
// Normal and Full, rollbacks, batches, each in wall time and CPU time, next to
// a raw baseline measured in the same run. The same source builds against
// hotstate before the chain (Options has no audit_key) and after it, so the
// two libraries can be run alternately under one driver:
//
//   hotstate_bench_chain [--dir DIR] [--key] [--no-baseline] [--rounds R]
//                        [--quick] [--log-events N1,N2,...]
//
// --key sets Options::audit_key (32 bytes): every chained event is also
// signed (HMAC-SHA3-256); refused by a library without audit_key.
// --no-baseline leaves the raw baseline out of the save figures: its commits
// to the same disk between hotstate's rounds raise the kernel time of the
// rounds after them, more so the more hotstate writes per save.
// --log-events N1,N2,... adds two figures at each size of one growing audit
// log (filled with batched saves into the same 8 plugins): a save at Normal
// and verify().
//
// Saves go round-robin into 8 plugins with max_history 10 after a warm-up
// that fills every history, so every save also trims one row (two audit
// events per save: SnapshotSaved and HistoryTrimmed), as in hotstate_bench.
// The raw baseline (SQLite C API, same row shape, no constraints or
// triggers): INSERT + one audit row in one BEGIN IMMEDIATE ... COMMIT, at the
// same synchronous level, in WAL mode; it alternates with hotstate round by
// round. CPU time is the process's (CLOCK_PROCESS_CPUTIME_ID), split into
// user and system time with getrusage over all rounds.
#include <sqlite3.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "hotstate/hotstate.hpp"

namespace {

using hotstate_bench::check_rc;
using hotstate_bench::make_snapshot;
using Clock = std::chrono::steady_clock;

template <class O>
concept HasAuditKey = requires(O o) { o.audit_key; };

// Sets the audit key where the library has one; false where it has none.
template <class O>
bool set_audit_key(O& options, const std::string& key) {
  if constexpr (HasAuditKey<O>) {
    options.audit_key = key;
    return true;
  } else {
    (void)options;
    (void)key;
    return false;
  }
}

struct Config {
  std::filesystem::path dir;
  bool keyed = false;
  bool baseline = true;
  int rounds = 9;
  int full_ops = 150;
  int normal_ops = 1000;
  int rollback_rounds = 30;  // 10 rollbacks each
  int batch = 1000;
  int batch_rounds = 9;
  std::vector<long> log_events;
};

const std::string key_bytes = "0123456789abcdef0123456789ABCDEF";  // 32 bytes

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Usage {
  double user = 0;
  double system = 0;
};
Usage usage_now() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return {static_cast<double>(r.ru_utime.tv_sec) + static_cast<double>(r.ru_utime.tv_usec) * 1e-6,
          static_cast<double>(r.ru_stime.tv_sec) + static_cast<double>(r.ru_stime.tv_usec) * 1e-6};
}

// Per-op samples of one figure: wall and CPU per round, user and system summed.
struct Samples {
  std::vector<double> wall_us;
  std::vector<double> cpu_us;
  double user_s = 0;
  double system_s = 0;
  long ops = 0;

  template <class F>
  void round(int n, F&& body) {
    const Usage u0 = usage_now();
    const double c0 = cpu_seconds();
    const auto w0 = Clock::now();
    body();
    const double wall = std::chrono::duration<double>(Clock::now() - w0).count();
    const double cpu = cpu_seconds() - c0;
    const Usage u1 = usage_now();
    wall_us.push_back(wall * 1e6 / n);
    cpu_us.push_back(cpu * 1e6 / n);
    user_s += u1.user - u0.user;
    system_s += u1.system - u0.system;
    ops += n;
  }
  static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }
  double wall() const { return median(wall_us); }
  double cpu() const { return median(cpu_us); }
  double user_us() const { return user_s * 1e6 / static_cast<double>(ops); }
  double system_us() const { return system_s * 1e6 / static_cast<double>(ops); }
};

void print_header() {
  std::printf("  %-40s %10s %10s %9s %9s\n", "figure (median of rounds, per op)", "wall", "CPU", "user", "sys");
}
void print(const std::string& what, const Samples& s) {
  std::printf("  %-40s %7.1f us %7.1f us %6.1f us %6.1f us\n", what.c_str(), s.wall(), s.cpu(), s.user_us(),
              s.system_us());
  std::fflush(stdout);
}
void print_ratio(const std::string& what, const Samples& ours, const Samples& base) {
  std::printf("  %-40s %9.2fx %9.2fx\n", what.c_str(), ours.wall() / base.wall(), ours.cpu() / base.cpu());
  std::fflush(stdout);
}

void fresh(const std::filesystem::path& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(path.string() + suffix);
}

hotstate::Options options_for(const Config& config, const std::filesystem::path& path, hotstate::Synchronous sync) {
  hotstate::Options options;
  options.path = path.string();
  options.synchronous = sync;
  if (config.keyed && !set_audit_key(options, key_bytes)) {
    throw std::runtime_error("--key: this hotstate has no Options::audit_key");
  }
  return options;
}

// --- raw baseline: INSERT + one audit row in one transaction ----------------

struct RawDb {
  sqlite3* db = nullptr;
  sqlite3_stmt* begin = nullptr;
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* audit = nullptr;
  sqlite3_stmt* commit = nullptr;
  std::string data;
  std::string metadata;

  RawDb(const std::string& path, const char* synchronous) {
    check_rc(db, sqlite3_open(path.c_str(), &db), "open");
    exec("PRAGMA journal_mode = WAL");
    exec(std::string("PRAGMA synchronous = ") + synchronous);
    exec("CREATE TABLE snapshots (seq INTEGER PRIMARY KEY AUTOINCREMENT, plugin_id TEXT NOT NULL,"
         " timestamp INTEGER NOT NULL, plugin_version TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL,"
         " saved_at_us INTEGER NOT NULL)");
    exec("CREATE INDEX snapshots_by_plugin ON snapshots (plugin_id, seq)");
    exec("CREATE TABLE audit_events (id INTEGER PRIMARY KEY AUTOINCREMENT, time_us INTEGER NOT NULL,"
         " plugin_id TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL)");
    exec("CREATE INDEX audit_events_by_plugin ON audit_events (plugin_id, id)");
    begin = prepare("BEGIN IMMEDIATE");
    commit = prepare("COMMIT");
    insert = prepare(
        "INSERT INTO snapshots (plugin_id, timestamp, plugin_version, data, metadata, saved_at_us)"
        " VALUES (?1, 1700000000, '1.4.2', ?2, ?3, 1700000000000000)");
    audit = prepare(
        "INSERT INTO audit_events (time_us, plugin_id, kind, detail) VALUES (1700000000000000, ?1, 'SnapshotSaved',"
        " '{\"seq\":1,\"plugin_version\":\"1.4.2\",\"size\":283,\"content_hash\":"
        "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}')");
    const auto snapshot = make_snapshot("x", 1);
    data = hotstate::Json::from(snapshot.data).text();
    metadata = hotstate::Json::from(snapshot.metadata).text();
  }
  ~RawDb() {
    for (sqlite3_stmt* s : {begin, insert, audit, commit}) sqlite3_finalize(s);
    sqlite3_close(db);
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  void exec(const std::string& sql) { check_rc(db, sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), sql); }
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    check_rc(db, sqlite3_prepare_v2(db, sql, -1, &s, nullptr), sql);
    return s;
  }
  void step(sqlite3_stmt* s, const char* what) {
    check_rc(db, sqlite3_step(s), what);
    sqlite3_reset(s);
  }
  void save(const std::string& plugin) {
    step(begin, "begin");
    sqlite3_bind_text(insert, 1, plugin.data(), static_cast<int>(plugin.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert, 2, data.data(), static_cast<int>(data.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert, 3, metadata.data(), static_cast<int>(metadata.size()), SQLITE_STATIC);
    step(insert, "insert");
    sqlite3_bind_text(audit, 1, plugin.data(), static_cast<int>(plugin.size()), SQLITE_STATIC);
    step(audit, "audit");
    step(commit, "commit");
  }
};

// --- figures -------------------------------------------------------------------

void bench_saves(const Config& config, hotstate::Synchronous sync, const char* level) {
  const auto path = config.dir / (std::string("save-") + level + ".db");
  const auto raw_path = config.dir / (std::string("raw-") + level + ".db");
  fresh(path);
  fresh(raw_path);
  hotstate::StateManager manager(options_for(config, path, sync));
  RawDb raw(raw_path.string(), level);
  const int ops = sync == hotstate::Synchronous::Full ? config.full_ops : config.normal_ops;
  std::vector<std::string> plugins;
  for (int p = 0; p < 8; ++p) plugins.push_back("plugin-" + std::to_string(p));
  std::vector<hotstate::StateSnapshot> snapshots;
  for (int i = 0; i < ops; ++i) snapshots.push_back(make_snapshot(plugins[i % 8], i));
  // Warm-up, not timed: every history full, so each save trims one row.
  for (int i = 0; i < 8 * 12; ++i) {
    manager.save_snapshot(snapshots[i % ops]);
    raw.save(plugins[i % 8]);
  }
  Samples ours;
  Samples base;
  for (int r = 0; r < config.rounds; ++r) {
    if (config.baseline) {
      base.round(ops, [&] {
        for (int k = 0; k < ops; ++k) raw.save(plugins[k % 8]);
      });
    }
    ours.round(ops, [&] {
      for (int k = 0; k < ops; ++k) manager.save_snapshot(snapshots[k]);
    });
  }
  print(std::string("save, ") + level, ours);
  if (!config.baseline) return;
  print(std::string("  raw INSERT + audit row, ") + level, base);
  print_ratio("  ratio to raw (wall, CPU)", ours, base);
}

void bench_rollback(const Config& config, hotstate::Synchronous sync, const char* level) {
  const auto path = config.dir / (std::string("rollback-") + level + ".db");
  fresh(path);
  hotstate::StateManager manager(options_for(config, path, sync));
  Samples rollbacks;
  Samples saves;  // saves of the same plugin, one commit each
  for (int r = 0; r < config.rollback_rounds; ++r) {
    std::vector<hotstate::StateSnapshot> batch;  // a full history to roll back through (not timed)
    for (int i = 0; i < 11; ++i) batch.push_back(make_snapshot("rolling", i));
    manager.save_snapshots(std::move(batch));
    rollbacks.round(10, [&] {
      for (int k = 0; k < 10; ++k) {
        if (!manager.rollback("rolling")) throw std::runtime_error("rollback found no history");
      }
    });
    std::vector<hotstate::StateSnapshot> more;
    for (int k = 0; k < 10; ++k) more.push_back(make_snapshot("rolling", k));
    saves.round(10, [&] {
      for (auto& s : more) manager.save_snapshot(s);
    });
  }
  print(std::string("rollback, ") + level, rollbacks);
  print(std::string("  save of the same plugin, ") + level, saves);
}

void bench_batch(const Config& config) {
  const auto path = config.dir / "batch.db";
  fresh(path);
  hotstate::StateManager manager(options_for(config, path, hotstate::Synchronous::Normal));
  int next = 0;
  const auto make_batch = [&] {
    std::vector<hotstate::StateSnapshot> batch;
    for (int i = 0; i < config.batch; ++i, ++next) batch.push_back(make_snapshot("plugin-" + std::to_string(next % 8), next));
    return batch;
  };
  manager.save_snapshots(make_batch());  // warm-up: every history full
  Samples samples;
  for (int r = 0; r < config.batch_rounds; ++r) {
    auto batch = make_batch();
    samples.round(config.batch, [&] { manager.save_snapshots(std::move(batch)); });
  }
  print("batched save of " + std::to_string(config.batch) + ", Normal (per row)", samples);
}

std::int64_t count_events(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  check_rc(db, sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), "open");
  sqlite3_stmt* s = nullptr;
  check_rc(db, sqlite3_prepare_v2(db, "SELECT count(*) FROM audit_events", -1, &s, nullptr), "count");
  check_rc(db, sqlite3_step(s), "count");
  const std::int64_t n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

// One file whose audit log grows to each of the sizes of --log-events in
// turn (batched saves into 8 plugins, two events per save once every history
// is full): at each size, a save at Normal and verify().
void bench_big_log(const Config& config) {
  const auto path = config.dir / "big-log.db";
  fresh(path);
  hotstate::StateManager manager(options_for(config, path, hotstate::Synchronous::Normal));
  std::vector<hotstate::StateSnapshot> snapshots;
  for (int i = 0; i < config.normal_ops; ++i) snapshots.push_back(make_snapshot("plugin-" + std::to_string(i % 8), i));
  long next = 0;
  for (const long target : config.log_events) {
    for (std::int64_t events = count_events(path); events < target; events = count_events(path)) {
      const long saves = std::min<long>(10000, (target - events + 1) / 2);
      std::vector<hotstate::StateSnapshot> batch;
      for (long i = 0; i < saves; ++i, ++next) batch.push_back(make_snapshot("plugin-" + std::to_string(next % 8), next));
      manager.save_snapshots(std::move(batch));
    }
    const std::int64_t events = count_events(path);
    Samples saves;
    for (int r = 0; r < config.rounds; ++r) {
      saves.round(config.normal_ops, [&] {
        for (auto& s : snapshots) manager.save_snapshot(s);
      });
    }
    print("save, Normal, log of " + std::to_string(events) + " events", saves);
    Samples verify;
    for (int r = 0; r < 3; ++r) {
      verify.round(1, [&] {
        const auto report = manager.verify();
        if (!report.ok) throw std::runtime_error("verify found problems: " + report.problems.front());
      });
    }
    std::printf("  %-40s %8.3f s  %7.3f s  (%.0f ns per event)\n",
                ("verify, log of " + std::to_string(events) + " events").c_str(), verify.wall() / 1e6,
                verify.cpu() / 1e6, verify.wall() * 1e3 / static_cast<double>(events));
    std::fflush(stdout);
  }
  fresh(path);
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  config.dir = std::filesystem::current_path() / "bench-data-chain";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--dir" && i + 1 < argc) {
      config.dir = argv[++i];
    } else if (arg == "--key") {
      config.keyed = true;
    } else if (arg == "--no-baseline") {
      config.baseline = false;
    } else if (arg == "--rounds" && i + 1 < argc) {
      config.rounds = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--log-events" && i + 1 < argc) {
      std::string list = argv[++i];
      for (std::size_t start = 0; start < list.size();) {
        const std::size_t comma = std::min(list.find(',', start), list.size());
        config.log_events.push_back(std::atol(list.substr(start, comma - start).c_str()));
        start = comma + 1;
      }
    } else if (arg == "--quick") {
      config.rounds = 3;
      config.full_ops = 20;
      config.normal_ops = 100;
      config.rollback_rounds = 5;
      config.batch_rounds = 2;
    } else {
      std::fprintf(stderr,
                   "usage: hotstate_bench_chain [--dir DIR] [--key] [--no-baseline] [--rounds R] [--quick]\n"
                   "                            [--log-events N1,N2,...]\n");
      return 2;
    }
  }
  std::filesystem::create_directories(config.dir);
  hotstate::Options probe;
  std::printf("hotstate %s: cost per write, %s audit_key%s\n", hotstate::version_string,
              config.keyed ? "with" : "without", set_audit_key(probe, "") ? "" : " (this library has no audit_key)");
  print_header();
  try {
    bench_saves(config, hotstate::Synchronous::Normal, "NORMAL");
    bench_saves(config, hotstate::Synchronous::Full, "FULL");
    bench_rollback(config, hotstate::Synchronous::Normal, "NORMAL");
    bench_rollback(config, hotstate::Synchronous::Full, "FULL");
    bench_batch(config);
    if (!config.log_events.empty()) bench_big_log(config);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "hotstate_bench_chain: %s\n", error.what());
    return 1;
  }
  std::filesystem::remove_all(config.dir);
  return 0;
}
