// The SQL examples of README.md run against a database the library wrote.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "support.hpp"

namespace {

// Every ```sql block that follows a line "<!-- readme-sql -->".
std::vector<std::string> readme_sql_blocks() {
  const std::string readme = hotstate_test::read_file(std::string(HOTSTATE_SOURCE_DIR) + "/README.md");
  std::vector<std::string> blocks;
  const std::string marker = "<!-- readme-sql -->\n```sql\n";
  for (auto at = readme.find(marker); at != std::string::npos; at = readme.find(marker, at + 1)) {
    const auto begin = at + marker.size();
    const auto end = readme.find("\n```", begin);
    REQUIRE(end != std::string::npos);
    blocks.push_back(readme.substr(begin, end - begin));
  }
  return blocks;
}

}  // namespace

TEST_CASE("the README's sqlite3 queries run against a library-written database", "[readme][sql]") {
  const auto blocks = readme_sql_blocks();
  REQUIRE_FALSE(blocks.empty());

  hotstate_test::TempDir dir;
  const auto path = dir.file("readme.db");
  hotstate::StateManager manager(hotstate_test::file_options(path));
  for (int count = 1; count <= 8; ++count) {
    manager.save_snapshot(hotstate::StateSnapshot("counter", "1.0.0").with_data("count", count).with_metadata(
        "reason", "run " + std::to_string(count)));
  }
  manager.save_snapshot(hotstate::StateSnapshot("other", "2.0.0").with_data("on", true));

  hotstate_test::RawDb shell(path);
  for (const auto& block : blocks) {
    INFO(block);
    CHECK(shell.try_exec(block) == SQLITE_OK);
    CHECK(shell.last_error().empty());
  }

  // The block's INSERT made a current snapshot; its UPDATE lowered the bound.
  auto current = manager.load_snapshot("counter");
  REQUIRE(current);
  CHECK(current->get<int>("count") == 42);
  CHECK(current->get_metadata("reason") == std::optional<std::string_view>("set by hand"));
  CHECK(manager.max_history() == 5);
  CHECK(manager.get_history("counter").size() == 5);
}
