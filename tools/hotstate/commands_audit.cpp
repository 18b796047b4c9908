// The commands on plugins' life cycles and the audit log: state, audit,
// reloads, resolve, prune-audit. Built on the public API only.
#include <pthread.h>
#include <csignal>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "output.hpp"
#include "progress_line.hpp"

namespace hotstate_tool {

using hotstate::JsonWriter;
using hotstate::StateManager;

std::vector<std::string> known_audit_kinds() {
  // The library's list, the same as the schema's table audit_kinds (which
  // cli_test checks `audit --kind` takes in full).
  const auto kinds = hotstate::audit_kinds();
  return {kinds.begin(), kinds.end()};
}

int command_state(StateManager& manager, const std::string& plugin_id, bool json) {
  const hotstate::PluginState state = manager.plugin_state(plugin_id);
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("plugin_id", plugin_id);
    out.member("state", hotstate::PluginState::kind_name(state.kind()));
    out.member("reason", state.reason());
    out.end_object();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  print_table({"PLUGIN", "STATE"}, {{plugin_id, state.to_string()}});
  return 0;
}

int command_audit(StateManager& manager, const hotstate::AuditQuery& query, bool json) {
  const auto events = manager.audit_events(query);
  if (json) {
    std::cout << hotstate::Json::from(events).text() << "\n";
    return 0;
  }
  if (events.empty()) {
    std::cout << "(no events)\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(events.size());
  for (const auto& event : events) {
    rows.push_back({std::to_string(event.id), hotstate::format_time_us(event.time_us), event.plugin_id.empty() ? "-" : event.plugin_id,
                    event.kind, event.detail});
  }
  print_table({"ID", "TIME (UTC)", "PLUGIN", "KIND", "DETAIL"}, rows);
  if (query.limit > 0 && events.size() == query.limit) {
    std::cout << "(" << (query.order == hotstate::AuditOrder::NewestFirst ? "newest " : "oldest ") << events.size()
              << " events shown; --limit N for more, --limit 0 for all)\n";
  }
  return 0;
}

int command_watch(StateManager& manager, hotstate::SubscribeOptions options, bool json) {
  // SIGINT and SIGTERM are taken with sigwait: blocked here, before the
  // subscription's thread starts, so that it inherits the mask and the
  // signal comes to this thread.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a closed pipe is a failed write, seen below
  std::atomic<bool> output_failed{false};
  hotstate::Subscription subscription = manager.subscribe(
      [&](const hotstate::AuditEvent& event) {
        std::string line;
        if (json) {
          line = hotstate::Json::from(event).text();
        } else {
          line = std::to_string(event.id) + "  " + hotstate::format_time_us(event.time_us) + "  " +
                 printable(event.plugin_id.empty() ? std::string("-") : event.plugin_id) + "  " + event.kind + "  " +
                 printable(event.detail);
        }
        line += '\n';
        if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() || std::fflush(stdout) != 0) {
          if (!output_failed.exchange(true)) ::kill(::getpid(), SIGTERM);
        }
      },
      std::move(options));
  if (!json) std::fprintf(stderr, "watching for new events (Ctrl-C stops)\n");
  int taken = 0;
  sigwait(&stop_signals, &taken);
  subscription.stop();
  return output_failed.load() ? 1 : 0;
}

int command_reloads(StateManager& manager, bool json) {
  const auto reloads = manager.unfinished_reloads();
  if (json) {
    JsonWriter out;
    out.begin_array();
    for (const auto& reload : reloads) {
      out.begin_object();
      out.member("id", reload.id);
      out.member("plugin_id", reload.plugin_id);
      out.member("from_version", reload.from_version);
      out.member("to_version", reload.to_version);
      out.member("started_at_us", reload.started_at_us);
      out.member("started", hotstate::format_time_us(reload.started_at_us));
      out.member("last_good_seq", reload.last_good.seq);
      embed_json_text(out, "last_good", reload.last_good.to_bytes());
      out.end_object();
    }
    out.end_array();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  if (reloads.empty()) {
    std::cout << "(no unfinished reloads)\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& reload : reloads) {
    rows.push_back({std::to_string(reload.id), reload.plugin_id,
                    (reload.from_version.empty() ? "?" : reload.from_version) + " -> " +
                        (reload.to_version.empty() ? "?" : reload.to_version),
                    hotstate::format_time_us(reload.started_at_us), std::to_string(reload.last_good.seq)});
  }
  print_table({"ID", "PLUGIN", "FROM -> TO", "STARTED (UTC)", "LAST GOOD SEQ"}, rows);
  std::cout << "\nthese reloads began and never finished: their host died, or is still running them.\n"
               "the last good state of each is its LAST GOOD SEQ (`--json reloads` embeds it);\n"
               "once handled, mark one resolved with: hotstate resolve ID --note TEXT\n";
  return 0;
}

int command_prune_audit(StateManager& manager, const hotstate::AuditPrune& prune, bool json) {
  const std::uint64_t removed = [&] {
    ProgressLine progress;
    return manager.prune_audit(prune, progress.callback());
  }();
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("removed", removed);
    if (prune.older_than_us) out.member("older_than_us", *prune.older_than_us);
    if (prune.keep_newest) out.member("keep_newest", static_cast<std::uint64_t>(*prune.keep_newest));
    out.end_object();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  std::cout << "removed " << removed << " audit event(s)";
  if (prune.older_than_us) std::cout << " older than " << hotstate::format_time_us(*prune.older_than_us);
  if (prune.keep_newest) std::cout << (prune.older_than_us ? " or" : "") << " beyond the newest " << *prune.keep_newest;
  std::cout << "; the prune itself is recorded (AuditPruned), and the saves of existing snapshots stay\n";
  return 0;
}

int command_resolve(StateManager& manager, std::uint64_t reload_id, const std::string& note, bool json) {
  std::string plugin_id;
  for (const auto& reload : manager.unfinished_reloads()) {
    if (reload.id == reload_id) plugin_id = reload.plugin_id;
  }
  try {
    manager.resolve_reload(reload_id, note);
  } catch (const hotstate::Error& error) {
    if (error.code() == hotstate::ErrorCode::NotFound) {
      throw UsageError("there is no reload " + std::to_string(reload_id) + " (`hotstate reloads` lists the unfinished ones)");
    }
    throw;
  }
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("id", reload_id);
    out.member("plugin_id", plugin_id);
    out.member("resolved", true);
    out.member("note", note);
    out.end_object();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  std::cout << "reload " << reload_id << " of " << printable(plugin_id) << " resolved"
            << (note.empty() ? std::string() : " (note: " + printable(note) + ")") << "\n";
  return 0;
}

}  // namespace hotstate_tool
