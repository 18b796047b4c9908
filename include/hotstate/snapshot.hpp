// hotstate: StateSnapshot, one saved state of one plugin.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "hotstate/json.hpp"

namespace hotstate {

// The state of one plugin at one moment, as the seed defines it: arbitrary JSON
// data by key, string metadata by key, and the plugin version that wrote it.
//
// A plain value type: copy it, move it, hand it between threads. Distinct
// objects may be used concurrently; one object is not synchronized.
struct StateSnapshot {
  std::string plugin_id;
  std::uint64_t timestamp = 0;  // whole seconds since the Unix epoch, as in the seed
  std::map<std::string, Json> data;
  std::string plugin_version;
  std::map<std::string, std::string> metadata;
  // Where the snapshot stands in its store's save order: the row's `seq`.
  // 0 for a snapshot that was not read from a store. Not part of to_bytes().
  std::uint64_t seq = 0;

  // An empty snapshot stamped with the current time.
  StateSnapshot(std::string plugin_id, std::string plugin_version);

  // Sets data[key] to the JSON of `value` (see json.hpp for the types) and
  // returns *this. Unlike the seed, which silently drops a value it cannot
  // serialize, this throws: Error(NonFiniteNumber) for NaN or an infinity,
  // Error(InvalidUtf8) for a key or string that is not UTF-8. On a throw the
  // snapshot is unchanged.
  template <class T>
  StateSnapshot& with_data(std::string_view key, const T& value) {
    Json json = Json::from(value);
    set_data(key, std::move(json));
    return *this;
  }

  // Sets metadata[key] = value and returns *this. Throws Error(InvalidUtf8)
  // unless both are UTF-8; on a throw the snapshot is unchanged.
  StateSnapshot& with_metadata(std::string_view key, std::string_view value);

  // data[key] converted to T; nullopt when the key is missing or its value
  // does not have T's type or range (the seed's semantics).
  template <class T>
  std::optional<T> get(std::string_view key) const {
    const Json* json = find_data(key);
    if (json == nullptr) return std::nullopt;
    return json->try_get<T>();
  }

  // metadata[key], or nullopt. The view lives as long as this snapshot's entry.
  std::optional<std::string_view> get_metadata(std::string_view key) const;

  // True when the major versions (the text before the first '.') are equal,
  // as in the seed: "1.0.0" is compatible with "1.2.3", not with "2.0.0".
  bool is_compatible(std::string_view plugin_version) const;

  // The seed's serde JSON layout, compact:
  // {"plugin_id":…,"timestamp":…,"data":{…},"plugin_version":…,"metadata":{…}}
  // data and metadata keys in byte order (the seed's order is unspecified).
  std::string to_bytes() const;

  // The same, pretty-printed as the seed's persistence wrote its files
  // (serde_json's to_string_pretty: two-space indent, "key": value).
  std::string to_persisted_bytes() const;

  // Reads the seed's layout, compact or pretty-printed (the seed's persisted
  // files). Unknown fields are ignored, as serde does. Throws
  // Error(InvalidJson) for text that is not JSON, Error(InvalidSnapshot) for a
  // missing, duplicate or mistyped field.
  static StateSnapshot from_bytes(std::string_view bytes);

  // Equal fields, seq included.
  friend bool operator==(const StateSnapshot&, const StateSnapshot&) = default;

 private:
  friend struct SnapshotAccess;
  struct unstamped_tag {};
  explicit StateSnapshot(unstamped_tag) {}  // for rows read back: their timestamp comes from the row

  void set_data(std::string_view key, Json value);
  const Json* find_data(std::string_view key) const;
};

// Snapshots handed out by a StateManager are shared and immutable.
using SnapshotPtr = std::shared_ptr<const StateSnapshot>;

}  // namespace hotstate
