// hotstate: JSON values, and the conversions between C++ types and JSON.
//
// A Json is one JSON value kept as its canonical compact text, the form the
// seed (serde_json) prints: no white space, object keys sorted by their UTF-8
// bytes with the last of duplicate keys kept, integers that fit 64 bits kept
// exactly, other numbers as the shortest double that reads back the same
// (`1.0`, `1e16`, `-0.0`, `1.8446744073709552e19`), strings with only the
// escapes JSON requires. Because the text is canonical, equal values have
// equal text, and every sub-value of a canonical text is canonical too.
//
// Conversions are found by argument-dependent lookup, so a user type joins in
// by declaring two functions in its own namespace:
//
//   void to_json(hotstate::JsonWriter& out, const Point& p) {
//     out.begin_object(); out.member("x", p.x); out.member("y", p.y); out.end_object();
//   }
//   void from_json(const hotstate::JsonView& in, Point& p) {
//     p.x = in["x"].get<int>(); p.y = in["y"].get<int>();
//   }
//
// Built in: bool, every integer type except the character types (range
// checked both ways), float and double (NaN and infinities are refused with
// ErrorCode::NonFiniteNumber), std::string / std::string_view / const char*,
// std::nullptr_t, std::optional<T> (null when empty), std::vector<T>,
// std::map<std::string, T> and std::unordered_map<std::string, T>, their
// nesting, and Json itself. Reading is strict, like serde: an integer type
// reads only integers in its range, double reads any number, std::string only
// strings; anything else throws Error(ErrorCode::TypeMismatch).
//
// try_get (Json::try_get, JsonView::try_get, StateSnapshot::get) returns
// nullopt for such a mismatch without throwing inside: each built-in rule is
// written once (detail::JsonReader) and either throws or returns false, and
// try_from_json(view, out) is its public no-throw form. A user type joins the
// no-throw path with a try_from_json of its own, next to from_json or instead
// of it, returning false (`out` then unspecified) where from_json would throw
// Error(TypeMismatch):
//
//   bool try_from_json(const hotstate::JsonView& in, Point& p) {
//     if (in.type() != hotstate::JsonType::Object) return false;
//     auto x = in.find("x"), y = in.find("y");
//     return x && y && try_from_json(*x, p.x) && try_from_json(*y, p.y);
//   }
//
// With from_json only, try_get calls it and catches its Error(TypeMismatch)
// (the one case that throws inside; other errors pass through). With
// try_from_json only, get throws Error(TypeMismatch) when it returns false.
// With both, they must accept the same values. Either way std::bad_alloc may
// still pass through try_get.
//
// Thread safety: Json, JsonWriter and JsonView are values; distinct objects may
// be used from distinct threads, and const Json may be shared freely.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hotstate/error.hpp"

namespace hotstate {

// Deepest nesting of arrays and objects that hotstate accepts or writes in one
// value: serde_json's own limit, so whatever the seed could read, hotstate can.
// Bounded because parsing recurses: it keeps stack use small on any thread.
inline constexpr std::size_t json_max_depth = 128;

// The kind of a JSON value.
enum class JsonType {
  Null,     // null
  Boolean,  // true or false
  Integer,  // an integer that fits int64 or uint64, kept exactly
  Double,   // any other number: written with a fraction or exponent, or beyond 64 bits
  String,   // a UTF-8 string
  Array,    // an ordered list of values
  Object,   // string keys (unique, sorted by bytes) to values
};

const char* to_string(JsonType type) noexcept;

class JsonWriter;
class JsonView;

class Json {
 public:
  // null.
  Json();

  // Validates `text` (simdjson) and keeps its canonical form. Surrounding
  // white space is allowed; anything else after the value is not. Integers
  // beyond 64 bits become doubles, as in the seed. Throws
  // Error(InvalidJson) for bad syntax, invalid UTF-8, lone surrogates,
  // numbers out of double's range or nesting deeper than json_max_depth.
  static Json parse(std::string_view text);

  // The JSON of any convertible value (see the file comment). Throws what the
  // conversion throws, e.g. Error(NonFiniteNumber) for NaN.
  template <class T>
  static Json from(const T& value);

  // The canonical compact text.
  const std::string& text() const noexcept { return text_; }

  // The type of the value; O(1).
  JsonType type() const noexcept;

  // Converts to T (see the file comment). Throws Error(TypeMismatch) when the
  // value does not have T's type or range.
  template <class T>
  T get() const;

  // Like get(), but nullopt instead of Error(TypeMismatch), without throwing
  // inside (see the file comment for user types).
  template <class T>
  std::optional<T> try_get() const;

  // Value equality. As canonical texts are compared, 1 and 1.0 differ (as in
  // serde_json), and so do 0.0 and -0.0.
  friend bool operator==(const Json& a, const Json& b) noexcept { return a.text_ == b.text_; }

 private:
  friend class JsonWriter;
  friend struct JsonAccess;
  struct canonical_tag {};
  Json(canonical_tag, std::string text) noexcept : text_(std::move(text)) {}

  // Parses text_ and calls fn(view, context) while the parsed document lives.
  void visit(void (*fn)(const JsonView&, void*), void* context) const;

  std::string text_;
};

// Builds canonical JSON text. Object members may be written in any order: the
// writer sorts them by key when the object ends (duplicate keys: the last
// wins). Misuse (a value where a key is due, unbalanced ends, take() on an
// incomplete value) throws Error(InvalidArgument).
class JsonWriter {
 public:
  JsonWriter() = default;

  void null();
  void boolean(bool value);
  void integer(std::int64_t value);
  void integer(std::uint64_t value);
  // Throws Error(NonFiniteNumber) for NaN and infinities.
  void number(double value);
  // Throws Error(InvalidUtf8) unless `utf8` is valid UTF-8.
  void string(std::string_view utf8);
  // Embeds an existing value.
  void json(const Json& value);

  void begin_array();
  void end_array();
  void begin_object();
  // Throws Error(InvalidUtf8) unless `utf8` is valid UTF-8.
  void key(std::string_view utf8);
  void end_object();

  // Writes any convertible value through to_json, found by ADL.
  template <class T>
  JsonWriter& value(const T& v);
  // key(k) then value(v).
  template <class T>
  JsonWriter& member(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }

  // The finished value; the writer is empty afterwards.
  Json take();

 private:
  struct Member {
    std::string key;     // unescaped, for sorting
    std::size_t offset;  // where the member's text starts in out_
  };
  struct Frame {
    bool is_object;
    std::size_t offset;  // where the container's text starts in out_
    std::size_t count;   // values written so far
    bool key_pending;    // an object has a key whose value is still due
    bool sorted;         // keys so far strictly increasing
    std::vector<Member> members;
  };
  void before_value();
  void scalar(std::string_view text);  // a value's finished text
  void begin(bool is_object);
  void sort_members(Frame& frame);

  std::string out_;
  std::vector<Frame> stack_;
  bool done_ = false;
};

namespace internal {
struct JsonNode;  // defined in the library (src/model/json_internal.hpp)
}  // namespace internal

// A read-only view of one value inside a parsed JSON document, handed to
// from_json. It borrows the document: use it, and whatever string_view it
// returns, only during the from_json call that received it.
class JsonView {
 public:
  JsonType type() const noexcept;
  bool is_null() const noexcept { return type() == JsonType::Null; }

  // Each throws Error(TypeMismatch) when the value is not of that type or the
  // number is outside the result's range. as_double accepts any number.
  bool as_bool() const;
  std::int64_t as_int64() const;
  std::uint64_t as_uint64() const;
  double as_double() const;
  std::string_view as_string() const;

  // Arrays: the elements in order. Objects: the members in key order.
  // Throw Error(TypeMismatch) for other types.
  std::vector<JsonView> elements() const;
  std::vector<std::pair<std::string_view, JsonView>> members() const;
  // Number of elements or members; Error(TypeMismatch) for other types.
  std::size_t size() const;

  // Objects: the member's value, or nullopt when there is none.
  std::optional<JsonView> find(std::string_view key) const;
  // Objects: the member's value; Error(TypeMismatch) when it is missing.
  JsonView operator[](std::string_view key) const;

  // A copy of this value as a Json.
  Json to_json() const;

  // Converts through from_json, found by ADL.
  template <class T>
  T get() const;
  // Like get(), but nullopt instead of Error(TypeMismatch), without throwing
  // inside (see the file comment for user types).
  template <class T>
  std::optional<T> try_get() const;

 private:
  friend struct JsonViewAccess;
  explicit JsonView(const internal::JsonNode* node) noexcept : node_(node) {}
  // hotstate's own layout, whatever parses the text: one pointer to the
  // value's node in the document that Json::get reads the canonical text into
  // (its elements' or members' nodes follow it). The document stays unchanged
  // for the whole from_json call; a view is copied as a pointer, and simdjson
  // appears nowhere in it.
  const internal::JsonNode* node_;
};

// ---------------------------------------------------------------------------
// Built-in conversions. All are declared before any is defined, so that the
// container templates find each other; user types are found by ADL.

namespace detail {
template <class T>
inline constexpr bool is_character_v =
    std::is_same_v<T, char> || std::is_same_v<T, wchar_t> || std::is_same_v<T, char8_t> ||
    std::is_same_v<T, char16_t> || std::is_same_v<T, char32_t>;
template <class T>
concept json_integer = std::is_integral_v<T> && !std::is_same_v<T, bool> && !is_character_v<T>;
[[noreturn]] void throw_type_mismatch(std::string_view expected, const JsonView& got);

// How a rule reports a value of the wrong type or range: get() throws
// Error(TypeMismatch), try_get() returns false.
enum class OnMismatch { Throw, ReturnFalse };

// The built-in rules from JSON, each written once for both ways of reporting.
// Every read returns true when `out` was filled; on false (ReturnFalse only)
// `out` holds an unspecified value. The non-template members are defined in
// the library, for both instantiations.
template <OnMismatch M>
struct JsonReader {
  static bool mismatch([[maybe_unused]] std::string_view expected, [[maybe_unused]] const JsonView& got) {
    if constexpr (M == OnMismatch::Throw) {
      throw_type_mismatch(expected, got);
    } else {
      return false;
    }
  }

  // Primitives, shared with JsonView's as_* functions.
  static bool read_int64(const JsonView& in, std::int64_t min, std::int64_t max, std::int64_t& out);
  static bool read_uint64(const JsonView& in, std::uint64_t max, std::uint64_t& out);
  static bool read_string(const JsonView& in, std::string_view& out);

  static bool read(const JsonView& in, Json& out);
  static bool read(const JsonView& in, bool& out);
  static bool read(const JsonView& in, double& out);
  static bool read(const JsonView& in, float& out);
  static bool read(const JsonView& in, std::string& out);
  template <json_integer T>
  static bool read(const JsonView& in, T& out);
  template <class T>
  static bool read(const JsonView& in, std::optional<T>& out);
  template <class T, class A>
  static bool read(const JsonView& in, std::vector<T, A>& out);
  template <class T, class C, class A>
  static bool read(const JsonView& in, std::map<std::string, T, C, A>& out) {
    return read_members(in, out);
  }
  template <class T, class H, class E, class A>
  static bool read(const JsonView& in, std::unordered_map<std::string, T, H, E, A>& out) {
    return read_members(in, out);
  }

 private:
  // An element, a member's value or an optional's value: any convertible type.
  template <class T>
  static bool read_element(const JsonView& in, T& out);
  template <class Map>
  static bool read_members(const JsonView& in, Map& out);
};
extern template struct JsonReader<OnMismatch::Throw>;
extern template struct JsonReader<OnMismatch::ReturnFalse>;

// The types with a built-in rule.
template <class T>
concept json_builtin = requires(const JsonView& in, T& out) { JsonReader<OnMismatch::Throw>::read(in, out); };

// How get() and try_get() reach a conversion: unqualified calls, so that ADL
// finds a user type's from_json or try_from_json (see the file comment).
template <class T>
void convert(const JsonView& in, T& out);
template <class T>
bool try_convert(const JsonView& in, T& out);
}  // namespace detail

void to_json(JsonWriter& out, const Json& value);
void to_json(JsonWriter& out, std::nullptr_t);
void to_json(JsonWriter& out, bool value);
template <detail::json_integer T>
void to_json(JsonWriter& out, T value);
void to_json(JsonWriter& out, double value);
void to_json(JsonWriter& out, float value);
void to_json(JsonWriter& out, std::string_view value);
void to_json(JsonWriter& out, const std::string& value);
void to_json(JsonWriter& out, const char* value);
template <class T>
void to_json(JsonWriter& out, const std::optional<T>& value);
template <class T, class A>
void to_json(JsonWriter& out, const std::vector<T, A>& value);
template <class T, class C, class A>
void to_json(JsonWriter& out, const std::map<std::string, T, C, A>& value);
template <class T, class H, class E, class A>
void to_json(JsonWriter& out, const std::unordered_map<std::string, T, H, E, A>& value);

// The built-in conversions from JSON: Json, bool, the integer types, double,
// float, std::string, std::optional, std::vector, std::map and
// std::unordered_map with string keys. from_json throws Error(TypeMismatch)
// where try_from_json returns false; both apply the same rule.
template <detail::json_builtin T>
void from_json(const JsonView& in, T& out) {
  detail::JsonReader<detail::OnMismatch::Throw>::read(in, out);
}
template <detail::json_builtin T>
bool try_from_json(const JsonView& in, T& out) {
  return detail::JsonReader<detail::OnMismatch::ReturnFalse>::read(in, out);
}

template <detail::json_integer T>
void to_json(JsonWriter& out, T value) {
  if constexpr (std::is_signed_v<T>) {
    out.integer(static_cast<std::int64_t>(value));
  } else {
    out.integer(static_cast<std::uint64_t>(value));
  }
}

template <class T>
void to_json(JsonWriter& out, const std::optional<T>& value) {
  if (value) {
    out.value(*value);
  } else {
    out.null();
  }
}

template <class T, class A>
void to_json(JsonWriter& out, const std::vector<T, A>& value) {
  out.begin_array();
  for (const auto& element : value) {
    if constexpr (std::is_same_v<T, bool>) {
      out.boolean(static_cast<bool>(element));
    } else {
      out.value(element);
    }
  }
  out.end_array();
}

template <class T, class C, class A>
void to_json(JsonWriter& out, const std::map<std::string, T, C, A>& value) {
  out.begin_object();
  for (const auto& [k, v] : value) out.member(k, v);
  out.end_object();
}

template <class T, class H, class E, class A>
void to_json(JsonWriter& out, const std::unordered_map<std::string, T, H, E, A>& value) {
  out.begin_object();
  for (const auto& [k, v] : value) out.member(k, v);
  out.end_object();
}

namespace detail {

template <OnMismatch M>
template <json_integer T>
bool JsonReader<M>::read(const JsonView& in, T& out) {
  using limits = std::numeric_limits<T>;
  if constexpr (std::is_signed_v<T>) {
    std::int64_t v = 0;
    if (!read_int64(in, limits::min(), limits::max(), v)) return false;
    out = static_cast<T>(v);
  } else {
    std::uint64_t v = 0;
    if (!read_uint64(in, limits::max(), v)) return false;
    out = static_cast<T>(v);
  }
  return true;
}

template <OnMismatch M>
template <class T>
bool JsonReader<M>::read(const JsonView& in, std::optional<T>& out) {
  if (in.is_null()) {
    out.reset();
    return true;
  }
  out.emplace();
  return read_element(in, *out);
}

template <OnMismatch M>
template <class T, class A>
bool JsonReader<M>::read(const JsonView& in, std::vector<T, A>& out) {
  if (in.type() != JsonType::Array) return mismatch("an array", in);
  const auto elements = in.elements();
  out.clear();
  out.reserve(elements.size());
  for (const JsonView& element : elements) {
    T value{};  // not out.back(): std::vector<bool> has no bool& to fill
    if (!read_element(element, value)) return false;
    out.push_back(std::move(value));
  }
  return true;
}

template <OnMismatch M>
template <class Map>
bool JsonReader<M>::read_members(const JsonView& in, Map& out) {
  if (in.type() != JsonType::Object) return mismatch("an object", in);
  out.clear();
  for (const auto& [k, v] : in.members()) {
    typename Map::mapped_type value{};
    if (!read_element(v, value)) return false;
    out.emplace(std::string(k), std::move(value));
  }
  return true;
}

template <OnMismatch M>
template <class T>
bool JsonReader<M>::read_element(const JsonView& in, T& out) {
  if constexpr (M == OnMismatch::Throw) {
    convert(in, out);
    return true;
  } else {
    return try_convert(in, out);
  }
}

template <class T>
void check_convertible() {
  static_assert(std::is_default_constructible_v<T>, "hotstate: from_json fills a default-constructed T");
  static_assert(!is_character_v<T>,
                "hotstate: a character type has no JSON form; use std::string or an integer type");
}

template <class T>
void convert(const JsonView& in, T& out) {
  check_convertible<T>();
  if constexpr (requires { from_json(in, out); }) {
    from_json(in, out);
  } else {
    static_assert(requires { { try_from_json(in, out) } -> std::convertible_to<bool>; },
                  "hotstate: no from_json or try_from_json for this type; declare one in its namespace");
    if (!try_from_json(in, out)) throw_type_mismatch("a value its try_from_json accepts", in);
  }
}

template <class T>
bool try_convert(const JsonView& in, T& out) {
  check_convertible<T>();
  if constexpr (requires { { try_from_json(in, out) } -> std::convertible_to<bool>; }) {
    return try_from_json(in, out);
  } else {
    // A type with from_json only: that contract reports a mismatch by
    // throwing, so here, and only here, try_get catches.
    try {
      from_json(in, out);
      return true;
    } catch (const Error& error) {
      if (error.code() != ErrorCode::TypeMismatch) throw;
      return false;
    }
  }
}

}  // namespace detail

// ---------------------------------------------------------------------------
// Dispatch

template <class T>
JsonWriter& JsonWriter::value(const T& v) {
  static_assert(!detail::is_character_v<T>,
                "hotstate: a character type has no JSON form; use std::string or an integer type");
  to_json(*this, v);
  return *this;
}

template <class T>
T JsonView::get() const {
  detail::check_convertible<T>();
  T out{};
  detail::convert(*this, out);
  return out;
}

template <class T>
std::optional<T> JsonView::try_get() const {
  detail::check_convertible<T>();
  std::optional<T> out(std::in_place);
  if (!detail::try_convert(*this, *out)) out.reset();
  return out;
}

template <class T>
Json Json::from(const T& value) {
  JsonWriter writer;
  writer.value(value);
  return writer.take();
}

template <class T>
T Json::get() const {
  if constexpr (std::is_same_v<T, Json>) {
    return *this;
  } else {
    detail::check_convertible<T>();
    T out{};
    visit([](const JsonView& view, void* c) { detail::convert(view, *static_cast<T*>(c)); }, &out);
    return out;
  }
}

template <class T>
std::optional<T> Json::try_get() const {
  if constexpr (std::is_same_v<T, Json>) {
    return *this;
  } else {
    detail::check_convertible<T>();
    std::optional<T> out(std::in_place);
    visit(
        [](const JsonView& view, void* c) {
          auto& result = *static_cast<std::optional<T>*>(c);
          if (!detail::try_convert(view, *result)) result.reset();
        },
        &out);
    return out;
  }
}

}  // namespace hotstate
