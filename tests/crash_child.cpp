// The process crash_test.cpp starts and kills with SIGKILL.
//
//   hotstate_crash_child DB_PATH MAX_HISTORY FIRST_VALUE full|normal
//
// Saves snapshots of plugins p0, p1, p2 in turn, forever, each with data
// {"i": FIRST_VALUE + n}; after each save_snapshot has returned (the save is
// acknowledged) writes "PLUGIN I\n" to stdout with one write(2), so that a
// line on the pipe means an acknowledged save.
//
//   hotstate_crash_child DB_PATH MAX_HISTORY FIRST_VALUE full|normal reopen|checkpoint
//
// Stepped: the database is opened through a VFS that, before each write,
// truncation, sync, creation or deletion of the database's files, writes
// "io OPERATION FILE\n" and waits for one byte on stdin, so that the test
// can kill it exactly there, before that operation. Other lines say where it
// is ("open N" / "opened N" around a StateManager's constructor, "close N" /
// "closed N" around its destructor, which checkpoints the WAL when it is the
// last connection, "checkpoint N" / "checkpointed N" around a
// PRAGMA wal_checkpoint(TRUNCATE) by a second connection) and what was
// acknowledged ("saved PLUGIN I"); "done" at the end, then it exits 0.
//   reopen:     3 rounds of: open a StateManager, save 2 snapshots, close it.
//   checkpoint: open once, then 3 rounds of: save 3 snapshots, checkpoint;
//               then close.
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#include "hotstate/hotstate.hpp"

namespace {

// --- Output ------------------------------------------------------------------

void say(const std::string& text) {
  const std::string line = text + "\n";
  if (write(STDOUT_FILENO, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(3);
}

// Says what it is about to do and waits for the test to let it go on (or to
// kill it). Ends the process when the test is gone.
void step(const std::string& what) {
  say("io " + what);
  char byte = 0;
  if (read(STDIN_FILENO, &byte, 1) != 1) _exit(4);
}

// --- The stepping VFS, over SQLite's default one ---------------------------------

constexpr const char* stepping_vfs_name = "crash-child-steps";

struct SteppingFile {
  sqlite3_file base;
  sqlite3_file* real;
  const char* kind;  // "main", "wal", "journal", or null for files not stepped
};
constexpr std::size_t real_offset = (sizeof(SteppingFile) + 15) / 16 * 16;

sqlite3_vfs* underlying(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }
SteppingFile* stepping(sqlite3_file* file) { return reinterpret_cast<SteppingFile*>(file); }
sqlite3_file* real_of(sqlite3_file* file) { return stepping(file)->real; }

void step_on(sqlite3_file* file, const char* operation) {
  if (const char* kind = stepping(file)->kind) step(std::string(operation) + " " + kind);
}

int x_close(sqlite3_file* file) {
  sqlite3_file* real = real_of(file);
  const int rc = real->pMethods->xClose(real);
  file->pMethods = nullptr;
  return rc;
}
int x_read(sqlite3_file* file, void* buffer, int amount, sqlite3_int64 offset) {
  return real_of(file)->pMethods->xRead(real_of(file), buffer, amount, offset);
}
int x_write(sqlite3_file* file, const void* buffer, int amount, sqlite3_int64 offset) {
  step_on(file, "write");
  return real_of(file)->pMethods->xWrite(real_of(file), buffer, amount, offset);
}
int x_truncate(sqlite3_file* file, sqlite3_int64 size) {
  step_on(file, "truncate");
  return real_of(file)->pMethods->xTruncate(real_of(file), size);
}
int x_sync(sqlite3_file* file, int flags) {
  step_on(file, "sync");
  return real_of(file)->pMethods->xSync(real_of(file), flags);
}
int x_file_size(sqlite3_file* file, sqlite3_int64* size) { return real_of(file)->pMethods->xFileSize(real_of(file), size); }
int x_lock(sqlite3_file* file, int level) { return real_of(file)->pMethods->xLock(real_of(file), level); }
int x_unlock(sqlite3_file* file, int level) { return real_of(file)->pMethods->xUnlock(real_of(file), level); }
int x_check_reserved_lock(sqlite3_file* file, int* result) {
  return real_of(file)->pMethods->xCheckReservedLock(real_of(file), result);
}
int x_file_control(sqlite3_file* file, int op, void* arg) {
  return real_of(file)->pMethods->xFileControl(real_of(file), op, arg);
}
int x_sector_size(sqlite3_file* file) { return real_of(file)->pMethods->xSectorSize(real_of(file)); }
int x_device_characteristics(sqlite3_file* file) {
  return real_of(file)->pMethods->xDeviceCharacteristics(real_of(file));
}
int x_shm_map(sqlite3_file* file, int region, int size, int extend, void volatile** memory) {
  return real_of(file)->pMethods->xShmMap(real_of(file), region, size, extend, memory);
}
int x_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  return real_of(file)->pMethods->xShmLock(real_of(file), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* file) { real_of(file)->pMethods->xShmBarrier(real_of(file)); }
int x_shm_unmap(sqlite3_file* file, int delete_flag) {
  return real_of(file)->pMethods->xShmUnmap(real_of(file), delete_flag);
}
// No memory-mapped I/O: every write goes through xWrite, where the steps are.
int x_fetch(sqlite3_file*, sqlite3_int64, int, void** pointer) {
  *pointer = nullptr;
  return SQLITE_OK;
}
int x_unfetch(sqlite3_file*, sqlite3_int64, void*) { return SQLITE_OK; }

const sqlite3_io_methods* methods_for(int version) {
  static const sqlite3_io_methods methods[3] = {
      {1, x_close, x_read, x_write, x_truncate, x_sync, x_file_size, x_lock, x_unlock, x_check_reserved_lock,
       x_file_control, x_sector_size, x_device_characteristics, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr},
      {2, x_close, x_read, x_write, x_truncate, x_sync, x_file_size, x_lock, x_unlock, x_check_reserved_lock,
       x_file_control, x_sector_size, x_device_characteristics, x_shm_map, x_shm_lock, x_shm_barrier, x_shm_unmap,
       nullptr, nullptr},
      {3, x_close, x_read, x_write, x_truncate, x_sync, x_file_size, x_lock, x_unlock, x_check_reserved_lock,
       x_file_control, x_sector_size, x_device_characteristics, x_shm_map, x_shm_lock, x_shm_barrier, x_shm_unmap,
       x_fetch, x_unfetch},
  };
  return &methods[(version < 1 ? 1 : version > 3 ? 3 : version) - 1];
}

const char* kind_of(int flags) {
  if (flags & SQLITE_OPEN_MAIN_DB) return "main";
  if (flags & SQLITE_OPEN_WAL) return "wal";
  if (flags & SQLITE_OPEN_MAIN_JOURNAL) return "journal";
  return nullptr;
}

int v_open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  SteppingFile* wrapper = stepping(file);
  std::memset(wrapper, 0, sizeof(SteppingFile));
  wrapper->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + real_offset);
  sqlite3_vfs* base = underlying(vfs);
  const char* kind = name != nullptr ? kind_of(flags) : nullptr;
  if (kind != nullptr && (flags & SQLITE_OPEN_CREATE) != 0) {
    int exists = 0;
    if (base->xAccess(base, name, SQLITE_ACCESS_EXISTS, &exists) == SQLITE_OK && !exists) {
      step(std::string("create ") + kind);
    }
  }
  const int rc = base->xOpen(base, name, wrapper->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (wrapper->real->pMethods != nullptr) wrapper->real->pMethods->xClose(wrapper->real);
    return rc;
  }
  wrapper->kind = kind;
  file->pMethods = methods_for(wrapper->real->pMethods->iVersion);
  return SQLITE_OK;
}

int v_delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  const std::string path(name);
  const auto ends_with = [&](const char* tail) {
    const std::size_t n = std::strlen(tail);
    return path.size() >= n && path.compare(path.size() - n, n, tail) == 0;
  };
  if (ends_with("-wal")) step("delete wal");
  if (ends_with("-journal")) step("delete journal");
  return underlying(vfs)->xDelete(underlying(vfs), name, sync_dir);
}
int v_access(sqlite3_vfs* vfs, const char* name, int flags, int* result) {
  return underlying(vfs)->xAccess(underlying(vfs), name, flags, result);
}
int v_full_pathname(sqlite3_vfs* vfs, const char* name, int size, char* out) {
  return underlying(vfs)->xFullPathname(underlying(vfs), name, size, out);
}
void* v_dl_open(sqlite3_vfs* vfs, const char* name) { return underlying(vfs)->xDlOpen(underlying(vfs), name); }
void v_dl_error(sqlite3_vfs* vfs, int size, char* out) { underlying(vfs)->xDlError(underlying(vfs), size, out); }
void (*v_dl_sym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return underlying(vfs)->xDlSym(underlying(vfs), handle, symbol);
}
void v_dl_close(sqlite3_vfs* vfs, void* handle) { underlying(vfs)->xDlClose(underlying(vfs), handle); }
int v_randomness(sqlite3_vfs* vfs, int size, char* out) {
  return underlying(vfs)->xRandomness(underlying(vfs), size, out);
}
int v_sleep(sqlite3_vfs* vfs, int microseconds) { return underlying(vfs)->xSleep(underlying(vfs), microseconds); }
int v_current_time(sqlite3_vfs* vfs, double* now) { return underlying(vfs)->xCurrentTime(underlying(vfs), now); }
int v_get_last_error(sqlite3_vfs* vfs, int size, char* out) {
  return underlying(vfs)->xGetLastError ? underlying(vfs)->xGetLastError(underlying(vfs), size, out) : 0;
}
int v_current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* now) {
  return underlying(vfs)->xCurrentTimeInt64(underlying(vfs), now);
}

bool register_stepping_vfs() {
  sqlite3_vfs* base = sqlite3_vfs_find(nullptr);
  if (base == nullptr) return false;
  static sqlite3_vfs vfs{};
  vfs.iVersion = 2;
  vfs.szOsFile = static_cast<int>(real_offset) + base->szOsFile;
  vfs.mxPathname = base->mxPathname;
  vfs.zName = stepping_vfs_name;
  vfs.pAppData = base;
  vfs.xOpen = v_open;
  vfs.xDelete = v_delete;
  vfs.xAccess = v_access;
  vfs.xFullPathname = v_full_pathname;
  vfs.xDlOpen = base->xDlOpen ? v_dl_open : nullptr;
  vfs.xDlError = base->xDlError ? v_dl_error : nullptr;
  vfs.xDlSym = base->xDlSym ? v_dl_sym : nullptr;
  vfs.xDlClose = base->xDlClose ? v_dl_close : nullptr;
  vfs.xRandomness = v_randomness;
  vfs.xSleep = v_sleep;
  vfs.xCurrentTime = v_current_time;
  vfs.xGetLastError = v_get_last_error;
  vfs.xCurrentTimeInt64 = base->xCurrentTimeInt64 ? v_current_time_int64 : nullptr;
  return sqlite3_vfs_register(&vfs, 0) == SQLITE_OK;
}

// --- The stepped scenarios -----------------------------------------------------------

struct Saver {
  long long next;
  long long n = 0;
  void save(hotstate::StateManager& manager) {
    const std::string plugin = "p" + std::to_string(n % 3);
    const long long value = next + n++;
    manager.save_snapshot(hotstate::StateSnapshot(plugin, "1.0.0").with_data("i", value));
    say("saved " + plugin + " " + std::to_string(value));
  }
};

void checkpoint(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, stepping_vfs_name);
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    rc = sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  }
  const std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
  sqlite3_close(db);
  if (rc != SQLITE_OK) throw std::runtime_error("PRAGMA wal_checkpoint(TRUNCATE): " + message);
}

int run_stepped(const hotstate::Options& base, const std::string& scenario, long long first) {
  if (!register_stepping_vfs()) throw std::runtime_error("cannot register the stepping VFS");
  hotstate::Options options = base;
  options.vfs = stepping_vfs_name;
  Saver saver{first};
  std::optional<hotstate::StateManager> manager;
  const auto open = [&](int round) {
    say("open " + std::to_string(round));
    manager.emplace(options);
    say("opened " + std::to_string(round));
  };
  const auto close = [&](int round) {
    say("close " + std::to_string(round));
    manager.reset();
    say("closed " + std::to_string(round));
  };
  if (scenario == "reopen") {
    for (int round = 1; round <= 3; ++round) {
      open(round);
      for (int k = 0; k < 2; ++k) saver.save(*manager);
      close(round);
    }
  } else if (scenario == "checkpoint") {
    open(1);
    for (int round = 1; round <= 3; ++round) {
      for (int k = 0; k < 3; ++k) saver.save(*manager);
      say("checkpoint " + std::to_string(round));
      checkpoint(base.path);
      say("checkpointed " + std::to_string(round));
    }
    close(1);
  } else {
    throw std::runtime_error("unknown scenario '" + scenario + "'");
  }
  say("done");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr,
                 "usage: hotstate_crash_child DB_PATH MAX_HISTORY FIRST_VALUE full|normal [reopen|checkpoint]\n");
    return 2;
  }
  try {
    hotstate::Options options;
    options.path = argv[1];
    options.max_history = std::strtoull(argv[2], nullptr, 10);
    options.synchronous = std::string(argv[4]) == "normal" ? hotstate::Synchronous::Normal : hotstate::Synchronous::Full;
    const long long first = std::strtoll(argv[3], nullptr, 10);
    if (argc == 6) return run_stepped(options, argv[5], first);
    hotstate::StateManager manager(options);
    for (long long n = 0;; ++n) {
      const std::string plugin = "p" + std::to_string(n % 3);
      const long long value = first + n;
      manager.save_snapshot(hotstate::StateSnapshot(plugin, "1.0.0").with_data("i", value));
      const std::string line = plugin + " " + std::to_string(value) + "\n";
      if (write(STDOUT_FILENO, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return 3;
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "hotstate_crash_child: %s\n", error.what());
    return 1;
  }
}
