// A SQLite VFS for tests that injects faults: failed writes and fsyncs, a
// full disk, a read-only file system, and power loss.
//
// It is layered over SQLite's default VFS and registered (once, not as the
// default) under faults::vfs_name(). A StateManager uses it through
// Options::vfs (see faults::options()); every other connection of the
// process is unaffected. All controls are process-wide, thread-safe, and
// reset by faults::reset() (faults::Scope resets on entry and exit, so a
// failing test leaves nothing armed for the next one).
//
// Power loss. After record_power_loss(path), the VFS keeps, for the main
// file, the -wal and the -journal of that database, the file as it is on
// stable storage (its bytes as of its last successful xSync, applied from a
// log of the writes and truncations since) besides the file SQLite sees.
// cut_power() (or cut_power_after(n)) "kills" the process: from then on every
// operation through the VFS fails (only closing, unlocking and unmapping
// still happen, so the test can destroy its StateManager). Then
// restore_after_power_loss() rewrites the files as a machine would find them
// after the power came back, and deletes the -shm (shared memory, lost
// anyway); the database can then be opened with SQLite's default VFS.
// The model assumes what SQLite's unix VFS assumes (SQLITE_IOCAP_POWERSAFE_
// OVERWRITE): a write can only damage the sectors it writes.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "hotstate/options.hpp"

namespace hotstate_test::faults {

// The name of the fault VFS; registers it on the first call.
const char* vfs_name();

// file_options() with Options::vfs set to the fault VFS.
hotstate::Options options(const std::string& path, std::size_t max_history = 10);

// Everything off: no faults, power on, no recording, counters zero.
void reset();

// Resets on construction and on destruction.
struct Scope {
  Scope() { reset(); }
  ~Scope() { reset(); }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
};

// --- Failed writes and syncs (any file opened through the VFS) --------------

// The n-th xWrite from now (1: the next one) fails with `rc` without writing;
// the writes after it succeed again. n = 0 disarms.
void fail_nth_write(int n, int rc = SQLITE_IOERR_WRITE);
// Every xWrite fails with `rc` without writing, until clear_faults().
void fail_every_write(int rc = SQLITE_IOERR_WRITE);
// Like a full disk: every xWrite that would make a file longer fails with
// SQLITE_FULL; writes inside a file's current size still succeed. Until
// clear_faults().
void disk_full();
// The n-th xSync from now fails with SQLITE_IOERR_FSYNC (the data was
// written, but SQLite is told it may not be on stable storage). n = 0 disarms.
void fail_nth_sync(int n);
// Every xSync fails with SQLITE_IOERR_FSYNC until clear_faults().
void fail_every_sync();
// Disarms every write and sync fault (not the read-only file system, not power loss).
void clear_faults();

// Operations seen since the last reset().
std::uint64_t writes();    // xWrite calls (failed ones included)
std::uint64_t syncs();     // xSync calls (failed ones included)
std::uint64_t injected();  // faults injected (failed writes, syncs, opens)

// --- A read-only file system ----------------------------------------------------

enum class ReadOnlyFs {
  Off,
  // A read-only mount (EROFS): existing files open read-only, as SQLite's
  // unix VFS falls back to on EROFS; no file can be created (SQLITE_CANTOPEN).
  Mount,
  // Files of mode 0444 in a writable directory: an existing main database
  // file opens read-only; -wal and -journal can be created and written.
  Files,
  // A directory of mode 0555 holding writable files: existing files open
  // read-write; creating a -wal or -journal fails with
  // SQLITE_READONLY_DIRECTORY, creating a main file with SQLITE_CANTOPEN
  // (what SQLite's unix VFS reports for EACCES on creation).
  Directory,
};
// Applies to main, -wal and -journal files opened for writing, and to
// xAccess(SQLITE_ACCESS_READWRITE), which answers "no" for files that could
// not be written. The -shm is opened by SQLite's unix VFS itself, not through
// xOpen, so it stays writable: the emulation is of the files, not of the
// shared memory.
void set_read_only_fs(ReadOnlyFs mode);

// --- Power loss ---------------------------------------------------------------------

enum class PowerLoss {
  // Every write since a file's last successful xSync is lost: its bytes and
  // its size are as of that sync.
  DropUnsynced,
  // Torn: of the writes since a file's last successful xSync, each 512-byte
  // sector is kept or lost at random, and the file has either its synced or
  // its latest size (a sector beyond the synced size that is lost reads as
  // zeros).
  Torn,
};

// Starts recording the main file, -wal and -journal of the database at
// `db_path`. Files already on disk count as synced as they are.
void record_power_loss(const std::string& db_path);
// Writes, truncations and syncs of the recorded files from now on.
std::uint64_t recorded_operations();
// The n-th write, truncation or sync of a recorded file from now (1: the
// next) does not happen, and the power is cut from it on. n = 0 disarms.
void cut_power_after(std::uint64_t n);
// Cuts the power now.
void cut_power();
bool power_is_cut();
// Rewrites the recorded files as they would be on disk after the power came
// back, deletes the -shm, and turns the power back on (recording stops).
// Call it after every connection to the database was closed.
// `seed` drives the torn mode's choices.
void restore_after_power_loss(PowerLoss mode, std::uint64_t seed);

}  // namespace hotstate_test::faults
