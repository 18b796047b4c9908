// The hotstate command-line tool, run as a person or a script would.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <atomic>
#include <chrono>
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
  int exit_code = -1;
  std::string out;  // stdout; stderr goes to err
  std::string err;
};

std::string quoted(const std::string& text) {
  std::string result = "'";
  for (const char c : text) result += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return result + "'";
}

// Runs the tool with `arguments` (each quoted for the shell).
Run hotstate_tool(const TempDir& dir, const std::vector<std::string>& arguments) {
  std::string command = quoted(HOTSTATE_CLI);
  for (const auto& argument : arguments) command += " " + quoted(argument);
  const std::string err_file = dir.file("stderr.txt");
  command += " 2>" + quoted(err_file);
  Run run;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  for (std::size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) run.out.append(buffer, n);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.err = hotstate_test::read_file(err_file);
  return run;
}

}  // namespace

TEST_CASE("the tool lists, shows, and diffs plugins as tables and as JSON", "[cli]") {
  TempDir dir;
  const auto db = dir.file("cli.db");
  {
    StateManager manager(file_options(db));
    manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("a", 1).with_data("b", "x").with_metadata("m", "1"));
    manager.save_snapshot(StateSnapshot("p", "1.1.0").with_data("a", 2).with_data("c", true).with_metadata("m", "1"));
  }
  const Run plugins = hotstate_tool(dir, {"--db", db, "--json", "plugins"});
  REQUIRE(plugins.exit_code == 0);
  const Json list = Json::parse(plugins.out);
  CHECK(list.text().find(R"("plugin_id":"p")") != std::string::npos);
  CHECK(list.text().find(R"("history":1)") != std::string::npos);

  const Run table = hotstate_tool(dir, {"--db", db, "plugins"});
  CHECK(table.exit_code == 0);
  CHECK_THAT(table.out, Catch::Contains("PLUGIN") && Catch::Contains("1.1.0"));

  const Run show = hotstate_tool(dir, {"--db", db, "--json", "show", "p"});
  REQUIRE(show.exit_code == 0);
  CHECK(Json::parse(show.out).get<std::map<std::string, Json>>().at("data").text() == R"({"a":2,"c":true})");

  const Run history = hotstate_tool(dir, {"--db", db, "--json", "history", "p"});
  REQUIRE(history.exit_code == 0);
  CHECK(Json::parse(history.out).get<std::vector<Json>>().size() == 2);

  const Run diff = hotstate_tool(dir, {"--db", db, "--json", "diff", "p", "1", "2"});
  REQUIRE(diff.exit_code == 0);
  CHECK(Json::parse(diff.out).get<std::map<std::string, Json>>().at("data").text() ==
        R"({"added":{"c":true},"changed":{"a":{"from":1,"to":2}},"removed":["b"]})");
  const Run diff_table = hotstate_tool(dir, {"--db", db, "diff", "p", "1", "2"});
  CHECK_THAT(diff_table.out, Catch::Contains("+ data.c = true") && Catch::Contains("- data.b") &&
                                 Catch::Contains("~ data.a: 1 -> 2"));

  const Run rollback = hotstate_tool(dir, {"--db", db, "rollback", "p"});
  CHECK(rollback.exit_code == 0);
  CHECK(StateManager(file_options(db)).load_snapshot("p")->get<int>("a") == 1);
}

TEST_CASE("the tool reports errors on stderr with a non-zero exit code, and --help works", "[cli]") {
  TempDir dir;
  const auto db = dir.file("errors.db");
  { StateManager manager(file_options(db)); }
  const Run missing = hotstate_tool(dir, {"--db", db, "show", "nobody"});
  CHECK(missing.exit_code != 0);
  CHECK(missing.out.empty());
  CHECK_THAT(missing.err, Catch::Contains("no plugin 'nobody'"));
  const Run bad_seq = hotstate_tool(dir, {"--db", db, "diff", "nobody", "1", "2"});
  CHECK(bad_seq.exit_code != 0);
  const Run no_file = hotstate_tool(dir, {"--db", dir.file("absent.db"), "plugins"});
  CHECK(no_file.exit_code != 0);
  CHECK_FALSE(std::filesystem::exists(dir.file("absent.db")));  // looking creates nothing
  const Run unknown = hotstate_tool(dir, {"frobnicate"});
  CHECK(unknown.exit_code != 0);
  for (const char* command :
       {"demo", "plugins", "show", "history", "diff", "rollback", "export", "import", "verify", "backup", "state",
        "audit", "reloads", "resolve", "prune-audit"}) {
    INFO(command);
    const Run help = hotstate_tool(dir, {command, "--help"});
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
  const Run exported = hotstate_tool(dir, {"--db", db, "export", out.string()});
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
  CHECK_FALSE(std::filesystem::exists(dir.path() / "x"));
  CHECK(std::filesystem::exists(out / "plain.json"));

  const auto copy = dir.file("copy.db");
  const Run imported = hotstate_tool(dir, {"--db", copy, "import", out.string()});
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
  // The seed's persisted fixtures, but for numbers.json, whose timestamp
  // (2^64-1) SQLite cannot store.
  const auto seed_dir = dir.path() / "seed";
  std::filesystem::create_directories(seed_dir);
  const std::string fixtures = std::string(HOTSTATE_SEED_FIXTURES) + "/persisted/";
  for (const char* name : {"empty", "metadata", "multikey_order_unspecified", "nested", "unicode"}) {
    std::filesystem::copy_file(fixtures + name + ".json", seed_dir / (std::string(name) + ".json"));
  }
  const auto db = dir.file("migrated.db");
  const Run imported = hotstate_tool(dir, {"--db", db, "import", seed_dir.string()});
  REQUIRE(imported.exit_code == 0);
  {
    StateManager manager(file_options(db));
    CHECK(manager.plugin_ids() == std::vector<std::string>{"", "fx-metadata", "fx-multikey", "fx-nested", "fx-unicode"});
    CHECK(manager.load_snapshot("fx-unicode")->plugin_version == "1.0.0-\xce\xb2" "eta");
  }

  std::filesystem::copy_file(fixtures + "numbers.json", seed_dir / "numbers.json");
  const auto db2 = dir.file("refused.db");
  const Run refused = hotstate_tool(dir, {"--db", db2, "import", seed_dir.string()});
  CHECK(refused.exit_code != 0);
  CHECK_THAT(refused.err, Catch::Contains("numbers.json") && Catch::Contains("nothing was imported"));
  CHECK(StateManager(file_options(db2)).plugin_ids().empty());
}

TEST_CASE("the tool's verify passes a healthy file and fails a damaged one; backup makes a usable copy", "[cli][verify]") {
  TempDir dir;
  const auto db = dir.file("verify.db");
  {
    StateManager manager(file_options(db, 2));
    for (int i = 0; i < 5; ++i) manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("i", i));
  }
  const Run healthy = hotstate_tool(dir, {"--db", db, "verify"});
  CHECK(healthy.exit_code == 0);
  CHECK_THAT(healthy.out, Catch::StartsWith("ok"));

  const auto copy = dir.file("copy.db");
  const Run backup = hotstate_tool(dir, {"--db", db, "backup", copy});
  REQUIRE(backup.exit_code == 0);
  CHECK(hotstate_tool(dir, {"--db", copy, "verify"}).exit_code == 0);
  CHECK(StateManager(file_options(copy, 2)).load_snapshot("p")->get<int>("i") == 4);

  {
    hotstate_test::RawDb shell(db);
    shell.exec("DROP TRIGGER snapshots_trim_history");
  }
  const Run damaged = hotstate_tool(dir, {"--db", db, "--json", "verify"});
  CHECK(damaged.exit_code == 1);
  CHECK_THAT(damaged.out, Catch::Contains("snapshots_trim_history is missing"));
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

constexpr std::int64_t kTenOClock = 1795600800LL * 1000000;  // 2026-11-25T10:00:00Z

}  // namespace

TEST_CASE("state prints a plugin's life-cycle state, Unloaded when never set", "[cli]") {
  TempDir dir;
  const auto db = dir.file("state.db");
  {
    StateManager manager(file_options(db));
    manager.set_plugin_state("runner", hotstate::PluginState::Loading);
    manager.set_plugin_state("runner", hotstate::PluginState::Running);
    manager.set_plugin_state("broken", hotstate::PluginState::failed("restore failed: \"v2\" rejects v1 state"));
  }
  const Run running = hotstate_tool(dir, {"--db", db, "state", "runner"});
  CHECK(running.exit_code == 0);
  CHECK_THAT(running.out, Catch::Contains("STATE") && Catch::Contains("runner") && Catch::Contains("Running"));

  const Run failed = hotstate_tool(dir, {"--db", db, "state", "broken"});
  CHECK(failed.exit_code == 0);
  CHECK_THAT(failed.out, Catch::Contains("Failed: restore failed: \"v2\" rejects v1 state"));
  const Run failed_json = hotstate_tool(dir, {"--db", db, "--json", "state", "broken"});
  REQUIRE(failed_json.exit_code == 0);
  const JsonObject state = object_of(Json::parse(failed_json.out));
  CHECK(state.at("plugin_id").get<std::string>() == "broken");
  CHECK(state.at("state").get<std::string>() == "Failed");
  CHECK(state.at("reason").get<std::string>() == "restore failed: \"v2\" rejects v1 state");

  const Run never = hotstate_tool(dir, {"--db", db, "state", "never-seen"});
  CHECK(never.exit_code == 0);
  CHECK_THAT(never.out, Catch::Contains("Unloaded"));
  // --json also after the command.
  const Run never_json = hotstate_tool(dir, {"--db", db, "state", "never-seen", "--json"});
  REQUIRE(never_json.exit_code == 0);
  CHECK(Json::parse(never_json.out).text() == R"({"plugin_id":"never-seen","reason":"","state":"Unloaded"})");

  const Run no_id = hotstate_tool(dir, {"--db", db, "state"});
  CHECK(no_id.exit_code == 2);
  CHECK_FALSE(no_id.err.empty());
  const Run no_file = hotstate_tool(dir, {"--db", dir.file("absent.db"), "state", "runner"});
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
    const Run run = hotstate_tool(dir, all);
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
    CHECK(kinds_of({"--plugin", "a", "--since", "2026-11-25T10:00:00Z"}) == Kinds{"ReloadFailed"});
    CHECK(kinds_of({"--plugin", "b", "--since", "2026-11-25T10:00:00.123456Z"}) ==
          Kinds{"PluginDiscovered", "RollbackTriggered"});
    CHECK(kinds_of({"--plugin", "b", "--since", "2026-11-25T10:00:00.123457Z"}) == Kinds{"PluginDiscovered"});
    CHECK(kinds_of({"--since", "2026-11-25 10:00:00", "--until", "2026-11-25T11:00:00Z", "--oldest-first"}) ==
          Kinds{"ReloadFailed", "RollbackTriggered"});
    CHECK(kinds_of({"--plugin", "a", "--since", "2026-11-25", "--until", "@1795600800"}) == Kinds{"PluginDiscovered"});
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
    const Run run = hotstate_tool(dir, {"--db", db, "--json", "audit", "--plugin", "b", "--kind", "RollbackTriggered"});
    REQUIRE(run.exit_code == 0);
    const auto events = array_of(run.out);
    REQUIRE(events.size() == 1);
    const JsonObject event = object_of(events[0]);
    CHECK(event.at("time_us").get<std::int64_t>() == kTenOClock + 123456);
    CHECK(event.at("time").get<std::string>() == "2026-11-25T10:00:00.123456Z");
    CHECK(event.at("plugin_id").get<std::string>() == "b");
    CHECK(event.at("detail").type() == hotstate::JsonType::Object);
    CHECK(event.at("detail").text() == R"({"reason":"a failed"})");
    hotstate_test::RawDb shell(db);
    CHECK(shell.query("SELECT time FROM audit_log WHERE id = " + event.at("id").text()) ==
          event.at("time").get<std::string>());
  }
  SECTION("a table for people") {
    const Run run = hotstate_tool(dir, {"--db", db, "audit", "--plugin", "a"});
    REQUIRE(run.exit_code == 0);
    CHECK_THAT(run.out, Catch::StartsWith("ID") && Catch::Contains("TIME") && Catch::Contains("KIND") &&
                            Catch::Contains("DETAIL"));
    CHECK_THAT(run.out, Catch::Contains("2026-11-25T10:00:00.000000Z") && Catch::Contains("ReloadFailed") &&
                            Catch::Contains(R"({"attempt":2,"error":"boom"})") &&
                            Catch::Contains("2026-11-25T09:00:00.000000Z"));
    const Run limited = hotstate_tool(dir, {"--db", db, "audit", "--limit", "1"});
    CHECK_THAT(limited.out, Catch::Contains("--limit 0 for all"));
  }
  SECTION("a time or a limit it cannot read is a usage error naming the accepted forms") {
    for (const char* bad : {"yesterday", "2026-13-01", "2026-02-30", "2026-11-25T25:00:00Z", "10x", "@", "-5m",
                            "2026-11-25T10:00:00+01:00", ""}) {
      INFO("--since '" << bad << "'");
      const Run run = hotstate_tool(dir, {"--db", db, "audit", "--since", bad});
      CHECK(run.exit_code == 2);
      CHECK(run.out.empty());
      CHECK_THAT(run.err, Catch::Contains("ISO-8601") && Catch::Contains("90s") && Catch::Contains("@<unix seconds>"));
    }
    CHECK(hotstate_tool(dir, {"--db", db, "audit", "--until", "soon"}).exit_code == 2);
    CHECK(hotstate_tool(dir, {"--db", db, "audit", "--since", "1h", "--until", "2h"}).exit_code == 2);
    CHECK(hotstate_tool(dir, {"--db", db, "audit", "--limit", "-1"}).exit_code == 2);
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
  const Run table = hotstate_tool(dir, {"--db", db, "reloads"});
  REQUIRE(table.exit_code == 0);
  CHECK_THAT(table.out, Catch::Contains("LAST GOOD SEQ") && Catch::Contains("crashed") &&
                            Catch::Contains("1.0.0 -> 2.0.0"));
  CHECK_THAT(table.out, !Catch::Contains("done"));

  const Run json = hotstate_tool(dir, {"--db", db, "--json", "reloads"});
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

  const Run resolved = hotstate_tool(dir, {"--db", db, "resolve", std::to_string(unfinished.id), "--note", "restored by hand"});
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
  const Run none = hotstate_tool(dir, {"--db", db, "reloads"});
  CHECK(none.exit_code == 0);
  CHECK_THAT(none.out, Catch::Contains("no unfinished reloads"));
  CHECK(hotstate_tool(dir, {"--db", db, "--json", "reloads"}).out == "[]\n");

  const Run again = hotstate_tool(dir, {"--db", db, "resolve", std::to_string(unfinished.id)});
  CHECK(again.exit_code == 1);
  CHECK_THAT(again.err, Catch::Contains("already ended"));
  const Run unknown = hotstate_tool(dir, {"--db", db, "resolve", "999"});
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("no reload 999"));
  CHECK(hotstate_tool(dir, {"--db", db, "resolve"}).exit_code == 2);
  CHECK(hotstate_tool(dir, {"--db", dir.file("absent.db"), "resolve", "1"}).exit_code == 2);
  CHECK_FALSE(std::filesystem::exists(dir.file("absent.db")));
}

TEST_CASE("demo runs twice on the same file and tells the whole story", "[cli]") {
  TempDir dir;
  const auto db = dir.file("demo.db");
  const Run first = hotstate_tool(dir, {"--db", db, "demo"});
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  CHECK(first.err.empty());
  CHECK_THAT(first.out, Catch::Contains("Failed: snapshot of version 1.1.0 is incompatible with 2.0.0") &&
                            Catch::Contains("rollback triggered") && Catch::Contains("RolledBack") &&
                            Catch::Contains("explore it with") && Catch::Contains("sqlite3"));

  {
    // A host that died in the middle of a reload: the next run finds it.
    StateManager manager(file_options(db));
    manager.begin_reload(*manager.load_snapshot("demo-greeter"), "1.2.0");
    manager.set_plugin_state("demo-greeter", hotstate::PluginState::Reloading);
  }
  const Run second = hotstate_tool(dir, {"--db", db, "demo"});
  INFO(second.out << second.err);
  REQUIRE(second.exit_code == 0);
  CHECK_THAT(second.out, Catch::Contains("from earlier runs") && Catch::Contains("never finished") &&
                             Catch::Contains("reload failed") && Catch::Contains("rollback triggered"));

  {
    StateManager manager(file_options(db));
    hotstate::AuditQuery query;
    query.plugin_id = "demo-greeter";
    query.limit = 0;
    std::map<std::string, int> kinds;
    for (const auto& event : manager.audit_events(query)) ++kinds[event.kind];
    for (const char* kind : {"PluginDiscovered", "PluginStateChanged", "SnapshotSaved", "ReloadStarted",
                             "StatePreserved", "StateRestored", "ReloadCompleted", "ReloadFailed", "RollbackTriggered",
                             "RolledBack"}) {
      INFO(kind);
      CHECK(kinds[kind] >= 2);  // once a run at least
    }
    CHECK(kinds["ReloadFailed"] == 2);
    CHECK(kinds["ReloadStarted"] == 5);
    CHECK(kinds["ReloadResolved"] == 1);
    CHECK(manager.plugin_state("demo-greeter") == hotstate::PluginState::Running);
    CHECK(manager.unfinished_reloads().empty());
    const auto current = manager.load_snapshot("demo-greeter");
    REQUIRE(current);
    CHECK(current->plugin_version == "1.1.0");
    CHECK(current->get<int>("greetings_sent") == 6);  // 3 a run: the state survived the restart
    const auto report = manager.verify();
    std::string problems;
    for (const auto& problem : report.problems) problems += problem + "\n";
    INFO(problems);
    CHECK(report.ok);
  }

  // The commands it suggests work, the diff with the seqs it printed.
  const auto diff_at = second.out.find("diff demo-greeter ");
  REQUIRE(diff_at != std::string::npos);
  std::istringstream seqs(second.out.substr(diff_at + 18));
  std::string seq_a;
  std::string seq_b;
  seqs >> seq_a >> seq_b;
  const Run diff = hotstate_tool(dir, {"--db", db, "diff", "demo-greeter", seq_a, seq_b});
  CHECK(diff.exit_code == 0);
  CHECK_THAT(diff.out, Catch::Contains("version 1.0.0") && Catch::Contains("version 1.1.0") &&
                           Catch::Contains("~ data.greetings_sent"));
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"plugins"}, {"history", "demo-greeter"}, {"audit", "--plugin", "demo-greeter"},
        {"state", "demo-greeter"}, {"verify"}}) {
    std::vector<std::string> arguments = {"--db", db};
    arguments.insert(arguments.end(), command.begin(), command.end());
    const Run run = hotstate_tool(dir, arguments);
    INFO(command.front() << ": " << run.err);
    CHECK(run.exit_code == 0);
    CHECK_THAT(second.out, Catch::Contains(command.front()));
  }
  CHECK_THAT(hotstate_tool(dir, {"--db", db, "verify"}).out, Catch::Contains("audit log consistent"));
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
  CHECK(hotstate_tool(dir, {"--db", db, "prune-audit"}).exit_code == 2);  // needs a bound
  CHECK(hotstate_tool(dir, {"--db", db, "prune-audit", "--older-than", "yesterday-ish"}).exit_code == 2);

  const Run by_count = hotstate_tool(dir, {"--db", db, "--json", "prune-audit", "--keep", "3"});
  REQUIRE(by_count.exit_code == 0);
  CHECK(object_of(Json::parse(by_count.out)).at("removed").get<std::uint64_t>() == 2);
  // 1.7e9 s is in 2023: everything is older than a day.
  const Run by_time = hotstate_tool(dir, {"--db", db, "prune-audit", "--older-than", "1d"});
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
