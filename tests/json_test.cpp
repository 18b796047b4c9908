// Json: canonical text (the seed's serde_json output), the writer, and the
// conversions between C++ types and JSON.
#include <catch2/catch.hpp>


#include <cmath>
#include <exception>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hotstate/error.hpp"
#include "hotstate/json.hpp"

#include "support.hpp"

using hotstate::Error;
using hotstate::ErrorCode;
using hotstate_test::HasCode;
using hotstate::Json;
using hotstate::JsonType;
using hotstate::JsonView;
using hotstate::JsonWriter;
using IntMap = std::map<std::string, int>;

namespace {

std::string canonical(std::string_view text) { return Json::parse(text).text(); }

template <class T>
void require_round_trip(const T& value) {
  const Json json = Json::from(value);
  const T back = json.get<T>();
  REQUIRE(back == value);
  // The text is canonical: parsing it again changes nothing.
  REQUIRE(Json::parse(json.text()) == json);
}

std::string nested_arrays(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }


}  // namespace

// A user type outside hotstate, joining in through ADL.
namespace geometry {

struct Point {
  int x = 0;
  int y = 0;
  friend bool operator==(const Point&, const Point&) = default;
};

void to_json(hotstate::JsonWriter& out, const Point& p) {
  out.begin_object();
  out.member("y", p.y);  // written out of order: the writer sorts
  out.member("x", p.x);
  out.end_object();
}

void from_json(const hotstate::JsonView& in, Point& p) {
  p.x = in["x"].get<int>();
  p.y = in["y"].get<int>();
}

// Holds a Json and, while reading it, converts that Json again (a nested
// Json::get inside a from_json), then keeps reading the outer view.
struct Envelope {
  std::string kind;
  hotstate::Json payload;
  std::vector<Point> points;  // decoded from payload with Json::get
  std::size_t outer_size = 0;
  friend bool operator==(const Envelope&, const Envelope&) = default;
};

void to_json(hotstate::JsonWriter& out, const Envelope& e) {
  out.begin_object();
  out.member("payload", e.payload);
  out.member("kind", e.kind);
  out.end_object();
}

void from_json(const hotstate::JsonView& in, Envelope& e) {
  e.payload = in["payload"].get<hotstate::Json>();
  if (e.payload.type() == hotstate::JsonType::Array) {
    e.points = e.payload.get<std::vector<Point>>();  // re-enters Json::get
  } else if (e.payload.type() == hotstate::JsonType::Object) {
    // An envelope inside an envelope: another level of re-entry.
    const auto inner = e.payload.get<Envelope>();
    e.points = inner.points;
  }
  // The outer view must still be usable after the nested conversions.
  e.kind = std::string(in["kind"].as_string());
  e.outer_size = in.size();
}

// A type whose from_json fails with something other than a type mismatch.
struct Picky {
  int value = 0;
};
void to_json(hotstate::JsonWriter& out, const Picky& p) { out.value(p.value); }
void from_json(const hotstate::JsonView& in, Picky& p) {
  p.value = in.get<int>();
  if (p.value < 0) throw hotstate::Error(hotstate::ErrorCode::InvalidArgument, "negative");
}

}  // namespace geometry

// ---------------------------------------------------------------------------
// Json::parse: canonical form

TEST_CASE("a default Json is null", "[json]") {
  const Json json;
  REQUIRE(json.text() == "null");
  REQUIRE(json.type() == JsonType::Null);
  REQUIRE(json == Json::parse("null"));
}

TEST_CASE("parse removes white space around and inside values", "[json][parse]") {
  REQUIRE(canonical(" \t\r\n{ \"b\" : [ 1 , 2 , { } , [ ] ] ,\n\t\"a\" : null }\n ") == R"({"a":null,"b":[1,2,{},[]]})");
  REQUIRE(canonical("  true  ") == "true");
  REQUIRE(canonical("\n\"  spaced  \"\n") == R"("  spaced  ")");
}

TEST_CASE("parse sorts object keys by their UTF-8 bytes", "[json][parse]") {
  REQUIRE(canonical(R"({"b":1,"a":2,"c":3})") == R"({"a":2,"b":1,"c":3})");
  // Bytes, not code points or locale: "" < "Z" < "a" < "z" < "é" (0xC3 0xA9) < "😀" (0xF0 ...).
  REQUIRE(canonical("{\"\xF0\x9F\x98\x80\":1,\"\xC3\xA9\":2,\"z\":3,\"a\":4,\"Z\":5,\"\":6}") ==
          "{\"\":6,\"Z\":5,\"a\":4,\"z\":3,\"\xC3\xA9\":2,\"\xF0\x9F\x98\x80\":1}");
  // Prefixes come first.
  REQUIRE(canonical(R"({"ab":1,"a":2,"abc":3})") == R"({"a":2,"ab":1,"abc":3})");
  // Sorting is by the unescaped key.
  REQUIRE(canonical(R"({"\u0062":1,"a":2})") == R"({"a":2,"b":1})");
  // Nested objects are sorted too, at every level.
  REQUIRE(canonical(R"([{"y":{"d":1,"c":[{"f":1,"e":2}]},"x":0}])") == R"([{"x":0,"y":{"c":[{"e":2,"f":1}],"d":1}}])");
}

TEST_CASE("parse keeps the last of duplicate keys", "[json][parse]") {
  REQUIRE(canonical(R"({"a":1,"b":2,"a":3})") == R"({"a":3,"b":2})");
  REQUIRE(canonical(R"({"a":1,"a":2,"a":3})") == R"({"a":3})");
  REQUIRE(canonical(R"({"b":1,"a":{"x":1},"a":[]})") == R"({"a":[],"b":1})");
  REQUIRE(canonical(R"([{"x":1,"x":{"y":2,"y":3}}])") == R"([{"x":{"y":3}}])");
  // Already sorted except for the duplicate.
  REQUIRE(canonical(R"({"a":1,"b":2,"b":3,"c":4})") == R"({"a":1,"b":3,"c":4})");
}

TEST_CASE("parse prints numbers as serde_json does", "[json][parse][numbers]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"0", "0"},
      {"-1", "-1"},
      {"42", "42"},
      {"9223372036854775807", "9223372036854775807"},
      {"-9223372036854775808", "-9223372036854775808"},
      {"18446744073709551615", "18446744073709551615"},
      {"1.0", "1.0"},
      {"1.50", "1.5"},
      {"0.1", "0.1"},
      {"0.5", "0.5"},
      {"1e16", "1e16"},
      {"1E16", "1e16"},
      {"1e+16", "1e16"},
      {"1e15", "1000000000000000.0"},
      {"1000000000000000.0", "1000000000000000.0"},
      {"1e21", "1e21"},
      {"1e300", "1e300"},
      {"1e-7", "1e-7"},
      {"0.000123", "0.000123"},
      {"0.0001", "0.0001"},
      {"0.00001", "0.00001"},
      {"0.000001", "1e-6"},
      {"0.0000012345", "1.2345e-6"},
      {"123456789.125", "123456789.125"},
      {"1234567890123456.7", "1234567890123456.8"},
      {"12345678901234567.0", "1.2345678901234568e16"},
      {"2.5E3", "2500.0"},
      {"1.5e1", "15.0"},
      {"123.456", "123.456"},
      {"0.3333333333333333", "0.3333333333333333"},
      {"-0.0", "-0.0"},
      {"0.0", "0.0"},
      {"0e0", "0.0"},
      {"-0", "-0.0"},
      {"5e-324", "5e-324"},
      {"1.7976931348623157e308", "1.7976931348623157e308"},
      {"-1.7976931348623157e308", "-1.7976931348623157e308"},
      {"1.2345678901234567e-300", "1.2345678901234568e-300"},
      // Integers beyond 64 bits become doubles, as in the seed.
      {"18446744073709551616", "1.8446744073709552e19"},
      {"-9223372036854775809", "-9.223372036854776e18"},
      {"123456789012345678901234567890", "1.2345678901234568e29"},
  };
  for (const auto& [input, expected] : cases) {
    INFO("input: " << input);
    REQUIRE(canonical(input) == expected);
    // Inside containers too.
    REQUIRE(canonical("[" + input + "]") == "[" + expected + "]");
    REQUIRE(canonical("{\"k\":" + input + "}") == "{\"k\":" + expected + "}");
  }
}

TEST_CASE("parse writes strings with serde_json's escapes", "[json][parse][strings]") {
  // Named escapes only for these seven.
  REQUIRE(canonical(R"("\"\\\b\f\n\r\t")") == R"("\"\\\b\f\n\r\t")");
  // Other control characters as lowercase \u00XX.
  REQUIRE(canonical(R"("\u0000\u0001\u001F\u001f\u000B")") == R"("\u0000\u0001\u001f\u001f\u000b")");
  // The solidus, DEL and everything non-ASCII are written raw.
  REQUIRE(canonical(R"("\/")") == R"("/")");
  REQUIRE(canonical(R"("\u007f")") == "\"\x7f\"");
  REQUIRE(canonical(R"("\u00e9\u00A0\u2028\u200f")") == "\"\xC3\xA9\xC2\xA0\xE2\x80\xA8\xE2\x80\x8F\"");
  REQUIRE(canonical(R"("\u0041\u0062c")") == R"("Abc")");
  // A surrogate pair becomes the one character.
  REQUIRE(canonical(R"("\ud83d\ude00")") == "\"\xF0\x9F\x98\x80\"");
  REQUIRE(canonical(R"("\uD83D\uDE80!")") == "\"\xF0\x9F\x9A\x80!\"");
  // Raw UTF-8 stays as it is.
  REQUIRE(canonical("\"h\xC3\xA9llo \xE6\xBC\xA2\xE5\xAD\x97 \xF0\x9F\x98\x80\"") ==
          "\"h\xC3\xA9llo \xE6\xBC\xA2\xE5\xAD\x97 \xF0\x9F\x98\x80\"");
  // Keys get the same treatment.
  REQUIRE(canonical(R"({"\n\u0001\/":1})") == R"({"\n\u0001/":1})");
}

TEST_CASE("parse reports the type of each value", "[json][parse]") {
  REQUIRE(Json::parse("null").type() == JsonType::Null);
  REQUIRE(Json::parse("true").type() == JsonType::Boolean);
  REQUIRE(Json::parse("false").type() == JsonType::Boolean);
  REQUIRE(Json::parse("0").type() == JsonType::Integer);
  REQUIRE(Json::parse("-12").type() == JsonType::Integer);
  REQUIRE(Json::parse("18446744073709551615").type() == JsonType::Integer);
  REQUIRE(Json::parse("-9223372036854775808").type() == JsonType::Integer);
  REQUIRE(Json::parse("1.0").type() == JsonType::Double);
  REQUIRE(Json::parse("1e16").type() == JsonType::Double);
  REQUIRE(Json::parse("-0").type() == JsonType::Double);
  REQUIRE(Json::parse("18446744073709551616").type() == JsonType::Double);
  REQUIRE(Json::parse("\"1\"").type() == JsonType::String);
  REQUIRE(Json::parse("[]").type() == JsonType::Array);
  REQUIRE(Json::parse("{}").type() == JsonType::Object);
  REQUIRE(std::string(hotstate::to_string(JsonType::Object)) == "object");
  REQUIRE(std::string(hotstate::to_string(JsonType::Integer)) == "integer");
}

TEST_CASE("Json equality compares values, not spellings", "[json]") {
  REQUIRE(Json::parse(R"({"b":1,"a":[1.0,"x"]})") == Json::parse(R"( { "a" : [ 1.00 , "\u0078" ] , "b" : 1 } )"));
  REQUIRE(Json::parse("1e2") == Json::parse("100.0"));
  // As in serde_json: 1 and 1.0 differ, and so do 0.0 and -0.0.
  REQUIRE_FALSE(Json::parse("1") == Json::parse("1.0"));
  REQUIRE_FALSE(Json::parse("0.0") == Json::parse("-0.0"));
  REQUIRE_FALSE(Json::parse("[1,2]") == Json::parse("[2,1]"));
  REQUIRE_FALSE(Json::parse("\"1\"") == Json::parse("1"));
}

TEST_CASE("parse accepts nesting up to json_max_depth", "[json][parse][depth]") {
  REQUIRE(hotstate::json_max_depth == 128);  // serde_json's limit: the seed could read no deeper
  const Json deepest = Json::parse(nested_arrays(hotstate::json_max_depth));
  REQUIRE(deepest.text() == nested_arrays(hotstate::json_max_depth));
  REQUIRE(deepest.type() == JsonType::Array);
  // And it can be read back through a view.
  const auto elements = deepest.get<std::vector<Json>>();
  REQUIRE(elements.size() == 1);
  REQUIRE(elements[0].text() == nested_arrays(hotstate::json_max_depth - 1));
  REQUIRE_FALSE(deepest.try_get<bool>().has_value());

  std::string objects;
  for (std::size_t i = 0; i < hotstate::json_max_depth; ++i) objects += "{\"a\":";
  objects += "1";
  objects += std::string(hotstate::json_max_depth, '}');
  REQUIRE(Json::parse(objects).text() == objects);
}

TEST_CASE("parse refuses invalid JSON with InvalidJson", "[json][parse][invalid]") {
  const std::vector<std::string> inputs = {
      // empty and truncated
      "", " ", "[", "[1", "[1,", "{", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,", "\"abc", "\"abc\\", "tru", "nul",
      "fals", "-", "1e", "1e+", "1.",
      // trailing garbage
      "1 2", "[1] x", "{}{}", "[]]", "{\"a\":1}}", "truex", "nullx", "\"a\"b", "[1]\n,", std::string("1\0", 2),
      // structure
      "[1,]", "[,1]", "[,]", "[1 2]", "{\"a\":1,}", "{,}", "{\"a\" 1}", "{\"a\":}", "{1:2}", "{a:1}", "{\"a\",1}",
      "[\"a\":1]", "{\"a\":1 \"b\":2}", "]", "}", ":", ",",
      // atoms and numbers
      "True", "NULL", "[tru]", "[nul]", "01", "-01", ".5", "+1", "1.e3", "0x10", "NaN", "-Infinity", "Infinity",
      "'a'", "[truex]", "[1x]", "1e400", "-1e400", "[1e400]", "{\"big\":-1e999}",
      // strings: bad escapes, raw control characters
      R"("\x")", R"("\u12")", R"("\u12G4")", R"("\U0041")", "\"a\x01" "b\"", "\"a\nb\"", "\"\t\"", "\"\x1f\"",
      std::string("\"a\0b\"", 5), "{\"k\x02\":1}",
      // lone or broken surrogates
      R"("\ud800")", R"("\ud83d")", R"("\ud800x")", R"("\ud800\u0041")", R"("\ud800\ud800")", R"(["\ud800"])",
      R"({"\ud800":1})",
      // invalid UTF-8
      "\"\xff\"", "\"\xc3\"", "\"\xc3(\"", "\"\xc0\xaf\"", "\"\xe0\x80\xaf\"", "\"\xed\xa0\x80\"",
      "\"\xf4\x90\x80\x80\"", "{\"\xff\":1}", "[\"ok\",\"\x80\"]", "\xef\xbb\xbf" "1",
  };
  for (const std::string& input : inputs) {
    INFO("input: " << input);
    REQUIRE_THROWS_MATCHES(Json::parse(input), Error, HasCode(ErrorCode::InvalidJson));
  }
}

TEST_CASE("parse refuses a lone low surrogate escape", "[json][parse][invalid]") {
  // serde_json refuses \udc00 without a preceding high surrogate.
  REQUIRE_THROWS_MATCHES(Json::parse(R"("\udc00")"), Error, HasCode(ErrorCode::InvalidJson));
  REQUIRE_THROWS_MATCHES(Json::parse(R"("a\udfffb")"), Error, HasCode(ErrorCode::InvalidJson));
}

TEST_CASE("parse refuses nesting deeper than json_max_depth without crashing", "[json][parse][depth]") {
  const auto parse_deep = [](const std::string& text) { return Json::parse(text); };
  REQUIRE_THROWS_MATCHES(parse_deep(nested_arrays(hotstate::json_max_depth + 1)), Error,
                         HasCode(ErrorCode::InvalidJson));
  REQUIRE_THROWS_MATCHES(parse_deep(std::string(10000, '[')), Error, HasCode(ErrorCode::InvalidJson));
  REQUIRE_THROWS_MATCHES(parse_deep(nested_arrays(10000)), Error, HasCode(ErrorCode::InvalidJson));
  REQUIRE_THROWS_MATCHES(parse_deep(nested_arrays(100000)), Error, HasCode(ErrorCode::InvalidJson));
  std::string objects;
  for (int i = 0; i < 10000; ++i) objects += "{\"a\":";
  REQUIRE_THROWS_MATCHES(parse_deep(objects), Error, HasCode(ErrorCode::InvalidJson));
  objects += "1" + std::string(10000, '}');
  REQUIRE_THROWS_MATCHES(parse_deep(objects), Error, HasCode(ErrorCode::InvalidJson));
  // The parser is still usable afterwards.
  REQUIRE_THROWS(Json::parse(std::string(10000, '[')));
  REQUIRE(Json::parse("[1]").text() == "[1]");
}

// ---------------------------------------------------------------------------
// JsonWriter

TEST_CASE("JsonWriter writes canonical text", "[json][writer]") {
  JsonWriter writer;
  writer.begin_array();
  writer.null();
  writer.boolean(true);
  writer.integer(std::int64_t{-5});
  writer.integer(std::numeric_limits<std::uint64_t>::max());
  writer.number(1.0);
  writer.number(1e16);
  writer.number(-0.0);
  writer.string("a\"\\\n\x01\x7f/\xC3\xA9");
  writer.json(Json::parse(R"({"b":1,"a":2})"));
  writer.begin_object();
  writer.end_object();
  writer.begin_array();
  writer.end_array();
  writer.end_array();
  REQUIRE(writer.take().text() ==
          "[null,true,-5,18446744073709551615,1.0,1e16,-0.0,\"a\\\"\\\\\\n\\u0001\x7f/\xC3\xA9\",{\"a\":2,\"b\":1},{},[]]");
}

TEST_CASE("JsonWriter sorts object members written out of order", "[json][writer]") {
  JsonWriter writer;
  writer.begin_object();
  writer.member("zeta", 1);
  writer.key("alpha");
  writer.begin_object();
  writer.member("y", std::vector<int>{3, 2});
  writer.member("x", "first");
  writer.end_object();
  writer.member("", true);
  writer.member("\xC3\xA9", 2);
  writer.member("Mid", nullptr);
  writer.end_object();
  REQUIRE(writer.take().text() ==
          "{\"\":true,\"Mid\":null,\"alpha\":{\"x\":\"first\",\"y\":[3,2]},\"zeta\":1,\"\xC3\xA9\":2}");
}

TEST_CASE("JsonWriter keeps the last of duplicate keys", "[json][writer]") {
  JsonWriter writer;
  writer.begin_object();
  writer.member("b", 1);
  writer.member("a", std::vector<int>{1, 2, 3});
  writer.member("b", "second");
  writer.member("a", 7);
  writer.member("c", std::map<std::string, int>{{"k", 1}});
  writer.end_object();
  REQUIRE(writer.take().text() == R"({"a":7,"b":"second","c":{"k":1}})");

  JsonWriter sorted_dup;
  sorted_dup.begin_object();
  sorted_dup.member("a", 1);
  sorted_dup.member("a", 2);
  sorted_dup.end_object();
  REQUIRE(sorted_dup.take().text() == R"({"a":2})");
}

TEST_CASE("JsonWriter is empty and reusable after take", "[json][writer]") {
  JsonWriter writer;
  writer.integer(std::int64_t{1});
  REQUIRE(writer.take().text() == "1");
  writer.string("again");
  REQUIRE(writer.take().text() == "\"again\"");
  REQUIRE_THROWS_MATCHES(writer.take(), Error, HasCode(ErrorCode::InvalidArgument));
}

TEST_CASE("JsonWriter refuses misuse with InvalidArgument", "[json][writer]") {
  SECTION("a value where a key is due") {
    JsonWriter writer;
    writer.begin_object();
    REQUIRE_THROWS_MATCHES(writer.integer(std::int64_t{1}), Error, HasCode(ErrorCode::InvalidArgument));
  }
  SECTION("a key outside an object") {
    JsonWriter top;
    REQUIRE_THROWS_MATCHES(top.key("a"), Error, HasCode(ErrorCode::InvalidArgument));
    JsonWriter in_array;
    in_array.begin_array();
    REQUIRE_THROWS_MATCHES(in_array.key("a"), Error, HasCode(ErrorCode::InvalidArgument));
  }
  SECTION("two keys in a row") {
    JsonWriter writer;
    writer.begin_object();
    writer.key("a");
    REQUIRE_THROWS_MATCHES(writer.key("b"), Error, HasCode(ErrorCode::InvalidArgument));
  }
  SECTION("a key without a value") {
    JsonWriter writer;
    writer.begin_object();
    writer.key("a");
    REQUIRE_THROWS_MATCHES(writer.end_object(), Error, HasCode(ErrorCode::InvalidArgument));
  }
  SECTION("unbalanced or mismatched ends") {
    JsonWriter empty;
    REQUIRE_THROWS_MATCHES(empty.end_array(), Error, HasCode(ErrorCode::InvalidArgument));
    REQUIRE_THROWS_MATCHES(empty.end_object(), Error, HasCode(ErrorCode::InvalidArgument));
    JsonWriter array;
    array.begin_array();
    REQUIRE_THROWS_MATCHES(array.end_object(), Error, HasCode(ErrorCode::InvalidArgument));
    JsonWriter object;
    object.begin_object();
    REQUIRE_THROWS_MATCHES(object.end_array(), Error, HasCode(ErrorCode::InvalidArgument));
  }
  SECTION("take on an incomplete value") {
    JsonWriter empty;
    REQUIRE_THROWS_MATCHES(empty.take(), Error, HasCode(ErrorCode::InvalidArgument));
    JsonWriter open;
    open.begin_array();
    open.integer(std::int64_t{1});
    REQUIRE_THROWS_MATCHES(open.take(), Error, HasCode(ErrorCode::InvalidArgument));
  }
  SECTION("a second value at the top level") {
    JsonWriter writer;
    writer.null();
    REQUIRE_THROWS_MATCHES(writer.boolean(true), Error, HasCode(ErrorCode::InvalidArgument));
    JsonWriter after_array;
    after_array.begin_array();
    after_array.end_array();
    REQUIRE_THROWS_MATCHES(after_array.begin_object(), Error, HasCode(ErrorCode::InvalidArgument));
  }
}

TEST_CASE("JsonWriter refuses NaN and infinities with NonFiniteNumber", "[json][writer]") {
  JsonWriter writer;
  writer.begin_array();
  REQUIRE_THROWS_MATCHES(writer.number(std::numeric_limits<double>::quiet_NaN()), Error,
                         HasCode(ErrorCode::NonFiniteNumber));
  REQUIRE_THROWS_MATCHES(writer.number(std::numeric_limits<double>::infinity()), Error,
                         HasCode(ErrorCode::NonFiniteNumber));
  REQUIRE_THROWS_MATCHES(writer.number(-std::numeric_limits<double>::infinity()), Error,
                         HasCode(ErrorCode::NonFiniteNumber));
  // Nothing was written by the refused calls.
  writer.number(2.0);
  writer.end_array();
  REQUIRE(writer.take().text() == "[2.0]");

  REQUIRE_THROWS_MATCHES(Json::from(std::nan("")), Error, HasCode(ErrorCode::NonFiniteNumber));
  REQUIRE_THROWS_MATCHES(Json::from(std::numeric_limits<float>::infinity()), Error,
                         HasCode(ErrorCode::NonFiniteNumber));
  REQUIRE_THROWS_MATCHES(Json::from(std::vector<double>{1.0, std::nan("")}), Error,
                         HasCode(ErrorCode::NonFiniteNumber));
  REQUIRE_THROWS_MATCHES((Json::from(std::map<std::string, double>{{"x", -std::numeric_limits<double>::infinity()}})),
                         Error, HasCode(ErrorCode::NonFiniteNumber));
}

TEST_CASE("JsonWriter refuses strings and keys that are not UTF-8", "[json][writer]") {
  const std::vector<std::string> invalid = {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"};
  for (const std::string& text : invalid) {
    INFO("text: " << text);
    JsonWriter writer;
    REQUIRE_THROWS_MATCHES(writer.string(text), Error, HasCode(ErrorCode::InvalidUtf8));
    JsonWriter keyed;
    keyed.begin_object();
    REQUIRE_THROWS_MATCHES(keyed.key(text), Error, HasCode(ErrorCode::InvalidUtf8));
    REQUIRE_THROWS_MATCHES(Json::from(text), Error, HasCode(ErrorCode::InvalidUtf8));
    REQUIRE_THROWS_MATCHES((Json::from(std::map<std::string, int>{{text, 1}})), Error, HasCode(ErrorCode::InvalidUtf8));
  }
  // A NUL inside a string is valid UTF-8 and escaped.
  REQUIRE(Json::from(std::string("a\0b", 3)).text() == R"("a\u0000b")");
}

TEST_CASE("JsonWriter refuses nesting deeper than json_max_depth", "[json][writer][depth]") {
  JsonWriter writer;
  for (std::size_t i = 0; i < hotstate::json_max_depth; ++i) writer.begin_array();
  REQUIRE_THROWS_MATCHES(writer.begin_array(), Error, HasCode(ErrorCode::InvalidJson));
  REQUIRE_THROWS_MATCHES(writer.begin_object(), Error, HasCode(ErrorCode::InvalidJson));
  for (std::size_t i = 0; i < hotstate::json_max_depth; ++i) writer.end_array();
  const Json deepest = writer.take();
  REQUIRE(deepest.text() == nested_arrays(hotstate::json_max_depth));
  REQUIRE(Json::parse(deepest.text()) == deepest);
}

// ---------------------------------------------------------------------------
// Conversions

TEST_CASE("bool and null round-trip", "[json][convert]") {
  REQUIRE(Json::from(true).text() == "true");
  REQUIRE(Json::from(false).text() == "false");
  require_round_trip(true);
  require_round_trip(false);
  REQUIRE(Json::from(nullptr).text() == "null");
  REQUIRE(Json::from(static_cast<const char*>(nullptr)).text() == "null");
}

TEMPLATE_TEST_CASE("every integer type round-trips its whole range", "[json][convert][integers]", signed char,
                   unsigned char, short, unsigned short, int, unsigned int, long, unsigned long, long long,
                   unsigned long long, std::int8_t, std::uint8_t, std::int16_t, std::uint16_t, std::int32_t,
                   std::uint32_t, std::int64_t, std::uint64_t, std::size_t) {
  using limits = std::numeric_limits<TestType>;
  require_round_trip(limits::min());
  require_round_trip(limits::max());
  require_round_trip(static_cast<TestType>(0));
  require_round_trip(static_cast<TestType>(1));
  REQUIRE(Json::from(limits::max()).text() == std::to_string(limits::max()));
  REQUIRE(Json::from(limits::min()).text() == std::to_string(limits::min()));
  REQUIRE(Json::from(limits::max()).type() == JsonType::Integer);
}

TEST_CASE("64-bit integer extremes are kept exactly", "[json][convert][integers]") {
  REQUIRE(Json::from(std::numeric_limits<std::int64_t>::min()).text() == "-9223372036854775808");
  REQUIRE(Json::from(std::numeric_limits<std::int64_t>::max()).text() == "9223372036854775807");
  REQUIRE(Json::from(std::numeric_limits<std::uint64_t>::max()).text() == "18446744073709551615");
  REQUIRE(Json::parse("-9223372036854775808").get<std::int64_t>() == std::numeric_limits<std::int64_t>::min());
  REQUIRE(Json::parse("18446744073709551615").get<std::uint64_t>() == std::numeric_limits<std::uint64_t>::max());
  REQUIRE(Json::parse("9223372036854775807").get<std::uint64_t>() == 9223372036854775807ULL);
}

TEST_CASE("doubles and floats round-trip", "[json][convert][doubles]") {
  REQUIRE(Json::from(1e300).text() == "1e300");
  REQUIRE(Json::from(0.1).text() == "0.1");
  REQUIRE(Json::from(1.0).text() == "1.0");
  REQUIRE(Json::from(-0.0).text() == "-0.0");
  REQUIRE(Json::from(0.5f).text() == "0.5");
  for (double d : {1e300, 0.1, 1.0, 0.0, 1e-7, 5e-324, std::numeric_limits<double>::max(),
                   std::numeric_limits<double>::lowest(), 0.3333333333333333, 123456.789}) {
    INFO("value: " << d);
    require_round_trip(d);
  }
  const double negative_zero = Json::from(-0.0).get<double>();
  REQUIRE(negative_zero == 0.0);
  REQUIRE(std::signbit(negative_zero));
  for (float f : {0.1f, 1.5f, -3.25f, std::numeric_limits<float>::max(), std::numeric_limits<float>::min()}) {
    INFO("value: " << f);
    require_round_trip(f);
  }
}

TEST_CASE("strings round-trip from std::string, string_view and const char*", "[json][convert][strings]") {
  require_round_trip(std::string());
  require_round_trip(std::string("h\xC3\xA9llo \"w\\orld\"\n\t\x01\x7f \xF0\x9F\x98\x80"));
  require_round_trip(std::string("a\0b", 3));
  const char* c_string = "plain";
  REQUIRE(Json::from(c_string).text() == "\"plain\"");
  REQUIRE(Json::from("literal").text() == "\"literal\"");
  REQUIRE(Json::from(std::string_view("view")).text() == "\"view\"");
  REQUIRE(Json::from("literal").get<std::string>() == "literal");
}

TEST_CASE("vectors round-trip, including std::vector<bool>", "[json][convert][containers]") {
  require_round_trip(std::vector<int>{});
  require_round_trip(std::vector<int>{1, -2, 3});
  require_round_trip(std::vector<std::string>{"a", "", "c"});
  require_round_trip(std::vector<std::vector<double>>{{1.0, 2.5}, {}, {-0.0}});
  REQUIRE(Json::from(std::vector<bool>{true, false, true}).text() == "[true,false,true]");
  require_round_trip(std::vector<bool>{true, false, true});
  require_round_trip(std::vector<bool>{});
  REQUIRE(Json::from(std::vector<int>{3, 1, 2}).text() == "[3,1,2]");
}

TEST_CASE("maps round-trip and are written with sorted keys", "[json][convert][containers]") {
  const std::map<std::string, int> ordered = {{"b", 2}, {"a", 1}, {"\xC3\xA9", 3}, {"Z", 4}};
  REQUIRE(Json::from(ordered).text() == "{\"Z\":4,\"a\":1,\"b\":2,\"\xC3\xA9\":3}");
  require_round_trip(ordered);
  require_round_trip(std::map<std::string, int>{});

  std::unordered_map<std::string, std::string> unordered;
  for (int i = 0; i < 50; ++i) unordered.emplace("key" + std::to_string(i), std::to_string(i));
  const Json json = Json::from(unordered);
  REQUIRE(json == Json::from(std::map<std::string, std::string>(unordered.begin(), unordered.end())));
  require_round_trip(unordered);
}

TEST_CASE("an empty optional is null and a full one is its value", "[json][convert][optional]") {
  REQUIRE(Json::from(std::optional<int>()).text() == "null");
  REQUIRE(Json::from(std::optional<int>(5)).text() == "5");
  require_round_trip(std::optional<int>());
  require_round_trip(std::optional<int>(5));
  require_round_trip(std::optional<std::string>("x"));
  REQUIRE_FALSE(Json::parse("null").get<std::optional<double>>().has_value());
  REQUIRE(Json::parse("2.5").get<std::optional<double>>() == std::optional<double>(2.5));
}

TEST_CASE("nested containers round-trip", "[json][convert][containers]") {
  const std::map<std::string, std::vector<std::optional<int>>> nested = {
      {"b", {}}, {"a", {1, std::nullopt, 3}}, {"c", {std::nullopt}}};
  const Json json = Json::from(nested);
  REQUIRE(json.text() == R"({"a":[1,null,3],"b":[],"c":[null]})");
  require_round_trip(nested);

  const std::vector<std::map<std::string, std::vector<std::string>>> deep = {{{"x", {"1", "2"}}}, {}};
  REQUIRE(Json::from(deep).text() == R"([{"x":["1","2"]},{}])");
  require_round_trip(deep);
}

TEST_CASE("Json itself converts to and from JSON unchanged", "[json][convert]") {
  const Json value = Json::parse(R"({"b":[1,2.0,"x"],"a":{"n":null}})");
  REQUIRE(Json::from(value) == value);
  REQUIRE(value.get<Json>() == value);
  const std::vector<Json> list = {value, Json(), Json::parse("-0.0")};
  const Json packed = Json::from(list);
  REQUIRE(packed.text() == R"([{"a":{"n":null},"b":[1,2.0,"x"]},null,-0.0])");
  REQUIRE(packed.get<std::vector<Json>>() == list);
  const auto members = value.get<std::map<std::string, Json>>();
  REQUIRE(members.at("a").text() == R"({"n":null})");
  REQUIRE(members.at("b").text() == R"([1,2.0,"x"])");
  // Values taken out of a document are canonical, numbers included.
  const auto numbers = Json::parse("[1e15,18446744073709551616,-0,0.000123]").get<std::vector<Json>>();
  REQUIRE(numbers.size() == 4);
  REQUIRE(numbers[0].text() == "1000000000000000.0");
  REQUIRE(numbers[1].text() == "1.8446744073709552e19");
  REQUIRE(numbers[2].text() == "-0.0");
  REQUIRE(numbers[3].text() == "0.000123");
}

TEST_CASE("reading is strict about types and ranges", "[json][convert][strict]") {
  REQUIRE_THROWS_MATCHES(Json::parse("1.0").get<int>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse("1e2").get<std::int64_t>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse("300").get<std::uint8_t>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse("-129").get<std::int8_t>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse("2147483648").get<std::int32_t>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse("-1").get<std::uint64_t>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse("-1").get<unsigned>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse("9223372036854775808").get<std::int64_t>(), Error,
                         HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse("18446744073709551616").get<std::uint64_t>(), Error,
                         HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse("5").get<std::string>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse("\"5\"").get<int>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse("\"5\"").get<double>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse("1").get<bool>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse("null").get<int>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse("{}").get<std::vector<int>>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse("[]").get<IntMap>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse("[1,\"a\"]").get<std::vector<int>>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse(R"({"a":1,"b":1.5})").get<IntMap>(), Error,
                         HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse("\"x\"").get<std::optional<int>>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse("[true,1]").get<std::vector<bool>>(), Error, HasCode(ErrorCode::TypeMismatch));

  // double reads any number, integers included.
  REQUIRE(Json::parse("42").get<double>() == 42.0);
  REQUIRE(Json::parse("-7").get<double>() == -7.0);
  REQUIRE(Json::parse("18446744073709551615").get<double>() == 18446744073709551615.0);
  REQUIRE(Json::parse("42").get<float>() == 42.0f);
  REQUIRE(Json::parse("255").get<std::uint8_t>() == 255);
  REQUIRE(Json::parse("-128").get<std::int8_t>() == -128);
}

TEST_CASE("try_get returns nullopt instead of a type mismatch", "[json][convert][strict]") {
  REQUIRE_FALSE(Json::parse("1.0").try_get<int>().has_value());
  REQUIRE_FALSE(Json::parse("300").try_get<std::uint8_t>().has_value());
  REQUIRE_FALSE(Json::parse("-1").try_get<std::uint64_t>().has_value());
  REQUIRE_FALSE(Json::parse("5").try_get<std::string>().has_value());
  REQUIRE_FALSE(Json::parse("[1,\"a\"]").try_get<std::vector<int>>().has_value());
  REQUIRE_FALSE(Json::parse(R"({"x":1})").try_get<geometry::Point>().has_value());
  REQUIRE(Json::parse("5").try_get<int>() == std::optional<int>(5));
  REQUIRE(Json::parse("5").try_get<double>() == std::optional<double>(5.0));
  REQUIRE(Json::parse("\"s\"").try_get<std::string>() == std::optional<std::string>("s"));
  // Other errors are not swallowed.
  REQUIRE(Json::parse("3").try_get<geometry::Picky>().has_value());
  REQUIRE_THROWS_MATCHES(Json::parse("-3").try_get<geometry::Picky>(), Error, HasCode(ErrorCode::InvalidArgument));
}

TEST_CASE("try_get returns nullopt for a mismatch of every built-in type family", "[json][convert][strict][try_get]") {
  const auto parse = [](std::string_view text) { return Json::parse(text); };
  // bool, double, float, std::string
  for (const char* text : {"1", "null", "\"true\"", "[true]"}) REQUIRE_FALSE(parse(text).try_get<bool>());
  for (const char* text : {"true", "null", "\"1.5\"", "[1.5]", "{}"}) REQUIRE_FALSE(parse(text).try_get<double>());
  for (const char* text : {"1e300", "-1e39", "\"1\"", "false"}) REQUIRE_FALSE(parse(text).try_get<float>());
  for (const char* text : {"5", "null", "true", "[\"s\"]", "{\"s\":\"s\"}"}) REQUIRE_FALSE(parse(text).try_get<std::string>());
  // std::optional: null is empty, anything else must convert.
  REQUIRE_FALSE(parse("\"x\"").try_get<std::optional<int>>());
  REQUIRE_FALSE(parse("300").try_get<std::optional<std::uint8_t>>());
  REQUIRE(parse("null").try_get<std::optional<int>>() == std::optional<std::optional<int>>(std::optional<int>()));
  // std::vector, std::map, std::unordered_map: the container, and any element.
  REQUIRE_FALSE(parse("{}").try_get<std::vector<int>>());
  REQUIRE_FALSE(parse("[1,2,\"3\"]").try_get<std::vector<int>>());
  REQUIRE_FALSE(parse("[true,1]").try_get<std::vector<bool>>());
  REQUIRE_FALSE(parse("[]").try_get<IntMap>());
  REQUIRE_FALSE(parse(R"({"a":1,"b":1.5})").try_get<IntMap>());
  REQUIRE_FALSE(parse("[]").try_get<std::unordered_map<std::string, std::string>>());
  REQUIRE_FALSE(parse(R"({"a":"x","b":null})").try_get<std::unordered_map<std::string, std::string>>());
  // Nested containers, with the mismatch at the innermost level.
  using Nested = std::map<std::string, std::vector<std::optional<std::int8_t>>>;
  REQUIRE(parse(R"({"a":[1,null,-128],"b":[]})").try_get<Nested>() ==
          std::optional<Nested>(Nested{{"a", {1, std::nullopt, -128}}, {"b", {}}}));
  REQUIRE_FALSE(parse(R"({"a":[1,null,-129],"b":[]})").try_get<Nested>());
  REQUIRE_FALSE(parse(R"({"a":[1,null],"b":[1.0]})").try_get<Nested>());
  REQUIRE_FALSE(parse(R"({"a":[1,null],"b":{}})").try_get<Nested>());
  REQUIRE_FALSE(parse(R"([{"a":[1]}])").try_get<Nested>());
  using Deep = std::vector<std::unordered_map<std::string, std::vector<std::vector<std::uint16_t>>>>;
  REQUIRE(parse(R"([{"k":[[1],[65535]]},{}])").try_get<Deep>().has_value());
  REQUIRE_FALSE(parse(R"([{"k":[[1],[65536]]},{}])").try_get<Deep>());
  REQUIRE_FALSE(parse(R"([{"k":[[1],[-1]]},{}])").try_get<Deep>());
  REQUIRE_FALSE(parse(R"([{"k":[[1],2]},{}])").try_get<Deep>());
  // Json holds any value: it never mismatches, nor does a container of it.
  REQUIRE(parse(R"([1,"a",null])").try_get<std::vector<Json>>().has_value());
  REQUIRE(parse("1.5").try_get<Json>() == std::optional<Json>(parse("1.5")));
}

TEMPLATE_TEST_CASE("try_get returns nullopt for an integer outside the type's range", "[json][convert][integers][try_get]",
                   signed char, unsigned char, short, unsigned short, int, unsigned int, long, unsigned long,
                   long long, unsigned long long, std::int8_t, std::uint8_t, std::int16_t, std::uint16_t,
                   std::int32_t, std::uint32_t, std::int64_t, std::uint64_t, std::size_t) {
  using limits = std::numeric_limits<TestType>;
  std::string above;  // max + 1
  std::string below;  // min - 1
  if constexpr (sizeof(TestType) < sizeof(std::int64_t)) {
    above = std::to_string(static_cast<std::int64_t>(limits::max()) + 1);
  } else {
    above = std::is_signed_v<TestType> ? "9223372036854775808" : "18446744073709551616";
  }
  if constexpr (!std::is_signed_v<TestType>) {
    below = "-1";
  } else if constexpr (sizeof(TestType) < sizeof(std::int64_t)) {
    below = std::to_string(static_cast<std::int64_t>(limits::min()) - 1);
  } else {
    below = "-9223372036854775809";
  }
  INFO("above: " << above << ", below: " << below);
  REQUIRE_FALSE(Json::parse(above).try_get<TestType>());
  REQUIRE_FALSE(Json::parse(below).try_get<TestType>());
  REQUIRE_FALSE(Json::parse("[0," + above + "]").try_get<std::vector<TestType>>());
  REQUIRE_FALSE(Json::parse("{\"k\":" + below + "}").try_get<std::map<std::string, TestType>>());
  for (const char* other : {"1.0", "\"1\"", "true", "null", "[1]", "{}"}) {
    INFO("other: " << other);
    REQUIRE_FALSE(Json::parse(other).try_get<TestType>());
  }
  // The bounds themselves fit.
  const Json max = Json::from(limits::max());
  const Json min = Json::from(limits::min());
  REQUIRE(max.try_get<TestType>() == std::optional<TestType>(limits::max()));
  REQUIRE(min.try_get<TestType>() == std::optional<TestType>(limits::min()));
  // get refuses the same values.
  REQUIRE_THROWS_MATCHES(Json::parse(above).get<TestType>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse(below).get<TestType>(), Error, HasCode(ErrorCode::TypeMismatch));
}

namespace {

// get and try_get apply one rule: try_get has a value exactly when get does
// not throw Error(TypeMismatch), and then the same value.
template <class T>
void require_same_rule(const Json& json) {
  std::optional<T> got;
  try {
    got = json.get<T>();
  } catch (const Error& error) {
    REQUIRE(error.code() == ErrorCode::TypeMismatch);
  }
  const std::optional<T> tried = json.try_get<T>();
  REQUIRE(tried.has_value() == got.has_value());
  if (got) REQUIRE(*tried == *got);
}

template <class... Ts>
void require_same_rule_for(const Json& json) {
  (require_same_rule<Ts>(json), ...);
}

}  // namespace

TEST_CASE("get and try_get accept the same values for every built-in type", "[json][convert][strict][try_get]") {
  const std::vector<std::string> texts = {
      "null", "true", "false", "0", "-1", "127", "128", "-128", "-129", "255", "256", "32767", "32768", "-32769",
      "65535", "65536", "2147483647", "2147483648", "-2147483649", "4294967295", "4294967296",
      "9223372036854775807", "9223372036854775808", "-9223372036854775808", "18446744073709551615",
      "18446744073709551616", "1.5", "-0.0", "1e300", "3.4e38", "\"\"", "\"s\"", "\"\\u0000\"", "[]", "[1,2]",
      "[1,\"a\"]", "[null,1]", "[true,false]", "[[1],[2,3]]", "[[1],[\"x\"]]", "{}", R"({"a":1})", R"({"a":1.5})",
      R"({"a":[1,null]})", R"({"a":[1,"x"]})", R"({"a":{"b":300}})", R"({"a":{"b":3}})"};
  for (const std::string& text : texts) {
    INFO("text: " << text);
    const Json json = Json::parse(text);
    require_same_rule_for<bool, signed char, unsigned char, std::int16_t, std::uint16_t, int, unsigned, long long,
                          std::uint64_t, std::size_t, double, float, std::string, Json>(json);
    require_same_rule_for<std::optional<int>, std::optional<std::string>, std::optional<std::vector<int>>,
                          std::vector<int>, std::vector<bool>, std::vector<std::optional<int>>,
                          std::vector<std::vector<int>>, std::vector<Json>, IntMap,
                          std::unordered_map<std::string, double>, std::map<std::string, std::vector<std::optional<int>>>,
                          std::map<std::string, std::map<std::string, std::uint8_t>>>(json);
  }
}

// A user type with both conversions: from_json counts its calls and reports a
// mismatch by throwing; try_from_json is its no-throw form.
namespace tagged {

int from_json_calls = 0;

struct Tag {
  std::string name;
  friend bool operator==(const Tag&, const Tag&) = default;
};
void to_json(hotstate::JsonWriter& out, const Tag& tag) { out.value(tag.name); }
void from_json(const hotstate::JsonView& in, Tag& tag) {
  ++from_json_calls;
  tag.name = in.get<std::string>();
}
bool try_from_json(const hotstate::JsonView& in, Tag& tag) { return try_from_json(in, tag.name); }

}  // namespace tagged

TEST_CASE("try_get uses a user type's try_from_json at any depth and never its from_json", "[json][convert][adl][try_get]") {
  using Tags = std::vector<std::map<std::string, std::optional<tagged::Tag>>>;
  const Json good = Json::parse(R"([{"a":"x","b":null},{}])");
  const Json bad_inner = Json::parse(R"([{"a":"x","b":1}])");
  const Json bad_outer = Json::parse(R"({"a":"x"})");
  tagged::from_json_calls = 0;
  REQUIRE(good.try_get<Tags>() == std::optional<Tags>(Tags{{{"a", tagged::Tag{"x"}}, {"b", std::nullopt}}, {}}));
  REQUIRE_FALSE(bad_inner.try_get<Tags>());
  REQUIRE_FALSE(bad_outer.try_get<Tags>());
  REQUIRE(Json::parse("\"y\"").try_get<tagged::Tag>() == std::optional<tagged::Tag>(tagged::Tag{"y"}));
  REQUIRE_FALSE(Json::parse("[\"y\"]").try_get<tagged::Tag>());
  REQUIRE(tagged::from_json_calls == 0);
  // get goes through from_json, and reports the mismatch by throwing.
  REQUIRE(good.get<Tags>().size() == 2);
  REQUIRE(tagged::from_json_calls == 1);
  REQUIRE_THROWS_MATCHES(bad_inner.get<Tags>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE(tagged::from_json_calls == 3);
}

// The file comment's example: a user type with try_from_json only.
namespace strict {

struct Point {
  int x = 0;
  int y = 0;
  friend bool operator==(const Point&, const Point&) = default;
};
// Written as geometry::Point is.
void to_json(hotstate::JsonWriter& out, const Point& p) { out.value(geometry::Point{p.x, p.y}); }
bool try_from_json(const hotstate::JsonView& in, Point& p) {
  if (in.type() != hotstate::JsonType::Object) return false;
  auto x = in.find("x"), y = in.find("y");
  return x && y && try_from_json(*x, p.x) && try_from_json(*y, p.y);
}

}  // namespace strict

TEST_CASE("a user type with try_from_json only converts with get and try_get", "[json][convert][adl][try_get]") {
  const strict::Point p{3, -4};
  REQUIRE(Json::from(p).get<strict::Point>() == p);
  REQUIRE(Json::from(p).try_get<strict::Point>() == std::optional<strict::Point>(p));
  for (const char* text : {R"({"x":1})", R"({"x":1,"y":"2"})", R"({"x":1,"y":2147483648})", "[1,2]", "null"}) {
    INFO("text: " << text);
    REQUIRE_FALSE(Json::parse(text).try_get<strict::Point>());
    // As an optional, null is the one value that converts.
    REQUIRE(Json::parse(text).try_get<std::optional<strict::Point>>().has_value() == (std::string_view(text) == "null"));
    // get turns its false into Error(TypeMismatch).
    REQUIRE_THROWS_MATCHES(Json::parse(text).get<strict::Point>(), Error, HasCode(ErrorCode::TypeMismatch));
  }
  const auto points = Json::parse(R"({"a":{"x":1,"y":2},"b":{"y":4,"x":3}})").get<std::map<std::string, strict::Point>>();
  REQUIRE(points == std::map<std::string, strict::Point>{{"a", {1, 2}}, {"b", {3, 4}}});
  REQUIRE_FALSE(Json::parse(R"({"a":{"x":1,"y":2},"b":{"x":3}})").try_get<std::map<std::string, strict::Point>>());
  REQUIRE_THROWS_MATCHES(Json::parse(R"([{"x":1,"y":2},{"x":3}])").get<std::vector<strict::Point>>(), Error,
                         HasCode(ErrorCode::TypeMismatch));
}

TEST_CASE("a user type with from_json only is caught inside containers too", "[json][convert][adl][try_get]") {
  // From_json's contract reports a mismatch by throwing: try_get catches Error(TypeMismatch) only.
  REQUIRE_FALSE(Json::parse(R"([{"x":1,"y":2},{"x":3}])").try_get<std::vector<geometry::Point>>());
  REQUIRE(Json::parse(R"({"p":{"x":1,"y":2}})").try_get<std::map<std::string, geometry::Point>>() ==
          std::optional<std::map<std::string, geometry::Point>>({{"p", geometry::Point{1, 2}}}));
  REQUIRE_FALSE(Json::parse("[1,\"2\"]").try_get<std::vector<geometry::Picky>>());
  REQUIRE_THROWS_MATCHES(Json::parse("[1,-2]").try_get<std::vector<geometry::Picky>>(), Error,
                         HasCode(ErrorCode::InvalidArgument));
}

namespace {
// try_from_json and JsonView::try_get inside a from_json.
struct TryProbe {
  std::optional<int> number;
  std::optional<std::string> text;
  std::optional<std::vector<std::uint8_t>> bytes;
  bool bool_read = false;
  bool flag = false;
  bool missing_read = true;
};
void from_json(const JsonView& in, TryProbe& probe) {
  probe.number = in["n"].try_get<int>();
  probe.text = in["t"].try_get<std::string>();
  probe.bytes = in["b"].try_get<std::vector<std::uint8_t>>();
  probe.bool_read = try_from_json(in["f"], probe.flag);
  int unused = 0;
  probe.missing_read = try_from_json(in["t"], unused);
}
}  // namespace

TEST_CASE("JsonView::try_get and try_from_json read without throwing", "[json][view][try_get]") {
  const auto hit = Json::parse(R"({"b":[1,255],"f":true,"n":-5,"t":"s"})").get<TryProbe>();
  REQUIRE(hit.number == std::optional<int>(-5));
  REQUIRE(hit.text == std::optional<std::string>("s"));
  REQUIRE(hit.bytes == std::optional<std::vector<std::uint8_t>>({1, 255}));
  REQUIRE(hit.bool_read);
  REQUIRE(hit.flag);
  REQUIRE_FALSE(hit.missing_read);
  const auto miss = Json::parse(R"({"b":[1,256],"f":1,"n":1.0,"t":2})").get<TryProbe>();
  REQUIRE_FALSE(miss.number);
  REQUIRE_FALSE(miss.text);
  REQUIRE_FALSE(miss.bytes);
  REQUIRE_FALSE(miss.bool_read);
}

TEST_CASE("a user type converts through to_json and from_json found by ADL", "[json][convert][adl]") {
  const geometry::Point p{3, -4};
  const Json json = Json::from(p);
  REQUIRE(json.text() == R"({"x":3,"y":-4})");
  REQUIRE(json.get<geometry::Point>() == p);
  // Extra members are ignored by this from_json; the member order of the input does not matter.
  REQUIRE(Json::parse(R"({"y":2,"z":0,"x":1})").get<geometry::Point>() == geometry::Point{1, 2});
  // A missing member is a type mismatch.
  REQUIRE_THROWS_MATCHES(Json::parse(R"({"x":1})").get<geometry::Point>(), Error, HasCode(ErrorCode::TypeMismatch));
}

TEST_CASE("a user type inside vectors, maps and optionals converts through ADL", "[json][convert][adl]") {
  const std::vector<geometry::Point> points = {{1, 2}, {3, 4}};
  REQUIRE(Json::from(points).text() == R"([{"x":1,"y":2},{"x":3,"y":4}])");
  require_round_trip(points);

  const std::map<std::string, geometry::Point> named = {{"origin", {0, 0}}, {"end", {9, 9}}};
  REQUIRE(Json::from(named).text() == R"({"end":{"x":9,"y":9},"origin":{"x":0,"y":0}})");
  require_round_trip(named);

  const std::unordered_map<std::string, std::vector<std::optional<geometry::Point>>> mixed = {
      {"k", {geometry::Point{5, 6}, std::nullopt}}};
  REQUIRE(Json::from(mixed).text() == R"({"k":[{"x":5,"y":6},null]})");
  require_round_trip(mixed);
}

TEST_CASE("a from_json may call Json::get on a nested Json", "[json][convert][adl][reentrant]") {
  geometry::Envelope inner;
  inner.kind = "points";
  inner.payload = Json::from(std::vector<geometry::Point>{{1, 2}, {3, 4}});

  const Json inner_json = Json::from(inner);
  REQUIRE(inner_json.text() == R"({"kind":"points","payload":[{"x":1,"y":2},{"x":3,"y":4}]})");
  const auto back = inner_json.get<geometry::Envelope>();
  REQUIRE(back.kind == "points");
  REQUIRE(back.payload == inner.payload);
  REQUIRE(back.points == std::vector<geometry::Point>{{1, 2}, {3, 4}});
  REQUIRE(back.outer_size == 2);

  // Two levels of re-entry, inside a container of several envelopes.
  geometry::Envelope outer;
  outer.kind = "wrapper";
  outer.payload = inner_json;
  const std::vector<geometry::Envelope> list = {outer, inner, outer};
  const auto decoded = Json::from(list).get<std::vector<geometry::Envelope>>();
  REQUIRE(decoded.size() == 3);
  REQUIRE(decoded[0].kind == "wrapper");
  REQUIRE(decoded[0].points == back.points);
  REQUIRE(decoded[1].kind == "points");
  REQUIRE(decoded[1].points == back.points);
  REQUIRE(decoded[2].payload == inner_json);
}

namespace {
struct ViewProbe {
  JsonType root = JsonType::Null;
  std::size_t size = 0;
  std::vector<std::string> keys;
  bool has_missing = true;
  std::string text_of_b;
  bool flag = false;
  std::int64_t i = 0;
  std::uint64_t u = 0;
  double d = 0;
  std::string s;
};
void from_json(const JsonView& in, ViewProbe& probe) {
  probe.root = in.type();
  probe.size = in.size();
  for (const auto& [key, value] : in.members()) probe.keys.emplace_back(key);
  probe.has_missing = in.find("missing").has_value();
  probe.text_of_b = in["b"].to_json().text();
  const auto elements = in["b"].elements();
  probe.flag = elements.at(0).as_bool();
  probe.i = elements.at(1).as_int64();
  probe.u = elements.at(2).as_uint64();
  probe.d = elements.at(3).as_double();
  probe.s = std::string(elements.at(4).as_string());
}
}  // namespace

TEST_CASE("JsonView exposes types, members and elements in key order", "[json][view]") {
  const auto probe =
      Json::parse(R"({"c":null,"b":[true,-9223372036854775808,18446744073709551615,1e-7,"s\u00e9"],"a":{}})")
          .get<ViewProbe>();
  REQUIRE(probe.root == JsonType::Object);
  REQUIRE(probe.size == 3);
  REQUIRE(probe.keys == std::vector<std::string>{"a", "b", "c"});
  REQUIRE_FALSE(probe.has_missing);
  REQUIRE(probe.text_of_b == "[true,-9223372036854775808,18446744073709551615,1e-7,\"s\xC3\xA9\"]");
  REQUIRE(probe.flag);
  REQUIRE(probe.i == std::numeric_limits<std::int64_t>::min());
  REQUIRE(probe.u == std::numeric_limits<std::uint64_t>::max());
  REQUIRE(probe.d == 1e-7);
  REQUIRE(probe.s == "s\xC3\xA9");
  // A view of something that is not an object refuses object access.
  REQUIRE_THROWS_MATCHES(Json::parse("[1]").get<ViewProbe>(), Error, HasCode(ErrorCode::TypeMismatch));
}

TEST_CASE("a float refuses a number beyond its range instead of overflowing", "[json][convert]") {
  REQUIRE_THROWS_MATCHES(Json::parse("1e300").get<float>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE_THROWS_MATCHES(Json::parse("-1e39").get<float>(), Error, HasCode(ErrorCode::TypeMismatch));
  REQUIRE(Json::parse("3.4e38").get<float>() > 3.3e38f);
  REQUIRE(Json::parse("1e300").get<double>() == 1e300);
}
