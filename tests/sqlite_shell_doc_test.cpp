// The queries of docs/sqlite-shell.md, run through the real sqlite3 shell
// against a database the library wrote, and their output compared with the
// page.
//
// The page marks each checked query with a line
//     <!-- shell-test: NAME -->            (or  <!-- shell-test: NAME writable -->)
// right before its ```sql block; the ```text block right after it is what the
// shell prints. Each marked block becomes its own test case (registered when
// the test program starts, see ShellBlockRegistrar), which runs, in the
// database's directory, with HOME pointing there too (so no ~/.sqliterc
// changes the format):
//     sqlite3 -readonly -header -column hotstate.db < NAME.sql
// or, for a block marked writable (one that shows what a write does):
//     sqlite3 -header -column hotstate.db < NAME.sql
// capturing stdout and stderr, and compares the output with the text block.
//
// The database's times come from a scripted Options::clock, relative to the
// real time when the test runs (so "the last day" in SQL means what the page
// says). Both texts are therefore normalised before they are compared:
//  - every ISO-8601 time, 2024-05-01T10:00:00.123456Z or 2024-05-01T10:00:00Z,
//    becomes <time>;
//  - trailing spaces and tabs are removed from every line (-column pads the
//    last column), and trailing empty lines from the end.
// Everything else must match exactly: durations, seqs and ids are the same in
// every run.
//
// To update the page after changing a query or the story below: run
//     HOTSTATE_SHELL_DOC_ACTUAL=/some/dir hotstate_tests "[docs]"
// which writes each block's actual output to /some/dir/NAME.txt; review it,
// then paste it into the page.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <vector>

#include "support.hpp"

namespace {

const std::string page_path = std::string(HOTSTATE_SOURCE_DIR) + "/docs/sqlite-shell.md";

// The command every readonly block runs with, as the page states it.
const std::string readonly_command = "sqlite3 -readonly -header -column hotstate.db";
const std::string writable_command = "sqlite3 -header -column hotstate.db";

// ---- The page ---------------------------------------------------------------------

struct ShellBlock {
  std::string name;
  bool writable = false;
  int line = 0;          // the ```sql line, from 1
  std::string sql;       // the query, as the page shows it
  std::string expected;  // the ```text block after it
};

struct Page {
  std::vector<ShellBlock> blocks;     // every marked block, in page order
  std::vector<std::string> problems;  // what is wrong with the page's structure
  int sql_fences = 0;                 // ```sql blocks, marked or not
};

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool is_fence(const std::string& line) { return line.rfind("```", 0) == 0; }

// The lines after the opening fence at `open` up to its closing fence; `close`
// receives the closing fence's index (lines.size() when there is none).
std::string fenced_text(const std::vector<std::string>& lines, std::size_t open, std::size_t& close) {
  std::string text;
  for (close = open + 1; close < lines.size() && lines[close] != "```"; ++close) text += lines[close] + "\n";
  return text;
}

Page parse_page(const std::string& markdown) {
  static const std::regex marker(R"(<!-- shell-test: ([a-z0-9][a-z0-9-]*)( writable)? -->)");
  Page page;
  const auto lines = split_lines(markdown);
  std::set<std::string> names;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& line = lines[i];
    const std::string where = "line " + std::to_string(i + 1);
    std::smatch match;
    if (line.rfind("<!-- shell-test", 0) == 0) {
      if (!std::regex_match(line, match, marker)) {
        page.problems.push_back(where + ": a malformed marker: " + line);
      } else if (i + 1 >= lines.size() || lines[i + 1] != "```sql") {
        page.problems.push_back(where + ": the marker " + match[1].str() + " is not right before a ```sql block");
      }
      continue;
    }
    if (!is_fence(line)) continue;
    if (line != "```sql") {
      std::size_t close = 0;
      (void)fenced_text(lines, i, close);
      if (close == lines.size()) page.problems.push_back(where + ": a code block that never ends");
      i = close;
      continue;
    }
    ++page.sql_fences;
    ShellBlock block;
    block.line = static_cast<int>(i + 1);
    if (i == 0 || !std::regex_match(lines[i - 1], match, marker)) {
      page.problems.push_back(where + ": a ```sql block without a <!-- shell-test: NAME --> line right before it");
    } else {
      block.name = match[1].str();
      block.writable = match[2].matched;
      if (!names.insert(block.name).second) page.problems.push_back(where + ": the name " + block.name + " is used twice");
    }
    std::size_t close = 0;
    block.sql = fenced_text(lines, i, close);
    if (close == lines.size()) {
      page.problems.push_back(where + ": the ```sql block never ends");
      break;
    }
    std::size_t next = close + 1;
    while (next < lines.size() && lines[next].empty()) ++next;
    if (next == lines.size() || lines[next] != "```text") {
      page.problems.push_back(where + ": the ```sql block is not followed by a ```text block with its output");
      i = close;
      continue;
    }
    block.expected = fenced_text(lines, next, close);
    if (close == lines.size()) {
      page.problems.push_back("line " + std::to_string(next + 1) + ": the ```text block never ends");
      break;
    }
    i = close;
    if (!block.name.empty()) page.blocks.push_back(std::move(block));
  }
  return page;
}

const Page& the_page() {
  static const Page page = parse_page(hotstate_test::read_file(page_path));
  return page;
}

// Both sides of a comparison go through this (see the top of the file).
std::string normalised(const std::string& text) {
  static const std::regex iso_time(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z)");
  const std::string masked = std::regex_replace(text, iso_time, "<time>");
  std::string out;
  for (auto line : split_lines(masked)) {
    line.erase(line.find_last_not_of(" \t") + 1);
    out += line + "\n";
  }
  while (out.size() >= 2 && out.compare(out.size() - 2, 2, "\n\n") == 0) out.pop_back();
  if (out == "\n") out.clear();
  return out;
}

// ---- The database -------------------------------------------------------------------

constexpr std::int64_t second = 1'000'000;
constexpr std::int64_t minute = 60 * second;
constexpr std::int64_t hour = 60 * minute;
constexpr std::int64_t day = 24 * hour;

// The story the page's outputs tell, written by the library with a scripted
// clock. `now` is the real time, so "2 hours ago" is 2 hours before the test
// runs. Plugins: greeter (three reloads: one failed to load 3 days ago, one
// succeeded 30 hours ago, one failed 2 hours ago and was rolled back),
// counter (a rollback 3 days ago; a reload begun 10 minutes ago whose host
// died: unfinished), weather (failed to load, no snapshot).
void write_story(const std::string& path, std::int64_t now) {
  auto clock = std::make_shared<std::atomic<std::int64_t>>(now);
  hotstate::Options options = hotstate_test::file_options(path);
  options.synchronous = hotstate::Synchronous::Normal;  // no fsync needed here
  options.clock = [clock] { return clock->load(); };
  hotstate::StateManager manager(options);

  const auto at = [&](std::int64_t ago, std::int64_t plus = 0) { clock->store(now - ago + plus); };
  // A snapshot stamped with the scripted time (its `timestamp`, in seconds).
  const auto stamped = [&](hotstate::StateSnapshot snapshot) {
    snapshot.timestamp = static_cast<std::uint64_t>(clock->load() / second);
    return snapshot;
  };
  const auto greeter = [&](const char* version, const char* greeting, int visits) {
    return stamped(hotstate::StateSnapshot("greeter", version)
                       .with_data("greeting", std::string(greeting))
                       .with_data("visits", visits));
  };
  const auto counter = [&](const char* version, int count, int step) {
    return stamped(hotstate::StateSnapshot("counter", version).with_data("count", count).with_data("step", step));
  };
  using hotstate::PluginState;
  using hotstate::ReloadEvent;
  using hotstate::ReloadResult;

  // 4 days ago: both plugins load and save their first state.
  at(4 * day);
  manager.set_plugin_state("greeter", PluginState::Loading);
  at(4 * day, 1 * second);
  manager.set_plugin_state("greeter", PluginState::Running);
  at(4 * day, 2 * second);
  manager.save_snapshot(greeter("1.0.0", "Hello", 0));  // seq 1
  at(4 * day, 5 * second);
  manager.set_plugin_state("counter", PluginState::Loading);
  at(4 * day, 6 * second);
  manager.set_plugin_state("counter", PluginState::Running);
  at(4 * day, 7 * second);
  manager.save_snapshot(counter("1.0.0", 0, 1));  // seq 2

  // 3 days ago: counter saves a bad state and the host rolls it back.
  at(3 * day + 2 * hour);
  manager.save_snapshot(counter("1.0.0", 17, 1));  // seq 3
  at(3 * day + 1 * hour);
  manager.save_snapshot(counter("1.0.0", -4, 1));  // seq 4
  at(3 * day + 1 * hour, 500'000);
  manager.record_event(ReloadEvent::rollback_triggered("counter", "count went negative"));
  at(3 * day + 1 * hour, 512'000);
  REQUIRE(manager.rollback("counter"));  // back to seq 3

  // 3 days ago: greeter 1.0.0 -> 1.1.0 fails to load; 1.0.0 goes on running.
  at(3 * day);
  manager.set_plugin_state("greeter", PluginState::Reloading);
  at(3 * day, 1 * second);
  const auto first = manager.begin_reload(greeter("1.0.0", "Hello", 12), "1.1.0");  // reload 1, seq 5
  at(3 * day, 1 * second + 412'305);
  manager.finish_reload(first.id, ReloadResult::failed("dlopen: libgreeter.so.1.1.0: undefined symbol: greet_v2"));
  at(3 * day, 2 * second);
  manager.set_plugin_state("greeter", PluginState::Running);

  // 30 hours ago: greeter 1.0.0 -> 1.1.0 again, fixed; 1.1.0 migrates the
  // greeting while restoring.
  at(30 * hour);
  manager.set_plugin_state("greeter", PluginState::Reloading);
  at(30 * hour, 1 * second);
  const auto second_reload = manager.begin_reload(greeter("1.0.0", "Hello", 25), "1.1.0");  // reload 2, seq 6
  at(30 * hour, 1 * second + 804'112);
  manager.save_snapshot(greeter("1.1.0", "Hello, world", 25));  // seq 7
  at(30 * hour, 1 * second + 951'270);
  manager.finish_reload(second_reload.id, ReloadResult::succeeded());
  at(30 * hour, 2 * second);
  manager.set_plugin_state("greeter", PluginState::Running);
  at(30 * hour, 3 * second);
  manager.pin("greeter", 7, "last-known-good");  // kept whatever the history bound trims

  // 20 hours ago: the greeting changes outside any reload.
  at(20 * hour);
  manager.save_snapshot(greeter("1.1.0", "Hi", 40));  // seq 8

  // 5 hours ago: weather fails to load; it never saves a snapshot.
  at(5 * hour);
  manager.set_plugin_state("weather", PluginState::Loading);
  at(5 * hour, 300'000);
  manager.set_plugin_state("weather", PluginState::failed("missing config key: api_key"));

  // 2 hours ago: greeter 1.1.0 -> 2.0.0 restores a broken state; the host
  // rolls back to the state saved before the reload and runs 1.1.0 again.
  at(2 * hour);
  manager.set_plugin_state("greeter", PluginState::Reloading);
  at(2 * hour, 1 * second);
  const auto third = manager.begin_reload(greeter("1.1.0", "Hi", 57), "2.0.0");  // reload 3, seq 9
  at(2 * hour, 1 * second + 700'021);
  manager.save_snapshot(greeter("2.0.0", "HI!", 0));  // seq 10
  at(2 * hour, 2 * second);
  manager.record_event(ReloadEvent::rollback_triggered("greeter", "visits went from 57 to 0 after restore")
                           .with("reload_id", third.id));
  at(2 * hour, 2 * second + 10'000);
  REQUIRE(manager.rollback("greeter"));  // back to seq 9
  at(2 * hour, 2 * second + 250'000);
  manager.finish_reload(third.id, ReloadResult::failed("restored state failed validation: visits went from 57 to 0"));
  at(2 * hour, 3 * second);
  manager.set_plugin_state("greeter", PluginState::Running);

  // 10 minutes ago: counter 1.0.0 -> 1.1.0 begins, 1.1.0 saves its first
  // state, and the host dies before finish_reload: an unfinished reload.
  at(10 * minute);
  manager.set_plugin_state("counter", PluginState::Reloading);
  at(10 * minute, 1 * second);
  manager.begin_reload(counter("1.0.0", 31, 1), "1.1.0");  // reload 4, seq 11
  at(10 * minute, 1 * second + 380'000);
  manager.save_snapshot(counter("1.1.0", 31, 2));  // seq 12

  // 1 minute ago: clock 1.4.0 -> 2.0.0, which renamed "tz" to "zone": the
  // host's registered migration carries the state over (restore_for).
  at(1 * minute);
  manager.save_snapshot(hotstate::StateSnapshot("clock", "1.4.0").with_data("tz", "UTC").with_data("ticks", 9));  // seq 13
  manager.register_migration("clock", 1, 2, [](hotstate::StateSnapshot s) {
    s.data["zone"] = s.data.at("tz");
    s.data.erase("tz");
    return s;
  });
  at(1 * minute, 500'000);
  REQUIRE(manager.restore_for("clock", "2.0.0"));  // seq 14
}

// The story's database, written once per test process; the directory is
// removed when the process ends.
const std::string& story_database() {
  struct Database {
    hotstate_test::TempDir dir;
    std::string path = dir.file("hotstate.db");
    Database() {
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      write_story(path, static_cast<std::int64_t>(now) * second);
    }
  };
  static const Database database;
  return database.path;
}

// ---- The shell ------------------------------------------------------------------------

bool shell_installed() { return std::system("command -v sqlite3 > /dev/null 2>&1") == 0; }

struct ShellRun {
  std::string command;  // as the page states it
  std::string output;   // stdout and stderr
  int exit_status = -1;
};

// Runs `block` through the sqlite3 shell on the story's database.
ShellRun run_shell(const ShellBlock& block) {
  const std::filesystem::path database = story_database();
  const std::string dir = database.parent_path().string();
  const std::string sql_file = dir + "/" + block.name + ".sql";
  const std::string out_file = dir + "/" + block.name + ".out";
  hotstate_test::write_file(sql_file, block.sql);
  ShellRun run;
  run.command = (block.writable ? writable_command : readonly_command) + " < " + block.name + ".sql";
  const std::string line = "cd '" + dir + "' && HOME='" + dir + "' " + run.command + " > '" + out_file + "' 2>&1";
  const int status = std::system(line.c_str());
  run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.output = hotstate_test::read_file(out_file);
  if (const char* keep = std::getenv("HOTSTATE_SHELL_DOC_ACTUAL"); keep != nullptr && *keep != '\0') {
    std::filesystem::create_directories(keep);
    hotstate_test::write_file(std::string(keep) + "/" + block.name + ".txt", run.output);
  }
  return run;
}

void check_block(const ShellBlock& block) {
  if (!shell_installed()) {
    FAIL("the sqlite3 shell program is not on PATH; these tests run it (install it, e.g. apt-get install sqlite3)");
  }
  const ShellRun run = run_shell(block);
  INFO("docs/sqlite-shell.md line " << block.line << ", block " << block.name << ", run as: " << run.command
                                    << " (exit status " << run.exit_status << ")");
  INFO("the query:\n" << block.sql);
  INFO("what the shell printed:\n" << run.output);
  INFO("what the page shows:\n" << block.expected);
  CHECK(normalised(run.output) == normalised(block.expected));
}

// One test case per marked block, registered when the program starts (so
// --list-tests and ctest see each one by name).
class BlockTest : public Catch::ITestInvoker {
 public:
  explicit BlockTest(std::size_t index) : index_(index) {}
  void invoke() const override {
    const auto& blocks = the_page().blocks;
    REQUIRE(index_ < blocks.size());
    check_block(blocks[index_]);
  }

 private:
  std::size_t index_;
};

std::string block_test_name(const ShellBlock& block) {
  return "the sqlite3 shell prints what docs/sqlite-shell.md shows for the query " + block.name;
}

struct ShellBlockRegistrar {
  ShellBlockRegistrar() {
    const auto& blocks = the_page().blocks;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const std::string name = block_test_name(blocks[i]);
      Catch::AutoReg(new BlockTest(i), Catch::SourceLineInfo(__FILE__, static_cast<std::size_t>(__LINE__)),
                     Catch::StringRef(), Catch::NameAndTags(Catch::StringRef(name), "[docs][sql]"));
    }
  }
};
const ShellBlockRegistrar registrar;

}  // namespace

TEST_CASE("every sql block of docs/sqlite-shell.md is marked and checked", "[docs][sql]") {
  const std::string markdown = hotstate_test::read_file(page_path);
  REQUIRE_FALSE(markdown.empty());
  const Page& page = the_page();
  for (const auto& problem : page.problems) FAIL_CHECK("docs/sqlite-shell.md " << problem);
  CHECK(page.blocks.size() == static_cast<std::size_t>(page.sql_fences));
  CHECK(page.blocks.size() >= 10);

  // The page states the commands the tests run.
  CHECK(markdown.find(readonly_command) != std::string::npos);
  CHECK(markdown.find(writable_command) != std::string::npos);

  // Each block has its own registered test case.
  std::set<std::string> registered;
  for (const auto& test : Catch::getRegistryHub().getTestCaseRegistry().getAllTests()) registered.insert(test.name);
  for (const auto& block : page.blocks) {
    INFO(block.name);
    CHECK(registered.count(block_test_name(block)) == 1);
  }
}

TEST_CASE("the page's outputs are compared with times masked and trailing spaces dropped", "[docs][sql]") {
  CHECK(normalised("a  2024-05-01T10:00:00.123456Z  b   \nc 2024-05-01T10:00:00Z\n\n") == "a  <time>  b\nc <time>\n");
  CHECK(normalised("x\n") == normalised("x"));
  CHECK(normalised("x 1\n") != normalised("x 2\n"));
  CHECK(normalised("\n\n").empty());
}

TEST_CASE("the page parser finds unmarked, unanswered and duplicate blocks", "[docs][sql]") {
  const Page good = parse_page("intro\n<!-- shell-test: one -->\n```sql\nSELECT 1;\n```\n\n```text\n1\n```\n");
  CHECK(good.problems.empty());
  REQUIRE(good.blocks.size() == 1);
  CHECK(good.blocks[0].name == "one");
  CHECK_FALSE(good.blocks[0].writable);
  CHECK(good.blocks[0].sql == "SELECT 1;\n");
  CHECK(good.blocks[0].expected == "1\n");

  CHECK(parse_page("```sql\nSELECT 1;\n```\n```text\n1\n```\n").problems.size() == 1);
  CHECK(parse_page("<!-- shell-test: a -->\n```sql\nSELECT 1;\n```\nprose\n").problems.size() == 1);
  CHECK(parse_page("<!-- shell-test: a -->\n```sql\nSELECT 1;\n```\n```text\n1\n```\n"
                   "<!-- shell-test: a writable -->\n```sql\nSELECT 2;\n```\n```text\n2\n```\n")
            .problems.size() == 1);
  CHECK(parse_page("<!-- shell-test: a -->\n\n```sql\nSELECT 1;\n```\n```text\n1\n```\n").problems.size() == 2);
}
