// The processes the replication tests start and kill
// (replication_faults_test.cpp, target hotstate_replication_child):
//
//   follow DB URL HOST BATCH   opens a StateManager on DB and follows it
//                              (StateManager::replicate, BATCH events per
//                              batch) until SIGKILLed, or SIGTERM (exit 0).
//                              Prints "following" once started and "batch
//                              POSITION EVENTS" after each batch PostgreSQL
//                              committed.
//   host DB URL HOST N SEED    a host of its own: N random operations on DB
//                              (replication_compare.hpp's RandomHost) with
//                              replicate_once first, every few of them and
//                              at the end. Prints "done EVENTS" (the file's newest
//                              event id) and exits 0; exits 1 on any failure,
//                              saying why on stderr.
#define HOTSTATE_REPLICATION_WORKLOAD_ONLY
#include "replication_compare.hpp"

#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

// A line on stdout at once, whole (one write).
void say(const std::string& line) {
  const std::string text = line + "\n";
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

int usage() {
  std::fprintf(stderr,
               "usage: hotstate_replication_child follow DB URL HOST BATCH\n"
               "       hotstate_replication_child host DB URL HOST N SEED\n");
  return 2;
}

int follow(const std::string& db, const std::string& url, const std::string& host, std::size_t batch) {
  // SIGTERM and SIGINT taken with sigwait: blocked before the replicating
  // thread starts, so that it inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  hotstate::Options options;
  options.path = db;
  hotstate::StateManager manager(options);
  hotstate::ReplicationOptions replicating;
  replicating.host_id = host;
  replicating.batch_events = batch;
  replicating.retry_min = std::chrono::milliseconds(10);
  replicating.retry_max = std::chrono::milliseconds(200);
  replicating.on_batch = [](std::uint64_t position, std::uint64_t events) {
    say("batch " + std::to_string(position) + " " + std::to_string(events));
  };
  replicating.on_error = [](const hotstate::Error& error) {
    std::fprintf(stderr, "replication_child: %s (retrying)\n", error.what());
  };
  hotstate::Replication replication = manager.replicate(url, std::move(replicating));
  say("following");
  int taken = 0;
  sigwait(&stop_signals, &taken);
  replication.stop();
  return 0;
}

int host(const std::string& db, const std::string& url, const std::string& host_id, std::uint64_t operations,
         std::uint64_t seed) {
  hotstate::Options options;
  options.path = db;
  options.max_history = 4;
  hotstate::StateManager manager(options);
  hotstate_test::RandomHost random_host(manager, db, seed);
  hotstate::ReplicationOptions replicating;
  replicating.host_id = host_id;
  replicating.batch_events = static_cast<std::size_t>(random_host.pick(5, 200));
  // Shipped from the start: the replica holds the prune, nothing is missed.
  std::uint64_t missed = manager.replicate_once(url, replicating).missed;
  std::uint64_t ships = 1;
  for (std::uint64_t i = 0; i < operations; ++i) {
    random_host.step();
    if (random_host.pick(0, 5) == 0) {
      missed += manager.replicate_once(url, replicating).missed;
      ++ships;
    }
  }
  // The last write is hotstate's, so that every event is chained when it ships.
  random_host.save_plain("alpha");
  missed += manager.replicate_once(url, replicating).missed;
  ++ships;
  if (missed != 0) {
    std::fprintf(stderr, "replication_child: %llu event(s) missed although the replica holds the prune\n",
                 static_cast<unsigned long long>(missed));
    return 1;
  }
  say("done " + std::to_string(manager.newest_event_id()) + " after " + std::to_string(ships) + " shipment(s): " +
      random_host.summary());
  return 0;
}

std::uint64_t number(const char* text) { return std::stoull(text); }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string mode = argv[1];
  try {
    if (mode == "follow" && argc == 6) return follow(argv[2], argv[3], argv[4], number(argv[5]));
    if (mode == "host" && argc == 7) return host(argv[2], argv[3], argv[4], number(argv[5]), number(argv[6]));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "replication_child %s: %s\n", mode.c_str(), error.what());
    return 1;
  }
  return usage();
}
