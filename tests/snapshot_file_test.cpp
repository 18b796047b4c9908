// snapshot_file_name: a safe, distinct file name for any plugin id.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "hotstate/snapshot_file.hpp"

using hotstate::snapshot_file_name;

TEST_CASE("snapshot_file_name keeps letters, digits, _ and - and escapes every other byte", "[snapshot_file]") {
  CHECK(snapshot_file_name("greeter_v2-beta") == "greeter_v2-beta.json");
  CHECK(snapshot_file_name("a/b") == "a%2Fb.json");
  CHECK(snapshot_file_name("..") == "%2E%2E.json");
  CHECK(snapshot_file_name(".hidden") == "%2Ehidden.json");
  CHECK(snapshot_file_name("C:\\dev\\nul") == "C%3A%5Cdev%5Cnul.json");
  CHECK(snapshot_file_name("caf\xc3\xa9") == "caf%C3%A9.json");
  CHECK(snapshot_file_name(std::string("a\0b", 3)) == "a%00b.json");
  CHECK(snapshot_file_name("") == "%.json");  // "%" alone is no escape, so no id maps to it
  CHECK(snapshot_file_name("%") == "%25.json");
}

TEST_CASE("snapshot_file_name gives distinct ids distinct names, and a long id a bounded one", "[snapshot_file]") {
  const std::set<std::string> names = {snapshot_file_name("a b"), snapshot_file_name("a%20b"), snapshot_file_name("a_b"),
                                       snapshot_file_name("A b"), snapshot_file_name("")};
  CHECK(names.size() == 5);

  const std::string long_id(300, 'x');
  const std::string name = snapshot_file_name(long_id);
  CHECK(name == std::string(180, 'x') + "~a55e5318db0cf2d3.json");  // FNV-1a of the whole id, as export always named it
  CHECK(snapshot_file_name(std::string(299, 'x') + "y") != name);
  CHECK(snapshot_file_name(std::string(200, 'x')) == std::string(200, 'x') + ".json");  // 200 bytes still fit
  CHECK(snapshot_file_name(std::string(67, '/')).size() == 180 + 1 + 16 + 5);         // 201 escaped bytes do not
}
