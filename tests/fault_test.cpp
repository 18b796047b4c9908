// Faults under a StateManager: a full disk, failed writes and fsyncs, a
// read-only file system, a lock held by another process, a damaged file.
// After each, the database holds exactly its last committed state (checked
// by a fresh StateManager on SQLite's default VFS and PRAGMA
// integrity_check), and the failed write never reached the cache.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "fault_vfs.hpp"
#include "support.hpp"

namespace faults = hotstate_test::faults;
using hotstate::ErrorCode;
using hotstate::Options;
using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate_test::current_version;
using hotstate_test::error_code_of;
using hotstate_test::file_options;
using hotstate_test::RawDb;
using hotstate_test::TempDir;
using hotstate_test::versioned;
using hotstate_test::versions_of;

namespace {

// What the file at `path` holds for `plugin`, as a fresh read-only
// StateManager on SQLite's default VFS reads it, and its integrity.
void check_committed(const std::string& path, const std::string& plugin, int current,
                     const std::vector<int>& history) {
  INFO("the database at " << path << ", plugin " << plugin);
  {
    Options options = file_options(path);
    options.read_only = true;
    StateManager fresh(options);
    CHECK(current_version(fresh, plugin) == current);
    CHECK(versions_of(fresh.get_history(plugin)) == history);
  }
  RawDb raw(path);
  CHECK(raw.query("PRAGMA integrity_check") == "ok");
}

// The Error `body` throws; fails the test if it throws nothing.
template <class Body>
hotstate::Error error_of(Body&& body) {
  try {
    body();
  } catch (const hotstate::Error& error) {
    return error;
  }
  FAIL("expected a hotstate::Error, nothing was thrown");
  throw std::logic_error("unreachable");
}

std::vector<std::string> files_in(const std::filesystem::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.insert(entry.path().filename().string());
  return {names.begin(), names.end()};
}

// A database with plugin "a" at versions 1..3 (current 3) and "b" at 1,
// written with the default VFS and closed (so its -wal is checkpointed and gone).
void build_small_database(const std::string& path) {
  StateManager manager(file_options(path));
  for (int version = 1; version <= 3; ++version) manager.save_snapshot(versioned("a", version));
  manager.save_snapshot(versioned("b", 1));
}

// Reads everything build_small_database wrote, through `manager`.
void check_small_database(const StateManager& manager) {
  CHECK(manager.plugin_ids() == std::vector<std::string>{"a", "b"});
  CHECK(current_version(manager, "a") == 3);
  CHECK(versions_of(manager.get_history("a")) == std::vector<int>{1, 2});
  CHECK(current_version(manager, "b") == 1);
  CHECK(manager.get_history("b").empty());
  CHECK(manager.max_history() == 10);
}

// Every write of a read-only manager throws ReadOnly.
void check_refuses_writes(StateManager& manager) {
  CHECK(error_code_of([&] { manager.save_snapshot(versioned("a", 99)); }) == ErrorCode::ReadOnly);
  CHECK(error_code_of([&] { (void)manager.save_snapshots({versioned("a", 99)}); }) == ErrorCode::ReadOnly);
  CHECK(error_code_of([&] { (void)manager.save_snapshot_if(versioned("a", 99), 0); }) == ErrorCode::ReadOnly);
  CHECK(error_code_of([&] { (void)manager.rollback("a"); }) == ErrorCode::ReadOnly);
  CHECK(error_code_of([&] { manager.clear("a"); }) == ErrorCode::ReadOnly);
  CHECK(error_code_of([&] { manager.clear_all(); }) == ErrorCode::ReadOnly);
}

// Restores a path's permissions at scope exit, so that TempDir can remove it.
class ModeRestorer {
 public:
  ModeRestorer(std::string path, mode_t mode) : path_(std::move(path)), mode_(mode) {}
  ~ModeRestorer() { ::chmod(path_.c_str(), mode_); }
  ModeRestorer(const ModeRestorer&) = delete;
  ModeRestorer& operator=(const ModeRestorer&) = delete;

 private:
  std::string path_;
  mode_t mode_;
};

// --- Permissions that bind: the checks run as a user who is not root --------------
//
// Root is not stopped by file modes (CAP_DAC_OVERRIDE), so a test that
// chmods a file to 0444 and runs as root checks nothing. These checks run in
// a forked child that, when the test runs as root, first becomes the
// unprivileged user and group 65534 (nobody); the files it uses are given to
// that user. Catch2's assertions in a child would not reach the test, so the
// child collects what it finds as text and reports it through a pipe.

constexpr uid_t unprivileged_uid = 65534;
constexpr gid_t unprivileged_gid = 65534;

// What a child found: each failed expectation as a sentence, or why the
// checks could not run at all.
struct Findings {
  std::vector<std::string> problems;
  std::string skipped;  // non-empty: permissions do not bind here (not root, and chmod has no effect)

  void expect(bool holds, const std::string& what) {
    if (!holds) problems.push_back(what);
  }
};

std::string joined(const std::vector<int>& numbers) {
  std::string text = "{";
  for (const int number : numbers) text += (text.size() > 1 ? ", " : "") + std::to_string(number);
  return text + "}";
}

// Opening `options` for writing must fail with ReadOnly and a message
// holding each of `message_parts`.
void find_refused_open(Findings& findings, const Options& options, const std::vector<std::string>& message_parts) {
  try {
    StateManager manager(options);
    findings.expect(false, "opening '" + options.path + "' for writing succeeded");
  } catch (const hotstate::Error& error) {
    const std::string what = error.what();
    findings.expect(error.code() == ErrorCode::ReadOnly,
                    std::string("opening for writing gave ") + hotstate::to_string(error.code()) +
                        ", not ReadOnly: " + what);
    for (const auto& part : message_parts) {
      findings.expect(what.find(part) != std::string::npos, "the error \"" + what + "\" does not say \"" + part + "\"");
    }
  }
}

// A read-only StateManager reads everything build_small_database wrote and
// refuses every write with ReadOnly (check_small_database and
// check_refuses_writes, for a child).
void find_reads_and_refused_writes(Findings& findings, Options options) {
  options.read_only = true;
  try {
    StateManager reader(options);
    const auto ids = reader.plugin_ids();
    findings.expect(ids == std::vector<std::string>{"a", "b"}, "plugin_ids() is not {a, b}");
    findings.expect(current_version(reader, "a") == 3,
                    "the current version of a is " + std::to_string(current_version(reader, "a")) + ", not 3");
    const auto history = versions_of(reader.get_history("a"));
    findings.expect(history == std::vector<int>{1, 2}, "the history of a is " + joined(history) + ", not {1, 2}");
    findings.expect(current_version(reader, "b") == 1, "the current version of b is not 1");
    findings.expect(reader.get_history("b").empty(), "b has history");
    findings.expect(reader.max_history() == 10, "max_history() is " + std::to_string(reader.max_history()));
    const auto refused = [&](const std::string& what, auto&& body) {
      try {
        body();
        findings.expect(false, what + " on a read-only StateManager succeeded");
      } catch (const hotstate::Error& error) {
        findings.expect(error.code() == ErrorCode::ReadOnly, what + " gave " + error.what() + ", not ReadOnly");
      }
    };
    refused("save_snapshot", [&] { reader.save_snapshot(versioned("a", 99)); });
    refused("save_snapshots", [&] { (void)reader.save_snapshots({versioned("a", 99)}); });
    refused("save_snapshot_if", [&] { (void)reader.save_snapshot_if(versioned("a", 99), 0); });
    refused("rollback", [&] { (void)reader.rollback("a"); });
    refused("clear", [&] { reader.clear("a"); });
    refused("clear_all", [&] { reader.clear_all(); });
  } catch (const std::exception& error) {
    findings.expect(false, std::string("reading with Options::read_only failed: ") + error.what());
  }
}

// Gives `paths` to the unprivileged user when the test runs as root (so
// that the modes set next are what binds it); nothing otherwise.
void give_to_unprivileged_user(const std::vector<std::string>& paths) {
  if (::geteuid() != 0) return;
  for (const auto& path : paths) {
    INFO("chown " << path);
    REQUIRE(::chown(path.c_str(), unprivileged_uid, unprivileged_gid) == 0);
  }
}

// Runs `checks` (returning Findings) in a forked child: as the unprivileged
// user when the test runs as root, as the test's own user otherwise. Fails
// the test for every problem the child reports and when the child cannot
// drop root or dies; returns false, after a visible WARN, when the checks
// were skipped because permissions do not bind (only possible when not root).
template <class Checks>
bool run_unprivileged(Checks&& checks) {
  int report[2];
  REQUIRE(::pipe(report) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(report[0]);
    Findings findings;
    try {
      if (::geteuid() == 0) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(unprivileged_gid) != 0 || ::setuid(unprivileged_uid) != 0) {
          findings.problems.push_back(std::string("could not become user 65534: ") + std::strerror(errno));
        } else if (::setuid(0) == 0 || ::geteuid() != unprivileged_uid) {
          findings.problems.push_back("still root after setuid(65534)");
        }
      }
      if (findings.problems.empty()) findings = checks();
    } catch (const std::exception& error) {
      findings.problems.push_back(std::string("the checks threw: ") + error.what());
    } catch (...) {
      findings.problems.push_back("the checks threw something that is not a std::exception");
    }
    std::string text;
    if (!findings.skipped.empty()) text += "skipped " + findings.skipped + "\n";
    for (const auto& problem : findings.problems) text += "problem " + problem + "\n";
    text += "end\n";
    for (std::size_t written = 0; written < text.size();) {
      const ssize_t n = ::write(report[1], text.data() + written, text.size() - written);
      if (n <= 0) break;
      written += static_cast<std::size_t>(n);
    }
    _exit(0);
  }
  ::close(report[1]);
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool timed_out = false;
  for (;;) {
    pollfd fd{report[0], POLLIN, 0};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0 || ::poll(&fd, 1, static_cast<int>(left)) == 0) {
      timed_out = true;
      ::kill(child, SIGKILL);
      break;
    }
    char chunk[4096];
    const ssize_t n = ::read(report[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(report[0]);
  int status = -1;
  REQUIRE(::waitpid(child, &status, 0) == child);
  INFO("the child " << (::geteuid() == 0 ? "(user 65534) " : "") << "reported:\n" << text);
  CHECK_FALSE(timed_out);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  REQUIRE(text.size() >= 4);
  CHECK(text.substr(text.size() - 4) == "end\n");  // it reported everything
  bool skipped = false;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("problem ", 0) == 0) FAIL_CHECK(line.substr(8));
    if (line.rfind("skipped ", 0) == 0) {
      CHECK(::geteuid() != 0);  // root always drops to user 65534, where modes bind
      WARN("SKIPPED, permissions do not bind for this user: " << line.substr(8));
      skipped = true;
    }
  }
  return !skipped;
}

// The checks cannot run because modes do not bind this process: a problem
// for user 65534 (a root test always runs them), a skip for any other user.
void modes_do_not_bind(Findings& findings, const std::string& why) {
  const std::string what = why + " (uid " + std::to_string(::geteuid()) + ")";
  if (::geteuid() == unprivileged_uid || ::getuid() == unprivileged_uid) {
    findings.problems.push_back(what);
  } else {
    findings.skipped = what;
  }
}

}  // namespace

// --- A full disk --------------------------------------------------------------------

TEST_CASE("a full disk during a save gives DiskFull, keeps the previous state, and saving works once there is room",
          "[fault][disk-full]") {
  faults::Scope scope;
  TempDir dir;
  const auto path = dir.file("full.db");
  StateManager manager(faults::options(path, 3));
  for (int version = 1; version <= 3; ++version) manager.save_snapshot(versioned("p", version));

  // No file may grow: the -wal cannot take the new frames.
  faults::disk_full();
  const hotstate::Error error = error_of([&] { manager.save_snapshot(versioned("p", 4)); });
  CHECK(error.code() == ErrorCode::DiskFull);
  CHECK_THAT(error.what(), Catch::Contains("save_snapshot") && Catch::Contains("database or disk is full"));
  CHECK(error_code_of([&] { (void)manager.save_snapshots({versioned("p", 4), versioned("q", 1)}); }) ==
        ErrorCode::DiskFull);
  CHECK(faults::injected() >= 2);
  CHECK(current_version(manager, "p") == 3);  // the cache did not take the failed saves
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{1, 2});
  CHECK(manager.plugin_ids() == std::vector<std::string>{"p"});
  check_committed(path, "p", 3, {1, 2});

  faults::clear_faults();
  manager.save_snapshot(versioned("p", 4));
  CHECK(current_version(manager, "p") == 4);
  check_committed(path, "p", 4, {1, 2, 3});
}

TEST_CASE("a disk that refuses every write gives DiskFull for every kind of write and loses nothing",
          "[fault][disk-full]") {
  faults::Scope scope;
  TempDir dir;
  const auto path = dir.file("full-every.db");
  StateManager manager(faults::options(path, 3));
  for (int version = 1; version <= 3; ++version) manager.save_snapshot(versioned("p", version));
  manager.save_snapshot(versioned("q", 1));

  faults::fail_every_write(SQLITE_FULL);
  CHECK(error_code_of([&] { manager.save_snapshot(versioned("p", 4)); }) == ErrorCode::DiskFull);
  CHECK(error_code_of([&] { (void)manager.save_snapshot_if(versioned("p", 4), manager.load_snapshot("p")->seq); }) ==
        ErrorCode::DiskFull);
  CHECK(error_code_of([&] { (void)manager.rollback("p"); }) == ErrorCode::DiskFull);
  CHECK(error_code_of([&] { manager.clear("q"); }) == ErrorCode::DiskFull);
  CHECK(error_code_of([&] { manager.clear_all(); }) == ErrorCode::DiskFull);
  CHECK(current_version(manager, "p") == 3);
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{1, 2});
  CHECK(manager.plugin_ids() == std::vector<std::string>{"p", "q"});
  check_committed(path, "p", 3, {1, 2});
  check_committed(path, "q", 1, {});

  faults::clear_faults();
  CHECK(manager.rollback("p")->get<int>("version") == 2);
  manager.save_snapshot(versioned("p", 5));
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{1, 2});
  check_committed(path, "p", 5, {1, 2});
}

// PRAGMA max_page_count is a setting of the connection that runs it (its
// pager's limit), not of the file: the shell's limit binds the shell only.
// A StateManager meets a page limit only as a full disk (the tests above).
TEST_CASE("a page limit set with PRAGMA max_page_count in another connection binds only that connection",
          "[fault][disk-full]") {
  TempDir dir;
  const auto path = dir.file("pages.db");
  StateManager manager(file_options(path, 3));
  manager.save_snapshot(versioned("p", 1));

  RawDb shell(path);
  const long long pages = shell.query_int("PRAGMA page_count");
  CHECK(shell.query_int("PRAGMA max_page_count = " + std::to_string(pages)) == pages);
  const std::string big(64 * 1024, 'x');
  CHECK(shell.try_exec("INSERT INTO snapshots (plugin_id, data) VALUES ('shell', json_object('big', '" + big +
                       "'))") == SQLITE_FULL);
  CHECK_THAT(shell.last_error(), Catch::Contains("full"));

  manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("version", 2).with_data("big", big));
  CHECK(current_version(manager, "p") == 2);
  CHECK(shell.query_int("PRAGMA page_count") > pages);
}

// --- Failed writes and fsyncs --------------------------------------------------------

TEST_CASE("an I/O error at any write of a save gives Io, and nothing of the save is applied", "[fault][io]") {
  faults::Scope scope;
  TempDir dir;
  const auto path = dir.file("io-write.db");
  StateManager manager(faults::options(path, 3));
  manager.save_snapshots({versioned("a", 1), versioned("b", 1)});
  int committed = 1;

  // Fail the 1st, 2nd, ... write from now; a save that performs fewer
  // writes than that succeeds, and the fault hits the next one.
  int failures = 0;
  for (int nth = 1; nth <= 24; ++nth) {
    faults::fail_nth_write(nth);
    for (int attempt = 0; attempt < 2 && faults::injected() == static_cast<std::uint64_t>(failures); ++attempt) {
      const int next = committed + 1;
      const std::uint64_t injected_before = faults::injected();
      try {
        // One transaction, two plugins: all or nothing.
        manager.save_snapshots({versioned("a", next), versioned("b", next)});
        CHECK(faults::injected() == injected_before);  // a save that met the fault must not succeed
        committed = next;
      } catch (const hotstate::Error& error) {
        INFO("the write that failed was write " << nth << " from the arming: " << error.what());
        CHECK(error.code() == ErrorCode::Io);
        CHECK_THAT(error.what(), Catch::Contains("disk I/O error"));
        CHECK(faults::injected() == injected_before + 1);
        ++failures;
      }
      CHECK(current_version(manager, "a") == committed);
      CHECK(current_version(manager, "b") == committed);
    }
    faults::clear_faults();
  }
  CHECK(failures >= 8);  // the fault met a save at many different writes
  const std::vector<int> history = committed >= 4 ? std::vector<int>{committed - 3, committed - 2, committed - 1}
                                                  : std::vector<int>{};
  CHECK(versions_of(manager.get_history("a")) == history);
  check_committed(path, "a", committed, history);
  check_committed(path, "b", committed, history);

  faults::fail_every_write(SQLITE_IOERR_WRITE);
  CHECK(error_code_of([&] { manager.save_snapshot(versioned("a", committed + 1)); }) == ErrorCode::Io);
  CHECK(error_code_of([&] { (void)manager.rollback("a"); }) == ErrorCode::Io);
  CHECK(error_code_of([&] { manager.clear("a"); }) == ErrorCode::Io);
  CHECK(error_code_of([&] { manager.clear_all(); }) == ErrorCode::Io);
  CHECK(current_version(manager, "a") == committed);  // reads need no writes
  faults::clear_faults();
  manager.save_snapshot(versioned("a", committed + 1));
  CHECK(current_version(manager, "a") == committed + 1);
}

// SQLite does not need the connection reopened after a failed fsync: in WAL
// mode the commit is published to the WAL index only after the sync
// succeeded, so the frames already written are simply overwritten by the
// next transaction.
TEST_CASE("a failed fsync gives Io, the save never becomes visible, and the next save works", "[fault][io][fsync]") {
  faults::Scope scope;
  TempDir dir;
  const auto path = dir.file("io-sync.db");
  StateManager manager(faults::options(path, 3));
  manager.save_snapshot(versioned("p", 1));

  faults::fail_nth_sync(1);
  const hotstate::Error error = error_of([&] { manager.save_snapshot(versioned("p", 2)); });
  CHECK(error.code() == ErrorCode::Io);
  CHECK_THAT(error.what(), Catch::Contains("disk I/O error"));
  CHECK(faults::injected() == 1);
  CHECK(current_version(manager, "p") == 1);
  CHECK(manager.get_history("p").empty());
  check_committed(path, "p", 1, {});

  faults::fail_every_sync();
  CHECK(error_code_of([&] { (void)manager.save_snapshots({versioned("p", 2), versioned("q", 1)}); }) ==
        ErrorCode::Io);
  CHECK(error_code_of([&] { manager.clear_all(); }) == ErrorCode::Io);
  CHECK(manager.plugin_ids() == std::vector<std::string>{"p"});
  check_committed(path, "p", 1, {});

  faults::clear_faults();
  manager.save_snapshot(versioned("p", 3));
  CHECK(current_version(manager, "p") == 3);
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{1});
  check_committed(path, "p", 3, {1});
}

// A failure while the commit runs leaves its outcome unknown to the caller
// (see the next test), so the cache keeps nothing it held before.
TEST_CASE("a write whose commit failed drops the cache, whether or not it committed", "[fault][io][fsync][cache]") {
  faults::Scope scope;
  TempDir dir;
  const auto path = dir.file("io-sync-cache.db");
  StateManager manager(faults::options(path, 3));
  manager.save_snapshot(versioned("p", 1));
  manager.save_snapshot(versioned("q", 1));
  REQUIRE(current_version(manager, "q") == 1);
  REQUIRE(manager.cache_stats().entries == 2);

  faults::fail_nth_sync(1);  // an autocommit save: its one statement is the commit
  CHECK(error_code_of([&] { manager.save_snapshot(versioned("p", 2)); }) == ErrorCode::Io);
  CHECK(manager.cache_stats().entries == 0);
  const auto misses = manager.cache_stats().misses;
  CHECK(current_version(manager, "q") == 1);
  CHECK(manager.cache_stats().misses == misses + 1);

  REQUIRE(manager.cache_stats().entries == 1);
  faults::fail_every_sync();  // a transaction: its COMMIT fails
  CHECK(error_code_of([&] { (void)manager.save_snapshots({versioned("p", 2), versioned("q", 2)}); }) ==
        ErrorCode::Io);
  CHECK(manager.cache_stats().entries == 0);
  faults::clear_faults();
  CHECK(current_version(manager, "p") == 1);
  CHECK(current_version(manager, "q") == 1);
}

// What a failed fsync means: the data may or may not be on disk. SQLite
// wrote the whole transaction, commit frame included, to the -wal before the
// sync failed; it only did not publish it. If the process then dies before
// another commit overwrites those frames, the next opener rebuilds the WAL
// index from the -wal file, finds a valid commit, and the save that was
// reported failed is there. A caller must treat Error(Io) from a save as
// "outcome unknown", like any failed fsync.
TEST_CASE("after a failed fsync and a crash, WAL recovery brings back the save that was reported failed",
          "[fault][io][fsync][process]") {
  faults::Scope scope;
  TempDir dir;
  const auto path = dir.file("io-sync-crash.db");
  REQUIRE(hotstate_test::run_in_child_process([&] {
    StateManager manager(faults::options(path));
    manager.save_snapshot(versioned("p", 1));
    faults::fail_nth_sync(1);
    const ErrorCode code = error_code_of([&] { manager.save_snapshot(versioned("p", 2)); });
    const bool seen_before = current_version(manager, "p") == 1;
    _exit(code == ErrorCode::Io && seen_before ? 0 : 1);  // dies without closing anything
  }));
  check_committed(path, "p", 2, {1});
}

// --- A read-only file system ---------------------------------------------------------

TEST_CASE("on a read-only mount, opening for writing gives CannotOpen and read_only reads everything",
          "[fault][read-only]") {
  faults::Scope scope;
  TempDir dir;
  const auto path = dir.file("mount.db");
  build_small_database(path);
  const std::string before = hotstate_test::read_file(path);
  REQUIRE(files_in(dir.path()) == std::vector<std::string>{"mount.db"});

  faults::set_read_only_fs(faults::ReadOnlyFs::Mount);
  const hotstate::Error error = error_of([&] { StateManager manager(faults::options(path)); });
  CHECK(error.code() == ErrorCode::CannotOpen);
  CHECK_THAT(error.what(), Catch::Contains(path) && Catch::Contains("unable to open database file"));

  Options options = faults::options(path);
  options.read_only = true;
  StateManager reader(options);
  check_small_database(reader);
  check_refuses_writes(reader);
  check_small_database(reader);

  CHECK(faults::injected() >= 1);
  CHECK(hotstate_test::read_file(path) == before);
  CHECK(files_in(dir.path()) == std::vector<std::string>{"mount.db"});  // nothing could be created
}

// SQLite's unix VFS opens a database file it may not write (mode 0444, or a
// file system that answers EACCES) read-only without a word; hotstate checks
// sqlite3_db_readonly() after opening, so the constructor says ReadOnly at
// once instead of the first write failing later.
TEST_CASE("a read-only database file gives ReadOnly when opened for writing, and read_only reads everything",
          "[fault][read-only]") {
  faults::Scope scope;
  TempDir dir;
  const auto path = dir.file("file.db");
  build_small_database(path);
  const std::string before = hotstate_test::read_file(path);

  const auto check_writes_refused = [&](const Options& options) {
    const hotstate::Error error = error_of([&] { StateManager manager(options); });
    CHECK(error.code() == ErrorCode::ReadOnly);
    CHECK_THAT(error.what(), Catch::Contains("cannot be written") && Catch::Contains("Options::read_only"));
  };
  const auto check_reads = [&](Options options) {
    options.read_only = true;
    StateManager reader(options);
    check_small_database(reader);
    check_refuses_writes(reader);
  };

  SECTION("emulated by the VFS: the file opens read-only, as SQLite does for a 0444 file") {
    faults::set_read_only_fs(faults::ReadOnlyFs::Files);
    check_writes_refused(faults::options(path));
    check_reads(faults::options(path));
  }
  SECTION("a real file of mode 0444, opened by a user whom modes bind (user 65534 when the test runs as root)") {
    // The directory stays writable for that user: only the file is read-only.
    give_to_unprivileged_user({dir.path().string(), path});
    ModeRestorer restore(path, 0644);
    REQUIRE(::chmod(path.c_str(), 0444) == 0);
    const bool ran = run_unprivileged([&] {
      Findings findings;
      // The premise: this process really cannot write the file.
      if (const int fd = ::open(path.c_str(), O_WRONLY); fd >= 0) {
        ::close(fd);
        modes_do_not_bind(findings, "a file of mode 0444 opens for writing");
        return findings;
      }
      findings.expect(errno == EACCES, "opening the file for writing failed, but not with EACCES");
      findings.expect(::access(dir.path().c_str(), W_OK) == 0, dir.path().string() + " is not writable for this user");
      find_refused_open(findings, file_options(path), {"cannot be written", "Options::read_only"});
      find_reads_and_refused_writes(findings, file_options(path));
      return findings;
    });
    if (ran) CHECK(hotstate_test::read_file(path) == before);
  }
  CHECK(hotstate_test::read_file(path) == before);
  check_committed(path, "a", 3, {1, 2});
}

TEST_CASE("a database in a read-only directory gives ReadOnly when opened for writing and read_only reads everything",
          "[fault][read-only]") {
  faults::Scope scope;
  TempDir dir;
  const auto sub = dir.path() / "ro";
  std::filesystem::create_directory(sub);
  const auto path = (sub / "dir.db").string();
  build_small_database(path);
  const std::string before = hotstate_test::read_file(path);

  const auto check_refused = [&](const Options& options) {
    const hotstate::Error error = error_of([&] { StateManager manager(options); });
    // SQLite cannot create the -wal: SQLITE_READONLY_DIRECTORY.
    CHECK(error.code() == ErrorCode::ReadOnly);
    CHECK_THAT(error.what(), Catch::Contains(path) && Catch::Contains("readonly database"));
  };
  const auto check_reads = [&](Options options) {
    options.read_only = true;
    StateManager reader(options);
    check_small_database(reader);
    check_refuses_writes(reader);
  };

  SECTION("emulated by the VFS: no -wal or -journal can be created") {
    faults::set_read_only_fs(faults::ReadOnlyFs::Directory);
    check_refused(faults::options(path));
    check_reads(faults::options(path));
    CHECK(files_in(sub) == std::vector<std::string>{"dir.db"});
  }
  SECTION("a real directory of mode 0555, used by a user whom modes bind (user 65534 when the test runs as root)") {
    // The file stays writable for that user: only the directory is read-only.
    give_to_unprivileged_user({sub.string(), path});
    ModeRestorer restore(sub.string(), 0755);
    REQUIRE(::chmod(sub.c_str(), 0555) == 0);
    const bool ran = run_unprivileged([&] {
      Findings findings;
      // The premise: this process can create nothing in the directory, and can write the file.
      const std::string beside = (sub / "probe").string();
      if (const int fd = ::open(beside.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644); fd >= 0) {
        ::close(fd);
        ::unlink(beside.c_str());
        modes_do_not_bind(findings, "a file can be created in a directory of mode 0555");
        return findings;
      }
      findings.expect(errno == EACCES, "creating a file in the directory failed, but not with EACCES");
      findings.expect(::access(path.c_str(), W_OK) == 0, path + " is not writable for this user");
      // SQLite cannot create the -wal: SQLITE_READONLY_DIRECTORY.
      find_refused_open(findings, file_options(path), {path, "readonly database"});
      find_reads_and_refused_writes(findings, file_options(path));
      return findings;
    });
    if (ran) CHECK(files_in(sub) == std::vector<std::string>{"dir.db"});
  }
  CHECK(hotstate_test::read_file(path) == before);
}

TEST_CASE("a read-only StateManager refuses every write with ReadOnly and changes nothing", "[fault][read-only]") {
  TempDir dir;
  const auto path = dir.file("readonly-manager.db");
  build_small_database(path);
  const std::string before = hotstate_test::read_file(path);

  Options options = file_options(path, 1);  // a read-only manager does not record its max_history
  options.read_only = true;
  StateManager reader(options);
  check_refuses_writes(reader);
  check_small_database(reader);
  const hotstate::Error error = error_of([&] { reader.save_snapshot(versioned("a", 4)); });
  CHECK_THAT(error.what(), Catch::Contains("read-only"));
  CHECK(hotstate_test::read_file(path) == before);
  check_committed(path, "a", 3, {1, 2});
}

TEST_CASE("a read-only open of a path that does not exist gives CannotOpen and creates no file",
          "[fault][read-only]") {
  TempDir dir;
  const auto path = dir.file("missing.db");
  Options options = file_options(path);
  options.read_only = true;
  const hotstate::Error error = error_of([&] { StateManager manager(options); });
  CHECK(error.code() == ErrorCode::CannotOpen);
  CHECK_THAT(error.what(), Catch::Contains(path));
  CHECK(files_in(dir.path()).empty());
}

// --- A lock held by another process ---------------------------------------------------

TEST_CASE("a write lock held by another process past the busy timeout gives Busy and loses nothing",
          "[fault][busy][process]") {
  TempDir dir;
  const auto path = dir.file("busy-process.db");
  Options options = file_options(path, 3);
  options.busy_timeout = std::chrono::milliseconds(50);
  StateManager manager(options);
  manager.save_snapshot(versioned("p", 1));
  manager.save_snapshot(versioned("p", 2));

  int locked[2];
  int release[2];
  REQUIRE(::pipe(locked) == 0);
  REQUIRE(::pipe(release) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The other process: its own connection, holding the write lock until told.
    ::close(locked[0]);
    ::close(release[1]);
    int status = 1;
    try {
      RawDb other(path);
      other.exec("BEGIN IMMEDIATE");
      other.exec("DELETE FROM snapshots");  // uncommitted: nobody may see it
      char byte = 'L';
      if (::write(locked[1], &byte, 1) == 1 && ::read(release[0], &byte, 1) == 1) {
        other.exec("ROLLBACK");
        status = 0;
      }
    } catch (...) {
    }
    _exit(status);
  }
  ::close(locked[1]);
  ::close(release[0]);
  char byte = 0;
  const bool child_locked = ::read(locked[0], &byte, 1) == 1;
  ::close(locked[0]);
  if (child_locked) {
    const auto start = std::chrono::steady_clock::now();
    const hotstate::Error error = error_of([&] { manager.save_snapshot(versioned("p", 3)); });
    const auto waited = std::chrono::steady_clock::now() - start;
    CHECK(error.code() == ErrorCode::Busy);
    CHECK_THAT(error.what(), Catch::Contains("database is locked"));
    CHECK(waited >= std::chrono::milliseconds(45));
    CHECK(waited < std::chrono::seconds(3));
    CHECK(error_code_of([&] { (void)manager.save_snapshots({versioned("p", 3)}); }) == ErrorCode::Busy);
    CHECK(error_code_of([&] { (void)manager.rollback("p"); }) == ErrorCode::Busy);
    CHECK(error_code_of([&] { manager.clear("p"); }) == ErrorCode::Busy);
    // Readers are not blocked in WAL mode, and see neither the failed saves nor the other's delete.
    CHECK(current_version(manager, "p") == 2);
    CHECK(versions_of(manager.get_history("p")) == std::vector<int>{1});
    // Nor is opening: a file with nothing to migrate opens without the write lock.
    StateManager opened(options);
    CHECK(current_version(opened, "p") == 2);
  }
  byte = 'R';
  CHECK(::write(release[1], &byte, 1) == 1);
  ::close(release[1]);
  int status = -1;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(child_locked);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));

  manager.save_snapshot(versioned("p", 3));
  CHECK(current_version(manager, "p") == 3);
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{1, 2});
  check_committed(path, "p", 3, {1, 2});
}

// --- A damaged file ---------------------------------------------------------------------

namespace {

constexpr int corrupt_plugins = 12;
constexpr int corrupt_versions = 25;

std::string plugin_name(int plugin) { return "plugin-" + std::to_string(plugin); }

// Fits in a page (no overflow chains), so that a damaged page is a damaged b-tree page.
StateSnapshot corrupt_test_snapshot(int plugin, int version) {
  const std::size_t size = 200 + static_cast<std::size_t>((plugin * 131 + version * 71) % 900);
  return versioned(plugin_name(plugin), version)
      .with_data("payload", std::string(size, static_cast<char>('a' + (plugin + version) % 26)))
      .with_metadata("plugin", std::to_string(plugin));
}

// Opens `path` (writable or read-only) and reads every plugin. Every
// answer must be an Error or exactly the data saved; counts the errors by code.
void read_everything(const std::string& path, bool read_only, bool data_must_be_exact,
                     std::map<ErrorCode, int>& errors, int& exact_reads) {
  const auto record = [&](const hotstate::Error& error) {
    ++errors[error.code()];
    INFO(error.what());
    CHECK((error.code() == ErrorCode::Corrupt || error.code() == ErrorCode::NotADatabase));
  };
  try {
    Options options = file_options(path, 100);
    options.read_only = read_only;
    StateManager manager(options);
    try {
      const auto ids = manager.plugin_ids();
      std::vector<std::string> expected;
      for (int plugin = 0; plugin < corrupt_plugins; ++plugin) expected.push_back(plugin_name(plugin));
      std::sort(expected.begin(), expected.end());
      if (data_must_be_exact) CHECK(ids == expected);
    } catch (const hotstate::Error& error) {
      record(error);
    }
    for (int plugin = 0; plugin < corrupt_plugins; ++plugin) {
      try {
        const auto current = manager.load_snapshot(plugin_name(plugin));
        StateSnapshot expected = corrupt_test_snapshot(plugin, corrupt_versions);
        if (data_must_be_exact) {
          REQUIRE(current);
          expected.seq = current->seq;
          expected.timestamp = current->timestamp;
          CHECK(*current == expected);
        }
        ++exact_reads;
      } catch (const hotstate::Error& error) {
        record(error);
      }
      try {
        const auto history = manager.get_history(plugin_name(plugin));
        if (data_must_be_exact) {
          REQUIRE(history.size() == static_cast<std::size_t>(corrupt_versions - 1));
          for (int version = 1; version < corrupt_versions; ++version) {
            StateSnapshot expected = corrupt_test_snapshot(plugin, version);
            const StateSnapshot& got = history[static_cast<std::size_t>(version - 1)];
            expected.seq = got.seq;
            expected.timestamp = got.timestamp;
            CHECK(got == expected);
          }
        }
        ++exact_reads;
      } catch (const hotstate::Error& error) {
        record(error);
      }
    }
  } catch (const hotstate::Error& error) {
    record(error);
  }
}

}  // namespace

TEST_CASE("a damaged database file gives Corrupt or NotADatabase, or correct data, never a crash",
          "[fault][corrupt]") {
  TempDir dir;
  const auto pristine_path = dir.file("pristine.db");
  {
    StateManager manager(file_options(pristine_path, 100));
    for (int version = 1; version <= corrupt_versions; ++version) {
      std::vector<StateSnapshot> batch;
      for (int plugin = 0; plugin < corrupt_plugins; ++plugin) batch.push_back(corrupt_test_snapshot(plugin, version));
      manager.save_snapshots(std::move(batch));
    }
  }
  long long page_size = 0;
  long long page_count = 0;
  {
    RawDb raw(pristine_path);
    raw.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    raw.exec("PRAGMA journal_mode = DELETE");  // everything in the main file, no -wal to mend it
    page_size = raw.query_int("PRAGMA page_size");
    page_count = raw.query_int("PRAGMA page_count");
    REQUIRE(raw.query("PRAGMA integrity_check") == "ok");
  }
  REQUIRE(page_count >= 60);
  const std::string pristine = hotstate_test::read_file(pristine_path);
  REQUIRE(static_cast<long long>(pristine.size()) == page_size * page_count);

  // Each damage applied to a fresh copy of the pristine file.
  int copies = 0;
  const auto damaged_copy = [&](std::size_t offset, const std::string& bytes) {
    const auto path = dir.file("damaged-" + std::to_string(copies++) + ".db");
    std::string image = pristine;
    image.replace(offset, std::min(bytes.size(), image.size() - offset), bytes.substr(0, image.size() - offset));
    hotstate_test::write_file(path, image);
    return path;
  };

  std::map<ErrorCode, int> errors;
  int exact_reads = 0;
  SECTION("whole pages in the middle of the file overwritten with 0x5A: an error or exact data") {
    const std::string page(static_cast<std::size_t>(page_size), '\x5A');
    for (long long number = page_count / 4; number < page_count * 3 / 4; number += std::max(1LL, page_count / 16)) {
      INFO("page " << number + 1 << " of " << page_count);
      for (const bool read_only : {false, true}) {
        read_everything(damaged_copy(static_cast<std::size_t>(number * page_size), page), read_only,
                        /*data_must_be_exact=*/true, errors, exact_reads);
      }
    }
    CHECK(errors[ErrorCode::Corrupt] > 0);
    CHECK(exact_reads > 0);  // pages away from the damage still read back
  }
  SECTION("4096 bytes of 0x5A across two pages: an error or data, never a crash") {
    // Inside a cell, the damage may fall in a JSON string and still parse: SQLite
    // has no page checksums, and a row whose check value does not match is taken
    // as edited by another client and re-read in full. So only the absence of
    // crashes and of other error codes is asserted here.
    const std::string bytes(4096, '\x5A');
    for (long long number = page_count / 3; number < page_count * 2 / 3; number += std::max(1LL, page_count / 8)) {
      read_everything(damaged_copy(static_cast<std::size_t>(number * page_size + page_size / 2), bytes), false,
                      /*data_must_be_exact=*/false, errors, exact_reads);
    }
    CHECK(errors[ErrorCode::Corrupt] > 0);
  }
  SECTION("a damaged header magic: NotADatabase, for writing and for reading") {
    const auto path = damaged_copy(0, std::string(16, '\x5A'));
    for (const bool read_only : {false, true}) {
      Options options = file_options(path, 100);
      options.read_only = read_only;
      const hotstate::Error error = error_of([&] { StateManager manager(options); });
      CHECK(error.code() == ErrorCode::NotADatabase);
      CHECK_THAT(error.what(), Catch::Contains(path));
    }
    CHECK(hotstate_test::read_file(path).substr(16) == pristine.substr(16));  // left untouched
  }
  SECTION("the schema page damaged after the header: Corrupt, for writing and for reading") {
    const auto path = damaged_copy(100, std::string(static_cast<std::size_t>(page_size) - 100, '\x5A'));
    for (const bool read_only : {false, true}) {
      read_everything(path, read_only, /*data_must_be_exact=*/true, errors, exact_reads);
    }
    CHECK(errors[ErrorCode::Corrupt] + errors[ErrorCode::NotADatabase] == 2);
  }
}

// --- A checkpoint cut short --------------------------------------------------------------

// A process that dies in the middle of a checkpoint (kill -9, power loss, or
// a write error during it and then a crash) leaves the main file partly
// backfilled; the -wal still holds every commit, so the database (main file
// + -wal) is intact, and SQLite's next connection reads it correctly.
//
// hotstate's first look at an existing file (an immutable read of the main
// file alone, so that a refused file gets no -wal or -shm) fails on such a
// file; when a -wal exists, a failure of that look is no verdict and the real
// connection, which reads the -wal too, decides.
TEST_CASE("a database whose process died in the middle of a checkpoint opens and reads completely",
          "[fault][checkpoint][process]") {
  faults::Scope scope;
  TempDir dir;
  const auto path = dir.file("half-checkpoint.db");
  REQUIRE(hotstate_test::run_in_child_process([&] {
    StateManager manager(faults::options(path, 5));
    for (int version = 1; version <= 8; ++version) manager.save_snapshot(versioned("p", version));
    sqlite3* db = nullptr;
    bool stopped = false;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, faults::vfs_name()) == SQLITE_OK) {
      faults::fail_nth_write(2);  // the checkpoint writes page 1 to the main file, then fails
      stopped = (sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr) & 0xFF) == SQLITE_IOERR;
    }
    _exit(stopped && faults::injected() == 1 ? 0 : 1);  // dies without closing anything
  }));
  REQUIRE(std::filesystem::exists(path + "-wal"));
  try {
    StateManager manager(file_options(path, 5));
    CHECK(current_version(manager, "p") == 8);
    CHECK(versions_of(manager.get_history("p")) == std::vector<int>{3, 4, 5, 6, 7});
  } catch (const hotstate::Error& error) {
    FAIL_CHECK("a StateManager could not open it: " << error.what());
  }
  RawDb raw(path);  // SQLite itself reads main file + -wal
  CHECK(raw.query("PRAGMA integrity_check") == "ok");
  CHECK(raw.query_int("SELECT max(json_extract(data, '$.version')) FROM snapshots") == 8);
}
