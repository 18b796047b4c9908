// Internal: a cheap way to tell whether anyone committed to the database.
#pragma once

#include <array>
#include <cstdint>

namespace hotstate::internal {

// A copy of the WAL-index header that SQLite keeps in the database's -shm
// file (SQLite's "WAL-index format": 48 bytes, written twice, first copy then
// second, on every commit by any connection of any process). Any commit
// changes it: iChange, the third word, counts commits, and mxFrame, the
// salts and the checksums change with them. Equal markers read at two
// moments mean nobody committed in between. A marker read while a writer
// was updating the header (the two copies differ) is unstable and equals
// nothing.
//
// For a :memory: database, which only its own connection can write, the
// store counts its commits in iChange's place instead.
struct ChangeMarker {
  std::array<std::uint32_t, 12> header{};
  bool stable = true;

  // The commit counter (the header's iChange); wraps around.
  std::uint32_t commit_counter() const noexcept { return header[2]; }

  friend bool operator==(const ChangeMarker& a, const ChangeMarker& b) noexcept {
    return a.stable && b.stable && a.header == b.header;
  }
};

}  // namespace hotstate::internal
