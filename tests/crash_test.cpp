// Process crashes: a child saves in a loop and is killed with SIGKILL at
// random moments; every save it acknowledged must survive. Then kills at
// chosen io steps of opening (creating a file), migrating a version 1 file,
// and checkpointing: the file must open, check out and keep every
// acknowledged save.
#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support.hpp"

using hotstate::StateManager;
using hotstate_test::file_options;
using hotstate_test::RawDb;
using hotstate_test::TempDir;

namespace {

// How many kills: HOTSTATE_CRASH_KILLS, default 200.
int kill_count() {
  const char* text = std::getenv("HOTSTATE_CRASH_KILLS");
  return text ? std::max(1, std::atoi(text)) : 200;
}

struct Child {
  pid_t pid = -1;
  int out = -1;  // the read end of its stdout
};

Child start_child(const std::string& path, std::size_t max_history, long long first_value, bool normal) {
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    const std::string history = std::to_string(max_history);
    const std::string first = std::to_string(first_value);
    execl(HOTSTATE_CRASH_CHILD, HOTSTATE_CRASH_CHILD, path.c_str(), history.c_str(), first.c_str(),
          normal ? "normal" : "full", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(pipe_fds[1]);
  return Child{pid, pipe_fds[0]};
}

// Reads whole lines from `fd` into `lines` until `wanted` lines were read or
// the pipe ends; returns false at the end of the pipe.
bool read_lines(int fd, std::string& buffer, std::vector<std::string>& lines, std::size_t wanted) {
  char chunk[4096];
  while (lines.size() < wanted) {
    const ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
    for (auto newline = buffer.find('\n'); newline != std::string::npos; newline = buffer.find('\n')) {
      lines.push_back(buffer.substr(0, newline));
      buffer.erase(0, newline + 1);
    }
  }
  return true;
}

}  // namespace

TEST_CASE("every save acknowledged before a kill -9 survives it, with no half-written row", "[crash]") {
  TempDir dir;
  const auto path = dir.file("crash.db");
  constexpr std::size_t max_history = 3;
  { StateManager create(file_options(path, max_history)); }

  std::mt19937 random(20261125);
  // Every save known to be durable, per plugin: acknowledged ones, and any
  // unacknowledged one found on disk after a kill (the save in flight).
  std::map<std::string, std::set<long long>> durable;
  const int kills = kill_count();
  long long acknowledged_total = 0;
  int in_flight_found = 0;

  for (int k = 0; k < kills; ++k) {
    const long long first_value = static_cast<long long>(k) * 1'000'000;
    const bool normal = k % 2 == 1;  // a process crash loses nothing at NORMAL either
    Child child = start_child(path, max_history, first_value, normal);
    // Kill after a random number of acknowledged saves: the child is then
    // somewhere inside its next save (or its write of the line).
    const std::size_t kill_after = 1 + random() % 12;
    std::string buffer;
    std::vector<std::string> lines;
    const bool alive = read_lines(child.out, buffer, lines, kill_after);
    kill(child.pid, SIGKILL);
    read_lines(child.out, buffer, lines, static_cast<std::size_t>(-1));  // lines written before it died
    close(child.out);
    int status = 0;
    REQUIRE(waitpid(child.pid, &status, 0) == child.pid);
    INFO("kill " << k << " after " << lines.size() << " acknowledged saves");
    REQUIRE(alive);  // the child ran and saved before it was killed
    REQUIRE(WIFSIGNALED(status));

    std::map<std::string, std::set<long long>> acknowledged;
    for (const auto& line : lines) {
      const auto space = line.find(' ');
      REQUIRE(space != std::string::npos);
      acknowledged[line.substr(0, space)].insert(std::stoll(line.substr(space + 1)));
      ++acknowledged_total;
    }

    {
      RawDb raw(path);
      REQUIRE(raw.query("PRAGMA integrity_check") == "ok");
    }
    StateManager reopened(file_options(path, max_history));
    for (const std::string plugin : {"p0", "p1", "p2"}) {
      std::set<long long> rows;
      auto history = reopened.get_history(plugin);  // every row parses: none is half-written
      for (const auto& entry : history) rows.insert(entry.get<long long>("i").value());
      if (auto current = reopened.load_snapshot(plugin)) rows.insert(current->get<long long>("i").value());

      auto& known = durable[plugin];
      known.insert(acknowledged[plugin].begin(), acknowledged[plugin].end());
      // A row we did not know of can only be the save in flight: newer than
      // every acknowledged one, and at most one for the whole kill.
      for (const long long value : rows) {
        if (known.count(value) == 0) {
          CHECK(value >= first_value);
          CHECK(value > (known.empty() ? -1 : *known.rbegin()));
          known.insert(value);
          ++in_flight_found;
        }
      }
      // The rows are exactly the newest max_history + 1 durable saves.
      std::set<long long> expected;
      for (auto it = known.rbegin(); it != known.rend() && expected.size() < max_history + 1; ++it) {
        expected.insert(*it);
      }
      INFO("plugin " << plugin);
      CHECK(rows == expected);
    }
  }
  INFO(acknowledged_total << " acknowledged saves, " << in_flight_found << " in-flight saves found durable");
  CHECK(acknowledged_total >= kills);
  CHECK(in_flight_found <= kills);
}

// --- Kills at chosen moments: opening, creating, migrating, checkpointing ----------
//
// A stepped child (crash_child.cpp) says "io OPERATION FILE" before each
// write, truncation, sync, creation or deletion of the database's files and
// waits for the test's go-ahead; the test kills it at one of those steps,
// picked at random among the steps of one phase (opening, closing,
// checkpointing), so that the process dies exactly before that operation,
// with every earlier one done. Then the file must open, pass
// integrity_check and verify(), and hold every acknowledged save.

namespace {

// SIGPIPE ignored while it lives (a write to a child that died gives EPIPE).
class IgnoreSigpipe {
 public:
  IgnoreSigpipe() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &old_);
  }
  ~IgnoreSigpipe() { sigaction(SIGPIPE, &old_, nullptr); }
  IgnoreSigpipe(const IgnoreSigpipe&) = delete;
  IgnoreSigpipe& operator=(const IgnoreSigpipe&) = delete;

 private:
  struct sigaction old_ {};
};

constexpr std::size_t stepped_max_history = 10;

// What one stepped child did.
struct SteppedRun {
  std::vector<std::string> lines;        // everything it wrote (stdout and stderr), in order
  std::map<std::string, int> steps;      // io steps seen, by phase ("opening 1", "closing 2", "checkpointing 1", "running")
  std::string killed_at;                 // the phase and io step it was killed before; empty: not killed
  std::map<std::string, std::set<long long>> acknowledged;  // "saved" lines, by plugin
  int acknowledged_count = 0;
  int status = 0;                        // its wait status
  bool timed_out = false;

  std::string transcript() const {
    std::string text;
    for (const auto& line : lines) text += "\n  " + line;
    return text;
  }
};

// The phase a line starts: "open 2" starts "opening 2"; "opened 2" ends it.
std::string phase_after(const std::string& line, const std::string& phase) {
  const auto starts = [&](const char* word) { return line.rfind(word, 0) == 0; };
  const auto round = [&] { return line.substr(line.find(' ') + 1); };
  if (starts("open ")) return "opening " + round();
  if (starts("close ")) return "closing " + round();
  if (starts("checkpoint ")) return "checkpointing " + round();
  if (starts("opened ") || starts("closed ") || starts("checkpointed ")) return "running";
  return phase;
}

// Starts crash_child in `scenario` and steps it to its end, except that it
// is killed (SIGKILL) at the kill_at-th io step (1: the first) among those in
// a phase for which `in_kill_phase` holds; kill_at 0: never. Bounded: a
// child that goes silent for 60 s is killed and the run marked timed out.
template <class KillPhase>
SteppedRun run_stepped_child(const std::string& path, const std::string& scenario, long long first_value, bool normal,
                             KillPhase&& in_kill_phase, int kill_at) {
  IgnoreSigpipe ignore_sigpipe;
  int out[2];
  int in[2];
  REQUIRE(pipe(out) == 0);
  REQUIRE(pipe(in) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(out[1], STDERR_FILENO);
    dup2(in[0], STDIN_FILENO);
    for (int fd : {out[0], out[1], in[0], in[1]}) close(fd);
    const std::string history = std::to_string(stepped_max_history);
    const std::string first = std::to_string(first_value);
    execl(HOTSTATE_CRASH_CHILD, HOTSTATE_CRASH_CHILD, path.c_str(), history.c_str(), first.c_str(),
          normal ? "normal" : "full", scenario.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  close(in[0]);

  SteppedRun run;
  std::string phase = "running";
  int kill_phase_steps = 0;
  std::string buffer;
  bool ended = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!ended) {
    pollfd fd{out[0], POLLIN, 0};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0 || poll(&fd, 1, static_cast<int>(left)) == 0) {
      run.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    char chunk[4096];
    const ssize_t n = read(out[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ended = true;
      break;
    }
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    buffer.append(chunk, static_cast<std::size_t>(n));
    for (auto newline = buffer.find('\n'); newline != std::string::npos; newline = buffer.find('\n')) {
      const std::string line = buffer.substr(0, newline);
      buffer.erase(0, newline + 1);
      run.lines.push_back(line);
      if (line.rfind("io ", 0) == 0) {
        ++run.steps[phase];
        if (run.killed_at.empty() && in_kill_phase(phase) && ++kill_phase_steps == kill_at) {
          kill(pid, SIGKILL);
          run.killed_at = phase + ", before its io step " + std::to_string(run.steps[phase]) + " (" + line.substr(3) + ")";
        } else if (run.killed_at.empty()) {
          (void)!write(in[1], "c", 1);
        }
      } else if (line.rfind("saved ", 0) == 0) {
        std::istringstream text(line.substr(6));
        std::string plugin;
        long long value = 0;
        text >> plugin >> value;
        run.acknowledged[plugin].insert(value);
        ++run.acknowledged_count;
      } else {
        phase = phase_after(line, phase);
      }
    }
  }
  close(out[0]);
  close(in[1]);
  REQUIRE(waitpid(pid, &run.status, 0) == pid);
  return run;
}

// A copy of `pristine` (or no file when it is empty) at `path`.
void place(const std::string& pristine, const std::string& path) {
  if (!pristine.empty()) std::filesystem::copy_file(pristine, path);
}

// After a kill: the file opens (migrating if the kill came first), passes
// integrity_check and verify(), and holds every acknowledged save; a save
// found that was not acknowledged can only be the one in flight.
void check_after_kill(const std::string& path, const SteppedRun& run, long long first_value) {
  {
    RawDb raw(path);
    CHECK(raw.query("PRAGMA integrity_check") == "ok");
  }
  std::unique_ptr<StateManager> reopened;
  try {
    reopened = std::make_unique<StateManager>(file_options(path, stepped_max_history));
  } catch (const hotstate::Error& error) {
    FAIL_CHECK("the file does not open after the kill: " << error.what());
    return;
  }
  const auto report = reopened->verify();
  INFO("verify(): " << (report.problems.empty() ? std::string() : report.problems.front()));
  CHECK(report.ok);
  CHECK(report.schema_version == hotstate::schema_version());
  int in_flight_found = 0;
  for (const std::string plugin : {"p0", "p1", "p2"}) {
    std::set<long long> rows;
    for (const auto& entry : reopened->get_history(plugin)) rows.insert(entry.get<long long>("i").value());
    if (auto current = reopened->load_snapshot(plugin)) rows.insert(current->get<long long>("i").value());
    const auto acknowledged = run.acknowledged.count(plugin) ? run.acknowledged.at(plugin) : std::set<long long>{};
    INFO("plugin " << plugin);
    for (const long long value : acknowledged) CHECK(rows.count(value) == 1);
    for (const long long value : rows) {
      if (acknowledged.count(value) == 0) {
        CHECK(value == first_value + run.acknowledged_count);  // the save in flight
        ++in_flight_found;
      }
    }
  }
  CHECK(in_flight_found <= 1);
}

// How many kills each of these tests makes: a third of HOTSTATE_CRASH_KILLS (default 200).
int stepped_kill_count() { return std::max(1, kill_count() / 3); }

struct KillSummary {
  int kills = 0;
  std::set<std::string> places;  // distinct "phase, before io step" killed at
};

// The test loop: calibrate (a run stepped to its end), then kill runs at
// random io steps of the chosen phases, each on a fresh copy of `pristine`,
// checking the file after each with check_after_kill and `extra_check`.
template <class KillPhase, class ExtraCheck>
KillSummary kill_in_phases(const TempDir& dir, const std::string& pristine, const std::string& scenario,
                           KillPhase&& in_kill_phase, ExtraCheck&& extra_check) {
  KillSummary summary;
  // The io steps of the kill phases, at Full and at Normal (which syncs less).
  std::map<bool, int> steps_of;
  for (const bool normal : {false, true}) {
    const auto path = dir.file(normal ? "calibration-normal.db" : "calibration-full.db");
    place(pristine, path);
    const SteppedRun run = run_stepped_child(path, scenario, 0, normal, in_kill_phase, 0);
    INFO("the calibration run, stepped to its end:" << run.transcript());
    REQUIRE_FALSE(run.timed_out);
    REQUIRE((WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0));
    REQUIRE(run.lines.back() == "done");
    for (const auto& [phase, steps] : run.steps) steps_of[normal] += in_kill_phase(phase) ? steps : 0;
    REQUIRE(steps_of[normal] > 0);
    check_after_kill(path, run, 0);
    extra_check(path);
  }
  std::mt19937 random(20261127);
  for (int k = 0; k < stepped_kill_count(); ++k) {
    const auto path = dir.file("kill-" + std::to_string(k) + ".db");
    place(pristine, path);
    const long long first_value = static_cast<long long>(k + 1) * 1000;
    const bool normal = k % 2 == 1;  // a process crash loses nothing at NORMAL either
    const int kill_phase_steps = steps_of[normal];
    const int kill_at = 1 + static_cast<int>(random() % static_cast<unsigned>(kill_phase_steps));
    const SteppedRun run = run_stepped_child(path, scenario, first_value, normal, in_kill_phase, kill_at);
    INFO("kill " << k << " (" << (normal ? "Normal" : "Full") << "): at io step " << kill_at << " of "
                 << kill_phase_steps << " in the phases killed in, " << run.killed_at << "; the child wrote:"
                 << run.transcript());
    REQUIRE_FALSE(run.timed_out);
    REQUIRE_FALSE(run.killed_at.empty());
    REQUIRE(WIFSIGNALED(run.status));
    CHECK(WTERMSIG(run.status) == SIGKILL);
    ++summary.kills;
    summary.places.insert(run.killed_at);
    check_after_kill(path, run, first_value);
    extra_check(path);
  }
  return summary;
}

bool starts_with(const std::string& text, const char* prefix) { return text.rfind(prefix, 0) == 0; }

}  // namespace

TEST_CASE("a kill -9 while a StateManager creates a new database file or opens an existing one leaves a file that "
          "opens, with every acknowledged save",
          "[crash][open]") {
  TempDir dir;
  // No file: round 1 creates it (file, WAL, schema, migrations); rounds 2
  // and 3 open it again, each after the saves of the rounds before.
  const KillSummary summary = kill_in_phases(
      dir, "", "reopen", [](const std::string& phase) { return starts_with(phase, "opening "); },
      [](const std::string&) {});
  INFO(summary.kills << " kills at " << summary.places.size() << " distinct io steps of opening");
  CHECK(summary.places.size() >= std::min<std::size_t>(10, static_cast<std::size_t>(summary.kills) / 2));
}

TEST_CASE("a kill -9 in the middle of migrating a version 1 database leaves a file that opens, migrates and keeps "
          "every snapshot",
          "[crash][migration]") {
  TempDir dir;
  const std::string pristine = dir.file("v1-pristine.db");
  {
    const std::string dump = hotstate_test::read_file(std::string(HOTSTATE_SOURCE_DIR) + "/tests/fixtures/db/v1.sql");
    REQUIRE_FALSE(dump.empty());
    RawDb raw(pristine);
    raw.exec(dump);
    REQUIRE(raw.query_int("PRAGMA user_version") == 1);
  }
  REQUIRE_FALSE(std::filesystem::exists(pristine + "-wal"));
  // The v1 file's own snapshots, exactly as migration_test.cpp reads them.
  const auto check_fixture_rows = [](const std::string& path) {
    StateManager manager(file_options(path));
    const auto counter = manager.load_snapshot("counter");
    REQUIRE(counter);
    CHECK(counter->get<int>("count") == 5);
    std::vector<int> history;
    for (const auto& entry : manager.get_history("counter")) history.push_back(entry.get<int>("count").value_or(-1));
    CHECK(history == std::vector<int>{2, 3, 4});
    const auto unicode = manager.load_snapshot("unicode/../plugin");
    REQUIRE(unicode);
    CHECK(unicode->data.at("big").text() == "18446744073709551615");
    const auto rolled = manager.load_snapshot("rolled");
    REQUIRE(rolled);
    CHECK(rolled->get<int>("v") == 1);
    CHECK(manager.max_history() == 3);  // the v1 file's bound
    RawDb raw(path);
    CHECK(raw.query_int("SELECT count(*) FROM audit_events WHERE kind = 'SnapshotSaved'"
                        " AND json_extract(detail, '$.recorded_by') = 'migration 0002'") == 6);
  };
  // Round 1's opening migrates the file (each migration in its own transaction).
  const KillSummary summary =
      kill_in_phases(dir, pristine, "reopen", [](const std::string& phase) { return phase == "opening 1"; },
                     check_fixture_rows);
  INFO(summary.kills << " kills at " << summary.places.size() << " distinct io steps of the migration");
  CHECK(summary.places.size() >= std::min<std::size_t>(10, static_cast<std::size_t>(summary.kills) / 2));
}

TEST_CASE("a kill -9 in the middle of a checkpoint, by a second connection or by the last connection closing, leaves "
          "a file that opens with every acknowledged save",
          "[crash][checkpoint]") {
  TempDir dir;
  const KillSummary summary = kill_in_phases(
      dir, "", "checkpoint",
      [](const std::string& phase) { return starts_with(phase, "checkpointing ") || starts_with(phase, "closing "); },
      [](const std::string&) {});
  INFO(summary.kills << " kills at " << summary.places.size() << " distinct io steps of checkpoints");
  CHECK(summary.places.size() >= std::min<std::size_t>(10, static_cast<std::size_t>(summary.kills) / 2));
}
