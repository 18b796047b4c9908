// Compiled as a source of the cache layer by the test
// layering_builds_an_include_with_the_flow: a layer sees the layers below it
// (this is what store_includes_cache.cpp gets wrong on purpose).
#include "cache/snapshot_cache.hpp"
#include "model/json_internal.hpp"
#include "store/change_marker.hpp"
