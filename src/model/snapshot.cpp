#include "hotstate/snapshot.hpp"

#include <charconv>
#include <chrono>

#include "json_internal.hpp"

namespace hotstate {

namespace {
std::uint64_t unix_seconds_now() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  return seconds < 0 ? 0 : static_cast<std::uint64_t>(seconds);
}

std::string_view major_version(std::string_view version) { return version.substr(0, version.find('.')); }

void append_string_object(std::string& out, const std::map<std::string, std::string>& object) {
  out += '{';
  bool first = true;
  for (const auto& [key, value] : object) {
    if (!first) out += ',';
    first = false;
    internal::append_json_string(out, key);
    out += ':';
    internal::append_json_string(out, value);
  }
  out += '}';
}
}  // namespace

StateSnapshot::StateSnapshot(std::string id, std::string version)
    : plugin_id(std::move(id)), timestamp(unix_seconds_now()), plugin_version(std::move(version)) {}

void StateSnapshot::set_data(std::string_view key, Json value) {
  internal::require_utf8(key, "a data key");
  data.insert_or_assign(std::string(key), std::move(value));
}

const Json* StateSnapshot::find_data(std::string_view key) const {
  const auto it = data.find(std::string(key));
  return it == data.end() ? nullptr : &it->second;
}

StateSnapshot& StateSnapshot::with_metadata(std::string_view key, std::string_view value) {
  internal::require_utf8(key, "a metadata key");
  internal::require_utf8(value, "a metadata value");
  metadata.insert_or_assign(std::string(key), std::string(value));
  return *this;
}

std::optional<std::string_view> StateSnapshot::get_metadata(std::string_view key) const {
  const auto it = metadata.find(std::string(key));
  if (it == metadata.end()) return std::nullopt;
  return std::string_view(it->second);
}

bool StateSnapshot::is_compatible(std::string_view version) const {
  return major_version(plugin_version) == major_version(version);
}

std::string StateSnapshot::to_bytes() const {
  internal::require_utf8(plugin_id, "plugin_id");
  internal::require_utf8(plugin_version, "plugin_version");
  std::string out;
  out += "{\"plugin_id\":";
  internal::append_json_string(out, plugin_id);
  out += ",\"timestamp\":";
  char buffer[24];
  out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, timestamp).ptr);
  out += ",\"data\":";
  out += internal::encode_data_object(data);
  out += ",\"plugin_version\":";
  internal::append_json_string(out, plugin_version);
  out += ",\"metadata\":";
  out += internal::encode_string_object(metadata);
  out += '}';
  return out;
}

namespace {
// Pretty-prints compact canonical JSON the way serde_json's PrettyFormatter
// does: members and elements one per line, two spaces per level, ": " after
// keys, and empty containers as {} and [].
std::string pretty(std::string_view compact) {
  std::string out;
  out.reserve(compact.size() * 2);
  std::size_t depth = 0;
  const auto newline = [&] {
    out += '\n';
    out.append(depth * 2, ' ');
  };
  for (std::size_t i = 0; i < compact.size(); ++i) {
    const char c = compact[i];
    switch (c) {
      case '"': {  // copy the whole string, escapes included
        const std::size_t start = i++;
        while (i < compact.size() && compact[i] != '"') i += compact[i] == '\\' ? 2 : 1;
        out.append(compact, start, i - start + 1);
        break;
      }
      case '{':
      case '[':
        out += c;
        if (i + 1 < compact.size() && (compact[i + 1] == '}' || compact[i + 1] == ']')) {
          out += compact[++i];
        } else {
          ++depth;
          newline();
        }
        break;
      case '}':
      case ']':
        --depth;
        newline();
        out += c;
        break;
      case ',':
        out += ',';
        newline();
        break;
      case ':': out += ": "; break;
      default: out += c;
    }
  }
  return out;
}
}  // namespace

std::string StateSnapshot::to_persisted_bytes() const { return pretty(to_bytes()); }

StateSnapshot StateSnapshot::from_bytes(std::string_view bytes) {
  internal::DecodedSnapshot decoded = internal::decode_snapshot(bytes);
  StateSnapshot snapshot(std::move(decoded.plugin_id), std::move(decoded.plugin_version));
  snapshot.timestamp = decoded.timestamp;
  snapshot.data = std::move(decoded.data);
  snapshot.metadata = std::move(decoded.metadata);
  return snapshot;
}

namespace internal {

std::string encode_data_object(const std::map<std::string, Json>& data) {
  std::string out;
  out += '{';
  bool first = true;
  for (const auto& [key, value] : data) {
    require_utf8(key, "a data key");
    if (!first) out += ',';
    first = false;
    append_json_string(out, key);
    out += ':';
    out += value.text();
  }
  out += '}';
  return out;
}

std::string encode_string_object(const std::map<std::string, std::string>& object) {
  for (const auto& [key, value] : object) {
    require_utf8(key, "a metadata key");
    require_utf8(value, "a metadata value");
  }
  std::string out;
  append_string_object(out, object);
  return out;
}

}  // namespace internal
}  // namespace hotstate
