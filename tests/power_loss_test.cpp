// Power loss: a StateManager saves through the fault VFS until the power is
// cut at a random write or sync; the files are then rebuilt as the disk would
// hold them after the power came back (unsynced writes lost, or torn sector
// by sector), and a fresh StateManager must find a consistent database that
// holds every save acknowledged at Synchronous::Full.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fault_vfs.hpp"
#include "support.hpp"

namespace faults = hotstate_test::faults;
using hotstate::Options;
using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate::Synchronous;
using hotstate_test::file_options;
using hotstate_test::RawDb;
using hotstate_test::TempDir;
using hotstate_test::versioned;
using hotstate_test::versions_of;

namespace {

// --- The VFS itself ---------------------------------------------------------------

// A file opened directly through the fault VFS, as SQLite opens a main database file.
class VfsFile {
 public:
  explicit VfsFile(std::string path)
      : path_(std::move(path)),
        vfs_(sqlite3_vfs_find(faults::vfs_name())),
        memory_((static_cast<std::size_t>(vfs_->szOsFile) + sizeof(std::max_align_t) - 1) /
                sizeof(std::max_align_t)) {
    file_ = reinterpret_cast<sqlite3_file*>(memory_.data());
    int out_flags = 0;
    open_rc_ = vfs_->xOpen(vfs_, path_.c_str(), file_,
                           SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &out_flags);
  }
  ~VfsFile() {
    if (file_->pMethods != nullptr) file_->pMethods->xClose(file_);
  }
  VfsFile(const VfsFile&) = delete;
  VfsFile& operator=(const VfsFile&) = delete;

  int open_rc() const { return open_rc_; }
  int write(const std::string& bytes, std::int64_t offset) {
    return file_->pMethods->xWrite(file_, bytes.data(), static_cast<int>(bytes.size()), offset);
  }
  int sync() { return file_->pMethods->xSync(file_, SQLITE_SYNC_NORMAL); }
  int read_byte() {
    char byte = 0;
    return file_->pMethods->xRead(file_, &byte, 1, 0);
  }

 private:
  std::string path_;
  sqlite3_vfs* vfs_;
  std::vector<std::max_align_t> memory_;
  sqlite3_file* file_ = nullptr;
  int open_rc_ = SQLITE_ERROR;
};

// Runs SQL on a connection through the fault VFS; SQLite's result code.
int exec_through_vfs(sqlite3* db, const std::string& sql) {
  return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
}

}  // namespace

TEST_CASE("the fault VFS loses a commit that was not synced at a power cut and keeps one that was", "[power][vfs]") {
  faults::Scope scope;
  TempDir dir;
  const auto path = dir.file("vfs.db");
  faults::record_power_loss(path);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, faults::vfs_name()) ==
          SQLITE_OK);
  CHECK(exec_through_vfs(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; CREATE TABLE t (x)") ==
        SQLITE_OK);
  CHECK(exec_through_vfs(db, "INSERT INTO t VALUES (1)") == SQLITE_OK);  // fsynced at commit
  CHECK(exec_through_vfs(db, "PRAGMA synchronous = OFF; INSERT INTO t VALUES (2)") == SQLITE_OK);  // not
  CHECK(faults::recorded_operations() > 0);
  faults::cut_power();
  CHECK(exec_through_vfs(db, "PRAGMA synchronous = FULL; INSERT INTO t VALUES (3)") != SQLITE_OK);
  sqlite3_close(db);
  faults::restore_after_power_loss(faults::PowerLoss::DropUnsynced, 0);

  CHECK_FALSE(std::filesystem::exists(path + "-shm"));
  RawDb raw(path);
  CHECK(raw.query("SELECT group_concat(x) FROM t") == "1");
  CHECK(raw.query("PRAGMA integrity_check") == "ok");
}

TEST_CASE("the fault VFS cuts the power at the n-th operation, and a failed sync makes nothing durable",
          "[power][vfs]") {
  faults::Scope scope;
  TempDir dir;
  const auto path = dir.file("cut.bin");
  const std::string first(1024, 'A');
  {
    faults::record_power_loss(path);
    VfsFile file(path);
    REQUIRE(file.open_rc() == SQLITE_OK);
    faults::cut_power_after(3);
    CHECK(file.write(first, 0) == SQLITE_OK);  // operation 1
    CHECK(file.sync() == SQLITE_OK);           // 2
    CHECK_FALSE(faults::power_is_cut());
    CHECK(file.write(std::string(512, 'B'), 0) == SQLITE_IOERR_WRITE);  // 3: never happens, and the power is out
    CHECK(faults::power_is_cut());
    CHECK(file.sync() == SQLITE_IOERR_FSYNC);
    CHECK(file.read_byte() == SQLITE_IOERR_READ);
    CHECK(VfsFile(dir.file("other.bin")).open_rc() == SQLITE_CANTOPEN);
  }
  CHECK(hotstate_test::read_file(path) == first);  // the write that never happened is not on disk
  faults::restore_after_power_loss(faults::PowerLoss::Torn, 1);
  CHECK(hotstate_test::read_file(path) == first);
  CHECK_FALSE(std::filesystem::exists(dir.file("other.bin")));

  {
    faults::record_power_loss(path);
    VfsFile file(path);
    faults::fail_nth_sync(1);
    CHECK(file.write(std::string(1024, 'C'), 0) == SQLITE_OK);
    CHECK(file.sync() == SQLITE_IOERR_FSYNC);
    CHECK(faults::injected() == 1);
  }
  faults::cut_power();
  faults::restore_after_power_loss(faults::PowerLoss::DropUnsynced, 0);
  CHECK(hotstate_test::read_file(path) == first);
}

TEST_CASE("torn power loss keeps or loses each unsynced 512-byte sector, and the synced size or the new one",
          "[power][vfs]") {
  faults::Scope scope;
  TempDir dir;
  const std::string synced(8 * 512, 'A');
  // Synced: 8 sectors of A. Then, unsynced: 8 sectors of B over them, 4 of C after them.
  const auto prepare = [&](const std::string& path) {
    faults::record_power_loss(path);
    VfsFile file(path);
    REQUIRE(file.open_rc() == SQLITE_OK);
    REQUIRE(file.write(synced, 0) == SQLITE_OK);
    REQUIRE(file.sync() == SQLITE_OK);
    REQUIRE(file.write(std::string(8 * 512, 'B'), 0) == SQLITE_OK);
    REQUIRE(file.write(std::string(4 * 512, 'C'), 8 * 512) == SQLITE_OK);
    faults::cut_power();
  };

  const auto path = dir.file("drop.bin");
  prepare(path);
  faults::restore_after_power_loss(faults::PowerLoss::DropUnsynced, 0);
  CHECK(hotstate_test::read_file(path) == synced);

  bool mixed = false;
  bool grew = false;
  bool kept_size = false;
  for (std::uint64_t seed = 1; seed <= 16; ++seed) {
    const auto torn_path = dir.file("torn-" + std::to_string(seed) + ".bin");
    prepare(torn_path);
    faults::restore_after_power_loss(faults::PowerLoss::Torn, seed);
    const std::string torn = hotstate_test::read_file(torn_path);
    INFO("seed " << seed);
    REQUIRE((torn.size() == 8 * 512 || torn.size() == 12 * 512));
    (torn.size() == 8 * 512 ? kept_size : grew) = true;
    std::string letters;
    for (std::size_t start = 0; start < torn.size(); start += 512) {
      const std::string sector = torn.substr(start, 512);
      const char letter = sector[0];
      CHECK(sector == std::string(512, letter));  // a sector is all old or all new
      CHECK((start < 8 * 512 ? (letter == 'A' || letter == 'B') : (letter == 'C' || letter == '\0')));
      letters += letter == '\0' ? '0' : letter;
    }
    if (letters.substr(0, 8).find('A') != std::string::npos && letters.substr(0, 8).find('B') != std::string::npos) {
      mixed = true;
    }
  }
  CHECK(mixed);
  CHECK(grew);
  CHECK(kept_size);
}

// --- StateManager under power loss ----------------------------------------------------

namespace {

constexpr std::size_t history_bound = 3;
constexpr int saves_per_run = 30;

// How many power cuts each test makes: HOTSTATE_POWER_LOSS_ITERATIONS, default 60.
int iterations() {
  const char* text = std::getenv("HOTSTATE_POWER_LOSS_ITERATIONS");
  return text ? std::max(1, std::atoi(text)) : 60;
}

// HOTSTATE_POWER_LOSS_RUN=i replays run i alone (the runs are seeded by their number).
bool skipped(int run) {
  const char* text = std::getenv("HOTSTATE_POWER_LOSS_RUN");
  return text != nullptr && std::atoi(text) != run;
}

// Save number `version`: data of varying size (up to a few pages of WAL).
StateSnapshot power_snapshot(int version) {
  const std::size_t size = 40 + static_cast<std::size_t>(version * 389 % 1800);
  return versioned("p", version)
      .with_data("payload", std::string(size, static_cast<char>('a' + version % 26)))
      .with_metadata("save", std::to_string(version));
}

// A checkpoint by another connection of the same (dying) process, through the
// fault VFS: it writes the main file and syncs, so the cuts also land there.
void checkpoint_through_vfs(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, faults::vfs_name()) == SQLITE_OK) {
    (void)exec_through_vfs(db, "PRAGMA wal_checkpoint(PASSIVE)");
  }
  sqlite3_close(db);
}

struct Acknowledged {
  int last = 0;                       // saves 1..last returned normally
  std::map<int, std::uint64_t> seqs;  // the seqs save_snapshots returned, by save
};

// Saves 1, 2, … until a save fails (the power is out) or saves_per_run were
// made; then the power goes out anyway. Returns what was acknowledged.
Acknowledged save_until_the_power_fails(const std::string& path, Synchronous synchronous) {
  Acknowledged acknowledged;
  try {
    Options options = faults::options(path, history_bound);
    options.synchronous = synchronous;
    StateManager manager(options);
    for (int version = 1; version <= saves_per_run; ++version) {
      try {
        if (version % 3 == 0) {
          acknowledged.seqs[version] = manager.save_snapshots({power_snapshot(version)}).at(0);
        } else {
          manager.save_snapshot(power_snapshot(version));
        }
        acknowledged.last = version;
      } catch (const hotstate::Error& error) {
        INFO("save " << version << ": " << error.what());
        CHECK(faults::power_is_cut());
        break;
      }
      if (version % 8 == 0) checkpoint_through_vfs(path);
    }
    faults::cut_power();  // the power goes out now if it did not already
    // The process is dead: whatever it still tries fails.
    CHECK_THROWS_AS(manager.save_snapshot(power_snapshot(saves_per_run + 1)), hotstate::Error);
  } catch (const hotstate::Error& error) {
    INFO("opening: " << error.what());
    CHECK(faults::power_is_cut());
  }
  return acknowledged;
}

// A fresh StateManager (default VFS) on the database after the power came
// back. Opening must succeed: the power may have gone out in the middle of a
// checkpoint, with the main file half backfilled, and main file + -wal are
// still the whole database.
std::unique_ptr<StateManager> open_recovered(const std::string& path) {
  return std::make_unique<StateManager>(file_options(path, history_bound));
}

// What a fresh StateManager (default VFS) finds after the power came back.
// Checks consistency: integrity, every row exactly as saved, and the rows
// are the newest history_bound + 1 saves of a prefix of the saves made.
// Returns the version of the current snapshot (0: none).
int check_recovered(const std::string& path, const Acknowledged& acknowledged) {
  const auto opened = open_recovered(path);  // migrates if the cut came before that
  const StateManager& manager = *opened;
  RawDb raw(path);
  CHECK(raw.query("PRAGMA integrity_check") == "ok");

  const auto current = manager.load_snapshot("p");
  const int version = current ? current->get<int>("version").value_or(-1) : 0;
  const auto history = manager.get_history("p");
  std::vector<StateSnapshot> rows = history;
  if (current) rows.push_back(*current);
  for (const StateSnapshot& row : rows) {
    const int saved = row.get<int>("version").value_or(-1);
    StateSnapshot expected = power_snapshot(saved);
    expected.seq = row.seq;
    expected.timestamp = row.timestamp;
    CHECK(row == expected);  // no half-written row
    if (const auto seq = acknowledged.seqs.find(saved); seq != acknowledged.seqs.end()) CHECK(row.seq == seq->second);
  }
  std::vector<int> expected_history;
  for (int earlier = std::max(1, version - static_cast<int>(history_bound)); earlier < version; ++earlier) {
    expected_history.push_back(earlier);
  }
  CHECK(versions_of(history) == expected_history);
  CHECK(raw.query_int("SELECT count(*) FROM snapshots") == static_cast<long long>(rows.size()));
  CHECK(version <= acknowledged.last + 1);  // at most the save in flight, never one not yet begun
  CHECK(manager.plugin_ids() == (version > 0 ? std::vector<std::string>{"p"} : std::vector<std::string>{}));
  CHECK(manager.max_history() == history_bound);
  return version;
}

// The recorded writes, truncations and syncs of a run that the power never cuts.
std::uint64_t operations_of_a_whole_run(Synchronous synchronous) {
  TempDir dir;
  const auto path = dir.file("calibration.db");
  faults::record_power_loss(path);
  const Acknowledged acknowledged = save_until_the_power_fails(path, synchronous);
  REQUIRE(acknowledged.last == saves_per_run);
  const std::uint64_t operations = faults::recorded_operations();
  faults::restore_after_power_loss(faults::PowerLoss::DropUnsynced, 0);
  return operations;
}

struct Run {
  std::uint64_t seed;
  faults::PowerLoss mode;
  std::uint64_t cut_at;
};

// The i-th run: a seeded cut point (sometimes past the end), modes alternating.
Run run_number(int i, std::uint64_t whole_run) {
  const std::uint64_t seed = 0x9E3779B97F4A7C15ULL ^ static_cast<std::uint64_t>(i);
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<std::uint64_t> cut(1, whole_run + whole_run / 10);
  return {seed, i % 2 == 0 ? faults::PowerLoss::DropUnsynced : faults::PowerLoss::Torn, cut(random)};
}

const char* name_of(faults::PowerLoss mode) {
  return mode == faults::PowerLoss::DropUnsynced ? "unsynced writes lost" : "torn sectors";
}

// Run i: saves until the power is cut at its point, rebuilds the files as a
// power loss leaves them, and checks what a fresh StateManager finds there.
struct Cut {
  Run run;
  Acknowledged acknowledged;
  int current = 0;  // the version of the current snapshot after recovery (0: none)
};
Cut cut_and_recover(int i, std::uint64_t whole_run, Synchronous synchronous) {
  Cut cut;
  cut.run = run_number(i, whole_run);
  INFO("run " << i << ": power cut at operation " << cut.run.cut_at << " of " << whole_run << ", "
              << name_of(cut.run.mode) << ", seed " << cut.run.seed);
  TempDir dir;
  const auto path = dir.file("power.db");
  faults::record_power_loss(path);
  faults::cut_power_after(cut.run.cut_at);
  cut.acknowledged = save_until_the_power_fails(path, synchronous);
  faults::restore_after_power_loss(cut.run.mode, cut.run.seed);
  INFO("acknowledged saves 1.." << cut.acknowledged.last);
  cut.current = check_recovered(path, cut.acknowledged);
  return cut;
}

}  // namespace

TEST_CASE("at Synchronous::Full every acknowledged save survives a power cut at any write or sync",
          "[power][durability]") {
  faults::Scope scope;
  const std::uint64_t whole_run = operations_of_a_whole_run(Synchronous::Full);
  REQUIRE(whole_run > static_cast<std::uint64_t>(saves_per_run));
  int in_flight_survived = 0;
  int runs = 0;
  int cut_while_saving = 0;
  for (int i = 0; i < iterations(); ++i) {
    if (skipped(i)) continue;
    const Cut cut = cut_and_recover(i, whole_run, Synchronous::Full);
    const Run& run = cut.run;
    const Acknowledged& acknowledged = cut.acknowledged;
    const int current = cut.current;
    INFO("run " << i << ", " << name_of(run.mode) << ", acknowledged saves 1.." << acknowledged.last);
    // The newest acknowledged save is current, or the save in flight when
    // the power went out reached the disk after all and followed it; history
    // then holds the saves before it (checked above), so every acknowledged
    // save newer than last - max_history is there.
    if (run.mode == faults::PowerLoss::DropUnsynced) {
      CHECK(current == acknowledged.last);
    } else {
      CHECK((current == acknowledged.last || current == acknowledged.last + 1));
    }
    if (current == acknowledged.last + 1) ++in_flight_survived;
    ++runs;
    if (acknowledged.last > 0 && acknowledged.last < saves_per_run) ++cut_while_saving;
  }
  INFO("saves in flight at the cut that reached the disk anyway: " << in_flight_survived);
  if (runs >= 10) CHECK(cut_while_saving * 2 >= runs);  // the cuts do land among the saves
}

// Synchronous::Normal syncs the -wal only at checkpoints: a power cut may
// lose the acknowledged saves since the last one, but what remains is always
// a consistent prefix of the saves (WAL frames carry cumulative checksums,
// so recovery stops at the first frame that did not reach the disk whole).
TEST_CASE("at Synchronous::Normal a power cut may lose acknowledged saves but leaves a consistent database",
          "[power][consistency]") {
  faults::Scope scope;
  const std::uint64_t whole_run = operations_of_a_whole_run(Synchronous::Normal);
  REQUIRE(whole_run > 0);
  int lost = 0;
  int runs_with_loss = 0;
  for (int i = 0; i < iterations(); ++i) {
    if (skipped(i)) continue;
    const Cut cut = cut_and_recover(i, whole_run, Synchronous::Normal);
    const Acknowledged& acknowledged = cut.acknowledged;
    const int current = cut.current;
    INFO("run " << i << ", acknowledged saves 1.." << acknowledged.last);
    if (current < acknowledged.last) {
      lost += acknowledged.last - current;
      ++runs_with_loss;
    }
  }
  // Not asserted either way: what NORMAL may lose, not what it must.
  WARN("Synchronous::Normal: " << lost << " acknowledged saves lost in " << runs_with_loss << " of " << iterations()
                               << " power cuts (consistent every time)");
}
