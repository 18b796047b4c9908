// The seed's own output (tests/fixtures/seed, see the seed's README): what its
// to_bytes returned and what its persistence wrote, for the same snapshots.
// hotstate must read both, and write the same values with the same text.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hotstate/json.hpp"
#include "hotstate/snapshot.hpp"
#include "support.hpp"

#ifndef HOTSTATE_SEED_FIXTURES
#error "HOTSTATE_SEED_FIXTURES must name the seed fixture folder"
#endif

using hotstate::Json;
using hotstate::StateSnapshot;

namespace {

const std::vector<std::string> fixture_cases = {"empty", "metadata", "multikey_order_unspecified",
                                                "nested", "numbers", "unicode"};

std::string read_fixture(const std::string& relative) {
  const std::string path = std::string(HOTSTATE_SEED_FIXTURES) + "/" + relative;
  std::ifstream in(path, std::ios::binary);
  INFO("fixture: " << path);
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  REQUIRE_FALSE(text.str().empty());
  return text.str();
}

// A minimal scanner over *compact* JSON text (no white space between tokens),
// to cut the seed's raw bytes into members without reformatting them.
std::size_t skip_string(std::string_view s, std::size_t i) {
  REQUIRE(s.at(i) == '"');
  for (++i; i < s.size() && s[i] != '"'; ++i) {
    if (s[i] == '\\') ++i;
  }
  REQUIRE(i < s.size());
  return i + 1;
}

std::size_t skip_value(std::string_view s, std::size_t i) {
  REQUIRE(i < s.size());
  if (s[i] == '"') return skip_string(s, i);
  if (s[i] == '[' || s[i] == '{') {
    int depth = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '"') {
        i = skip_string(s, i);
        continue;
      }
      if (c == '[' || c == '{') ++depth;
      if (c == ']' || c == '}') --depth;
      ++i;
      if (depth == 0) return i;
    }
    FAIL("unbalanced JSON in fixture");
    return i;
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
  return i;
}

// The members of a compact JSON object, in the order written, each value as
// its exact raw text.
std::vector<std::pair<std::string, std::string>> raw_members(std::string_view object) {
  std::vector<std::pair<std::string, std::string>> members;
  REQUIRE(object.size() >= 2);
  REQUIRE(object.front() == '{');
  REQUIRE(object.back() == '}');
  std::size_t i = 1;
  if (object[i] == '}') return members;
  while (true) {
    const std::size_t key_end = skip_string(object, i);
    const std::string key = Json::parse(object.substr(i, key_end - i)).get<std::string>();
    REQUIRE(object.at(key_end) == ':');
    const std::size_t value_end = skip_value(object, key_end + 1);
    members.emplace_back(key, std::string(object.substr(key_end + 1, value_end - key_end - 1)));
    i = value_end;
    REQUIRE(i < object.size());
    if (object[i] == '}') break;
    REQUIRE(object[i] == ',');
    ++i;
  }
  REQUIRE(i + 1 == object.size());
  return members;
}

std::string raw_member(std::string_view object, std::string_view key) {
  for (auto& [k, v] : raw_members(object)) {
    if (k == key) return v;
  }
  FAIL("no member " << key);
  return {};
}

bool keys_sorted(const std::vector<std::pair<std::string, std::string>>& members) {
  return std::is_sorted(members.begin(), members.end(),
                        [](const auto& a, const auto& b) { return a.first < b.first; });
}

}  // namespace

TEST_CASE("the seed's bytes and its persisted file read as the same snapshot", "[fixtures][from_bytes]") {
  for (const std::string& name : fixture_cases) {
    INFO("case: " << name);
    const StateSnapshot from_bytes = StateSnapshot::from_bytes(read_fixture(name + ".bytes.json"));
    const StateSnapshot from_persisted = StateSnapshot::from_bytes(read_fixture("persisted/" + name + ".json"));
    REQUIRE(from_bytes == from_persisted);
  }
}

TEST_CASE("to_bytes writes the same value as the seed's to_bytes", "[fixtures][to_bytes]") {
  std::vector<std::string> identical;
  for (const std::string& name : fixture_cases) {
    INFO("case: " << name);
    const std::string seed_bytes = read_fixture(name + ".bytes.json");
    const StateSnapshot snapshot = StateSnapshot::from_bytes(seed_bytes);
    const std::string ours = snapshot.to_bytes();
    // The seed's top-level data and metadata keys are in hash order: compare values.
    REQUIRE(Json::parse(ours) == Json::parse(seed_bytes));
    // Reading our bytes back gives the same snapshot.
    REQUIRE(StateSnapshot::from_bytes(ours) == snapshot);

    // Where the seed's hash order happens to be byte order, the bytes are identical.
    const auto seed_data = raw_members(raw_member(seed_bytes, "data"));
    const auto seed_metadata = raw_members(raw_member(seed_bytes, "metadata"));
    if (keys_sorted(seed_data) && keys_sorted(seed_metadata)) {
      REQUIRE(ours == seed_bytes);
      identical.push_back(name);
    }
    // The top-level layout is the seed's.
    const auto top = raw_members(ours);
    REQUIRE(top.size() == 5);
    REQUIRE(top[0].first == "plugin_id");
    REQUIRE(top[1].first == "timestamp");
    REQUIRE(top[2].first == "data");
    REQUIRE(top[3].first == "plugin_version");
    REQUIRE(top[4].first == "metadata");
    REQUIRE(top[1].second == raw_member(seed_bytes, "timestamp"));
    REQUIRE(top[0].second == raw_member(seed_bytes, "plugin_id"));
    REQUIRE(top[3].second == raw_member(seed_bytes, "plugin_version"));
  }
  // The byte-for-byte comparison did run: these cases have at most one key
  // per map, or keys that the seed happened to write sorted.
  REQUIRE(identical == std::vector<std::string>{"empty", "metadata", "nested"});
}

TEST_CASE("every data value's canonical text equals the seed's text byte for byte", "[fixtures][canonical]") {
  for (const std::string& name : fixture_cases) {
    INFO("case: " << name);
    const std::string seed_bytes = read_fixture(name + ".bytes.json");
    const StateSnapshot snapshot = StateSnapshot::from_bytes(seed_bytes);
    const auto seed_data = raw_members(raw_member(seed_bytes, "data"));
    REQUIRE(snapshot.data.size() == seed_data.size());
    for (const auto& [key, seed_text] : seed_data) {
      INFO("data key: " << key);
      REQUIRE(snapshot.data.count(key) == 1);
      // The seed prints nested objects sorted, so its text is already canonical.
      REQUIRE(snapshot.data.at(key).text() == seed_text);
      REQUIRE(Json::parse(seed_text).text() == seed_text);
    }
    // The same through Json::parse of the whole file.
    const auto parsed_data =
        Json::parse(seed_bytes).get<std::map<std::string, Json>>().at("data").get<std::map<std::string, Json>>();
    REQUIRE(parsed_data == snapshot.data);

    const auto seed_metadata = raw_members(raw_member(seed_bytes, "metadata"));
    REQUIRE(snapshot.metadata.size() == seed_metadata.size());
    for (const auto& [key, seed_text] : seed_metadata) {
      INFO("metadata key: " << key);
      REQUIRE(snapshot.get_metadata(key) == std::optional<std::string_view>(Json::parse(seed_text).get<std::string>()));
    }
  }
}

TEST_CASE("the seed's input values canonicalize to the seed's output values", "[fixtures][canonical]") {
  for (const std::string& name : fixture_cases) {
    INFO("case: " << name);
    const auto input = Json::parse(read_fixture(name + ".input.json")).get<std::map<std::string, Json>>();
    const std::string seed_bytes = read_fixture(name + ".bytes.json");
    const auto input_data = input.at("data").get<std::map<std::string, Json>>();
    const auto seed_data = raw_members(raw_member(seed_bytes, "data"));
    REQUIRE(input_data.size() == seed_data.size());
    for (const auto& [key, seed_text] : seed_data) {
      INFO("data key: " << key);
      REQUIRE(input_data.count(key) == 1);
      REQUIRE(input_data.at(key).text() == seed_text);
    }

    // Building the snapshot the seed built gives the seed's bytes, as values.
    StateSnapshot built(input.at("plugin_id").get<std::string>(), input.at("version").get<std::string>());
    built.timestamp = input.at("timestamp").get<std::uint64_t>();
    for (const auto& [key, value] : input_data) built.with_data(key, value);
    for (const auto& [key, value] : input.at("metadata").get<std::map<std::string, std::string>>()) {
      built.with_metadata(key, value);
    }
    REQUIRE(Json::parse(built.to_bytes()) == Json::parse(seed_bytes));
    REQUIRE(built == StateSnapshot::from_bytes(seed_bytes));
  }
}

TEST_CASE("the seed's numbers fixture keeps 64-bit integers and turns larger ones into doubles", "[fixtures][numbers]") {
  const StateSnapshot snapshot = StateSnapshot::from_bytes(read_fixture("numbers.bytes.json"));
  REQUIRE(snapshot.plugin_id == "fx-numbers");
  REQUIRE(snapshot.plugin_version == "1.0.0");
  REQUIRE(snapshot.timestamp == 18446744073709551615ULL);
  REQUIRE(snapshot.metadata.empty());

  const auto n = snapshot.get<std::map<std::string, Json>>("n");
  REQUIRE(n.has_value());
  REQUIRE(n->at("u64_max").text() == "18446744073709551615");
  REQUIRE(n->at("u64_max").get<std::uint64_t>() == 18446744073709551615ULL);
  REQUIRE(n->at("i64_min").get<std::int64_t>() == INT64_MIN);
  REQUIRE(n->at("i64_max").get<std::int64_t>() == INT64_MAX);
  REQUIRE(n->at("u64_max_plus_1").text() == "1.8446744073709552e19");
  REQUIRE(n->at("u64_max_plus_1").type() == hotstate::JsonType::Double);
  REQUIRE(n->at("i64_min_minus_1").text() == "-9.223372036854776e18");
  REQUIRE(n->at("f_1_0").text() == "1.0");
  REQUIRE(n->at("f_1e15").text() == "1000000000000000.0");
  REQUIRE(n->at("f_1e16").text() == "1e16");
  REQUIRE(n->at("f_neg_zero").text() == "-0.0");
  REQUIRE(n->at("f_5e_324").text() == "5e-324");
  REQUIRE(n->at("f_max").text() == "1.7976931348623157e308");
  REQUIRE(n->at("f_2_5E3").text() == "2500.0");
  REQUIRE(snapshot.data.at("list").text() == "[18446744073709551615,-9223372036854775808,0.1,1e300]");

  // The input had 18446744073709551616 and -9223372036854775809.
  const auto input = Json::parse(read_fixture("numbers.input.json")).get<std::map<std::string, Json>>();
  const auto input_n = input.at("data").get<std::map<std::string, Json>>().at("n").get<std::map<std::string, Json>>();
  REQUIRE(input_n.at("u64_max_plus_1").text() == "1.8446744073709552e19");
  REQUIRE(input_n.at("i64_min_minus_1").text() == "-9.223372036854776e18");
  REQUIRE(input_n == *n);
}

TEST_CASE("the seed's unicode fixture keeps every character and escape", "[fixtures][unicode]") {
  const StateSnapshot snapshot = StateSnapshot::from_bytes(read_fixture("unicode.bytes.json"));
  REQUIRE(snapshot.plugin_id == "fx-unicode");
  REQUIRE(snapshot.timestamp == 1700000000);
  REQUIRE(snapshot.plugin_version == "1.0.0-\xCE\xB2" "eta");  // "1.0.0-βeta"
  REQUIRE(snapshot.get_metadata("author") ==
          std::optional<std::string_view>("Zo\xC3\xAB \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB"));  // "Zoë 👩‍💻"
  REQUIRE(snapshot.get<std::string>("astral_escaped") == std::optional<std::string>("\xF0\x9F\x98\x80"));
  REQUIRE(snapshot.get<std::string>("emoji") == std::optional<std::string>("\xF0\x9F\x98\x80\xF0\x9F\x9A\x80"));
  REQUIRE(snapshot.get<std::string>("escapes") ==
          std::optional<std::string>("quote\" backslash\\ slash/ nl\n cr\r tab\t bs\b ff\f ctl\x01\x1f del\x7f "
                                     "nbsp\xC2\xA0 rlm\xE2\x80\x8F ls\xE2\x80\xA8"));
  REQUIRE(snapshot.is_compatible("1.9"));
}

TEST_CASE("the seed's other fixtures have the fields the seed wrote", "[fixtures]") {
  const StateSnapshot empty = StateSnapshot::from_bytes(read_fixture("empty.bytes.json"));
  REQUIRE(empty.plugin_id.empty());
  REQUIRE(empty.plugin_version.empty());
  REQUIRE(empty.timestamp == 0);
  REQUIRE(empty.data.empty());
  REQUIRE(empty.metadata.empty());
  REQUIRE(empty.is_compatible(""));

  const StateSnapshot metadata = StateSnapshot::from_bytes(read_fixture("metadata.bytes.json"));
  REQUIRE(metadata.plugin_id == "fx-metadata");
  REQUIRE(metadata.timestamp == 1712345678);
  REQUIRE(metadata.plugin_version == "0.9.1");
  REQUIRE(metadata.get<std::string>("only") == std::optional<std::string>("one data key"));
  REQUIRE(metadata.get_metadata("author") == std::optional<std::string_view>("developer"));

  const StateSnapshot multikey = StateSnapshot::from_bytes(read_fixture("multikey_order_unspecified.bytes.json"));
  REQUIRE(multikey.plugin_id == "fx-multikey");
  REQUIRE(multikey.timestamp == 42);
  REQUIRE(multikey.get<int>("counter") == std::optional<int>(42));
  REQUIRE(multikey.get<std::string>("name") == std::optional<std::string>("test"));
  REQUIRE(multikey.get<double>("ratio") == std::optional<double>(0.5));
  REQUIRE(multikey.get<std::vector<bool>>("flags") == std::optional<std::vector<bool>>({true, false}));
  REQUIRE(multikey.get<std::map<std::string, int>>("cfg") == std::optional<std::map<std::string, int>>({{"a", 1}, {"b", 2}}));
  REQUIRE(multikey.get_metadata("build") == std::optional<std::string_view>("abc123"));
  REQUIRE(multikey.get_metadata("reason") == std::optional<std::string_view>("hot-reload"));
  REQUIRE(multikey.to_bytes() ==
          R"({"plugin_id":"fx-multikey","timestamp":42,"data":{"cfg":{"a":1,"b":2},"counter":42,"flags":[true,false],)"
          R"("name":"test","ratio":0.5},"plugin_version":"1.2.3","metadata":{"author":"developer","build":"abc123",)"
          R"("reason":"hot-reload"}})");

  const StateSnapshot nested = StateSnapshot::from_bytes(read_fixture("nested.bytes.json"));
  REQUIRE(nested.plugin_id == "fx-nested");
  REQUIRE(nested.plugin_version == "2.3.4");
  REQUIRE(nested.data.at("tree").text() ==
          R"({"":"empty key","Upper":"sorted by bytes","alpha":true,"mid":false,"zeta":{"b":{"c":[1,{"a":[],"d":null}]}}})");
}

TEST_CASE("to_persisted_bytes writes the seed's persisted file format", "[fixtures][persisted]") {
  const std::string dir = std::string(HOTSTATE_SEED_FIXTURES) + "/persisted/";
  for (const char* name : {"empty", "metadata", "multikey_order_unspecified", "nested", "numbers", "unicode"}) {
    INFO("fixture " << name);
    const std::string seed_file = hotstate_test::read_file(dir + name + ".json");
    const auto snapshot = StateSnapshot::from_bytes(seed_file);
    const std::string ours = snapshot.to_persisted_bytes();
    CHECK(StateSnapshot::from_bytes(ours) == snapshot);
    CHECK(std::count(ours.begin(), ours.end(), '\n') == std::count(seed_file.begin(), seed_file.end(), '\n'));
  }
  // Where the seed's hash-map order happened to be sorted, the files match byte for byte.
  for (const char* name : {"empty", "metadata"}) {
    INFO("fixture " << name);
    const std::string seed_file = hotstate_test::read_file(dir + name + ".json");
    CHECK(StateSnapshot::from_bytes(seed_file).to_persisted_bytes() == seed_file);
  }
}
