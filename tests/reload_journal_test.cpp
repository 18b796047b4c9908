// The reload journal: begin_reload / finish_reload, and what the next
// process finds when a host died in between.
#include <catch2/catch.hpp>

#include <csignal>
#include <cstdint>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "support.hpp"

using hotstate::AuditOrder;
using hotstate::AuditQuery;
using hotstate::ErrorCode;
using hotstate::ReloadResult;
using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate_test::error_code_of;
using hotstate_test::file_options;
using hotstate_test::RawDb;
using hotstate_test::TempDir;

namespace {

StateSnapshot greeter(const std::string& version, int greetings) {
  return StateSnapshot("greeter", version).with_data("greetings", greetings).with_metadata("reason", "hot-reload");
}

std::vector<std::string> kinds(const StateManager& manager) {
  AuditQuery query;
  query.order = AuditOrder::OldestFirst;
  query.limit = 0;
  std::vector<std::string> result;
  for (const auto& event : manager.audit_events(query)) result.push_back(event.kind);
  return result;
}

hotstate::Options clocked(const std::string& path, std::int64_t* now, std::size_t max_history = 10) {
  hotstate::Options options = file_options(path, max_history);
  options.clock = [now] { return *now; };
  return options;
}

}  // namespace

TEST_CASE("begin_reload saves the snapshot and records the reload in one transaction", "[reload]") {
  TempDir dir;
  const std::string path = dir.file("r.db");
  std::int64_t now = 5'000'000;
  StateManager manager(clocked(path, &now));

  const auto ticket = manager.begin_reload(greeter("1.0.0", 7), "1.1.0");
  CHECK(ticket.id == 1);
  CHECK(ticket.started_at_us == 5'000'000);
  const auto current = manager.load_snapshot("greeter");
  REQUIRE(current);
  CHECK(current->seq == ticket.snapshot_seq);
  CHECK(current->get<int>("greetings") == 7);
  CHECK(kinds(manager) == std::vector<std::string>{"SnapshotSaved", "ReloadStarted"});
  AuditQuery query;
  query.kinds = {"ReloadStarted"};
  CHECK(manager.audit_events(query).at(0).detail ==
        R"({"from_version":"1.0.0","reload_id":1,"snapshot_seq":1,"to_version":"1.1.0"})");

  const auto unfinished = manager.unfinished_reloads();
  REQUIRE(unfinished.size() == 1);
  CHECK(unfinished[0].id == ticket.id);
  CHECK(unfinished[0].plugin_id == "greeter");
  CHECK(unfinished[0].from_version == "1.0.0");
  CHECK(unfinished[0].to_version == "1.1.0");
  CHECK(unfinished[0].started_at_us == 5'000'000);
  CHECK(unfinished[0].last_good == *current);
}

TEST_CASE("finish_reload records success with its duration, and failure with its error and attempt", "[reload]") {
  TempDir dir;
  const std::string path = dir.file("r.db");
  std::int64_t now = 1'000'000;
  StateManager manager(clocked(path, &now));

  const auto good = manager.begin_reload(greeter("1.0.0", 1), "1.1.0");
  now += 2'500;
  manager.finish_reload(good.id, ReloadResult::succeeded());
  const auto bad = manager.begin_reload(greeter("1.1.0", 2), "2.0.0");
  now += 40'000;
  manager.finish_reload(bad.id, ReloadResult::failed("2.0.0 rejects 1.x state", 3));

  CHECK(manager.unfinished_reloads().empty());
  AuditQuery query;
  query.kinds = {"ReloadCompleted", "ReloadFailed"};
  query.order = AuditOrder::OldestFirst;
  const auto events = manager.audit_events(query);
  REQUIRE(events.size() == 3);
  CHECK(events[0].kind == "ReloadCompleted");
  CHECK(events[0].detail == R"({"duration_us":2500,"reload_id":1,"success":true})");
  CHECK(events[1].kind == "ReloadFailed");
  CHECK(events[1].detail == R"({"attempt":3,"error":"2.0.0 rejects 1.x state","reload_id":2})");
  CHECK(events[2].kind == "ReloadCompleted");
  CHECK(events[2].detail == R"({"duration_us":40000,"reload_id":2,"success":false})");

  RawDb raw(path);
  CHECK(raw.query("SELECT group_concat(outcome || ':' || note || ':' || (last_good_snapshot IS NULL), '|') FROM reloads") ==
        "succeeded::1|failed:2.0.0 rejects 1.x state:1");

  // A reload ends once; an unknown one cannot end.
  CHECK(error_code_of([&] { manager.finish_reload(good.id, ReloadResult::succeeded()); }) == ErrorCode::Conflict);
  CHECK(error_code_of([&] { manager.resolve_reload(bad.id, "late"); }) == ErrorCode::Conflict);
  CHECK(error_code_of([&] { manager.finish_reload(99, ReloadResult::succeeded()); }) == ErrorCode::NotFound);
  CHECK(kinds(manager).size() == 7);  // nothing more was written
}

TEST_CASE("a begin_reload that fails writes no snapshot, no journal row and no event", "[reload]") {
  TempDir dir;
  const std::string path = dir.file("r.db");
  hotstate::Options options = file_options(path);
  options.max_data_bytes = 64;
  StateManager manager(options);
  CHECK(error_code_of([&] {
          manager.begin_reload(StateSnapshot("p", "1.0.0").with_data("big", std::string(100, 'x')), "2.0.0");
        }) == ErrorCode::TooLarge);
  CHECK(error_code_of([&] { manager.begin_reload(greeter("1.0.0", 1), "\xff"); }) == ErrorCode::InvalidUtf8);
  RawDb raw(path);
  CHECK(raw.query_int("SELECT (SELECT count(*) FROM snapshots) + (SELECT count(*) FROM reloads) + "
                      "(SELECT count(*) FROM audit_events)") == 0);
}

TEST_CASE("a host killed between begin_reload and finish_reload leaves an unfinished reload with its last good "
          "state, which the next process resolves",
          "[reload][crash]") {
  TempDir dir;
  const std::string path = dir.file("r.db");
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The host: runs 1.0.0, begins a reload to 2.0.0, and the new version
    // saves three times (max_history 1 trims the pre-reload row) before the
    // host is killed.
    close(ready[0]);
    try {
      StateManager manager(file_options(path, 1));
      manager.save_snapshot(greeter("1.0.0", 1));
      manager.begin_reload(greeter("1.0.0", 2), "2.0.0");
      for (int i = 0; i < 3; ++i) manager.save_snapshot(greeter("2.0.0", 100 + i));
      manager.set_plugin_state("greeter", hotstate::PluginState::Reloading);
    } catch (...) {
      _exit(1);
    }
    const char byte = 'r';
    if (write(ready[1], &byte, 1) != 1) _exit(1);
    for (;;) pause();  // killed here, mid-reload
  }
  close(ready[1]);
  char byte = 0;
  REQUIRE(read(ready[0], &byte, 1) == 1);
  close(ready[0]);
  kill(child, SIGKILL);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));

  // The next process.
  StateManager manager(file_options(path, 1));
  CHECK(manager.plugin_state("greeter") == hotstate::PluginState::Reloading);
  const auto unfinished = manager.unfinished_reloads();
  REQUIRE(unfinished.size() == 1);
  const auto& reload = unfinished[0];
  CHECK(reload.plugin_id == "greeter");
  CHECK(reload.from_version == "1.0.0");
  CHECK(reload.to_version == "2.0.0");
  CHECK(reload.last_good.get<int>("greetings") == 2);
  CHECK(reload.last_good.plugin_version == "1.0.0");
  CHECK(reload.last_good.get_metadata("reason") == std::optional<std::string_view>("hot-reload"));
  CHECK(reload.last_good.seq == 2);
  // History has trimmed the row, yet the journal kept the state.
  for (const auto& entry : manager.get_history("greeter")) CHECK(entry.seq != 2);
  CHECK(manager.load_snapshot("greeter")->get<int>("greetings") == 102);

  // Restore the last good state and mark the reload resolved.
  manager.save_snapshot(reload.last_good);
  manager.resolve_reload(reload.id, "restored the last good state after a crash");
  CHECK(manager.unfinished_reloads().empty());
  CHECK(manager.load_snapshot("greeter")->get<int>("greetings") == 2);
  AuditQuery query;
  query.kinds = {"ReloadResolved"};
  CHECK(manager.audit_events(query).at(0).detail ==
        R"({"note":"restored the last good state after a crash","reload_id":1})");
  CHECK(error_code_of([&] { manager.resolve_reload(reload.id); }) == ErrorCode::Conflict);
  CHECK(manager.verify().ok);
}
