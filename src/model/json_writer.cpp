// Canonical JSON text: the writer, and number and string formatting as serde_json does it.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>
#include <string>
#include <system_error>

#include "hotstate/json.hpp"
#include "hex.hpp"
#include "json_internal.hpp"

namespace hotstate {
namespace internal {

void require_utf8(std::string_view text, std::string_view what) {
  if (!is_valid_utf8(text)) {
    throw Error(ErrorCode::InvalidUtf8, std::string(what) + " is not valid UTF-8");
  }
}

void throw_too_deep() {
  throw Error(ErrorCode::InvalidJson, "JSON nested deeper than " + std::to_string(json_max_depth) + " levels");
}

void append_json_string(std::string& out, std::string_view utf8) {
  out.reserve(out.size() + utf8.size() + 2);
  out += '"';
  std::size_t clean_from = 0;
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(utf8, clean_from, i - clean_from);
    clean_from = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        append_hex(out, c);
    }
  }
  out.append(utf8, clean_from, utf8.size() - clean_from);
  out += '"';
}

// The shortest digits that read back as `value` (std::to_chars), laid out the
// way ryu's format64 does, which is what serde_json prints.
void append_json_double(std::string& out, double value) {
  if (std::signbit(value)) {
    out += '-';
    value = -value;
  }
  if (value == 0.0) {
    out += "0.0";
    return;
  }
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  const std::string_view scientific(buffer, static_cast<std::size_t>(result.ptr - buffer));
  const std::size_t e = scientific.find('e');
  std::string digits(1, scientific[0]);
  if (e > 1) digits.append(scientific.substr(2, e - 2));
  int exponent = 0;
  std::string_view exponent_text = scientific.substr(e + 1);
  if (!exponent_text.empty() && exponent_text[0] == '+') exponent_text.remove_prefix(1);
  std::from_chars(exponent_text.data(), exponent_text.data() + exponent_text.size(), exponent);

  const int length = static_cast<int>(digits.size());
  const int kk = exponent + 1;  // 10^(kk-1) <= value < 10^kk
  const int k = kk - length;
  if (k >= 0 && kk <= 16) {  // 1234e7 -> 12340000000.0
    out += digits;
    out.append(static_cast<std::size_t>(k), '0');
    out += ".0";
  } else if (kk > 0 && kk <= 16) {  // 1234e-2 -> 12.34
    out.append(digits, 0, static_cast<std::size_t>(kk));
    out += '.';
    out.append(digits, static_cast<std::size_t>(kk));
  } else if (kk > -5 && kk <= 0) {  // 1234e-6 -> 0.001234
    out += "0.";
    out.append(static_cast<std::size_t>(-kk), '0');
    out += digits;
  } else {  // 1e30, 1.234e33
    out += digits[0];
    if (length > 1) {
      out += '.';
      out.append(digits, 1);
    }
    out += 'e';
    out += std::to_string(kk - 1);
  }
}

void sort_object_members(std::string& out, std::size_t body_start, const std::vector<MemberRef>& members) {
  const std::size_t n = members.size();
  const auto begin_of = [&](std::size_t i) { return members[i].offset; };
  // Each member but the last is followed by a comma.
  const auto end_of = [&](std::size_t i) { return i + 1 < n ? members[i + 1].offset - 1 : out.size(); };
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return members[a].key < members[b].key; });
  std::string body;
  body.reserve(out.size() - body_start);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t m = order[i];
    // Equal keys stay in writing order: keep only the last one written.
    if (i + 1 < n && members[order[i + 1]].key == members[m].key) continue;
    if (!body.empty()) body += ',';
    body.append(out, begin_of(m), end_of(m) - begin_of(m));
  }
  out.resize(body_start);
  out += body;
}

}  // namespace internal

const char* to_string(JsonType type) noexcept {
  switch (type) {
    case JsonType::Null: return "null";
    case JsonType::Boolean: return "boolean";
    case JsonType::Integer: return "integer";
    case JsonType::Double: return "double";
    case JsonType::String: return "string";
    case JsonType::Array: return "array";
    case JsonType::Object: return "object";
  }
  return "unknown";
}

Json::Json() : text_("null") {}

JsonType Json::type() const noexcept {
  if (text_.empty()) return JsonType::Null;  // only a moved-from Json
  switch (text_.front()) {
    case 'n': return JsonType::Null;
    case 't':
    case 'f': return JsonType::Boolean;
    case '"': return JsonType::String;
    case '[': return JsonType::Array;
    case '{': return JsonType::Object;
    default:
      // Canonical doubles always have a fraction or an exponent; integers never.
      return text_.find_first_of(".e") == std::string::npos ? JsonType::Integer : JsonType::Double;
  }
}

// ---------------------------------------------------------------------------
// JsonWriter

namespace {
[[noreturn]] void misuse(const char* what) {
  throw Error(ErrorCode::InvalidArgument, std::string("JsonWriter: ") + what);
}
}  // namespace

void JsonWriter::before_value() {
  if (stack_.empty()) {
    if (done_) misuse("a second value at the top level");
    return;
  }
  Frame& frame = stack_.back();
  if (frame.is_object) {
    if (!frame.key_pending) misuse("a value in an object needs a key first");
    frame.key_pending = false;
  } else if (frame.count > 0) {
    out_ += ',';
  }
  ++frame.count;
}

void JsonWriter::scalar(std::string_view text) {
  before_value();
  out_ += text;
  if (stack_.empty()) done_ = true;
}

namespace {
// An integer's decimal digits, without allocating.
class Digits {
 public:
  template <class Integer>
  explicit Digits(Integer value) : end_(std::to_chars(buffer_, buffer_ + sizeof buffer_, value).ptr) {}
  operator std::string_view() const { return {buffer_, static_cast<std::size_t>(end_ - buffer_)}; }

 private:
  char buffer_[24];
  const char* end_;
};
}  // namespace

void JsonWriter::null() { scalar("null"); }
void JsonWriter::boolean(bool value) { scalar(value ? "true" : "false"); }
void JsonWriter::integer(std::int64_t value) { scalar(Digits(value)); }
void JsonWriter::integer(std::uint64_t value) { scalar(Digits(value)); }

void JsonWriter::number(double value) {
  if (!std::isfinite(value)) {
    throw Error(ErrorCode::NonFiniteNumber, "JSON cannot hold NaN or an infinity");
  }
  before_value();
  internal::append_json_double(out_, value);
  if (stack_.empty()) done_ = true;
}

void JsonWriter::string(std::string_view utf8) {
  internal::require_utf8(utf8, "a JSON string");
  before_value();
  internal::append_json_string(out_, utf8);
  if (stack_.empty()) done_ = true;
}

void JsonWriter::json(const Json& value) { scalar(value.text()); }

void JsonWriter::begin(bool is_object) {
  if (stack_.size() >= json_max_depth) internal::throw_too_deep();
  before_value();
  stack_.push_back(Frame{is_object, out_.size(), 0, false, true, {}});
  out_ += is_object ? '{' : '[';
}

void JsonWriter::begin_array() { begin(false); }

void JsonWriter::end_array() {
  if (stack_.empty() || stack_.back().is_object) misuse("end_array without begin_array");
  stack_.pop_back();
  out_ += ']';
  if (stack_.empty()) done_ = true;
}

void JsonWriter::begin_object() { begin(true); }

void JsonWriter::key(std::string_view utf8) {
  if (stack_.empty() || !stack_.back().is_object) misuse("key outside an object");
  Frame& frame = stack_.back();
  if (frame.key_pending) misuse("two keys in a row");
  internal::require_utf8(utf8, "a JSON object key");
  if (!frame.members.empty()) {
    out_ += ',';
    if (!(frame.members.back().key < utf8)) frame.sorted = false;
  }
  frame.members.push_back(Member{std::string(utf8), out_.size()});
  internal::append_json_string(out_, utf8);
  out_ += ':';
  frame.key_pending = true;
}

void JsonWriter::end_object() {
  if (stack_.empty() || !stack_.back().is_object) misuse("end_object without begin_object");
  Frame& frame = stack_.back();
  if (frame.key_pending) misuse("a key without a value");
  if (!frame.sorted) sort_members(frame);
  stack_.pop_back();
  out_ += '}';
  if (stack_.empty()) done_ = true;
}

void JsonWriter::sort_members(Frame& frame) {
  std::vector<internal::MemberRef> refs;
  refs.reserve(frame.members.size());
  for (const Member& member : frame.members) refs.push_back({member.key, member.offset});
  internal::sort_object_members(out_, frame.offset + 1, refs);
}

Json JsonWriter::take() {
  if (!done_ || !stack_.empty()) misuse("take() before the value is complete");
  Json result = JsonAccess::make(std::move(out_));
  out_.clear();
  done_ = false;
  return result;
}

// ---------------------------------------------------------------------------
// Built-in to_json

void to_json(JsonWriter& out, const Json& value) { out.json(value); }
void to_json(JsonWriter& out, std::nullptr_t) { out.null(); }
void to_json(JsonWriter& out, bool value) { out.boolean(value); }
void to_json(JsonWriter& out, double value) { out.number(value); }
void to_json(JsonWriter& out, float value) { out.number(static_cast<double>(value)); }
void to_json(JsonWriter& out, std::string_view value) { out.string(value); }
void to_json(JsonWriter& out, const std::string& value) { out.string(value); }
void to_json(JsonWriter& out, const char* value) {
  if (value == nullptr) {
    out.null();
  } else {
    out.string(value);
  }
}

}  // namespace hotstate
