// Replication to PostgreSQL: PostgreSQL holds exactly what the file holds
// after random operations (hotstate's own writes and another client's SQL),
// shipped with replicate_once at random points or by a follower running
// meanwhile; the retention prune keeps what a replica has not received; a
// replicator refuses a second file as the same host, a newer schema, and
// fails fast on an unreachable PostgreSQL; and the tool's replicate and
// replicas commands. Each test case has a database of its own on the
// fixture's throwaway cluster (postgresql_test_cluster.hpp).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "postgresql_test_cluster.hpp"
#include "replication_compare.hpp"
#include "support.hpp"

using hotstate::ErrorCode;
using hotstate::Json;
using hotstate::ReplicationOptions;
using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate_test::ChildProcess;
using hotstate_test::file_options;
using hotstate_test::HasCode;
using hotstate_test::PgReader;
using hotstate_test::RandomHost;
using hotstate_test::require_each_event_once;
using hotstate_test::require_replica_matches;
using hotstate_test::TempDir;

namespace {

ReplicationOptions as_host(const std::string& host_id, std::size_t batch_events = 2000) {
  ReplicationOptions options;
  options.host_id = host_id;
  options.batch_events = batch_events;
  return options;
}

// The seeds of the random sequences: HOTSTATE_TEST_SEED alone when set.
std::vector<std::uint64_t> seeds(std::vector<std::uint64_t> defaults) {
  if (const char* seed = std::getenv("HOTSTATE_TEST_SEED"); seed != nullptr && *seed != '\0') {
    return {std::stoull(seed)};
  }
  return defaults;
}

using JsonObject = std::map<std::string, Json>;

JsonObject object_of(const std::string& text) { return Json::parse(text).get<JsonObject>(); }

std::vector<JsonObject> objects_of(const std::string& text) { return Json::parse(text).get<std::vector<JsonObject>>(); }

// A PostgreSQL URL whose socket directory does not exist.
std::string url_of_nowhere(const TempDir& dir) { return "postgresql:///x?host=" + dir.file("no-socket-here"); }

struct ToolRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// The tool run to its end, with `arguments`.
ToolRun run_tool(const std::vector<std::string>& arguments) {
  std::vector<std::string> argv{HOTSTATE_CLI};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  ChildProcess tool(argv);
  ToolRun run;
  while (auto line = tool.next_line(std::chrono::seconds(120))) run.out += *line + "\n";
  run.exit_code = tool.wait();
  run.err = tool.err();
  return run;
}

}  // namespace

TEST_CASE("PostgreSQL holds exactly the file after random operations shipped with replicate_once at random points",
          "[replication]") {
  const std::string url = fresh_test_database("replication_random_once");
  const int operations = 250 * hotstate_test::replication_test_scale();
  for (const std::uint64_t seed : seeds({1, 2, 3, 4, 5})) {
    INFO("seed " << seed << " (HOTSTATE_TEST_SEED=" << seed << " repeats it)");
    TempDir dir;
    const std::string db = dir.file("host.db");
    const std::string host_id = "random-once-" + std::to_string(seed);
    hotstate::Options file = file_options(db, 4);
    // Every other seed signs the audit chain: the events' macs ship too.
    if (seed % 2 == 0) file.audit_key = std::string(32, static_cast<char>('k' + seed % 7));
    StateManager manager(file);
    RandomHost host(manager, db, seed);
    // Shipped from the start: the replica holds the prune, nothing is missed.
    // (A file pruned before it first ships: the test case after this one.)
    CHECK(manager.replicate_once(url, as_host(host_id)).events == 0);
    std::vector<std::string> since_ship;
    int ships = 0;
    for (int i = 0; i < operations; ++i) {
      since_ship.push_back(host.step());
      if (host.pick(0, 11) == 0 || i + 1 == operations) {
        std::string ops;
        for (const auto& op : since_ship) ops += op + " ";
        INFO("operation " << i << "; since the last shipment: " << ops);
        // Small batches now and then: a backlog ships in several transactions.
        const auto report = manager.replicate_once(url, as_host(host_id, host.pick(0, 2) == 0 ? 3 : 2000));
        ++ships;
        CHECK(report.missed == 0);
        CHECK(report.position == manager.newest_event_id());
        require_replica_matches(db, url, host_id);
        since_ship.clear();
      }
    }
    INFO("operations: " << host.summary());
    require_each_event_once(db, url, host_id);
    CHECK(ships > 5);
  }
}

TEST_CASE("a file pruned before it first ships brings its pins and plugin states all the same, and counts what it missed",
          "[replication]") {
  const std::string url = fresh_test_database("replication_pruned_first");
  TempDir dir;
  const std::string db = dir.file("host.db");
  StateManager manager(file_options(db, 2));
  const auto seq = manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("n", 0));
  manager.pin("p", seq, "good");
  manager.set_plugin_state("p", hotstate::PluginState::Running);
  manager.set_plugin_state("q", hotstate::PluginState::failed("no luck"));
  const auto reload = manager.begin_reload(StateSnapshot("p", "1.0.0").with_data("n", 1), "2.0.0");
  manager.finish_reload(reload.id, hotstate::ReloadResult::failed("crashed"));
  for (int i = 0; i < 10; ++i) manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("n", 2 + i));
  // The Pinned, PluginStateChanged and reload events go; the rows stay.
  hotstate::AuditPrune keep_one;
  keep_one.keep_newest = 1;
  REQUIRE(manager.prune_audit(keep_one) > 0);
  REQUIRE(manager.pins().size() == 1);
  const auto report = manager.replicate_once(url, as_host("pruned"));
  CHECK(report.missed > 0);
  require_replica_matches(db, url, "pruned");
  require_each_event_once(db, url, "pruned");
}

TEST_CASE("rows another client deleted without an audit event leave PostgreSQL at the next shipment, also when its "
          "backlog ships in several batches",
          "[replication]") {
  const std::string url = fresh_test_database("replication_reconcile_backlog");
  TempDir dir;
  const std::string db = dir.file("host.db");
  StateManager manager(file_options(db, 5));
  for (int i = 0; i < 5; ++i) manager.save_snapshot(hotstate_test::versioned("p", i));
  const auto reload = manager.begin_reload(hotstate_test::versioned("p", 5), "2.0.0");
  manager.finish_reload(reload.id, hotstate::ReloadResult::succeeded());
  manager.replicate_once(url, as_host("h"));
  require_replica_matches(db, url, "h");
  {
    // The oldest history row and the journal row go, with no event.
    hotstate_test::RawDb shell(db);
    shell.exec("DELETE FROM snapshots WHERE seq = (SELECT min(seq) FROM snapshots)");
    shell.exec("DELETE FROM reloads");
  }
  // A backlog of more events than a batch holds.
  for (int i = 10; i < 20; ++i) manager.save_snapshot(hotstate_test::versioned("q", i));

  SECTION("replicate_once") {
    const auto report = manager.replicate_once(url, as_host("h", 4));
    CHECK(report.batches >= 3);
    require_replica_matches(db, url, "h");
  }
  SECTION("a follower, at its start") {
    ReplicationOptions options = as_host("h", 4);
    options.poll_interval = std::chrono::milliseconds(2);
    auto replication = manager.replicate(url, options);
    REQUIRE(replication.wait_shipped(manager.newest_event_id(), std::chrono::seconds(30)));
    require_replica_matches(db, url, "h");
  }
}

TEST_CASE("the comparison of a file with PostgreSQL names a row that differs, is missing, or is extra",
          "[replication]") {
  const std::string url = fresh_test_database("replication_compare_fails");
  TempDir dir;
  const std::string db = dir.file("host.db");
  StateManager manager(file_options(db));
  manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("n", 1));
  manager.save_snapshot(StateSnapshot("p", "1.0.1").with_data("n", 2));
  manager.set_plugin_state("p", hotstate::PluginState::Running);
  manager.replicate_once(url, as_host("h"));
  REQUIRE(hotstate_test::replica_differences(db, url, "h").empty());

  PgReader pg(url);
  SECTION("a snapshot's data changed in PostgreSQL") {
    pg.exec("UPDATE hotstate.snapshots SET data = '{\"n\":99}' WHERE host_id = 'h' AND seq = 2");
    const auto differences = hotstate_test::replica_differences(db, url, "h");
    REQUIRE(differences.size() == 1);
    CHECK_THAT(differences[0], Catch::Contains("snapshots: file: 2 | p") && Catch::Contains("{\"n\":99}"));
  }
  SECTION("an event missing in PostgreSQL, and one the file does not have") {
    pg.exec("DELETE FROM hotstate.audit_events WHERE host_id = 'h' AND id = 1");
    pg.exec("INSERT INTO hotstate.audit_events (host_id, id, time_us, plugin_id, kind, detail)"
            " VALUES ('h', 1000, 0, 'p', 'PluginDiscovered', '{}')");
    const auto differences = hotstate_test::replica_differences(db, url, "h");
    REQUIRE(differences.size() == 2);
    CHECK_THAT(differences[0], Catch::Contains("audit_events: file: 1 |") && Catch::Contains("postgresql: (none)"));
    CHECK_THAT(differences[1], Catch::Contains("audit_events: file: (none)") && Catch::Contains("postgresql: 1000 |"));
  }
  SECTION("an event PostgreSQL marks pruned is not the file's any more") {
    pg.exec("UPDATE hotstate.audit_events SET pruned_by = 5 WHERE host_id = 'h' AND id = 2");
    const auto differences = hotstate_test::replica_differences(db, url, "h");
    REQUIRE(differences.size() == 1);
    CHECK_THAT(differences[0], Catch::Contains("audit_events: file: 2 |"));
  }
  SECTION("the position and the history bound") {
    pg.exec("UPDATE hotstate.hosts SET shipped_event_id = shipped_event_id - 1, max_history = 3 WHERE host_id = 'h'");
    const auto differences = hotstate_test::replica_differences(db, url, "h");
    REQUIRE(differences.size() == 2);
    CHECK_THAT(differences[0], Catch::Contains("hosts.shipped_event_id"));
    CHECK_THAT(differences[1], Catch::Contains("hosts.max_history: file 10, postgresql 3"));
  }
  SECTION("a plugin state, a host that is not there") {
    pg.exec("UPDATE hotstate.plugin_states SET state = 'Failed', reason = 'x' WHERE host_id = 'h'");
    CHECK_THAT(hotstate_test::replica_differences(db, url, "h").at(0), Catch::Contains("plugin_states: file: p | Running"));
    CHECK_THAT(hotstate_test::replica_differences(db, url, "nobody").at(0), Catch::Contains("no host 'nobody'"));
  }
}

TEST_CASE("an event another client wrote ships unchained, and its chain hash follows once hotstate chains it",
          "[replication]") {
  const std::string url = fresh_test_database("replication_unchained");
  TempDir dir;
  const std::string db = dir.file("host.db");
  StateManager manager(file_options(db));
  manager.save_snapshot(StateSnapshot("p", "1.0.0"));
  manager.replicate_once(url, as_host("h"));
  hotstate_test::RawDb shell(db);
  shell.exec("INSERT INTO audit_events (plugin_id, kind, detail) VALUES ('p', 'PluginDiscovered', '{}')");
  const auto foreign = static_cast<std::uint64_t>(shell.query_int("SELECT max(id) FROM audit_events"));
  REQUIRE(shell.query("SELECT chain FROM audit_events WHERE id = " + std::to_string(foreign)).empty());

  SECTION("shipped by replicate_once (whose record of its position is a write that chains it): PostgreSQL holds it "
          "as the file does when the call returns") {
    const auto report = manager.replicate_once(url, as_host("h"));
    CHECK(report.events == 1);
    require_replica_matches(db, url, "h");
  }
  SECTION("chained by hotstate's next write: the hash follows with the next shipment") {
    manager.replicate_once(url, as_host("h"));
    manager.save_snapshot(StateSnapshot("p", "1.0.1"));
    CHECK_FALSE(shell.query("SELECT chain FROM audit_events WHERE id = " + std::to_string(foreign)).empty());
    manager.replicate_once(url, as_host("h"));
    require_replica_matches(db, url, "h");
    PgReader pg(url);
    CHECK(pg.scalar("SELECT chain IS NOT NULL FROM hotstate.audit_events WHERE host_id = 'h' AND id = $1",
                    {std::to_string(foreign)}) == "t");
  }
}

TEST_CASE("a follower (replicate) ships every change of random operations made while it runs", "[replication]") {
  const std::string url = fresh_test_database("replication_random_follow");
  const int operations = 200 * hotstate_test::replication_test_scale();
  for (const std::uint64_t seed : seeds({11, 12, 13})) {
    INFO("seed " << seed << " (HOTSTATE_TEST_SEED=" << seed << " repeats it)");
    TempDir dir;
    const std::string db = dir.file("host.db");
    const std::string host_id = "random-follow-" + std::to_string(seed);
    StateManager manager(file_options(db, 4));
    RandomHost::Settings settings;
    settings.unaudited_sql = false;  // a follower reconciles once a minute: not within this test
    RandomHost host(manager, db, seed, settings);
    // Shipped once first: the replica holds the prune before the follower's thread runs.
    manager.replicate_once(url, as_host(host_id));
    ReplicationOptions options = as_host(host_id, 25);
    options.poll_interval = std::chrono::milliseconds(2);
    std::atomic<std::uint64_t> errors{0};
    options.on_error = [&](const hotstate::Error&) { errors.fetch_add(1); };
    hotstate::Replication replication = manager.replicate(url, options);
    for (int i = 0; i < operations; ++i) host.step();
    // The last write is hotstate's: every event is chained when it ships.
    host.save_plain("alpha");
    const std::uint64_t newest = manager.newest_event_id();
    INFO("operations: " << host.summary() << "; the newest event " << newest);
    REQUIRE(replication.wait_shipped(newest, std::chrono::seconds(30)));
    const auto stats = replication.stats();
    INFO("last error: " << stats.last_error);
    CHECK(stats.failures == 0);
    CHECK(errors.load() == 0);
    CHECK(stats.missed == 0);
    CHECK(stats.position == newest);
    CHECK(stats.connected);
    CHECK(stats.batches > 0);
    require_replica_matches(db, url, host_id);
    replication.stop();
    CHECK_FALSE(replication.active());
    require_each_event_once(db, url, host_id);
  }
}

TEST_CASE("a follower tells PostgreSQL it is alive while idle, and stops with its StateManager", "[replication]") {
  const std::string url = fresh_test_database("replication_heartbeat");
  TempDir dir;
  const std::string db = dir.file("host.db");
  auto manager = std::make_unique<StateManager>(file_options(db));
  manager->save_snapshot(StateSnapshot("p", "1.0.0"));
  ReplicationOptions options = as_host("h");
  options.heartbeat_interval = std::chrono::milliseconds(20);
  auto replication = manager->replicate(url, options);
  REQUIRE(replication.wait_shipped(manager->newest_event_id(), std::chrono::seconds(30)));
  PgReader pg(url);
  const std::string first = pg.scalar("SELECT last_contact_at FROM hotstate.hosts WHERE host_id = 'h'");
  const std::string shipped_at = pg.scalar("SELECT last_shipped_at FROM hotstate.hosts WHERE host_id = 'h'");
  // Idle: no event, and yet the contact time moves.
  CHECK(hotstate_test::eventually(
      [&] { return pg.scalar("SELECT last_contact_at FROM hotstate.hosts WHERE host_id = 'h'") != first; }));
  CHECK(pg.scalar("SELECT last_shipped_at FROM hotstate.hosts WHERE host_id = 'h'") == shipped_at);
  CHECK(pg.integer("SELECT count(*) FROM hotstate.stale_hosts(interval '1 hour')") == 0);
  CHECK(replication.active());
  // The StateManager goes first: its destructor stops the follower, which stays safe to ask.
  manager.reset();
  CHECK_FALSE(replication.active());
  CHECK_FALSE(replication.wait_shipped(1000000, std::chrono::milliseconds(10)));
  CHECK(replication.stats().position >= 1);
  replication.stop();
  require_replica_matches(db, url, "h");
}

TEST_CASE("the retention prune keeps the events a replica has not received, until it is forgotten",
          "[replication]") {
  const std::string url = fresh_test_database("replication_prune_hold");
  TempDir dir;
  const std::string db = dir.file("host.db");
  StateManager manager(file_options(db, 2));
  for (int i = 0; i < 10; ++i) manager.save_snapshot(hotstate_test::versioned("p", i));
  const auto first = manager.replicate_once(url, as_host("h"));
  CHECK(first.missed == 0);
  REQUIRE(manager.replicas().size() == 1);
  CHECK(manager.replicas()[0].host_id == "h");
  CHECK(manager.replicas()[0].holds_prune);
  CHECK(manager.replicas()[0].shipped_event_id == first.position);

  // Writes go on; a prune that would keep 2 events keeps every one not shipped.
  for (int i = 10; i < 30; ++i) manager.save_snapshot(hotstate_test::versioned("p", i));
  const std::uint64_t newest = manager.newest_event_id();
  hotstate::AuditPrune keep_two;
  keep_two.keep_newest = 2;
  manager.prune_audit(keep_two);
  hotstate_test::RawDb shell(db);
  CHECK(shell.query_int("SELECT count(*) FROM audit_events WHERE id > " + std::to_string(first.position) +
                        " AND id <= " + std::to_string(newest)) == static_cast<long long>(newest - first.position));
  const auto second = manager.replicate_once(url, as_host("h"));
  CHECK(second.missed == 0);
  CHECK(second.events == manager.newest_event_id() - first.position);
  require_replica_matches(db, url, "h");
  require_each_event_once(db, url, "h");

  SECTION("forgotten (forget_replica), the prune removes unshipped events; the next shipment records them missed") {
    CHECK(manager.forget_replica("h"));
    CHECK_FALSE(manager.forget_replica("nobody"));
    // The row stays, with its token, and no longer holds the prune.
    REQUIRE(manager.replicas().size() == 1);
    CHECK_FALSE(manager.replicas()[0].holds_prune);
    for (int i = 30; i < 50; ++i) manager.save_snapshot(hotstate_test::versioned("p", i));
    const std::uint64_t before_prune = manager.newest_event_id();
    const auto removed = manager.prune_audit(keep_two);
    CHECK(removed > 0);
    std::uint64_t reported_missed = 0;
    ReplicationOptions options = as_host("h");
    options.on_missed = [&](std::uint64_t missed) { reported_missed += missed; };
    const auto third = manager.replicate_once(url, options);
    CHECK(third.missed > 0);
    CHECK(reported_missed == third.missed);
    CHECK(third.position == manager.newest_event_id());
    PgReader pg(url);
    CHECK(pg.integer("SELECT missed_events FROM hotstate.hosts WHERE host_id = 'h'") ==
          static_cast<long long>(third.missed));
    CHECK(pg.integer("SELECT count(*) FROM hotstate.shipment_gaps WHERE host_id = 'h' AND after_event_id = $1"
                     " AND missed = $2",
                     {std::to_string(second.position), std::to_string(third.missed)}) == 1);
    CHECK(third.position > before_prune);
    // Back, it holds the prune again.
    REQUIRE(manager.replicas().size() == 1);
    CHECK(manager.replicas()[0].holds_prune);
    CHECK(manager.replicas()[0].shipped_event_id == third.position);
    require_replica_matches(db, url, "h");
    require_each_event_once(db, url, "h");
  }
  SECTION("forgotten with the tool (replicate --forget), the tool's next shipment warns on stderr") {
    const auto forgot = run_tool({"--db", db, "replicate", "--forget", "h"});
    INFO(forgot.out << forgot.err);
    CHECK(forgot.exit_code == 0);
    CHECK_THAT(forgot.out, Catch::Contains("forgot replica h"));
    REQUIRE(manager.replicas().size() == 1);
    CHECK_FALSE(manager.replicas()[0].holds_prune);
    const auto listed = run_tool({"--db", db, "replicas"});
    CHECK_THAT(listed.out, Catch::Contains("  no   "));
    const auto unknown = run_tool({"--db", db, "replicate", "--forget", "nobody"});
    CHECK(unknown.exit_code == 1);
    CHECK_THAT(unknown.err, Catch::Contains("no replica nobody"));
    for (int i = 30; i < 50; ++i) manager.save_snapshot(hotstate_test::versioned("p", i));
    CHECK(manager.prune_audit(keep_two) > 0);
    const auto shipped = run_tool({"--db", db, "replicate", "--to", url, "--host-id", "h"});
    INFO(shipped.out << shipped.err);
    CHECK(shipped.exit_code == 0);
    CHECK_THAT(shipped.err, Catch::Contains("WARNING") && Catch::Contains("hotstate.shipment_gaps"));
    PgReader pg(url);
    CHECK(pg.integer("SELECT missed_events FROM hotstate.hosts WHERE host_id = 'h'") > 0);
    CHECK(pg.integer("SELECT count(*) FROM hotstate.shipment_gaps WHERE host_id = 'h'") == 1);
    require_replica_matches(db, url, "h");
    require_each_event_once(db, url, "h");
  }
}

TEST_CASE("a replicator with hold_prune off keeps its token in the file but does not hold the prune, and reports what "
          "a prune took",
          "[replication]") {
  const std::string url = fresh_test_database("replication_no_hold");
  TempDir dir;
  const std::string db = dir.file("host.db");
  StateManager manager(file_options(db, 2));
  for (int i = 0; i < 10; ++i) manager.save_snapshot(hotstate_test::versioned("p", i));
  ReplicationOptions options = as_host("loose");
  options.hold_prune = false;
  const auto first = manager.replicate_once(url, options);
  CHECK(first.events == manager.newest_event_id());
  // The file keeps the host's token in its replicas row, which does not hold the prune.
  REQUIRE(manager.replicas().size() == 1);
  CHECK_FALSE(manager.replicas()[0].holds_prune);
  require_replica_matches(db, url, "loose");

  for (int i = 10; i < 30; ++i) manager.save_snapshot(hotstate_test::versioned("p", i));
  hotstate::AuditPrune keep_two;
  keep_two.keep_newest = 2;
  CHECK(manager.prune_audit(keep_two) > 0);
  const auto second = manager.replicate_once(url, options);
  CHECK(second.missed > 0);
  CHECK(second.position == manager.newest_event_id());
  REQUIRE(manager.replicas().size() == 1);
  CHECK_FALSE(manager.replicas()[0].holds_prune);
  CHECK(hotstate_test::PgReader(url).integer("SELECT missed_events FROM hotstate.hosts WHERE host_id = 'loose'") ==
        static_cast<long long>(second.missed));
  require_replica_matches(db, url, "loose");
  require_each_event_once(db, url, "loose");
}

TEST_CASE("a first shipment that could not record the host's token in the file (busy) does not lock the host id out",
          "[replication]") {
  const std::string url = fresh_test_database("replication_token_busy");
  TempDir dir;
  const std::string db = dir.file("host.db");
  hotstate::Options options = file_options(db);
  options.busy_timeout = std::chrono::milliseconds(50);
  StateManager manager(options);
  manager.save_snapshot(StateSnapshot("p", "1.0.0"));
  {
    // Another client holds the write lock past the busy timeout.
    hotstate_test::RawDb shell(db);
    shell.exec("BEGIN IMMEDIATE");
    try {
      manager.replicate_once(url, as_host("h"));
      FAIL("replicate_once wrote the file while another client held its write lock");
    } catch (const hotstate::Error& error) {
      INFO(error.what());
      CHECK(error.code() == ErrorCode::Busy);
    }
    shell.exec("ROLLBACK");
  }
  // The lock gone, the same file ships as the same host.
  const auto report = manager.replicate_once(url, as_host("h"));
  CHECK(report.events == manager.newest_event_id());
  require_replica_matches(db, url, "h");
}

TEST_CASE("a second file shipping as the same host id is refused (Conflict) and ships nothing", "[replication]") {
  const std::string url = fresh_test_database("replication_conflict");
  TempDir dir;
  const std::string first_db = dir.file("first.db");
  const std::string second_db = dir.file("second.db");
  StateManager first(file_options(first_db));
  first.save_snapshot(StateSnapshot("p", "1.0.0").with_data("file", "first"));
  first.replicate_once(url, as_host("shared"));
  PgReader pg(url);
  const std::string before = pg.scalar(
      "SELECT shipped_event_id || ' ' || events_shipped || ' ' || token FROM hotstate.hosts WHERE host_id = 'shared'");

  StateManager second(file_options(second_db));
  for (int i = 0; i < 5; ++i) second.save_snapshot(StateSnapshot("q", "1.0.0").with_data("file", "second"));
  REQUIRE_THROWS_MATCHES(second.replicate_once(url, as_host("shared")), hotstate::Error, HasCode(ErrorCode::Conflict));
  CHECK(second.replicas().empty());
  CHECK(pg.scalar("SELECT shipped_event_id || ' ' || events_shipped || ' ' || token FROM hotstate.hosts"
                  " WHERE host_id = 'shared'") == before);
  CHECK(pg.integer("SELECT count(*) FROM hotstate.snapshots WHERE plugin_id = 'q'") == 0);
  require_replica_matches(first_db, url, "shared");

  // A follower of the second file fails the same way, and says so.
  ReplicationOptions options = as_host("shared");
  options.retry_min = std::chrono::milliseconds(10);
  options.retry_max = std::chrono::milliseconds(10);
  auto replication = second.replicate(url, options);
  // Its failures are counted as they come: the first.
  hotstate_test::eventually([&] { return replication.stats().failures > 0; });
  replication.stop();
  CHECK(replication.stats().failures > 0);
  CHECK_THAT(replication.stats().last_error, Catch::Contains("Conflict"));
  CHECK(pg.integer("SELECT count(*) FROM hotstate.snapshots WHERE plugin_id = 'q'") == 0);
  // The first file goes on shipping.
  first.save_snapshot(StateSnapshot("p", "1.0.1"));
  first.replicate_once(url, as_host("shared"));
  require_replica_matches(first_db, url, "shared");
}

TEST_CASE("PostgreSQL with a newer schema is refused (NewerSchema), and nothing is shipped", "[replication]") {
  const std::string url = fresh_test_database("replication_newer_schema");
  TempDir dir;
  const std::string db = dir.file("host.db");
  StateManager manager(file_options(db));
  manager.save_snapshot(StateSnapshot("p", "1.0.0"));
  manager.replicate_once(url, as_host("h"));
  PgReader pg(url);
  pg.exec("INSERT INTO hotstate.schema_version (version) VALUES (99)");
  manager.save_snapshot(StateSnapshot("p", "1.0.1"));
  const std::string before = pg.scalar("SELECT shipped_event_id FROM hotstate.hosts WHERE host_id = 'h'");
  REQUIRE_THROWS_MATCHES(manager.replicate_once(url, as_host("h")), hotstate::Error, HasCode(ErrorCode::NewerSchema));
  REQUIRE_THROWS_MATCHES(manager.replicate_once(url, as_host("another")), hotstate::Error,
                         HasCode(ErrorCode::NewerSchema));
  CHECK(pg.scalar("SELECT shipped_event_id FROM hotstate.hosts WHERE host_id = 'h'") == before);
  CHECK(pg.integer("SELECT count(*) FROM hotstate.hosts") == 1);
  CHECK(pg.integer("SELECT count(*) FROM hotstate.snapshots") == 1);
  CHECK(manager.replicas().size() == 1);
  const auto tool = run_tool({"--db", db, "replicate", "--to", url, "--host-id", "h"});
  CHECK(tool.exit_code == 1);
  CHECK_THAT(tool.err, Catch::Contains("NewerSchema"));
}

TEST_CASE("an unreachable PostgreSQL fails fast (Unavailable), and the file works on", "[replication]") {
  TempDir dir;
  const std::string db = dir.file("host.db");
  StateManager manager(file_options(db));
  manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("n", 1));
  const std::string nowhere = "postgresql:///hotstate_test?host=" + dir.file("no-such-socket-dir");
  const auto started = std::chrono::steady_clock::now();
  REQUIRE_THROWS_MATCHES(manager.replicate_once(nowhere, as_host("h")), hotstate::Error,
                         HasCode(ErrorCode::Unavailable));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  CHECK(manager.replicas().empty());
  manager.save_snapshot(StateSnapshot("p", "1.0.1").with_data("n", 2));
  CHECK(hotstate_test::current_version(manager, "p") == -1);  // no "version" field: data is n
  CHECK(manager.load_snapshot("p")->get<int>("n") == 2);
  CHECK(manager.verify().ok);

  // A follower retries while the host's writes go on.
  ReplicationOptions options = as_host("h");
  options.retry_min = std::chrono::milliseconds(5);
  options.retry_max = std::chrono::milliseconds(20);
  auto replication = manager.replicate(nowhere, options);
  for (int i = 0; i < 20; ++i) manager.save_snapshot(StateSnapshot("p", "1.0.2").with_data("n", i));
  hotstate_test::eventually([&] { return replication.stats().failures >= 2; });
  const auto stats = replication.stats();
  CHECK(stats.failures >= 2);
  CHECK_FALSE(stats.connected);
  CHECK(stats.position == 0);
  CHECK_THAT(stats.last_error, Catch::Contains("Unavailable"));
  CHECK_FALSE(replication.wait_shipped(manager.newest_event_id(), std::chrono::milliseconds(50)));
  replication.stop();
  CHECK(manager.load_snapshot("p")->get<int>("n") == 19);
}

TEST_CASE("hotstate replicate ships the file once (text and JSON), replicas lists it, --follow ships later writes",
          "[replication][cli]") {
  const std::string url = fresh_test_database("replication_tool");
  TempDir dir;
  const std::string db = dir.file("host.db");
  {
    StateManager manager(file_options(db));
    manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("n", 1));
    manager.save_snapshot(StateSnapshot("q", "1.0.0").with_data("n", 2));
    manager.set_plugin_state("p", hotstate::PluginState::Running);
  }
  const std::uint64_t events = static_cast<std::uint64_t>(hotstate_test::RawDb(db).query_int("SELECT max(id) FROM audit_events"));

  const auto once = run_tool({"--db", db, "replicate", "--to", url, "--host-id", "tool-host"});
  INFO(once.out << once.err);
  REQUIRE(once.exit_code == 0);
  CHECK(once.out == "shipped " + std::to_string(events) + " event(s) in 1 batch(es) as host tool-host; PostgreSQL "
                    "holds the file's changes up to event " + std::to_string(events) + "\n");
  require_replica_matches(db, url, "tool-host");

  // --once is the default; nothing new: nothing shipped.
  const auto again = run_tool({"--db", db, "--json", "replicate", "--once", "--to", url, "--host-id", "tool-host"});
  INFO(again.out << again.err);
  REQUIRE(again.exit_code == 0);
  {
    const auto report = object_of(again.out);
    CHECK(report.at("host_id").get<std::string>() == "tool-host");
    CHECK(report.at("events").get<std::uint64_t>() == 0);
    CHECK(report.at("position").get<std::uint64_t>() == events);
    CHECK(report.at("missed").get<std::uint64_t>() == 0);
  }
  {
    StateManager manager(file_options(db));
    manager.save_snapshot(StateSnapshot("p", "1.0.1").with_data("n", 3));
  }
  const auto json = run_tool({"--db", db, "replicate", "--to", url, "--host-id", "tool-host", "--json", "--batch", "1"});
  INFO(json.out << json.err);
  REQUIRE(json.exit_code == 0);
  {
    const auto report = object_of(json.out);
    CHECK(report.at("events").get<std::uint64_t>() == 1);
    CHECK(report.at("position").get<std::uint64_t>() == events + 1);
  }
  require_replica_matches(db, url, "tool-host");

  const auto replicas = run_tool({"--db", db, "replicas"});
  INFO(replicas.out << replicas.err);
  REQUIRE(replicas.exit_code == 0);
  CHECK_THAT(replicas.out, Catch::StartsWith("HOST") && Catch::Contains("tool-host") &&
                               Catch::Contains(std::to_string(events + 1) + "  yes") &&
                               Catch::Contains("postgresql:///replication_tool"));
  const auto replicas_json = run_tool({"--db", db, "--json", "replicas"});
  REQUIRE(replicas_json.exit_code == 0);
  {
    const auto list = objects_of(replicas_json.out);
    REQUIRE(list.size() == 1);
    CHECK(list[0].at("host_id").get<std::string>() == "tool-host");
    CHECK(list[0].at("shipped_event_id").get<std::uint64_t>() == events + 1);
    CHECK(list[0].at("holds_prune").get<bool>());
  }

  SECTION("--follow ships a later write, and SIGTERM stops it with exit 0") {
    ChildProcess follower({HOTSTATE_CLI, "--db", db, "replicate", "--follow", "--to", url, "--host-id", "tool-host"});
    std::uint64_t target = 0;
    {
      StateManager manager(file_options(db));
      manager.save_snapshot(StateSnapshot("late", "1.0.0").with_data("late", true));
      target = manager.newest_event_id();
    }
    // Its output says what PostgreSQL committed: wait for the line that covers the write.
    std::uint64_t shipped_to = 0;
    while (shipped_to < target) {
      const auto line = follower.next_line(std::chrono::seconds(30));
      INFO(follower.err());
      REQUIRE(line.has_value());
      const auto at = line->find("up to event ");
      REQUIRE(at != std::string::npos);
      shipped_to = std::stoull(line->substr(at + 12));
    }
    PgReader pg(url);
    CHECK(pg.integer("SELECT count(*) FROM hotstate.snapshots WHERE host_id = 'tool-host' AND plugin_id = 'late'") == 1);
    CHECK(follower.stop(SIGTERM) == 0);
    CHECK_THAT(follower.err(), Catch::Contains("replicating as host tool-host"));
    require_replica_matches(db, url, "tool-host");
  }
  SECTION("--follow --json prints each batch as JSON") {
    ChildProcess follower({HOTSTATE_CLI, "--db", db, "--json", "replicate", "--follow", "--to", url, "--host-id",
                           "tool-host"});
    {
      StateManager manager(file_options(db));
      manager.save_snapshot(StateSnapshot("late", "1.0.0").with_data("late", true));
    }
    const auto line = follower.next_line(std::chrono::seconds(30));
    INFO(follower.err());
    REQUIRE(line.has_value());
    const auto batch = object_of(*line);
    CHECK(batch.at("events").get<std::uint64_t>() == 1);
    CHECK(batch.at("position").get<std::uint64_t>() == events + 2);
    CHECK(follower.stop(SIGINT) == 0);
  }
}

TEST_CASE("hotstate replicate: without --to (or with --batch 0, --once and --follow, no file) a usage error (exit 2), "
          "an unreachable URL exits 1 with the reason, and --follow retries it until SIGTERM",
          "[replication][cli]") {
  TempDir dir;
  const std::string db = dir.file("host.db");
  {
    StateManager manager(file_options(db));
    manager.save_snapshot(StateSnapshot("p", "1.0.0"));
  }
  const auto no_url = run_tool({"--db", db, "replicate", "--host-id", "h"});
  CHECK(no_url.exit_code == 2);
  CHECK_THAT(no_url.err, Catch::Contains("--to"));
  CHECK(no_url.out.empty());

  const auto started = std::chrono::steady_clock::now();
  const auto unreachable = run_tool({"--db", db, "replicate", "--to", url_of_nowhere(dir), "--host-id", "h"});
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
  CHECK(unreachable.exit_code == 1);
  CHECK_THAT(unreachable.err, Catch::Contains("Unavailable") && Catch::Contains("cannot connect to PostgreSQL") &&
                                  Catch::Contains("no-socket-here"));
  CHECK(unreachable.out.empty());
  const auto replicas = run_tool({"--db", db, "--json", "replicas"});
  CHECK(replicas.exit_code == 0);
  CHECK(replicas.out == "[]\n");

  const auto no_batch = run_tool({"--db", db, "replicate", "--to", url_of_nowhere(dir), "--batch", "0"});
  CHECK(no_batch.exit_code == 2);
  CHECK_THAT(no_batch.err, Catch::Contains("--batch"));
  const auto both = run_tool({"--db", db, "replicate", "--once", "--follow", "--to", url_of_nowhere(dir)});
  CHECK(both.exit_code == 2);
  const auto no_file = run_tool({"--db", dir.file("missing.db"), "replicate", "--to", url_of_nowhere(dir)});
  CHECK(no_file.exit_code == 2);
  CHECK_THAT(no_file.err, Catch::Contains("no database"));
  CHECK_FALSE(std::filesystem::exists(dir.file("missing.db")));
  const auto empty_host = run_tool({"--db", db, "replicate", "--to", url_of_nowhere(dir), "--host-id", ""});
  CHECK(empty_host.exit_code == 2);
  CHECK_THAT(empty_host.err, Catch::Contains("--host-id must not be empty"));

  // Following, it retries, says why once, and SIGTERM still stops it.
  ChildProcess follower({HOTSTATE_CLI, "--db", db, "replicate", "--follow", "--to", url_of_nowhere(dir), "--host-id", "h"});
  CHECK(hotstate_test::eventually([&] { return follower.err().find("(retrying)") != std::string::npos; }));
  CHECK(follower.stop(SIGTERM) == 0);
  const std::string said = follower.err();
  INFO(said);
  CHECK_THAT(said, Catch::Contains("Unavailable: cannot connect to PostgreSQL"));
  CHECK(said.find("(retrying)") == said.rfind("(retrying)"));
}
