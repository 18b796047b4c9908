// Replication to PostgreSQL (issue 17): what it ships per second, how late a
// local commit arrives, and what a replicator adds to a local save, each next
// to a baseline measured in the same run.
//
//   hotstate_bench_replication [--quick] [--rounds R] [--rate SAVES_PER_S]
//                              [--dir DIR] [--cli PATH] [--pg-script PATH]
//                              [--only 1|2|3]
//
// It starts its own PostgreSQL 15 cluster (tools/scripts/pg-cluster.sh with
// HOTSTATE_PG_DURABLE=1: fsync on, PostgreSQL's defaults, Unix socket) in a
// new directory under DIR (default /tmp; the SQLite files go there too, on
// the same disk) and stops it and removes the directory at exit, also after
// a failure or SIGINT/SIGTERM.
//
// 1. Shipping. A file of N audit events (N = 10k and 100k; saves into 8
//    plugins with max_history 10 and ~300 bytes of data, so that each save
//    writes SnapshotSaved + HistoryTrimmed) is shipped with replicate_once
//    into a database created for the run (DROP/CREATE DATABASE before each
//    run, not timed), at batch_events 100, 2000 (the default) and 10000. The
//    baselines, alternating with it run by run: reading the same audit rows
//    from the file with the SQLite C API alone; one libpq COPY of those rows
//    (already formatted) into a table of the same shape (columns, primary
//    key, index on (kind, time_us), foreign key to a hosts table) in one
//    transaction, and in transactions of 2000 rows each; the floor is the
//    read plus the one COPY. The fixed cost of a run (connect, create the
//    schema, register the host, one batch) is replicate_once of a file with
//    no saves into a fresh database.
// 2. Lag. A follower (StateManager::replicate, default poll_interval 20 ms)
//    runs while this thread saves at a steady rate (100/s, then 1000/s) at
//    Synchronous::Full. Per save, lag = when the follower's on_batch reported
//    a position at or past the save's last event (steady clock, taken in the
//    callback, right after PostgreSQL's COMMIT returned) minus when
//    save_snapshot returned. Baselines: the poll interval, and one PostgreSQL
//    commit (an autocommit INSERT of one row over the same socket) measured
//    before and after.
// 3. Overhead on a local save. Saves paced at --rate (default 1000/s), for
//    about 1 s per condition (so that it holds the follower's once-a-second
//    write of its position, after waiting for the one it makes when caught
//    up), at Normal and at Full, with: no replicator (A, twice per round: A1 and
//    A2), a follower in this process (B), a follower in another process (C:
//    `hotstate replicate --follow`); then the same with PostgreSQL stopped
//    (pg_ctl stop -m immediate), the followers retrying. Each round runs the
//    four conditions in a rotating order; each follower is started and
//    caught up before its timed saves and stopped after them. Per save: wall
//    time and the saving thread's CPU time (CLOCK_THREAD_CPUTIME_ID). Ratios
//    are taken per round against A1 and given as median (min-max) over the
//    rounds; A2/A1 is the spread of the baseline against itself, so a ratio
//    within A2/A1's range is "not measurable". Beside them, over the timed
//    saves, in % of one core: the follower's CPU (this process minus the
//    saving thread, or the other process), the PostgreSQL cluster's (its
//    postmaster and children, from /proc) and every other process's (the
//    machine's busy time from /proc/stat minus those): PostgreSQL runs on
//    this machine here, so its work competes with the saves, which a fleet's
//    remote server would not.
//
// Each part prints the machine's load over it (busy % from /proc/stat, this
// process's share, loadavg): other work on the machine moves every figure.
// --quick: one run per shipping figure, 3 rounds of 300 saves, 1.5 s of lag.
//
// Exit status 1 if something did not ship (a count differs, a wait times out).
#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "hotstate/hotstate.hpp"

extern char** environ;

namespace {

using hotstate_bench::check_rc;
using hotstate_bench::make_snapshot;
using Clock = std::chrono::steady_clock;

#ifndef HOTSTATE_BENCH_CLI
#define HOTSTATE_BENCH_CLI "hotstate"
#endif
#ifndef HOTSTATE_BENCH_PG_SCRIPT
#define HOTSTATE_BENCH_PG_SCRIPT "tools/scripts/pg-cluster.sh"
#endif

struct Config {
  bool quick = false;
  int rounds = 5;           // part 3
  int ship_runs = 3;        // part 1, per figure
  double rate = 1000;       // part 3, saves per second
  int saves_per_round = 1000;  // a round of about 1 s: one position record of a follower (once a second)
  double lag_seconds = 3;
  std::string base_dir = "/tmp";
  std::string cli = HOTSTATE_BENCH_CLI;
  std::string script = HOTSTATE_BENCH_PG_SCRIPT;
  int only = 0;
};

bool failed = false;

void fail_soft(const std::string& what) {
  std::fprintf(stderr, "FAILED: %s\n", what.c_str());
  failed = true;
}

// --- cleanup, also from a signal handler (fork + execv + waitpid only) -----

char g_bash[] = "/bin/bash";
char g_stop[] = "stop";
std::string g_script;
std::string g_cluster_dir;
std::string g_temp_dir;
volatile sig_atomic_t g_cluster_up = 0;
volatile pid_t g_child = 0;

void run_quietly(char* const argv[]) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
      dup2(null, 1);
      dup2(null, 2);
    }
    execv(argv[0], argv);
    _exit(127);
  }
  if (pid > 0) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

void cleanup() {
  if (g_child > 0) {
    kill(g_child, SIGKILL);
    int status = 0;
    waitpid(g_child, &status, 0);
    g_child = 0;
  }
  if (g_cluster_up) {
    g_cluster_up = 0;
    char* argv[] = {g_bash, const_cast<char*>(g_script.c_str()), g_stop, const_cast<char*>(g_cluster_dir.c_str()),
                    nullptr};
    run_quietly(argv);
  }
  if (!g_temp_dir.empty()) {
    char rm[] = "/bin/rm";
    char rf[] = "-rf";
    char* argv[] = {rm, rf, const_cast<char*>(g_temp_dir.c_str()), nullptr};
    run_quietly(argv);
  }
}

void on_signal(int sig) {
  cleanup();
  signal(sig, SIG_DFL);
  raise(sig);
}

std::string shell_quote(const std::string& word) {
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

void script(const char* command) {
  const std::string line = "bash " + shell_quote(g_script) + " " + command + " " + shell_quote(g_cluster_dir) +
                           " > /dev/null";
  if (std::system(line.c_str()) != 0) throw std::runtime_error("pg-cluster.sh " + std::string(command) + " failed");
}

// --- numbers ------------------------------------------------------------------

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(index, v.size() - 1)];
}
double median(const std::vector<double>& v) { return percentile(v, 0.5); }
double min_of(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }
double max_of(const std::vector<double>& v) { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }
double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string rate_text(double per_second) {
  char text[32];
  if (per_second >= 1e6) {
    std::snprintf(text, sizeof text, "%.2f M/s", per_second / 1e6);
  } else if (per_second >= 1e3) {
    std::snprintf(text, sizeof text, "%.1f k/s", per_second / 1e3);
  } else {
    std::snprintf(text, sizeof text, "%.0f /s", per_second);
  }
  return text;
}

// --- the machine's load ---------------------------------------------------------

struct MachineSample {
  double busy = 0;   // jiffies not idle/iowait, all CPUs
  double total = 0;  // all jiffies, all CPUs
  double own_cpu = 0;
  Clock::time_point at;
};
MachineSample machine_now() {
  MachineSample s;
  std::ifstream stat("/proc/stat");
  std::string cpu;
  stat >> cpu;
  double v[10] = {};
  for (double& x : v) stat >> x;
  for (int i = 0; i < 8; ++i) s.total += v[i];
  s.busy = s.total - v[3] - v[4];
  s.own_cpu = process_cpu_seconds();
  s.at = Clock::now();
  return s;
}
std::string loadavg() {
  std::ifstream file("/proc/loadavg");
  std::string a, b, c;
  file >> a >> b >> c;
  return a + " " + b + " " + c;
}
void print_load(const char* part, const MachineSample& from) {
  const auto to = machine_now();
  const double wall = std::chrono::duration<double>(to.at - from.at).count();
  const double cores = static_cast<double>(std::thread::hardware_concurrency());
  const double busy = to.total > from.total ? (to.busy - from.busy) / (to.total - from.total) : 0;
  std::printf("  [%s: %.0f s; machine busy %.0f %% of %g cores (this process %.0f %% of one core); loadavg %s]\n",
              part, wall, busy * 100, cores, (to.own_cpu - from.own_cpu) / wall * 100, loadavg().c_str());
  std::fflush(stdout);
}

// --- libpq ----------------------------------------------------------------------

class Pg {
 public:
  explicit Pg(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      const std::string message = conn_ ? PQerrorMessage(conn_) : "out of memory";
      if (conn_) PQfinish(conn_);
      throw std::runtime_error("cannot connect to " + url + ": " + message);
    }
    // Quiet: a pause sends "terminating connection due to immediate shutdown".
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
    exec("SET client_min_messages = warning");
  }
  ~Pg() { PQfinish(conn_); }
  Pg(const Pg&) = delete;
  Pg& operator=(const Pg&) = delete;

  // The first column of the first row, "" when none.
  std::string exec(const std::string& sql) {
    PGresult* result = PQexec(conn_, sql.c_str());
    const auto status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      const std::string message = PQerrorMessage(conn_);
      PQclear(result);
      throw std::runtime_error(sql.substr(0, 80) + ": " + message);
    }
    std::string value = PQntuples(result) > 0 && PQnfields(result) > 0 ? PQgetvalue(result, 0, 0) : "";
    PQclear(result);
    return value;
  }
  // As exec, nullopt instead of throwing.
  std::optional<std::string> try_exec(const std::string& sql) {
    try {
      return exec(sql);
    } catch (const std::runtime_error&) {
      return std::nullopt;
    }
  }
  void copy(const std::string& sql, const std::string& data) {
    PGresult* start = PQexec(conn_, sql.c_str());
    if (PQresultStatus(start) != PGRES_COPY_IN) {
      PQclear(start);
      throw std::runtime_error(sql + ": " + PQerrorMessage(conn_));
    }
    PQclear(start);
    constexpr std::size_t piece = 1 << 20;
    for (std::size_t at = 0; at < data.size(); at += piece) {
      if (PQputCopyData(conn_, data.data() + at, static_cast<int>(std::min(piece, data.size() - at))) != 1) {
        throw std::runtime_error("PQputCopyData: " + std::string(PQerrorMessage(conn_)));
      }
    }
    if (PQputCopyEnd(conn_, nullptr) != 1) throw std::runtime_error("PQputCopyEnd");
    bool ok = true;
    while (PGresult* result = PQgetResult(conn_)) {
      if (PQresultStatus(result) != PGRES_COMMAND_OK) ok = false;
      PQclear(result);
    }
    if (!ok) throw std::runtime_error(sql + ": " + PQerrorMessage(conn_));
  }

 private:
  PGconn* conn_;
};

std::string g_admin_url;  // database hotstate_test

std::string url_of(const std::string& database) {
  const std::string scheme = "postgresql:///";
  const auto query = g_admin_url.find('?');
  if (g_admin_url.rfind(scheme, 0) != 0 || query == std::string::npos) {
    throw std::runtime_error("unexpected URL form: " + g_admin_url);
  }
  return scheme + database + g_admin_url.substr(query);
}

// A new, empty database; returns its URL.
std::string fresh_database(const std::string& name) {
  Pg admin(g_admin_url);
  admin.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  admin.exec("CREATE DATABASE " + name);
  return url_of(name);
}

// --- files ------------------------------------------------------------------------

constexpr int plugins = 8;

hotstate::Options file_options(const std::string& path, hotstate::Synchronous sync) {
  hotstate::Options options;
  options.path = path;
  options.synchronous = sync;
  options.max_history = 10;
  return options;
}

// Saves round-robin into the 8 plugins until the file holds `events` audit
// events (batches of up to 1000 saves; each save past the warm-up writes two).
void fill(hotstate::StateManager& manager, std::uint64_t events, long& counter) {
  while (manager.newest_event_id() < events) {
    const auto remaining = events - manager.newest_event_id();
    const auto count = std::clamp<std::uint64_t>(remaining / 2, 1, 1000);
    std::vector<hotstate::StateSnapshot> batch;
    batch.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i, ++counter) {
      batch.push_back(make_snapshot("plugin-" + std::to_string(counter % plugins), counter));
    }
    manager.save_snapshots(std::move(batch));
  }
}

void remove_file(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(path + suffix);
}

// The audit rows as COPY text, led by the host id (what the shipper sends).
void append_copy_text(std::string& out, const char* value, int size) {
  for (int i = 0; i < size; ++i) {
    const char c = value[i];
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
}

struct AuditRows {
  std::vector<std::string> copy_lines;  // one COPY line per event
  std::size_t bytes = 0;
};

// Reads the file's audit events with the SQLite C API alone (the columns the
// shipper reads, each copied out as read_rows does); with `lines` also
// formats them as COPY lines.
AuditRows read_audit_rows(const std::string& path, bool lines) {
  sqlite3* db = nullptr;
  check_rc(db, sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), "open");
  sqlite3_stmt* select = nullptr;
  check_rc(db,
           sqlite3_prepare_v2(db,
                              "SELECT id, time_us, plugin_id, kind, detail, chain, chain_position, mac"
                              " FROM audit_events WHERE id > ?1 ORDER BY id",
                              -1, &select, nullptr),
           "prepare");
  sqlite3_bind_int64(select, 1, 0);
  AuditRows rows;
  std::vector<std::string> cells(8);
  std::vector<bool> nulls(8);
  int rc = 0;
  while ((rc = sqlite3_step(select)) == SQLITE_ROW) {
    for (int i = 0; i < 8; ++i) {
      nulls[i] = sqlite3_column_type(select, i) == SQLITE_NULL;
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(select, i));
      cells[i].assign(text ? text : "", static_cast<std::size_t>(sqlite3_column_bytes(select, i)));
    }
    if (lines) {
      std::string line = "bench";
      for (int i = 0; i < 8; ++i) {
        line += '\t';
        if (nulls[i]) {
          line += "\\N";
        } else {
          append_copy_text(line, cells[i].data(), static_cast<int>(cells[i].size()));
        }
      }
      line += '\n';
      rows.bytes += line.size();
      rows.copy_lines.push_back(std::move(line));
    }
  }
  check_rc(db, rc, "step");
  sqlite3_finalize(select);
  sqlite3_close(db);
  return rows;
}

// The table of the raw COPY: hotstate.audit_events' columns, primary key,
// index and foreign key.
void create_raw_table(Pg& pg) {
  pg.exec("CREATE TABLE raw_hosts (host_id text PRIMARY KEY)");
  pg.exec("INSERT INTO raw_hosts VALUES ('bench')");
  pg.exec(
      "CREATE TABLE raw_audit (host_id text NOT NULL REFERENCES raw_hosts ON DELETE CASCADE, id bigint NOT NULL,"
      " time_us bigint NOT NULL, plugin_id text NOT NULL, kind text NOT NULL, detail text NOT NULL, chain text,"
      " chain_position bigint, mac text, pruned_by bigint, PRIMARY KEY (host_id, id))");
  pg.exec("CREATE INDEX raw_audit_by_kind ON raw_audit (kind, time_us)");
}

const char* raw_copy_sql =
    "COPY raw_audit (host_id, id, time_us, plugin_id, kind, detail, chain, chain_position, mac) FROM STDIN";

// ============================================================================
// 1. Shipping
// ============================================================================

struct ShipFigure {
  std::string name;
  std::vector<double> seconds;
  std::uint64_t rows = 0;     // rows PostgreSQL holds after (audit events + snapshots + hosts + ...)
  std::uint64_t batches = 0;  // PostgreSQL transactions
};

std::uint64_t hotstate_rows(const std::string& url) {
  Pg pg(url);
  return std::stoull(pg.exec(
      "SELECT (SELECT count(*) FROM hotstate.audit_events) + (SELECT count(*) FROM hotstate.snapshots)"
      " + (SELECT count(*) FROM hotstate.hosts) + (SELECT count(*) FROM hotstate.plugin_states)"
      " + (SELECT count(*) FROM hotstate.reloads) + (SELECT count(*) FROM hotstate.pins)"
      " + (SELECT count(*) FROM hotstate.audit_gaps)"));
}

void part_shipping(const Config& config, const std::string& dir) {
  std::printf("\n1. Shipping: replicate_once of a file of N events into a new database (durable PostgreSQL)\n");
  std::printf("   median of %d runs per figure, alternating; times exclude DROP/CREATE DATABASE\n", config.ship_runs);
  const auto load = machine_now();

  // The fixed cost: a file with no saves.
  std::vector<double> fixed;
  {
    const std::string path = dir + "/ship-empty.db";
    remove_file(path);
    hotstate::StateManager manager(file_options(path, hotstate::Synchronous::Normal));
    hotstate::ReplicationOptions options;
    options.host_id = "bench";
    for (int run = 0; run < config.ship_runs; ++run) {
      const auto url = fresh_database("ship");
      const auto t0 = Clock::now();
      manager.replicate_once(url, options);
      fixed.push_back(seconds_since(t0));
    }
  }
  std::printf("   fixed cost of a run (connect, create the schema, register the host; file with %s): %.1f ms "
              "(%.1f-%.1f)\n",
              "no saves", median(fixed) * 1e3, min_of(fixed) * 1e3, max_of(fixed) * 1e3);

  struct Result {
    std::uint64_t events;
    std::vector<ShipFigure> figures;
    double read_s, copy_s;
  };
  std::vector<Result> results;

  for (const std::uint64_t target : {std::uint64_t{10000}, std::uint64_t{100000}}) {
    const std::string path = dir + "/ship-" + std::to_string(target) + ".db";
    remove_file(path);
    hotstate::StateManager manager(file_options(path, hotstate::Synchronous::Normal));
    long counter = 0;
    fill(manager, target, counter);
    const std::uint64_t events = manager.newest_event_id();

    std::vector<std::size_t> batch_sizes = {100, 2000, 10000};
    if (config.quick && target > 10000) batch_sizes = {2000, 10000};
    std::vector<ShipFigure> ships;
    for (auto b : batch_sizes) ships.push_back({"hotstate replicate_once, batch_events " + std::to_string(b), {}, 0, 0});
    ShipFigure read{"read the audit rows from SQLite alone (C API)", {}, events, 0};
    ShipFigure copy_one{"raw COPY of the audit rows, 1 transaction", {}, events, 1};
    ShipFigure copy_chunked{"raw COPY, transactions of 2000 rows", {}, events, (events + 1999) / 2000};

    double pg_bytes_per_event = 0;
    const AuditRows rows = read_audit_rows(path, true);
    if (rows.copy_lines.size() != events) fail_soft("the file's audit rows are not its newest event id");
    std::string all;
    all.reserve(rows.bytes);
    for (const auto& line : rows.copy_lines) all += line;
    std::vector<std::string> chunks;
    for (std::size_t i = 0; i < rows.copy_lines.size(); i += 2000) {
      std::string chunk;
      for (std::size_t j = i; j < std::min(i + 2000, rows.copy_lines.size()); ++j) chunk += rows.copy_lines[j];
      chunks.push_back(std::move(chunk));
    }

    const std::size_t kinds = ships.size() + 3;
    for (int run = 0; run < config.ship_runs; ++run) {
      for (std::size_t k = 0; k < kinds; ++k) {
        const std::size_t which = (k + static_cast<std::size_t>(run)) % kinds;
        if (which < ships.size()) {
          auto& figure = ships[which];
          const auto url = fresh_database("ship");
          hotstate::ReplicationOptions options;
          options.host_id = "bench";
          options.batch_events = batch_sizes[which];
          const auto t0 = Clock::now();
          const auto report = manager.replicate_once(url, options);
          figure.seconds.push_back(seconds_since(t0));
          figure.batches = report.batches;
          if (report.events != events || report.position != events) {
            fail_soft(figure.name + ": shipped " + std::to_string(report.events) + " of " + std::to_string(events));
          }
          if (figure.rows == 0) {
            figure.rows = hotstate_rows(url);
            if (pg_bytes_per_event == 0) {
              Pg pg(url);
              pg_bytes_per_event =
                  std::stod(pg.exec("SELECT pg_total_relation_size('hotstate.audit_events')")) / static_cast<double>(events);
            }
          }
        } else if (which == ships.size()) {
          const auto t0 = Clock::now();
          const auto read_back = read_audit_rows(path, false);
          read.seconds.push_back(seconds_since(t0));
          (void)read_back;
        } else {
          const bool chunked = which == ships.size() + 2;
          auto& figure = chunked ? copy_chunked : copy_one;
          const auto url = fresh_database("ship");
          Pg pg(url);
          create_raw_table(pg);
          const auto t0 = Clock::now();
          if (chunked) {
            for (const auto& chunk : chunks) {
              pg.exec("BEGIN");
              pg.copy(raw_copy_sql, chunk);
              pg.exec("COMMIT");
            }
          } else {
            pg.exec("BEGIN");
            pg.copy(raw_copy_sql, all);
            pg.exec("COMMIT");
          }
          figure.seconds.push_back(seconds_since(t0));
          if (std::stoull(pg.exec("SELECT count(*) FROM raw_audit")) != events) fail_soft(figure.name + ": count");
        }
      }
    }

    const double floor_s = median(read.seconds) + median(copy_one.seconds);
    std::printf("\n   N = %llu audit events (%.1f MB as COPY text), %d plugins, %llu snapshot rows in the file\n",
                static_cast<unsigned long long>(events), static_cast<double>(rows.bytes) / 1e6, plugins,
                static_cast<unsigned long long>(plugins * 11));
    std::printf("   %-52s %9s %10s %11s %11s %8s %9s\n", "figure", "time", "(min-max)", "events/s", "rows/s",
                "commits", "÷ floor");
    auto row = [&](const ShipFigure& f, bool ratio) {
      const double t = median(f.seconds);
      char range[32];
      std::snprintf(range, sizeof range, "%.0f-%.0f", min_of(f.seconds) * 1e3, max_of(f.seconds) * 1e3);
      char ratio_text[16] = "";
      if (ratio) std::snprintf(ratio_text, sizeof ratio_text, "%.2fx", t / floor_s);
      std::printf("   %-52s %6.0f ms %10s %11s %11s %8llu %9s\n", f.name.c_str(), t * 1e3, range,
                  rate_text(static_cast<double>(events) / t).c_str(),
                  rate_text(static_cast<double>(f.rows) / t).c_str(), static_cast<unsigned long long>(f.batches),
                  ratio_text);
    };
    row(read, false);
    row(copy_one, false);
    row(copy_chunked, true);
    std::printf("   %-52s %6.0f ms %10s %11s\n", "floor: the read + one COPY", floor_s * 1e3, "",
                rate_text(static_cast<double>(events) / floor_s).c_str());
    for (const auto& ship : ships) row(ship, true);
    std::printf("   PostgreSQL holds %.0f bytes per event in hotstate.audit_events (table, TOAST and indexes); the "
                "COPY text is %.0f bytes per event\n",
                pg_bytes_per_event, static_cast<double>(rows.bytes) / static_cast<double>(events));
    std::fflush(stdout);
    std::vector<ShipFigure> all_figures = ships;
    all_figures.push_back(read);
    all_figures.push_back(copy_one);
    all_figures.push_back(copy_chunked);
    results.push_back({events, all_figures, median(read.seconds), median(copy_one.seconds)});
  }

  if (results.size() == 2) {
    std::printf("\n   growth: time at N=%llu / time at N=%llu; the extra events' rate, (N2 - N1) / (t2 - t1)\n",
                static_cast<unsigned long long>(results[1].events), static_cast<unsigned long long>(results[0].events));
    const double extra = static_cast<double>(results[1].events - results[0].events);
    for (const auto& figure : results[1].figures) {
      for (const auto& small : results[0].figures) {
        if (small.name != figure.name) continue;
        const double t1 = median(small.seconds);
        const double t2 = median(figure.seconds);
        std::printf("   %-52s %6.2fx %11s\n", figure.name.c_str(), t2 / t1, rate_text(extra / (t2 - t1)).c_str());
      }
    }
  }
  print_load("part 1", load);
}

// ============================================================================
// 2. Lag
// ============================================================================

struct Shipment {
  Clock::time_point at;
  std::uint64_t position;
};

std::vector<double> commit_round_trips(const std::string& url, int count) {
  Pg pg(url);
  pg.exec("CREATE TABLE IF NOT EXISTS rtt (id bigint)");
  std::vector<double> ms;
  for (int i = 0; i < count; ++i) {
    const auto t0 = Clock::now();
    pg.exec("INSERT INTO rtt VALUES (1)");
    ms.push_back(seconds_since(t0) * 1e3);
  }
  return ms;
}

void part_lag(const Config& config, const std::string& dir) {
  std::printf("\n2. Lag from save_snapshot's return to PostgreSQL's commit of its events (follower, default options)\n");
  const auto load = machine_now();
  const std::string path = dir + "/lag.db";
  remove_file(path);
  const auto url = fresh_database("lag");
  hotstate::StateManager manager(file_options(path, hotstate::Synchronous::Full));
  long counter = 0;
  fill(manager, 200, counter);

  std::vector<double> rtt = commit_round_trips(url, 200);

  std::mutex mutex;
  std::vector<Shipment> shipments;
  shipments.reserve(100000);
  hotstate::ReplicationOptions options;
  options.host_id = "lag";
  const auto poll = options.poll_interval;
  options.on_batch = [&](std::uint64_t position, std::uint64_t) {
    const auto now = Clock::now();
    std::lock_guard lock(mutex);
    shipments.push_back({now, position});
  };
  auto replication = manager.replicate(url, options);
  if (!replication.wait_shipped(manager.newest_event_id(), std::chrono::seconds(60))) {
    throw std::runtime_error("lag: the follower did not catch up: " + replication.stats().last_error);
  }

  std::printf("   %-34s %9s %9s %9s %9s %10s %8s\n", "figure", "median", "p99", "max", "min", "saves/s", "batches");
  struct LagResult {
    double rate;
    std::vector<double> lag_ms;
    double achieved;
    std::uint64_t batches;
  };
  std::vector<LagResult> results;
  for (const double rate : {100.0, 1000.0}) {
    const auto stats0 = replication.stats();
    const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate));
    const int saves = static_cast<int>(rate * config.lag_seconds);
    std::vector<Clock::time_point> returned;
    std::vector<std::uint64_t> event_ids;
    returned.reserve(static_cast<std::size_t>(saves));
    event_ids.reserve(static_cast<std::size_t>(saves));
    const auto t0 = Clock::now();
    auto next = t0;
    for (int i = 0; i < saves; ++i) {
      std::this_thread::sleep_until(next);
      manager.save_snapshot(make_snapshot("plugin-" + std::to_string(counter % plugins), counter));
      ++counter;
      returned.push_back(Clock::now());
      event_ids.push_back(manager.newest_event_id());  // only this thread writes events
      next = std::max(next + period, Clock::now());
    }
    const double achieved = saves / seconds_since(t0);
    if (!replication.wait_shipped(event_ids.back(), std::chrono::seconds(30))) {
      fail_soft("lag: not shipped within 30 s: " + replication.stats().last_error);
      continue;
    }
    std::vector<Shipment> seen;
    {
      std::lock_guard lock(mutex);
      seen = shipments;
    }
    std::vector<double> lag_ms;
    for (std::size_t i = 0; i < returned.size(); ++i) {
      const auto found = std::find_if(seen.begin(), seen.end(),
                                      [&](const Shipment& s) { return s.position >= event_ids[i]; });
      if (found == seen.end()) {
        fail_soft("lag: no batch reported event " + std::to_string(event_ids[i]));
        break;
      }
      lag_ms.push_back(std::chrono::duration<double, std::milli>(found->at - returned[i]).count());
    }
    results.push_back({rate, lag_ms, achieved, replication.stats().batches - stats0.batches});
  }
  replication.stop();
  const auto rtt_after = commit_round_trips(url, 200);
  rtt.insert(rtt.end(), rtt_after.begin(), rtt_after.end());

  std::printf("   %-34s %6.2f ms %6.2f ms %6.2f ms %6.2f ms\n", "PostgreSQL commit (autocommit INSERT)",
              median(rtt), percentile(rtt, 0.99), max_of(rtt), min_of(rtt));
  std::printf("   %-34s %6.2f ms\n", "poll interval (a look every)", static_cast<double>(poll.count()));
  for (const auto& r : results) {
    char name[64];
    std::snprintf(name, sizeof name, "lag at %.0f saves/s (Full)", r.rate);
    std::printf("   %-34s %6.2f ms %6.2f ms %6.2f ms %6.2f ms %10.0f %8llu\n", name, median(r.lag_ms),
                percentile(r.lag_ms, 0.99), max_of(r.lag_ms), min_of(r.lag_ms), r.achieved,
                static_cast<unsigned long long>(r.batches));
  }
  for (const auto& r : results) {
    std::printf("   at %.0f/s: median lag = %.2f x the poll interval, %.1f x one PostgreSQL commit; %.1f saves per "
                "batch\n",
                r.rate, median(r.lag_ms) / static_cast<double>(poll.count()), median(r.lag_ms) / median(rtt),
                r.batches ? static_cast<double>(r.lag_ms.size()) / static_cast<double>(r.batches) : 0.0);
  }
  print_load("part 2", load);
}

// ============================================================================
// 3. Overhead on a local save
// ============================================================================

// A follower in another process: `hotstate --db FILE replicate --follow`.
class ChildFollower {
 public:
  ChildFollower(const Config& config, const std::string& db, const std::string& url, const std::string& host_id,
                const std::string& log) {
    std::vector<std::string> args = {config.cli, "--db", db, "replicate", "--follow", "--to", url, "--host-id",
                                     host_id};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, config.cli.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + config.cli + ": " + std::strerror(rc));
    pid_ = pid;
    g_child = pid;
  }
  ~ChildFollower() { stop(); }
  ChildFollower(const ChildFollower&) = delete;
  ChildFollower& operator=(const ChildFollower&) = delete;
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    g_child = 0;
    pid_ = 0;
  }
  bool alive() const {
    int status = 0;
    return pid_ > 0 && waitpid(pid_, &status, WNOHANG) == 0;
  }

 private:
  pid_t pid_ = 0;
};

// Waits until PostgreSQL holds host_id's events up to `event_id`; `pg` is
// connected again when it was lost (a pause).
bool wait_in_postgresql(const std::string& url, std::unique_ptr<Pg>& pg, const std::string& host_id,
                        std::uint64_t event_id, std::chrono::seconds timeout) {
  const auto until = Clock::now() + timeout;
  while (Clock::now() < until) {
    std::optional<std::string> value;
    try {
      if (!pg) pg = std::make_unique<Pg>(url);
      value = pg->try_exec("SELECT shipped_event_id FROM hotstate.hosts WHERE host_id = '" + host_id + "'");
      if (!value) pg.reset();
    } catch (const std::runtime_error&) {
      pg.reset();
    }
    if (value && !value->empty() && std::stoull(*value) >= event_id) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

// CPU seconds (user + system) of process `pid` from /proc, 0 when gone.
double proc_cpu_seconds(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(file, text);
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream rest(text.substr(paren + 2));
  std::string field;
  double utime = 0;
  double stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

pid_t proc_parent(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(file, text);
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream rest(text.substr(paren + 2));
  std::string state;
  pid_t parent = 0;
  rest >> state >> parent;
  return parent;
}

// CPU seconds of every process of the cluster (the postmaster and its
// children: backends, WAL writer, checkpointer), by pid.
std::vector<std::pair<pid_t, double>> postgresql_cpu() {
  std::vector<std::pair<pid_t, double>> cpu;
  std::ifstream pidfile(g_cluster_dir + "/data/postmaster.pid");
  pid_t postmaster = 0;
  if (!(pidfile >> postmaster) || postmaster <= 0) return cpu;
  cpu.emplace_back(postmaster, proc_cpu_seconds(postmaster));
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(name));
    if (proc_parent(pid) == postmaster) cpu.emplace_back(pid, proc_cpu_seconds(pid));
  }
  return cpu;
}
double postgresql_cpu_since(const std::vector<std::pair<pid_t, double>>& before) {
  double delta = 0;
  for (const auto& [pid, now] : postgresql_cpu()) {
    double then = 0;
    for (const auto& [old_pid, old_cpu] : before) {
      if (old_pid == pid) then = old_cpu;
    }
    delta += now - then;
  }
  return delta;
}

// Waits until the file's replicas row of `host_id` records `event_id`: the
// replicator's write of its position after catching up is done, so that the
// timed saves see the steady state (one such write a second).
bool wait_recorded(hotstate::StateManager& manager, const std::string& host_id, std::uint64_t event_id) {
  const auto until = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < until) {
    for (const auto& replica : manager.replicas()) {
      if (replica.host_id == host_id && replica.shipped_event_id >= event_id) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

struct RoundFigures {
  double mean_wall_us = 0;
  double p50_wall_us = 0;
  double p99_wall_us = 0;
  double cpu_us = 0;
  double max_us = 0;
  double slow = 0;              // saves over 1 ms
  double saves = 0;             // saves timed
  double replicator_cpu = 0;    // the follower's CPU, % of one core, during the timed saves
  double postgresql_cpu = 0;    // the cluster's processes, % of one core
  double others_cpu = 0;        // every other process of the machine, % of one core
  double batches_per_s = 0;     // B: PostgreSQL transactions the follower committed, per second
};

enum Condition { A1, InProcess, A2, OtherProcess, conditions };
const char* condition_names[conditions] = {"A1: no replicator", "B: follower in this process", "A2: no replicator",
                                           "C: follower in another process"};

void part_overhead(const Config& config, const std::string& dir) {
  std::printf("\n3. A local save with and without a replicator: up to %d saves per condition per round, paced at %.0f/s, "
              "%d rounds,\n   conditions in rotating order; figures: median over rounds (min-max); ratios per round "
              "against A1\n",
              config.saves_per_round, config.rate, config.rounds);
  const auto load = machine_now();
  const auto url = fresh_database("fleet");
  std::unique_ptr<Pg> watcher;
  const std::string log = dir + "/follower.log";

  for (const auto sync : {hotstate::Synchronous::Normal, hotstate::Synchronous::Full}) {
    const char* level = sync == hotstate::Synchronous::Normal ? "Normal" : "Full";
    const std::string path = dir + "/overhead-" + level + ".db";
    remove_file(path);
    hotstate::StateManager manager(file_options(path, sync));
    long counter = 0;
    fill(manager, 400, counter);
    const auto save = [&] {
      manager.save_snapshot(make_snapshot("plugin-" + std::to_string(counter % plugins), counter));
      ++counter;
    };
    hotstate::ReplicationOptions in_options;
    in_options.host_id = std::string("in-process-") + level;
    const std::string other_host = std::string("other-process-") + level;
    // Both followers ship this file's backlog once before the rounds.
    {
      auto replication = manager.replicate(url, in_options);
      if (!replication.wait_shipped(manager.newest_event_id(), std::chrono::seconds(60))) {
        throw std::runtime_error("overhead: in-process follower did not catch up: " + replication.stats().last_error);
      }
    }
    {
      ChildFollower child(config, path, url, other_host, log);
      if (!wait_in_postgresql(url, watcher, other_host, manager.newest_event_id(), std::chrono::seconds(60))) {
        throw std::runtime_error("overhead: the other process did not catch up (see its log)");
      }
    }

    for (const bool down : {false, true}) {
      if (down) script("pause");
      std::vector<RoundFigures> figures[conditions];
      std::vector<double> ratio_wall[conditions];
      std::vector<double> ratio_cpu[conditions];
      std::vector<double> ratio_p99[conditions];
      for (int round = 0; round < config.rounds; ++round) {
        RoundFigures this_round[conditions];
        for (int k = 0; k < conditions; ++k) {
          const auto condition = static_cast<Condition>((k + round) % conditions);
          std::optional<hotstate::Replication> replication;
          std::optional<ChildFollower> child;
          pid_t child_pid = 0;
          if (condition == InProcess) {
            replication.emplace(manager.replicate(url, in_options));
            if (down) {
              const auto until = Clock::now() + std::chrono::seconds(5);
              while (replication->stats().failures == 0 && Clock::now() < until) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
              }
              if (replication->stats().failures == 0) fail_soft("overhead: the follower did not fail with PostgreSQL down");
            } else {
              const auto target = manager.newest_event_id();
              if (!replication->wait_shipped(target, std::chrono::seconds(30)) ||
                  !wait_recorded(manager, in_options.host_id, target)) {
                fail_soft("overhead: in-process follower did not catch up: " + replication->stats().last_error);
              }
            }
          } else if (condition == OtherProcess) {
            child.emplace(config, path, url, other_host, log);
            child_pid = g_child;
            if (down) {
              std::this_thread::sleep_for(std::chrono::milliseconds(150));  // started, its first connect failed
            } else {
              const auto target = manager.newest_event_id();
              if (!wait_in_postgresql(url, watcher, other_host, target, std::chrono::seconds(30)) ||
                  !wait_recorded(manager, other_host, target)) {
                fail_soft("overhead: the other process did not catch up");
              }
            }
            if (!child->alive()) fail_soft("overhead: the other process exited (see its log)");
          }
          std::vector<double> wall_us;
          std::vector<double> cpu_us;
          wall_us.reserve(static_cast<std::size_t>(config.saves_per_round));
          const auto period =
              std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / config.rate));
          const auto pg_before = postgresql_cpu();
          const double child_before = child_pid > 0 ? proc_cpu_seconds(child_pid) : 0;
          const double saver_before = thread_cpu_seconds();
          const std::uint64_t batches_before = replication ? replication->stats().batches : 0;
          const auto machine_before = machine_now();
          const auto round_start = Clock::now();
          const auto round_end = round_start + std::chrono::duration_cast<Clock::duration>(
                                                   std::chrono::duration<double>(config.saves_per_round / config.rate));
          auto next = round_start;
          // saves_per_round at the rate, or fewer when saves are slower than
          // the rate (a busy disk): a round lasts about 1 s either way.
          for (int i = 0; i < config.saves_per_round && next < round_end; ++i) {
            std::this_thread::sleep_until(next);
            const double c0 = thread_cpu_seconds();
            const auto w0 = Clock::now();
            save();
            const auto w1 = Clock::now();
            cpu_us.push_back((thread_cpu_seconds() - c0) * 1e6);
            wall_us.push_back(std::chrono::duration<double, std::micro>(w1 - w0).count());
            next = std::max(next + period, w1);
          }
          const auto machine_after = machine_now();
          const double elapsed = std::chrono::duration<double>(machine_after.at - machine_before.at).count();
          const double own = machine_after.own_cpu - machine_before.own_cpu;
          const double saver = thread_cpu_seconds() - saver_before;
          const double child_cpu = child_pid > 0 ? proc_cpu_seconds(child_pid) - child_before : 0;
          const double pg_cpu = postgresql_cpu_since(pg_before);
          const std::uint64_t batches = replication ? replication->stats().batches - batches_before : 0;
          const double cores = static_cast<double>(std::thread::hardware_concurrency());
          const double busy = machine_after.total > machine_before.total
                                  ? (machine_after.busy - machine_before.busy) /
                                        (machine_after.total - machine_before.total) * cores * elapsed
                                  : 0;
          if (replication) {
            if (!down && !replication->wait_shipped(manager.newest_event_id(), std::chrono::seconds(30))) {
              fail_soft("overhead: in-process follower fell behind");
            }
            replication->stop();
          }
          if (child) {
            if (!down && !wait_in_postgresql(url, watcher, other_host, manager.newest_event_id(),
                                             std::chrono::seconds(30))) {
              fail_soft("overhead: the other process fell behind");
            }
            child->stop();
          }
          RoundFigures& f = this_round[condition];
          f.mean_wall_us = mean(wall_us);
          f.p50_wall_us = median(wall_us);
          f.p99_wall_us = percentile(wall_us, 0.99);
          f.cpu_us = mean(cpu_us);
          f.max_us = max_of(wall_us);
          f.saves = static_cast<double>(wall_us.size());
          f.slow = static_cast<double>(std::count_if(wall_us.begin(), wall_us.end(), [](double us) { return us > 1000; }));
          f.replicator_cpu = std::max(0.0, child_pid > 0 ? child_cpu : own - saver) / elapsed * 100;
          f.postgresql_cpu = pg_cpu / elapsed * 100;
          f.others_cpu = std::max(0.0, busy - own - child_cpu - pg_cpu) / elapsed * 100;
          f.batches_per_s = static_cast<double>(batches) / elapsed;
        }
        for (int c = 0; c < conditions; ++c) {
          figures[c].push_back(this_round[c]);
          ratio_wall[c].push_back(this_round[c].mean_wall_us / this_round[A1].mean_wall_us);
          ratio_cpu[c].push_back(this_round[c].cpu_us / this_round[A1].cpu_us);
          ratio_p99[c].push_back(this_round[c].p99_wall_us / this_round[A1].p99_wall_us);
        }
      }
      if (down) script("resume");

      std::printf("\n   %s, PostgreSQL %s\n", level, down ? "DOWN (followers retrying)" : "up");
      std::printf("   %-32s %-18s %-18s %-18s %-18s %-20s %-11s %s\n", "condition", "wall, mean", "wall, p99",
                  "saver CPU", "wall, p50", "wall, max", "saves>1ms", "CPU %: repl / PG / others");
      auto cell = [](const std::vector<RoundFigures>& v, double RoundFigures::*member) {
        std::vector<double> x;
        for (const auto& f : v) x.push_back(f.*member);
        char text[48];
        std::snprintf(text, sizeof text, "%.0f us (%.0f-%.0f)", median(x), min_of(x), max_of(x));
        return std::string(text);
      };
      auto med = [](const std::vector<RoundFigures>& v, double RoundFigures::*member) {
        std::vector<double> x;
        for (const auto& f : v) x.push_back(f.*member);
        return median(x);
      };
      for (int c = 0; c < conditions; ++c) {
        double slow = 0;
        double saves = 0;
        for (const auto& f : figures[c]) {
          slow += f.slow;
          saves += f.saves;
        }
        char slow_text[32];
        std::snprintf(slow_text, sizeof slow_text, "%.0f/%.0f", slow, saves);
        std::printf("   %-32s %-18s %-18s %-18s %-18s %-20s %-11s %.0f / %.0f / %.0f\n", condition_names[c],
                    cell(figures[c], &RoundFigures::mean_wall_us).c_str(),
                    cell(figures[c], &RoundFigures::p99_wall_us).c_str(),
                    cell(figures[c], &RoundFigures::cpu_us).c_str(),
                    cell(figures[c], &RoundFigures::p50_wall_us).c_str(),
                    cell(figures[c], &RoundFigures::max_us).c_str(), slow_text,
                    med(figures[c], &RoundFigures::replicator_cpu), med(figures[c], &RoundFigures::postgresql_cpu),
                    med(figures[c], &RoundFigures::others_cpu));
      }
      if (!down) {
        const double batches = med(figures[InProcess], &RoundFigures::batches_per_s);
        if (batches > 0) {
          std::printf("   B committed %.0f batches/s: per batch %.2f ms of the follower's CPU and %.2f ms of "
                      "PostgreSQL's\n",
                      batches, med(figures[InProcess], &RoundFigures::replicator_cpu) * 10 / batches,
                      med(figures[InProcess], &RoundFigures::postgresql_cpu) * 10 / batches);
        }
      }
      auto ratio = [](const std::vector<double>& r) {
        char text[48];
        std::snprintf(text, sizeof text, "%.2fx (%.2f-%.2f)", median(r), min_of(r), max_of(r));
        return std::string(text);
      };
      std::printf("   %-32s %-18s %-18s %-18s\n", "ratio to A1 (per round)", "wall, mean", "wall, p99", "saver CPU");
      const std::pair<int, const char*> ratios[] = {
          {A2, "A2 / A1 (baseline vs itself)"}, {InProcess, "B / A1"}, {OtherProcess, "C / A1"}};
      for (const auto& [c, label] : ratios) {
        std::printf("   %-32s %-18s %-18s %-18s\n", label, ratio(ratio_wall[c]).c_str(), ratio(ratio_p99[c]).c_str(),
                    ratio(ratio_cpu[c]).c_str());
      }
      std::fflush(stdout);
    }
  }
  print_load("part 3", load);
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--quick") {
      config.quick = true;
    } else if (arg == "--rounds") {
      config.rounds = std::stoi(value());
    } else if (arg == "--rate") {
      config.rate = std::stod(value());
      config.saves_per_round = static_cast<int>(config.rate);
    } else if (arg == "--dir") {
      config.base_dir = value();
    } else if (arg == "--cli") {
      config.cli = value();
    } else if (arg == "--pg-script") {
      config.script = value();
    } else if (arg == "--only") {
      config.only = std::stoi(value());
    } else {
      std::fprintf(stderr,
                   "usage: hotstate_bench_replication [--quick] [--rounds R] [--rate SAVES_PER_S] [--dir DIR] "
                   "[--cli PATH] [--pg-script PATH] [--only 1|2|3]\n");
      return 2;
    }
  }
  if (config.quick) {
    config.rounds = 3;
    config.ship_runs = 1;
    config.saves_per_round = 300;
    config.lag_seconds = 1.5;
  }

  g_script = config.script;
  std::string pattern = config.base_dir + "/hs-repl-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  g_temp_dir = pattern;
  // The cluster's owner (hotstate-pg, as root) must reach its directory.
  chmod(g_temp_dir.c_str(), 0755);
  g_cluster_dir = g_temp_dir + "/pg";
  for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGABRT, SIGSEGV}) signal(sig, on_signal);

  int status = 0;
  try {
    std::printf("hotstate_bench_replication: %s; loadavg %s; %u cores\n", config.quick ? "quick" : "full",
                loadavg().c_str(), std::thread::hardware_concurrency());
    setenv("HOTSTATE_PG_DURABLE", "1", 1);
    const auto t0 = Clock::now();
    g_cluster_up = 1;  // stop it whatever part of start ran
    script("start");
    {
      std::ifstream file(g_cluster_dir + "/url");
      std::getline(file, g_admin_url);
    }
    {
      Pg pg(g_admin_url);
      std::printf("PostgreSQL %s, fsync=%s, synchronous_commit=%s, wal_sync_method=%s (started in %.1f s)\n",
                  pg.exec("SHOW server_version").c_str(), pg.exec("SHOW fsync").c_str(),
                  pg.exec("SHOW synchronous_commit").c_str(), pg.exec("SHOW wal_sync_method").c_str(),
                  seconds_since(t0));
    }
    if (config.only == 0 || config.only == 1) part_shipping(config, g_temp_dir);
    if (config.only == 0 || config.only == 2) part_lag(config, g_temp_dir);
    if (config.only == 0 || config.only == 3) part_overhead(config, g_temp_dir);
    std::printf("\ntotal %.0f s; loadavg %s\n", seconds_since(t0), loadavg().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hotstate_bench_replication: %s\n", e.what());
    status = 1;
  }
  cleanup();
  if (failed) status = 1;
  return status;
}
