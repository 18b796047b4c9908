// Reading JSON text that hotstate itself wrote: canonical by construction, so
// splitting it needs no parser. Used when a row's canonical_hash matches, and
// for the documents that JsonView reads.
#include <charconv>
#include <cstring>
#include <limits>
#include <system_error>

#include "json_internal.hpp"

namespace hotstate::internal {

namespace {

constexpr std::uint64_t golden = 0x9E3779B97F4A7C15ull;

std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  return x;
}

std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t h) noexcept {
  h ^= bytes.size() * golden;
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    h = (h ^ mix(word)) * golden;
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, bytes.data() + i, bytes.size() - i);
  return (h ^ mix(tail)) * golden;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Reads the canonical string starting at text[pos] == '"'; appends its
// unescaped content to `out` (when not null) and returns the position after
// the closing quote, or npos. Canonical strings escape only ", \, \b, \f,
// \n, \r, \t and other control characters as \u00xx.
std::size_t read_string(std::string_view text, std::size_t pos, std::string* out) {
  if (pos >= text.size() || text[pos] != '"') return std::string_view::npos;
  ++pos;
  std::size_t clean_from = pos;
  while (pos < text.size()) {
    const char c = text[pos];
    if (c == '"') {
      if (out) out->append(text, clean_from, pos - clean_from);
      return pos + 1;
    }
    if (c != '\\') {
      ++pos;
      continue;
    }
    if (out) out->append(text, clean_from, pos - clean_from);
    if (pos + 1 >= text.size()) return std::string_view::npos;
    char unescaped = 0;
    std::size_t length = 2;
    switch (text[pos + 1]) {
      case '"': unescaped = '"'; break;
      case '\\': unescaped = '\\'; break;
      case 'b': unescaped = '\b'; break;
      case 'f': unescaped = '\f'; break;
      case 'n': unescaped = '\n'; break;
      case 'r': unescaped = '\r'; break;
      case 't': unescaped = '\t'; break;
      case 'u': {
        if (pos + 6 > text.size() || text[pos + 2] != '0' || text[pos + 3] != '0') return std::string_view::npos;
        const int high = hex_value(text[pos + 4]);
        const int low = hex_value(text[pos + 5]);
        if (high < 0 || low < 0) return std::string_view::npos;
        unescaped = static_cast<char>(high * 16 + low);
        length = 6;
        break;
      }
      default: return std::string_view::npos;
    }
    if (out) *out += unescaped;
    pos += length;
    clean_from = pos;
  }
  return std::string_view::npos;
}

// The end of the canonical value starting at text[pos]: the position of the
// ',' or '}' that follows it at depth 0, or npos.
std::size_t skip_value(std::string_view text, std::size_t pos) {
  int depth = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    if (c == '"') {
      pos = read_string(text, pos, nullptr);
      if (pos == std::string_view::npos) return pos;
      continue;
    }
    if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      if (depth == 0) return c == '}' ? pos : std::string_view::npos;
      --depth;
    } else if (c == ',' && depth == 0) {
      return pos;
    }
    ++pos;
  }
  return std::string_view::npos;
}

// Calls member(key, value_text) for each member of a canonical object.
template <class Member>
bool split_members(std::string_view text, Member&& member) {
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') return false;
  std::size_t pos = 1;
  if (text.size() == 2) return true;
  std::string key;
  while (true) {
    key.clear();
    pos = read_string(text, pos, &key);
    if (pos == std::string_view::npos || pos >= text.size() || text[pos] != ':') return false;
    const std::size_t value_start = pos + 1;
    const std::size_t value_end = skip_value(text, value_start);
    if (value_end == std::string_view::npos || value_end == value_start) return false;
    if (!member(key, text.substr(value_start, value_end - value_start))) return false;
    if (text[value_end] == '}') return value_end + 1 == text.size();
    pos = value_end + 1;
  }
}

bool is_digit(char c) noexcept { return static_cast<unsigned>(static_cast<unsigned char>(c) - '0') <= 9; }

// Reads the number at p into node's kind and value, as simdjson and
// serde_json classify numbers: an integer in int64's range, else in uint64's,
// else (or with a fraction or exponent) a double. Returns the end of the
// number, or nullptr when there is none. The text must end with a '\0'.
const char* read_number(const char* p, JsonNode& node) {
  const char* const start = p;
  const bool negative = *p == '-';
  if (negative) ++p;
  const char* const first_digit = p;
  std::uint64_t magnitude = 0;  // wraps beyond 20 digits; then unused
  for (; is_digit(*p); ++p) magnitude = magnitude * 10 + static_cast<std::uint64_t>(*p - '0');
  const auto digits = static_cast<std::size_t>(p - first_digit);
  if (digits == 0) return nullptr;
  const bool fraction_or_exponent = *p == '.' || *p == 'e' || *p == 'E';
  // Up to 19 digits always fit uint64; 20 digits fit up to its maximum.
  const bool fits = digits < 20 || (digits == 20 && std::string_view(first_digit, 20) <= "18446744073709551615");
  if (!fraction_or_exponent && fits) {
    constexpr auto int64_max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (magnitude <= int64_max + (negative ? 1 : 0)) {
      node.kind = JsonNode::Kind::Int64;
      // -2^63 is one beyond int64_max: negate in unsigned arithmetic.
      node.i = static_cast<std::int64_t>(negative ? 0 - magnitude : magnitude);
      return p;
    }
    if (!negative) {
      node.kind = JsonNode::Kind::UInt64;
      node.u = magnitude;
      return p;
    }
  }
  while (is_digit(*p) || *p == '.' || *p == 'e' || *p == 'E' || *p == '-' || *p == '+') ++p;
  node.kind = JsonNode::Kind::Double;
  const std::from_chars_result result = std::from_chars(start, p, node.d);
  return result.ec == std::errc() && result.ptr == p ? p : nullptr;
}

}  // namespace

std::uint64_t canonical_hash(std::string_view data, std::string_view metadata) noexcept {
  return mix(hash_bytes(metadata, hash_bytes(data, 0x686F747374617465ull)));  // "hotstate"
}

bool split_canonical_object(std::string_view text, std::map<std::string, Json>& out) {
  out.clear();
  return split_members(text, [&](const std::string& key, std::string_view value) {
    // Canonical keys come sorted: each insert goes at the end.
    out.emplace_hint(out.end(), key, JsonAccess::make(std::string(value)));
    return true;
  });
}

bool split_canonical_string_object(std::string_view text, std::map<std::string, std::string>& out) {
  out.clear();
  std::string value;
  return split_members(text, [&](const std::string& key, std::string_view raw) {
    value.clear();
    if (read_string(raw, 0, &value) != raw.size()) return false;
    out.emplace_hint(out.end(), key, value);
    return true;
  });
}

// ---------------------------------------------------------------------------
// CanonicalDocument

void CanonicalDocument::grow() { nodes_.resize(2 * nodes_.size() + 64); }

bool CanonicalDocument::push_string(const std::string& text, const char*& p) {
  JsonNode& node = add(JsonNode::Kind::String, p);
  const char* const end = text.data() + text.size();
  const char* q = p + 1;
  while (q < end && *q != '"' && *q != '\\') ++q;
  if (q == end) return false;
  if (*q == '"') {  // no escapes: the bytes are in the text
    node.s = p + 1;
    node.count = static_cast<std::uint32_t>(q - p - 1);
    p = q + 1;
  } else {
    // Unescaped text is never longer than the text, so this reserve keeps
    // the pointers into unescaped_ valid until the next read.
    if (unescaped_.capacity() < text.size()) unescaped_.reserve(text.size());
    const std::size_t from = unescaped_.size();
    const std::size_t after = read_string(text, static_cast<std::size_t>(p - text.data()), &unescaped_);
    if (after == std::string_view::npos) return false;
    node.s = unescaped_.data() + from;
    node.count = static_cast<std::uint32_t>(unescaped_.size() - from);
    p = text.data() + after;
  }
  node.text_size = static_cast<std::uint32_t>(p - node.text);
  return true;
}

bool CanonicalDocument::push_scalar(const std::string& text, const char*& p) {
  const auto literal = [&](std::string_view word, JsonNode::Kind kind) {
    if (std::string_view(p, static_cast<std::size_t>(text.data() + text.size() - p)).substr(0, word.size()) != word) {
      return false;
    }
    add(kind, p).text_size = static_cast<std::uint32_t>(word.size());
    p += word.size();
    return true;
  };
  switch (*p) {
    case '"': return push_string(text, p);
    case 'n': return literal("null", JsonNode::Kind::Null);
    case 't': return literal("true", JsonNode::Kind::True);
    case 'f': return literal("false", JsonNode::Kind::False);
    default: {
      JsonNode& node = add(JsonNode::Kind::Null, p);
      const char* const end = read_number(p, node);
      if (end == nullptr) return false;
      node.text_size = static_cast<std::uint32_t>(end - p);
      p = end;
      return true;
    }
  }
}

bool CanonicalDocument::read(const std::string& text) {
  size_ = 0;
  open_.clear();
  unescaped_.clear();
  if (text.empty() || text.size() > std::numeric_limits<std::uint32_t>::max()) return false;
  // Scans stop at the '\0' that ends every std::string, or at `end`: p never
  // passes end. Only the structure is checked, not what canonical text
  // guarantees besides (UTF-8, escapes, sorted and unique keys).
  const char* p = text.data();
  const char* const end = p + text.size();
  bool in_object = false;  // the innermost open container is an object
  while (true) {
    // A value starts at p; in an object, its key first.
    if (in_object) {
      if (*p != '"' || !push_string(text, p) || *p != ':') return false;
      ++p;
    }
    const char c = *p;
    if (c == '[' || c == '{') {
      const std::size_t index = size_;
      add(c == '[' ? JsonNode::Kind::Array : JsonNode::Kind::Object, p);
      ++p;
      if (*p != (c == '[' ? ']' : '}')) {
        open_.push_back(static_cast<std::uint32_t>(index));  // its first element or member comes next
        in_object = c == '{';
        if (p == end) return false;
        continue;
      }
      ++p;  // empty: already complete
      nodes_[index].text_size = 2;
    } else if (p == end || !push_scalar(text, p)) {
      return false;
    }
    // A value is complete, and so is every container that ends after it.
    while (true) {
      if (open_.empty()) return p == end;
      JsonNode& container = nodes_[open_.back()];
      ++container.count;
      if (*p == ',') {
        ++p;
        break;
      }
      if (*p != (container.kind == JsonNode::Kind::Array ? ']' : '}')) return false;
      ++p;
      container.skip = static_cast<std::uint32_t>(size_ - open_.back());
      container.text_size = static_cast<std::uint32_t>(p - container.text);
      open_.pop_back();
      in_object = !open_.empty() && nodes_[open_.back()].kind == JsonNode::Kind::Object;
    }
  }
}

}  // namespace hotstate::internal
