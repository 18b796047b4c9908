// Json::parse on arbitrary bytes.
//
// Failure must be Error(InvalidJson); anything else escapes and crashes the
// fuzzer. On success:
//  - the text is canonical: parse(text()) == the value, with the same text;
//  - type() agrees with the conversions: try_get<double / std::string /
//    std::vector<Json> / std::map<std::string, Json> / bool / integers> give a
//    value exactly for the matching types, nullopt (never a throw) otherwise;
//  - rebuilding the value with JsonWriter (from its elements, members, string,
//    number) gives the same canonical text;
//  - a walk with JsonView (elements, members, find, operator[], size, as_*,
//    to_json) rebuilds the same text too.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "hotstate/json.hpp"

using hotstate::Error;
using hotstate::ErrorCode;
using hotstate::Json;
using hotstate::JsonType;
using hotstate::JsonView;
using hotstate::JsonWriter;

namespace fuzz_walk {

// Read with from_json (found by ADL): walks the whole value through JsonView
// and writes it again.
struct Rebuilt {
  Json value;
};

void write_view(const JsonView& view, JsonWriter& out) {
  switch (view.type()) {
    case JsonType::Null:
      FUZZ_CHECK(view.is_null());
      out.null();
      break;
    case JsonType::Boolean:
      out.boolean(view.as_bool());
      break;
    case JsonType::Integer: {
      // An Integer fits int64 or uint64; as_double works for every number.
      (void)view.as_double();
      bool written = false;
      try {
        out.integer(view.as_int64());
        written = true;
      } catch (const Error& error) {
        if (error.code() != ErrorCode::TypeMismatch) throw;
      }
      if (!written) out.integer(view.as_uint64());
      break;
    }
    case JsonType::Double:
      out.number(view.as_double());
      break;
    case JsonType::String:
      out.string(view.as_string());
      break;
    case JsonType::Array: {
      const auto elements = view.elements();
      FUZZ_CHECK(elements.size() == view.size());
      out.begin_array();
      for (const JsonView& element : elements) {
        const Json copy = element.to_json();
        FUZZ_CHECK(Json::parse(copy.text()) == copy);
        write_view(element, out);
      }
      out.end_array();
      break;
    }
    case JsonType::Object: {
      const auto members = view.members();
      FUZZ_CHECK(members.size() == view.size());
      out.begin_object();
      std::string_view previous;
      bool first = true;
      for (const auto& [key, value] : members) {
        // Members come sorted by bytes, unique.
        FUZZ_CHECK(first || previous < key);
        first = false;
        previous = key;
        const auto found = view.find(key);
        FUZZ_CHECK(found.has_value());
        FUZZ_CHECK(found->to_json() == value.to_json());
        FUZZ_CHECK(view[key].to_json() == value.to_json());
        out.key(key);
        write_view(value, out);
      }
      out.end_object();
      break;
    }
  }
}

void from_json(const JsonView& in, Rebuilt& out) {
  JsonWriter writer;
  write_view(in, writer);
  out.value = writer.take();
  FUZZ_CHECK(in.to_json() == out.value);
}

}  // namespace fuzz_walk

namespace {

template <class T>
void check_try_get(const Json& json, bool expect_value) {
  const std::optional<T> value = json.try_get<T>();
  FUZZ_CHECK(value.has_value() == expect_value);
}

// The value written again from what the conversions return.
void check_rebuild(const Json& json) {
  JsonWriter writer;
  switch (json.type()) {
    case JsonType::Null:
      FUZZ_CHECK(json.text() == "null");
      return;
    case JsonType::Boolean:
      FUZZ_CHECK(Json::from(json.get<bool>()) == json);
      return;
    case JsonType::Integer: {
      const auto as_signed = json.try_get<std::int64_t>();
      const auto as_unsigned = json.try_get<std::uint64_t>();
      FUZZ_CHECK(as_signed || as_unsigned);
      if (as_signed) FUZZ_CHECK(Json::from(*as_signed) == json);
      if (as_unsigned) FUZZ_CHECK(Json::from(*as_unsigned) == json);
      return;
    }
    case JsonType::Double:
      FUZZ_CHECK(!json.try_get<std::int64_t>() && !json.try_get<std::uint64_t>());
      FUZZ_CHECK(Json::from(json.get<double>()) == json);
      return;
    case JsonType::String:
      FUZZ_CHECK(Json::from(json.get<std::string>()) == json);
      return;
    case JsonType::Array: {
      const auto elements = json.get<std::vector<Json>>();
      writer.begin_array();
      for (const Json& element : elements) {
        FUZZ_CHECK(Json::parse(element.text()) == element);
        writer.json(element);
      }
      writer.end_array();
      FUZZ_CHECK(writer.take() == json);
      FUZZ_CHECK(Json::from(elements) == json);
      return;
    }
    case JsonType::Object: {
      const auto members = json.get<std::map<std::string, Json>>();
      writer.begin_object();
      // Reverse order: the writer sorts members itself.
      for (auto it = members.rbegin(); it != members.rend(); ++it) {
        FUZZ_CHECK(Json::parse(it->second.text()) == it->second);
        writer.key(it->first);
        writer.json(it->second);
      }
      writer.end_object();
      FUZZ_CHECK(writer.take() == json);
      FUZZ_CHECK(Json::from(members) == json);
      return;
    }
  }
  FUZZ_CHECK(!"a JsonType out of range");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  std::optional<Json> json;
  try {
    json.emplace(Json::parse(input));
  } catch (const Error& error) {
    if (error.code() != ErrorCode::InvalidJson) FUZZ_UNEXPECTED(error);
    return 0;
  }

  // Canonical and idempotent.
  const std::string& text = json->text();
  const Json again = Json::parse(text);
  FUZZ_CHECK(again == *json);
  FUZZ_CHECK(again.text() == text);
  FUZZ_CHECK(again.type() == json->type());
  FUZZ_CHECK(json->get<Json>() == *json);

  const JsonType type = json->type();
  const bool is_number = type == JsonType::Integer || type == JsonType::Double;
  check_try_get<double>(*json, is_number);
  check_try_get<std::string>(*json, type == JsonType::String);
  check_try_get<std::vector<Json>>(*json, type == JsonType::Array);
  check_try_get<std::map<std::string, Json>>(*json, type == JsonType::Object);
  check_try_get<bool>(*json, type == JsonType::Boolean);

  if (type != JsonType::Integer) {
    check_try_get<std::int64_t>(*json, false);
    check_try_get<std::uint64_t>(*json, false);
  }
  (void)json->try_get<int>();
  (void)json->try_get<std::uint8_t>();
  (void)json->try_get<float>();
  (void)json->try_get<std::optional<std::string>>();
  (void)json->try_get<std::vector<double>>();
  (void)json->try_get<std::map<std::string, std::string>>();

  check_rebuild(*json);

  const auto rebuilt = json->get<fuzz_walk::Rebuilt>();
  FUZZ_CHECK(rebuilt.value == *json);
  return 0;
}
