// The C API's replication: hotstate_replicate_once and hotstate_restore_from,
// called as a C host calls them.
#include <catch2/catch.hpp>

#include <string>

#include "hotstate/hotstate.h"
#include "postgresql_test_cluster.hpp"
#include "support.hpp"

namespace {

std::string taken(char* json, std::size_t length) {
  std::string text(json, length);
  hotstate_free(json);
  return text;
}

}  // namespace

TEST_CASE("a C host ships its file to PostgreSQL and rebuilds it from there", "[postgresql][c_api]") {
  const std::string url = fresh_test_database("c_api");
  hotstate_test::TempDir dir;
  hotstate_db* db = nullptr;
  REQUIRE(hotstate_open_path(dir.file("host.db").c_str(), &db) == HOTSTATE_OK);
  const std::string snapshot =
      R"({"plugin_id":"p","timestamp":1700000000,"plugin_version":"1.0.0","data":{"n":1},"metadata":{}})";
  std::uint64_t seq = 0;
  REQUIRE(hotstate_save(db, snapshot.data(), snapshot.size(), &seq) == HOTSTATE_OK);

  char* json = nullptr;
  std::size_t json_len = 0;
  REQUIRE(hotstate_replicate_once(db, url.c_str(), "c-host", &json, &json_len) == HOTSTATE_OK);
  const std::string shipped = taken(json, json_len);
  CHECK(shipped.find("\"events\":1") != std::string::npos);
  CHECK(hotstate_replicate_once(db, url.c_str(), "c-host", nullptr, nullptr) == HOTSTATE_OK);
  CHECK(hotstate_replicate_once(db, url.c_str(), "", nullptr, nullptr) == HOTSTATE_INVALID_ARGUMENT);
  CHECK(hotstate_replicate_once(db, "postgresql:///none?host=/nonexistent-socket-dir", "c-host", nullptr, nullptr) ==
        HOTSTATE_UNAVAILABLE);
  CHECK(std::string(hotstate_last_error()).rfind("Unavailable: ", 0) == 0);
  hotstate_close(db);

  const std::string rebuilt = dir.file("rebuilt.db");
  REQUIRE(hotstate_restore_from(url.c_str(), "c-host", rebuilt.c_str(), &json, &json_len) == HOTSTATE_OK);
  CHECK(taken(json, json_len).find("\"snapshots\":1") != std::string::npos);
  CHECK(hotstate_restore_from(url.c_str(), "c-host", rebuilt.c_str(), nullptr, nullptr) ==
        HOTSTATE_INVALID_ARGUMENT);
  CHECK(hotstate_restore_from(url.c_str(), "no-such-host", dir.file("other.db").c_str(), nullptr, nullptr) ==
        HOTSTATE_NOT_FOUND);
}
