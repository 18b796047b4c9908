// hotstate: progress of long calls (backup, verify, prune_audit), for tools
// and hosts that show it. A callback is called from inside the call, about
// ten times a second at most, never two calls at once: on the calling thread
// (for prune_audit, a write, possibly on the thread of another writer that
// runs it in its group while the caller waits). It must not call the
// StateManager back, and must not throw (what it throws is dropped).
//
// Thread safety: a plain value.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace hotstate {

struct Progress {
  std::string_view what;    // the step, e.g. "backup", "verify: rows", "verify: audit chain", "prune: removing"
  std::uint64_t done = 0;   // units done so far
  std::uint64_t total = 0;  // units in all; 0 while not known
  std::string_view unit;    // "pages", "rows", "events"
};

using ProgressCallback = std::function<void(const Progress&)>;

}  // namespace hotstate
