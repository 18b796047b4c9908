// Progress of long work: the library tells a callback how backup, verify and
// prune_audit advance; the tool draws it on stderr when stderr is a terminal
// (a pseudo-terminal here) and prints nothing of it otherwise.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "hotstate/hotstate.hpp"
#include "support.hpp"

using hotstate::Progress;
using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate_test::file_options;
using hotstate_test::TempDir;

namespace {

struct Seen {
  std::string what;
  std::uint64_t done;
  std::uint64_t total;
};

void fill(StateManager& manager, int plugins, int saves_each) {
  std::vector<StateSnapshot> batch;
  for (int round = 0; round < saves_each; ++round) {
    for (int p = 0; p < plugins; ++p) {
      batch.push_back(StateSnapshot("plugin-" + std::to_string(p), "1.0.0").with_data("round", round));
    }
    manager.save_snapshots(std::move(batch));
    batch.clear();
  }
}

// Whether this machine gives out pseudo-terminals (a chroot or container
// without /dev/pts does not).
bool pseudo_terminals_available() {
  int reader = -1;
  int writer = -1;
  if (::openpty(&reader, &writer, nullptr, nullptr, nullptr) != 0) return false;
  ::close(reader);
  ::close(writer);
  return true;
}

// Runs the tool with `arguments`, its stderr on a pseudo-terminal (or on a
// pipe), and returns what it wrote there.
std::string stderr_of_tool(const std::vector<std::string>& arguments, bool terminal) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(HOTSTATE_CLI));
  for (const auto& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  int reader = -1;
  int writer = -1;
  if (terminal) {
    REQUIRE(::openpty(&reader, &writer, nullptr, nullptr, nullptr) == 0);
  } else {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    reader = fds[0];
    writer = fds[1];
  }
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::dup2(writer, STDERR_FILENO);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, STDOUT_FILENO);
    ::close(reader);
    ::setenv("HOTSTATE_PROGRESS_INTERVAL_MS", "0", 1);
    ::execv(HOTSTATE_CLI, argv.data());
    ::_exit(127);
  }
  ::close(writer);
  std::string out;
  char buffer[4096];
  for (;;) {
    pollfd ready{reader, POLLIN, 0};
    if (::poll(&ready, 1, 60'000) <= 0) break;
    const ssize_t n = ::read(reader, buffer, sizeof buffer);
    if (n <= 0) break;  // EIO on a pseudo-terminal once the child has closed it
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(reader);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  return out;
}

}  // namespace

TEST_CASE("verify, backup and prune_audit tell a progress callback how far they are", "[progress]") {
  TempDir dir;
  const std::string path = dir.file("big.db");
  StateManager manager(file_options(path, 3));
  fill(manager, 50, 40);
  std::vector<Seen> seen;
  const hotstate::ProgressCallback record = [&](const Progress& progress) {
    seen.push_back({std::string(progress.what), progress.done, progress.total});
  };

  const auto report = manager.verify(StateManager::VerifyOptions{std::nullopt, record});
  CHECK(report.ok);
  std::vector<std::string> steps;
  for (const auto& s : seen) {
    if (steps.empty() || steps.back() != s.what) steps.push_back(s.what);
  }
  CHECK(steps == std::vector<std::string>{"verify: rows", "verify: audit chain"});
  CHECK(seen.back().done == seen.back().total);
  CHECK(seen.back().total == static_cast<std::uint64_t>(manager.audit_head().event_count));
  for (std::size_t i = 1; i < seen.size(); ++i) {
    if (seen[i].what == seen[i - 1].what) CHECK(seen[i].done >= seen[i - 1].done);
  }

  seen.clear();
  manager.backup(dir.file("copy.db"), record);
  REQUIRE_FALSE(seen.empty());
  CHECK(seen.back().what == "backup");
  CHECK(seen.back().done == seen.back().total);
  CHECK(seen.back().total > 0);
  CHECK(StateManager(file_options(dir.file("copy.db"))).verify().ok);

  seen.clear();
  const std::uint64_t removed = manager.prune_audit(hotstate::AuditPrune{std::nullopt, 100}, record);
  REQUIRE(seen.size() >= 3);
  CHECK(seen.front().what == "prune: counting");
  CHECK(seen.back().what == "prune: removing");
  CHECK(seen.back().done == removed);
  CHECK(seen.back().total == removed);
}

TEST_CASE("the tool draws progress on stderr when it is a terminal, with rate and time left, and nothing when not",
          "[progress][cli]") {
  TempDir dir;
  const std::string path = dir.file("big.db");
  const std::string files = dir.file("files");
  {
    StateManager manager(file_options(path, 3));
    fill(manager, 40, 5);
  }
  // Not a terminal: not a byte of it.
  CHECK(stderr_of_tool({"--db", path, "verify"}, false).empty());
  CHECK(stderr_of_tool({"--db", path, "export", dir.file("other-files")}, false).empty());
  if (!pseudo_terminals_available()) {
    WARN("openpty failed (" << std::strerror(errno) << "): no pseudo-terminal here (no /dev/pts?), so the terminal "
         "half of this test cannot run");
    return;
  }
  // export and import (a loop over files in the tool), verify, backup and
  // prune-audit (the library's callbacks).
  const std::string exported = stderr_of_tool({"--db", path, "export", files}, true);
  CHECK_THAT(exported, Catch::Contains("\rexport: ") && Catch::Contains("of 40 plugins") &&
                           Catch::Contains("plugins/s") && Catch::Contains(" left"));
  const std::string imported = stderr_of_tool({"--db", dir.file("new.db"), "import", files}, true);
  CHECK_THAT(imported, Catch::Contains("\rimport: reading: ") && Catch::Contains("40 of 40 files (100.0 %)"));
  CHECK_THAT(stderr_of_tool({"--db", path, "verify"}, true),
             Catch::Contains("verify: rows: 160 of 160 rows (100.0 %)") && Catch::Contains("verify: audit chain: "));
  CHECK_THAT(stderr_of_tool({"--db", path, "backup", dir.file("copy.db")}, true),
             Catch::Contains("\rbackup: ") && Catch::Contains("pages (100.0 %)"));
  CHECK_THAT(stderr_of_tool({"--db", path, "prune-audit", "--keep", "10"}, true),
             Catch::Contains("prune: counting") && Catch::Contains("prune: removing: "));

  CHECK(stderr_of_tool({"--db", dir.file("other.db"), "import", files}, false).empty());
}
