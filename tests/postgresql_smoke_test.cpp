// The test infrastructure's own tests: the fixture's throwaway PostgreSQL
// cluster (tools/scripts/pg-cluster.sh) answers, and a test can stop and
// start it.
#include "postgresql_test_cluster.hpp"

#include <catch2/catch.hpp>
#include <libpq-fe.h>

#include <memory>
#include <string>

namespace {

std::string query_one(PGconn* connection, const char* sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(connection, sql), &PQclear);
  INFO(sql << ": " << PQerrorMessage(connection));
  REQUIRE(PQresultStatus(result.get()) == PGRES_TUPLES_OK);
  REQUIRE(PQntuples(result.get()) == 1);
  return PQgetvalue(result.get(), 0, 0);
}

}  // namespace

TEST_CASE("a throwaway PostgreSQL cluster answers on its socket") {
  const std::string url = test_pg_url();
  INFO(url);
  CHECK(url.find("host=/") != std::string::npos);
  auto connection = hotstate_test::connect_test_pg(url);
  const std::string version = query_one(connection.get(), "SELECT version()");
  CHECK(version.rfind("PostgreSQL 15", 0) == 0);
  CHECK(query_one(connection.get(), "SELECT current_database()") == "hotstate_test");

  SECTION("each test case can have a database of its own") {
    const std::string own_url = fresh_test_database("smoke_own");
    auto own = hotstate_test::connect_test_pg(own_url);
    CHECK(query_one(own.get(), "SELECT current_database()") == "smoke_own");
    hotstate_test::exec_test_pg(own.get(), "CREATE TABLE t (x int)");
    own.reset();
    // Made again, it is empty, even with a connection still open to it.
    auto lingering = hotstate_test::connect_test_pg(own_url);
    own = hotstate_test::connect_test_pg(fresh_test_database("smoke_own"));
    CHECK(query_one(own.get(), "SELECT count(*) FROM pg_tables WHERE tablename = 't'") == "0");
  }
}

TEST_CASE("the cluster can be stopped and started again by a test") {
  const std::string url = fresh_test_database("smoke_pause");
  auto connection = hotstate_test::connect_test_pg(url);
  hotstate_test::exec_test_pg(connection.get(), "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)");

  pause_test_pg();
  // The open connection is dead, and no new one is accepted.
  PGresult* failed = PQexec(connection.get(), "SELECT 1");
  CHECK(PQresultStatus(failed) != PGRES_TUPLES_OK);
  PQclear(failed);
  {
    hotstate_test::pg_connection refused(PQconnectdb(url.c_str()), &PQfinish);
    CHECK(PQstatus(refused.get()) == CONNECTION_BAD);
  }

  resume_test_pg();
  connection = hotstate_test::connect_test_pg(url);
  // Committed before the crash: recovered from the WAL.
  CHECK(query_one(connection.get(), "SELECT x FROM kept") == "42");
}
