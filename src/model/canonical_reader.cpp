// Reading JSON text that hotstate itself wrote: canonical by construction, so
// splitting it needs no parser. Used when a row's canonical_hash matches.
#include <cstring>

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

}  // namespace hotstate::internal
