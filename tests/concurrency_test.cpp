// Many users of one file at once: threads sharing a StateManager, and
// processes each with their own.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
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

TEST_CASE("3 processes saving 1000 snapshots each into 5 plugins lose nothing and never see a lock error",
          "[processes][stress]") {
  TempDir dir;
  const auto path = dir.file("processes.db");
  constexpr int process_count = 3;
  constexpr int saves_per_process = 1000;
  constexpr int plugin_count = 5;
  constexpr std::size_t max_history = 10;
  { StateManager create(file_options(path, max_history)); }

  int saved_pipe[2];
  int go_pipe[2];
  REQUIRE(pipe(saved_pipe) == 0);
  REQUIRE(pipe(go_pipe) == 0);

  std::vector<pid_t> children;
  for (int p = 0; p < process_count; ++p) {
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // Exit codes: 0 ok, 1 an error while saving, 2 the cache disagreed.
      int status = 0;
      try {
        StateManager manager(file_options(path, max_history));
        std::ofstream log(dir.file("seqs-" + std::to_string(p)));
        for (int i = 0; i < saves_per_process; ++i) {
          const std::string id = "plugin-" + std::to_string(i % plugin_count);
          const auto seqs =
              manager.save_snapshots({StateSnapshot(id, "1.0.0").with_data("process", p).with_data("i", i)});
          log << id << ' ' << seqs.at(0) << '\n';
          if (i % 7 == 0) (void)manager.load_snapshot(id);  // fill the cache as a host would
        }
        log.close();
        char byte = 's';
        if (write(saved_pipe[1], &byte, 1) != 1) status = 1;
        if (read(go_pipe[0], &byte, 1) != 1) status = 1;  // everybody has saved
        StateManager fresh(file_options(path, max_history));
        for (int k = 0; k < plugin_count; ++k) {
          const std::string id = "plugin-" + std::to_string(k);
          const auto cached = manager.load_snapshot(id);
          const auto hits = manager.cache_stats().hits;
          const auto again = manager.load_snapshot(id);
          const auto truth = fresh.load_snapshot(id);
          if (!cached || !truth || *cached != *truth || again.get() != cached.get() ||
              manager.cache_stats().hits != hits + 1) {
            status = 2;
          }
        }
      } catch (const std::exception& error) {
        std::fprintf(stderr, "child %d: %s\n", p, error.what());
        status = 1;
      }
      _exit(status);
    }
    children.push_back(child);
  }

  for (int p = 0; p < process_count; ++p) {
    char byte = 0;
    REQUIRE(read(saved_pipe[0], &byte, 1) == 1);
  }
  for (int p = 0; p < process_count; ++p) {
    const char byte = 'g';
    REQUIRE(write(go_pipe[1], &byte, 1) == 1);
  }
  for (const pid_t child : children) {
    int status = -1;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  for (int fd : {saved_pipe[0], saved_pipe[1], go_pipe[0], go_pipe[1]}) close(fd);

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
  CHECK(raw.query("PRAGMA integrity_check") == "ok");
}
