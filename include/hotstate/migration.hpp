// hotstate: state migrations across major versions of a plugin, registered
// with StateManager::register_migration and applied by
// StateManager::restore_for.
//
// Thread safety: a Migration is called from the thread that calls
// restore_for, with no hotstate lock held; several threads may call it at
// once (make it reentrant or guard it).
#pragma once

#include <functional>

#include "hotstate/snapshot.hpp"

namespace hotstate {

// Takes a snapshot of a plugin's state as one major version wrote it and
// returns the state as the next one in the chain expects (from_major to
// to_major of its registration; either direction). It may throw: restore_for
// then passes over that snapshot and tries an older one. The plugin id and
// the version of what the last step returns are set by restore_for.
using Migration = std::function<StateSnapshot(StateSnapshot)>;

}  // namespace hotstate
