// Reading JSON: validation into canonical text with simdjson (On Demand API),
// the decoders for snapshot rows and the seed's byte layout, and JsonView over
// a canonical text read into hotstate's own nodes (canonical_reader.cpp), with
// the built-in conversions from JSON. The only file that sees simdjson.
#include <simdjson.h>

#include <charconv>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "hotstate/json.hpp"
#include "json_internal.hpp"

namespace hotstate {

namespace od = simdjson::ondemand;

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
  if ((type == od::json_type::array || type == od::json_type::object) && depth >= json_max_depth) throw_too_deep();
  switch (type) {
    case od::json_type::array: {
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

// The object that `value` (an od::value or the od::document root) holds, or
// false when it holds another type; other errors throw Error(InvalidJson).
template <class Value>
bool get_object(Value& value, od::object& object) {
  const auto error = value.get_object().get(object);
  if (error == simdjson::INCORRECT_TYPE) return false;
  check(error);
  return true;
}

// Calls member(key, value) for each member of `object` in the text's order;
// `key` lives in the parser's string buffer until the next parse.
template <class Member>
void for_each_member(od::object& object, Member&& member) {
  for (auto field_result : object) {
    od::field field;
    check(std::move(field_result).get(field));
    std::string_view key;
    check(field.unescaped_key().get(key));
    od::value value = field.value();
    member(key, value);
  }
}

// Each member's value as a Json of its own, as deep as with_data allows:
// depth counts from the value, as on the write path and in from_bytes, not
// from the document. Of duplicate keys the last wins.
void read_json_members(od::object& object, std::map<std::string, Json>& out) {
  std::string scratch;
  for_each_member(object, [&](std::string_view key, od::value& value) {
    scratch.clear();
    append_canonical(value, scratch, 0);
    out.insert_or_assign(std::string(key), JsonAccess::make(scratch));
  });
}

// Each member's string; calls mistyped(key, value), which throws, for a
// value of another type. Of duplicate keys the last wins.
template <class Mistyped>
void read_string_members(od::object& object, std::map<std::string, std::string>& out, Mistyped&& mistyped) {
  for_each_member(object, [&](std::string_view key, od::value& value) {
    std::string_view s;
    const auto error = value.get_string().get(s);
    if (error == simdjson::INCORRECT_TYPE) mistyped(key, value);
    check(error);
    out.insert_or_assign(std::string(key), std::string(s));
  });
}

}  // namespace

std::map<std::string, Json> decode_json_object(std::string_view text) {
  OndemandDocument parsed(text);
  od::object object;
  if (!get_object(parsed.document, object)) throw Error(ErrorCode::TypeMismatch, "expected a JSON object");
  std::map<std::string, Json> result;
  read_json_members(object, result);
  parsed.require_end();
  return result;
}

std::map<std::string, std::string> decode_string_object(std::string_view text) {
  OndemandDocument parsed(text);
  od::object object;
  if (!get_object(parsed.document, object)) throw Error(ErrorCode::TypeMismatch, "expected a JSON object of strings");
  std::map<std::string, std::string> result;
  read_string_members(object, result, [](std::string_view key, od::value&) {
    throw Error(ErrorCode::TypeMismatch, "expected a string for key \"" + std::string(key) + "\"");
  });
  parsed.require_end();
  return result;
}

DecodedSnapshot decode_snapshot(std::string_view bytes) {
  OndemandDocument parsed(bytes);
  od::object object;
  if (!get_object(parsed.document, object)) {
    require_json(parsed.document);
    parsed.require_end();
    throw_snapshot("expected a JSON object");
  }

  DecodedSnapshot result;
  enum Field { PluginId, Timestamp, Data, PluginVersion, Metadata, FieldCount };
  static constexpr std::string_view names[FieldCount] = {"plugin_id", "timestamp", "data", "plugin_version",
                                                         "metadata"};
  bool seen[FieldCount] = {};
  std::string scratch;
  for_each_member(object, [&](std::string_view key, od::value& value) {
    int which = -1;
    for (int i = 0; i < FieldCount; ++i) {
      if (key == names[i]) which = i;
    }
    if (which < 0) {  // serde ignores unknown fields, but the JSON must still be valid
      scratch.clear();
      append_canonical(value, scratch, 0);
      return;
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
        if (!get_object(value, data)) mistyped("an object", value);
        read_json_members(data, result.data);
        break;
      }
      case Metadata: {
        od::object metadata;
        if (!get_object(value, metadata)) mistyped("an object of strings", value);
        read_string_members(metadata, result.metadata,
                            [&](std::string_view, od::value& member_value) { mistyped("an object of strings", member_value); });
        break;
      }
      default: break;
    }
  });
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
// JsonView over hotstate's own nodes (internal::CanonicalDocument)

using internal::JsonNode;

struct JsonViewAccess {
  static const JsonNode& node(const JsonView& view) noexcept { return *view.node_; }
  static JsonView make(const JsonNode& node) noexcept { return JsonView(&node); }
};

namespace {
const JsonNode& node_of(const JsonView& view) noexcept { return JsonViewAccess::node(view); }
JsonView view_of(const JsonNode& node) noexcept { return JsonViewAccess::make(node); }
// The next sibling of a node. An object's members are a key node, then the
// value's nodes: member i + 1 starts at after(key + 1).
const JsonNode* after(const JsonNode* node) noexcept { return node + node->skip; }
std::string_view string_of(const JsonNode& node) noexcept { return {node.s, node.count}; }

}  // namespace

void Json::visit(void (*fn)(const JsonView&, void*), void* context) const {
  // A from_json may convert a nested Json, so each nesting level gets its own
  // document: the outer one must stay valid.
  thread_local std::vector<std::unique_ptr<internal::CanonicalDocument>> documents;
  thread_local std::size_t in_use = 0;
  if (in_use == documents.size()) documents.push_back(std::make_unique<internal::CanonicalDocument>());
  internal::CanonicalDocument& document = *documents[in_use];
  ++in_use;
  struct Release {
    ~Release() { --in_use; }
  } release;
  if (!document.read(text_)) throw Error(ErrorCode::Internal, "cannot reread canonical JSON");
  fn(view_of(document.root()), context);
}

namespace detail {
void throw_type_mismatch(std::string_view expected, const JsonView& got) {
  throw Error(ErrorCode::TypeMismatch,
              "expected " + std::string(expected) + ", found " + to_string(got.type()) + " " + got.to_json().text());
}

// The built-in rules (declared in json.hpp).

template <OnMismatch M>
bool JsonReader<M>::read_int64(const JsonView& in, std::int64_t min, std::int64_t max, std::int64_t& out) {
  const JsonNode& node = node_of(in);
  if (node.kind != JsonNode::Kind::Int64 && node.kind != JsonNode::Kind::UInt64) return mismatch("an integer", in);
  // A UInt64 node is beyond int64's range.
  if (node.kind == JsonNode::Kind::UInt64 || node.i < min || node.i > max) return mismatch("an integer in range", in);
  out = node.i;
  return true;
}

template <OnMismatch M>
bool JsonReader<M>::read_uint64(const JsonView& in, std::uint64_t max, std::uint64_t& out) {
  const JsonNode& node = node_of(in);
  if (node.kind != JsonNode::Kind::Int64 && node.kind != JsonNode::Kind::UInt64) return mismatch("an integer", in);
  if (node.kind == JsonNode::Kind::Int64 && node.i < 0) return mismatch("an integer in range", in);
  const std::uint64_t value = node.kind == JsonNode::Kind::Int64 ? static_cast<std::uint64_t>(node.i) : node.u;
  if (value > max) return mismatch("an integer in range", in);
  out = value;
  return true;
}

template <OnMismatch M>
bool JsonReader<M>::read_string(const JsonView& in, std::string_view& out) {
  const JsonNode& node = node_of(in);
  if (node.kind != JsonNode::Kind::String) return mismatch("a string", in);
  out = string_of(node);
  return true;
}

template <OnMismatch M>
bool JsonReader<M>::read(const JsonView& in, Json& out) {
  out = in.to_json();
  return true;
}

template <OnMismatch M>
bool JsonReader<M>::read(const JsonView& in, bool& out) {
  const JsonNode& node = node_of(in);
  if (node.kind != JsonNode::Kind::True && node.kind != JsonNode::Kind::False) return mismatch("a boolean", in);
  out = node.kind == JsonNode::Kind::True;
  return true;
}

template <OnMismatch M>
bool JsonReader<M>::read(const JsonView& in, double& out) {
  const JsonNode& node = node_of(in);
  switch (node.kind) {
    case JsonNode::Kind::Int64: out = static_cast<double>(node.i); return true;
    case JsonNode::Kind::UInt64: out = static_cast<double>(node.u); return true;
    case JsonNode::Kind::Double: out = node.d; return true;
    default: return mismatch("a number", in);
  }
}

template <OnMismatch M>
bool JsonReader<M>::read(const JsonView& in, float& out) {
  double value = 0;
  if (!read(in, value)) return false;
  // Converting a double beyond float's range is undefined behaviour: refuse it, like an integer out of range.
  if (value > std::numeric_limits<float>::max() || value < std::numeric_limits<float>::lowest()) {
    return mismatch("a number in float's range", in);
  }
  out = static_cast<float>(value);
  return true;
}

template <OnMismatch M>
bool JsonReader<M>::read(const JsonView& in, std::string& out) {
  std::string_view s;
  if (!read_string(in, s)) return false;
  out.assign(s);
  return true;
}

template struct JsonReader<OnMismatch::Throw>;
template struct JsonReader<OnMismatch::ReturnFalse>;
}  // namespace detail

namespace {
using Throwing = detail::JsonReader<detail::OnMismatch::Throw>;
}  // namespace

JsonType JsonView::type() const noexcept {
  switch (node_of(*this).kind) {
    case JsonNode::Kind::Null: return JsonType::Null;
    case JsonNode::Kind::True:
    case JsonNode::Kind::False: return JsonType::Boolean;
    case JsonNode::Kind::Int64:
    case JsonNode::Kind::UInt64: return JsonType::Integer;
    case JsonNode::Kind::Double: return JsonType::Double;
    case JsonNode::Kind::String: return JsonType::String;
    case JsonNode::Kind::Array: return JsonType::Array;
    case JsonNode::Kind::Object: return JsonType::Object;
  }
  return JsonType::Null;
}

bool JsonView::as_bool() const {
  bool b = false;
  Throwing::read(*this, b);
  return b;
}

std::int64_t JsonView::as_int64() const {
  std::int64_t i = 0;
  Throwing::read_int64(*this, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max(), i);
  return i;
}

std::uint64_t JsonView::as_uint64() const {
  std::uint64_t u = 0;
  Throwing::read_uint64(*this, std::numeric_limits<std::uint64_t>::max(), u);
  return u;
}

double JsonView::as_double() const {
  double d = 0;
  Throwing::read(*this, d);
  return d;
}

std::string_view JsonView::as_string() const {
  std::string_view s;
  Throwing::read_string(*this, s);
  return s;
}

std::vector<JsonView> JsonView::elements() const {
  const JsonNode& array = node_of(*this);
  if (array.kind != JsonNode::Kind::Array) detail::throw_type_mismatch("an array", *this);
  std::vector<JsonView> result;
  result.reserve(array.count);
  const JsonNode* element = &array + 1;
  for (std::uint32_t i = 0; i < array.count; ++i, element = after(element)) result.push_back(view_of(*element));
  return result;
}

std::vector<std::pair<std::string_view, JsonView>> JsonView::members() const {
  const JsonNode& object = node_of(*this);
  if (object.kind != JsonNode::Kind::Object) detail::throw_type_mismatch("an object", *this);
  std::vector<std::pair<std::string_view, JsonView>> result;
  result.reserve(object.count);
  const JsonNode* key = &object + 1;
  for (std::uint32_t i = 0; i < object.count; ++i, key = after(key + 1)) result.emplace_back(string_of(*key), view_of(key[1]));
  return result;
}

std::size_t JsonView::size() const {
  const JsonNode& node = node_of(*this);
  if (node.kind != JsonNode::Kind::Array && node.kind != JsonNode::Kind::Object) {
    detail::throw_type_mismatch("an array or an object", *this);
  }
  return node.count;
}

std::optional<JsonView> JsonView::find(std::string_view key) const {
  const JsonNode& object = node_of(*this);
  if (object.kind != JsonNode::Kind::Object) detail::throw_type_mismatch("an object", *this);
  const JsonNode* k = &object + 1;
  for (std::uint32_t i = 0; i < object.count; ++i, k = after(k + 1)) {
    if (string_of(*k) == key) return view_of(k[1]);
  }
  return std::nullopt;
}

JsonView JsonView::operator[](std::string_view key) const {
  auto found = find(key);
  if (!found) throw Error(ErrorCode::TypeMismatch, "missing key \"" + std::string(key) + "\"");
  return *found;
}

// Every sub-value of a canonical text is canonical: the copy is the value's own text.
Json JsonView::to_json() const {
  const JsonNode& node = node_of(*this);
  return JsonAccess::make(std::string(node.text, node.text_size));
}

}  // namespace hotstate
