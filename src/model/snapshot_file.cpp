// Snapshots kept as files: their names (snapshot_file.hpp).
#include "hotstate/snapshot_file.hpp"

#include <cstdint>

#include "model/hex.hpp"

namespace hotstate {

std::string snapshot_file_name(std::string_view plugin_id) {
  if (plugin_id.empty()) return "%.json";
  std::string name;
  name.reserve(plugin_id.size() + 5);
  for (const char ch : plugin_id) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
      name += ch;
    } else {
      name += '%';
      internal::append_hex(name, c, internal::HexCase::Upper);
    }
  }
  constexpr std::size_t longest = 200;
  constexpr std::size_t kept_prefix = 180;
  if (name.size() > longest) {
    std::uint64_t hash = 1469598103934665603ull;  // FNV-1a, 64 bits
    for (const char ch : plugin_id) hash = (hash ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
    name.resize(kept_prefix);
    name += '~';
    for (int shift = 56; shift >= 0; shift -= 8) {
      internal::append_hex(name, static_cast<unsigned char>(hash >> shift), internal::HexCase::Lower);
    }
  }
  return name + ".json";
}

}  // namespace hotstate
