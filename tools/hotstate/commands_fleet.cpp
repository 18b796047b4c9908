// The hotstate tool: replicate (ship the file's changes to PostgreSQL) and
// restore-from (rebuild a host's file from there).
#include <csignal>
#include <cstdio>
#include <mutex>
#include <pthread.h>
#include <unistd.h>

#include "commands.hpp"

namespace hotstate_tool {

namespace {

void warn_missed(std::uint64_t missed) {
  std::fprintf(stderr,
               "hotstate: WARNING: %llu audit event(s) were removed from the file by a retention prune before they "
               "were shipped; PostgreSQL records the gap (hotstate.shipment_gaps)\n",
               static_cast<unsigned long long>(missed));
}

}  // namespace

std::string default_host_id() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

int command_replicate(hotstate::StateManager& manager, const std::string& url, hotstate::ReplicationOptions options,
                      bool follow, bool json) {
  if (!follow) {
    options.on_missed = warn_missed;
    const auto report = manager.replicate_once(url, options);
    if (json) {
      hotstate::JsonWriter out;
      out.begin_object();
      out.member("host_id", options.host_id);
      out.member("events", report.events);
      out.member("batches", report.batches);
      out.member("position", report.position);
      out.member("missed", report.missed);
      out.end_object();
      std::printf("%s\n", out.take().text().c_str());
    } else {
      std::printf("shipped %llu event(s) in %llu batch(es) as host %s; PostgreSQL holds the file's changes up to "
                  "event %llu\n",
                  static_cast<unsigned long long>(report.events), static_cast<unsigned long long>(report.batches),
                  printable(options.host_id).c_str(), static_cast<unsigned long long>(report.position));
    }
    return 0;
  }
  // SIGINT and SIGTERM are taken with sigwait (as watch does): blocked before
  // the replicating thread starts, so that it inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::mutex output;
  std::string last_error;
  options.on_missed = [&](std::uint64_t missed) {
    std::lock_guard lock(output);
    warn_missed(missed);
  };
  options.on_error = [&](const hotstate::Error& error) {
    std::lock_guard lock(output);
    // Once per distinct failure: PostgreSQL down is retried quietly.
    if (error.what() == last_error) return;
    last_error = error.what();
    std::fprintf(stderr, "hotstate: %s (retrying)\n", error.what());
  };
  options.on_batch = [&](std::uint64_t position, std::uint64_t events) {
    std::lock_guard lock(output);
    last_error.clear();
    if (events == 0) return;
    if (json) {
      std::printf("{\"position\":%llu,\"events\":%llu}\n", static_cast<unsigned long long>(position),
                  static_cast<unsigned long long>(events));
    } else {
      std::printf("shipped %llu event(s), up to event %llu\n", static_cast<unsigned long long>(events),
                  static_cast<unsigned long long>(position));
    }
    std::fflush(stdout);
  };
  const std::string host_id = options.host_id;
  hotstate::Replication replication = manager.replicate(url, std::move(options));
  if (!json) std::fprintf(stderr, "replicating as host %s (Ctrl-C stops)\n", printable(host_id).c_str());
  int taken = 0;
  sigwait(&stop_signals, &taken);
  replication.stop();
  return 0;
}

int command_forget_replica(hotstate::StateManager& manager, const std::string& host_id, bool json) {
  const bool forgotten = manager.forget_replica(host_id);
  if (json) {
    hotstate::JsonWriter out;
    out.begin_object();
    out.member("host_id", host_id);
    out.member("forgotten", forgotten);
    out.end_object();
    std::printf("%s\n", out.take().text().c_str());
  } else if (forgotten) {
    std::printf("forgot replica %s: the retention prune no longer keeps events for it\n", printable(host_id).c_str());
  } else {
    std::fprintf(stderr, "hotstate: the file has no replica %s\n", printable(host_id).c_str());
  }
  return forgotten ? 0 : 1;
}

int command_replicas(hotstate::StateManager& manager, bool json) {
  const auto replicas = manager.replicas();
  if (json) {
    hotstate::JsonWriter out;
    out.begin_array();
    for (const auto& replica : replicas) {
      out.begin_object();
      out.member("host_id", replica.host_id);
      out.member("target", replica.target);
      out.member("shipped_event_id", replica.shipped_event_id);
      out.member("holds_prune", replica.holds_prune);
      out.end_object();
    }
    out.end_array();
    std::printf("%s\n", out.take().text().c_str());
    return 0;
  }
  std::printf("%-24s %10s  %-5s  %s\n", "HOST", "SHIPPED", "HOLDS", "TARGET");
  for (const auto& replica : replicas) {
    std::printf("%-24s %10llu  %-5s  %s\n", printable(replica.host_id).c_str(),
                static_cast<unsigned long long>(replica.shipped_event_id), replica.holds_prune ? "yes" : "no",
                printable(replica.target).c_str());
  }
  return 0;
}

int command_restore_from(const std::string& url, const std::string& host_id, const std::string& db_path, bool json) {
  const auto report = hotstate::restore_from(url, host_id, db_path);
  if (report.shipped > report.position) {
    std::fprintf(stderr,
                 "hotstate: WARNING: host %s stopped in the middle of shipping a backlog: the rebuilt file is the host "
                 "as of event %llu, the last whose rows PostgreSQL holds; its events up to %llu stay in PostgreSQL. "
                 "Ship the rebuilt file as another host id.\n",
                 printable(host_id).c_str(), static_cast<unsigned long long>(report.position),
                 static_cast<unsigned long long>(report.shipped));
  }
  if (json) {
    hotstate::JsonWriter out;
    out.begin_object();
    out.member("db", db_path);
    out.member("host_id", host_id);
    out.member("snapshots", report.snapshots);
    out.member("events", report.events);
    out.member("reloads", report.reloads);
    out.member("pins", report.pins);
    out.member("position", report.position);
    out.member("shipped", report.shipped);
    out.end_object();
    std::printf("%s\n", out.take().text().c_str());
  } else {
    std::printf("rebuilt %s from host %s as of event %llu: %llu snapshot(s), %llu audit event(s), %llu reload(s), "
                "%llu pin(s)\n",
                printable(db_path).c_str(), printable(host_id).c_str(), static_cast<unsigned long long>(report.position),
                static_cast<unsigned long long>(report.snapshots), static_cast<unsigned long long>(report.events),
                static_cast<unsigned long long>(report.reloads), static_cast<unsigned long long>(report.pins));
  }
  return 0;
}

}  // namespace hotstate_tool
