// Compiled as a source of the store layer by the test
// layering_refuses_an_include_against_the_flow, which passes only when this
// does NOT build: the store sits below the cache and cannot see its headers.
#include "cache/snapshot_cache.hpp"
