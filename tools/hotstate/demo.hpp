// The hotstate tool's demo: a toy plugin saved and hot-reloaded across
// versions (its state migrated to a breaking 2.0.0), a bad 3.0.0 failing and
// last-known-good restored, an old snapshot restored by its seq, through the
// public API as a host would do it; then what the file holds and the
// commands to explore it with.
#pragma once

#include <string>

#include "hotstate/hotstate.hpp"

namespace hotstate_tool {

// Runs the demo on `options.path` (created when absent; an earlier run's
// file is reused, and a reload it left unfinished is resumed), printing the
// story to stdout. `program`: how the tool was invoked (argv[0]), so the
// commands it suggests can be pasted as they are, also before the tool is
// installed. Returns the exit code; errors are thrown.
int run_demo(const hotstate::Options& options, const std::string& program);

}  // namespace hotstate_tool
