// hotstate: the reload journal. A reload begins with the state saved before
// it and ends with its outcome; a reload whose host died in between is found
// by the next process, with the state to go back to.
//
// Thread safety: every type here is a plain value; copy it and hand it between
// threads freely. Distinct objects may be used concurrently; one object is not
// synchronized.
#pragma once

#include <cstdint>
#include <string>

#include "hotstate/snapshot.hpp"

namespace hotstate {

// What begin_reload recorded.
struct ReloadTicket {
  std::uint64_t id = 0;             // the reload's id, for finish_reload
  std::uint64_t snapshot_seq = 0;   // seq of the pre-reload snapshot it saved
  std::int64_t started_at_us = 0;   // when it began, microseconds since the Unix epoch
};

// How a reload ended, for finish_reload. A value type.
struct ReloadResult {
  bool success = true;
  std::string error;          // why it failed; empty on success
  std::uint32_t attempt = 1;  // which attempt this was (the host's retry count, from 1)
  // On success, finish_reload also pins the plugin's current snapshot under
  // this label, in its transaction (moving the label from the snapshot it
  // named before; see pin.hpp). Empty: no pin.
  std::string pin_label;

  static ReloadResult succeeded() { return {}; }
  // A success that pins the current snapshot as last-known-good: the state
  // restore_for falls back to when a later version fails.
  static ReloadResult succeeded_pinning(std::string label = "last-known-good") {
    ReloadResult result;
    result.pin_label = std::move(label);
    return result;
  }
  static ReloadResult failed(std::string error, std::uint32_t attempt = 1) {
    return {false, std::move(error), attempt, {}};
  }
};

// A reload that began and never finished: its host died (or is still
// running it, in another process). `last_good` is the snapshot begin_reload
// saved, the last state known to be good, kept by the journal even when
// history has trimmed its row since.
struct UnfinishedReload {
  std::uint64_t id = 0;
  std::string plugin_id;
  std::string from_version;  // last_good.plugin_version
  std::string to_version;    // as given to begin_reload
  std::int64_t started_at_us = 0;
  StateSnapshot last_good{"", ""};  // seq is the pre-reload snapshot's seq
};

}  // namespace hotstate
