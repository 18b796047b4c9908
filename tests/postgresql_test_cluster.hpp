// The throwaway PostgreSQL cluster of the ctest fixture `postgresql`
// (tools/scripts/pg-cluster.sh; tests/CMakeLists.txt,
// hotstate_add_postgresql_tests). Its tests get the cluster's directory in
// HOTSTATE_TEST_PG_DIR and the script in HOTSTATE_PG_CLUSTER_SCRIPT.
#pragma once

#include <catch2/catch.hpp>
#include <libpq-fe.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

namespace hotstate_test {

inline std::string required_env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    FAIL(name << " is not set: PostgreSQL tests run under ctest, which starts the cluster "
                 "(fixture postgresql); by hand: bash tools/scripts/pg-cluster.sh start DIR, then "
                 "HOTSTATE_TEST_PG_DIR=DIR HOTSTATE_PG_CLUSTER_SCRIPT=tools/scripts/pg-cluster.sh");
  }
  return value;
}

// Single quotes for /bin/sh, so that paths with spaces survive std::system.
inline std::string shell_quote(const std::string& word) {
  std::string quoted = "'";
  for (char c : word) {
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return quoted + "'";
}

inline void run_test_pg_script(const char* command) {
  const std::string line = "bash " + shell_quote(required_env("HOTSTATE_PG_CLUSTER_SCRIPT")) + " " +
                           command + " " + shell_quote(required_env("HOTSTATE_TEST_PG_DIR"));
  INFO(line);
  REQUIRE(std::system(line.c_str()) == 0);
}

using pg_connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;

// A connection that is known good; FAILs with libpq's message otherwise.
inline pg_connection connect_test_pg(const std::string& url) {
  pg_connection connection(PQconnectdb(url.c_str()), &PQfinish);
  if (connection == nullptr || PQstatus(connection.get()) != CONNECTION_OK) {
    FAIL("cannot connect to " << url << ": "
                              << (connection ? PQerrorMessage(connection.get()) : "out of memory"));
  }
  return connection;
}

inline void exec_test_pg(PGconn* connection, const std::string& sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(connection, sql.c_str()), &PQclear);
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK && PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    FAIL(sql << ": " << PQerrorMessage(connection));
  }
}

// Percent-encodes a URL path segment.
inline std::string url_encode(const std::string& text) {
  static const char hex[] = "0123456789ABCDEF";
  std::string encoded;
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      encoded += static_cast<char>(c);
    } else {
      encoded += '%';
      encoded += hex[c >> 4];
      encoded += hex[c & 0xF];
    }
  }
  return encoded;
}

}  // namespace hotstate_test

// The cluster's URL (database hotstate_test), from $HOTSTATE_TEST_PG_DIR/url.
inline std::string test_pg_url() {
  const std::string path = hotstate_test::required_env("HOTSTATE_TEST_PG_DIR") + "/url";
  std::ifstream file(path);
  std::string url;
  if (!std::getline(file, url) || url.empty()) {
    FAIL("no URL in " << path << ": did the fixture test postgresql_cluster_start run and pass?");
  }
  while (!url.empty() && (url.back() == '\r' || url.back() == ' ')) {
    url.pop_back();
  }
  return url;
}

// Stops PostgreSQL abruptly (pg_ctl stop -m immediate), as a crash would.
inline void pause_test_pg() { hotstate_test::run_test_pg_script("pause"); }

// Starts it again on the same data, after crash recovery.
inline void resume_test_pg() { hotstate_test::run_test_pg_script("resume"); }

// A new, empty database `name` (dropped first if there, whoever is connected),
// so that each test case has its own; returns its URL.
inline std::string fresh_test_database(const std::string& name) {
  const std::string url = test_pg_url();
  {
    auto connection = hotstate_test::connect_test_pg(url);
    std::unique_ptr<char, decltype(&PQfreemem)> identifier(
        PQescapeIdentifier(connection.get(), name.c_str(), name.size()), &PQfreemem);
    REQUIRE(identifier != nullptr);
    const std::string quoted = identifier.get();
    // No "does not exist, skipping" NOTICE on stderr.
    hotstate_test::exec_test_pg(connection.get(), "SET client_min_messages = warning");
    hotstate_test::exec_test_pg(connection.get(), "DROP DATABASE IF EXISTS " + quoted + " WITH (FORCE)");
    hotstate_test::exec_test_pg(connection.get(), "CREATE DATABASE " + quoted);
  }
  // postgresql:///hotstate_test?host=...&user=... : swap the path's database.
  const std::string scheme = "postgresql:///";
  const auto query = url.find('?');
  if (url.rfind(scheme, 0) != 0 || query == std::string::npos) {
    FAIL("unexpected URL form: " << url);
  }
  return scheme + hotstate_test::url_encode(name) + url.substr(query);
}
