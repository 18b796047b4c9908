// Internal: JSON helpers shared by the JSON, snapshot and store code. Not installed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "hotstate/json.hpp"
#include "hotstate/snapshot.hpp"

namespace hotstate {

// Builds Json from text already known to be canonical.
struct JsonAccess {
  static Json make(std::string canonical_text) noexcept { return Json(Json::canonical_tag{}, std::move(canonical_text)); }
};

// Builds snapshots whose fields are filled in afterwards (rows read back).
struct SnapshotAccess {
  static StateSnapshot unstamped() { return StateSnapshot(StateSnapshot::unstamped_tag{}); }
};

namespace internal {

bool is_valid_utf8(std::string_view text) noexcept;
// Throws Error(InvalidUtf8) naming `what` unless `text` is valid UTF-8.
void require_utf8(std::string_view text, std::string_view what);

// Throws Error(InvalidJson): a value nested deeper than json_max_depth.
[[noreturn]] void throw_too_deep();

// Appends `utf8` as a JSON string with serde_json's escapes.
void append_json_string(std::string& out, std::string_view utf8);
// Appends a finite double as serde_json (ryu) prints it: 1.0, 1e16, -0.0, 1.8446744073709552e19.
void append_json_double(std::string& out, double value);

// One member of an object being written into `out`: its unescaped key and
// where its text ("key":value) starts.
struct MemberRef {
  std::string_view key;
  std::size_t offset;
};
// `out` ends with the members of an object whose body starts at body_start
// (just after '{'), separated by commas. Rewrites them sorted by key, keeping
// the last of duplicate keys.
void sort_object_members(std::string& out, std::size_t body_start, const std::vector<MemberRef>& members);

// A JSON object's members as canonical values. Throws Error(InvalidJson) for
// bad JSON, Error(TypeMismatch) when the text is not an object.
std::map<std::string, Json> decode_json_object(std::string_view text);
// A JSON object of strings. Throws Error(InvalidJson) for bad JSON,
// Error(TypeMismatch) when the text is not an object of strings.
std::map<std::string, std::string> decode_string_object(std::string_view text);

// A snapshot's data as one canonical JSON object (std::map keeps keys sorted),
// and its metadata likewise. Throw Error(InvalidUtf8) for a key or value that
// is not UTF-8 (fields are public, so they are checked here, before writing).
std::string encode_data_object(const std::map<std::string, Json>& data);
std::string encode_string_object(const std::map<std::string, std::string>& object);

// A check value of a row's data and metadata texts as hotstate wrote them. Not
// cryptographic and not portable across byte orders: a mismatch only means
// "read the row the slow way".
std::uint64_t canonical_hash(std::string_view data, std::string_view metadata) noexcept;

// The same as decode_json_object / decode_string_object for text known to be
// canonical (hotstate wrote it: see canonical_hash): splits it without
// re-validating. Returns false, with `out` unspecified, when the text does
// not have the canonical shape after all.
bool split_canonical_object(std::string_view text, std::map<std::string, Json>& out);
bool split_canonical_string_object(std::string_view text, std::map<std::string, std::string>& out);

// One value of a canonical text read into nodes (CanonicalDocument), what a
// JsonView points to. A value's node is followed by its elements' nodes
// (arrays) or, per member, a key node (a String) and the value's nodes
// (objects), depth first: the first child is this + 1, the next sibling
// this + skip.
struct JsonNode {
  enum class Kind : std::uint8_t { Null, True, False, Int64, UInt64, Double, String, Array, Object };
  Kind kind;
  std::uint32_t skip;       // nodes in this value, its own included
  std::uint32_t count;      // Array: elements; Object: members; String: bytes of the unescaped text
  std::uint32_t text_size;  // bytes of this value's canonical text
  const char* text;         // this value's canonical text (inside the document's text)
  union {
    std::int64_t i;   // Int64: an integer in int64's range
    std::uint64_t u;  // UInt64: an integer beyond int64's range
    double d;         // Double
    const char* s;    // String: the unescaped bytes, inside the text when it has no escapes
  };
};

// A canonical text read into JsonNodes, without a parser: hotstate wrote the
// text, so it needs no validation, only splitting. Reused across reads (it
// keeps its capacity).
class CanonicalDocument {
 public:
  // Reads `text`, which must outlive the nodes and stay unchanged. Returns
  // false when it is not canonical JSON after all (the nodes are then
  // unspecified).
  bool read(const std::string& text);
  const JsonNode& root() const noexcept { return nodes_.front(); }

 private:
  // Appends a node (skip 1, count 0) and returns it; valid until the next add.
  JsonNode& add(JsonNode::Kind kind, const char* text) {
    if (size_ == nodes_.size()) grow();
    JsonNode& node = nodes_[size_++];
    node.kind = kind;
    node.skip = 1;
    node.count = 0;
    node.text_size = 0;
    node.text = text;
    return node;
  }
  void grow();
  // Each appends the node of the value at p, inside text, and moves p past it.
  bool push_string(const std::string& text, const char*& p);
  bool push_scalar(const std::string& text, const char*& p);

  std::vector<JsonNode> nodes_;      // the first size_ are this read's
  std::size_t size_ = 0;
  std::vector<std::uint32_t> open_;  // the arrays and objects begun but not yet ended
  std::string unescaped_;            // strings with escapes, unescaped (never reallocated during a read)
};

// The fields of a snapshot in the seed's layout.
struct DecodedSnapshot {
  std::string plugin_id;
  std::uint64_t timestamp = 0;
  std::map<std::string, Json> data;
  std::string plugin_version;
  std::map<std::string, std::string> metadata;
};
// Throws Error(InvalidJson) or Error(InvalidSnapshot).
DecodedSnapshot decode_snapshot(std::string_view bytes);

}  // namespace internal
}  // namespace hotstate
