// hotstate report: the HTML file the tool writes, read as text and opened in
// headless Chromium (/usr/bin/chromium, Debian's package `chromium`, which
// the test command installs: tools/scripts/install-deps.sh --report).
// Chromium runs as a separate process, bounded by --virtual-time-budget and
// killed (with its whole process group) after 60 s.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

using hotstate::Json;
using hotstate::PluginState;
using hotstate::ReloadResult;
using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate_test::file_options;
using hotstate_test::read_file;
using hotstate_test::TempDir;

namespace {

constexpr const char* kChromium = "/usr/bin/chromium";

struct Finished {
  int exit_code = -1;  // -1: killed at the deadline or by a signal
  bool timed_out = false;
  std::string out;
  std::string err;
  double seconds = 0;
};

// Runs `argv` (no shell) in a process group of its own, stdout and stderr
// into files of `dir`; at the deadline the whole group is killed. Whatever
// of the group is left when it ends (Chromium's helpers) is killed too.
Finished run_process(const std::vector<std::string>& arguments, const TempDir& dir,
                     std::chrono::seconds deadline = std::chrono::seconds(60)) {
  static int counter = 0;
  const std::string out_path = dir.file("run-" + std::to_string(counter) + ".out");
  const std::string err_path = dir.file("run-" + std::to_string(counter++) + ".err");
  std::vector<char*> argv;
  for (const auto& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  const auto started = std::chrono::steady_clock::now();
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // only async-signal-safe calls until exec
    ::setpgid(0, 0);
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0 || err < 0) ::_exit(126);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::setpgid(child, child);  // also here: no race with the kill below
  Finished finished;
  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(child, &status, WNOHANG);
    if (done == child) break;
    if (std::chrono::steady_clock::now() - started > deadline) {
      ::kill(-child, SIGKILL);
      ::waitpid(child, &status, 0);
      finished.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(-child, SIGKILL);  // helpers left behind, if any (ESRCH otherwise)
  finished.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  finished.exit_code = !finished.timed_out && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  finished.out = read_file(out_path);
  finished.err = read_file(err_path);
  return finished;
}

Finished run_tool(const std::vector<std::string>& arguments, const TempDir& dir) {
  std::vector<std::string> argv = {HOTSTATE_CLI};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  return run_process(argv, dir, std::chrono::seconds(120));
}

// Fails the test, saying how to get it, when Chromium is not installed.
void require_chromium() {
  if (::access(kChromium, X_OK) != 0) {
    FAIL("the report tests need headless Chromium at " << kChromium
                                                       << ": install it with `bash tools/scripts/install-deps.sh "
                                                          "--report` (apt-get install chromium); the test command "
                                                          "tools/scripts/test.sh installs it");
  }
}

// 1234567 as "1,234,567", as the page writes counts.
std::string grouped(std::size_t n) {
  std::string digits = std::to_string(n);
  for (std::size_t i = digits.size(); i > 3; i -= 3) digits.insert(i - 3, ",");
  return digits;
}

std::string file_url(const std::string& path) { return "file://" + std::filesystem::absolute(path).string(); }

std::vector<std::string> chromium_command(const TempDir& dir, const std::string& profile) {
  return {kChromium,
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--user-data-dir=" + dir.file(profile),
          "--no-first-run",
          "--virtual-time-budget=5000",
          "--enable-logging=stderr",
          "--v=0"};
}

struct Page {
  std::string dom;     // the DOM after the page's script ran, without the scripts' text
  std::string log;     // Chromium's stderr
  double seconds = 0;
};

// Removes the text of every <script> element: what is left is what the
// page rendered, not the data or the code.
std::string without_scripts(const std::string& html) {
  std::string out;
  std::size_t at = 0;
  for (;;) {
    const std::size_t open = html.find("<script", at);
    if (open == std::string::npos) break;
    const std::size_t close = html.find("</script>", open);
    if (close == std::string::npos) break;
    out.append(html, at, open - at);
    at = close + 9;
  }
  out.append(html, at, std::string::npos);
  return out;
}

// The DOM that headless Chromium has after loading `url` (--dump-dom).
Page dump_dom(const TempDir& dir, const std::string& url) {
  std::vector<std::string> argv = chromium_command(dir, "profile-dom");
  argv.push_back("--dump-dom");
  argv.push_back(url);
  const Finished run = run_process(argv, dir);
  INFO("chromium stderr: " << run.err.substr(0, 4000));
  REQUIRE_FALSE(run.timed_out);
  REQUIRE(run.exit_code == 0);
  REQUIRE(run.out.find("</html>") != std::string::npos);
  return {without_scripts(run.out), run.err, run.seconds};
}

// Lines of Chromium's log that come from the page: console messages
// ("CONSOLE"), uncaught exceptions, and Content-Security-Policy refusals.
std::vector<std::string> page_complaints(const std::string& log) {
  std::vector<std::string> lines;
  std::size_t at = 0;
  while (at < log.size()) {
    std::size_t end = log.find('\n', at);
    if (end == std::string::npos) end = log.size();
    const std::string line = log.substr(at, end - at);
    if (line.find("CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos ||
        line.find("Content Security Policy") != std::string::npos) {
      lines.push_back(line);
    }
    at = end + 1;
  }
  return lines;
}

// The start tags named `tag` in `html`, e.g. every "<tr ...>".
std::vector<std::string> start_tags(const std::string& html, const std::string& tag) {
  std::vector<std::string> tags;
  const std::string open = "<" + tag;
  for (std::size_t at = html.find(open); at != std::string::npos; at = html.find(open, at + 1)) {
    const char next = at + open.size() < html.size() ? html[at + open.size()] : '>';
    if (next != ' ' && next != '>') continue;
    tags.push_back(html.substr(at, html.find('>', at) - at + 1));
  }
  return tags;
}

bool has_attribute(const std::string& tag, const std::string& name, const std::string& value) {
  return tag.find(" " + name + "=\"" + value + "\"") != std::string::npos;
}

// The element whose start tag is at `open` in `html`, to its end tag
// (elements of the same name nested in it included).
std::string element_at(const std::string& html, std::size_t open) {
  const std::size_t name_end = html.find_first_of(" >", open);
  const std::string name = html.substr(open + 1, name_end - open - 1);
  int depth = 0;
  std::size_t at = open;
  for (;;) {
    const std::size_t next_open = html.find("<" + name, at + 1);
    const std::size_t next_close = html.find("</" + name + ">", at + 1);
    if (next_close == std::string::npos) return html.substr(open);
    if (next_open != std::string::npos && next_open < next_close) {
      ++depth;
      at = next_open;
    } else if (depth == 0) {
      return html.substr(open, next_close + name.size() + 3 - open);
    } else {
      --depth;
      at = next_close;
    }
  }
}

// The element with id="`id`".
std::string element_by_id(const std::string& html, const std::string& id) {
  const std::size_t attribute = html.find(" id=\"" + id + "\"");
  if (attribute == std::string::npos) return {};
  return element_at(html, html.rfind('<', attribute));
}

// The places in `html` (lowercased) where a URL that leaves the file
// starts right after `at`: blanks, then an optional quote, then http:,
// https:, file:, ftp: or //.
bool leaves_the_file(const std::string& lower, std::size_t at) {
  const auto skip_blanks = [&] {
    while (at < lower.size() && (lower[at] == ' ' || lower[at] == '\t' || lower[at] == '\n' || lower[at] == '\r')) ++at;
  };
  skip_blanks();
  if (at < lower.size() && (lower[at] == '"' || lower[at] == '\'')) ++at;
  skip_blanks();
  for (const char* scheme : {"http:", "https:", "file:", "ftp:", "//"}) {
    if (lower.compare(at, std::char_traits<char>::length(scheme), scheme) == 0) return true;
  }
  return false;
}

// What in `html`, read as text, references something outside it: an
// attribute (src=, href=, ...) with a URL to elsewhere, a CSS @import or
// url() to elsewhere, an element that loads something.
std::vector<std::string> external_references(const std::string& html) {
  std::vector<std::string> found;
  std::string lower = html;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const std::string name : {"src", "href", "action", "formaction", "poster", "data", "srcset", "background"}) {
    for (std::size_t at = lower.find(name); at != std::string::npos; at = lower.find(name, at + 1)) {
      std::size_t after = at + name.size();
      while (after < lower.size() && lower[after] == ' ') ++after;
      if (after < lower.size() && lower[after] == '=' && leaves_the_file(lower, after + 1)) {
        found.push_back(html.substr(at, 80));
      }
    }
  }
  if (const std::size_t at = lower.find("@import"); at != std::string::npos) found.push_back(html.substr(at, 80));
  for (std::size_t at = lower.find("url("); at != std::string::npos; at = lower.find("url(", at + 1)) {
    if (leaves_the_file(lower, at + 4)) found.push_back(html.substr(at, 80));
  }
  for (const char* tag : {"<link", "<img", "<iframe", "<object", "<embed", "<base", "<frame", "<audio", "<video", "<source"}) {
    if (const std::size_t at = lower.find(tag); at != std::string::npos) found.push_back(html.substr(at, 80));
  }
  return found;
}

// The file, read as text, references nothing outside itself, and every
// script is inline.
void check_self_contained(const std::string& html) {
  for (const auto& reference : external_references(html)) {
    INFO("a reference to outside the file: " << reference);
    CHECK(false);
  }
  std::string lower = html;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // Every script is inline: the data blob and the code, no src.
  std::size_t scripts = 0;
  for (std::size_t at = lower.find("<script"); at != std::string::npos; at = lower.find("<script", at + 1)) {
    ++scripts;
    CHECK(lower.substr(at, lower.find('>', at) - at).find("src") == std::string::npos);
  }
  CHECK(scripts == 2);
  CHECK(html.find("<script type=\"application/json\" id=\"report-data\">") != std::string::npos);
  // The policy that keeps everything else out when it is opened.
  CHECK(html.find("Content-Security-Policy") != std::string::npos);
  CHECK(html.find("default-src 'none'") != std::string::npos);
}

struct Story {
  std::uint64_t first = 0;     // alpha: count 1, keys gone and count
  std::uint64_t second = 0;    // alpha: count 2, fresh added, gone removed, metadata reason changed
  std::uint64_t failed_pre = 0;
  std::uint64_t rolled_back = 0;  // alpha: discarded by a rollback, so not stored any more
  std::uint64_t hostile = 0;      // beta: text that tries to end the script element
};

// Two plugins: saves, a failed reload, a completed one (pinning), a
// rollback, a restore, a migration, life-cycle states.
Story build_story(const std::string& db) {
  Story story;
  StateManager manager(file_options(db));
  manager.set_plugin_state("alpha", PluginState::Loading);
  manager.set_plugin_state("alpha", PluginState::Running);
  story.first = manager.save_snapshot(
      StateSnapshot("alpha", "1.0.0").with_data("count", 1).with_data("gone", "x").with_metadata("reason", "first"));
  story.second = manager.save_snapshot(StateSnapshot("alpha", "1.0.0")
                                           .with_data("count", 2)
                                           .with_data("fresh", true)
                                           .with_metadata("reason", "second"));
  const auto failing = manager.begin_reload(StateSnapshot("alpha", "1.0.0").with_data("count", 3), "1.5.0");
  story.failed_pre = failing.snapshot_seq;
  manager.set_plugin_state("alpha", PluginState::Reloading);
  manager.finish_reload(failing.id, ReloadResult::failed("boom"));
  manager.set_plugin_state("alpha", PluginState::failed("boom"));
  const auto working = manager.begin_reload(StateSnapshot("alpha", "1.0.0").with_data("count", 4), "1.1.0");
  manager.finish_reload(working.id, ReloadResult::succeeded_pinning());
  manager.set_plugin_state("alpha", PluginState::Running);
  story.rolled_back = manager.save_snapshot(StateSnapshot("alpha", "1.1.0").with_data("count", 5));
  REQUIRE(manager.rollback("alpha"));
  REQUIRE(manager.restore("alpha", story.second));
  manager.register_migration("alpha", 1, 2, [](StateSnapshot snapshot) {
    snapshot.data["migrated"] = Json::from(true);
    return snapshot;
  });
  REQUIRE(manager.restore_for("alpha", "2.0.0"));

  manager.save_snapshot(StateSnapshot("beta", "0.1.0").with_data("n", 1));
  story.hostile = manager.save_snapshot(
      StateSnapshot("beta", "0.1.0")
          .with_data("n", 2)
          .with_data("html", "</script><script>document.title='pwned'</script><!-- <img src=\"http://example.invalid/x.png\">")
          .with_metadata("note", "</SCRIPT> & <b>bold</b>"));
  manager.set_plugin_state("beta", PluginState::failed("crashed </script>"));
  return story;
}

void check_page_clean(const Page& page) {
  INFO("chromium log lines from the page: " << page_complaints(page.log).size());
  for (const auto& line : page_complaints(page.log)) {
    INFO(line);
    CHECK(false);
  }
  const std::string errors = element_by_id(page.dom, "errors");
  CHECK(errors == "<div id=\"errors\"></div>");
  CHECK(page.dom.find("data-rendered=\"yes\"") != std::string::npos);
}

}  // namespace

TEST_CASE("report writes one self-contained HTML file that Chromium renders: timelines, the failed reload, a "
          "snapshot's diff",
          "[report]") {
  require_chromium();
  TempDir dir;
  const std::string db = dir.file("story.db");
  const Story story = build_story(db);
  const auto db_size = std::filesystem::file_size(db);
  const auto db_time = std::filesystem::last_write_time(db);

  const std::string html_path = dir.file("report.html");
  const Finished written = run_tool({"--db", db, "report", "--out", html_path}, dir);
  INFO(written.err);
  REQUIRE(written.exit_code == 0);
  CHECK_THAT(written.out, Catch::Contains("wrote") && Catch::Contains("report.html"));
  // Read-only: the database is as it was, with no -wal or -shm left behind.
  CHECK(std::filesystem::file_size(db) == db_size);
  CHECK(std::filesystem::last_write_time(db) == db_time);
  CHECK_FALSE(std::filesystem::exists(db + "-wal"));
  CHECK_FALSE(std::filesystem::exists(db + "-shm"));
  const Finished help = run_tool({"report", "--help"}, dir);
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.out, Catch::Contains("--out") && Catch::Contains("--max-events") && Catch::Contains("--since"));

  const std::string html = read_file(html_path);
  // The check itself finds what it looks for.
  CHECK(external_references(R"(<img src="https://example.invalid/a.png">)").size() == 2);
  CHECK(external_references(R"(<a href = '//example.invalid/'>x</a>)").size() == 1);
  CHECK(external_references(R"(<style>@import "x.css"; b { background: URL( http://example.invalid/b.png ) }</style>)").size() == 2);
  CHECK(external_references(R"(<a href="#seq=3">seq 3</a><p>see http://example.invalid</p>)").empty());
  check_self_contained(html);
  // Nothing in the data can end the JSON's script element.
  const std::size_t data_start = html.find("id=\"report-data\">");
  const std::size_t data_end = html.find("</script>", data_start);
  REQUIRE(data_end != std::string::npos);
  const std::string data_text = html.substr(data_start + 17, data_end - data_start - 17);
  CHECK(data_text.find('<') == std::string::npos);
  CHECK(data_text.find("\\u003c/script>") != std::string::npos);
  CHECK_NOTHROW(Json::parse(data_text));
  // The limits are stated in the file itself.
  CHECK_THAT(html, Catch::Contains("id=\"limits\"") && Catch::Contains("Nothing was left out."));

  SECTION("the timeline of each plugin, every kind of event, the failed reload marked") {
    const Page page = dump_dom(dir, file_url(html_path));
    check_page_clean(page);
    const std::string& dom = page.dom;
    for (const char* plugin : {"alpha", "beta"}) {
      INFO(plugin);
      CHECK(dom.find("<section class=\"plugin\" data-plugin=\"" + std::string(plugin) + "\"") != std::string::npos);
    }
    // Items of the lists, by kind.
    std::map<std::string, int> kinds;
    for (const auto& tag : start_tags(dom, "li")) {
      const std::size_t at = tag.find(" data-kind=\"");
      if (at != std::string::npos) ++kinds[tag.substr(at + 12, tag.find('"', at + 12) - at - 12)];
    }
    CHECK(kinds["SnapshotSaved"] == 9);  // alpha: 2 saves, 2 before reloads, 1 rolled back, a restore, a migration; beta: 2
    CHECK(kinds["Reload"] == 2);
    CHECK(kinds["RolledBack"] == 1);
    CHECK(kinds["Restored"] == 1);
    CHECK(kinds["StateMigrated"] == 1);
    CHECK(kinds["Pinned"] == 1);
    CHECK(kinds["PluginStateChanged"] == 6);
    // The failed reload stands out, with its marker and its error; the
    // completed one has none.
    std::size_t failed = 0;
    std::size_t completed = 0;
    for (std::size_t at = dom.find("<li "); at != std::string::npos; at = dom.find("<li ", at + 1)) {
      const std::string item = element_at(dom, at);
      const std::string tag = item.substr(0, item.find('>') + 1);
      if (!has_attribute(tag, "data-kind", "Reload")) continue;
      if (has_attribute(tag, "data-outcome", "failed")) {
        ++failed;
        CHECK(tag.find("is-failed") != std::string::npos);
        CHECK(item.find("<span class=\"failed\"") != std::string::npos);
        CHECK(item.find("boom") != std::string::npos);
        CHECK(item.find("1.5.0") != std::string::npos);
      } else {
        ++completed;
        CHECK(has_attribute(tag, "data-outcome", "completed"));
        CHECK(item.find("class=\"failed\"") == std::string::npos);
      }
    }
    CHECK(failed == 1);
    CHECK(completed == 1);
    // The timeline strips: a mark for each item, the failed reload's in its colour.
    CHECK(dom.find("class=\"mk k-Reload o-failed\"") != std::string::npos);
    CHECK(dom.find("class=\"mk k-SnapshotSaved\"") != std::string::npos);
    // Nothing selected yet.
    CHECK(element_by_id(dom, "diff") == "<div id=\"diff\"></div>");
    // The hostile text is text: no element came out of it.
    CHECK(start_tags(dom, "img").empty());
    CHECK(start_tags(dom, "b").empty());
  }

  SECTION("#seq=N selects a snapshot: its data, and what changed from the snapshot it replaced") {
    const Page page = dump_dom(dir, file_url(html_path) + "#seq=" + std::to_string(story.second));
    check_page_clean(page);
    const std::string snapshot = element_by_id(page.dom, "snapshot");
    CHECK(snapshot.find("data-seq=\"" + std::to_string(story.second) + "\"") != std::string::npos);
    CHECK_THAT(snapshot, Catch::Contains("Snapshot seq " + std::to_string(story.second)) && Catch::Contains("alpha"));
    CHECK(snapshot.find("<tr data-key=\"fresh\">") != std::string::npos);
    const std::string diff = element_by_id(page.dom, "diff");
    CHECK(diff.find("seq " + std::to_string(story.first)) != std::string::npos);
    std::map<std::string, std::string> changes;  // section:key -> change
    for (const auto& tag : start_tags(diff, "tr")) {
      const auto value = [&](const std::string& name) {
        const std::size_t at = tag.find(" " + name + "=\"");
        return at == std::string::npos ? std::string() : tag.substr(at + name.size() + 3, tag.find('"', at + name.size() + 3) - at - name.size() - 3);
      };
      if (!value("data-change").empty()) changes[value("data-section") + ":" + value("data-key")] = value("data-change");
    }
    CHECK(changes.size() == 4);
    CHECK(changes["data:count"] == "changed");
    CHECK(changes["data:fresh"] == "added");
    CHECK(changes["data:gone"] == "removed");
    CHECK(changes["metadata:reason"] == "changed");
    // The selected save is marked in its plugin's list.
    CHECK(page.dom.find("class=\"item k-SnapshotSaved selected\" data-kind=\"SnapshotSaved\"") != std::string::npos);
  }

  SECTION("a snapshot whose row is gone says so") {
    const Page page = dump_dom(dir, file_url(html_path) + "#seq=" + std::to_string(story.rolled_back));
    check_page_clean(page);
    const std::string snapshot = element_by_id(page.dom, "snapshot");
    CHECK_THAT(snapshot, Catch::Contains("not stored any more"));
    CHECK(snapshot.find("data-key") == std::string::npos);
  }

  SECTION("text from the file that looks like markup stays text") {
    const Page page = dump_dom(dir, file_url(html_path) + "#seq=" + std::to_string(story.hostile));
    check_page_clean(page);
    const std::string snapshot = element_by_id(page.dom, "snapshot");
    CHECK_THAT(snapshot, Catch::Contains("&lt;/script&gt;&lt;script&gt;document.title='pwned'"));
    CHECK_THAT(snapshot, Catch::Contains("&lt;/SCRIPT&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"));
    CHECK(page.dom.find("<title>hotstate report") != std::string::npos);
    CHECK(start_tags(page.dom, "img").empty());
  }

  SECTION("a page whose script fails says so in #errors (what the other sections check is empty)") {
    std::string broken = html;
    const std::string plugins = "\"plugins\":[";
    const std::size_t at = broken.find(plugins);
    REQUIRE(at != std::string::npos);
    broken.replace(at, plugins.size(), "\"plugins\":7,\"x\":[");
    const std::string broken_path = dir.file("broken.html");
    hotstate_test::write_file(broken_path, broken);
    const Page page = dump_dom(dir, file_url(broken_path));
    const std::string errors = element_by_id(page.dom, "errors");
    CHECK_THAT(errors, Catch::Contains("the report could not be rendered") && Catch::Contains("TypeError"));
    CHECK(page.dom.find("data-rendered=\"yes\"") == std::string::npos);
  }

  SECTION("a screenshot of it is a PNG") {
    const std::string png = dir.file("report.png");
    std::vector<std::string> argv = chromium_command(dir, "profile-shot");
    argv.push_back("--screenshot=" + png);
    argv.push_back("--window-size=1280,900");
    argv.push_back(file_url(html_path) + "#seq=" + std::to_string(story.second));
    const Finished run = run_process(argv, dir);
    INFO(run.err.substr(0, 4000));
    REQUIRE_FALSE(run.timed_out);
    REQUIRE(run.exit_code == 0);
    CHECK(page_complaints(run.err).empty());
    const std::string bytes = read_file(png);
    REQUIRE(bytes.size() > 1000);
    CHECK(bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  }
}

TEST_CASE("report --plugin, --since/--until and --max-events choose what the file holds, and the page says what "
          "it left out",
          "[report]") {
  require_chromium();
  TempDir dir;
  const std::string db = dir.file("story.db");
  build_story(db);

  const std::string only_beta = dir.file("beta.html");
  const Finished beta = run_tool({"--db", db, "--json", "report", "--plugin", "beta", "--out", only_beta}, dir);
  INFO(beta.err);
  REQUIRE(beta.exit_code == 0);
  const auto summary = Json::parse(beta.out).get<std::map<std::string, Json>>();
  CHECK(summary.at("plugins").get<int>() == 1);
  CHECK(summary.at("events").get<int>() == 3);  // 2 saves, 1 state
  const std::string beta_html = read_file(only_beta);
  CHECK(beta_html.find("\"id\":\"beta\"") != std::string::npos);
  CHECK(beta_html.find("\"id\":\"alpha\"") == std::string::npos);

  const std::string capped = dir.file("capped.html");
  const Finished few = run_tool({"--db", db, "report", "--plugin", "alpha", "--max-events", "3", "--out", capped}, dir);
  INFO(few.err);
  REQUIRE(few.exit_code == 0);
  CHECK_THAT(few.out, Catch::Contains("older not shown"));
  const std::string capped_html = read_file(capped);
  check_self_contained(capped_html);
  CHECK_THAT(capped_html, Catch::Contains("older events of 1 plugin not shown"));
  const Page page = dump_dom(dir, file_url(capped));
  check_page_clean(page);
  const std::size_t older = page.dom.find("<p class=\"older\">");
  REQUIRE(older != std::string::npos);
  CHECK_THAT(element_at(page.dom, older), Catch::Contains("older events not shown"));
  CHECK(start_tags(page.dom, "li").size() == 3);

  // A range with nothing in it: the plugins are there, without events.
  const std::string empty = dir.file("empty.html");
  const Finished none = run_tool({"--db", db, "--json", "report", "--since", "2100-01-01", "--out", empty}, dir);
  INFO(none.err);
  REQUIRE(none.exit_code == 0);
  CHECK(Json::parse(none.out).get<std::map<std::string, Json>>().at("events").get<int>() == 0);
  const Page empty_page = dump_dom(dir, file_url(empty));
  check_page_clean(empty_page);
  CHECK_THAT(empty_page.dom, Catch::Contains("no events in this report's range"));

  // Usage errors.
  CHECK(run_tool({"--db", db, "report", "--since", "yesterday"}, dir).exit_code == 2);
  CHECK(run_tool({"--db", db, "report", "--since", "2026-01-02", "--until", "2026-01-01"}, dir).exit_code == 2);
  CHECK(run_tool({"--db", db, "report", "--max-events", "-1"}, dir).exit_code == 2);
  const Finished over_db = run_tool({"--db", db, "report", "--out", db}, dir);
  CHECK(over_db.exit_code == 2);
  CHECK_THAT(over_db.err, Catch::Contains("is the database itself"));
  CHECK_NOTHROW(StateManager(file_options(db)));
}

TEST_CASE("report of 100 plugins and 100,000 events: Chromium renders it within its time budget and the page "
          "says what it left out",
          "[report]") {
  require_chromium();
  TempDir dir;
  const std::string db = dir.file("scale.db");
  constexpr int kPlugins = 100;
  constexpr std::size_t kEvents = 100'000;
  const auto plugin = [](int i) {
    std::string id = std::to_string(i);
    return "p" + std::string(3 - id.size(), '0') + id;
  };
  const auto started = std::chrono::steady_clock::now();
  std::uint64_t selected = 0;  // p001's newest save
  {
    // The history bound (10) trims: a save beyond it is two events, the
    // save and the trim, and the older snapshots are not stored any more.
    hotstate::Options options = file_options(db);
    options.synchronous = hotstate::Synchronous::Normal;
    StateManager manager(options);
    for (int i = 0; i < kPlugins; ++i) {  // a failed reload of each plugin
      const auto ticket = manager.begin_reload(StateSnapshot(plugin(i), "1.0.0").with_data("n", 0), "2.0.0");
      manager.finish_reload(ticket.id, ReloadResult::failed("boom " + plugin(i)));
    }
    std::uint64_t events = manager.newest_event_id();  // a new file: its events are 1 to this
    REQUIRE(events == 4 * kPlugins);
    std::vector<std::size_t> rows(kPlugins, 1);  // each plugin's stored snapshots
    std::vector<StateSnapshot> batch;
    const auto flush = [&] {
      const auto seqs = manager.save_snapshots(batch);
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (batch[i].plugin_id == "p001") selected = seqs[i];
      }
      batch.clear();
    };
    // Round-robin; p000 saves twelve times a round, beyond 1000 events; the
    // others once a round, for 450 rounds (about 900 events each).
    bool full = false;
    for (std::size_t round = 0; !full; ++round) {
      for (int i = 0; i < kPlugins && !full; ++i) {
        for (int k = 0; k < (i == 0 ? 12 : round < 450 ? 1 : 0) && !full; ++k) {
          const std::uint64_t cost = rows[static_cast<std::size_t>(i)] > 10 ? 2 : 1;
          if (events + cost > kEvents) {
            full = true;
            break;
          }
          events += cost;
          rows[static_cast<std::size_t>(i)] = std::min<std::size_t>(rows[static_cast<std::size_t>(i)] + 1, 11);
          batch.push_back(StateSnapshot(plugin(i), "2.0.0")
                              .with_data("n", static_cast<std::int64_t>(round * 100 + static_cast<std::size_t>(k)))
                              .with_data("name", plugin(i))
                              .with_metadata("round", std::to_string(round)));
          if (batch.size() == 10'000) flush();
        }
      }
    }
    if (!batch.empty()) flush();
    if (events < kEvents) manager.record_event(hotstate::ReloadEvent::plugin_discovered(plugin(0)));
    REQUIRE(manager.newest_event_id() == kEvents);
  }
  const double build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  const std::string html_path = dir.file("scale.html");
  const Finished written = run_tool({"--db", db, "--json", "report", "--out", html_path}, dir);
  INFO(written.err);
  REQUIRE(written.exit_code == 0);
  const auto summary = Json::parse(written.out).get<std::map<std::string, Json>>();
  CHECK(summary.at("plugins").get<int>() == kPlugins);
  CHECK(summary.at("events").get<std::size_t>() == kEvents);
  const std::size_t omitted = summary.at("older_events_not_shown").get<std::size_t>();
  CHECK(omitted > 0);
  CHECK(summary.at("events_shown").get<std::size_t>() == kEvents - omitted);
  const std::string html = read_file(html_path);
  check_self_contained(html);
  CHECK_THAT(html, Catch::Contains("older events of 1 plugin not shown"));

  const Page page = dump_dom(dir, file_url(html_path) + "#seq=" + std::to_string(selected));
  WARN("100 plugins, 100,000 events: database built in " << build_seconds << " s, report written in "
                                                          << written.seconds << " s (" << html.size()
                                                          << " bytes), Chromium loaded and rendered it in "
                                                          << page.seconds << " s");
  check_page_clean(page);
  // One page of plugins, one page of events each.
  CHECK(start_tags(page.dom, "section").size() == 20);
  CHECK(start_tags(page.dom, "li").size() == 20 * 50);
  const std::size_t first_lane = page.dom.find("<section class=\"plugin\" data-plugin=\"p000\"");
  REQUIRE(first_lane != std::string::npos);
  const std::string lane = element_at(page.dom, first_lane);
  CHECK_THAT(lane, Catch::Contains(grouped(omitted) + " older events not shown"));
  // The selected snapshot, with its diff: n went up by one.
  const std::string snapshot = element_by_id(page.dom, "snapshot");
  CHECK(snapshot.find("data-seq=\"" + std::to_string(selected) + "\"") != std::string::npos);
  CHECK(snapshot.find("<tr data-key=\"name\">") != std::string::npos);
  const std::string diff = element_by_id(page.dom, "diff");
  CHECK(diff.find("data-change=\"changed\" data-section=\"data\" data-key=\"n\"") != std::string::npos);
  CHECK(diff.find("data-change=\"changed\" data-section=\"metadata\" data-key=\"round\"") != std::string::npos);
  CHECK(page.dom.find("class=\"item k-SnapshotSaved selected\"") != std::string::npos);
  CHECK(page.seconds < 30);
}
