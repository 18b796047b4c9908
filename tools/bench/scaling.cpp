// hotstate's scaling benchmark: how the cost of each operation grows with the
// data it works on, each figure set against the same operation at the
// smallest size ("growth") and, where an operation's work grows with the data
// by nature (a listing, a verify, a large save), against the data's own
// growth.
//
//   hotstate_bench_scaling [--dir DIR] [--quick] [--verify-budget SECONDS]
//                          [--only plugins,history,sizes,events] [--keep]
//
// Four dimensions, one table each:
//   plugins   100, 10k, 100k, 1M plugins (2 rows each, max_history 1)
//   history   max_history 10, 100, 1k, 10k, every history full
//   sizes     snapshots of 1 KiB, 64 KiB, 1 MiB, 16 MiB of JSON data
//   events    1M and 10M audit events
// --quick stops at 100k plugins, history 1k, 1 MiB and 1M events (about 45
// s); the full run takes 5 to 6 minutes on 2 cores, most of it filling the
// files of 1M plugins and 10M events and waiting out verify's budget
// (--verify-budget, 30 s by default, 3 s with --quick), which verify
// overruns at 100k plugins and 1M events today.
//
// hotstate is used through its public API only. The SQLite C API fills the
// big files (raw INSERTs into hotstate's tables fire its triggers, so every
// row keeps its audit event and the data stays what hotstate would have
// written: each filler row copies the texts and hashes of a row hotstate
// saved), and measures the baselines: a raw INSERT of the same JSON text plus
// one audit-row-sized INSERT in one transaction on a plain table, and a raw
// point SELECT + simdjson parse. Each dimension fills its file once, growing
// it from one size to the next, and runs every operation on it; destructive
// ones (clear_all) run on a copy. Data files live under --dir (default
// build/bench-data-scaling); each dimension deletes its own when done, and
// the directory goes too when that leaves it empty (unless --keep).
#include <simdjson.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench_support.hpp"
#include "hotstate/hotstate.hpp"

namespace {

using hotstate_bench::make_snapshot;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Runs `f` and returns how long it took, in microseconds.
template <class F>
double timed_us(F&& f) {
  const auto start = Clock::now();
  f();
  return seconds_since(start) * 1e6;
}

// The cost of one operation from per-op samples: the samples are cut into
// up to 5 consecutive rounds and the median of the rounds' means is taken,
// so that occasional work a commit triggers (a WAL checkpoint) is counted,
// spread over its round, while one disturbed round is not.
double summarize(const std::vector<double>& samples) {
  if (samples.empty()) return -1;
  const std::size_t rounds = std::min<std::size_t>(5, samples.size());
  std::vector<double> means;
  for (std::size_t r = 0; r < rounds; ++r) {
    const std::size_t first = r * samples.size() / rounds;
    const std::size_t last = (r + 1) * samples.size() / rounds;
    double sum = 0;
    for (std::size_t i = first; i < last; ++i) sum += samples[i];
    means.push_back(sum / static_cast<double>(last - first));
  }
  std::sort(means.begin(), means.end());
  return means[means.size() / 2];
}

// Calls `op(i)` (which returns the microseconds of its timed part, leaving
// out its own preparation) at least `min_ops` times, then until `budget_s`
// seconds of wall time (preparation included) have passed or `max_ops`
// calls were made. Returns the cost per call in microseconds.
double sample_us(double budget_s, int min_ops, int max_ops, const std::function<double(int)>& op) {
  std::vector<double> samples;
  const auto start = Clock::now();
  for (int i = 0; i < max_ops && (i < min_ops || seconds_since(start) < budget_s); ++i) samples.push_back(op(i));
  return summarize(samples);
}

// The same for several operations run in turn, one call of each per turn,
// so that drift in the machine's speed (other work on it, the disk) hits
// them alike. Returns each one's cost per call.
std::vector<double> sample_in_turn(double budget_s, int min_ops, int max_ops,
                                   const std::vector<std::function<double(int)>>& ops) {
  std::vector<std::vector<double>> samples(ops.size());
  const auto start = Clock::now();
  for (int i = 0; i < max_ops && (i < min_ops || seconds_since(start) < budget_s); ++i) {
    for (std::size_t k = 0; k < ops.size(); ++k) samples[k].push_back(ops[k](i));
  }
  std::vector<double> costs;
  for (const auto& each : samples) costs.push_back(summarize(each));
  return costs;
}

// Two operations in turn: hotstate's and its baseline's cost per call.
std::pair<double, double> sample_pair_us(double budget_s, int min_ops, int max_ops,
                                         const std::function<double(int)>& ours,
                                         const std::function<double(int)>& theirs) {
  const std::vector<double> costs = sample_in_turn(budget_s, min_ops, max_ops, {ours, theirs});
  return {costs[0], costs[1]};
}

// --- Text --------------------------------------------------------------------

std::string printf_string(const char* format, double value, const char* unit) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value, unit);
  return buffer;
}

// Three significant digits.
std::string three_digits(double value, const char* unit) {
  if (value >= 100) return printf_string("%.0f %s", value, unit);
  if (value >= 10) return printf_string("%.1f %s", value, unit);
  return printf_string("%.2f %s", value, unit);
}

std::string fmt_time(double us) {
  if (us < 1) return three_digits(us * 1e3, "ns");
  if (us < 1e3) return three_digits(us, "us");
  if (us < 1e6) return three_digits(us / 1e3, "ms");
  return three_digits(us / 1e6, "s");
}

std::string fmt_bytes(double bytes) {
  if (bytes < 1024) return three_digits(bytes, "B");
  if (bytes < 1024.0 * 1024) return three_digits(bytes / 1024, "KiB");
  return three_digits(bytes / (1024.0 * 1024), "MiB");
}

std::string fmt_ratio(double ratio) {
  char buffer[32];
  if (ratio >= 100) {
    std::snprintf(buffer, sizeof buffer, "%.0fx", ratio);
  } else if (ratio >= 10) {
    std::snprintf(buffer, sizeof buffer, "%.1fx", ratio);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.2fx", ratio);
  }
  return buffer;
}

std::string count_label(long n) {
  if (n >= 1'000'000 && n % 1'000'000 == 0) return std::to_string(n / 1'000'000) + "M";
  if (n >= 1000 && n % 1000 == 0) return std::to_string(n / 1000) + "k";
  return std::to_string(n);
}

std::string size_label(std::size_t bytes) {
  if (bytes >= (std::size_t{1} << 20)) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= 1024) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " B";
}

void say(const std::string& line) {
  std::printf("  %s\n", line.c_str());
  std::fflush(stdout);
}

// --- Tables ------------------------------------------------------------------

// What a figure is expected to do as the data grows: stay flat (a point
// operation), grow with the data (an operation over all of it), or nothing
// in particular (a baseline or a ratio, shown for context).
enum class Expect { Flat, Linear, Context };
enum class Unit { Time, Bytes, Ratio };

struct Cell {
  double value = -1;     // microseconds, bytes or a ratio; < 0: not measured
  double at_least = -1;  // for a figure stopped by its time budget: the budget
};

struct Row {
  std::string name;
  Expect expect = Expect::Flat;
  Unit unit = Unit::Time;
  std::vector<Cell> cells;
};

struct Table {
  std::string title;
  std::vector<std::string> notes;
  std::vector<std::string> sizes;  // column labels
  std::vector<double> amounts;     // the data at each size, for its growth
  std::vector<Row> rows;

  Row& row(const std::string& name, Expect expect, Unit unit) {
    for (Row& existing : rows) {
      if (existing.name == name) return existing;
    }
    rows.push_back(Row{name, expect, unit, std::vector<Cell>(sizes.size())});
    return rows.back();
  }
  void set(const std::string& name, Expect expect, std::size_t column, double value, Unit unit = Unit::Time) {
    row(name, expect, unit).cells.at(column).value = value;
  }
  void set_over(const std::string& name, Expect expect, std::size_t column, double budget_us) {
    row(name, expect, Unit::Time).cells.at(column).at_least = budget_us;
  }
};

// Flat figures: the largest size against the smallest. Linear figures: the
// cost per item between each size and the next (the first size of a
// listing is mostly the call's fixed cost, so against it any listing looks
// sublinear); the worst step decides. A figure skipped for its time budget
// counts with the budget as a lower bound.
std::string verdict(const Table& table, const Row& row) {
  if (row.expect == Expect::Context) return "";
  const auto& cells = row.cells;
  if (cells.empty()) return "";
  if (cells.front().value <= 0) {
    const bool all_over = std::all_of(cells.begin(), cells.end(), [](const Cell& cell) { return cell.at_least > 0; });
    return all_over ? "over its time budget at every size" : "";
  }
  std::size_t measured = 0;  // the last measured size
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (cells[i].value > 0) measured = i;
  }
  std::string skipped;  // what a later skipped size proves
  for (std::size_t i = measured + 1; i < cells.size(); ++i) {
    if (cells[i].at_least <= 0) continue;
    const double per_item = (cells[i].at_least / cells[measured].value) / (table.amounts[i] / table.amounts[measured]);
    skipped = per_item > 1.5 ? "; SUPERLINEAR: from " + table.sizes[measured] + " to " + table.sizes[i] + " > " +
                                   fmt_ratio(per_item) + " per item"
                             : "; then skipped";
    if (per_item > 1.5) break;
  }
  if (measured == 0) return skipped.empty() ? "" : skipped.substr(2);
  if (row.expect == Expect::Flat) {
    const double growth = cells[measured].value / cells.front().value;
    return (growth <= 1.5 ? std::string("flat") : "grows " + fmt_ratio(growth) + " (flat expected)") + skipped;
  }
  double worst = 0;
  std::size_t worst_at = 0;
  for (std::size_t i = 1; i <= measured; ++i) {
    if (cells[i].value <= 0 || cells[i - 1].value <= 0) continue;
    const double per_item = (cells[i].value / cells[i - 1].value) / (table.amounts[i] / table.amounts[i - 1]);
    if (per_item > worst) {
      worst = per_item;
      worst_at = i;
    }
  }
  const std::string step = "from " + table.sizes[worst_at - 1] + " to " + table.sizes[worst_at];
  return (worst <= 1.5 ? "linear (per item at most " + fmt_ratio(worst) + ", " + step + ")"
                       : "SUPERLINEAR: " + fmt_ratio(worst) + " per item " + step) +
         skipped;
}

std::string format_value(Unit unit, double value) {
  switch (unit) {
    case Unit::Time: return fmt_time(value);
    case Unit::Bytes: return fmt_bytes(value);
    case Unit::Ratio: return fmt_ratio(value);
  }
  return "";
}

void print_table(const Table& table) {
  constexpr int name_width = 40;
  constexpr int cell_width = 19;
  std::printf("\n%s\n", table.title.c_str());
  for (const std::string& note : table.notes) std::printf("  %s\n", note.c_str());
  std::printf("  %-*s", name_width, "");
  for (const std::string& size : table.sizes) std::printf(" %*s", cell_width, size.c_str());
  std::printf("   verdict\n");
  std::printf("  %-*s", name_width, "(data growth)");
  for (const double amount : table.amounts) {
    std::printf(" %*s", cell_width, fmt_ratio(amount / table.amounts.front()).c_str());
  }
  std::printf("\n");
  for (const Row& row : table.rows) {
    std::printf("  %-*s", name_width, row.name.c_str());
    const double first = row.cells.front().value;
    for (const Cell& cell : row.cells) {
      std::string text;
      if (cell.value >= 0) {
        text = format_value(row.unit, cell.value);
        if (first > 0 && row.unit != Unit::Ratio) text += " " + fmt_ratio(cell.value / first);
      } else if (cell.at_least > 0) {
        text = "skipped, > " + fmt_time(cell.at_least);
      } else {
        text = "-";
      }
      std::printf(" %*s", cell_width, text.c_str());
    }
    std::printf("   %s\n", verdict(table, row).c_str());
  }
  std::fflush(stdout);
}

// --- Raw SQLite --------------------------------------------------------------

class Db {
 public:
  explicit Db(const fs::path& path) {
    const int rc = sqlite3_open_v2(path.string().c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    if (rc != SQLITE_OK) {
      const std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close_v2(db_);
      throw std::runtime_error("open " + path.string() + ": " + message);
    }
  }
  ~Db() { sqlite3_close_v2(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  sqlite3* get() const { return db_; }
  void exec(const std::string& sql) {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
  }
  std::int64_t scalar(const std::string& sql);
  [[noreturn]] void fail(std::string_view what) const {
    throw std::runtime_error(std::string(what) + ": " + sqlite3_errmsg(db_));
  }

 private:
  sqlite3* db_ = nullptr;
};

class Statement {
 public:
  Statement(Db& db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &statement_, nullptr) != SQLITE_OK) db.fail(sql);
  }
  ~Statement() { sqlite3_finalize(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Text bound without a copy: it must outlive the next step().
  Statement& bind(int index, std::string_view text) {
    sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    return *this;
  }
  Statement& bind(int index, std::int64_t value) {
    sqlite3_bind_int64(statement_, index, value);
    return *this;
  }
  Statement& bind_null(int index) {
    sqlite3_bind_null(statement_, index);
    return *this;
  }
  // True while there is a row; resets at the end.
  bool step() {
    const int rc = sqlite3_step(statement_);
    if (rc == SQLITE_ROW) return true;
    sqlite3_reset(statement_);
    if (rc != SQLITE_DONE) db_.fail("step");
    return false;
  }
  void run() {
    while (step()) {
    }
  }
  void reset() { sqlite3_reset(statement_); }
  std::int64_t integer(int column) const { return sqlite3_column_int64(statement_, column); }
  bool is_null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }
  std::string_view text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(statement_, column));
    return {data == nullptr ? "" : data, static_cast<std::size_t>(sqlite3_column_bytes(statement_, column))};
  }

 private:
  Db& db_;
  sqlite3_stmt* statement_ = nullptr;
};

std::int64_t Db::scalar(const std::string& sql) {
  Statement statement(*this, sql);
  if (!statement.step()) throw std::runtime_error(sql + ": no row");
  const std::int64_t value = statement.integer(0);
  statement.reset();
  return value;
}

// Empties the WAL of the database `db` is connected to (every frame copied
// into the database, the -wal file truncated to 0 bytes).
void checkpoint_truncate(Db& db) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    Statement checkpoint(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    if (!checkpoint.step()) throw std::runtime_error("wal_checkpoint returned no row");
    const bool busy = checkpoint.integer(0) != 0;
    checkpoint.reset();
    if (!busy) return;
    usleep(1000);
  }
  throw std::runtime_error("wal_checkpoint(TRUNCATE) stayed busy");
}

std::uintmax_t file_size_or_zero(const fs::path& path) {
  std::error_code error;
  const std::uintmax_t size = fs::file_size(path, error);
  return error ? 0 : size;
}

fs::path wal_of(const fs::path& path) { return path.string() + "-wal"; }

// What one save writes to the log: the -wal file's size after `save` wrote
// into an emptied WAL (its 32-byte header included). `checkpointer` is a
// connection to `database`. The median of five.
double wal_bytes_per_save(Db& checkpointer, const fs::path& database, const std::function<void()>& save) {
  std::vector<double> sizes;
  for (int i = 0; i < 5; ++i) {
    checkpoint_truncate(checkpointer);
    save();
    sizes.push_back(static_cast<double>(file_size_or_zero(wal_of(database))));
  }
  std::sort(sizes.begin(), sizes.end());
  return sizes[sizes.size() / 2];
}

void remove_database(const fs::path& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(path.string() + suffix);
}

// Bytes this process has passed to write(2) and its relatives so far
// (/proc/self/io wchar): WAL frames, checkpoints into the database, headers.
long long written_bytes() {
  std::ifstream in("/proc/self/io");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("wchar:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

// The plain tables of the raw baseline: the columns and indexes of
// hotstate's snapshots and audit_events, no constraints, no triggers.
void create_plain_tables(Db& db) {
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("CREATE TABLE IF NOT EXISTS snapshots (seq INTEGER PRIMARY KEY AUTOINCREMENT, plugin_id TEXT NOT NULL,"
          " timestamp INTEGER NOT NULL, plugin_version TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL,"
          " saved_at_us INTEGER NOT NULL)");
  db.exec("CREATE INDEX IF NOT EXISTS snapshots_by_plugin ON snapshots (plugin_id, seq)");
  db.exec("CREATE TABLE IF NOT EXISTS audit_events (id INTEGER PRIMARY KEY AUTOINCREMENT, time_us INTEGER NOT NULL,"
          " plugin_id TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL)");
  db.exec("CREATE INDEX IF NOT EXISTS audit_events_by_plugin ON audit_events (plugin_id, id)");
}

constexpr const char* plain_insert_sql =
    "INSERT INTO snapshots (plugin_id, timestamp, plugin_version, data, metadata, saved_at_us)"
    " VALUES (?1, 1700000000, '1.4.2', ?2, ?3, 1700000000000000)";
// One audit row the size of hotstate's SnapshotSaved event.
constexpr const char* plain_audit_sql =
    "INSERT INTO audit_events (time_us, plugin_id, kind, detail) VALUES (1700000000000000, ?1, 'SnapshotSaved',"
    " '{\"content_hash\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
    "\"plugin_version\":\"1.4.2\",\"seq\":1,\"size\":283}')";

// The raw baseline of a save: the row and one audit row in one transaction;
// with `trimming`, also the DELETE of the plugin's oldest row once it has
// more than 11 (max_history 10), as hotstate's trigger trims.
struct PlainSave {
  Db& db;
  bool trimming = false;
  Statement begin{db, "BEGIN IMMEDIATE"};
  Statement insert{db, plain_insert_sql};
  Statement audit{db, plain_audit_sql};
  Statement trim{db,
                 "DELETE FROM snapshots WHERE plugin_id = ?1 AND seq <= (SELECT seq FROM snapshots"
                 " WHERE plugin_id = ?1 ORDER BY seq DESC LIMIT 1 OFFSET 11)"};
  Statement commit{db, "COMMIT"};

  explicit PlainSave(Db& opened, bool trims = false) : db(opened), trimming(trims) {}
  void operator()(std::string_view plugin_id, std::string_view data, std::string_view metadata) {
    begin.run();
    insert.bind(1, plugin_id).bind(2, data).bind(3, metadata).run();
    audit.bind(1, plugin_id).run();
    if (trimming) trim.bind(1, plugin_id).run();
    commit.run();
  }
};

// The raw baseline of a cache miss: a point SELECT of the plugin's newest
// row and a simdjson parse of its two texts (hotstate_bench's baseline).
struct PlainLoad {
  Statement select;
  simdjson::dom::parser parser;

  explicit PlainLoad(Db& db)
      : select(db,
               "SELECT seq, plugin_id, timestamp, plugin_version, data, metadata FROM snapshots"
               " WHERE plugin_id = ?1 ORDER BY seq DESC LIMIT 1") {}
  void operator()(std::string_view plugin_id) {
    select.bind(1, plugin_id);
    if (!select.step()) throw std::runtime_error("raw select: no row");
    for (int column = 4; column < 6; ++column) {
      const std::string_view text = select.text(column);
      simdjson::dom::element element;
      if (parser.parse(text.data(), text.size()).get(element) != simdjson::SUCCESS ||
          !element.is_object()) {
        throw std::runtime_error("simdjson: not an object");
      }
    }
    select.reset();
  }
};

// --- Snapshots ---------------------------------------------------------------


// A snapshot whose data is `bytes` bytes of JSON (at most, within a few):
// entries like {"id":12,"name":"entry-12","ratio":3.25,"tags":["alpha","beta"]}
// under keys item-000012, then one string that pads to the size.
hotstate::StateSnapshot sized_snapshot(const std::string& id, std::size_t bytes) {
  hotstate::StateSnapshot snapshot = make_snapshot(id, 1);
  snapshot.data.clear();
  std::size_t size = 2;  // {}
  for (int i = 0;; ++i) {
    char key[32];
    std::snprintf(key, sizeof key, "item-%06d", i);
    hotstate::Json value = hotstate::Json::from(std::map<std::string, hotstate::Json>{
        {"id", hotstate::Json::from(i)},
        {"name", hotstate::Json::from("entry-" + std::to_string(i))},
        {"ratio", hotstate::Json::from(i * 0.25)},
        {"tags", hotstate::Json::from(std::vector<std::string>{"alpha", "beta"})}});
    const std::size_t member = std::string_view(key).size() + 3 + value.text().size() + 1;  // "key":value,
    if (size + member + 64 > bytes) break;
    size += member;
    snapshot.data.emplace(key, std::move(value));
  }
  const std::size_t pad = bytes - size - std::string_view("\"zz-padding\":\"\",").size();
  snapshot.data.emplace("zz-padding", hotstate::Json::from(std::string(pad, 'x')));
  return snapshot;
}

std::string plugin_name(long i) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "plugin-%07ld", i);
  return buffer;
}

// A row hotstate wrote, to copy into filler rows: same texts, so its
// canonical_hash and content_hash (functions of the texts alone) stay true
// and reads take hotstate's fast path for its own rows.
struct Template {
  std::string plugin_version;
  std::int64_t timestamp = 0;
  std::string data;
  std::string metadata;
  std::optional<std::int64_t> canonical_hash;
  std::string content_hash;
};

Template read_template(Db& db) {
  Statement select(db,
                   "SELECT plugin_version, timestamp, data, metadata, canonical_hash, content_hash FROM snapshots "
                   "ORDER BY seq DESC LIMIT 1");
  if (!select.step()) throw std::runtime_error("no row to copy");
  Template t{std::string(select.text(0)), select.integer(1), std::string(select.text(2)), std::string(select.text(3)),
             std::nullopt, std::string(select.text(5))};
  if (!select.is_null(4)) t.canonical_hash = select.integer(4);
  select.reset();
  return t;
}

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Appends `rows_each` rows of every plugin in [from, to) to hotstate's
// table, as any SQL client may: the triggers write their audit events and
// apply the history bound.
void fill_snapshots(Db& db, const Template& t, long from, long to, int rows_each) {
  Statement insert(db,
                   "INSERT INTO snapshots (plugin_id, timestamp, plugin_version, data, metadata, saved_at_us,"
                   " canonical_hash, content_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  db.exec("BEGIN");
  long rows = 0;
  for (long p = from; p < to; ++p) {
    const std::string id = plugin_name(p);
    for (int r = 0; r < rows_each; ++r) {
      insert.bind(1, id).bind(2, t.timestamp).bind(3, t.plugin_version).bind(4, t.data).bind(5, t.metadata);
      insert.bind(6, now_us());
      if (t.canonical_hash) {
        insert.bind(7, *t.canonical_hash);
      } else {
        insert.bind_null(7);
      }
      insert.bind(8, t.content_hash).run();
      if (++rows % 200'000 == 0) {
        db.exec("COMMIT");
        db.exec("BEGIN");
      }
    }
  }
  db.exec("COMMIT");
}

// The same rows in the plain tables of the raw baseline, each with its audit row.
void fill_plain(Db& db, const Template& t, long from, long to, int rows_each) {
  Statement insert(db, plain_insert_sql);
  Statement audit(db, plain_audit_sql);
  db.exec("BEGIN");
  for (long p = from; p < to; ++p) {
    const std::string id = plugin_name(p);
    for (int r = 0; r < rows_each; ++r) {
      insert.bind(1, id).bind(2, t.data).bind(3, t.metadata).run();
      audit.bind(1, id).run();
    }
  }
  db.exec("COMMIT");
}

// Opens a filler connection on a hotstate file: no fsync while filling, a
// cache large enough for the indexes.
void prepare_filler(Db& db) {
  db.exec("PRAGMA synchronous = OFF");
  db.exec("PRAGMA cache_size = -262144");
}

// --- Configuration -----------------------------------------------------------

struct Config {
  fs::path dir = "build/bench-data-scaling";
  bool quick = false;
  bool keep = false;
  double verify_budget_s = 30;
  double op_budget_s = 0.6;  // wall time for one operation at one size
  std::set<std::string> only;
  std::vector<long> plugin_counts{100, 10'000, 100'000, 1'000'000};
  std::vector<long> history_lengths{10, 100, 1000, 10'000};
  std::vector<std::size_t> snapshot_sizes{std::size_t{1} << 10, std::size_t{64} << 10, std::size_t{1} << 20,
                                          std::size_t{16} << 20};
  std::vector<long> event_counts{1'000'000, 10'000'000};

  bool wants(const std::string& dimension) const { return only.empty() || only.count(dimension) > 0; }
};

hotstate::Options options_for(const fs::path& path, hotstate::Synchronous synchronous) {
  hotstate::Options options;
  options.path = path.string();
  options.synchronous = synchronous;
  return options;
}

// verify, stopped by Options::call_time_limit after the budget: returns its
// time in microseconds, or nullopt when it ran out of time.
std::optional<double> capped_verify(const Config& config, const fs::path& path, std::size_t& problems) {
  hotstate::Options options = options_for(path, hotstate::Synchronous::Normal);
  options.read_only = true;
  options.call_time_limit = std::chrono::milliseconds(static_cast<long long>(config.verify_budget_s * 1000));
  hotstate::StateManager manager(options);
  try {
    hotstate::StateManager::VerifyReport report;
    const double us = timed_us([&] { report = manager.verify(); });
    problems = report.problems.size();
    if (!report.ok) say("verify reported: " + report.problems.front());
    return us;
  } catch (const hotstate::Error& error) {
    if (error.code() != hotstate::ErrorCode::TimedOut) throw;
    return std::nullopt;
  }
}

void record_verify(const Config& config, Table& table, std::size_t column, const fs::path& path,
                   const std::string& label) {
  std::size_t problems = 0;
  const std::optional<double> us = capped_verify(config, path, problems);
  if (us) {
    table.set("verify", Expect::Linear, column, *us);
    say(label + "verify " + fmt_time(*us) + (problems == 0 ? ", ok" : ", " + std::to_string(problems) + " problems"));
  } else {
    table.set_over("verify", Expect::Linear, column, config.verify_budget_s * 1e6);
    say(label + "verify skipped, > " + fmt_time(config.verify_budget_s * 1e6));
  }
}

// --- plugins: 100 … 1M plugins -----------------------------------------------

void bench_plugins(const Config& config) {
  Table table;
  table.title = "== plugins: cost per call by number of plugins ==";
  table.notes = {"each plugin has 2 rows (current + 1 history entry, max_history 1) of ~280 B of data;",
                 "saves and loads go to random plugins, so every save trims one row (the steady state).",
                 "raw: INSERT + audit row in one transaction on plain tables holding the same rows."};
  for (const long n : config.plugin_counts) {
    table.sizes.push_back(count_label(n));
    table.amounts.push_back(static_cast<double>(n));
  }
  const fs::path path = config.dir / "plugins.db";
  const fs::path plain_path = config.dir / "plugins-plain.db";
  const fs::path copy_path = config.dir / "plugins-copy.db";
  remove_database(path);
  remove_database(plain_path);
  {
    hotstate::Options options = options_for(path, hotstate::Synchronous::Normal);
    options.max_history = 1;
    hotstate::StateManager manager(options);
    for (int i = 0; i < 2; ++i) manager.save_snapshot(make_snapshot(plugin_name(0), i));
  }
  Template t;
  {
    Db db(path);
    t = read_template(db);
    Db plain(plain_path);
    create_plain_tables(plain);
    fill_plain(plain, t, 0, 1, 2);
  }
  std::mt19937_64 random(12);
  long have = 1;
  int serial = 0;
  for (std::size_t column = 0; column < config.plugin_counts.size(); ++column) {
    const long n = config.plugin_counts[column];
    const std::string label = "[" + count_label(n) + " plugins] ";
    {
      const auto start = Clock::now();
      Db db(path);
      prepare_filler(db);
      fill_snapshots(db, t, have, n, 2);
      checkpoint_truncate(db);
      Db plain(plain_path);
      prepare_filler(plain);
      fill_plain(plain, t, have, n, 2);
      checkpoint_truncate(plain);
      have = n;
      say(label + "filled in " + fmt_time(seconds_since(start) * 1e6) + "; file " +
          fmt_bytes(static_cast<double>(file_size_or_zero(path))));
    }
    std::uniform_int_distribution<long> any(0, n - 1);
    {
      hotstate::StateManager manager(options_for(path, hotstate::Synchronous::Normal));
      manager.save_snapshot(make_snapshot(plugin_name(0), ++serial));  // the first write checks the schema
      hotstate::Options cold_options = options_for(path, hotstate::Synchronous::Normal);
      cold_options.cache_max_entries = 0;  // every load reads the database
      hotstate::StateManager cold(cold_options);
      Db plain(plain_path);
      plain.exec("PRAGMA synchronous = NORMAL");
      PlainSave plain_save(plain);
      PlainLoad plain_load(plain);
      const auto [save, raw_save] = sample_pair_us(
          config.op_budget_s, 20, 20'000,
          [&](int) {
            hotstate::StateSnapshot snapshot = make_snapshot(plugin_name(any(random)), ++serial);
            return timed_us([&] { manager.save_snapshot(std::move(snapshot)); });
          },
          [&](int) {
            const std::string id = plugin_name(any(random));
            return timed_us([&] { plain_save(id, t.data, t.metadata); });
          });
      table.set("save_snapshot, Normal", Expect::Flat, column, save);
      table.set("  raw INSERT + audit row, Normal", Expect::Context, column, raw_save);
      table.set("  hotstate / raw (save)", Expect::Context, column, save / raw_save, Unit::Ratio);
      {
        Db checkpointer(path);
        const double wal = wal_bytes_per_save(checkpointer, path, [&] {
          manager.save_snapshot(make_snapshot(plugin_name(any(random)), ++serial));
        });
        const double raw_wal = wal_bytes_per_save(plain, plain_path, [&] {
          plain_save(plugin_name(any(random)), t.data, t.metadata);
        });
        table.set("WAL bytes per save", Expect::Flat, column, wal, Unit::Bytes);
        table.set("  raw (WAL)", Expect::Context, column, raw_wal, Unit::Bytes);
        say(label + "save " + fmt_time(save) + ", raw " + fmt_time(raw_save) + "; WAL per save " + fmt_bytes(wal) +
            ", raw " + fmt_bytes(raw_wal));
      }
      const auto [load, raw_load] = sample_pair_us(
          config.op_budget_s, 20, 100'000,
          [&](int) {
            const std::string id = plugin_name(any(random));
            return timed_us([&] {
              if (!cold.load_snapshot(id)) throw std::runtime_error("load_snapshot found no snapshot");
            });
          },
          [&](int) {
            const std::string id = plugin_name(any(random));
            return timed_us([&] { plain_load(id); });
          });
      table.set("load_snapshot, cache miss", Expect::Flat, column, load);
      table.set("  raw SELECT + simdjson parse", Expect::Context, column, raw_load);
      table.set("  hotstate / raw (load)", Expect::Context, column, load / raw_load, Unit::Ratio);
      say(label + "load miss " + fmt_time(load) + ", raw " + fmt_time(raw_load));
      const double ids = sample_us(config.op_budget_s, 2, 1000, [&](int) {
        return timed_us([&] {
          if (cold.plugin_ids().size() != static_cast<std::size_t>(n)) throw std::runtime_error("plugin_ids: wrong count");
        });
      });
      table.set("plugin_ids", Expect::Linear, column, ids);
      const double summaries = sample_us(config.op_budget_s, 2, 1000, [&](int) {
        return timed_us([&] {
          if (cold.plugin_summaries().size() != static_cast<std::size_t>(n)) {
            throw std::runtime_error("plugin_summaries: wrong count");
          }
        });
      });
      table.set("plugin_summaries", Expect::Linear, column, summaries);
      const double audit = sample_us(config.op_budget_s, 20, 100'000, [&](int) {
        hotstate::AuditQuery query;
        query.plugin_id = plugin_name(any(random));
        return timed_us([&] {
          if (cold.audit_events(query).empty()) throw std::runtime_error("audit_events: no event");
        });
      });
      table.set("audit_events, one plugin (limit 100)", Expect::Flat, column, audit);
      say(label + "plugin_ids " + fmt_time(ids) + ", plugin_summaries " +
          fmt_time(summaries) + ", audit_events " + fmt_time(audit));
    }
    // Opening and closing with no other connection open, as a restarted host does.
    const double open = sample_us(config.op_budget_s, 5, 1000, [&](int) {
      return timed_us([&] { hotstate::StateManager manager(options_for(path, hotstate::Synchronous::Normal)); });
    });
    table.set("open + close", Expect::Flat, column, open);
    say(label + "open + close " + fmt_time(open));

    record_verify(config, table, column, path, label);

    // clear_all destroys the file: run it on copies.
    const int clear_rounds = n <= 10'000 ? 5 : (n <= 100'000 ? 3 : 1);
    const double clear = sample_us(0, clear_rounds, clear_rounds, [&](int) {
      remove_database(copy_path);
      fs::copy_file(path, copy_path);
      hotstate::StateManager manager(options_for(copy_path, hotstate::Synchronous::Normal));
      manager.record_event(hotstate::ReloadEvent::plugin_discovered("warm-up"));  // the first write checks the schema
      const double us = timed_us([&] { manager.clear_all(); });
      if (!manager.plugin_ids().empty()) throw std::runtime_error("clear_all left plugins");
      return us;
    });
    say(label + "clear_all " + fmt_time(clear) + "; file after it " +
        fmt_bytes(static_cast<double>(file_size_or_zero(copy_path))));
    remove_database(copy_path);
    table.set("clear_all (on a copy)", Expect::Linear, column, clear);
  }
  print_table(table);
  if (!config.keep) {
    remove_database(path);
    remove_database(plain_path);
  }
}

// --- history: max_history 10 … 10k -------------------------------------------

void bench_history(const Config& config) {
  constexpr long plugins = 2;
  Table table;
  table.title = "== history: cost per call by history length (max_history, every history full) ==";
  table.notes = {"2 plugins of ~280 B snapshots, each with max_history + 1 rows; saves go to them in turn,",
                 "each trimming one row; rollback is timed alone, after an untimed save that refills the history."};
  for (const long h : config.history_lengths) {
    table.sizes.push_back(count_label(h));
    table.amounts.push_back(static_cast<double>(h));
  }
  int serial = 0;
  for (std::size_t column = 0; column < config.history_lengths.size(); ++column) {
    const long h = config.history_lengths[column];
    const std::string label = "[history " + count_label(h) + "] ";
    const fs::path path = config.dir / ("history-" + std::to_string(h) + ".db");
    remove_database(path);
    hotstate::Options normal_options = options_for(path, hotstate::Synchronous::Normal);
    normal_options.max_history = static_cast<std::size_t>(h);
    {
      const auto start = Clock::now();
      {
        hotstate::StateManager manager(normal_options);
        for (long p = 0; p < plugins; ++p) manager.save_snapshot(make_snapshot(plugin_name(p), ++serial));
      }
      Db db(path);
      prepare_filler(db);
      const Template t = read_template(db);
      fill_snapshots(db, t, 0, plugins, static_cast<int>(h));
      checkpoint_truncate(db);
      say(label + "filled in " + fmt_time(seconds_since(start) * 1e6));
    }
    hotstate::StateManager normal(normal_options);
    hotstate::StateManager full(options_for(path, hotstate::Synchronous::Full));
    normal.save_snapshot(make_snapshot(plugin_name(0), ++serial));  // the first write checks the schema
    full.save_snapshot(make_snapshot(plugin_name(1), ++serial));
    if (normal.history_size(plugin_name(0)) != static_cast<std::size_t>(h)) throw std::runtime_error("history not full");

    for (const bool durable : {false, true}) {
      hotstate::StateManager& manager = durable ? full : normal;
      const double save = sample_us(config.op_budget_s, 20, 20'000, [&](int i) {
        hotstate::StateSnapshot snapshot = make_snapshot(plugin_name(i % plugins), ++serial);
        return timed_us([&] { manager.save_snapshot(std::move(snapshot)); });
      });
      table.set(durable ? "save_snapshot, Full" : "save_snapshot, Normal", Expect::Flat, column, save);
      say(label + (durable ? "save Full " : "save Normal ") + fmt_time(save));
    }
    {
      Db checkpointer(path);
      const double wal = wal_bytes_per_save(checkpointer, path, [&] {
        normal.save_snapshot(make_snapshot(plugin_name(0), ++serial));
      });
      table.set("WAL bytes per save", Expect::Flat, column, wal, Unit::Bytes);
    }
    const double history = sample_us(config.op_budget_s, 3, 20'000, [&](int) {
      return timed_us([&] {
        if (normal.get_history(plugin_name(0)).size() != static_cast<std::size_t>(h)) {
          throw std::runtime_error("get_history: wrong length");
        }
      });
    });
    table.set("get_history (all h entries)", Expect::Linear, column, history);
    const double rollback = sample_us(config.op_budget_s, 20, 20'000, [&](int) {
      normal.save_snapshot(make_snapshot(plugin_name(0), ++serial));
      return timed_us([&] {
        if (!normal.rollback(plugin_name(0))) throw std::runtime_error("rollback found no history");
      });
    });
    table.set("rollback, Normal", Expect::Flat, column, rollback);
    say(label + "get_history " + fmt_time(history) + ", rollback " + fmt_time(rollback));
    if (!config.keep) remove_database(path);
  }
  print_table(table);
}

// --- sizes: snapshots of 1 KiB … 16 MiB ---------------------------------------

void bench_sizes(const Config& config) {
  Table table;
  table.title = "== sizes: cost per save and load by size of the snapshot's data ==";
  table.notes = {"one plugin, max_history 10, history full (each save trims a row of the same size), Normal;",
                 "raw: INSERT of the same JSON text + one audit row in one transaction, plain tables, Normal",
                 "(and for context the same plus the DELETE that trims the oldest row, as hotstate does);",
                 "WAL bytes: the -wal file after one save into an emptied WAL (checkpoint TRUNCATE first);",
                 "write() bytes: /proc/self/io wchar per save, WAL frames and checkpoints into the file."};
  for (const std::size_t bytes : config.snapshot_sizes) {
    table.sizes.push_back(size_label(bytes));
    table.amounts.push_back(static_cast<double>(bytes));
  }
  for (std::size_t column = 0; column < config.snapshot_sizes.size(); ++column) {
    const std::size_t bytes = config.snapshot_sizes[column];
    const std::string label = "[" + size_label(bytes) + "] ";
    const std::string id = "sized-plugin";
    const hotstate::StateSnapshot snapshot = sized_snapshot(id, bytes);
    const std::string data = hotstate::Json::from(snapshot.data).text();
    const std::string metadata = hotstate::Json::from(snapshot.metadata).text();
    const fs::path path = config.dir / ("size-" + std::to_string(bytes) + ".db");
    const fs::path plain_path = config.dir / ("size-" + std::to_string(bytes) + "-plain.db");
    const fs::path trimmed_path = config.dir / ("size-" + std::to_string(bytes) + "-plain-trimmed.db");
    for (const fs::path& each : {path, plain_path, trimmed_path}) remove_database(each);
    // Long enough for a few calls of the largest.
    const double budget = std::max(config.op_budget_s, 1.0);

    const hotstate::Options options = options_for(path, hotstate::Synchronous::Normal);
    hotstate::StateManager manager(options);
    manager.save_snapshots(std::vector<hotstate::StateSnapshot>(11, snapshot));  // history full
    hotstate::Options cold_options = options;
    cold_options.cache_max_entries = 0;
    hotstate::StateManager cold(cold_options);
    Db plain(plain_path);
    create_plain_tables(plain);
    PlainSave plain_save(plain);
    PlainLoad plain_load(plain);
    plain_save(id, data, metadata);
    Db trimmed(trimmed_path);
    create_plain_tables(trimmed);
    PlainSave trimmed_save(trimmed, /*trims=*/true);
    for (int i = 0; i < 11; ++i) trimmed_save(id, data, metadata);  // history full

    long long written[2] = {0, 0};  // write() bytes of the timed saves: hotstate, raw
    int saves[2] = {0, 0};
    const auto counting_writes = [&](int which, const std::function<void()>& op) {
      const long long before = written_bytes();
      const double us = timed_us(op);
      written[which] += written_bytes() - before;
      ++saves[which];
      return us;
    };
    const std::vector<double> costs = sample_in_turn(
        budget, 3, 5000,
        {[&](int) {
           hotstate::StateSnapshot copy = snapshot;
           return counting_writes(0, [&] { manager.save_snapshot(std::move(copy)); });
         },
         [&](int) { return counting_writes(1, [&] { plain_save(id, data, metadata); }); },
         [&](int) { return timed_us([&] { trimmed_save(id, data, metadata); }); }});
    const double save = costs[0];
    const double raw_save = costs[1];
    table.set("save_snapshot, Normal", Expect::Linear, column, save);
    table.set("  raw INSERT + audit row", Expect::Context, column, raw_save);
    table.set("  hotstate / raw (save)", Expect::Context, column, save / raw_save, Unit::Ratio);
    table.set("  raw + trimming DELETE (context)", Expect::Context, column, costs[2]);
    say(label + "JSON " + std::to_string(data.size()) + " B; save " + fmt_time(save) + ", raw " + fmt_time(raw_save) +
        " (" + fmt_ratio(save / raw_save) + "), raw with trimming " + fmt_time(costs[2]));

    // Two parts of a save's work that grow with the size, measured alone:
    // the schema's CHECK on data (SQLite's JSON functions) and encoding the
    // data as JSON text.
    {
      Statement check(plain, "SELECT json_valid(?1) AND json_type(?1) = 'object'");
      const double checked = sample_us(budget / 2, 3, 5000, [&](int) {
        return timed_us([&] {
          check.bind(1, data);
          if (!check.step() || check.integer(0) != 1) throw std::runtime_error("json_valid: not an object");
          check.reset();
        });
      });
      std::size_t encoded_bytes = 0;
      const double encoded = sample_us(budget / 2, 3, 5000, [&](int) {
        return timed_us([&] { encoded_bytes += hotstate::Json::from(snapshot.data).text().size(); });
      });
      table.set("  SQLite json_valid + json_type (CHECK)", Expect::Context, column, checked);
      table.set("  Json::from(data) (encoding)", Expect::Context, column, encoded);
      say(label + "CHECK alone " + fmt_time(checked) + ", encoding alone " + fmt_time(encoded) +
          (encoded_bytes == 0 ? " (nothing encoded?)" : ""));
    }

    {
      Db checkpointer(path);
      const double wal = wal_bytes_per_save(checkpointer, path, [&] { manager.save_snapshot(snapshot); });
      const double raw_wal = wal_bytes_per_save(plain, plain_path, [&] { plain_save(id, data, metadata); });
      const double trimmed_wal = wal_bytes_per_save(trimmed, trimmed_path, [&] { trimmed_save(id, data, metadata); });
      const double per_save = static_cast<double>(written[0]) / saves[0];
      const double raw_per_save = static_cast<double>(written[1]) / saves[1];
      table.set("WAL bytes per save", Expect::Linear, column, wal, Unit::Bytes);
      table.set("  raw (WAL)", Expect::Context, column, raw_wal, Unit::Bytes);
      table.set("  raw + trimming DELETE (WAL)", Expect::Context, column, trimmed_wal, Unit::Bytes);
      table.set("  WAL bytes / JSON bytes", Expect::Context, column, wal / static_cast<double>(data.size()), Unit::Ratio);
      table.set("write() bytes per save", Expect::Linear, column, per_save, Unit::Bytes);
      table.set("  raw (write())", Expect::Context, column, raw_per_save, Unit::Bytes);
      say(label + "WAL per save " + fmt_bytes(wal) + " (" + fmt_ratio(wal / static_cast<double>(data.size())) +
          " the data), raw " + fmt_bytes(raw_wal) + ", raw with trimming " + fmt_bytes(trimmed_wal) +
          "; write() per save " + fmt_bytes(per_save) + ", raw " +
          fmt_bytes(raw_per_save));
    }

    const auto [load, raw_load] = sample_pair_us(
        budget, 3, 100'000,
        [&](int) {
          return timed_us([&] {
            if (cold.load_snapshot(id)->data.size() != snapshot.data.size()) throw std::runtime_error("load: wrong data");
          });
        },
        [&](int) { return timed_us([&] { plain_load(id); }); });
    table.set("load_snapshot, cache miss", Expect::Linear, column, load);
    table.set("  raw SELECT + simdjson parse", Expect::Context, column, raw_load);
    table.set("  hotstate / raw (load)", Expect::Context, column, load / raw_load, Unit::Ratio);
    say(label + "load miss " + fmt_time(load) + ", raw " + fmt_time(raw_load) + " (" + fmt_ratio(load / raw_load) + ")");
    if (!config.keep) {
      for (const fs::path& each : {path, plain_path, trimmed_path}) remove_database(each);
    }
  }
  print_table(table);
}

// --- events: 1M and 10M audit events ------------------------------------------

// Appends audit events with ids (from, to] as a long run of saves would leave
// them: SnapshotSaved then HistoryTrimmed of the same seq, for 1000 plugins
// in turn, with the details hotstate's triggers write. Every event's seq is
// above `seq_base` (the snapshots hotstate saved), so the log stays
// consistent with the snapshots.
void fill_events(Db& db, std::int64_t seq_base, long from, long to) {
  constexpr long chunk = 1'000'000;
  for (long first = from; first < to; first += chunk) {
    const long last = std::min(to, first + chunk);
    db.exec("BEGIN");
    db.exec("WITH RECURSIVE k(i) AS (SELECT " + std::to_string(first + 1) + " UNION ALL SELECT i + 1 FROM k WHERE i < " +
            std::to_string(last) +
            ")"
            " INSERT INTO audit_events (time_us, plugin_id, kind, detail)"
            " SELECT 1700000000000000 + i, printf('plugin-%07d', ((i - 1) / 2) % 1000),"
            "        CASE i % 2 WHEN 1 THEN 'SnapshotSaved' ELSE 'HistoryTrimmed' END,"
            "        CASE i % 2 WHEN 1 THEN json_object('seq', " +
            std::to_string(seq_base) +
            " + (i + 1) / 2, 'plugin_version', '1.4.2', 'size', 283,"
            "                             'content_hash', '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef')"
            "        ELSE json_object('seq', " +
            std::to_string(seq_base) +
            " + (i + 1) / 2, 'content_hash', '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef') END"
            "   FROM k");
    db.exec("UPDATE sqlite_sequence SET seq = max(seq, " + std::to_string(seq_base + (last + 1) / 2) +
            ") WHERE name = 'snapshots'");
    db.exec("COMMIT");
  }
}

void bench_events(const Config& config) {
  constexpr long plugins = 1000;
  constexpr long pruned_per_call = 10'000;
  Table table;
  table.title = "== events: cost per call by size of the audit log ==";
  table.notes = {"1000 plugins, each with one snapshot; the log: SnapshotSaved/HistoryTrimmed pairs of",
                 "those plugins in turn; prune_audit keep_newest removes the oldest 10k events per call."};
  for (const long n : config.event_counts) {
    table.sizes.push_back(count_label(n) + " events");
    table.amounts.push_back(static_cast<double>(n));
  }
  const fs::path path = config.dir / "events.db";
  remove_database(path);
  const hotstate::Options options = options_for(path, hotstate::Synchronous::Normal);
  std::int64_t seq_base = 0;
  {
    hotstate::StateManager manager(options);
    std::vector<hotstate::StateSnapshot> batch;
    for (long p = 0; p < plugins; ++p) batch.push_back(make_snapshot(plugin_name(p), static_cast<int>(p)));
    seq_base = static_cast<std::int64_t>(manager.save_snapshots(std::move(batch)).back());
  }
  std::mt19937_64 random(34);
  std::uniform_int_distribution<long> any(0, plugins - 1);
  long have = 0;
  for (std::size_t column = 0; column < config.event_counts.size(); ++column) {
    const long n = config.event_counts[column];
    const std::string label = "[" + count_label(n) + " events] ";
    {
      const auto start = Clock::now();
      Db db(path);
      prepare_filler(db);
      fill_events(db, seq_base, have, n);
      checkpoint_truncate(db);
      have = n;
      say(label + "filled in " + fmt_time(seconds_since(start) * 1e6) + "; file " +
          fmt_bytes(static_cast<double>(file_size_or_zero(path))));
    }
    {
      hotstate::StateManager manager(options);
      // The baseline: the same SELECT through a raw connection, each row's
      // columns copied out.
      Db raw(path);
      Statement select(raw,
                       "SELECT id, time_us, plugin_id, kind, detail FROM audit_events WHERE plugin_id = ?1"
                       " ORDER BY id DESC LIMIT 100");
      const auto [by_plugin, raw_by_plugin] = sample_pair_us(
          config.op_budget_s, 20, 100'000,
          [&](int) {
            hotstate::AuditQuery query;
            query.plugin_id = plugin_name(any(random));
            return timed_us([&] {
              if (manager.audit_events(query).size() != 100) throw std::runtime_error("audit_events: not 100 events");
            });
          },
          [&](int) {
            const std::string id = plugin_name(any(random));
            return timed_us([&] {
              std::vector<hotstate::AuditEvent> events;
              select.bind(1, id);
              while (select.step()) {
                events.push_back(hotstate::AuditEvent{static_cast<std::uint64_t>(select.integer(0)), select.integer(1),
                                                      std::string(select.text(2)), std::string(select.text(3)),
                                                      std::string(select.text(4))});
              }
              if (events.size() != 100) throw std::runtime_error("raw select: not 100 events");
            });
          });
      table.set("audit_events, one plugin (limit 100)", Expect::Flat, column, by_plugin);
      table.set("  raw SELECT of the same rows", Expect::Context, column, raw_by_plugin);
      const double newest = sample_us(config.op_budget_s, 20, 100'000, [&](int) {
        return timed_us([&] {
          if (manager.audit_events({}).size() != 100) throw std::runtime_error("audit_events: not 100 events");
        });
      });
      table.set("audit_events, newest 100", Expect::Flat, column, newest);
      say(label + "audit_events one plugin " + fmt_time(by_plugin) + " (raw " + fmt_time(raw_by_plugin) +
          "), newest 100 " + fmt_time(newest));
    }
    record_verify(config, table, column, path, label);
    {
      hotstate::StateManager manager(options);
      manager.record_event(hotstate::ReloadEvent::plugin_discovered("warm-up"));  // the first write checks the schema
      const double prune = sample_us(config.op_budget_s, 1, 3, [&](int) {
        std::int64_t events = 0;
        {
          Db db(path);
          events = db.scalar("SELECT count(*) FROM audit_events");
        }
        hotstate::AuditPrune what;
        what.keep_newest = static_cast<std::size_t>(events - pruned_per_call);
        std::uint64_t removed = 0;
        const double us = timed_us([&] { removed = manager.prune_audit(what); });
        if (removed < static_cast<std::uint64_t>(pruned_per_call / 2)) throw std::runtime_error("prune removed too little");
        return us;
      });
      table.set("prune_audit keep_newest (10k removed)", Expect::Flat, column, prune);
      say(label + "prune_audit " + fmt_time(prune));
    }
  }
  print_table(table);
  if (!config.keep) remove_database(path);
}

std::string read_first_line(const char* path, const char* prefix) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "?";
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  bool budget_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--dir" && i + 1 < argc) {
      config.dir = argv[++i];
    } else if (arg == "--quick") {
      config.quick = true;
    } else if (arg == "--keep") {
      config.keep = true;
    } else if (arg == "--verify-budget" && i + 1 < argc) {
      config.verify_budget_s = std::atof(argv[++i]);
      budget_given = true;
    } else if (arg == "--only" && i + 1 < argc) {
      std::stringstream list(argv[++i]);
      for (std::string name; std::getline(list, name, ',');) config.only.insert(name);
    } else {
      std::fprintf(stderr,
                   "usage: hotstate_bench_scaling [--dir DIR] [--quick] [--verify-budget SECONDS]"
                   " [--only plugins,history,sizes,events] [--keep]\n");
      return 2;
    }
  }
  if (config.quick) {
    config.plugin_counts.pop_back();
    config.history_lengths.pop_back();
    config.snapshot_sizes.pop_back();
    config.event_counts.pop_back();
    config.op_budget_s = 0.25;
    if (!budget_given) config.verify_budget_s = 3;
  }
  const auto start = Clock::now();
  fs::create_directories(config.dir);
  std::printf("hotstate %s scaling benchmark%s\n", hotstate::version_string, config.quick ? " (--quick)" : "");
  std::printf("  machine: %ld cores, %s; SQLite %s\n", sysconf(_SC_NPROCESSORS_ONLN),
              read_first_line("/proc/cpuinfo", "model name").c_str(), sqlite3_libversion());
  std::printf("  data directory: %s; verify stopped after %s\n", config.dir.string().c_str(),
              fmt_time(config.verify_budget_s * 1e6).c_str());
  std::printf("  each cell: cost per call, then its growth against the smallest size\n\n");
  std::fflush(stdout);
  try {
    if (config.wants("plugins")) bench_plugins(config);
    if (config.wants("history")) bench_history(config);
    if (config.wants("sizes")) bench_sizes(config);
    if (config.wants("events")) bench_events(config);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "hotstate_bench_scaling: %s\n", error.what());
    return 1;
  }
  if (!config.keep) {
    std::error_code ignored;
    fs::remove(config.dir, ignored);  // only when empty: --dir may name a directory with other files
  }
  std::printf("\ntotal run time %s\n", fmt_time(seconds_since(start) * 1e6).c_str());
  return 0;
}
