// Space: how big hotstate's file and its -wal get, and what happens to the
// pages that deletes free (issue 12, "Space").
//
//   hotstate_bench_space [--dir DIR] [--quick] [--rows N] [--saves N] [open|steady|clear|wal]...
//
//   open     opening an up-to-date file while another connection has it
//            open, idle or holding its write lock.
//   steady   saves spread over 1,000 plugins at max_history 10 (single saves,
//            Synchronous::Normal): the file, the -wal, the free pages and the
//            bytes of each table after 10k, 50k, 100k, 200k saves; then a
//            retention prune of the audit log and more saves, to see the
//            pages the prune freed taken again.
//   clear    N rows (10 per plugin) saved in batches, clear_all, a save,
//            the same N rows again (are the freed pages reused?), then
//            clear_all again and the file given back to the system: with
//            PRAGMA incremental_vacuum where the file allows it, with VACUUM
//            where it does not.
//   wal      the raw SQLite commit loop at journal_size_limit -1, 0, 1 MiB,
//            4 MiB, hotstate's 8,240,000 bytes and 16 MiB: the cost of a
//            commit, and the -wal left after one large transaction and after
//            one small commit that follows it.
//
// steady and clear each run on a file as hotstate creates it and on one
// created with PRAGMA auto_vacuum = INCREMENTAL before hotstate first opened
// it (an empty file, which hotstate then migrates).
//
// hotstate is used through its public API only; the file is inspected, and
// the baselines run, through the SQLite C API.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bench_support.hpp"
#include "hotstate/hotstate.hpp"

namespace {

using hotstate_bench::make_snapshot;
using hotstate_bench::check_rc;

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

struct Config {
  std::filesystem::path dir;
  long steady_saves = 200'000;
  int steady_plugins = 1000;
  long clear_rows = 100'000;
  int wal_commits = 3000;
  int open_ops = 200;
};



// A plain connection (the sqlite3 shell's view of the file).
struct Raw {
  sqlite3* db = nullptr;
  explicit Raw(const std::string& path, int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
    check_rc(db, sqlite3_open_v2(path.c_str(), &db, flags, nullptr), "open " + path);
    sqlite3_busy_timeout(db, 5000);
  }
  ~Raw() { sqlite3_close(db); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;
  void exec(const std::string& sql) { check_rc(db, sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), sql); }
  long long integer(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    check_rc(db, sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr), sql);
    const int rc = sqlite3_step(statement);
    const long long value = rc == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : 0;
    sqlite3_finalize(statement);
    check_rc(db, rc, sql);
    return value;
  }
};

std::uintmax_t size_of(const std::string& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  return error ? 0 : size;
}

double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

// Bytes this process has passed to write() and pwrite() so far (the -wal's
// frames, checkpoints, everything): /proc/self/io's wchar.
long long written_bytes() {
  std::FILE* io = std::fopen("/proc/self/io", "r");
  if (io == nullptr) return 0;
  long long value = 0;
  char key[64];
  long long number = 0;
  while (std::fscanf(io, "%63s %lld", key, &number) == 2) {
    if (std::string(key) == "wchar:") value = number;
  }
  std::fclose(io);
  return value;
}

void fresh(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(path + suffix);
}

// Where the file's bytes are, through a read-only connection opened for the
// moment (so it holds up no checkpoint): the file and -wal sizes, the free
// pages, and the pages of the snapshots table and of the audit log (each with
// its indexes), counted by the dbstat table.
struct Figures {
  double file_mib = 0;
  double wal_mib = 0;
  long long pages = 0;
  long long free_pages = 0;
  double snapshots_mib = 0;
  double audit_mib = 0;
};

Figures figures(const std::string& path, bool by_table) {
  Figures f;
  f.file_mib = mib(static_cast<double>(size_of(path)));
  f.wal_mib = mib(static_cast<double>(size_of(path + "-wal")));
  Raw raw(path, SQLITE_OPEN_READONLY);
  f.pages = raw.integer("PRAGMA page_count");
  f.free_pages = raw.integer("PRAGMA freelist_count");
  if (by_table) {
    const auto bytes_of = [&](const char* table) {
      return mib(static_cast<double>(raw.integer(
          std::string("SELECT coalesce(sum(d.pgsize), 0) FROM dbstat d JOIN sqlite_master m ON m.name = d.name "
                      "WHERE m.tbl_name = '") +
          table + "'")));
    };
    f.snapshots_mib = bytes_of("snapshots");
    f.audit_mib = bytes_of("audit_events");
  }
  return f;
}

void header() {
  std::printf("    %-34s %9s %9s %9s %10s %10s %10s %10s %12s\n", "", "file MiB", "wal MiB", "pages", "free pages",
              "snap MiB", "audit MiB", "us/op", "KiB written/op");
}

// An operation's figures: time and bytes written per operation.
struct Cost {
  double us = 0;
  double written_kib = 0;
};

// Runs `body` (`ops` operations) and measures it.
Cost measure(long ops, const std::function<void()>& body) {
  const long long written = written_bytes();
  const auto start = Clock::now();
  body();
  const double n = static_cast<double>(std::max(1L, ops));
  return {seconds_since(start) * 1e6 / n, static_cast<double>(written_bytes() - written) / 1024.0 / n};
}

void row(const std::string& what, const Figures& f, const Cost& cost = {}) {
  std::printf("    %-34s %9.1f %9.1f %9lld %10lld %10.1f %10.1f", what.c_str(), f.file_mib, f.wal_mib, f.pages,
              f.free_pages, f.snapshots_mib, f.audit_mib);
  if (cost.us > 0) std::printf(" %10.1f %12.1f", cost.us, cost.written_kib);
  std::printf("\n");
  std::fflush(stdout);
}

// A file as hotstate creates it, or an empty file set to incremental
// auto-vacuum before hotstate first opens (and migrates) it.
enum class Layout { AsCreated, Incremental };

std::string prepare(const Config& config, const std::string& name, Layout layout) {
  const std::string path = (config.dir / (name + (layout == Layout::AsCreated ? "-created.db" : "-incremental.db"))).string();
  fresh(path);
  if (layout == Layout::Incremental) {
    Raw raw(path);
    raw.exec("PRAGMA auto_vacuum = INCREMENTAL");
  }
  return path;
}

// The file's auto_vacuum mode.
std::string describe(const std::string& path) {
  Raw raw(path, SQLITE_OPEN_READONLY);
  switch (raw.integer("PRAGMA auto_vacuum")) {
    case 0: return "auto_vacuum NONE";
    case 1: return "auto_vacuum FULL";
    default: return "auto_vacuum INCREMENTAL";
  }
}

hotstate::Options options_for(const std::string& path, std::size_t max_history) {
  hotstate::Options options;
  options.path = path;
  options.synchronous = hotstate::Synchronous::Normal;
  options.max_history = max_history;
  return options;
}

void steady(const Config& config, Layout layout) {
  const std::string path = prepare(config, "steady", layout);
  std::vector<long> marks;
  for (const long mark : {10'000L, 50'000L, 100'000L, 200'000L}) {
    if (mark <= config.steady_saves) marks.push_back(mark);
  }
  if (marks.empty() || marks.back() != config.steady_saves) marks.push_back(config.steady_saves);
  hotstate::StateManager manager(options_for(path, 10));  // 11 rows a plugin
  std::printf("\n  steady: %ld single saves over %d plugins, max_history 10 (%s)\n", config.steady_saves,
              config.steady_plugins, describe(path).c_str());
  header();
  long saved = 0;
  const auto save_until = [&](long until) {
    const long from = saved;
    return measure(until - from, [&] {
      for (; saved < until; ++saved) {
        manager.save_snapshot(make_snapshot("plugin-" + std::to_string(saved % config.steady_plugins), saved));
      }
    });
  };
  for (const long mark : marks) {
    const Cost cost = save_until(mark);
    row("after " + std::to_string(mark) + " saves", figures(path, true), cost);
  }
  // The retention prune: every event but the newest plugins' worth (the
  // saves of the rows that still exist stay, whatever the bound).
  hotstate::AuditPrune prune;
  prune.keep_newest = static_cast<std::size_t>(config.steady_plugins);
  std::uint64_t pruned = 0;
  const Cost prune_cost = measure(1, [&] { pruned = manager.prune_audit(prune); });
  row("prune_audit (" + std::to_string(pruned) + " events)", figures(path, true), prune_cost);
  const Cost one = save_until(saved + 1);
  row("+1 save", figures(path, true), one);
  const long again = std::min(config.steady_saves / 2, 100'000L);
  const Cost more = save_until(saved + again);
  row("+" + std::to_string(again) + " saves", figures(path, true), more);
}

void clear(const Config& config, Layout layout) {
  const std::string path = prepare(config, "clear", layout);
  const long plugins = std::max(1L, config.clear_rows / 10);
  const auto fill = [&](hotstate::StateManager& manager) {
    return measure(config.clear_rows, [&] {
      std::vector<hotstate::StateSnapshot> batch;
      for (long i = 0; i < config.clear_rows; ++i) {
        batch.push_back(make_snapshot("plugin-" + std::to_string(i % plugins), i));
        if (batch.size() == 1000) manager.save_snapshots(std::exchange(batch, {}));
      }
      if (!batch.empty()) manager.save_snapshots(std::move(batch));
    });
  };
  {
    hotstate::StateManager manager(options_for(path, 9));
    std::printf("\n  clear: %ld rows (%ld plugins, 10 rows each) (%s)\n", config.clear_rows, plugins,
                describe(path).c_str());
    header();
    row("filled (per row)", figures(path, true), fill(manager));
    row("clear_all", figures(path, true), measure(1, [&] { manager.clear_all(); }));
    row("+1 save", figures(path, true), measure(1, [&] { manager.save_snapshot(make_snapshot("plugin-0", 0)); }));
  }
  row("closed", figures(path, true));
  {
    hotstate::StateManager manager(options_for(path, 9));
    row("the same rows again (per row)", figures(path, true), fill(manager));
    row("clear_all again", figures(path, true), measure(1, [&] { manager.clear_all(); }));
  }
  // Giving the free pages back to the system, with the manager closed.
  Raw raw(path);
  const bool incremental = raw.integer("PRAGMA auto_vacuum") == 2;
  const Cost cost = measure(1, [&] {
    raw.exec(incremental ? "PRAGMA incremental_vacuum" : "VACUUM");
    raw.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  });
  row(incremental ? "PRAGMA incremental_vacuum" : "VACUUM", figures(path, true), cost);
}

// The raw commit loop at one journal_size_limit: one ~700-byte row a commit,
// the oldest beyond 10,000 rows deleted (as trimming does).
class WalLoop {
 public:
  WalLoop(const std::string& path, long long limit, const char* synchronous) : path_(path), limit_(limit) {
    fresh(path);
    raw_ = std::make_unique<Raw>(path);
    raw_->exec("PRAGMA journal_mode = WAL");
    raw_->exec(std::string("PRAGMA synchronous = ") + synchronous);
    raw_->exec("PRAGMA journal_size_limit = " + std::to_string(limit));
    raw_->exec("CREATE TABLE t (seq INTEGER PRIMARY KEY AUTOINCREMENT, plugin_id TEXT NOT NULL, data TEXT NOT NULL)");
    raw_->exec("CREATE INDEX t_by_plugin ON t (plugin_id, seq)");
    check_rc(raw_->db, sqlite3_prepare_v2(raw_->db, "INSERT INTO t (plugin_id, data) VALUES (?1, ?2)", -1, &insert_, nullptr),
             "prepare");
    check_rc(raw_->db,
             sqlite3_prepare_v2(raw_->db, "DELETE FROM t WHERE seq <= (SELECT max(seq) FROM t) - 10000", -1, &trim_, nullptr),
             "prepare");
    raw_->exec("BEGIN IMMEDIATE");
    for (int k = 0; k < 10'000; ++k) insert("plugin-" + std::to_string(k % 1000));
    raw_->exec("COMMIT");
    for (int warm = 0; warm < 500; ++warm) commit_one();
    wal_peak_ = 0;
  }
  ~WalLoop() {
    sqlite3_finalize(insert_);
    sqlite3_finalize(trim_);
  }
  WalLoop(const WalLoop&) = delete;
  WalLoop& operator=(const WalLoop&) = delete;

  void commit_one() {
    raw_->exec("BEGIN IMMEDIATE");
    insert("plugin-" + std::to_string(next_++ % 1000));
    check_rc(raw_->db, sqlite3_step(trim_), "trim");
    sqlite3_reset(trim_);
    raw_->exec("COMMIT");
    wal_peak_ = std::max(wal_peak_, wal_mib());
  }

  // One large transaction (every row deleted, ~35 MiB inserted), then one
  // small commit: the -wal after each.
  std::pair<double, double> large_then_small() {
    raw_->exec("BEGIN IMMEDIATE");
    raw_->exec("DELETE FROM t");
    for (int k = 0; k < 40'000; ++k) insert("big");
    raw_->exec("COMMIT");
    const double after_large = wal_mib();
    insert("small");  // autocommit
    return {after_large, wal_mib()};
  }

  double wal_mib() const { return mib(static_cast<double>(size_of(path_ + "-wal"))); }
  double wal_peak() const { return wal_peak_; }
  long long limit() const { return limit_; }
  std::vector<double> rounds;  // us per commit, one a round

 private:
  void insert(const std::string& plugin) {
    static const std::string data = hotstate::Json::from(make_snapshot("x", 1).data).text() + std::string(400, ' ');
    sqlite3_bind_text(insert_, 1, plugin.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(insert_, 2, data.c_str(), static_cast<int>(data.size()), SQLITE_STATIC);
    check_rc(raw_->db, sqlite3_step(insert_), "insert");
    sqlite3_reset(insert_);
  }

  std::string path_;
  long long limit_;
  std::unique_ptr<Raw> raw_;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* trim_ = nullptr;
  long next_ = 0;
  double wal_peak_ = 0;
};

// Every limit on its own file, measured in interleaved rounds (so that a
// change in the disk's fsync time over the run meets every limit alike).
void wal(const Config& config) {
  std::printf("\n  wal: raw SQLite, one row a commit (insert + trim), by journal_size_limit (hotstate: 8240000)\n");
  std::printf("    %-24s %-7s %10s %14s %18s %20s\n", "journal_size_limit", "sync", "us/commit", "wal max MiB",
              "wal after big MiB", "after +1 commit MiB");
  for (const char* synchronous : {"FULL", "NORMAL"}) {
    std::vector<std::unique_ptr<WalLoop>> loops;
    for (const long long limit : {-1LL, 0LL, 1LL << 20, 4LL << 20, 8'240'000LL, 16LL << 20}) {
      loops.push_back(std::make_unique<WalLoop>(
          (config.dir / ("wal-limit-" + std::to_string(loops.size()) + ".db")).string(), limit, synchronous));
    }
    constexpr int round_count = 9;
    for (int r = 0; r < round_count; ++r) {
      for (auto& loop : loops) {
        const auto start = Clock::now();
        for (int k = 0; k < config.wal_commits / round_count; ++k) loop->commit_one();
        loop->rounds.push_back(seconds_since(start) * 1e6 / (config.wal_commits / round_count));
      }
    }
    for (auto& loop : loops) {
      std::sort(loop->rounds.begin(), loop->rounds.end());
      const auto [after_large, after_next] = loop->large_then_small();
      std::printf("    %-24s %-7s %10.1f %14.1f %18.1f %20.1f\n",
                  loop->limit() < 0 ? "-1 (SQLite's default)" : std::to_string(loop->limit()).c_str(), synchronous,
                  loop->rounds[loop->rounds.size() / 2], loop->wal_peak(), after_large, after_next);
    }
  }
}

// Opening a file that is up to date (open + load_snapshot + close), while
// another connection has it open: idle, and holding its write lock (BEGIN
// IMMEDIATE) with a busy timeout of 200 ms. The other connection keeps the
// close from being the last one (which checkpoints and removes the -wal).
void open_cost(const Config& config) {
  const std::string path = (config.dir / "open.db").string();
  fresh(path);
  {
    hotstate::StateManager manager(options_for(path, 9));
    manager.save_snapshot(make_snapshot("p", 1));
  }
  Raw other(path);
  hotstate::Options options = options_for(path, 9);
  options.busy_timeout = std::chrono::milliseconds(200);
  const auto open_once = [&]() -> std::string {
    try {
      hotstate::StateManager manager(options);
      (void)manager.load_snapshot("p");
      return "opened";
    } catch (const hotstate::Error& error) {
      return std::string("Error(") + hotstate::to_string(error.code()) + ")";
    }
  };
  const auto median_us = [&](int rounds, int per_round, std::string& outcome) {
    std::vector<double> per_open;
    for (int r = 0; r < rounds; ++r) {
      const auto start = Clock::now();
      for (int k = 0; k < per_round; ++k) outcome = open_once();
      per_open.push_back(seconds_since(start) * 1e6 / per_round);
    }
    std::sort(per_open.begin(), per_open.end());
    return per_open[per_open.size() / 2];
  };
  std::printf("\n  open: an up-to-date file, open + load_snapshot + close, another connection having it open\n");
  std::string outcome;
  double us = median_us(9, config.open_ops, outcome);
  std::printf("    %-48s %-12s median %9.0f us\n", "the other connection idle", outcome.c_str(), us);
  other.exec("BEGIN IMMEDIATE");
  us = median_us(5, 1, outcome);
  std::printf("    %-48s %-12s median %9.0f us\n", "the other holding the write lock (busy 200 ms)", outcome.c_str(), us);
  other.exec("COMMIT");
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  config.dir = std::filesystem::current_path() / "bench-space-data";
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--dir" && i + 1 < argc) {
      config.dir = argv[++i];
    } else if (arg == "--quick") {
      config.steady_saves = 20'000;
      config.steady_plugins = 200;
      config.clear_rows = 20'000;
      config.wal_commits = 1000;
      config.open_ops = 20;
    } else if (arg == "--rows" && i + 1 < argc) {
      config.clear_rows = std::strtol(argv[++i], nullptr, 10);
    } else if (arg == "--saves" && i + 1 < argc) {
      config.steady_saves = std::strtol(argv[++i], nullptr, 10);
    } else if (arg == "steady" || arg == "clear" || arg == "wal" || arg == "open") {
      only.push_back(arg);
    } else {
      std::fprintf(stderr,
                   "usage: hotstate_bench_space [--dir DIR] [--quick] [--rows N] [--saves N] [open|steady|clear|wal]...\n");
      return 2;
    }
  }
  const auto wanted = [&](const char* name) { return only.empty() || std::find(only.begin(), only.end(), name) != only.end(); };
  std::filesystem::create_directories(config.dir);
  std::printf("hotstate %s space benchmark (SQLite %s), data directory %s\n", hotstate::version_string,
              sqlite3_libversion(), config.dir.string().c_str());
  try {
    if (wanted("open")) open_cost(config);
    for (const Layout layout : {Layout::AsCreated, Layout::Incremental}) {
      if (wanted("steady")) steady(config, layout);
      if (wanted("clear")) clear(config, layout);
    }
    if (wanted("wal")) wal(config);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "hotstate_bench_space: %s\n", error.what());
    return 1;
  }
  std::filesystem::remove_all(config.dir);
  return 0;
}
