// PostgreSQL's schema "hotstate": schema/postgresql.sql is what the migrations
// build, every column is commented, hosts starting at once migrate it once,
// and the fleet's views answer the fleet's questions.
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "hotstate/hotstate.hpp"
#include "postgresql_test_cluster.hpp"
#include "replication/pg_connection.hpp"
#include "replication/pg_schema.hpp"
#include "support.hpp"

using hotstate_test::TempDir;

namespace {

std::string read_source(const std::string& relative) {
  std::ifstream in(std::string(HOTSTATE_SOURCE_DIR) + "/" + relative);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// One text per object of schema hotstate: columns, constraints, indexes,
// views and functions, sorted, so that two databases compare as text.
std::string catalog(const std::string& url) {
  hotstate::internal::PgConnection pg(url);
  const auto result = pg.exec(R"(
    SELECT string_agg(x, E'\n' ORDER BY x) FROM (
      SELECT format('column %s.%s %s %s %s', table_name, column_name, data_type, is_nullable, column_default) AS x
        FROM information_schema.columns WHERE table_schema = 'hotstate'
      UNION ALL SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid))
        FROM pg_constraint WHERE connamespace = 'hotstate'::regnamespace
      UNION ALL SELECT format('index %s', pg_get_indexdef(indexrelid))
        FROM pg_index JOIN pg_class AS c ON c.oid = indexrelid WHERE c.relnamespace = 'hotstate'::regnamespace
      UNION ALL SELECT format('view %s %s', viewname, definition) FROM pg_views WHERE schemaname = 'hotstate'
      UNION ALL SELECT format('function %s %s', proname, prosrc) FROM pg_proc WHERE pronamespace = 'hotstate'::regnamespace
    ) AS objects)");
  return std::string(result.text(0, 0));
}

std::string query_text(const std::string& url, const std::string& sql) {
  hotstate::internal::PgConnection pg(url);
  const auto result = pg.exec(sql);
  std::string text;
  for (int row = 0; row < result.rows(); ++row) {
    if (row > 0) text += "\n";
    text += result.null(row, 0) ? "NULL" : std::string(result.text(row, 0));
  }
  return text;
}

}  // namespace

TEST_CASE("schema/postgresql.sql builds the schema the PostgreSQL migrations build", "[postgresql][schema]") {
  const std::string migrated = fresh_test_database("schema_migrated");
  const std::string scripted = fresh_test_database("schema_scripted");
  {
    hotstate::internal::PgConnection pg(migrated);
    hotstate::internal::migrate_postgresql(pg);
    CHECK(pg.exec("SELECT max(version) FROM hotstate.schema_version").integer(0, 0) ==
          hotstate::postgresql_schema_version());
  }
  {
    hotstate::internal::PgConnection pg(scripted);
    pg.exec("CREATE SCHEMA hotstate");
    pg.exec(read_source("schema/postgresql.sql"));
  }
  const std::string expected = catalog(migrated);
  CHECK(expected.find("view current_state") != std::string::npos);
  CHECK(catalog(scripted) == expected);
}

TEST_CASE("every column of every table of the PostgreSQL schema is commented", "[postgresql][schema]") {
  for (const std::string file : {"schema/postgresql.sql", "migrations/postgresql/0001_fleet.sql"}) {
    const std::string sql = read_source(file);
    REQUIRE_FALSE(sql.empty());
    std::istringstream lines(sql);
    std::string line;
    bool in_table = false;
    int columns = 0;
    while (std::getline(lines, line)) {
      if (line.rfind("CREATE TABLE", 0) == 0) {
        in_table = true;
        continue;
      }
      if (in_table && line.rfind(")", 0) == 0) {
        in_table = false;
        continue;
      }
      if (!in_table || line.find("PRIMARY KEY (") != std::string::npos) continue;
      INFO(file << ": " << line);
      CHECK(line.find("--") != std::string::npos);
      ++columns;
    }
    CHECK(columns > 60);
  }
}

TEST_CASE("hosts that start replicating at once create PostgreSQL's schema once", "[postgresql][schema]") {
  const std::string url = fresh_test_database("schema_at_once");
  TempDir dir;
  constexpr int hosts = 6;
  std::vector<std::thread> threads;
  std::vector<std::string> failures(hosts);
  for (int i = 0; i < hosts; ++i) {
    threads.emplace_back([&, i] {
      try {
        hotstate::StateManager manager(hotstate_test::file_options(dir.file("h" + std::to_string(i) + ".db")));
        manager.save_snapshot(hotstate::StateSnapshot("p", "1.0.0").with_data("i", i));
        hotstate::ReplicationOptions options;
        options.host_id = "h" + std::to_string(i);
        manager.replicate_once(url, options);
      } catch (const std::exception& e) {
        failures[static_cast<std::size_t>(i)] = e.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& failure : failures) {
    INFO(failure);
    CHECK(failure.empty());
  }
  CHECK(query_text(url, "SELECT count(*) FROM hotstate.schema_version") ==
        std::to_string(hotstate::postgresql_schema_version()));
  CHECK(query_text(url, "SELECT count(*) FROM hotstate.hosts") == std::to_string(hosts));
}

TEST_CASE("PostgreSQL with a newer hotstate schema is refused and left untouched", "[postgresql][schema]") {
  const std::string url = fresh_test_database("schema_newer");
  TempDir dir;
  hotstate::StateManager manager(hotstate_test::file_options(dir.file("h.db")));
  manager.save_snapshot(hotstate::StateSnapshot("p", "1.0.0"));
  hotstate::ReplicationOptions options;
  options.host_id = "h";
  manager.replicate_once(url, options);
  {
    hotstate::internal::PgConnection pg(url);
    pg.exec("INSERT INTO hotstate.schema_version (version) VALUES (99)");
  }
  manager.save_snapshot(hotstate::StateSnapshot("p", "1.0.1"));
  try {
    manager.replicate_once(url, options);
    FAIL("replicate_once shipped to a newer schema");
  } catch (const hotstate::Error& e) {
    CHECK(e.code() == hotstate::ErrorCode::NewerSchema);
  }
  CHECK(query_text(url, "SELECT count(*) FROM hotstate.snapshots") == "1");
}

TEST_CASE("the fleet's views: current state of every plugin on every host, failed reloads in a time range, hosts "
          "whose last contact is old",
          "[postgresql][fleet]") {
  const std::string url = fresh_test_database("fleet_views");
  TempDir dir;
  for (const std::string host : {"alpha", "beta", "gamma"}) {
    hotstate::StateManager manager(hotstate_test::file_options(dir.file(host + ".db")));
    manager.save_snapshot(hotstate::StateSnapshot("cache", "1.0.0").with_data("entries", 10));
    manager.save_snapshot(hotstate::StateSnapshot("router", "1.0.0").with_data("routes", 3));
    manager.set_plugin_state("router", hotstate::PluginState::Running);
    // alpha and gamma fail the reload of router to 2.0; beta's succeeds.
    const auto ticket =
        manager.begin_reload(hotstate::StateSnapshot("router", "1.0.0").with_data("routes", 4), "2.0.0");
    hotstate::ReloadResult result;
    if (host == "beta") {
      result.success = true;
    } else {
      result.success = false;
      result.error = "2.0.0 panicked in init on " + host;
    }
    manager.finish_reload(ticket.id, result);
    hotstate::ReplicationOptions options;
    options.host_id = host;
    manager.replicate_once(url, options);
  }
  CHECK(query_text(url,
                   "SELECT host_id || ' ' || plugin_id || ' ' || seq || ' ' || state FROM hotstate.current_state"
                   " ORDER BY host_id, plugin_id") ==
        "alpha cache 1 Unloaded\nalpha router 3 Running\nbeta cache 1 Unloaded\nbeta router 3 Running\n"
        "gamma cache 1 Unloaded\ngamma router 3 Running");
  // "Which hosts failed the reload of router to 2.0 in the last hour, and with what state?"
  CHECK(query_text(url,
                   "SELECT host_id || ' ' || error || ' ' || pre_reload_data FROM"
                   " hotstate.failed_reloads_between(now() - interval '1 hour', now() + interval '1 minute')"
                   " WHERE plugin_id = 'router' AND to_version = '2.0.0' ORDER BY host_id") ==
        "alpha 2.0.0 panicked in init on alpha {\"routes\":4}\ngamma 2.0.0 panicked in init on gamma {\"routes\":4}");
  CHECK(query_text(url, "SELECT count(*) FROM hotstate.failed_reloads_between(now() - interval '2 hours',"
                        " now() - interval '1 hour')") == "0");
  // Hosts whose last contact is old: gamma went quiet an hour ago.
  {
    hotstate::internal::PgConnection pg(url);
    pg.exec("UPDATE hotstate.hosts SET last_contact_at = now() - interval '1 hour' WHERE host_id = 'gamma'");
  }
  CHECK(query_text(url, "SELECT host_id FROM hotstate.stale_hosts(interval '5 minutes')") == "gamma");
  CHECK(query_text(url, "SELECT count(*) FROM hotstate.host_shipments WHERE events_shipped > 0") == "3");
}
