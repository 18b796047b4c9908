// hotstate: library and schema versions.
#pragma once

namespace hotstate {

// The library's version.
inline constexpr int version_major = 0;
inline constexpr int version_minor = 1;
inline constexpr int version_patch = 0;
inline constexpr const char* version_string = "0.1.0";

// The newest schema version (PRAGMA user_version) this library writes and reads.
int schema_version() noexcept;

}  // namespace hotstate
