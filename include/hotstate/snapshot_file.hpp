// hotstate: snapshots kept as files, one per plugin, in the seed's layout
// (StateSnapshot::to_bytes): what `hotstate export` writes and `import`
// reads, and what a host that keeps such a folder needs. The seed named each
// file after the plugin id, so an id like "../x" or "a/b" escaped the folder;
// these names cannot.
#pragma once

#include <string>
#include <string_view>

namespace hotstate {

// The file name for a plugin's snapshot: "<escaped id>.json". Every byte of
// the id outside [A-Za-z0-9_-] is written %XX (uppercase hex), so no id can
// name a directory, a parent (..), a hidden file or a device, and distinct
// ids get distinct names; the empty id is "%.json" (never a valid escape).
// An id whose escaped form is over 200 bytes keeps its first 180 bytes plus
// "~" and a 64-bit FNV-1a hash of the whole id, to stay within file-name
// limits. Thread-safe; allocates the result only.
std::string snapshot_file_name(std::string_view plugin_id);

}  // namespace hotstate
