// hotstate: library and schema versions.
#pragma once

#include "hotstate/version.h"

namespace hotstate {

// The library's version (defined once, in version.h).
inline constexpr int version_major = HOTSTATE_VERSION_MAJOR;
inline constexpr int version_minor = HOTSTATE_VERSION_MINOR;
inline constexpr int version_patch = HOTSTATE_VERSION_PATCH;
inline constexpr const char* version_string = HOTSTATE_VERSION_STRING;

// The newest schema version (PRAGMA user_version) this library writes and reads.
int schema_version() noexcept;

}  // namespace hotstate
