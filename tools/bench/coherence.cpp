// Coherence by plugin: what the cache of current snapshots keeps when another
// process commits. Issue: "after another process commits, drop only what it
// changed, so a process whose plugins nobody touches keeps >= 99 % hits".
//
//   hotstate_bench_coherence [--quick] [--loads N]
//
// One file in a fresh directory under /tmp (Synchronous::Normal), filled with
// 100 "own" plugins and 100 "other" plugins, one snapshot each. This process
// loads its own 100 plugins round-robin, N times (20,000,000; --quick
// 2,000,000: a hit takes tens of nanoseconds, so fewer loads would be over in
// a few scheduler time slices, too few for the child's commits to fall
// evenly into), in three scenarios measured in the same run:
//   A  nobody else writes: the baseline, every load after the first pass a hit;
//   B  a child process saves to the 100 other plugins as fast as it can: none
//      of the loaded plugins changes, so a cache coherent by plugin keeps
//      (nearly) every hit. Target: a hit rate >= 99 %.
//   C  the child saves to 5 of the own plugins: those must miss after each of
//      its commits, and every load must see the newest state. Checked twice:
//      no load returns a seq older than one the child had committed before
//      the load began (the child publishes each seq in shared memory once
//      save_snapshot returned), and after the child stopped each of the 5
//      plugins loads at the child's last seq. Exits with status 1 otherwise.
//
// The child is forked before this process opens its StateManager (a SQLite
// connection must not cross a fork) and opens its own on the same file. Pipes
// coordinate it, no sleeps: it writes one byte on "started" after its first
// save, so that the timed loop runs while it writes; it stops when it can read
// a byte from "stop" or "stop" closes; it sends back its number of saves and
// its last seqs on "report" and _exits.
//
// Columns: loads/s of the timed loop; the hit rate, hits / (hits + misses),
// the invalidations (the whole cache dropped for another connection's
// commit), the entries dropped because another connection changed their
// plugin and the refreshes (reads of the audit log for another connection's
// commits), all from cache_stats() deltas over the loop; the child's commits
// during the loop (a shared counter read at the loop's start and end); and
// per commit, the invalidations and the misses (a cache that drops
// everything: each own plugin loaded before the next commit misses once, up
// to 100; one that drops only what changed: about 0 in B and at most 1, the
// changed plugin, in C). The hit rate
// depends on how many loads fall between two commits, and so on the speed of
// both processes and on the machine's load; misses per commit much less.
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "bench_support.hpp"
#include "hotstate/hotstate.hpp"

namespace {

using hotstate_bench::make_snapshot;

using Clock = std::chrono::steady_clock;

constexpr int own_plugins = 100;
constexpr int other_plugins = 100;
constexpr int hot_plugins = 5;  // the own plugins the child writes in scenario C
constexpr int max_targets = other_plugins > own_plugins ? other_plugins : own_plugins;

struct Config {
  long loads = 20'000'000;
};

// ---- Syscalls, each checked -------------------------------------------------

[[noreturn]] void fail(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

// One end of a pipe. close() reports a failure; the destructor, which cannot
// throw, closes what is left open on the error paths and says so on stderr.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0 && ::close(fd_) != 0) std::perror("hotstate_bench_coherence: close");
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Fd dropped(fd_);
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  int get() const noexcept { return fd_; }
  void close() {
    const int fd = fd_;
    fd_ = -1;  // closed even when close() fails (Linux frees the descriptor either way)
    if (fd >= 0 && ::close(fd) != 0) fail("close");
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

Pipe make_pipe() {
  int fds[2];
  if (::pipe(fds) != 0) fail("pipe");
  return {Fd(fds[0]), Fd(fds[1])};
}

void write_all(int fd, const void* data, std::size_t size) {
  const auto* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, bytes, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write");
    }
    bytes += n;
    size -= static_cast<std::size_t>(n);
  }
}

// Reads up to `size` bytes, blocking; fewer only at end of file.
std::size_t read_all(int fd, void* data, std::size_t size) {
  auto* bytes = static_cast<char*>(data);
  std::size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(fd, bytes + got, size - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("read");
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  return got;
}

// The child's exit status, waited for; true when it exited with 0.
bool reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) fail("waitpid");
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// ---- What the two processes share -------------------------------------------

// In an anonymous MAP_SHARED mapping made before the fork: the child's count of
// saves (read by the parent at the loop's start and end, to count the commits
// that fell inside it), and for each own plugin the newest seq the child has
// committed (stored after save_snapshot returned, so a load that reads it
// first must see at least that seq). Atomics across processes need them
// lock-free.
struct Shared {
  std::atomic<std::uint64_t> saves{0};
  std::atomic<std::uint64_t> published[own_plugins];
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

class SharedMapping {
 public:
  SharedMapping() {
    void* memory = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) fail("mmap");
    shared_ = new (memory) Shared;
  }
  ~SharedMapping() {
    shared_->~Shared();
    if (::munmap(shared_, sizeof(Shared)) != 0) std::perror("hotstate_bench_coherence: munmap");
  }
  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;
  Shared& operator*() const noexcept { return *shared_; }

 private:
  Shared* shared_ = nullptr;
};

// What the child sends back when it stops: plain bytes through a pipe to its
// own parent (the same binary, so the same layout); under PIPE_BUF, so one
// write.
struct Report {
  std::uint64_t saves = 0;
  std::uint64_t last_seq[max_targets] = {};  // per target, in the order given
};
static_assert(sizeof(Report) <= PIPE_BUF);

// ---- The database -----------------------------------------------------------

hotstate::Options options_for(const std::string& path) {
  hotstate::Options options;
  options.path = path;
  options.synchronous = hotstate::Synchronous::Normal;
  return options;
}

std::string plugin_id(const char* kind, int i) {
  char id[32];
  std::snprintf(id, sizeof id, "%s-%03d", kind, i);
  return id;
}

// The fresh directory, removed at the end whatever happens.
class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/hotstate-coherence-XXXXXX";
    if (::mkdtemp(name) == nullptr) fail("mkdtemp");
    path_ = name;
  }
  ~TempDir() {
    std::error_code error;
    std::filesystem::remove_all(path_, error);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

// ---- The child: saves to `targets` until told to stop ----------------------

// Never returns. `slots[j]`: the own plugin whose published seq target j
// updates, -1 for none.
[[noreturn]] void run_writer(const std::string& path, const std::vector<std::string>& targets,
                             const std::vector<int>& slots, Shared& shared, int stop_fd, int started_fd,
                             int report_fd) {
  try {
    Report report;
    {
      hotstate::StateManager manager(options_for(path));
      pollfd stop{stop_fd, POLLIN, 0};
      const std::size_t n = targets.size();
      for (long k = 0;; ++k) {
        const std::size_t j = static_cast<std::size_t>(k) % n;
        // The counter varies the data: each save is a real change.
        const std::uint64_t seq = manager.save_snapshot(make_snapshot(targets[j], k));
        report.last_seq[j] = seq;
        ++report.saves;
        if (slots[j] >= 0) shared.published[slots[j]].store(seq, std::memory_order_release);
        shared.saves.fetch_add(1, std::memory_order_release);
        if (k == 0) write_all(started_fd, "s", 1);
        // A byte, or the parent's end closed (POLLHUP): stop. No timeout: a
        // syscall per save, against a save's tens of microseconds.
        int ready = 0;
        while ((ready = ::poll(&stop, 1, 0)) < 0) {
          if (errno != EINTR) fail("poll");
        }
        if (ready > 0) break;
      }
    }
    write_all(report_fd, &report, sizeof report);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "hotstate_bench_coherence: writer process: %s\n", error.what());
    _exit(1);
  }
  _exit(0);
}

// The parent's handle on a running child; on the error paths the destructor
// closes "stop" (the child stops) and reaps it.
struct Writer {
  pid_t pid = -1;
  Fd stop;
  Fd started;
  Fd report;
  Writer() = default;
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  ~Writer() {
    if (pid <= 0) return;
    try {
      stop.close();
      reap(pid);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "hotstate_bench_coherence: stopping the writer process: %s\n", error.what());
    }
  }
};

void start_writer(Writer& writer, const std::string& path, const std::vector<std::string>& targets,
                  const std::vector<int>& slots, Shared& shared) {
  Pipe stop = make_pipe();
  Pipe started = make_pipe();
  Pipe report = make_pipe();
  // Nothing buffered may be written twice, by both processes.
  if (std::fflush(nullptr) != 0) fail("fflush");
  const pid_t pid = ::fork();
  if (pid < 0) fail("fork");
  if (pid == 0) {
    try {
      stop.write.close();
      started.read.close();
      report.read.close();
    } catch (const std::exception& error) {
      std::fprintf(stderr, "hotstate_bench_coherence: writer process: %s\n", error.what());
      _exit(1);
    }
    run_writer(path, targets, slots, shared, stop.read.get(), started.write.get(), report.write.get());
  }
  writer.pid = pid;
  writer.stop = std::move(stop.write);
  writer.started = std::move(started.read);
  writer.report = std::move(report.read);
  // The child's ends closed here, so that its death reads as end of file.
  stop.read.close();
  started.write.close();
  report.write.close();
}

// Stops the child and returns what it reports; throws if it failed.
Report stop_writer(Writer& writer) {
  // EPIPE: the child has exited already; its report (or its absence) tells.
  ssize_t n = 0;
  while ((n = ::write(writer.stop.get(), "x", 1)) < 0 && errno == EINTR) {
  }
  if (n < 0 && errno != EPIPE) fail("write");
  writer.stop.close();
  Report report;
  const std::size_t got = read_all(writer.report.get(), &report, sizeof report);
  const pid_t pid = writer.pid;
  writer.pid = -1;
  const bool ok = reap(pid);
  if (got != sizeof report || !ok) throw std::runtime_error("the writer process failed (see its message above)");
  return report;
}

// ---- A scenario -------------------------------------------------------------

struct Scenario {
  const char* name;
  std::vector<std::string> targets;  // what the child saves to; empty: no child
  std::vector<int> slots;            // per target, the own plugin it is, -1 for none
};

struct Result {
  double seconds = 0;
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t invalidations = 0;
  std::uint64_t dropped = 0;
  std::uint64_t refreshes = 0;
  std::uint64_t foreign = 0;      // the child's commits during the loop
  std::uint64_t child_saves = 0;  // all of them, from its report
  std::uint64_t stale = 0;        // loads older than a seq the child had published before they began
  int checked = 0;                // plugins checked at the child's last seq after it stopped
  int wrong = 0;                  // of which not at it
  double hit_rate() const {
    const std::uint64_t all = hits + misses;
    return all == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(all);
  }
};

Result run(const Config& config, const std::string& path, const Scenario& scenario,
           const std::vector<std::string>& own, const std::vector<std::uint64_t>& own_seqs, Shared& shared) {
  shared.saves.store(0, std::memory_order_relaxed);
  for (int i = 0; i < own_plugins; ++i) shared.published[i].store(own_seqs[static_cast<std::size_t>(i)]);

  Writer writer;
  if (!scenario.targets.empty()) start_writer(writer, path, scenario.targets, scenario.slots, shared);

  Result result;
  hotstate::StateManager manager(options_for(path));
  if (writer.pid > 0) {
    char byte = 0;
    if (read_all(writer.started.get(), &byte, 1) != 1) {
      stop_writer(writer);  // throws with the child's failure
      throw std::runtime_error("the writer process ended before its first save");
    }
  }
  // One pass to fill the cache, outside the figures.
  for (const std::string& id : own) {
    if (manager.load_snapshot(id) == nullptr) throw std::runtime_error(id + " has no snapshot");
  }

  const auto before = manager.cache_stats();
  const std::uint64_t foreign_before = shared.saves.load(std::memory_order_acquire);
  const auto start = Clock::now();
  int i = 0;
  for (long k = 0; k < config.loads; ++k) {
    // Read before the load begins: the load must return this seq or a newer one.
    const std::uint64_t floor = shared.published[i].load(std::memory_order_acquire);
    const hotstate::SnapshotPtr snapshot = manager.load_snapshot(own[static_cast<std::size_t>(i)]);
    if (snapshot == nullptr) throw std::runtime_error(own[static_cast<std::size_t>(i)] + " has no snapshot");
    if (snapshot->seq < floor) ++result.stale;
    if (++i == own_plugins) i = 0;
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const std::uint64_t foreign_after = shared.saves.load(std::memory_order_acquire);
  const auto after = manager.cache_stats();
  result.hits = after.hits - before.hits;
  result.misses = after.misses - before.misses;
  result.invalidations = after.invalidations - before.invalidations;
  result.dropped = after.dropped - before.dropped;
  result.refreshes = after.refreshes - before.refreshes;
  result.foreign = foreign_after - foreign_before;

  if (writer.pid > 0) {
    const Report report = stop_writer(writer);
    result.child_saves = report.saves;
    // The child has exited: every plugin it wrote must load at its last seq,
    // through this manager's cache.
    for (std::size_t j = 0; j < scenario.targets.size(); ++j) {
      if (report.last_seq[j] == 0) continue;  // never saved (the child stopped first)
      const hotstate::SnapshotPtr snapshot = manager.load_snapshot(scenario.targets[j]);
      ++result.checked;
      if (snapshot == nullptr || snapshot->seq != report.last_seq[j]) {
        ++result.wrong;
        std::fprintf(stderr, "hotstate_bench_coherence: %s: %s: loaded seq %llu, the writer's last %llu\n",
                     scenario.name, scenario.targets[j].c_str(),
                     snapshot == nullptr ? 0ULL : static_cast<unsigned long long>(snapshot->seq),
                     static_cast<unsigned long long>(report.last_seq[j]));
      }
    }
  }
  return result;
}

// 1234567 -> "1,234,567".
std::string grouped(double value) {
  std::string digits = std::to_string(static_cast<long long>(value + 0.5));
  for (int at = static_cast<int>(digits.size()) - 3; at > 0; at -= 3) digits.insert(static_cast<std::size_t>(at), ",");
  return digits;
}

void print_row(const char* name, const Result& r, long loads, bool has_writer) {
  std::printf("| %-39s | %11s | %7.2f %% | %13s | %9s | %9s |", name, grouped(static_cast<double>(loads) / r.seconds).c_str(),
              100.0 * r.hit_rate(), grouped(static_cast<double>(r.invalidations)).c_str(),
              grouped(static_cast<double>(r.dropped)).c_str(), grouped(static_cast<double>(r.refreshes)).c_str());
  if (has_writer && r.foreign > 0) {
    const double commits = static_cast<double>(r.foreign);
    std::printf(" %15s | %13.3f | %13.2f |\n", grouped(commits).c_str(), static_cast<double>(r.invalidations) / commits,
                static_cast<double>(r.misses) / commits);
  } else {
    std::printf(" %15s | %13s | %13s |\n", has_writer ? "0" : "-", "-", "-");
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      config.loads = 2'000'000;
    } else if (arg == "--loads" && i + 1 < argc) {
      config.loads = std::strtol(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: hotstate_bench_coherence [--quick] [--loads N]\n");
      return 2;
    }
  }
  if (config.loads <= 0) {
    std::fprintf(stderr, "hotstate_bench_coherence: --loads must be positive\n");
    return 2;
  }
  try {
    // A writer process that died must show as a failed write, not kill us.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    if (::sigemptyset(&ignore.sa_mask) != 0 || ::sigaction(SIGPIPE, &ignore, nullptr) != 0) fail("sigaction");

    const TempDir dir;
    const std::string path = (dir.path() / "coherence.db").string();
    const SharedMapping shared;

    std::vector<std::string> own;
    std::vector<std::string> other;
    for (int i = 0; i < own_plugins; ++i) own.push_back(plugin_id("own", i));
    for (int i = 0; i < other_plugins; ++i) other.push_back(plugin_id("other", i));

    // Filled, and closed again, before any fork.
    std::vector<std::uint64_t> own_seqs;
    {
      hotstate::StateManager manager(options_for(path));
      std::vector<hotstate::StateSnapshot> fill;
      for (int i = 0; i < own_plugins; ++i) fill.push_back(make_snapshot(own[static_cast<std::size_t>(i)], i));
      for (int i = 0; i < other_plugins; ++i) fill.push_back(make_snapshot(other[static_cast<std::size_t>(i)], i));
      const std::vector<std::uint64_t> seqs = manager.save_snapshots(std::move(fill));
      own_seqs.assign(seqs.begin(), seqs.begin() + own_plugins);
    }

    std::printf("hotstate %s (schema version %d): the cache against another process's commits; SQLite %s\n",
                hotstate::version_string, hotstate::schema_version(), sqlite3_libversion());
    std::printf("%s, synchronous=NORMAL; %d own + %d other plugins, one snapshot each (%zu bytes);\n", path.c_str(),
                own_plugins, other_plugins, make_snapshot(own[0], 0).to_bytes().size());
    std::printf("%s loads of the own plugins, round-robin, per scenario\n\n", grouped(static_cast<double>(config.loads)).c_str());

    Scenario alone{"A: no other writer", {}, {}};
    Scenario others{"B: child saves to the 100 other plugins", other, std::vector<int>(other.size(), -1)};
    Scenario hot{"C: child saves to 5 own plugins", {}, {}};
    for (int i = 0; i < hot_plugins; ++i) {
      hot.targets.push_back(own[static_cast<std::size_t>(i)]);
      hot.slots.push_back(i);
    }

    std::printf("| %-39s | %11s | %9s | %13s | %9s | %9s | %15s | %13s | %13s |\n", "scenario", "loads/s", "hit rate",
                "invalidations", "dropped", "refreshes", "foreign commits", "inval./commit", "misses/commit");
    std::printf("|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", std::string(41, '-').c_str(), std::string(13, '-').c_str(),
                std::string(11, '-').c_str(), std::string(15, '-').c_str(), std::string(11, '-').c_str(),
                std::string(11, '-').c_str(), std::string(17, '-').c_str(), std::string(15, '-').c_str(),
                std::string(15, '-').c_str());
    const Result a = run(config, path, alone, own, own_seqs, *shared);
    print_row(alone.name, a, config.loads, false);
    const Result b = run(config, path, others, own, own_seqs, *shared);
    print_row(others.name, b, config.loads, true);
    const Result c = run(config, path, hot, own, own_seqs, *shared);
    print_row(hot.name, c, config.loads, true);

    std::printf("\nthe writer's saves in all (around the loop too): B %s, C %s\n",
                grouped(static_cast<double>(b.child_saves)).c_str(), grouped(static_cast<double>(c.child_saves)).c_str());
    std::printf("B/A: hit rate %.3fx (%.2f %% against %.2f %%), loads/s %.3fx\n", b.hit_rate() / a.hit_rate(),
                100.0 * b.hit_rate(), 100.0 * a.hit_rate(), a.seconds / b.seconds);
    std::printf("target: hit rate with another process writing other plugins >= 99 %%: %s (%.2f %%)\n",
                b.hit_rate() >= 0.99 ? "met" : "NOT met", 100.0 * b.hit_rate());
    // The hit rate depends on how many loads fall between two commits; the
    // misses per commit do not: in B none of the loaded plugins changes.
    const double b_misses = b.foreign == 0 ? 0.0 : static_cast<double>(b.misses) / static_cast<double>(b.foreign);
    std::printf("B: misses per foreign commit %.3f, whole-cache drops %llu (a cache that drops everything: up to %d)\n",
                b_misses, static_cast<unsigned long long>(b.invalidations), own_plugins);
    const std::uint64_t stale = a.stale + b.stale + c.stale;
    const bool coherent = stale == 0 && b.wrong == 0 && c.wrong == 0 && c.checked == hot_plugins;
    std::printf("coherent: %s (C: %d of %d written plugins at the writer's last seq after it stopped; "
                "B: %d of %d; loads older than a seq committed before they began: %llu)\n",
                coherent ? "yes" : "no", c.checked - c.wrong, hot_plugins, b.checked - b.wrong,
                b.checked, static_cast<unsigned long long>(stale));
    return coherent ? 0 : 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "hotstate_bench_coherence: %s\n", error.what());
    return 1;
  }
}
