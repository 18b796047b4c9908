// StateSnapshot: the seed's unit tests, building and reading data and
// metadata, version compatibility, and the seed's byte layout.
#include <catch2/catch.hpp>


#include <chrono>
#include <exception>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hotstate/error.hpp"
#include "hotstate/json.hpp"
#include "hotstate/snapshot.hpp"

#include "support.hpp"

using hotstate::Error;
using hotstate::ErrorCode;
using hotstate_test::HasCode;
using hotstate::Json;
using hotstate::StateSnapshot;

namespace {

std::uint64_t now_seconds() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

// A snapshot in the seed's layout with one field replaced by `field_text`
// (or left out when it is empty).
std::string layout_with(std::string_view field, std::string_view field_text) {
  const std::vector<std::pair<std::string, std::string>> fields = {
      {"plugin_id", R"("p")"},
      {"timestamp", "7"},
      {"data", R"({"k":1})"},
      {"plugin_version", R"("1.0.0")"},
      {"metadata", R"({"m":"v"})"},
  };
  std::string out = "{";
  bool first = true;
  for (const auto& [name, text] : fields) {
    const std::string value = name == field ? std::string(field_text) : text;
    if (value.empty()) continue;
    if (!first) out += ',';
    first = false;
    out += "\"" + name + "\":" + value;
  }
  return out + "}";
}

StateSnapshot fixed_snapshot() {
  StateSnapshot snapshot("p", "1.0.0");
  snapshot.timestamp = 7;
  return snapshot;
}


}  // namespace

// ---------------------------------------------------------------------------
// The seed's own tests

TEST_CASE("seed test_state_snapshot: data and metadata read back as written", "[snapshot][seed]") {
  StateSnapshot snapshot("test-plugin", "1.0.0");
  snapshot.with_data("counter", 42).with_data("name", "test").with_metadata("author", "developer");

  REQUIRE(snapshot.plugin_id == "test-plugin");
  REQUIRE(snapshot.plugin_version == "1.0.0");
  REQUIRE(snapshot.get<int>("counter") == std::optional<int>(42));
  REQUIRE(snapshot.get<std::string>("name") == std::optional<std::string>("test"));
  REQUIRE(snapshot.get_metadata("author") == std::optional<std::string_view>("developer"));
}

TEST_CASE("seed test_snapshot_compatibility: equal major versions are compatible", "[snapshot][seed]") {
  const StateSnapshot snapshot("test", "1.0.0");
  REQUIRE(snapshot.is_compatible("1.0.0"));
  REQUIRE(snapshot.is_compatible("1.1.0"));
  REQUIRE(snapshot.is_compatible("1.2.3"));
  REQUIRE_FALSE(snapshot.is_compatible("2.0.0"));
}

TEST_CASE("seed test_snapshot_serialization: from_bytes reads what to_bytes wrote", "[snapshot][seed]") {
  StateSnapshot snapshot("test", "1.0.0");
  snapshot.with_data("value", 123);

  const std::string bytes = snapshot.to_bytes();
  const StateSnapshot restored = StateSnapshot::from_bytes(bytes);

  REQUIRE(restored.plugin_id == snapshot.plugin_id);
  REQUIRE(restored.get<int>("value") == std::optional<int>(123));
  REQUIRE(restored == snapshot);
}

// ---------------------------------------------------------------------------
// Building and reading

TEST_CASE("a new snapshot is empty and stamped with the current time in seconds", "[snapshot]") {
  const std::uint64_t before = now_seconds();
  const StateSnapshot snapshot("id", "3.1.4");
  const std::uint64_t after = now_seconds();
  REQUIRE(snapshot.plugin_id == "id");
  REQUIRE(snapshot.plugin_version == "3.1.4");
  REQUIRE(snapshot.timestamp >= before);
  REQUIRE(snapshot.timestamp <= after);
  REQUIRE(snapshot.data.empty());
  REQUIRE(snapshot.metadata.empty());
  REQUIRE(snapshot.seq == 0);
}

TEST_CASE("with_data and with_metadata chain on the same snapshot and overwrite keys", "[snapshot]") {
  StateSnapshot snapshot = fixed_snapshot();
  StateSnapshot& chained = snapshot.with_data("k", 1).with_metadata("m", "a").with_data("k", "two").with_metadata("m", "b");
  REQUIRE(&chained == &snapshot);
  REQUIRE(snapshot.data.size() == 1);
  REQUIRE(snapshot.data.at("k").text() == "\"two\"");
  REQUIRE(snapshot.get<std::string>("k") == std::optional<std::string>("two"));
  REQUIRE(snapshot.metadata.size() == 1);
  REQUIRE(snapshot.get_metadata("m") == std::optional<std::string_view>("b"));
}

TEST_CASE("with_data stores the canonical JSON of any convertible value", "[snapshot]") {
  StateSnapshot snapshot = fixed_snapshot();
  snapshot.with_data("list", std::vector<int>{1, 2})
      .with_data("map", std::map<std::string, double>{{"b", 1.0}, {"a", 0.5}})
      .with_data("none", std::optional<int>())
      .with_data("json", Json::parse(R"({"z":1,"y":[true]})"))
      .with_data("flags", std::vector<bool>{true, false})
      .with_data("big", std::numeric_limits<std::uint64_t>::max());
  REQUIRE(snapshot.data.at("list").text() == "[1,2]");
  REQUIRE(snapshot.data.at("map").text() == R"({"a":0.5,"b":1.0})");
  REQUIRE(snapshot.data.at("none").text() == "null");
  REQUIRE(snapshot.data.at("json").text() == R"({"y":[true],"z":1})");
  REQUIRE(snapshot.data.at("flags").text() == "[true,false]");
  REQUIRE(snapshot.get<std::vector<int>>("list") == std::optional<std::vector<int>>({1, 2}));
  REQUIRE(snapshot.get<std::uint64_t>("big") == std::numeric_limits<std::uint64_t>::max());
  REQUIRE(snapshot.get<Json>("json") == Json::parse(R"({"y":[true],"z":1})"));
  const auto none = snapshot.get<std::optional<int>>("none");
  REQUIRE(none.has_value());
  REQUIRE_FALSE(none->has_value());
}

TEST_CASE("get returns nullopt for a missing key or a value of another type", "[snapshot]") {
  StateSnapshot snapshot = fixed_snapshot();
  snapshot.with_data("counter", 42).with_data("name", "test").with_data("ratio", 0.5).with_data("big", 300);
  REQUIRE_FALSE(snapshot.get<int>("missing").has_value());
  REQUIRE_FALSE(snapshot.get<int>("").has_value());
  REQUIRE_FALSE(snapshot.get<std::string>("counter").has_value());
  REQUIRE_FALSE(snapshot.get<int>("name").has_value());
  REQUIRE_FALSE(snapshot.get<int>("ratio").has_value());
  REQUIRE_FALSE(snapshot.get<std::uint8_t>("big").has_value());
  REQUIRE_FALSE(snapshot.get<std::vector<int>>("counter").has_value());
  REQUIRE_FALSE(snapshot.get<bool>("counter").has_value());
  // double reads integers, as serde does.
  REQUIRE(snapshot.get<double>("counter") == std::optional<double>(42.0));
  REQUIRE(snapshot.get<double>("ratio") == std::optional<double>(0.5));
  REQUIRE(snapshot.get<std::uint16_t>("big") == std::optional<std::uint16_t>(300));
}

TEST_CASE("get_metadata returns the value or nullopt", "[snapshot]") {
  StateSnapshot snapshot = fixed_snapshot();
  snapshot.with_metadata("author", "Zo\xC3\xAB").with_metadata("", "empty key").with_metadata("blank", "");
  REQUIRE(snapshot.get_metadata("author") == std::optional<std::string_view>("Zo\xC3\xAB"));
  REQUIRE(snapshot.get_metadata("") == std::optional<std::string_view>("empty key"));
  REQUIRE(snapshot.get_metadata("blank") == std::optional<std::string_view>(""));
  REQUIRE_FALSE(snapshot.get_metadata("missing").has_value());
  REQUIRE_FALSE(snapshot.get_metadata("Author").has_value());
  // Metadata and data are separate namespaces.
  REQUIRE_FALSE(snapshot.get<std::string>("author").has_value());
}

TEST_CASE("with_data of NaN or an infinity throws NonFiniteNumber and leaves the snapshot unchanged", "[snapshot]") {
  StateSnapshot snapshot = fixed_snapshot();
  snapshot.with_data("x", 1).with_metadata("m", "v");
  const StateSnapshot before = snapshot;

  REQUIRE_THROWS_MATCHES(snapshot.with_data("x", std::nan("")), Error, HasCode(ErrorCode::NonFiniteNumber));
  REQUIRE_THROWS_MATCHES(snapshot.with_data("y", std::numeric_limits<double>::infinity()), Error,
                         HasCode(ErrorCode::NonFiniteNumber));
  REQUIRE_THROWS_MATCHES(snapshot.with_data("z", std::vector<double>{1.0, -std::numeric_limits<double>::infinity()}),
                         Error, HasCode(ErrorCode::NonFiniteNumber));
  REQUIRE_THROWS_MATCHES(snapshot.with_data("f", std::numeric_limits<float>::quiet_NaN()), Error,
                         HasCode(ErrorCode::NonFiniteNumber));

  REQUIRE(snapshot == before);
  REQUIRE(snapshot.get<int>("x") == std::optional<int>(1));
  REQUIRE(snapshot.data.count("y") == 0);
  REQUIRE(snapshot.data.count("z") == 0);
}

TEST_CASE("with_data and with_metadata refuse text that is not UTF-8 and leave the snapshot unchanged",
          "[snapshot]") {
  StateSnapshot snapshot = fixed_snapshot();
  snapshot.with_data("x", 1).with_metadata("m", "v");
  const StateSnapshot before = snapshot;
  REQUIRE_THROWS_MATCHES(snapshot.with_data("bad\xff", 2), Error, HasCode(ErrorCode::InvalidUtf8));
  REQUIRE_THROWS_MATCHES(snapshot.with_data("x", std::string("\xc3")), Error, HasCode(ErrorCode::InvalidUtf8));
  REQUIRE_THROWS_MATCHES(snapshot.with_metadata("m\xff", "v"), Error, HasCode(ErrorCode::InvalidUtf8));
  REQUIRE_THROWS_MATCHES(snapshot.with_metadata("m", "\xed\xa0\x80"), Error, HasCode(ErrorCode::InvalidUtf8));
  REQUIRE(snapshot == before);
}

TEST_CASE("is_compatible compares the text before the first dot", "[snapshot][compatibility]") {
  REQUIRE(StateSnapshot("p", "1").is_compatible("1.0"));
  REQUIRE(StateSnapshot("p", "1.0").is_compatible("1"));
  REQUIRE(StateSnapshot("p", "").is_compatible(""));
  REQUIRE(StateSnapshot("p", "").is_compatible(".5"));
  REQUIRE(StateSnapshot("p", "2.0.0").is_compatible("2.99.1-beta"));
  REQUIRE(StateSnapshot("p", "1.0.0-\xCE\xB2" "eta").is_compatible("1.0.0"));
  REQUIRE_FALSE(StateSnapshot("p", "").is_compatible("1.0.0"));
  REQUIRE_FALSE(StateSnapshot("p", "1.0.0").is_compatible(""));
  REQUIRE_FALSE(StateSnapshot("p", "10.0.0").is_compatible("1.0.0"));
  REQUIRE_FALSE(StateSnapshot("p", "1.0.0").is_compatible("01.0.0"));
  REQUIRE_FALSE(StateSnapshot("p", "v1.0").is_compatible("1.0"));
  REQUIRE_FALSE(StateSnapshot("p", "1.0.0").is_compatible("1-0.0"));
}

// ---------------------------------------------------------------------------
// to_bytes / from_bytes

TEST_CASE("to_bytes writes the seed's layout, compact, with sorted data and metadata", "[snapshot][to_bytes]") {
  StateSnapshot snapshot("plugin", "1.2.3");
  snapshot.timestamp = 1712345678;
  snapshot.with_data("b", std::vector<int>{1})
      .with_data("a", Json::parse(R"({"y":null,"x":1.0})"))
      .with_metadata("z", "last")
      .with_metadata("author", "dev");
  REQUIRE(snapshot.to_bytes() ==
          R"({"plugin_id":"plugin","timestamp":1712345678,"data":{"a":{"x":1.0,"y":null},"b":[1]},)"
          R"("plugin_version":"1.2.3","metadata":{"author":"dev","z":"last"}})");

  StateSnapshot empty("", "");
  empty.timestamp = 0;
  REQUIRE(empty.to_bytes() == R"({"plugin_id":"","timestamp":0,"data":{},"plugin_version":"","metadata":{}})");
}

TEST_CASE("to_bytes does not include seq", "[snapshot][to_bytes]") {
  StateSnapshot snapshot = fixed_snapshot();
  snapshot.seq = 99;
  const std::string bytes = snapshot.to_bytes();
  REQUIRE(bytes.find("seq") == std::string::npos);
  REQUIRE(StateSnapshot::from_bytes(bytes).seq == 0);
}

TEST_CASE("to_bytes escapes strings as serde_json does", "[snapshot][to_bytes]") {
  StateSnapshot snapshot("id\"\\\n", "1.0\t\x01");
  snapshot.timestamp = 1;
  snapshot.with_data("k\x1f", "/\x7f\xC2\xA0").with_metadata("\b", "\f\r");
  REQUIRE(snapshot.to_bytes() ==
          "{\"plugin_id\":\"id\\\"\\\\\\n\",\"timestamp\":1,\"data\":{\"k\\u001f\":\"/\x7f\xC2\xA0\"},"
          "\"plugin_version\":\"1.0\\t\\u0001\",\"metadata\":{\"\\b\":\"\\f\\r\"}}");
}

TEST_CASE("to_bytes refuses public fields that are not UTF-8", "[snapshot][to_bytes]") {
  SECTION("plugin_id") {
    StateSnapshot snapshot("bad\xff", "1.0.0");
    REQUIRE_THROWS_MATCHES(snapshot.to_bytes(), Error, HasCode(ErrorCode::InvalidUtf8));
  }
  SECTION("plugin_version") {
    StateSnapshot snapshot("p", "\xc3");
    REQUIRE_THROWS_MATCHES(snapshot.to_bytes(), Error, HasCode(ErrorCode::InvalidUtf8));
  }
  SECTION("a data key") {
    StateSnapshot snapshot = fixed_snapshot();
    snapshot.data.emplace("\xff", Json());
    REQUIRE_THROWS_MATCHES(snapshot.to_bytes(), Error, HasCode(ErrorCode::InvalidUtf8));
  }
  SECTION("a metadata value") {
    StateSnapshot snapshot = fixed_snapshot();
    snapshot.metadata.emplace("k", "\xff");
    REQUIRE_THROWS_MATCHES(snapshot.to_bytes(), Error, HasCode(ErrorCode::InvalidUtf8));
  }
}

TEST_CASE("to_bytes and from_bytes round-trip unicode, escapes, control characters and extreme numbers",
          "[snapshot][to_bytes][from_bytes]") {
  StateSnapshot snapshot("plug\xC3\xAFn-\xF0\x9F\x9A\x80", "1.0.0-\xCE\xB2" "eta");
  snapshot.timestamp = std::numeric_limits<std::uint64_t>::max();
  snapshot.with_data("greeting", "h\xC3\xA9llo w\xC3\xB6rld")
      .with_data("cjk", "\xE6\xBC\xA2\xE5\xAD\x97")
      .with_data("emoji", "\xF0\x9F\x98\x80\xF0\x9F\x9A\x80")
      .with_data("escapes", "quote\" backslash\\ slash/ nl\n cr\r tab\t bs\b ff\f")
      .with_data("controls", std::string("nul\0 \x01\x1f del\x7f", 12))
      .with_data("u64_max", std::numeric_limits<std::uint64_t>::max())
      .with_data("i64_min", std::numeric_limits<std::int64_t>::min())
      .with_data("big", 1e300)
      .with_data("neg_zero", -0.0)
      .with_data("tenth", 0.1)
      .with_data("nested", Json::parse(R"([[],[{}],[1,[2,[3,[4]]]],{"b":{"c":[1,{"d":null,"a":[]}]},"a":true}])"))
      .with_data("\xE9\x8D\xB5 \"key\"\n", "unicode key")
      .with_metadata("author", "Zo\xC3\xAB \xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB")
      .with_metadata("ctl\x01", "tab\there");

  const std::string bytes = snapshot.to_bytes();
  const StateSnapshot restored = StateSnapshot::from_bytes(bytes);
  REQUIRE(restored == snapshot);
  REQUIRE(restored.to_bytes() == bytes);

  REQUIRE(bytes.find(R"("u64_max":18446744073709551615)") != std::string::npos);
  REQUIRE(bytes.find(R"("i64_min":-9223372036854775808)") != std::string::npos);
  REQUIRE(bytes.find(R"("big":1e300)") != std::string::npos);
  REQUIRE(bytes.find(R"("neg_zero":-0.0)") != std::string::npos);
  REQUIRE(bytes.find(R"("timestamp":18446744073709551615,)") != std::string::npos);
  REQUIRE(bytes.find(R"("nested":[[],[{}],[1,[2,[3,[4]]]],{"a":true,"b":{"c":[1,{"a":[],"d":null}]}}])") !=
          std::string::npos);

  REQUIRE(restored.get<std::uint64_t>("u64_max") == std::numeric_limits<std::uint64_t>::max());
  REQUIRE(restored.get<std::int64_t>("i64_min") == std::numeric_limits<std::int64_t>::min());
  REQUIRE(restored.get<double>("big") == 1e300);
  REQUIRE(restored.get<double>("tenth") == 0.1);
  const auto neg_zero = restored.get<double>("neg_zero");
  REQUIRE(neg_zero.has_value());
  REQUIRE(std::signbit(*neg_zero));
  REQUIRE(restored.get<std::string>("controls") == std::string("nul\0 \x01\x1f del\x7f", 12));
  REQUIRE(restored.get<std::string>("escapes") == "quote\" backslash\\ slash/ nl\n cr\r tab\t bs\b ff\f");
  REQUIRE(restored.get_metadata("ctl\x01") == std::optional<std::string_view>("tab\there"));
  REQUIRE(restored.plugin_id == "plug\xC3\xAFn-\xF0\x9F\x9A\x80");
  REQUIRE(restored.timestamp == std::numeric_limits<std::uint64_t>::max());
}

TEST_CASE("to_bytes and from_bytes round-trip data values nested up to json_max_depth",
          "[snapshot][to_bytes][from_bytes][depth]") {
  const std::size_t depth = hotstate::json_max_depth;
  const Json deepest = Json::parse(std::string(depth, '[') + std::string(depth, ']'));
  StateSnapshot snapshot = fixed_snapshot();
  snapshot.with_data("deep", deepest);
  const StateSnapshot restored = StateSnapshot::from_bytes(snapshot.to_bytes());
  REQUIRE(restored == snapshot);
  REQUIRE(restored.data.at("deep") == deepest);

  // Pretty-printed, as the seed persists it, and with an unknown field just as deep.
  const std::string deep_text = std::string(depth, '[') + std::string(depth, ']');
  REQUIRE(StateSnapshot::from_bytes("{\n  \"extra\": " + deep_text + ",\n" +
                                    layout_with("data", "{\"deep\": " + deep_text + "}").substr(1))
              .data == restored.data);

  // One level more is refused, wherever it is.
  const std::string too_deep = std::string(depth + 1, '[') + std::string(depth + 1, ']');
  REQUIRE_THROWS_MATCHES(StateSnapshot::from_bytes(layout_with("data", "{\"deep\":" + too_deep + "}")), Error,
                         HasCode(ErrorCode::InvalidJson));
  REQUIRE_THROWS_MATCHES(StateSnapshot::from_bytes("{\"extra\":" + too_deep + "," + layout_with("", "").substr(1)),
                         Error, HasCode(ErrorCode::InvalidJson));
}

TEST_CASE("from_bytes canonicalizes data values", "[snapshot][from_bytes]") {
  const StateSnapshot snapshot = StateSnapshot::from_bytes(
      R"({"plugin_id":"p","timestamp":7,"data":{"b":{"z":1e15,"a":18446744073709551616,"a":-0},"a":[1.50,"\u00e9\/"]},)"
      R"("plugin_version":"1","metadata":{"m":"\u0041"}})");
  REQUIRE(snapshot.data.at("a").text() == "[1.5,\"\xC3\xA9/\"]");
  REQUIRE(snapshot.data.at("b").text() == R"({"a":-0.0,"z":1000000000000000.0})");
  REQUIRE(snapshot.get_metadata("m") == std::optional<std::string_view>("A"));
}

TEST_CASE("from_bytes keeps the last of duplicate keys inside data and metadata", "[snapshot][from_bytes]") {
  const StateSnapshot snapshot = StateSnapshot::from_bytes(
      R"({"plugin_id":"p","timestamp":7,"data":{"k":1,"k":2},"plugin_version":"1","metadata":{"m":"a","m":"b"}})");
  REQUIRE(snapshot.get<int>("k") == std::optional<int>(2));
  REQUIRE(snapshot.data.size() == 1);
  REQUIRE(snapshot.get_metadata("m") == std::optional<std::string_view>("b"));
}

TEST_CASE("from_bytes accepts the fields in any order", "[snapshot][from_bytes]") {
  const StateSnapshot snapshot = StateSnapshot::from_bytes(
      R"({"metadata":{"m":"v"},"plugin_version":"1.0.0","data":{"k":1},"timestamp":7,"plugin_id":"p"})");
  REQUIRE(snapshot == StateSnapshot::from_bytes(layout_with("", "")));
  REQUIRE(snapshot.plugin_id == "p");
  REQUIRE(snapshot.timestamp == 7);
  REQUIRE(snapshot.get<int>("k") == std::optional<int>(1));
}

TEST_CASE("from_bytes ignores unknown extra fields", "[snapshot][from_bytes]") {
  const StateSnapshot plain = StateSnapshot::from_bytes(layout_with("", ""));
  const StateSnapshot extra = StateSnapshot::from_bytes(
      R"({"extra":{"deep":[1,{"x":null}]},"plugin_id":"p","timestamp":7,"seq":12,"data":{"k":1},)"
      R"("plugin_version":"1.0.0","metadata":{"m":"v"},"zzz":"\u00e9","Plugin_id":5})");
  REQUIRE(extra == plain);
  REQUIRE(extra.seq == 0);
}

TEST_CASE("from_bytes accepts pretty-printed input", "[snapshot][from_bytes]") {
  const std::string pretty =
      "{\n  \"plugin_id\": \"p\",\n  \"timestamp\": 7,\n  \"data\": {\n    \"k\": 1\n  },\n"
      "  \"plugin_version\": \"1.0.0\",\n  \"metadata\": {\n    \"m\": \"v\"\n  }\n}\n";
  const StateSnapshot snapshot = StateSnapshot::from_bytes(pretty);
  REQUIRE(snapshot == StateSnapshot::from_bytes(layout_with("", "")));
  REQUIRE(snapshot.to_bytes() == layout_with("", ""));
  // Windows line ends and tabs too.
  REQUIRE(StateSnapshot::from_bytes("\r\n\t{\t\"plugin_id\" :\r\n\"p\" , \"timestamp\":7,\"data\":{ \"k\" : 1 },"
                                    "\"plugin_version\":\"1.0.0\",\"metadata\":{\"m\":\"v\"}}\r\n") == snapshot);
}

TEST_CASE("from_bytes refuses text that is not JSON with InvalidJson", "[snapshot][from_bytes][invalid]") {
  const std::string valid = layout_with("", "");
  const std::vector<std::string> inputs = {
      "",
      "not json",
      valid.substr(0, valid.size() - 1),
      valid.substr(0, valid.size() / 2),
      valid + "x",
      valid + valid,
      layout_with("data", R"({"k":[1,]})"),
      layout_with("data", R"({"k":"\ud800"})"),
      layout_with("data", "{\"k\":\"\xff\"}"),
      layout_with("data", R"({"k":1e400})"),
      layout_with("metadata", "{\"m\":\"a\x01\"}"),
      layout_with("plugin_id", "\"\xc3\""),
      R"({"unknown":[1,],"plugin_id":"p","timestamp":7,"data":{},"plugin_version":"1","metadata":{}})",
      R"({"plugin_id":"p","timestamp":7,"data":{},"plugin_version":"1","metadata":{},})",
      "{\"plugin_id\":\"p\" \"timestamp\":7}",
      // Malformed values that a lazy parser could mistake for values of the wrong type.
      "nul",
      "tru",
      "[1,]",
      "[1,",
      "{\"a\"",
      layout_with("plugin_id", "nul"),
      layout_with("plugin_id", "[1,]"),
      layout_with("plugin_version", "{\"a\":}"),
      layout_with("timestamp", "tru"),
      layout_with("timestamp", "-"),
      layout_with("timestamp", "1e400"),
      layout_with("timestamp", "[1,]"),
      layout_with("data", "nul"),
      layout_with("data", "[1,]"),
      layout_with("metadata", "[1,]"),
      layout_with("metadata", R"({"m":nul})"),
      layout_with("metadata", R"({"m":[1,]})"),
  };
  for (const std::string& input : inputs) {
    INFO("input: " << input);
    CHECK_THROWS_MATCHES(StateSnapshot::from_bytes(input), Error, HasCode(ErrorCode::InvalidJson));
  }
}

TEST_CASE("from_bytes refuses nesting deeper than json_max_depth without crashing",
          "[snapshot][from_bytes][invalid][depth]") {
  const std::string deep = std::string(10000, '[') + std::string(10000, ']');
  REQUIRE_THROWS_MATCHES(StateSnapshot::from_bytes(deep), Error, HasCode(ErrorCode::InvalidJson));
  REQUIRE_THROWS_MATCHES(StateSnapshot::from_bytes(layout_with("data", "{\"k\":" + deep + "}")), Error,
                         HasCode(ErrorCode::InvalidJson));
  REQUIRE_THROWS_MATCHES(StateSnapshot::from_bytes("{\"extra\":" + deep + "," + layout_with("", "").substr(1)), Error,
                         HasCode(ErrorCode::InvalidJson));
  REQUIRE_THROWS_MATCHES(StateSnapshot::from_bytes(layout_with("metadata", "{\"m\":" + deep + "}")), Error,
                         HasCode(ErrorCode::InvalidJson));
  REQUIRE_THROWS_MATCHES(StateSnapshot::from_bytes(layout_with("timestamp", deep)), Error,
                         HasCode(ErrorCode::InvalidJson));
  REQUIRE_THROWS_MATCHES(StateSnapshot::from_bytes(std::string(10000, '{')), Error, HasCode(ErrorCode::InvalidJson));
}

TEST_CASE("from_bytes refuses JSON that is not an object", "[snapshot][from_bytes][invalid]") {
  for (const char* input : {"[]", "[1,2]", "\"snapshot\"", "42", "null", "true", "1.5"}) {
    INFO("input: " << input);
    REQUIRE_THROWS_MATCHES(StateSnapshot::from_bytes(input), Error, HasCode(ErrorCode::InvalidSnapshot));
  }
}

TEST_CASE("from_bytes refuses a snapshot with a missing field", "[snapshot][from_bytes][invalid]") {
  for (const char* field : {"plugin_id", "timestamp", "data", "plugin_version", "metadata"}) {
    INFO("missing: " << field);
    REQUIRE_THROWS_MATCHES(StateSnapshot::from_bytes(layout_with(field, "")), Error,
                           HasCode(ErrorCode::InvalidSnapshot));
  }
  REQUIRE_THROWS_MATCHES(StateSnapshot::from_bytes("{}"), Error, HasCode(ErrorCode::InvalidSnapshot));
}

TEST_CASE("from_bytes refuses a snapshot with a duplicate field", "[snapshot][from_bytes][invalid]") {
  const std::string valid = layout_with("", "");
  const std::string body = valid.substr(1, valid.size() - 2);
  for (const char* duplicate :
       {R"("plugin_id":"p")", R"("timestamp":7)", R"("data":{"k":1})", R"("plugin_version":"1.0.0")",
        R"("metadata":{"m":"v"})"}) {
    INFO("duplicate: " << duplicate);
    REQUIRE_THROWS_MATCHES(StateSnapshot::from_bytes("{" + body + "," + duplicate + "}"), Error,
                           HasCode(ErrorCode::InvalidSnapshot));
  }
}

TEST_CASE("from_bytes refuses a timestamp that is not an unsigned 64-bit integer", "[snapshot][from_bytes][invalid]") {
  for (const char* timestamp :
       {"-1", "-0", "1.5", "7.0", "1e3", "\"7\"", "null", "true", "[7]", "{}", "18446744073709551616",
        "-9223372036854775808"}) {
    INFO("timestamp: " << timestamp);
    REQUIRE_THROWS_MATCHES(StateSnapshot::from_bytes(layout_with("timestamp", timestamp)), Error,
                           HasCode(ErrorCode::InvalidSnapshot));
  }
  REQUIRE(StateSnapshot::from_bytes(layout_with("timestamp", "0")).timestamp == 0);
  REQUIRE(StateSnapshot::from_bytes(layout_with("timestamp", "18446744073709551615")).timestamp ==
          std::numeric_limits<std::uint64_t>::max());
}

TEST_CASE("from_bytes refuses mistyped plugin_id, plugin_version, data and metadata", "[snapshot][from_bytes][invalid]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"plugin_id", "5"},          {"plugin_id", "null"},      {"plugin_id", "[\"p\"]"},
      {"plugin_version", "1.0"},   {"plugin_version", "{}"},   {"data", "[]"},
      {"data", "\"x\""},           {"data", "null"},           {"data", "1"},
      {"metadata", "[]"},          {"metadata", "null"},       {"metadata", R"({"m":1})"},
      {"metadata", R"({"m":null})"}, {"metadata", R"({"m":["v"]})"}, {"metadata", R"({"a":"ok","m":{}})"},
  };
  for (const auto& [field, text] : cases) {
    INFO(field << ": " << text);
    REQUIRE_THROWS_MATCHES(StateSnapshot::from_bytes(layout_with(field, text)), Error,
                           HasCode(ErrorCode::InvalidSnapshot));
  }
}
