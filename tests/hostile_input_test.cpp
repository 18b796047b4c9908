// Hostile and unusual input: plugin ids, size limits, and text that is not
// the JSON or the snapshot it claims to be.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support.hpp"

using hotstate::ErrorCode;
using hotstate::Json;
using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate_test::error_code_of;
using hotstate_test::file_options;
using hotstate_test::memory_options;
using hotstate_test::TempDir;

// --- Plugin ids ---------------------------------------------------------------------

TEST_CASE("any UTF-8 plugin id within the limit is stored and read back exactly", "[hostile][ids]") {
  TempDir dir;
  const auto path = dir.file("ids.db");
  const std::vector<std::string> ids = {
      "", "..", "../x", "../../etc/passwd", "/etc/x", "a/b", "a\\b", "C:\\temp\\x", std::string("nul\0in", 6),
      std::string(1, '\0'), "\x01\x1f\x7f", "line\nbreak", "'; DROP TABLE snapshots; --", "%s%n", "\xe2\x80\xae" "rtl",
      "\xf0\x9f\x98\x80", std::string(1024, 'x')};
  {
    StateManager manager(file_options(path));
    for (std::size_t i = 0; i < ids.size(); ++i) {
      manager.save_snapshot(StateSnapshot(ids[i], "1.0.0").with_data("index", i));
    }
  }
  StateManager reopened(file_options(path));
  CHECK(reopened.plugin_ids().size() == ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto loaded = reopened.load_snapshot(ids[i]);
    REQUIRE(loaded);
    CHECK(loaded->plugin_id == ids[i]);
    CHECK(loaded->get<std::size_t>("index") == i);
  }
  // Nothing was derived from an id as a file name: the directory holds the database alone.
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    CHECK(entry.path().filename().string().rfind("ids.db", 0) == 0);
  }
}

TEST_CASE("a plugin id over max_id_bytes is refused with TooLarge before anything is written", "[hostile][ids][limits]") {
  StateManager manager(memory_options());
  const std::string megabyte(1 << 20, 'i');
  CHECK(error_code_of([&] { manager.save_snapshot(StateSnapshot(megabyte, "1.0.0")); }) == ErrorCode::TooLarge);
  CHECK(error_code_of([&] { manager.save_snapshot(StateSnapshot(std::string(1025, 'i'), "1.0.0")); }) ==
        ErrorCode::TooLarge);
  CHECK(error_code_of([&] { manager.save_snapshot(StateSnapshot("p", std::string(1025, 'v'))); }) ==
        ErrorCode::TooLarge);
  CHECK(manager.plugin_ids().empty());

  auto options = memory_options();
  options.max_id_bytes = 2 << 20;
  StateManager roomy(options);
  roomy.save_snapshot(StateSnapshot(megabyte, "1.0.0"));
  CHECK(roomy.load_snapshot(megabyte)->plugin_id == megabyte);
}

TEST_CASE("a plugin id that is not UTF-8 is refused with InvalidUtf8", "[hostile][ids]") {
  StateManager manager(memory_options());
  for (const std::string bad : {"\xff", "\xc3", "\xed\xa0\x80" /* a surrogate */, "\xc0\xaf" /* overlong '/' */,
                                "ok\x80"}) {
    CHECK(error_code_of([&] { manager.save_snapshot(StateSnapshot(bad, "1.0.0")); }) == ErrorCode::InvalidUtf8);
  }
  CHECK(manager.plugin_ids().empty());
}

// --- Size limits ---------------------------------------------------------------------

TEST_CASE("data and metadata over their limits are refused with TooLarge and nothing is written",
          "[hostile][limits]") {
  auto options = memory_options();
  options.max_data_bytes = 1000;
  options.max_metadata_bytes = 200;
  StateManager manager(options);
  manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("v", 1));

  // {"blob":"xxx…"} is 11 bytes of framing around the string.
  const auto with_blob = [](std::size_t length) {
    return StateSnapshot("p", "1.0.0").with_data("blob", std::string(length, 'x'));
  };
  manager.save_snapshot(with_blob(1000 - 11));  // exactly at the limit
  CHECK(error_code_of([&] { manager.save_snapshot(with_blob(1000 - 10)); }) == ErrorCode::TooLarge);
  CHECK(error_code_of([&] {
          manager.save_snapshot(StateSnapshot("p", "1.0.0").with_metadata("note", std::string(200, 'm')));
        }) == ErrorCode::TooLarge);
  CHECK(error_code_of([&] { manager.save_snapshots({with_blob(10), with_blob(5000)}); }) == ErrorCode::TooLarge);
  CHECK(error_code_of([&] { manager.save_snapshot_if(with_blob(5000), 0); }) == ErrorCode::TooLarge);

  CHECK(manager.get_history("p").size() == 1);
  CHECK(manager.load_snapshot("p")->get<std::string>("blob")->size() == 1000 - 11);
}

TEST_CASE("the default limits admit a 1 MiB state and refuse a 17 MiB one", "[hostile][limits]") {
  StateManager manager(memory_options());
  manager.save_snapshot(StateSnapshot("big", "1.0.0").with_data("blob", std::string(1 << 20, 'b')));
  CHECK(manager.load_snapshot("big")->get<std::string>("blob")->size() == (1u << 20));
  CHECK(error_code_of([&] {
          manager.save_snapshot(StateSnapshot("big", "1.0.0").with_data("blob", std::string(17u << 20, 'b')));
        }) == ErrorCode::TooLarge);
  CHECK(manager.get_history("big").empty());
}

// --- Text that is not what it claims ----------------------------------------------------

TEST_CASE("every truncation of a seed snapshot is an error or a snapshot, never a crash", "[hostile][from_bytes]") {
  std::ifstream in(std::string(HOTSTATE_SEED_FIXTURES) + "/persisted/nested.json");
  std::stringstream content;
  content << in.rdbuf();
  const std::string full = content.str();
  REQUIRE(full.size() > 100);
  int errors = 0;
  for (std::size_t length = 0; length < full.size(); ++length) {
    try {
      (void)StateSnapshot::from_bytes(std::string_view(full).substr(0, length));
    } catch (const hotstate::Error& error) {
      CHECK((error.code() == ErrorCode::InvalidJson || error.code() == ErrorCode::InvalidSnapshot));
      ++errors;
    }
  }
  CHECK(errors >= static_cast<int>(full.size()) - 2);  // only the whole text (and with its last newline cut) parse
  CHECK(StateSnapshot::from_bytes(full).plugin_id == "fx-nested");
}

TEST_CASE("hostile JSON gives InvalidJson or a documented result", "[hostile][json]") {
  // 10 000 levels of nesting: refused (json_max_depth is 128), not a stack overflow.
  CHECK(error_code_of([] { (void)Json::parse(std::string(10000, '[') + std::string(10000, ']')); }) ==
        ErrorCode::InvalidJson);
  CHECK(error_code_of([] {
          (void)StateSnapshot::from_bytes(R"({"plugin_id":"p","timestamp":0,"plugin_version":"","metadata":{},"data":{"x":)" +
                                          std::string(10000, '[') + std::string(10000, ']') + "}}");
        }) == ErrorCode::InvalidJson);
  // Invalid UTF-8, raw or hidden in a key: refused.
  CHECK(error_code_of([] { (void)Json::parse("\"\xff\""); }) == ErrorCode::InvalidJson);
  CHECK(error_code_of([] { (void)Json::parse("{\"\xc3\":1}"); }) == ErrorCode::InvalidJson);
  // Duplicate keys: the last wins, as in serde_json's maps.
  CHECK(Json::parse(R"({"a":1,"a":2})").text() == R"({"a":2})");
  CHECK(StateSnapshot::from_bytes(
            R"({"plugin_id":"p","timestamp":0,"plugin_version":"","metadata":{},"data":{"k":1,"k":"second"}})")
            .get<std::string>("k") == std::optional<std::string>("second"));
  // Huge numbers: beyond double's range refused; long integers become doubles, as in the seed.
  CHECK(error_code_of([] { (void)Json::parse("1e400"); }) == ErrorCode::InvalidJson);
  CHECK(error_code_of([] { (void)Json::parse("-1e400"); }) == ErrorCode::InvalidJson);
  CHECK(Json::parse("123456789012345678901234567890").text() == "1.2345678901234568e29");
  CHECK(Json::parse(std::string(300, '9')).type() == hotstate::JsonType::Double);  // ~1e300 fits a double
  CHECK(error_code_of([] { (void)Json::parse("1" + std::string(400, '0')); }) == ErrorCode::InvalidJson);
  // A megabyte-long string is fine.
  CHECK(Json::parse("\"" + std::string(1 << 20, 's') + "\"").text().size() == (1u << 20) + 2);
}
