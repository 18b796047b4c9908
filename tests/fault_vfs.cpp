// The fault-injecting VFS of fault_vfs.hpp.
#include "fault_vfs.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace hotstate_test::faults {

namespace {

constexpr const char* fault_vfs_name = "hotstate-fault";
constexpr std::size_t sector_size = 512;

// A write or truncation not yet made durable by an xSync.
struct PendingOp {
  bool truncate = false;
  std::int64_t offset = 0;  // the write's offset, or the truncation's new size
  std::string bytes;
};

// One recorded file: what is on stable storage, and what came since.
struct Recorded {
  std::string path;
  bool durable_exists = false;
  std::string durable;
  std::vector<PendingOp> pending;
};

void apply(std::string& image, const PendingOp& op) {
  const auto offset = static_cast<std::size_t>(op.offset);
  if (op.truncate) {
    image.resize(offset, '\0');
    return;
  }
  if (image.size() < offset + op.bytes.size()) image.resize(offset + op.bytes.size(), '\0');
  image.replace(offset, op.bytes.size(), op.bytes);
}

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct State {
  std::mutex mutex;

  // Write and sync faults.
  std::uint64_t write_countdown = 0;
  int nth_write_rc = 0;
  int every_write_rc = 0;
  bool disk_full = false;
  std::uint64_t sync_countdown = 0;
  bool every_sync = false;
  std::uint64_t writes = 0;
  std::uint64_t syncs = 0;
  std::uint64_t injected = 0;

  std::atomic<ReadOnlyFs> read_only{ReadOnlyFs::Off};

  // Power loss.
  std::string target;  // the main file's full path as SQLite names it; empty when not recording
  std::uint64_t generation = 1;
  std::map<std::string, Recorded> recorded;  // by path; nodes stay put until the next reset
  std::uint64_t recorded_ops = 0;
  std::uint64_t cut_countdown = 0;
  std::atomic<bool> power_cut{false};
};

// Never destroyed: SQLite may close files during static destruction.
State& state() {
  static State* const instance = new State;
  return *instance;
}

// The wrapper SQLite allocates (szOsFile bytes) for each open file; the
// underlying VFS's file follows it.
struct FaultFile {
  sqlite3_file base;
  sqlite3_file* real;
  Recorded* recorded;  // valid while generation matches the state's
  std::uint64_t generation;
};
constexpr std::size_t real_offset = (sizeof(FaultFile) + 15) / 16 * 16;

sqlite3_vfs* underlying(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }
FaultFile* fault_file(sqlite3_file* file) { return reinterpret_cast<FaultFile*>(file); }
sqlite3_file* real_file(sqlite3_file* file) { return fault_file(file)->real; }

bool dead() { return state().power_cut.load(std::memory_order_acquire); }

// The file's record, if it is recorded. Call with the mutex held.
Recorded* recorded_of(FaultFile* file) {
  if (file->recorded == nullptr || file->generation != state().generation) return nullptr;
  return file->recorded;
}

// Counts a mutating operation of a recorded file; true when the power goes
// out at it (it must not happen). Call with the mutex held.
bool power_goes_out_at_this_operation(State& s) {
  ++s.recorded_ops;
  if (s.cut_countdown == 0) return false;
  if (--s.cut_countdown != 0) return false;
  s.power_cut.store(true, std::memory_order_release);
  return true;
}

// --- io methods -----------------------------------------------------------------

int fault_close(sqlite3_file* file) {
  sqlite3_file* real = real_file(file);
  const int rc = real->pMethods->xClose(real);
  file->pMethods = nullptr;
  return rc;
}

int fault_read(sqlite3_file* file, void* buffer, int amount, sqlite3_int64 offset) {
  if (dead()) return SQLITE_IOERR_READ;
  sqlite3_file* real = real_file(file);
  return real->pMethods->xRead(real, buffer, amount, offset);
}

int fault_write(sqlite3_file* file, const void* buffer, int amount, sqlite3_int64 offset) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  ++s.writes;
  if (dead()) return SQLITE_IOERR_WRITE;
  Recorded* recorded = recorded_of(fault_file(file));
  if (recorded != nullptr && power_goes_out_at_this_operation(s)) return SQLITE_IOERR_WRITE;
  sqlite3_file* real = real_file(file);
  int fault = SQLITE_OK;
  if (s.write_countdown > 0 && --s.write_countdown == 0) fault = s.nth_write_rc;
  if (fault == SQLITE_OK && s.every_write_rc != SQLITE_OK) fault = s.every_write_rc;
  if (fault == SQLITE_OK && s.disk_full) {
    sqlite3_int64 size = 0;
    if (real->pMethods->xFileSize(real, &size) != SQLITE_OK || offset + amount > size) fault = SQLITE_FULL;
  }
  if (fault != SQLITE_OK) {
    ++s.injected;
    return fault;
  }
  const int rc = real->pMethods->xWrite(real, buffer, amount, offset);
  if (rc == SQLITE_OK && recorded != nullptr) {
    recorded->pending.push_back(
        {false, offset, std::string(static_cast<const char*>(buffer), static_cast<std::size_t>(amount))});
  }
  return rc;
}

int fault_truncate(sqlite3_file* file, sqlite3_int64 size) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (dead()) return SQLITE_IOERR_TRUNCATE;
  Recorded* recorded = recorded_of(fault_file(file));
  if (recorded != nullptr && power_goes_out_at_this_operation(s)) return SQLITE_IOERR_TRUNCATE;
  sqlite3_file* real = real_file(file);
  const int rc = real->pMethods->xTruncate(real, size);
  if (rc == SQLITE_OK && recorded != nullptr) recorded->pending.push_back({true, size, {}});
  return rc;
}

int fault_sync(sqlite3_file* file, int flags) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  ++s.syncs;
  if (dead()) return SQLITE_IOERR_FSYNC;
  Recorded* recorded = recorded_of(fault_file(file));
  if (recorded != nullptr && power_goes_out_at_this_operation(s)) return SQLITE_IOERR_FSYNC;
  bool fault = s.every_sync;
  if (s.sync_countdown > 0 && --s.sync_countdown == 0) fault = true;
  if (fault) {
    ++s.injected;
    return SQLITE_IOERR_FSYNC;
  }
  // A recorded file's durability is the VFS's own model (`durable`), and the
  // files are rewritten from it after the power cut: the real fsync would
  // only cost time (most of a power-loss test's, on a disk that syncs).
  sqlite3_file* real = real_file(file);
  const int rc = recorded != nullptr ? SQLITE_OK : real->pMethods->xSync(real, flags);
  if (rc == SQLITE_OK && recorded != nullptr) {
    // fsync makes the file durable, whichever descriptor wrote it.
    for (const PendingOp& op : recorded->pending) apply(recorded->durable, op);
    recorded->pending.clear();
    recorded->durable_exists = true;
  }
  return rc;
}

int fault_file_size(sqlite3_file* file, sqlite3_int64* size) {
  if (dead()) return SQLITE_IOERR_FSTAT;
  sqlite3_file* real = real_file(file);
  return real->pMethods->xFileSize(real, size);
}

int fault_lock(sqlite3_file* file, int level) {
  if (dead()) return SQLITE_IOERR_LOCK;
  sqlite3_file* real = real_file(file);
  return real->pMethods->xLock(real, level);
}

int fault_unlock(sqlite3_file* file, int level) {
  sqlite3_file* real = real_file(file);
  return real->pMethods->xUnlock(real, level);
}

int fault_check_reserved_lock(sqlite3_file* file, int* result) {
  if (dead()) return SQLITE_IOERR_CHECKRESERVEDLOCK;
  sqlite3_file* real = real_file(file);
  return real->pMethods->xCheckReservedLock(real, result);
}

int fault_file_control(sqlite3_file* file, int op, void* arg) {
  // Size hints and chunk sizes would let the unix VFS grow a file with
  // ftruncate behind the recorded writes; both are only hints, so they are
  // accepted and ignored.
  if (op == SQLITE_FCNTL_SIZE_HINT || op == SQLITE_FCNTL_CHUNK_SIZE) return SQLITE_OK;
  sqlite3_file* real = real_file(file);
  return real->pMethods->xFileControl(real, op, arg);
}

int fault_sector_size(sqlite3_file* file) {
  sqlite3_file* real = real_file(file);
  return real->pMethods->xSectorSize(real);
}

int fault_device_characteristics(sqlite3_file* file) {
  sqlite3_file* real = real_file(file);
  return real->pMethods->xDeviceCharacteristics(real);
}

int fault_shm_map(sqlite3_file* file, int region, int size, int extend, void volatile** memory) {
  if (dead()) return SQLITE_IOERR_SHMMAP;
  sqlite3_file* real = real_file(file);
  return real->pMethods->xShmMap(real, region, size, extend, memory);
}

int fault_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  if (dead() && (flags & SQLITE_SHM_LOCK) != 0) return SQLITE_IOERR_SHMLOCK;
  sqlite3_file* real = real_file(file);
  return real->pMethods->xShmLock(real, offset, n, flags);
}

void fault_shm_barrier(sqlite3_file* file) {
  sqlite3_file* real = real_file(file);
  real->pMethods->xShmBarrier(real);
}

int fault_shm_unmap(sqlite3_file* file, int delete_flag) {
  sqlite3_file* real = real_file(file);
  return real->pMethods->xShmUnmap(real, delete_flag);
}

// No memory-mapped I/O: every read goes through xRead, where faults apply.
int fault_fetch(sqlite3_file*, sqlite3_int64, int, void** pointer) {
  *pointer = nullptr;
  return SQLITE_OK;
}

int fault_unfetch(sqlite3_file*, sqlite3_int64, void*) { return SQLITE_OK; }

sqlite3_io_methods make_methods(int version) {
  sqlite3_io_methods methods{};
  methods.iVersion = version;
  methods.xClose = fault_close;
  methods.xRead = fault_read;
  methods.xWrite = fault_write;
  methods.xTruncate = fault_truncate;
  methods.xSync = fault_sync;
  methods.xFileSize = fault_file_size;
  methods.xLock = fault_lock;
  methods.xUnlock = fault_unlock;
  methods.xCheckReservedLock = fault_check_reserved_lock;
  methods.xFileControl = fault_file_control;
  methods.xSectorSize = fault_sector_size;
  methods.xDeviceCharacteristics = fault_device_characteristics;
  if (version >= 2) {
    methods.xShmMap = fault_shm_map;
    methods.xShmLock = fault_shm_lock;
    methods.xShmBarrier = fault_shm_barrier;
    methods.xShmUnmap = fault_shm_unmap;
  }
  if (version >= 3) {
    methods.xFetch = fault_fetch;
    methods.xUnfetch = fault_unfetch;
  }
  return methods;
}

// The methods of a version matching the underlying file's: a version-1 file
// has no shared memory, and then neither has its wrapper.
const sqlite3_io_methods* methods_for(int version) {
  static const sqlite3_io_methods methods[3] = {make_methods(1), make_methods(2), make_methods(3)};
  return &methods[std::clamp(version, 1, 3) - 1];
}

// --- vfs methods ----------------------------------------------------------------

int file_type(int flags) {
  return flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_TEMP_DB | SQLITE_OPEN_TRANSIENT_DB | SQLITE_OPEN_MAIN_JOURNAL |
                  SQLITE_OPEN_TEMP_JOURNAL | SQLITE_OPEN_SUBJOURNAL | SQLITE_OPEN_SUPER_JOURNAL | SQLITE_OPEN_WAL);
}

bool is_persistent(int flags) {
  const int type = file_type(flags);
  return type == SQLITE_OPEN_MAIN_DB || type == SQLITE_OPEN_WAL || type == SQLITE_OPEN_MAIN_JOURNAL;
}

bool is_recorded_path(const State& s, const std::string& path) {
  return !s.target.empty() && (path == s.target || path == s.target + "-wal" || path == s.target + "-journal");
}

int fault_open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  FaultFile* wrapper = fault_file(file);
  std::memset(wrapper, 0, sizeof(FaultFile));
  wrapper->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + real_offset);
  sqlite3_vfs* base = underlying(vfs);
  State& s = state();
  if (dead()) return SQLITE_CANTOPEN;

  const bool persistent = name != nullptr && is_persistent(flags);
  int existed = 0;
  if (persistent && base->xAccess(base, name, SQLITE_ACCESS_EXISTS, &existed) != SQLITE_OK) existed = 0;
  if (persistent && (flags & SQLITE_OPEN_READWRITE) != 0) {
    const int read_only_flags = (flags & ~(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_READONLY;
    int refusal = SQLITE_OK;
    switch (s.read_only.load()) {
      case ReadOnlyFs::Off: break;
      case ReadOnlyFs::Mount:
        if (existed) {
          flags = read_only_flags;
        } else {
          refusal = SQLITE_CANTOPEN;
        }
        break;
      case ReadOnlyFs::Files:
        if (existed) flags = read_only_flags;
        break;
      case ReadOnlyFs::Directory:
        if (!existed) refusal = file_type(flags) == SQLITE_OPEN_MAIN_DB ? SQLITE_CANTOPEN : SQLITE_READONLY_DIRECTORY;
        break;
    }
    if (refusal != SQLITE_OK) {
      std::lock_guard lock(s.mutex);
      ++s.injected;
      return refusal;
    }
  }

  sqlite3_file* real = wrapper->real;
  const int rc = base->xOpen(base, name, real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (real->pMethods != nullptr) real->pMethods->xClose(real);
    return rc;
  }
  file->pMethods = methods_for(real->pMethods->iVersion);

  if (persistent) {
    std::lock_guard lock(s.mutex);
    const std::string path(name);
    if (is_recorded_path(s, path)) {
      auto [it, inserted] = s.recorded.try_emplace(path);
      Recorded& recorded = it->second;
      if (inserted) {
        recorded.path = path;
        recorded.durable = existed ? read_whole_file(path) : std::string();
        recorded.durable_exists = true;  // a file created now counts as created durably
      } else if (!recorded.durable_exists) {
        recorded.durable_exists = true;  // re-created after a delete
        recorded.durable.clear();
        recorded.pending.clear();
      }
      wrapper->recorded = &recorded;
      wrapper->generation = s.generation;
    }
  }
  return SQLITE_OK;
}

int fault_delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  if (dead()) return SQLITE_IOERR_DELETE;
  sqlite3_vfs* base = underlying(vfs);
  State& s = state();
  std::lock_guard lock(s.mutex);
  const int rc = base->xDelete(base, name, sync_dir);
  if (rc == SQLITE_OK) {
    // Deletion counts as durable at once.
    if (auto it = s.recorded.find(name); it != s.recorded.end()) {
      it->second.durable_exists = false;
      it->second.durable.clear();
      it->second.pending.clear();
    }
  }
  return rc;
}

int fault_access(sqlite3_vfs* vfs, const char* name, int flags, int* result) {
  if (dead()) return SQLITE_IOERR_ACCESS;
  sqlite3_vfs* base = underlying(vfs);
  const int rc = base->xAccess(base, name, flags, result);
  if (rc == SQLITE_OK && flags == SQLITE_ACCESS_READWRITE) {
    const ReadOnlyFs mode = state().read_only.load();
    if (mode == ReadOnlyFs::Mount || mode == ReadOnlyFs::Files) *result = 0;
  }
  return rc;
}

int fault_full_pathname(sqlite3_vfs* vfs, const char* name, int size, char* out) {
  sqlite3_vfs* base = underlying(vfs);
  return base->xFullPathname(base, name, size, out);
}

void* fault_dl_open(sqlite3_vfs* vfs, const char* name) {
  sqlite3_vfs* base = underlying(vfs);
  return base->xDlOpen(base, name);
}

void fault_dl_error(sqlite3_vfs* vfs, int size, char* out) {
  sqlite3_vfs* base = underlying(vfs);
  base->xDlError(base, size, out);
}

void (*fault_dl_sym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  sqlite3_vfs* base = underlying(vfs);
  return base->xDlSym(base, handle, symbol);
}

void fault_dl_close(sqlite3_vfs* vfs, void* handle) {
  sqlite3_vfs* base = underlying(vfs);
  base->xDlClose(base, handle);
}

int fault_randomness(sqlite3_vfs* vfs, int size, char* out) {
  sqlite3_vfs* base = underlying(vfs);
  return base->xRandomness(base, size, out);
}

int fault_sleep(sqlite3_vfs* vfs, int microseconds) {
  sqlite3_vfs* base = underlying(vfs);
  return base->xSleep(base, microseconds);
}

int fault_current_time(sqlite3_vfs* vfs, double* now) {
  sqlite3_vfs* base = underlying(vfs);
  return base->xCurrentTime(base, now);
}

int fault_get_last_error(sqlite3_vfs* vfs, int size, char* out) {
  sqlite3_vfs* base = underlying(vfs);
  return base->xGetLastError ? base->xGetLastError(base, size, out) : 0;
}

int fault_current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* now) {
  sqlite3_vfs* base = underlying(vfs);
  return base->xCurrentTimeInt64(base, now);
}

int fault_set_system_call(sqlite3_vfs* vfs, const char* name, sqlite3_syscall_ptr call) {
  sqlite3_vfs* base = underlying(vfs);
  return base->xSetSystemCall(base, name, call);
}

sqlite3_syscall_ptr fault_get_system_call(sqlite3_vfs* vfs, const char* name) {
  sqlite3_vfs* base = underlying(vfs);
  return base->xGetSystemCall(base, name);
}

const char* fault_next_system_call(sqlite3_vfs* vfs, const char* name) {
  sqlite3_vfs* base = underlying(vfs);
  return base->xNextSystemCall(base, name);
}

sqlite3_vfs* register_vfs() {
  sqlite3_vfs* base = sqlite3_vfs_find(nullptr);
  if (base == nullptr) return nullptr;
  static sqlite3_vfs vfs{};
  vfs.iVersion = std::min(base->iVersion, 3);
  vfs.szOsFile = static_cast<int>(real_offset) + base->szOsFile;
  vfs.mxPathname = base->mxPathname;
  vfs.zName = fault_vfs_name;
  vfs.pAppData = base;
  vfs.xOpen = fault_open;
  vfs.xDelete = fault_delete;
  vfs.xAccess = fault_access;
  vfs.xFullPathname = fault_full_pathname;
  vfs.xDlOpen = base->xDlOpen ? fault_dl_open : nullptr;
  vfs.xDlError = base->xDlError ? fault_dl_error : nullptr;
  vfs.xDlSym = base->xDlSym ? fault_dl_sym : nullptr;
  vfs.xDlClose = base->xDlClose ? fault_dl_close : nullptr;
  vfs.xRandomness = fault_randomness;
  vfs.xSleep = fault_sleep;
  vfs.xCurrentTime = fault_current_time;
  vfs.xGetLastError = fault_get_last_error;
  if (vfs.iVersion >= 2) vfs.xCurrentTimeInt64 = base->xCurrentTimeInt64 ? fault_current_time_int64 : nullptr;
  if (vfs.iVersion >= 3) {
    vfs.xSetSystemCall = base->xSetSystemCall ? fault_set_system_call : nullptr;
    vfs.xGetSystemCall = base->xGetSystemCall ? fault_get_system_call : nullptr;
    vfs.xNextSystemCall = base->xNextSystemCall ? fault_next_system_call : nullptr;
  }
  if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK) return nullptr;
  return &vfs;
}

// The full path SQLite gives the database at `path`.
std::string sqlite_full_path(const std::string& path) {
  sqlite3_vfs* base = sqlite3_vfs_find(nullptr);
  std::vector<char> buffer(static_cast<std::size_t>(base->mxPathname) + 1, '\0');
  if (base->xFullPathname(base, path.c_str(), base->mxPathname + 1, buffer.data()) != SQLITE_OK) {
    return std::filesystem::absolute(path).string();
  }
  return buffer.data();
}

}  // namespace

const char* vfs_name() {
  static sqlite3_vfs* const registered = register_vfs();
  return registered != nullptr ? fault_vfs_name : "";
}

hotstate::Options options(const std::string& path, std::size_t max_history) {
  hotstate::Options result;
  result.path = path;
  result.max_history = max_history;
  result.vfs = vfs_name();
  return result;
}

void reset() {
  (void)vfs_name();
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.write_countdown = 0;
  s.nth_write_rc = 0;
  s.every_write_rc = 0;
  s.disk_full = false;
  s.sync_countdown = 0;
  s.every_sync = false;
  s.writes = 0;
  s.syncs = 0;
  s.injected = 0;
  s.read_only.store(ReadOnlyFs::Off);
  s.target.clear();
  s.recorded.clear();
  ++s.generation;
  s.recorded_ops = 0;
  s.cut_countdown = 0;
  s.power_cut.store(false);
}

void fail_nth_write(int n, int rc) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.write_countdown = n > 0 ? static_cast<std::uint64_t>(n) : 0;
  s.nth_write_rc = rc;
}

void fail_every_write(int rc) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.every_write_rc = rc;
}

void disk_full() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.disk_full = true;
}

void fail_nth_sync(int n) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.sync_countdown = n > 0 ? static_cast<std::uint64_t>(n) : 0;
}

void fail_every_sync() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.every_sync = true;
}

void clear_faults() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.write_countdown = 0;
  s.every_write_rc = 0;
  s.disk_full = false;
  s.sync_countdown = 0;
  s.every_sync = false;
}

std::uint64_t writes() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return s.writes;
}

std::uint64_t syncs() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return s.syncs;
}

std::uint64_t injected() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return s.injected;
}

void set_read_only_fs(ReadOnlyFs mode) {
  (void)vfs_name();
  state().read_only.store(mode);
}

void record_power_loss(const std::string& db_path) {
  (void)vfs_name();
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.target = sqlite_full_path(db_path);
  s.recorded.clear();
  ++s.generation;
  s.recorded_ops = 0;
  s.cut_countdown = 0;
}

std::uint64_t recorded_operations() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return s.recorded_ops;
}

void cut_power_after(std::uint64_t n) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.cut_countdown = n;
}

void cut_power() { state().power_cut.store(true, std::memory_order_release); }

bool power_is_cut() { return dead(); }

void restore_after_power_loss(PowerLoss mode, std::uint64_t seed) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  std::mt19937_64 random(seed);
  const auto coin = [&random] { return (random() & 1) != 0; };
  for (auto& [path, recorded] : s.recorded) {
    std::string latest = recorded.durable;
    for (const PendingOp& op : recorded.pending) apply(latest, op);
    bool exists = recorded.durable_exists;
    std::string image = recorded.durable;
    if (mode == PowerLoss::Torn && !recorded.pending.empty()) {
      exists = true;
      image.assign(coin() ? latest.size() : recorded.durable.size(), '\0');
      for (std::size_t start = 0; start < image.size(); start += sector_size) {
        const std::size_t length = std::min(sector_size, image.size() - start);
        const auto sector = [&](const std::string& from) {
          std::string bytes = start < from.size() ? from.substr(start, length) : std::string();
          bytes.resize(length, '\0');
          return bytes;
        };
        const std::string old_bytes = sector(recorded.durable);
        const std::string new_bytes = sector(latest);
        image.replace(start, length, old_bytes == new_bytes || coin() ? new_bytes : old_bytes);
      }
    }
    std::error_code ignored;
    if (exists) {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(image.data(), static_cast<std::streamsize>(image.size()));
    } else {
      std::filesystem::remove(path, ignored);
    }
  }
  std::error_code ignored;
  if (!s.target.empty()) std::filesystem::remove(s.target + "-shm", ignored);
  s.target.clear();
  s.recorded.clear();
  ++s.generation;
  s.recorded_ops = 0;
  s.cut_countdown = 0;
  s.power_cut.store(false, std::memory_order_release);
}

}  // namespace hotstate_test::faults
