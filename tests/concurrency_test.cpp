// Many users of one file at once: threads sharing a StateManager, and
// processes each with their own.
#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate_test::file_options;
using hotstate_test::RawDb;
using hotstate_test::TempDir;

namespace {

// How long the thread stress runs: HOTSTATE_STRESS_SECONDS, default 3.
std::chrono::milliseconds stress_duration() {
  const char* text = std::getenv("HOTSTATE_STRESS_SECONDS");
  const double seconds = text ? std::atof(text) : 3.0;
  return std::chrono::milliseconds(static_cast<long>(seconds * 1000));
}

bool same_snapshot(const hotstate::SnapshotPtr& a, const hotstate::SnapshotPtr& b) {
  if (!a || !b) return !a && !b;
  return *a == *b;
}

}  // namespace

TEST_CASE("8 threads sharing one StateManager agree with a fresh one at the end", "[threads][stress]") {
  TempDir dir;
  const auto path = dir.file("threads.db");
  auto options = file_options(path, 4);
  options.synchronous = hotstate::Synchronous::Normal;  // the stress is about locking, not fsync
  StateManager manager(options);

  constexpr int thread_count = 8;
  const std::vector<std::string> plugins = {"alpha", "beta", "gamma", "delta"};
  const auto deadline = std::chrono::steady_clock::now() + stress_duration();
  std::atomic<long> operations{0};
  std::atomic<long> conflicts{0};
  std::atomic<long> failures{0};

  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(t) * 7919u + 1u);
      int counter = 0;
      while (std::chrono::steady_clock::now() < deadline) {
        const std::string& id = plugins[random() % plugins.size()];
        try {
          switch (random() % 8) {
            case 0:
            case 1:
              manager.save_snapshot(StateSnapshot(id, "1.0.0").with_data("writer", t).with_data("n", ++counter));
              break;
            case 2: {
              const auto current = manager.load_snapshot(id);
              try {
                manager.save_snapshot_if(StateSnapshot(id, "1.0.0").with_data("writer", t).with_data("n", ++counter),
                                         current ? current->seq : 0);
              } catch (const hotstate::Error& error) {
                if (error.code() != hotstate::ErrorCode::Conflict) throw;
                conflicts.fetch_add(1);
              }
              break;
            }
            case 3: (void)manager.rollback(id); break;
            case 4:
              if (random() % 8 == 0) manager.clear(id);
              break;
            case 5: (void)manager.get_history(id); break;
            case 6:
              manager.save_snapshots({StateSnapshot(id, "1.0.0").with_data("writer", t).with_data("n", ++counter),
                                      StateSnapshot(plugins[(random() % plugins.size())], "1.0.0").with_data("n", 0)});
              break;
            default: {
              const auto snapshot = manager.load_snapshot(id);
              if (snapshot && snapshot->plugin_id != id) failures.fetch_add(1);
              break;
            }
          }
          operations.fetch_add(1);
        } catch (const std::exception&) {
          failures.fetch_add(1);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();

  INFO("operations " << operations.load() << ", conflicts " << conflicts.load());
  CHECK(failures.load() == 0);
  CHECK(operations.load() > thread_count);

  StateManager fresh(file_options(path, 4));
  std::set<std::string> ids(plugins.begin(), plugins.end());
  for (const auto& id : fresh.plugin_ids()) ids.insert(id);
  for (const auto& id : ids) {
    INFO("plugin " << id);
    CHECK(same_snapshot(manager.load_snapshot(id), fresh.load_snapshot(id)));
    CHECK(manager.get_history(id) == fresh.get_history(id));
    CHECK(fresh.get_history(id).size() <= 4);
  }
  RawDb raw(path);
  CHECK(raw.query("PRAGMA integrity_check") == "ok");
}


// --- Processes ------------------------------------------------------------------

namespace {

// A child process that reports on its own pipe, one line per write(2) (each
// under PIPE_BUF, so lines never interleave): "saved", "verified", or
// "error <what it was doing>: <what()>".
struct Reporter {
  pid_t pid = -1;
  int fd = -1;  // the read end of its pipe
  std::string buffer;
  std::vector<std::string> lines;
  bool ended = false;  // its pipe ended: it exited (or was killed)
  bool reaped = false;
  int status = 0;  // its wait status, once reaped

  bool said(const std::string& word) const {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) { return line.rfind(word, 0) == 0; });
  }
  void reap() {
    if (reaped || pid < 0) return;
    if (waitpid(pid, &status, 0) == pid) reaped = true;
  }
  std::string how_it_ended() const {
    if (!reaped) return "still running";
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    return "ended with wait status " + std::to_string(status);
  }
};

// The children of one test. Whatever way the test ends (a failed REQUIRE
// included), the destructor kills the ones still running and reaps them, so
// that no child outlives the test or waits forever on a pipe.
class Children {
 public:
  Children() = default;
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;
  ~Children() {
    for (int fd : parent_fds_) close(fd);
    kill_all();
    for (auto& child : list) {
      if (child.fd >= 0) close(child.fd);
      child.reap();
    }
  }

  std::vector<Reporter> list;

  // A descriptor the parent keeps (closed at the end).
  int keep(int fd) {
    parent_fds_.push_back(fd);
    return fd;
  }
  void close_kept(int fd) {
    parent_fds_.erase(std::remove(parent_fds_.begin(), parent_fds_.end(), fd), parent_fds_.end());
    close(fd);
  }

  void kill_all() {
    for (auto& child : list) {
      if (child.pid > 0 && !child.reaped) kill(child.pid, SIGKILL);
    }
  }

  // Reads what is there from every pipe that has not ended, waiting at most
  // until `deadline`; false when the deadline passed with nothing to read.
  bool read_some(std::chrono::steady_clock::time_point deadline) {
    std::vector<pollfd> fds;
    std::vector<Reporter*> owners;
    for (auto& child : list) {
      if (!child.ended) {
        fds.push_back({child.fd, POLLIN, 0});
        owners.push_back(&child);
      }
    }
    if (fds.empty()) return true;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    const int ready = poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left.count(), 60'000)));
    if (ready < 0 && errno != EINTR) return false;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Reporter& child = *owners[i];
      char chunk[4096];
      const ssize_t n = read(child.fd, chunk, sizeof chunk);
      if (n <= 0) {
        child.ended = true;
        child.reap();  // it exited: its pipe closed with it
        continue;
      }
      child.buffer.append(chunk, static_cast<std::size_t>(n));
      for (auto newline = child.buffer.find('\n'); newline != std::string::npos;
           newline = child.buffer.find('\n')) {
        child.lines.push_back(child.buffer.substr(0, newline));
        child.buffer.erase(0, newline + 1);
      }
    }
    return true;
  }

  // Waits until every child has reported `word`. Returns "" then; otherwise,
  // as soon as one child reports an error or ends without reporting `word`,
  // or at the deadline, what went wrong.
  std::string await(const std::string& word, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      bool all = true;
      for (std::size_t p = 0; p < list.size(); ++p) {
        const Reporter& child = list[p];
        if (child.said("error")) return "child " + std::to_string(p) + " reported an error";
        if (child.said(word)) continue;
        if (child.ended) {
          return "child " + std::to_string(p) + " " + child.how_it_ended() + " before it reported '" + word + "'";
        }
        all = false;
      }
      if (all) return "";
      if (!read_some(deadline)) return "no child reported '" + word + "' in time: a deadlock or a livelock";
    }
  }

  // Kills every child, reads what they wrote before they died, reaps them,
  // and describes it all.
  std::string stop_and_describe() {
    kill_all();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::any_of(list.begin(), list.end(), [](const Reporter& child) { return !child.ended; }) &&
           read_some(deadline)) {
    }
    std::string text;
    for (std::size_t p = 0; p < list.size(); ++p) {
      list[p].reap();
      text += "\nchild " + std::to_string(p) + " (" + list[p].how_it_ended() + "):";
      for (const auto& line : list[p].lines) text += "\n  " + line;
    }
    return text;
  }

 private:
  std::vector<int> parent_fds_;
};

void report(int fd, std::string line) {
  if (line.size() > 3000) line.resize(3000);
  line += '\n';
  (void)!write(fd, line.data(), line.size());
}

}  // namespace

// README: "Busy … never surfaces under normal contention". Three processes
// write into one file at once, each in batches of 1 to 5 snapshots, and
// each closes and reopens its own StateManager every 25 snapshots, so that
// opening (which migrates and takes the write lock) also meets the others'
// writes. Every child reports the first error on its pipe and exits; the
// parent fails at once when one does (or dies), and gives up after a bound.
TEST_CASE("3 processes saving 1000 snapshots each into 5 plugins, in batches and reopening their StateManager "
          "every 25, lose nothing and never see a lock error",
          "[processes][stress]") {
  TempDir dir;
  const auto path = dir.file("processes.db");
  constexpr int process_count = 3;
  constexpr int saves_per_process = 1000;
  constexpr int plugin_count = 5;
  constexpr int reopen_every = 25;
  // Normal contention: each write holds the lock for about a millisecond, so
  // a waiter that gets its turn waits milliseconds. A fifth of the default
  // busy timeout makes a waiter that is starved instead fail within this
  // test's few seconds (with SQLite's own busy handler, which sleeps up to
  // 100 ms between tries while the other two take the lock back to back,
  // some opening or save_snapshots waits out 1 s in most runs).
  constexpr std::chrono::milliseconds busy_timeout{1000};
  // The file's own bound. Half of the reopenings pass no max_history, half
  // another one: opening an existing file never changes its bound.
  constexpr std::size_t max_history = 12;
  { StateManager create(file_options(path, max_history)); }
  const auto child_options = [&](int opens) {
    hotstate::Options options;
    options.path = path;
    if (opens == 1) options.max_history = max_history;
    if (opens % 2 == 0) options.max_history = 4;
    options.busy_timeout = busy_timeout;
    return options;
  };

  int start_pipe[2];
  int go_pipe[2];
  REQUIRE(pipe(start_pipe) == 0);
  REQUIRE(pipe(go_pipe) == 0);
  Children children;
  children.keep(start_pipe[0]);
  children.keep(start_pipe[1]);
  children.keep(go_pipe[0]);
  children.keep(go_pipe[1]);
  std::vector<std::array<int, 2>> report_pipes(process_count);
  for (auto& fds : report_pipes) {
    REQUIRE(pipe(fds.data()) == 0);
    children.keep(fds[1]);
    children.list.push_back(Reporter{});
    children.list.back().fd = fds[0];
  }

  for (int p = 0; p < process_count; ++p) {
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // Only its own report pipe's write end and the read ends of start and go.
      close(start_pipe[1]);
      close(go_pipe[1]);
      for (int q = 0; q < process_count; ++q) {
        close(report_pipes[static_cast<std::size_t>(q)][0]);
        if (q != p) close(report_pipes[static_cast<std::size_t>(q)][1]);
      }
      const int out = report_pipes[static_cast<std::size_t>(p)][1];
      std::string doing = "waiting for the start";
      try {
        char byte = 0;
        if (read(start_pipe[0], &byte, 1) != 1) _exit(3);  // the parent gave up
        std::ofstream log(dir.file("seqs-" + std::to_string(p)));
        std::optional<StateManager> manager;
        int opens = 0;
        int batch = 0;
        for (int i = 0; i < saves_per_process; ++batch) {
          if (i >= opens * reopen_every) {
            manager.reset();
            ++opens;
            doing = "opening its StateManager (open " + std::to_string(opens) + ", after " + std::to_string(i) +
                    " snapshots)";
            manager.emplace(child_options(opens));
          }
          const int size = std::min(1 + (batch + p) % 5, saves_per_process - i);
          std::vector<StateSnapshot> snapshots;
          for (int k = 0; k < size; ++k) {
            snapshots.push_back(StateSnapshot("plugin-" + std::to_string((i + k) % plugin_count), "1.0.0")
                                    .with_data("process", p)
                                    .with_data("i", i + k));
          }
          std::vector<std::uint64_t> seqs;
          if (size == 1 && batch % 2 == 0) {
            doing = "in save_snapshot of snapshot " + std::to_string(i);
            seqs.push_back(manager->save_snapshot(snapshots.front()));
          } else {
            doing = "in save_snapshots of snapshots " + std::to_string(i) + ".." + std::to_string(i + size - 1);
            seqs = manager->save_snapshots(snapshots);
          }
          for (int k = 0; k < size; ++k) {
            log << "plugin-" << (i + k) % plugin_count << ' ' << seqs.at(static_cast<std::size_t>(k)) << '\n';
          }
          if (batch % 7 == 0) {
            doing = "in load_snapshot";
            (void)manager->load_snapshot("plugin-" + std::to_string(i % plugin_count));  // fill the cache
          }
          i += size;
        }
        log.close();
        if (!log) throw std::runtime_error("could not write its log of seqs");
        report(out, "saved after " + std::to_string(opens) + " opens and " + std::to_string(batch) + " writes");
        if (read(go_pipe[0], &byte, 1) != 1) _exit(3);  // everybody has saved, or the parent gave up
        doing = "checking its cache against a fresh StateManager";
        StateManager fresh(child_options(0));
        for (int k = 0; k < plugin_count; ++k) {
          const std::string id = "plugin-" + std::to_string(k);
          const auto cached = manager->load_snapshot(id);
          const auto hits = manager->cache_stats().hits;
          const auto again = manager->load_snapshot(id);
          const auto truth = fresh.load_snapshot(id);
          if (!cached || !truth || *cached != *truth || again.get() != cached.get() ||
              manager->cache_stats().hits != hits + 1) {
            throw std::runtime_error("its cache disagrees with the file about " + id);
          }
        }
        report(out, "verified");
      } catch (const std::exception& error) {
        report(out, "error " + doing + ": " + error.what());
        _exit(1);
      } catch (...) {
        report(out, "error " + doing + ": an exception that is not a std::exception");
        _exit(1);
      }
      _exit(0);
    }
    children.list[static_cast<std::size_t>(p)].pid = child;
  }
  // The parent keeps only the read ends of the reports and the write ends of
  // start and go: a child's report pipe ends when the child does.
  children.close_kept(start_pipe[0]);
  children.close_kept(go_pipe[0]);
  for (auto& fds : report_pipes) children.close_kept(fds[1]);

  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + std::chrono::seconds(120);
  const std::string go_bytes(process_count, 'g');
  REQUIRE(write(start_pipe[1], go_bytes.data(), go_bytes.size()) == process_count);
  children.close_kept(start_pipe[1]);
  if (const std::string problem = children.await("saved", deadline); !problem.empty()) {
    FAIL(problem << children.stop_and_describe());
  }
  const auto saving_took = std::chrono::steady_clock::now() - started;
  REQUIRE(write(go_pipe[1], go_bytes.data(), go_bytes.size()) == process_count);
  children.close_kept(go_pipe[1]);
  if (const std::string problem = children.await("verified", deadline); !problem.empty()) {
    FAIL(problem << children.stop_and_describe());
  }
  while (std::any_of(children.list.begin(), children.list.end(), [](const Reporter& c) { return !c.ended; })) {
    if (!children.read_some(deadline)) FAIL("a child did not exit after it verified" << children.stop_and_describe());
  }
  for (std::size_t p = 0; p < children.list.size(); ++p) {
    Reporter& child = children.list[p];
    child.reap();
    INFO("child " << p << ": " << child.how_it_ended());
    CHECK((child.reaped && WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0));
  }
  INFO("the saving took " << std::chrono::duration_cast<std::chrono::milliseconds>(saving_took).count() << " ms");

  // Every plugin keeps exactly the newest max_history + 1 of the seqs saved into it.
  std::map<std::string, std::vector<long long>> saved;
  for (int p = 0; p < process_count; ++p) {
    std::ifstream log(dir.file("seqs-" + std::to_string(p)));
    std::string id;
    long long seq = 0;
    int lines = 0;
    while (log >> id >> seq) {
      saved[id].push_back(seq);
      ++lines;
    }
    CHECK(lines == saves_per_process);
  }
  REQUIRE(saved.size() == plugin_count);
  RawDb raw(path);
  for (auto& [id, seqs] : saved) {
    std::sort(seqs.begin(), seqs.end());
    const std::vector<long long> newest(seqs.end() - static_cast<long>(max_history + 1), seqs.end());
    std::vector<long long> rows;
    std::istringstream text(
        raw.query("SELECT group_concat(seq, ' ') FROM (SELECT seq FROM snapshots WHERE plugin_id = '" + id +
                  "' ORDER BY seq)"));
    for (long long seq = 0; text >> seq;) rows.push_back(seq);
    INFO("plugin " << id);
    CHECK(rows == newest);
  }
  CHECK(raw.query_int("SELECT count(DISTINCT seq) FROM snapshots") == plugin_count * (max_history + 1));
  CHECK(raw.query_int("SELECT max_history FROM settings") == static_cast<long long>(max_history));
  CHECK(raw.query("PRAGMA integrity_check") == "ok");
}
