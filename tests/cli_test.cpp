// The hotstate command-line tool, run as a person or a script would.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support.hpp"

using hotstate::Json;
using hotstate::ReloadEvent;
using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate_test::file_options;
using hotstate_test::TempDir;

namespace {

struct Run {
  int exit_code = -1;  // -1 when it did not exit by itself (a signal, or killed at the deadline)
  std::string out;     // stdout; stderr goes to err
  std::string err;
  bool timed_out = false;  // killed at the deadline
  long max_rss_kb = 0;     // the most memory it held (ru_maxrss)
};

struct RunOptions {
  std::string cwd;  // empty: the test's own
  // Killed after this: a tool that hangs fails its test instead of blocking the suite.
  std::chrono::seconds deadline{120};
};

// Appends what is readable on `fd` to `into`; false at end of file.
bool drain(int fd, std::string& into) {
  char buffer[65536];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  into.append(buffer, static_cast<std::size_t>(n));
  return n > 0;
}

// Runs the tool with `arguments`, exactly as given (no shell), and collects
// its output, exit code and peak memory.
Run run_tool(const std::vector<std::string>& arguments, const RunOptions& options = {}) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(HOTSTATE_CLI));
  for (const auto& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  int out_pipe[2];
  int err_pipe[2];
  REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // only async-signal-safe calls until exec
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) ::_exit(127);
    ::execv(HOTSTATE_CLI, argv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  Run run;
  const auto deadline = std::chrono::steady_clock::now() + options.deadline;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* into[2] = {&run.out, &run.err};
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(child, SIGKILL);
      run.timed_out = true;
      break;
    }
    if (::poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && !drain(fds[i].fd, *into[i])) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
      }
    }
  }
  for (const auto& fd : fds) {
    if (fd.fd >= 0) ::close(fd.fd);
  }
  int status = 0;
  rusage usage{};
  REQUIRE(::wait4(child, &status, 0, &usage) == child);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.max_rss_kb = usage.ru_maxrss;
  return run;
}

Run hotstate_tool(const std::vector<std::string>& arguments) { return run_tool(arguments); }

}  // namespace

TEST_CASE("the tool lists, shows, and diffs plugins as tables and as JSON", "[cli]") {
  TempDir dir;
  const auto db = dir.file("cli.db");
  {
    StateManager manager(file_options(db));
    manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("a", 1).with_data("b", "x").with_metadata("m", "1"));
    manager.save_snapshot(StateSnapshot("p", "1.1.0").with_data("a", 2).with_data("c", true).with_metadata("m", "1"));
  }
  const Run plugins = hotstate_tool({"--db", db, "--json", "plugins"});
  REQUIRE(plugins.exit_code == 0);
  const Json list = Json::parse(plugins.out);
  CHECK(list.text().find(R"("plugin_id":"p")") != std::string::npos);
  CHECK(list.text().find(R"("history":1)") != std::string::npos);

  const Run table = hotstate_tool({"--db", db, "plugins"});
  CHECK(table.exit_code == 0);
  CHECK_THAT(table.out, Catch::Contains("PLUGIN") && Catch::Contains("1.1.0"));

  const Run show = hotstate_tool({"--db", db, "--json", "show", "p"});
  REQUIRE(show.exit_code == 0);
  CHECK(Json::parse(show.out).get<std::map<std::string, Json>>().at("data").text() == R"({"a":2,"c":true})");

  const Run history = hotstate_tool({"--db", db, "--json", "history", "p"});
  REQUIRE(history.exit_code == 0);
  CHECK(Json::parse(history.out).get<std::vector<Json>>().size() == 2);

  const Run diff = hotstate_tool({"--db", db, "--json", "diff", "p", "1", "2"});
  REQUIRE(diff.exit_code == 0);
  CHECK(Json::parse(diff.out).get<std::map<std::string, Json>>().at("data").text() ==
        R"({"added":{"c":true},"changed":{"a":{"from":1,"to":2}},"removed":["b"]})");
  const Run diff_table = hotstate_tool({"--db", db, "diff", "p", "1", "2"});
  CHECK_THAT(diff_table.out, Catch::Contains("+ data.c = true") && Catch::Contains("- data.b") &&
                                 Catch::Contains("~ data.a: 1 -> 2"));

  const Run rollback = hotstate_tool({"--db", db, "rollback", "p"});
  CHECK(rollback.exit_code == 0);
  CHECK(StateManager(file_options(db)).load_snapshot("p")->get<int>("a") == 1);
}

TEST_CASE("the tool reports errors on stderr with a non-zero exit code, and --help works", "[cli]") {
  TempDir dir;
  const auto db = dir.file("errors.db");
  { StateManager manager(file_options(db)); }
  const Run missing = hotstate_tool({"--db", db, "show", "nobody"});
  CHECK(missing.exit_code != 0);
  CHECK(missing.out.empty());
  CHECK_THAT(missing.err, Catch::Contains("no plugin 'nobody'"));
  const Run bad_seq = hotstate_tool({"--db", db, "diff", "nobody", "1", "2"});
  CHECK(bad_seq.exit_code != 0);
  const Run no_file = hotstate_tool({"--db", dir.file("absent.db"), "plugins"});
  CHECK(no_file.exit_code != 0);
  CHECK_FALSE(std::filesystem::exists(dir.file("absent.db")));  // looking creates nothing
  const Run unknown = hotstate_tool({"frobnicate"});
  CHECK(unknown.exit_code != 0);
  for (const char* command :
       {"demo", "plugins", "show", "history", "diff", "rollback", "export", "import", "verify", "backup", "state",
        "audit", "reloads", "resolve", "prune-audit", "set-max-history"}) {
    INFO(command);
    const Run help = hotstate_tool({command, "--help"});
    CHECK(help.exit_code == 0);
    CHECK_THAT(help.out, Catch::Contains("Usage"));
  }
}

TEST_CASE("export writes each plugin in the seed's format under a safe name, and import reads it back",
          "[cli][export]") {
  TempDir dir;
  const auto db = dir.file("source.db");
  const std::vector<std::string> ids = {"plain", "../x", "/etc/x", "a/b", "", "..", "back\\slash",
                                        std::string(600, 'L'), "sp ace\ttab"};
  {
    StateManager manager(file_options(db));
    for (std::size_t i = 0; i < ids.size(); ++i) {
      manager.save_snapshot(StateSnapshot(ids[i], "1.0.0").with_data("index", i).with_metadata("id", ids[i]));
    }
  }
  const auto out = dir.path() / "export";
  const Run exported = hotstate_tool({"--db", db, "export", out.string()});
  REQUIRE(exported.exit_code == 0);
  // Every file is directly inside the directory; nothing was written anywhere else.
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(out)) {
    CHECK(entry.is_regular_file());
    CHECK(entry.path().parent_path() == out);
    CHECK(entry.path().filename().string().size() <= 255);
    ++files;
  }
  CHECK(files == ids.size());
  // What an id that escaped its name would have written: "../x" as x.json
  // beside the directory, "/etc/x" as /etc/x.json.
  CHECK_FALSE(std::filesystem::exists(dir.path() / "x.json"));
  CHECK_FALSE(std::filesystem::exists("/etc/x.json"));
  CHECK(std::filesystem::exists(out / "plain.json"));
  CHECK(std::filesystem::exists(out / "%2E%2E%2Fx.json"));

  const auto copy = dir.file("copy.db");
  const Run imported = hotstate_tool({"--db", copy, "import", out.string()});
  REQUIRE(imported.exit_code == 0);
  StateManager source(file_options(db));
  StateManager target(file_options(copy));
  CHECK(target.plugin_ids() == source.plugin_ids());
  for (const auto& id : ids) {
    INFO("id '" << id << "'");
    auto a = source.load_snapshot(id);
    auto b = target.load_snapshot(id);
    REQUIRE(a);
    REQUIRE(b);
    StateSnapshot expected = *a;
    expected.seq = b->seq;
    CHECK(*b == expected);
  }
}

TEST_CASE("import reads a directory the seed itself wrote, all files or none", "[cli][export]") {
  TempDir dir;
  // Every persisted fixture of the seed, numbers.json's timestamp 2^64-1 included.
  const auto seed_dir = dir.path() / "seed";
  std::filesystem::create_directories(seed_dir);
  const std::string fixtures = std::string(HOTSTATE_SEED_FIXTURES) + "/persisted/";
  for (const char* name : {"empty", "metadata", "multikey_order_unspecified", "nested", "numbers", "unicode"}) {
    std::filesystem::copy_file(fixtures + name + ".json", seed_dir / (std::string(name) + ".json"));
  }
  const auto db = dir.file("migrated.db");
  const Run imported = hotstate_tool({"--db", db, "import", seed_dir.string()});
  INFO(imported.err);
  REQUIRE(imported.exit_code == 0);
  {
    StateManager manager(file_options(db));
    CHECK(manager.plugin_ids() ==
          std::vector<std::string>{"", "fx-metadata", "fx-multikey", "fx-nested", "fx-numbers", "fx-unicode"});
    CHECK(manager.load_snapshot("fx-unicode")->plugin_version == "1.0.0-\xce\xb2" "eta");
    CHECK(manager.load_snapshot("fx-numbers")->timestamp == 18446744073709551615ULL);
  }

  // A file the store refuses (an id over max_id_bytes): named, and nothing imported.
  hotstate_test::write_file((seed_dir / "too_long.json").string(),
                            StateSnapshot(std::string(2000, 'L'), "1.0.0").to_persisted_bytes());
  const auto db2 = dir.file("refused.db");
  const Run refused = hotstate_tool({"--db", db2, "import", seed_dir.string()});
  CHECK(refused.exit_code != 0);
  CHECK_THAT(refused.err, Catch::Contains("too_long.json") && Catch::Contains("nothing was imported"));
  CHECK(StateManager(file_options(db2)).plugin_ids().empty());
}

TEST_CASE("the tool's verify passes a healthy file and fails a damaged one; backup makes a usable copy", "[cli][verify]") {
  TempDir dir;
  const auto db = dir.file("verify.db");
  {
    StateManager manager(file_options(db, 2));
    for (int i = 0; i < 5; ++i) manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("i", i));
  }
  const Run healthy = hotstate_tool({"--db", db, "verify"});
  CHECK(healthy.exit_code == 0);
  CHECK_THAT(healthy.out, Catch::StartsWith("ok"));

  const auto copy = dir.file("copy.db");
  const Run backup = hotstate_tool({"--db", db, "backup", copy});
  REQUIRE(backup.exit_code == 0);
  CHECK(hotstate_tool({"--db", copy, "verify"}).exit_code == 0);
  CHECK(StateManager(file_options(copy, 2)).load_snapshot("p")->get<int>("i") == 4);

  {
    hotstate_test::RawDb shell(db);
    shell.exec("DROP TRIGGER snapshots_trim_history");
  }
  const Run damaged = hotstate_tool({"--db", db, "--json", "verify"});
  CHECK(damaged.exit_code == 1);
  CHECK_THAT(damaged.out, Catch::Contains("snapshots_trim_history on snapshots is missing"));
}

namespace {

using JsonObject = std::map<std::string, Json>;

JsonObject object_of(const Json& json) { return json.get<JsonObject>(); }

std::vector<Json> array_of(const std::string& text) { return Json::parse(text).get<std::vector<Json>>(); }

// Options whose clock reads `now` (microseconds since the Unix epoch).
hotstate::Options clocked_options(const std::string& path, const std::shared_ptr<std::atomic<std::int64_t>>& now) {
  hotstate::Options options = file_options(path);
  options.clock = [now] { return now->load(); };
  return options;
}

std::int64_t system_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A fixed day long before any run of this test, so the events stamped "two days ago" by the real clock
// never fall inside it (they did on 2026-11-27).
constexpr std::int64_t kTenOClock = 1615716000LL * 1000000;  // 2021-03-14T10:00:00Z

}  // namespace

TEST_CASE("audit-head prints the checkpoint that verify --audit-head later checks, signed with --audit-key-file",
          "[cli][verify][audit_chain]") {
  TempDir dir;
  const auto db = dir.file("chain.db");
  const auto key_file = dir.file("audit.key");
  hotstate_test::write_file(key_file, "a key of the host's, never in the database");
  {
    hotstate::Options options = file_options(db, 2);
    options.audit_key = "a key of the host's, never in the database";
    StateManager manager(options);
    for (int i = 0; i < 5; ++i) manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("i", i));
    manager.set_plugin_state("p", hotstate::PluginState::Running);  // the newest event, removed below
  }
  const Run head = hotstate_tool({"--db", db, "audit-head"});
  REQUIRE(head.exit_code == 0);
  const std::string checkpoint = head.out.substr(0, head.out.find('\n'));
  CHECK(checkpoint == StateManager(file_options(db)).audit_head().to_text());

  const Run signed_head = hotstate_tool({"--db", db, "--audit-key-file", key_file, "--json", "audit-head"});
  REQUIRE(signed_head.exit_code == 0);
  const JsonObject fields = object_of(Json::parse(signed_head.out));
  CHECK(fields.at("text").get<std::string>() == checkpoint);
  CHECK(fields.at("signature").get<std::string>().size() == 64);

  const Run extends = hotstate_tool({"--db", db, "--audit-key-file", key_file, "verify", "--audit-head", checkpoint});
  CHECK(extends.exit_code == 0);
  CHECK_THAT(extends.out, Catch::Contains("extends " + checkpoint) && Catch::Contains("every signature valid"));

  // The newest events removed with the triggers dropped: only the checkpoint tells.
  {
    hotstate_test::RawDb shell(db);
    const std::string restore = shell.query("SELECT group_concat(sql, '; ') FROM sqlite_master WHERE name IN "
                                            "('audit_events_prune_only', 'audit_events_prune_leaves_gap')");
    shell.exec("DROP TRIGGER audit_events_prune_only; DROP TRIGGER audit_events_prune_leaves_gap;"
               " DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events); " + restore);
  }
  CHECK(hotstate_tool({"--db", db, "verify"}).exit_code == 0);
  const Run truncated = hotstate_tool({"--db", db, "verify", "--audit-head", checkpoint});
  CHECK(truncated.exit_code == 1);
  CHECK_THAT(truncated.out, Catch::Contains("does not extend checkpoint " + checkpoint));

  const Run wrong_key = hotstate_tool({"--db", db, "--audit-key-file", db, "verify"});
  CHECK(wrong_key.exit_code == 1);
  CHECK_THAT(wrong_key.out, Catch::Contains("signature that does not match"));
  const Run malformed = hotstate_tool({"--db", db, "verify", "--audit-head", "12:xyz"});
  CHECK(malformed.exit_code == 2);
  CHECK_THAT(malformed.err, Catch::Contains("--audit-head"));
}


TEST_CASE("state prints a plugin's life-cycle state, Unloaded when never set", "[cli]") {
  TempDir dir;
  const auto db = dir.file("state.db");
  {
    StateManager manager(file_options(db));
    manager.set_plugin_state("runner", hotstate::PluginState::Loading);
    manager.set_plugin_state("runner", hotstate::PluginState::Running);
    manager.set_plugin_state("broken", hotstate::PluginState::failed("restore failed: \"v2\" rejects v1 state"));
  }
  const Run running = hotstate_tool({"--db", db, "state", "runner"});
  CHECK(running.exit_code == 0);
  CHECK_THAT(running.out, Catch::Contains("STATE") && Catch::Contains("runner") && Catch::Contains("Running"));

  const Run failed = hotstate_tool({"--db", db, "state", "broken"});
  CHECK(failed.exit_code == 0);
  CHECK_THAT(failed.out, Catch::Contains("Failed: restore failed: \"v2\" rejects v1 state"));
  const Run failed_json = hotstate_tool({"--db", db, "--json", "state", "broken"});
  REQUIRE(failed_json.exit_code == 0);
  const JsonObject state = object_of(Json::parse(failed_json.out));
  CHECK(state.at("plugin_id").get<std::string>() == "broken");
  CHECK(state.at("state").get<std::string>() == "Failed");
  CHECK(state.at("reason").get<std::string>() == "restore failed: \"v2\" rejects v1 state");

  const Run never = hotstate_tool({"--db", db, "state", "never-seen"});
  CHECK(never.exit_code == 0);
  CHECK_THAT(never.out, Catch::Contains("Unloaded"));
  // --json also after the command.
  const Run never_json = hotstate_tool({"--db", db, "state", "never-seen", "--json"});
  REQUIRE(never_json.exit_code == 0);
  CHECK(Json::parse(never_json.out).text() == R"({"plugin_id":"never-seen","reason":"","state":"Unloaded"})");

  const Run no_id = hotstate_tool({"--db", db, "state"});
  CHECK(no_id.exit_code == 2);
  CHECK_FALSE(no_id.err.empty());
  const Run no_file = hotstate_tool({"--db", dir.file("absent.db"), "state", "runner"});
  CHECK(no_file.exit_code == 1);
  CHECK_FALSE(std::filesystem::exists(dir.file("absent.db")));
}

TEST_CASE("audit filters by plugin, kind, time and limit, as a table and as JSON", "[cli]") {
  TempDir dir;
  const auto db = dir.file("audit.db");
  const auto now = std::make_shared<std::atomic<std::int64_t>>(0);
  {
    StateManager manager(clocked_options(db, now));
    now->store(kTenOClock - 3600LL * 1000000);  // 09:00
    manager.record_event(ReloadEvent::plugin_discovered("a"));
    now->store(kTenOClock);  // 10:00
    manager.record_event(ReloadEvent::reload_failed("a", "boom", 2));
    now->store(kTenOClock + 123456);  // 10:00:00.123456
    manager.record_event(ReloadEvent::rollback_triggered("b", "a failed"));
    now->store(kTenOClock + 3600LL * 1000000);  // 11:00
    manager.record_event(ReloadEvent::plugin_discovered("b"));
    // Relative to the tool's clock, the real one: two days ago and a minute ago.
    now->store(system_now_us() - 2 * 86400LL * 1000000);
    manager.record_event(ReloadEvent::plugin_discovered("recent"));
    now->store(system_now_us() - 60LL * 1000000);
    manager.record_event(ReloadEvent::plugin_removed("recent"));
  }
  const auto kinds_of = [&](const std::vector<std::string>& arguments) {
    std::vector<std::string> all = {"--db", db, "--json", "audit"};
    all.insert(all.end(), arguments.begin(), arguments.end());
    const Run run = hotstate_tool(all);
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    std::vector<std::string> kinds;
    for (const auto& event : array_of(run.out)) kinds.push_back(object_of(event).at("kind").get<std::string>());
    return kinds;
  };
  using Kinds = std::vector<std::string>;

  SECTION("by plugin, newest first by default, or oldest first") {
    CHECK(kinds_of({"--plugin", "a"}) == Kinds{"ReloadFailed", "PluginDiscovered"});
    CHECK(kinds_of({"--plugin", "a", "--oldest-first"}) == Kinds{"PluginDiscovered", "ReloadFailed"});
    CHECK(kinds_of({"--plugin", "nobody"}).empty());
  }
  SECTION("by kind, any of several") {
    CHECK(kinds_of({"--kind", "ReloadFailed", "--kind", "RollbackTriggered"}) == Kinds{"RollbackTriggered", "ReloadFailed"});
    CHECK(kinds_of({"--kind", "PluginDiscovered", "--plugin", "b"}) == Kinds{"PluginDiscovered"});
  }
  SECTION("by time: ISO-8601 dates and date-times, @unix seconds, durations back from now") {
    CHECK(kinds_of({"--plugin", "a", "--since", "2021-03-14T10:00:00Z"}) == Kinds{"ReloadFailed"});
    CHECK(kinds_of({"--plugin", "b", "--since", "2021-03-14T10:00:00.123456Z"}) ==
          Kinds{"PluginDiscovered", "RollbackTriggered"});
    CHECK(kinds_of({"--plugin", "b", "--since", "2021-03-14T10:00:00.123457Z"}) == Kinds{"PluginDiscovered"});
    CHECK(kinds_of({"--since", "2021-03-14 10:00:00", "--until", "2021-03-14T11:00:00Z", "--oldest-first"}) ==
          Kinds{"ReloadFailed", "RollbackTriggered"});
    CHECK(kinds_of({"--plugin", "a", "--since", "2021-03-14", "--until", "@1615716000"}) == Kinds{"PluginDiscovered"});
    CHECK(kinds_of({"--plugin", "recent", "--since", "1h"}) == Kinds{"PluginRemoved"});
    CHECK(kinds_of({"--plugin", "recent", "--since", "90s"}) == Kinds{"PluginRemoved"});
    CHECK(kinds_of({"--plugin", "recent", "--since", "3d"}) == Kinds{"PluginRemoved", "PluginDiscovered"});
    CHECK(kinds_of({"--plugin", "recent", "--until", "24h"}) == Kinds{"PluginDiscovered"});
  }
  SECTION("by limit: the newest N, 0 for all") {
    CHECK(kinds_of({"--limit", "1"}) == Kinds{"PluginRemoved"});
    CHECK(kinds_of({"--limit", "2", "--oldest-first"}) == Kinds{"PluginDiscovered", "ReloadFailed"});
    CHECK(kinds_of({"--limit", "0"}).size() == 6);
  }
  SECTION("JSON: the time as the view audit_log shows it, and the detail as an object") {
    const Run run = hotstate_tool({"--db", db, "--json", "audit", "--plugin", "b", "--kind", "RollbackTriggered"});
    REQUIRE(run.exit_code == 0);
    const auto events = array_of(run.out);
    REQUIRE(events.size() == 1);
    const JsonObject event = object_of(events[0]);
    CHECK(event.at("time_us").get<std::int64_t>() == kTenOClock + 123456);
    CHECK(event.at("time").get<std::string>() == "2021-03-14T10:00:00.123456Z");
    CHECK(event.at("plugin_id").get<std::string>() == "b");
    CHECK(event.at("detail").type() == hotstate::JsonType::Object);
    CHECK(event.at("detail").text() == R"({"reason":"a failed"})");
    hotstate_test::RawDb shell(db);
    CHECK(shell.query("SELECT time FROM audit_log WHERE id = " + event.at("id").text()) ==
          event.at("time").get<std::string>());
  }
  SECTION("a table for people") {
    const Run run = hotstate_tool({"--db", db, "audit", "--plugin", "a"});
    REQUIRE(run.exit_code == 0);
    CHECK_THAT(run.out, Catch::StartsWith("ID") && Catch::Contains("TIME") && Catch::Contains("KIND") &&
                            Catch::Contains("DETAIL"));
    CHECK_THAT(run.out, Catch::Contains("2021-03-14T10:00:00.000000Z") && Catch::Contains("ReloadFailed") &&
                            Catch::Contains(R"({"attempt":2,"error":"boom"})") &&
                            Catch::Contains("2021-03-14T09:00:00.000000Z"));
    const Run limited = hotstate_tool({"--db", db, "audit", "--limit", "1"});
    CHECK_THAT(limited.out, Catch::Contains("--limit 0 for all"));
  }
  SECTION("a time or a limit it cannot read is a usage error naming the accepted forms") {
    for (const char* bad : {"yesterday", "2026-13-01", "2026-02-30", "2021-03-14T25:00:00Z", "10x", "@", "-5m",
                            "2021-03-14T10:00:00+01:00", ""}) {
      INFO("--since '" << bad << "'");
      const Run run = hotstate_tool({"--db", db, "audit", "--since", bad});
      CHECK(run.exit_code == 2);
      CHECK(run.out.empty());
      CHECK_THAT(run.err, Catch::Contains("ISO-8601") && Catch::Contains("90s") && Catch::Contains("@<unix seconds>"));
    }
    CHECK(hotstate_tool({"--db", db, "audit", "--until", "soon"}).exit_code == 2);
    CHECK(hotstate_tool({"--db", db, "audit", "--since", "1h", "--until", "2h"}).exit_code == 2);
    CHECK(hotstate_tool({"--db", db, "audit", "--limit", "-1"}).exit_code == 2);
  }
  SECTION("a kind hotstate does not know is a usage error naming it, not an empty result") {
    for (const char* bad : {"ReloadFaild", "reloadfailed", "ReloadFailed,Bogus"}) {
      INFO("--kind '" << bad << "'");
      const Run run = hotstate_tool({"--db", db, "--json", "audit", "--kind", bad});
      CHECK(run.exit_code == 2);
      CHECK(run.out.empty());
      CHECK_THAT(run.err, Catch::Contains("--kind") && Catch::Contains("not in") && Catch::Contains("ReloadFailed"));
    }
    // Every kind the file's schema knows (table audit_kinds) is taken.
    const std::string every_kind = hotstate_test::RawDb(db).query("SELECT group_concat(kind, ',') FROM audit_kinds");
    CHECK(std::count(every_kind.begin(), every_kind.end(), ',') == 23);
    CHECK(kinds_of({"--kind", every_kind, "--limit", "0"}).size() == 6);
  }
}

TEST_CASE("reloads lists unfinished reloads and resolve marks them resolved", "[cli]") {
  TempDir dir;
  const auto db = dir.file("reloads.db");
  hotstate::ReloadTicket unfinished;
  {
    StateManager manager(file_options(db));
    const auto finished = manager.begin_reload(StateSnapshot("done", "1.0.0").with_data("n", 0), "1.1.0");
    manager.finish_reload(finished.id, hotstate::ReloadResult::succeeded());
    unfinished = manager.begin_reload(StateSnapshot("crashed", "1.0.0").with_data("n", 1), "2.0.0");
  }
  const Run table = hotstate_tool({"--db", db, "reloads"});
  REQUIRE(table.exit_code == 0);
  CHECK_THAT(table.out, Catch::Contains("LAST GOOD SEQ") && Catch::Contains("crashed") &&
                            Catch::Contains("1.0.0 -> 2.0.0"));
  CHECK_THAT(table.out, !Catch::Contains("done"));

  const Run json = hotstate_tool({"--db", db, "--json", "reloads"});
  REQUIRE(json.exit_code == 0);
  const auto reloads = array_of(json.out);
  REQUIRE(reloads.size() == 1);
  const JsonObject reload = object_of(reloads[0]);
  CHECK(reload.at("id").get<std::uint64_t>() == unfinished.id);
  CHECK(reload.at("plugin_id").get<std::string>() == "crashed");
  CHECK(reload.at("from_version").get<std::string>() == "1.0.0");
  CHECK(reload.at("to_version").get<std::string>() == "2.0.0");
  CHECK(reload.at("started_at_us").get<std::int64_t>() == unfinished.started_at_us);
  CHECK(reload.at("last_good_seq").get<std::uint64_t>() == unfinished.snapshot_seq);
  const JsonObject last_good = object_of(reload.at("last_good"));
  CHECK(last_good.at("data").text() == R"({"n":1})");
  CHECK(StateSnapshot::from_bytes(reload.at("last_good").text()).get<int>("n") == 1);

  const Run resolved = hotstate_tool({"--db", db, "resolve", std::to_string(unfinished.id), "--note", "restored by hand"});
  CHECK(resolved.exit_code == 0);
  CHECK_THAT(resolved.out, Catch::Contains("resolved"));
  {
    StateManager manager(file_options(db));
    CHECK(manager.unfinished_reloads().empty());
    hotstate::AuditQuery query;
    query.kinds = {"ReloadResolved"};
    const auto events = manager.audit_events(query);
    REQUIRE(events.size() == 1);
    CHECK(events[0].plugin_id == "crashed");
    CHECK_THAT(events[0].detail, Catch::Contains("restored by hand"));
  }
  const Run none = hotstate_tool({"--db", db, "reloads"});
  CHECK(none.exit_code == 0);
  CHECK_THAT(none.out, Catch::Contains("no unfinished reloads"));
  CHECK(hotstate_tool({"--db", db, "--json", "reloads"}).out == "[]\n");

  const Run again = hotstate_tool({"--db", db, "resolve", std::to_string(unfinished.id)});
  CHECK(again.exit_code == 1);
  CHECK_THAT(again.err, Catch::Contains("already ended"));
  const Run unknown = hotstate_tool({"--db", db, "resolve", "999"});
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("no reload 999"));
  CHECK(hotstate_tool({"--db", db, "resolve"}).exit_code == 2);
  CHECK(hotstate_tool({"--db", dir.file("absent.db"), "resolve", "1"}).exit_code == 2);
  CHECK_FALSE(std::filesystem::exists(dir.file("absent.db")));
}

TEST_CASE("demo runs twice on the same file and tells the whole story", "[cli]") {
  TempDir dir;
  const auto db = dir.file("demo.db");
  const Run first = hotstate_tool({"--db", db, "demo"});
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(first.err.empty());
  CHECK_THAT(first.out, Catch::Contains("migrated and saved") && Catch::Contains("StateMigrated") &&
                            Catch::Contains("Failed: 3.0.0 crashed while restoring its state") &&
                            Catch::Contains("last-known-good restored") && Catch::Contains("Restored") &&
                            Catch::Contains("are all still there") && Catch::Contains("[pinned: last-known-good]") &&
                            Catch::Contains("explore it with") && Catch::Contains("sqlite3"));

  {
    // A host that died in the middle of a reload: the next run finds it.
    StateManager manager(file_options(db));
    manager.begin_reload(*manager.load_snapshot("demo-greeter"), "2.1.0");
    manager.set_plugin_state("demo-greeter", hotstate::PluginState::Reloading);
  }
  const Run second = hotstate_tool({"--db", db, "demo"});
  INFO(second.out << second.err);
  REQUIRE(second.exit_code == 0);
  CHECK_THAT(second.out, Catch::Contains("from earlier runs") && Catch::Contains("never finished") &&
                             Catch::Contains("loaded 1.0.0 with the state of seq") &&
                             Catch::Contains("3.0.0 failed"));

  {
    StateManager manager(file_options(db));
    hotstate::AuditQuery query;
    query.plugin_id = "demo-greeter";
    query.limit = 0;
    std::map<std::string, int> kinds;
    for (const auto& event : manager.audit_events(query)) ++kinds[event.kind];
    for (const char* kind : {"PluginDiscovered", "PluginStateChanged", "SnapshotSaved", "ReloadStarted",
                             "StatePreserved", "StateRestored", "ReloadCompleted", "ReloadFailed", "RollbackTriggered",
                             "StateMigrated", "Pinned", "Restored"}) {
      INFO(kind);
      CHECK(kinds[kind] >= 2);  // once a run at least
    }
    CHECK(kinds["ReloadFailed"] == 2);
    CHECK(kinds["ReloadStarted"] == 7);
    CHECK(kinds["ReloadResolved"] == 1);
    CHECK(kinds["RolledBack"] == 0);  // a failed reload is undone by a restore, not a rollback
    CHECK(manager.plugin_state("demo-greeter") == hotstate::PluginState::Running);
    CHECK(manager.unfinished_reloads().empty());
    const auto current = manager.load_snapshot("demo-greeter");
    REQUIRE(current);
    CHECK(current->plugin_version == "2.0.0");
    CHECK(current->get<int>("greetings_sent") == 6);  // the second run went on from the first run's 1.1.0 state
    CHECK(manager.pinned("demo-greeter", "last-known-good")->get<int>("greetings_sent") == 7);
    const auto report = manager.verify();
    std::string problems;
    for (const auto& problem : report.problems) problems += problem + "\n";
    INFO(problems);
    CHECK(report.ok);
  }

  // The commands it suggests work, the diff and show with the seqs it printed.
  const auto diff_at = second.out.find("diff demo-greeter ");
  REQUIRE(diff_at != std::string::npos);
  std::istringstream seqs(second.out.substr(diff_at + 18));
  std::string seq_a;
  std::string seq_b;
  seqs >> seq_a >> seq_b;
  const Run diff = hotstate_tool({"--db", db, "diff", "demo-greeter", seq_a, seq_b});
  CHECK(diff.exit_code == 0);
  CHECK_THAT(diff.out, Catch::Contains("version 1.1.0") && Catch::Contains("version 2.0.0") &&
                           Catch::Contains("last_greeted"));
  const auto show_at = second.out.find("show demo-greeter --seq ");
  REQUIRE(show_at != std::string::npos);
  std::istringstream shown(second.out.substr(show_at + 24));
  std::string failed_seq;
  shown >> failed_seq;
  const Run show = hotstate_tool({"--db", db, "show", "demo-greeter", "--seq", failed_seq});
  CHECK(show.exit_code == 0);
  CHECK_THAT(show.out, Catch::Contains("version  3.0.0"));
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"plugins"}, {"history", "demo-greeter"}, {"pins", "demo-greeter"},
        {"audit", "--plugin", "demo-greeter"}, {"state", "demo-greeter"}, {"verify"}}) {
    std::vector<std::string> arguments = {"--db", db};
    arguments.insert(arguments.end(), command.begin(), command.end());
    const Run run = hotstate_tool(arguments);
    INFO(command.front() << ": " << run.err);
    CHECK(run.exit_code == 0);
    CHECK_THAT(second.out, Catch::Contains(command.front()));
  }
  CHECK_THAT(hotstate_tool({"--db", db, "verify"}).out, Catch::Contains("audit log consistent"));
}

TEST_CASE("prune-audit removes old events through the audited prune", "[cli]") {
  TempDir dir;
  const auto db = dir.file("prune.db");
  std::int64_t now = 1'700'000'000'000'000;
  {
    hotstate::Options options = file_options(db);
    options.clock = [&now] { return now; };
    StateManager manager(options);
    for (int i = 0; i < 5; ++i) {
      manager.record_event(hotstate::ReloadEvent::plugin_discovered("p").with("i", i));
      now += 1'000'000;
    }
  }
  CHECK(hotstate_tool({"--db", db, "prune-audit"}).exit_code == 2);  // needs a bound
  CHECK(hotstate_tool({"--db", db, "prune-audit", "--older-than", "yesterday-ish"}).exit_code == 2);

  const Run by_count = hotstate_tool({"--db", db, "--json", "prune-audit", "--keep", "3"});
  REQUIRE(by_count.exit_code == 0);
  CHECK(object_of(Json::parse(by_count.out)).at("removed").get<std::uint64_t>() == 2);
  // 1.7e9 s is in 2023: everything is older than a day.
  const Run by_time = hotstate_tool({"--db", db, "prune-audit", "--older-than", "1d"});
  REQUIRE(by_time.exit_code == 0);
  CHECK_THAT(by_time.out, Catch::Contains("removed 3 audit event(s)"));
  StateManager manager(file_options(db));
  hotstate::AuditQuery query;
  query.limit = 0;
  const auto events = manager.audit_events(query);
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == "AuditPruned");
  CHECK(events[1].kind == "AuditPruned");
  CHECK(manager.verify().ok);
}

// ---- Issue 10: files prepared by someone else, and nothing lost or faked

namespace {

// Runs the tool on `db` with `command` and its arguments.
Run on_database(const std::string& db, const std::vector<std::string>& command) {
  std::vector<std::string> arguments = {"--db", db};
  arguments.insert(arguments.end(), command.begin(), command.end());
  return hotstate_tool(arguments);
}

// The rows of `table`, counted through a plain sqlite3 connection.
long long rows_of(const std::string& db, const std::string& table) {
  hotstate_test::RawDb shell(db);
  return shell.query_int("SELECT count(*) FROM " + table);
}

// The first thing in `text` a terminal would act on, or that is not UTF-8,
// described ("byte 27 at 12"); "" when there is none. Line ends are allowed:
// they end the output's lines.
std::string first_raw_control(std::string_view text) {
  const auto at = [](std::size_t i) { return " at " + std::to_string(i); };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n' || (c >= 0x20 && c < 0x7F)) continue;
    if (c < 0x80) return "byte " + std::to_string(c) + at(i);
    const std::size_t length = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (length == 0 || i + length > text.size()) return "a byte that is not UTF-8" + at(i);
    for (std::size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return "a byte that is not UTF-8" + at(i);
    }
    if (c == 0xC2 && static_cast<unsigned char>(text[i + 1]) <= 0x9F) return "a C1 control" + at(i);
    i += length - 1;
  }
  return "";
}

// A database whose plugin "p" has `history` history rows and "q" 5, created
// with a history bound of 100.
std::string database_with_history(const TempDir& dir, std::size_t history) {
  const auto db = dir.file("bounded.db");
  StateManager manager(file_options(db, 100));
  for (std::size_t i = 0; i <= history; ++i) manager.save_snapshot(hotstate_test::versioned("p", static_cast<int>(i)));
  for (int i = 0; i <= 5; ++i) manager.save_snapshot(hotstate_test::versioned("q", i));
  return db;
}

// A read-only look at `db`, not through a tool run.
StateManager open_to_read(const std::string& db) {
  hotstate::Options options;
  options.path = db;
  options.read_only = true;
  return StateManager(options);
}

// One file of the seed's format for `plugin_id`, in `directory`.
void write_snapshot_file(const std::filesystem::path& directory, const std::string& plugin_id) {
  std::filesystem::create_directories(directory);
  hotstate_test::write_file((directory / (plugin_id + ".json")).string(),
                            StateSnapshot(plugin_id, "1.0.0").with_data("from", "file").to_persisted_bytes());
}

}  // namespace

TEST_CASE("no command of the tool changes a file's history bound or trims its history", "[cli][max_history]") {
  TempDir dir;
  const auto db = database_with_history(dir, 50);
  const auto snapshots = dir.path() / "snapshots";
  write_snapshot_file(snapshots, "r");
  const std::vector<std::vector<std::string>> commands = {
      {"rollback", "p"}, {"rollback", "unknown-plugin"}, {"import", snapshots.string()},
      {"prune-audit", "--keep", "100000"}, {"plugins"}, {"show", "p"}, {"history", "q"}, {"verify"}, {"audit"},
      {"export", dir.file("exported")}, {"backup", dir.file("copy.db")}};
  for (const auto& command : commands) {
    const Run run = on_database(db, command);
    INFO(command.front() << ": " << run.err);
    CHECK(run.exit_code == 0);
  }
  StateManager manager = open_to_read(db);
  CHECK(manager.max_history() == 100);
  CHECK(manager.get_history("p").size() == 49);  // 50, less the one rollback made current
  CHECK(manager.get_history("q").size() == 5);
  CHECK(manager.load_snapshot("r"));
}

TEST_CASE("set-max-history refuses to trim history without --force, and says how much it would trim",
          "[cli][max_history]") {
  TempDir dir;
  const auto db = database_with_history(dir, 50);
  const auto history_sizes = [&] {
    StateManager manager = open_to_read(db);
    return std::make_pair(manager.get_history("p").size(), manager.get_history("q").size());
  };

  const Run refused = hotstate_tool({"--db", db, "set-max-history", "20"});
  CHECK(refused.exit_code == 1);
  CHECK(refused.out.empty());
  CHECK_THAT(refused.err, Catch::Contains("30 history row(s) of 1 plugin(s)") && Catch::Contains("--force") &&
                              Catch::Contains("nothing was changed"));
  const Run refused_json = hotstate_tool({"--db", db, "--json", "set-max-history", "20"});
  CHECK(refused_json.exit_code == 1);
  CHECK(Json::parse(refused_json.out).text() ==
        R"({"changed":false,"from":100,"plugins":1,"to":20,"would_trim":30})");
  CHECK(open_to_read(db).max_history() == 100);
  CHECK(history_sizes() == std::make_pair(std::size_t{50}, std::size_t{5}));

  const Run raised = hotstate_tool({"--db", db, "set-max-history", "200"});  // trims nothing: no --force needed
  CHECK(raised.exit_code == 0);
  CHECK_THAT(raised.out, Catch::Contains("100 -> 200") && Catch::Contains("trimmed 0"));
  CHECK(open_to_read(db).max_history() == 200);

  const Run forced = hotstate_tool({"--db", db, "--json", "set-max-history", "20", "--force"});
  REQUIRE(forced.exit_code == 0);
  CHECK(Json::parse(forced.out).text() == R"({"changed":true,"from":200,"plugins":1,"to":20,"trimmed":30})");
  CHECK(open_to_read(db).max_history() == 20);
  CHECK(history_sizes() == std::make_pair(std::size_t{20}, std::size_t{5}));
  hotstate::AuditQuery trims;
  trims.kinds = {"HistoryTrimmed"};
  trims.limit = 0;
  CHECK(open_to_read(db).audit_events(trims).size() == 30);

  const Run same = hotstate_tool({"--db", db, "set-max-history", "20"});
  CHECK(same.exit_code == 0);
  CHECK_THAT(same.out, Catch::Contains("nothing changed"));

  for (const char* bad : {"-1", "2147483648", "ten", "", "1e3"}) {
    INFO("N '" << bad << "'");
    const Run run = hotstate_tool({"--db", db, "set-max-history", bad, "--force"});
    CHECK(run.exit_code == 2);
    CHECK_THAT(run.err, Catch::Contains("not a whole number from 0 to 2147483647"));
  }
  CHECK(hotstate_tool({"--db", dir.file("absent.db"), "set-max-history", "5"}).exit_code == 2);
  CHECK_FALSE(std::filesystem::exists(dir.file("absent.db")));
  CHECK(open_to_read(db).max_history() == 20);
}

TEST_CASE("plugins lists every readable plugin and names each one it cannot read", "[cli]") {
  TempDir dir;
  const auto db = dir.file("unreadable.db");
  {
    StateManager manager(file_options(db));
    manager.save_snapshot(StateSnapshot("alpha", "1.0.0").with_data("n", 1));
    manager.save_snapshot(StateSnapshot("alpha", "1.1.0").with_data("n", 2));
    manager.save_snapshot(StateSnapshot("omega", "2.0.0").with_data("n", 3));
  }
  {
    // 200 levels: json_valid accepts it, hotstate reads at most 128.
    hotstate_test::RawDb shell(db);
    shell.exec("INSERT INTO snapshots (plugin_id, plugin_version, data) VALUES ('deep', '1.0.0', '{\"a\":' || "
               "replace(printf('%.200c', 'x'), 'x', '[') || replace(printf('%.200c', 'x'), 'x', ']') || '}')");
  }
  const Run table = hotstate_tool({"--db", db, "plugins"});
  CHECK(table.exit_code == 1);
  CHECK_THAT(table.out, Catch::Contains("alpha") && Catch::Contains("1.1.0") && Catch::Contains("omega") &&
                            Catch::Contains("2.0.0"));
  CHECK_THAT(table.err, Catch::Contains("cannot read plugin 'deep'") && Catch::Contains("1 of 3"));

  const Run json = hotstate_tool({"--db", db, "--json", "plugins"});
  CHECK(json.exit_code == 1);
  CHECK_THAT(json.err, Catch::Contains("'deep'"));
  const auto entries = array_of(json.out);
  REQUIRE(entries.size() == 3);
  const JsonObject alpha = object_of(entries[0]);
  CHECK(alpha.at("plugin_id").get<std::string>() == "alpha");
  CHECK(alpha.at("history").get<int>() == 1);
  CHECK(alpha.count("error") == 0);
  const JsonObject deep = object_of(entries[1]);
  CHECK(deep.at("plugin_id").get<std::string>() == "deep");
  CHECK_FALSE(deep.at("error").get<std::string>().empty());
  CHECK(object_of(entries[2]).at("plugin_id").get<std::string>() == "omega");
}

TEST_CASE("human-readable output shows control characters from the file escaped; JSON stays exact", "[cli][escapes]") {
  TempDir dir;
  const auto db = dir.file("escapes.db");
  // ESC sequences (clear screen, set the window title), CR, BEL, DEL and the C1 controls CSI and NEL.
  const std::string id = "ev\x1b[2Jil\r\xc2\x9b" "x";
  const std::string shown_id = "ev\\x1B[2Jil\\r\\u009Bx";
  hotstate::ReloadTicket reload;
  {
    StateManager manager(file_options(db));
    manager.save_snapshot(StateSnapshot(id, "1.0\x1b[31m")
                              .with_data("k\x1b]0;title\x07", "v\x7f\xc2\x85")
                              .with_metadata("m", "line\nnext\x1b[0m"));
    manager.save_snapshot(StateSnapshot(id, "2.0\x1b[31m").with_data("k\x1b]0;title\x07", "w\x1b[0m"));
    manager.set_plugin_state(id, hotstate::PluginState::failed("crashed\x1b[2J"));
    reload = manager.begin_reload(*manager.load_snapshot(id), "3.0\x1b[5m");
  }
  {
    // A version that is not UTF-8, as only another client can write it.
    hotstate_test::RawDb shell(db);
    shell.exec("INSERT INTO snapshots (plugin_id, plugin_version) VALUES ('raw', CAST(X'31FF1B' AS TEXT))");
  }
  const auto check_escaped = [](const Run& run) {
    INFO(run.out << run.err);
    CHECK(first_raw_control(run.out).empty());
    CHECK(first_raw_control(run.err).empty());
  };
  const auto tool = [&](const std::vector<std::string>& command) {
    Run run = on_database(db, command);
    check_escaped(run);
    return run;
  };

  CHECK_THAT(tool({"plugins"}).out, Catch::Contains(shown_id) && Catch::Contains("2.0\\x1B[31m"));
  const Run show = tool({"show", id});
  CHECK(show.exit_code == 0);
  CHECK_THAT(show.out, Catch::Contains("plugin   " + shown_id) && Catch::Contains("k\\x1B]0;title\\x07") &&
                           Catch::Contains("\"w\\u001b[0m\""));
  CHECK_THAT(tool({"history", id}).out, Catch::Contains("1.0\\x1B[31m") && Catch::Contains("\\x7F\\u0085"));
  const Run diff = tool({"diff", id, "1", "2"});
  CHECK(diff.exit_code == 0);
  CHECK_THAT(diff.out, Catch::Contains(shown_id + ": seq 1") && Catch::Contains("~ data.k\\x1B]0;title\\x07") &&
                           Catch::Contains("- metadata.m (was \"line\\nnext\\u001b[0m\")"));
  CHECK_THAT(tool({"state", id}).out, Catch::Contains("crashed\\x1B[2J"));
  CHECK_THAT(tool({"audit", "--plugin", id}).out, Catch::Contains(shown_id));
  CHECK_THAT(tool({"reloads"}).out, Catch::Contains(shown_id) && Catch::Contains("3.0\\x1B[5m"));
  tool({"verify"});
  tool({"show", "raw"});

  const std::string folder = dir.file("out\x1b[0m");
  CHECK_THAT(tool({"export", folder}).out, Catch::Contains("out\\x1B[0m"));
  CHECK_THAT(tool({"import", folder}).out, Catch::Contains("out\\x1B[0m"));
  CHECK_THAT(tool({"backup", dir.file("copy\x1b[0m.db")}).out, Catch::Contains("copy\\x1B[0m.db"));
  CHECK_THAT(tool({"resolve", std::to_string(reload.id), "--note", "done\x1b[0m"}).out,
             Catch::Contains(shown_id) && Catch::Contains("done\\x1B[0m"));

  // Error messages quote what they could not find.
  CHECK_THAT(tool({"show", "nobody\x1b[31m"}).err, Catch::Contains("nobody\\x1B[31m"));
  tool({"show", "\xff\x1b"});  // refused as not UTF-8, or not found: either way escaped
  CHECK_THAT(tool({"show", "a", "b\x1b[31m"}).err, Catch::Contains("b\\x1B[31m"));
  CHECK_THAT(tool({"diff", id, "1", "x\x1b"}).err, Catch::Contains("x\\x1B"));

  // JSON: the exact text, escaped only as JSON escapes it (C1 controls and
  // DEL are not escaped by JSON).
  const Run json = hotstate_tool({"--db", db, "--json", "show", id});
  REQUIRE(json.exit_code == 0);
  const JsonObject snapshot = object_of(Json::parse(json.out));
  CHECK(snapshot.at("plugin_id").get<std::string>() == id);
  CHECK(snapshot.at("plugin_version").get<std::string>() == "2.0\x1b[31m");
  CHECK(object_of(snapshot.at("data")).count("k\x1b]0;title\x07") == 1);

  const Run rollback = tool({"rollback", id});
  CHECK(rollback.exit_code == 0);
  CHECK_THAT(rollback.out, Catch::Contains(shown_id + " rolled back to seq ") &&
                               Catch::Contains(" (version 2.0\\x1B[31m)"));
}

TEST_CASE("export never writes outside its directory through a planted symlink", "[cli][export]") {
  TempDir dir;
  const auto db = dir.file("source.db");
  {
    StateManager manager(file_options(db));
    manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("n", 1));
    manager.save_snapshot(StateSnapshot("q", "1.0.0").with_data("n", 2));
  }
  const auto out = dir.path() / "export";
  std::filesystem::create_directories(out);
  // The name the old export used for its temporary, and the final name of q,
  // both planted as links to files outside the directory.
  std::filesystem::create_symlink(dir.path() / "planted.txt", out / "p.json.tmp");
  hotstate_test::write_file(dir.file("victim.txt"), "precious");
  std::filesystem::create_symlink(dir.path() / "victim.txt", out / "q.json");

  const Run exported = hotstate_tool({"--db", db, "export", out.string()});
  INFO(exported.err);
  REQUIRE(exported.exit_code == 0);
  CHECK_FALSE(std::filesystem::exists(dir.path() / "planted.txt"));
  CHECK(hotstate_test::read_file(dir.file("victim.txt")) == "precious");
  for (const char* id : {"p", "q"}) {
    const auto file = out / (std::string(id) + ".json");
    CHECK(std::filesystem::is_regular_file(std::filesystem::symlink_status(file)));
    CHECK(StateSnapshot::from_bytes(hotstate_test::read_file(file.string())).plugin_id == id);
  }
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(out)) names.insert(entry.path().filename().string());
  CHECK(names == std::set<std::string>{"p.json", "p.json.tmp", "q.json"});  // the planted link is left alone

  // A link in place of the directory itself is not followed either.
  std::filesystem::create_directories(dir.path() / "elsewhere");
  std::filesystem::create_directory_symlink(dir.path() / "elsewhere", dir.path() / "linked");
  const Run through_link = hotstate_tool({"--db", db, "export", dir.file("linked")});
  CHECK(through_link.exit_code != 0);
  CHECK(std::filesystem::is_empty(dir.path() / "elsewhere"));
}

TEST_CASE("export leaves no temporary file behind when it fails", "[cli][export]") {
  TempDir dir;
  const auto db = dir.file("source.db");
  {
    StateManager manager(file_options(db));
    for (const char* id : {"a", "b", "c"}) manager.save_snapshot(StateSnapshot(id, "1.0.0"));
  }
  const auto out = dir.path() / "export";
  // b's file cannot be put in place: a directory that is not empty has its name.
  std::filesystem::create_directories(out / "b.json");
  hotstate_test::write_file((out / "b.json" / "keep").string(), "");

  const Run failed = hotstate_tool({"--db", db, "export", out.string()});
  CHECK(failed.exit_code == 1);
  CHECK_THAT(failed.err, Catch::Contains("b.json"));
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(out)) names.insert(entry.path().filename().string());
  CHECK(names == std::set<std::string>{"a.json", "b.json"});
}

// How many bytes of memory the tool's heap costs per byte under this build's
// sanitizer: ThreadSanitizer shadows each byte with four more.
#if defined(__SANITIZE_THREAD__)
constexpr long shadow_memory_factor = 5;
#else
constexpr long shadow_memory_factor = 1;
#endif

TEST_CASE("import refuses links, FIFOs and oversized files without following, blocking on or reading them",
          "[cli][export]") {
  TempDir dir;
  const auto db = dir.file("target.db");
  const auto folder = dir.path() / "snapshots";
  write_snapshot_file(folder, "good");
  write_snapshot_file(dir.path() / "outside", "outside");
  { StateManager create(file_options(db)); }
  // Peak memory against the tool's own when it reads next to nothing, in the
  // same run: reading a refused file whole would add at least its 100 MB
  // (times the sanitizer's shadow memory). The tool may keep up to the
  // snapshot limits' 17 MB of it while it counts.
  const Run small = hotstate_tool({"--db", db, "plugins"});
  REQUIRE(small.exit_code == 0);
  const long most_kb = small.max_rss_kb + 64 * 1024 * shadow_memory_factor;
  const auto imports_nothing = [&](const std::string& culprit) {
    const Run run = run_tool({"--db", db, "import", folder.string()}, RunOptions{{}, std::chrono::seconds(20)});
    INFO(run.err);
    CHECK_FALSE(run.timed_out);
    CHECK(run.exit_code == 1);
    CHECK_THAT(run.err, Catch::Contains(culprit) && Catch::Contains("nothing was imported"));
    CHECK(run.max_rss_kb < most_kb);
    CHECK(open_to_read(db).plugin_ids().empty());
  };

  SECTION("a symbolic link, even to a valid snapshot") {
    std::filesystem::create_symlink(dir.path() / "outside" / "outside.json", folder / "link.json");
    imports_nothing("link.json is a symbolic link");
  }
  SECTION("a FIFO, which would block a reader forever") {
    REQUIRE(::mkfifo((folder / "fifo.json").c_str(), 0644) == 0);
    imports_nothing("fifo.json is not a regular file");
  }
  SECTION("a directory") {
    std::filesystem::create_directories(folder / "dir.json");
    imports_nothing("dir.json is not a regular file");
  }
  SECTION("files larger than any snapshot within the limits, refused before they are read whole") {
    for (const auto size : {std::uintmax_t{1} << 30, std::uintmax_t{100} << 20}) {
      INFO(size << " bytes");
      const auto huge = folder / "huge.json";
      hotstate_test::write_file(huge.string(), "");
      std::filesystem::resize_file(huge, size);  // sparse: no disk used
      imports_nothing("huge.json is larger than any snapshot");
    }
  }
  SECTION("a link in place of the directory") {
    std::filesystem::create_directory_symlink(folder, dir.path() / "linked");
    const Run run = hotstate_tool({"--db", db, "import", dir.file("linked")});
    CHECK(run.exit_code == 2);
    CHECK_THAT(run.err, Catch::Contains("symbolic link"));
  }
  // A pretty-printed file with more white space than content still imports.
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  hotstate_test::write_file((folder / "spaced.json").string(),
                            "{\n" + std::string(1000, ' ') + "\"plugin_id\" :\t\"spaced out\",\r\n  \"timestamp\": 7,\n"
                            "  \"data\": { \"text\": \"two  spaces\" , \"list\" : [ 1 , 2 ] },\n"
                            "  \"plugin_version\": \"1.0.0\", \"metadata\": {}\n}\n");
  const Run spaced = hotstate_tool({"--db", db, "import", folder.string()});
  INFO(spaced.err);
  REQUIRE(spaced.exit_code == 0);
  const auto imported = open_to_read(db).load_snapshot("spaced out");
  REQUIRE(imported);
  CHECK(imported->get<std::string>("text") == "two  spaces");
  CHECK(Json::from(imported->data).text() == R"({"list":[1,2],"text":"two  spaces"})");
}

TEST_CASE("import of a DIR that does not exist or is a file is a usage error, and creates no database",
          "[cli][export]") {
  TempDir dir;
  const auto db = dir.file("never.db");
  hotstate_test::write_file(dir.file("plain.json"), "{}");
  for (const std::string& not_a_directory : {dir.file("absent"), dir.file("plain.json")}) {
    INFO(not_a_directory);
    const Run run = hotstate_tool({"--db", db, "import", not_a_directory});
    CHECK(run.exit_code == 2);
    CHECK(run.out.empty());
    CHECK_THAT(run.err, Catch::Contains(not_a_directory));
    CHECK_FALSE(std::filesystem::exists(db));
  }
}

TEST_CASE("backup refuses an existing destination unless --force, and never replaces the database itself",
          "[cli][backup]") {
  TempDir dir;
  const auto db = dir.file("live.db");
  {
    StateManager manager(file_options(db));
    manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("n", 7));
  }
  const auto copy = dir.file("copy.db");
  hotstate_test::write_file(copy, "precious");
  const Run refused = hotstate_tool({"--db", db, "backup", copy});
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains("exists") && Catch::Contains("--force"));
  CHECK(hotstate_test::read_file(copy) == "precious");

  const Run forced = hotstate_tool({"--db", db, "backup", copy, "--force"});
  INFO(forced.err);
  REQUIRE(forced.exit_code == 0);
  CHECK(open_to_read(copy).load_snapshot("p")->get<int>("n") == 7);

  // The database itself, under any spelling, is refused even with --force.
  std::filesystem::create_symlink(db, dir.path() / "link.db");
  for (const std::string& itself : {db, std::string("./live.db"), std::string("link.db"), dir.file("./live.db")}) {
    INFO("backup " << itself);
    const Run run = run_tool({"--db", db, "backup", itself, "--force"}, RunOptions{dir.path().string()});
    CHECK(run.exit_code == 1);
    CHECK(run.out.empty());
    StateManager check = open_to_read(db);
    CHECK(check.load_snapshot("p")->get<int>("n") == 7);
    CHECK(check.verify().ok);
  }
  CHECK(std::filesystem::is_symlink(dir.path() / "link.db"));
}

TEST_CASE("numeric arguments that do not fit are refused with exit code 2, never wrapped", "[cli]") {
  TempDir dir;
  const auto db = dir.file("numbers.db");
  {
    StateManager manager(file_options(db));
    manager.save_snapshot(StateSnapshot("p", "1.0.0"));
    manager.save_snapshot(StateSnapshot("p", "1.1.0"));
  }
  const long long events = rows_of(db, "audit_events");
  const std::vector<std::vector<std::string>> commands = {
      {"diff", "p", "-1", "2"},
      {"diff", "p", "99999999999999999999", "1"},
      {"diff", "p", "1", "+2"},
      {"diff", "p", "1", "0x2"},
      {"diff", "p", " 1", "2"},
      {"resolve", "-3"},
      {"resolve", "18446744073709551616"},
      {"audit", "--limit", "-1"},
      {"audit", "--limit", "99999999999999999999"},
      {"audit", "--limit", "1e3"},
      {"prune-audit", "--keep", "-1"},
      {"prune-audit", "--keep", "18446744073709551615"},
      {"set-max-history", "-1"},
      {"--time-limit", "-5", "plugins"},
      {"--time-limit", "soon", "plugins"},
  };
  for (const auto& command : commands) {
    const Run run = on_database(db, command);
    std::string words;
    for (const auto& word : command) words += " '" + word + "'";
    INFO(words << ": " << run.out << run.err);
    CHECK(run.exit_code == 2);
    CHECK(run.out.empty());
    CHECK_THAT(run.err, Catch::Contains("is not a whole number from 0 to"));
  }
  CHECK(rows_of(db, "audit_events") == events);
  CHECK(hotstate_tool({"--db", db, "--time-limit", "0", "diff", "p", "1", "2"}).exit_code == 0);
}

// The cases below check library fixes of issue 10 through the tool.

TEST_CASE("SQL planted in a file cannot hang the tool: writes refuse a foreign trigger and verify names it",
          "[cli][untrusted]") {
  TempDir dir;
  const auto db = dir.file("planted.db");
  {
    StateManager manager(file_options(db));
    manager.save_snapshot(StateSnapshot("p", "1.0.0"));
    manager.save_snapshot(StateSnapshot("p", "1.1.0"));
  }
  {
    hotstate_test::RawDb shell(db);
    shell.exec(
        "CREATE TRIGGER planted_spin AFTER DELETE ON snapshots BEGIN "
        "  SELECT count(*) FROM (WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r); "
        "END");
  }
  const RunOptions bounded{{}, std::chrono::seconds(20)};
  for (const std::vector<std::string>& arguments :
       {std::vector<std::string>{"--db", db, "--time-limit", "2000", "rollback", "p"}, {"--db", db, "rollback", "p"}}) {
    const Run rollback = run_tool(arguments, bounded);
    INFO(rollback.err);
    REQUIRE_FALSE(rollback.timed_out);
    CHECK(rollback.exit_code == 1);
    CHECK_THAT(rollback.err, Catch::Contains("planted_spin"));
  }
  CHECK(rows_of(db, "snapshots") == 2);

  const Run verify = run_tool({"--db", db, "verify"}, bounded);
  REQUIRE_FALSE(verify.timed_out);
  CHECK(verify.exit_code == 1);
  CHECK_THAT(verify.out, Catch::Contains("planted_spin"));
}

TEST_CASE("the tool takes a --db name starting with file: as a file name, not as a SQLite URI", "[cli]") {
  TempDir dir;
  write_snapshot_file(dir.path() / "snapshots", "kept");
  const std::string name = "file:x?mode=memory";
  const RunOptions here{dir.path().string()};
  const Run imported = run_tool({"--db", name, "import", "snapshots"}, here);
  INFO(imported.err);
  REQUIRE(imported.exit_code == 0);
  CHECK(std::filesystem::is_regular_file(dir.path() / name));
  const Run listed = run_tool({"--db", name, "--json", "plugins"}, here);
  INFO(listed.err);
  REQUIRE(listed.exit_code == 0);
  const auto entries = array_of(listed.out);
  REQUIRE(entries.size() == 1);
  CHECK(object_of(entries[0]).at("plugin_id").get<std::string>() == "kept");
  CHECK_FALSE(std::filesystem::exists(dir.path() / "x"));
}

TEST_CASE("read-only commands leave no -wal or -shm file behind", "[cli]") {
  TempDir dir;
  const auto db = dir.file("quiet.db");
  {
    StateManager manager(file_options(db));
    manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("n", 1));
    manager.save_snapshot(StateSnapshot("p", "1.1.0").with_data("n", 2));
  }
  const auto leftovers = [&] {
    std::string found;
    for (const char* suffix : {"-wal", "-shm"}) {
      if (std::filesystem::exists(db + suffix)) found += suffix;
    }
    return found;
  };
  REQUIRE(leftovers().empty());
  const std::vector<std::vector<std::string>> commands = {
      {"plugins"}, {"show", "p"}, {"history", "p"}, {"diff", "p", "1", "2"}, {"verify"}, {"state", "p"}, {"audit"},
      {"reloads"}, {"export", dir.file("exported")}, {"backup", dir.file("copy.db")}};
  for (const auto& command : commands) {
    const Run run = on_database(db, command);
    INFO(command.front() << ": " << run.err);
    CHECK(run.exit_code == 0);
    CHECK(leftovers().empty());
  }
}

TEST_CASE("a 200 MB row is refused by show without being loaded, and plugins still lists it", "[cli][large]") {
  TempDir dir;
  const auto db = dir.file("large.db");
  {
    StateManager manager(file_options(db));
    manager.save_snapshot(StateSnapshot("small", "1.0.0").with_data("n", 1));
  }
  {
    hotstate_test::RawDb shell(db);
    shell.exec("INSERT INTO snapshots (plugin_id, plugin_version, data) "
               "VALUES ('big', '1.0.0', '{\"k\":\"' || printf('%.*c', 200000000, 'x') || '\"}')");
  }
  // Peak memory against a baseline measured the same way in the same run: the
  // tool showing a small plugin. (A child's peak counts what it shared with
  // this process between fork and exec, which sanitizers make large.) Loading
  // the row would add at least its 200 MB.
  const Run baseline = hotstate_tool({"--db", db, "show", "small"});
  REQUIRE(baseline.exit_code == 0);
  const long most_kb = baseline.max_rss_kb + 100 * 1024;

  const Run show = hotstate_tool({"--db", db, "show", "big"});
  INFO(show.err);
  CHECK(show.exit_code != 0);
  CHECK(show.max_rss_kb < most_kb);

  const Run plugins = hotstate_tool({"--db", db, "--json", "plugins"});
  INFO(plugins.err);
  CHECK(plugins.max_rss_kb < most_kb);
  CHECK(plugins.exit_code == 1);  // big cannot be read, small can
  const auto entries = array_of(plugins.out);
  REQUIRE(entries.size() == 2);
  CHECK(object_of(entries[0]).at("plugin_id").get<std::string>() == "big");
  CHECK(object_of(entries[0]).count("error") == 1);
  CHECK(object_of(entries[1]).at("plugin_id").get<std::string>() == "small");
}

TEST_CASE("ids that are not UTF-8 are refused by every command, and nothing is written", "[cli]") {
  TempDir dir;
  const auto db = dir.file("utf8.db");
  {
    StateManager manager(file_options(db));
    manager.save_snapshot(StateSnapshot("p", "1.0.0"));
    manager.save_snapshot(StateSnapshot("p", "1.1.0"));
  }
  const auto counts = [&] {
    return std::vector<long long>{rows_of(db, "snapshots"), rows_of(db, "audit_events"), rows_of(db, "plugin_states")};
  };
  const auto before = counts();
  const std::string id = "p\xff\xfe";
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"rollback", id}, {"audit", "--plugin", id}, {"show", id}, {"history", id},
        {"state", id}, {"diff", id, "1", "2"}}) {
    const Run run = on_database(db, command);
    INFO(command.front() << ": " << run.out << run.err);
    CHECK(run.exit_code != 0);
    CHECK(first_raw_control(run.err).empty());
  }
  CHECK(counts() == before);
}

TEST_CASE("the tool restores a stored snapshot, pins and unpins it, lists pins, and marks them in history and show",
          "[cli][pins]") {
  TempDir dir;
  const std::string db = dir.file("pins.db");
  std::uint64_t first = 0;
  {
    StateManager manager(file_options(db, 1));
    first = manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("n", 1));
    manager.save_snapshot(StateSnapshot("p", "1.1.0").with_data("n", 2));
  }
  const std::string seq = std::to_string(first);

  Run run = hotstate_tool({"--db", db, "pin", "p", seq, "good"});
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("seq " + seq + " pinned as good"));
  run = hotstate_tool({"--db", db, "history", "p"});
  CHECK_THAT(run.out, Catch::Contains("[pinned: good]"));
  run = hotstate_tool({"--db", db, "--json", "pins"});
  REQUIRE(run.exit_code == 0);
  const auto pins = array_of(run.out);
  REQUIRE(pins.size() == 1);
  CHECK(object_of(pins[0]).at("label").get<std::string>() == "good");
  CHECK(object_of(pins[0]).at("seq").get<std::uint64_t>() == first);
  CHECK(object_of(pins[0]).at("in_snapshots").get<bool>());

  // A restore makes a copy current; with max_history 1 the oldest row goes, the pin keeps it.
  run = hotstate_tool({"--db", db, "--json", "restore", "p", seq});
  REQUIRE(run.exit_code == 0);
  const auto restored = object_of(Json::parse(run.out));
  CHECK(restored.at("from_seq").get<std::uint64_t>() == first);
  CHECK(restored.at("plugin_version").get<std::string>() == "1.0.0");
  run = hotstate_tool({"--db", db, "pins", "p"});
  CHECK_THAT(run.out, Catch::Contains("trimmed, kept by the pin"));
  run = hotstate_tool({"--db", db, "show", "p", "--seq", seq});
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("current  no") && Catch::Contains("pinned   good"));
  run = hotstate_tool({"--db", db, "show", "p", "--seq", "999"});
  CHECK(run.exit_code == 2);
  CHECK_THAT(run.err, Catch::Contains("no stored snapshot with seq 999"));

  run = hotstate_tool({"--db", db, "unpin", "p", "good"});
  CHECK(run.exit_code == 0);
  run = hotstate_tool({"--db", db, "unpin", "p", "good"});
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.err, Catch::Contains("has no pin good"));
  run = hotstate_tool({"--db", db, "restore", "p", seq});  // its row and its pin are gone
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.err, Catch::Contains("NotFound"));
  run = hotstate_tool({"--db", db, "--json", "audit", "--kind", "Pinned,Unpinned,Restored", "--oldest-first"});
  REQUIRE(run.exit_code == 0);
  const auto events = array_of(run.out);
  REQUIRE(events.size() == 3);
  CHECK(object_of(events[0]).at("kind").get<std::string>() == "Pinned");
  CHECK(object_of(events[1]).at("kind").get<std::string>() == "Restored");
  CHECK(object_of(events[2]).at("kind").get<std::string>() == "Unpinned");
}

namespace {

// The tool started with `arguments`, its stdout read line by line as it
// comes; SIGKILLed at the end if it is still running.
class RunningTool {
 public:
  explicit RunningTool(const std::vector<std::string>& arguments) {
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(HOTSTATE_CLI));
    for (const auto& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
    argv.push_back(nullptr);
    int out_pipe[2];
    REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(out_pipe[1], STDOUT_FILENO);
      ::execv(HOTSTATE_CLI, argv.data());
      ::_exit(127);
    }
    ::close(out_pipe[1]);
    out_ = out_pipe[0];
  }
  ~RunningTool() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  RunningTool(const RunningTool&) = delete;
  RunningTool& operator=(const RunningTool&) = delete;

  // The next line of its output; empty after 20 s without one (or at its end).
  std::string next_line() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (buffer_.find('\n') == std::string::npos) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) return {};
      pollfd fd{out_, POLLIN, 0};
      if (::poll(&fd, 1, static_cast<int>(left)) <= 0) continue;
      char chunk[4096];
      const ssize_t n = ::read(out_, chunk, sizeof chunk);
      if (n <= 0) return {};
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
    const std::size_t end = buffer_.find('\n');
    std::string line = buffer_.substr(0, end);
    buffer_.erase(0, end + 1);
    return line;
  }
  // Sends `signal` and returns the exit code (-1 when it did not exit normally).
  int stop(int signal) {
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
};

}  // namespace

TEST_CASE("watch prints each event as any writer commits it, filtered, as lines or JSON, until interrupted",
          "[cli][changes]") {
  TempDir dir;
  const auto db = dir.file("watched.db");
  StateManager manager(file_options(db, 3));
  manager.save_snapshot(StateSnapshot("alpha", "1.0.0").with_data("n", 0));
  const std::uint64_t before = manager.newest_event_id();

  SECTION("JSON lines, from this process and the sqlite3 shell's writes, with --after replaying what was there") {
    RunningTool watch({"--db", db, "--json", "watch", "--after", std::to_string(before - 1)});
    const Json replayed = Json::parse(watch.next_line());
    CHECK(object_of(replayed).at("id").get<std::uint64_t>() == before);
    manager.save_snapshot(StateSnapshot("alpha", "1.0.0").with_data("n", 1));
    const JsonObject saved = object_of(Json::parse(watch.next_line()));
    CHECK(saved.at("kind").get<std::string>() == "SnapshotSaved");
    CHECK(saved.at("plugin_id").get<std::string>() == "alpha");
    {
      hotstate_test::RawDb shell(db);
      shell.exec("INSERT INTO snapshots (plugin_id, data) VALUES ('beta', '{}')");
    }
    CHECK(object_of(Json::parse(watch.next_line())).at("plugin_id").get<std::string>() == "beta");
    CHECK(watch.stop(SIGINT) == 0);
  }
  SECTION("lines, only the plugin and kinds asked for") {
    // --after: the events written below count even if they commit before
    // the tool has started watching.
    RunningTool watch({"--db", db, "watch", "--plugin", "alpha", "--kind", "RolledBack", "--kind", "Restored",
                       "--after", std::to_string(before)});
    manager.save_snapshot(StateSnapshot("beta", "1.0.0"));
    manager.save_snapshot(StateSnapshot("alpha", "1.0.0").with_data("n", 1));
    manager.rollback("beta");
    manager.rollback("alpha");
    const std::string line = watch.next_line();
    CHECK_THAT(line, Catch::Contains("  alpha  RolledBack  {"));
    manager.restore("alpha", manager.load_snapshot("alpha")->seq);
    CHECK_THAT(watch.next_line(), Catch::Contains("  alpha  Restored  {"));
    CHECK(watch.stop(SIGTERM) == 0);
  }
}
