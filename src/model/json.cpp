// Reading JSON with simdjson: validation into canonical text (On Demand API),
// JsonView over a parsed canonical text (DOM API), and the decoders for
// snapshot rows and the seed's byte layout. The only file that sees simdjson.
#include <simdjson.h>

#include <charconv>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "hotstate/json.hpp"
#include "json_internal.hpp"

namespace hotstate {

namespace od = simdjson::ondemand;
namespace dom = simdjson::dom;

namespace internal {

bool is_valid_utf8(std::string_view text) noexcept { return simdjson::validate_utf8(text.data(), text.size()); }

namespace {

[[noreturn]] void throw_json(simdjson::error_code error) {
  throw Error(ErrorCode::InvalidJson, std::string("invalid JSON: ") + simdjson::error_message(error));
}

void check(simdjson::error_code error) {
  if (error != simdjson::SUCCESS) throw_json(error);
}

// One thread's On Demand parser. Canonicalizing calls no user code, so one per
// thread suffices.
//
// append_canonical enforces json_max_depth itself, per value; a snapshot's data
// values sit two levels inside the document and On Demand counts the document
// as a level too. The parser's own limit must stay above all of that: beyond
// it, On Demand does not fail but asserts (in builds where simdjson's
// development checks are on, e.g. unoptimized ones).
constexpr std::size_t ondemand_max_depth = json_max_depth + 4;

od::parser& ondemand_parser() {
  thread_local od::parser parser = [] {
    od::parser p;
    if (p.allocate(4096, ondemand_max_depth) != simdjson::SUCCESS) {
      throw Error(ErrorCode::Internal, "cannot allocate a JSON parser");
    }
    return p;
  }();
  return parser;
}

std::string_view raw_token(od::value& value) { return value.raw_json_token(); }
std::string_view raw_token(od::document& document) {
  std::string_view token;
  return document.raw_json_token().get(token) == simdjson::SUCCESS ? token : std::string_view();
}

// Appends the canonical text of `value` (an od::value or the od::document
// root, which share these member functions) to `out`.
template <class Value>
void append_canonical(Value& value, std::string& out, std::size_t depth) {
  od::json_type type;
  check(value.type().get(type));
  switch (type) {
    case od::json_type::array: {
      if (depth >= json_max_depth) {
        throw Error(ErrorCode::InvalidJson, "JSON nested deeper than " + std::to_string(json_max_depth) + " levels");
      }
      od::array array;
      check(value.get_array().get(array));
      out += '[';
      bool first = true;
      for (auto element_result : array) {
        od::value element;
        check(std::move(element_result).get(element));
        if (!first) out += ',';
        first = false;
        append_canonical(element, out, depth + 1);
      }
      out += ']';
      return;
    }
    case od::json_type::object: {
      if (depth >= json_max_depth) {
        throw Error(ErrorCode::InvalidJson, "JSON nested deeper than " + std::to_string(json_max_depth) + " levels");
      }
      od::object object;
      check(value.get_object().get(object));
      const std::size_t body_start = out.size() + 1;
      out += '{';
      std::vector<MemberRef> members;
      bool sorted = true;
      for (auto field_result : object) {
        od::field field;
        check(std::move(field_result).get(field));
        std::string_view key;  // lives in the parser's string buffer until the next parse
        check(field.unescaped_key().get(key));
        if (!members.empty()) {
          out += ',';
          if (!(members.back().key < key)) sorted = false;
        }
        members.push_back({key, out.size()});
        append_json_string(out, key);
        out += ':';
        od::value member_value = field.value();
        append_canonical(member_value, out, depth + 1);
      }
      if (!sorted) sort_object_members(out, body_start, members);
      out += '}';
      return;
    }
    case od::json_type::number: {
      od::number_type number_type;
      check(value.get_number_type().get(number_type));
      char buffer[24];
      if (number_type == od::number_type::signed_integer) {
        std::int64_t i;
        if (value.get_int64().get(i) == simdjson::SUCCESS) {
          // serde_json reads -0 as the double -0.0.
          if (i == 0 && raw_token(value).substr(0, 1) == "-") {
            out += "-0.0";
          } else {
            out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, i).ptr);
          }
          return;
        }
      } else if (number_type == od::number_type::unsigned_integer) {
        std::uint64_t u;
        if (value.get_uint64().get(u) == simdjson::SUCCESS) {
          out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, u).ptr);
          return;
        }
      }
      // A fraction or exponent, or an integer beyond 64 bits: a double, as in serde_json.
      double d;
      check(value.get_double().get(d));
      append_json_double(out, d);
      return;
    }
    case od::json_type::string: {
      std::string_view s;
      check(value.get_string().get(s));
      append_json_string(out, s);
      return;
    }
    case od::json_type::boolean: {
      bool b;
      check(value.get_bool().get(b));
      out += b ? "true" : "false";
      return;
    }
    case od::json_type::null: {
      bool is_null = false;
      check(value.is_null().get(is_null));
      if (!is_null) throw_json(simdjson::N_ATOM_ERROR);
      out += "null";
      return;
    }
  }
  throw_json(simdjson::TAPE_ERROR);
}

// Starts parsing `text` with the thread's parser. The returned padded copy
// must outlive the document.
struct OndemandDocument {
  simdjson::padded_string padded;
  od::document document;

  explicit OndemandDocument(std::string_view text) : padded(text) {
    check(ondemand_parser().iterate(padded).get(document));
  }

  // Throws unless everything after the root value is white space.
  void require_end() {
    const char* location = nullptr;
    const auto error = document.current_location().get(location);
    if (error == simdjson::OUT_OF_BOUNDS) return;
    throw_json(error == simdjson::SUCCESS ? simdjson::TRAILING_CONTENT : error);
  }
};

// On Demand parses lazily: it reports a malformed value (`nul`, `[1,]`) as a
// value of the wrong type. Before calling a value mistyped, check that it is
// JSON at all; throws Error(InvalidJson) when it is not.
template <class Value>
void require_json(Value& value) {
  std::string scratch;
  append_canonical(value, scratch, 0);
}

[[noreturn]] void throw_snapshot(const std::string& message) {
  throw Error(ErrorCode::InvalidSnapshot, "not a snapshot in the seed's layout: " + message);
}

}  // namespace

std::map<std::string, Json> decode_json_object(std::string_view text) {
  OndemandDocument parsed(text);
  od::object object;
  const auto error = parsed.document.get_object().get(object);
  if (error == simdjson::INCORRECT_TYPE) throw Error(ErrorCode::TypeMismatch, "expected a JSON object");
  check(error);
  std::map<std::string, Json> result;
  std::string scratch;
  for (auto field_result : object) {
    od::field field;
    check(std::move(field_result).get(field));
    std::string_view key;
    check(field.unescaped_key().get(key));
    scratch.clear();
    od::value member_value = field.value();
    // Each value is a Json of its own, as deep as with_data allows: depth
    // counts from the value, as on the write path and in from_bytes.
    append_canonical(member_value, scratch, 0);
    result.insert_or_assign(std::string(key), JsonAccess::make(scratch));
  }
  parsed.require_end();
  return result;
}

std::map<std::string, std::string> decode_string_object(std::string_view text) {
  OndemandDocument parsed(text);
  od::object object;
  const auto error = parsed.document.get_object().get(object);
  if (error == simdjson::INCORRECT_TYPE) throw Error(ErrorCode::TypeMismatch, "expected a JSON object of strings");
  check(error);
  std::map<std::string, std::string> result;
  for (auto field_result : object) {
    od::field field;
    check(std::move(field_result).get(field));
    std::string_view key;
    check(field.unescaped_key().get(key));
    std::string_view value;
    const auto value_error = field.value().get_string().get(value);
    if (value_error == simdjson::INCORRECT_TYPE) {
      throw Error(ErrorCode::TypeMismatch, "expected a string for key \"" + std::string(key) + "\"");
    }
    check(value_error);
    result.insert_or_assign(std::string(key), std::string(value));
  }
  parsed.require_end();
  return result;
}

DecodedSnapshot decode_snapshot(std::string_view bytes) {
  OndemandDocument parsed(bytes);
  od::object object;
  const auto error = parsed.document.get_object().get(object);
  if (error == simdjson::INCORRECT_TYPE) {
    require_json(parsed.document);
    parsed.require_end();
    throw_snapshot("expected a JSON object");
  }
  check(error);

  DecodedSnapshot result;
  enum Field { PluginId, Timestamp, Data, PluginVersion, Metadata, FieldCount };
  static constexpr std::string_view names[FieldCount] = {"plugin_id", "timestamp", "data", "plugin_version",
                                                         "metadata"};
  bool seen[FieldCount] = {};
  std::string scratch;
  for (auto field_result : object) {
    od::field field;
    check(std::move(field_result).get(field));
    std::string_view key;
    check(field.unescaped_key().get(key));
    od::value value = field.value();
    int which = -1;
    for (int i = 0; i < FieldCount; ++i) {
      if (key == names[i]) which = i;
    }
    if (which < 0) {  // serde ignores unknown fields, but the JSON must still be valid
      scratch.clear();
      append_canonical(value, scratch, 0);
      continue;
    }
    if (seen[which]) throw_snapshot("duplicate field `" + std::string(key) + "`");
    seen[which] = true;
    // `checked`: the value found to have the wrong type (see require_json).
    const auto mistyped = [&](const char* expected, od::value& checked) {
      require_json(checked);
      throw_snapshot("field `" + std::string(key) + "` must be " + expected);
    };
    switch (which) {
      case PluginId:
      case PluginVersion: {
        std::string_view s;
        const auto e = value.get_string().get(s);
        if (e == simdjson::INCORRECT_TYPE) mistyped("a string", value);
        check(e);
        (which == PluginId ? result.plugin_id : result.plugin_version) = std::string(s);
        break;
      }
      case Timestamp: {
        od::json_type type;
        check(value.type().get(type));
        od::number_type number_type{};
        if (type != od::json_type::number || value.get_number_type().get(number_type) != simdjson::SUCCESS ||
            number_type == od::number_type::floating_point_number) {
          mistyped("an unsigned 64-bit integer", value);
        }
        if (value.get_uint64().get(result.timestamp) != simdjson::SUCCESS) {
          mistyped("an unsigned 64-bit integer", value);
        }
        break;
      }
      case Data: {
        od::object data;
        const auto e = value.get_object().get(data);
        if (e == simdjson::INCORRECT_TYPE) mistyped("an object", value);
        check(e);
        for (auto member_result : data) {
          od::field member;
          check(std::move(member_result).get(member));
          std::string_view member_key;
          check(member.unescaped_key().get(member_key));
          scratch.clear();
          od::value member_value = member.value();
          // Each value is a Json of its own, as deep as with_data allows:
          // depth counts from the value, not from the snapshot document.
          append_canonical(member_value, scratch, 0);
          result.data.insert_or_assign(std::string(member_key), JsonAccess::make(scratch));
        }
        break;
      }
      case Metadata: {
        od::object metadata;
        const auto e = value.get_object().get(metadata);
        if (e == simdjson::INCORRECT_TYPE) mistyped("an object of strings", value);
        check(e);
        for (auto member_result : metadata) {
          od::field member;
          check(std::move(member_result).get(member));
          std::string_view member_key;
          check(member.unescaped_key().get(member_key));
          std::string_view s;
          od::value member_value = member.value();
          const auto se = member_value.get_string().get(s);
          if (se == simdjson::INCORRECT_TYPE) mistyped("an object of strings", member_value);
          check(se);
          result.metadata.insert_or_assign(std::string(member_key), std::string(s));
        }
        break;
      }
      default: break;
    }
  }
  parsed.require_end();
  for (int i = 0; i < FieldCount; ++i) {
    if (!seen[i]) throw_snapshot("missing field `" + std::string(names[i]) + "`");
  }
  return result;
}

}  // namespace internal

// ---------------------------------------------------------------------------
// Json

Json Json::parse(std::string_view text) {
  internal::OndemandDocument parsed(text);
  std::string out;
  out.reserve(text.size());
  internal::append_canonical(parsed.document, out, 0);
  parsed.require_end();
  return JsonAccess::make(std::move(out));
}

// ---------------------------------------------------------------------------
// JsonView over simdjson's DOM

static_assert(std::is_trivially_copyable_v<dom::element>, "JsonView copies dom::element as bytes");
static_assert(sizeof(dom::element) <= 16, "JsonView keeps dom::element in 16 bytes");
static_assert(alignof(dom::element) <= 8, "JsonView keeps dom::element 8-aligned");

struct JsonViewAccess {
  static dom::element element(const JsonView& view) noexcept {
    dom::element e;
    std::memcpy(static_cast<void*>(&e), view.element_, sizeof e);
    return e;
  }
  static JsonView make(dom::element e) noexcept {
    JsonView view;
    std::memcpy(view.element_, static_cast<const void*>(&e), sizeof e);
    return view;
  }
};

void Json::visit(void (*fn)(const JsonView&, void*), void* context) const {
  // A from_json may convert a nested Json, so each nesting level gets its own
  // parser: the outer document must stay valid.
  thread_local std::vector<std::unique_ptr<dom::parser>> parsers;
  thread_local std::size_t in_use = 0;
  if (in_use == parsers.size()) parsers.push_back(std::make_unique<dom::parser>());
  dom::parser& parser = *parsers[in_use];
  ++in_use;
  struct Release {
    ~Release() { --in_use; }
  } release;
  dom::element root;
  const auto error = parser.parse(text_.data(), text_.size()).get(root);
  if (error != simdjson::SUCCESS) {
    throw Error(ErrorCode::Internal, std::string("cannot reparse canonical JSON: ") + simdjson::error_message(error));
  }
  fn(JsonViewAccess::make(root), context);
}

namespace detail {
void throw_type_mismatch(std::string_view expected, const JsonView& got) {
  throw Error(ErrorCode::TypeMismatch,
              "expected " + std::string(expected) + ", found " + to_string(got.type()) + " " + got.to_json().text());
}
}  // namespace detail

JsonType JsonView::type() const noexcept {
  switch (JsonViewAccess::element(*this).type()) {
    case dom::element_type::ARRAY: return JsonType::Array;
    case dom::element_type::OBJECT: return JsonType::Object;
    case dom::element_type::INT64:
    case dom::element_type::UINT64: return JsonType::Integer;
    case dom::element_type::DOUBLE: return JsonType::Double;
    case dom::element_type::STRING: return JsonType::String;
    case dom::element_type::BOOL: return JsonType::Boolean;
    case dom::element_type::NULL_VALUE: return JsonType::Null;
  }
  return JsonType::Null;
}

bool JsonView::as_bool() const {
  bool b;
  if (JsonViewAccess::element(*this).get_bool().get(b) != simdjson::SUCCESS) detail::throw_type_mismatch("a boolean", *this);
  return b;
}

std::int64_t JsonView::as_int64() const {
  const dom::element e = JsonViewAccess::element(*this);
  if (e.type() != dom::element_type::INT64 && e.type() != dom::element_type::UINT64) {
    detail::throw_type_mismatch("an integer", *this);
  }
  std::int64_t i;
  if (e.get_int64().get(i) != simdjson::SUCCESS) detail::throw_type_mismatch("an integer in range", *this);
  return i;
}

std::uint64_t JsonView::as_uint64() const {
  const dom::element e = JsonViewAccess::element(*this);
  if (e.type() != dom::element_type::INT64 && e.type() != dom::element_type::UINT64) {
    detail::throw_type_mismatch("an integer", *this);
  }
  std::uint64_t u;
  if (e.get_uint64().get(u) != simdjson::SUCCESS) detail::throw_type_mismatch("an integer in range", *this);
  return u;
}

double JsonView::as_double() const {
  double d;
  if (JsonViewAccess::element(*this).get_double().get(d) != simdjson::SUCCESS) {
    detail::throw_type_mismatch("a number", *this);
  }
  return d;
}

std::string_view JsonView::as_string() const {
  std::string_view s;
  if (JsonViewAccess::element(*this).get_string().get(s) != simdjson::SUCCESS) {
    detail::throw_type_mismatch("a string", *this);
  }
  return s;
}

std::vector<JsonView> JsonView::elements() const {
  dom::array array;
  if (JsonViewAccess::element(*this).get_array().get(array) != simdjson::SUCCESS) {
    detail::throw_type_mismatch("an array", *this);
  }
  std::vector<JsonView> result;
  result.reserve(array.size());
  for (dom::element element : array) result.push_back(JsonViewAccess::make(element));
  return result;
}

std::vector<std::pair<std::string_view, JsonView>> JsonView::members() const {
  dom::object object;
  if (JsonViewAccess::element(*this).get_object().get(object) != simdjson::SUCCESS) {
    detail::throw_type_mismatch("an object", *this);
  }
  std::vector<std::pair<std::string_view, JsonView>> result;
  result.reserve(object.size());
  for (dom::key_value_pair member : object) result.emplace_back(member.key, JsonViewAccess::make(member.value));
  return result;
}

std::size_t JsonView::size() const {
  const dom::element e = JsonViewAccess::element(*this);
  dom::array array;
  if (e.get_array().get(array) == simdjson::SUCCESS) return array.size();
  dom::object object;
  if (e.get_object().get(object) == simdjson::SUCCESS) return object.size();
  detail::throw_type_mismatch("an array or an object", *this);
}

std::optional<JsonView> JsonView::find(std::string_view key) const {
  dom::object object;
  if (JsonViewAccess::element(*this).get_object().get(object) != simdjson::SUCCESS) {
    detail::throw_type_mismatch("an object", *this);
  }
  dom::element value;
  if (object.at_key(key).get(value) != simdjson::SUCCESS) return std::nullopt;
  return JsonViewAccess::make(value);
}

JsonView JsonView::operator[](std::string_view key) const {
  auto found = find(key);
  if (!found) throw Error(ErrorCode::TypeMismatch, "missing key \"" + std::string(key) + "\"");
  return *found;
}

namespace {
// The view's document came from canonical text, so writing it back element by
// element reproduces canonical text (keys already sorted and unique; doubles
// round-trip through their shortest form).
void append_element(std::string& out, dom::element e) {
  char buffer[24];
  switch (e.type()) {
    case dom::element_type::ARRAY: {
      out += '[';
      bool first = true;
      for (dom::element child : dom::array(e)) {
        if (!first) out += ',';
        first = false;
        append_element(out, child);
      }
      out += ']';
      return;
    }
    case dom::element_type::OBJECT: {
      out += '{';
      bool first = true;
      for (dom::key_value_pair member : dom::object(e)) {
        if (!first) out += ',';
        first = false;
        internal::append_json_string(out, member.key);
        out += ':';
        append_element(out, member.value);
      }
      out += '}';
      return;
    }
    case dom::element_type::INT64:
      out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, std::int64_t(e)).ptr);
      return;
    case dom::element_type::UINT64:
      out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, std::uint64_t(e)).ptr);
      return;
    case dom::element_type::DOUBLE: internal::append_json_double(out, double(e)); return;
    case dom::element_type::STRING: internal::append_json_string(out, std::string_view(e)); return;
    case dom::element_type::BOOL: out += bool(e) ? "true" : "false"; return;
    case dom::element_type::NULL_VALUE: out += "null"; return;
  }
}
}  // namespace

Json JsonView::to_json() const {
  std::string out;
  append_element(out, JsonViewAccess::element(*this));
  return JsonAccess::make(std::move(out));
}

// ---------------------------------------------------------------------------
// Built-in from_json

void from_json(const JsonView& in, Json& out) { out = in.to_json(); }
void from_json(const JsonView& in, bool& out) { out = in.as_bool(); }
void from_json(const JsonView& in, double& out) { out = in.as_double(); }
void from_json(const JsonView& in, float& out) {
  const double value = in.as_double();
  // Converting a double beyond float's range is undefined behaviour: refuse it, like an integer out of range.
  if (value > std::numeric_limits<float>::max() || value < std::numeric_limits<float>::lowest()) {
    detail::throw_type_mismatch("a number in float's range", in);
  }
  out = static_cast<float>(value);
}
void from_json(const JsonView& in, std::string& out) { out = std::string(in.as_string()); }

}  // namespace hotstate
