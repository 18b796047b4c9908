// The process crash_test.cpp starts and kills with SIGKILL.
//
//   hotstate_crash_child DB_PATH MAX_HISTORY FIRST_VALUE full|normal
//
// Saves snapshots of plugins p0, p1, p2 in turn, forever, each with data
// {"i": FIRST_VALUE + n}; after each save_snapshot has returned (the save is
// acknowledged) writes "PLUGIN I\n" to stdout with one write(2), so that a
// line on the pipe means an acknowledged save.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "hotstate/hotstate.hpp"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: hotstate_crash_child DB_PATH MAX_HISTORY FIRST_VALUE full|normal\n");
    return 2;
  }
  try {
    hotstate::Options options;
    options.path = argv[1];
    options.max_history = std::strtoull(argv[2], nullptr, 10);
    options.synchronous = std::string(argv[4]) == "normal" ? hotstate::Synchronous::Normal : hotstate::Synchronous::Full;
    hotstate::StateManager manager(options);
    const long long first = std::strtoll(argv[3], nullptr, 10);
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
