// The hotstate command-line tool, run as a person or a script would.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "support.hpp"

using hotstate::Json;
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
       {"demo", "plugins", "show", "history", "diff", "rollback", "export", "import", "verify", "backup"}) {
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
