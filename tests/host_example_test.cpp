// The hot-reload host example (examples/host.cpp), run end to end: it loads
// the plugin libraries built in examples/plugins with dlopen, hot-reloads
// them, and a test kills it in the middle of a reload.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support.hpp"

using hotstate::AuditEvent;
using hotstate::Json;
using hotstate::PluginState;
using hotstate::StateManager;
using hotstate_test::file_options;
using hotstate_test::read_file;
using hotstate_test::TempDir;

namespace {

const std::string kPlugin = "greeter";
const std::string kPluginDir = HOTSTATE_EXAMPLE_PLUGINS;
constexpr int kSteps = 3;  // steps between reloads

struct HostRun {
  int exit_code = -1;  // -1: killed by a signal
  std::string out;
  std::string err;
};

// The host's command line on the files of `dir`.
std::vector<std::string> host_command(const TempDir& dir, std::vector<std::string> extra = {}) {
  std::vector<std::string> command = {HOTSTATE_HOST_EXAMPLE, "--db",  dir.file("host.db"),     "--plugins",
                                      kPluginDir,            "--work", dir.file("work"),         "--steps",
                                      std::to_string(kSteps)};
  command.insert(command.end(), extra.begin(), extra.end());
  return command;
}

// A running host: its stdout comes through a pipe, its stderr goes to a file.
struct Child {
  pid_t pid = -1;
  int out = -1;
  std::string err_file;
};

Child start_host(const TempDir& dir, const std::vector<std::string>& command) {
  std::vector<char*> argv;
  for (const auto& argument : command) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  Child child;
  child.err_file = dir.file("host-stderr.txt");
  int out[2];
  REQUIRE(pipe2(out, O_CLOEXEC) == 0);
  const int err = open(child.err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(err >= 0);
  child.pid = fork();
  REQUIRE(child.pid >= 0);
  if (child.pid == 0) {  // only async-signal-safe calls until exec
    dup2(out[1], STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err);
  child.out = out[0];
  return child;
}

// Reads the child's stdout into `out` until it holds `marker` (true) or the
// child closes it (false). Waits for output, never for a fixed time; gives
// up after two minutes of silence.
bool read_until(Child& child, std::string& out, const std::string& marker) {
  char buffer[4096];
  while (marker.empty() || out.find(marker) == std::string::npos) {
    pollfd ready{child.out, POLLIN, 0};
    if (poll(&ready, 1, 120'000) <= 0) return false;
    const ssize_t n = read(child.out, buffer, sizeof buffer);
    if (n <= 0) return false;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return true;
}

// Waits for the child; its exit code, or -1 when a signal ended it.
int wait_for(Child& child) {
  close(child.out);
  int status = 0;
  REQUIRE(waitpid(child.pid, &status, 0) == child.pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

HostRun run_host(const TempDir& dir, std::vector<std::string> extra = {}) {
  Child child = start_host(dir, host_command(dir, std::move(extra)));
  HostRun run;
  read_until(child, run.out, "");
  run.exit_code = wait_for(child);
  run.err = read_file(child.err_file);
  return run;
}

std::map<std::string, Json> fields(const AuditEvent& event) {
  return event.detail_json().get<std::map<std::string, Json>>();
}

template <class T>
std::optional<T> field(const AuditEvent& event, const std::string& name) {
  const auto all = fields(event);
  const auto found = all.find(name);
  return found == all.end() ? std::nullopt : found->second.try_get<T>();
}

// Every event of the plugin, oldest first.
std::vector<AuditEvent> plugin_events(const StateManager& manager) {
  hotstate::AuditQuery query;
  query.plugin_id = kPlugin;
  query.order = hotstate::AuditOrder::OldestFirst;
  query.limit = 0;
  return manager.audit_events(query);
}

// The events of one reload, by kind, in order (those that carry its reload_id).
std::vector<std::string> reload_story(const StateManager& manager, std::uint64_t reload_id) {
  std::vector<std::string> kinds;
  for (const auto& event : plugin_events(manager)) {
    if (field<std::uint64_t>(event, "reload_id") == reload_id) kinds.push_back(event.kind);
  }
  return kinds;
}

std::vector<std::string> state_changes(const StateManager& manager) {
  std::vector<std::string> states;
  for (const auto& event : plugin_events(manager)) {
    if (event.kind == "PluginStateChanged") states.push_back(field<std::string>(event, "to").value_or("?"));
  }
  return states;
}

// A field of the first `kind` event of reload `reload_id`; nullopt when there
// is no such event or field.
template <class T>
std::optional<T> field_of(const std::vector<AuditEvent>& events, const std::string& kind, std::uint64_t reload_id,
                          const std::string& name) {
  for (const auto& event : events) {
    if (event.kind == kind && field<std::uint64_t>(event, "reload_id") == reload_id) return field<T>(event, name);
  }
  return std::nullopt;
}

std::int64_t ticks_of(const hotstate::StateSnapshot& snapshot) { return snapshot.get<std::int64_t>("ticks").value_or(-1); }

std::string library(const std::string& file) { return read_file(kPluginDir + "/" + file); }

}  // namespace

TEST_CASE("the host reloads a plugin, keeps its state, and rolls back a version that fails to initialize", "[host]") {
  TempDir dir;
  const HostRun run = run_host(dir);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.err.empty());
  CHECK_THAT(run.out, Catch::Contains("2.0.0 failed: greeter 2.0.0 cannot open its config file") &&
                          Catch::Contains("rolled back: 1.1.0 reinstalled") && Catch::Contains("verify: ok"));

  StateManager manager(file_options(dir.file("host.db")));
  // The state was kept across every reload: the count never restarted.
  const auto current = manager.load_snapshot(kPlugin);
  REQUIRE(current);
  CHECK(current->plugin_version == "1.1.0");
  CHECK(ticks_of(*current) == 3 * kSteps);
  CHECK(current->get<std::string>("last_message") == "hello #" + std::to_string(3 * kSteps) + " from greeter 1.1.0");
  CHECK(current->get<std::vector<std::string>>("recent_messages").value_or(std::vector<std::string>{}).size() == 3);
  const auto history = manager.get_history(kPlugin);
  REQUIRE(history.size() == 2);  // what each reload preserved
  CHECK(history[0].plugin_version == "1.0.0");
  CHECK(ticks_of(history[0]) == kSteps);
  CHECK(history[1].plugin_version == "1.1.0");
  CHECK(ticks_of(history[1]) == 2 * kSteps);

  // Every step is in the audit log.
  CHECK(reload_story(manager, 1) ==
        std::vector<std::string>{"ReloadStarted", "StatePreserved", "StateRestored", "ReloadCompleted"});
  CHECK(reload_story(manager, 2) == std::vector<std::string>{"ReloadStarted", "StatePreserved", "ReloadFailed",
                                                             "ReloadCompleted", "RollbackTriggered", "StateRestored"});
  const auto events = plugin_events(manager);
  CHECK(field_of<std::string>(events, "ReloadStarted", 1, "from_version") == "1.0.0");
  CHECK(field_of<std::string>(events, "ReloadStarted", 1, "to_version") == "1.1.0");
  CHECK(field_of<bool>(events, "ReloadCompleted", 1, "success") == true);
  CHECK(field_of<bool>(events, "ReloadCompleted", 2, "success") == false);
  CHECK_THAT(field_of<std::string>(events, "ReloadFailed", 2, "error").value_or(""),
             Catch::Contains("cannot open its config file"));
  CHECK(field_of<std::string>(events, "RollbackTriggered", 2, "to_version") == "1.1.0");
  // The rollback restored the state reload #2 preserved.
  CHECK(field_of<std::uint64_t>(events, "StateRestored", 2, "seq") == history[1].seq);
  CHECK(field_of<std::string>(events, "StateRestored", 2, "version") == "1.1.0");
  CHECK(state_changes(manager) == std::vector<std::string>{"Loading", "Running", "Reloading", "Running", "Reloading",
                                                           "Failed", "Running", "Unloading", "Unloaded"});
  CHECK(manager.plugin_state(kPlugin) == PluginState::Unloaded);
  std::vector<std::string> discovered;
  for (const auto& event : events) {
    if (event.kind == "PluginDiscovered") discovered.push_back(field<std::string>(event, "version").value_or("?"));
  }
  CHECK(discovered == std::vector<std::string>{"1.0.0", "1.1.0", "2.0.0", "3.0.0"});
  CHECK(manager.unfinished_reloads().empty());
  const auto report = manager.verify();
  INFO(Catch::Detail::stringify(report.problems));
  CHECK(report.ok);
}

TEST_CASE("a host killed mid-reload is recovered from the reload journal on restart", "[host]") {
  TempDir dir;
  // The first host begins the reload to 1.1.0, installs and loads it, and is
  // killed before it finishes.
  Child child = start_host(dir, host_command(dir, {"--pause-after-begin"}));
  std::string out;
  const bool paused = read_until(child, out, "PAUSED mid-reload");
  INFO(out << read_file(child.err_file));
  if (!paused) {
    kill(child.pid, SIGKILL);
    wait_for(child);
  }
  REQUIRE(paused);
  CHECK_THAT(out, Catch::Contains("reload #1: greeter 1.0.0 -> 1.1.0"));
  // The new version's library had already been swapped in.
  CHECK(read_file(dir.file("work/active/greeter.so")) == library("greeter_v2.so"));
  REQUIRE(kill(child.pid, SIGKILL) == 0);
  REQUIRE(wait_for(child) == -1);

  std::uint64_t last_good_seq = 0;
  {
    StateManager manager(file_options(dir.file("host.db")));
    const auto unfinished = manager.unfinished_reloads();
    REQUIRE(unfinished.size() == 1);
    CHECK(unfinished[0].plugin_id == kPlugin);
    CHECK(unfinished[0].from_version == "1.0.0");
    CHECK(unfinished[0].to_version == "1.1.0");
    CHECK(ticks_of(unfinished[0].last_good) == kSteps);
    last_good_seq = unfinished[0].last_good.seq;
    CHECK(manager.plugin_state(kPlugin) == PluginState::Reloading);
  }

  // The next host finds the reload in the journal, goes back to 1.0.0 and
  // its last good state, and carries on with the whole story.
  const HostRun run = run_host(dir);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.err.empty());
  CHECK_THAT(run.out, Catch::Contains("reload #1 (greeter 1.0.0 -> 1.1.0) never finished") &&
                          Catch::Contains("reinstalled greeter 1.0.0 and its last good state") &&
                          Catch::Contains("loaded greeter 1.0.0 with the state of seq " + std::to_string(last_good_seq)));

  StateManager manager(file_options(dir.file("host.db")));
  CHECK(manager.unfinished_reloads().empty());
  CHECK(reload_story(manager, 1) == std::vector<std::string>{"ReloadStarted", "StatePreserved", "RollbackTriggered",
                                                             "ReloadResolved"});
  const auto events = plugin_events(manager);
  CHECK(field_of<std::string>(events, "RollbackTriggered", 1, "reason") == "host restarted after a crash mid-reload");
  CHECK(field_of<std::string>(events, "RollbackTriggered", 1, "to_version") == "1.0.0");
  CHECK_THAT(field_of<std::string>(events, "ReloadResolved", 1, "note").value_or(""),
             Catch::Contains("reinstalled greeter 1.0.0"));
  // Then the restarted host reloaded to 1.1.0 and back from 2.0.0.
  CHECK(field_of<bool>(events, "ReloadCompleted", 2, "success") == true);
  CHECK(field_of<bool>(events, "ReloadCompleted", 3, "success") == false);
  CHECK(field_of<std::string>(events, "RollbackTriggered", 3, "to_version") == "1.1.0");
  // No ticks lost beyond what the last good snapshot held: the killed host
  // had run kSteps, the restarted one 3 * kSteps more.
  const auto current = manager.load_snapshot(kPlugin);
  REQUIRE(current);
  CHECK(current->plugin_version == "1.1.0");
  CHECK(ticks_of(*current) == 4 * kSteps);
  CHECK(manager.plugin_state(kPlugin) == PluginState::Unloaded);
  const auto report = manager.verify();
  INFO(Catch::Detail::stringify(report.problems));
  CHECK(report.ok);
}

TEST_CASE("the installed library file is the version that runs, swapped in whole", "[host]") {
  TempDir dir;
  const std::filesystem::path active_dir = dir.path() / "work" / "active";
  auto installed_files = [&] {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(active_dir)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  };

  // Only the broken version offered: it fails, 1.0.0 is put back.
  HostRun run = run_host(dir, {"--reload-to", "2.0.0"});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(installed_files() == std::vector<std::string>{"greeter.so"});  // no staged copy left behind
  CHECK(read_file((active_dir / "greeter.so").string()) == library("greeter_v1.so"));

  run = run_host(dir, {"--reload-to", "1.1.0"});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(installed_files() == std::vector<std::string>{"greeter.so"});
  CHECK(read_file((active_dir / "greeter.so").string()) == library("greeter_v2.so"));
}

TEST_CASE("a second host run carries on from the state the first one saved", "[host]") {
  TempDir dir;
  REQUIRE(run_host(dir).exit_code == 0);
  const HostRun run = run_host(dir);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  // The first run left 1.1.0 installed, and its state, at 3 * kSteps ticks.
  CHECK_THAT(run.out, Catch::Contains("loaded greeter 1.1.0 with the state of seq"));
  StateManager manager(file_options(dir.file("host.db")));
  CHECK(ticks_of(*manager.load_snapshot(kPlugin)) == 6 * kSteps);
  CHECK(manager.verify().ok);
}

TEST_CASE("a reload across a major version runs the state migration the host registered, and the next run carries "
          "on from the migrated state",
          "[host][restore-for]") {
  TempDir dir;
  HostRun run = run_host(dir, {"--reload-to", "1.1.0", "--reload-to", "3.0.0"});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("3.0.0 runs with the state of seq") && Catch::Contains("migrated from 1.1.0"));
  {
    StateManager manager(file_options(dir.file("host.db")));
    const auto current = manager.load_snapshot(kPlugin);
    REQUIRE(current);
    CHECK(current->plugin_version == "3.0.0");
    CHECK(current->data.count("last_message") == 0);
    CHECK(current->get<std::string>("greeting").value_or("").rfind("greetings #", 0) == 0);
    CHECK(ticks_of(*current) == 3 * kSteps);  // the ticks went through the migration
    hotstate::AuditQuery query;
    query.plugin_id = kPlugin;
    query.kinds = {"StateMigrated"};
    const auto migrated = manager.audit_events(query);
    REQUIRE(migrated.size() == 1);
    CHECK_THAT(migrated[0].detail, Catch::Contains("\"from_version\":\"1.1.0\"") &&
                                       Catch::Contains("\"to_version\":\"3.0.0\""));
    CHECK(manager.pinned(kPlugin, "last-known-good")->plugin_version == "3.0.0");
    CHECK(manager.verify().ok);
  }
  // The next run loads 3.0.0 (installed) with its own state: no migration again.
  run = run_host(dir, {"--reload-to", "3.0.0"});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("loaded greeter 3.0.0 with the state of seq"));
  StateManager manager(file_options(dir.file("host.db")));
  CHECK(ticks_of(*manager.load_snapshot(kPlugin)) == 5 * kSteps);  // steps before and after its reload 3.0.0 -> 3.0.0
  hotstate::AuditQuery query;
  query.plugin_id = kPlugin;
  query.kinds = {"StateMigrated"};
  CHECK(manager.audit_events(query).size() == 1);
}

TEST_CASE("a serving host applies a rollback and a restore made from another terminal to the running plugin, "
          "without a restart",
          "[host][changes]") {
  TempDir dir;
  REQUIRE(run_host(dir, {"--reload-to", "1.1.0"}).exit_code == 0);  // a first run leaves history to go back to
  Child child = start_host(dir, host_command(dir, {"--reload-to", "1.1.0", "--serve"}));
  struct KillOnFailure {  // a failed REQUIRE must not leave a serving host behind
    Child& child;
    bool reaped = false;
    ~KillOnFailure() {
      if (!reaped) {
        kill(child.pid, SIGKILL);
        waitpid(child.pid, nullptr, 0);
      }
    }
  } guard{child};
  std::string out;
  REQUIRE(read_until(child, out, "SERVING greeter 1.1.0"));
  const std::string db = dir.file("host.db");
  std::uint64_t rolled_back_to = 0;
  std::uint64_t restored_from = 0;
  {
    StateManager other(file_options(db));
    const auto history = other.get_history(kPlugin);
    REQUIRE(history.size() >= 2);
    // Another writer rolls back (as `hotstate rollback greeter` does).
    rolled_back_to = other.rollback(kPlugin)->seq;
    REQUIRE(read_until(child, out, "now the state of seq " + std::to_string(rolled_back_to) + ":"));
    CHECK_THAT(out, Catch::Contains("APPLIED RolledBack"));
    // The tool restores an older one.
    restored_from = other.get_history(kPlugin).front().seq;
  }
  {
#ifdef HOTSTATE_CLI
    const std::vector<std::string> tool = {HOTSTATE_CLI, "--db", db, "restore", kPlugin, std::to_string(restored_from)};
    std::string command;
    for (const auto& word : tool) command += "'" + word + "' ";
    REQUIRE(std::system((command + "> /dev/null").c_str()) == 0);
#else
    StateManager(file_options(db)).restore(kPlugin, restored_from);
#endif
  }
  StateManager reader(file_options(db));
  const auto current = reader.load_snapshot(kPlugin);
  REQUIRE(current);
  REQUIRE(read_until(child, out, "now the state of seq " + std::to_string(current->seq) + ":"));
  CHECK_THAT(out, Catch::Contains("APPLIED Restored"));
  const std::int64_t restored_ticks = ticks_of(*current);

  kill(child.pid, SIGTERM);
  std::string rest;
  read_until(child, rest, "");
  out += rest;
  INFO(out << read_file(child.err_file));
  guard.reaped = true;
  REQUIRE(wait_for(child) == 0);
  // It shut down with the state it was given: the restored ticks, no step since.
  StateManager after(file_options(db));
  CHECK(ticks_of(*after.load_snapshot(kPlugin)) == restored_ticks);
  std::size_t applied = 0;
  for (const auto& event : plugin_events(after)) {
    if (event.kind == "StateRestored" && field<std::string>(event, "reason").value_or("").rfind("changed by another", 0) == 0) {
      ++applied;
    }
  }
  CHECK(applied == 2);
  CHECK(after.verify().ok);
}
