// Internal: a cheap way to tell whether anyone committed to the database.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

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

// Where the audit log stood at some commit. Every change of a plugin's
// current snapshot, by any writer that keeps the schema's triggers, adds an
// event naming the plugin (SnapshotSaved, RolledBack, Cleared, ClearedAll,
// SnapshotEdited, SnapshotDeleted), so the events after a position say what
// changed since. The newest event's id and time, together, tell this log from
// that of another file put in its place; the schema version tells whether
// anyone changed the schema (say, dropped a trigger) meanwhile.
struct AuditPosition {
  bool known = false;               // false: nothing can be told from it
  std::int64_t event_id = 0;        // the newest event's id; 0 when the log was empty
  std::int64_t event_time_us = 0;   // that event's time_us
  std::int64_t schema_version = 0;  // PRAGMA schema_version
};

// What other writers changed after a position, as far as the audit log says.
struct ChangesSince {
  AuditPosition position;            // where the log stands in the view the changes were read from
  bool everything = false;           // the log cannot say (or says every plugin changed)
  std::vector<std::string> plugins;  // otherwise: the plugins whose current snapshot may have changed
};

}  // namespace hotstate::internal
