// The hotstate tool's demo (demo.hpp). Built on the public API only.
#include "demo.hpp"

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "output.hpp"

namespace hotstate_tool {

using hotstate::PluginState;
using hotstate::ReloadEvent;
using hotstate::ReloadResult;
using hotstate::StateManager;
using hotstate::StateSnapshot;

namespace {

const std::string kDemoPlugin = "demo-greeter";

// A toy plugin whose state is a counter and a greeting; version 2 cannot read
// version 1's state, so restoring into it fails as a real breaking change would.
class GreeterPlugin : public hotstate::StatefulPlugin {
 public:
  explicit GreeterPlugin(std::string version) : version_(std::move(version)) {}

  StateSnapshot create_snapshot() const override {
    return StateSnapshot(kDemoPlugin, version_)
        .with_data("greetings_sent", greetings_sent_)
        .with_data("last_name", last_name_)
        .with_metadata("reason", "hot-reload");
  }

  void restore_snapshot(const StateSnapshot& snapshot) override {
    if (!is_snapshot_compatible(snapshot)) {
      throw std::runtime_error("snapshot of version " + snapshot.plugin_version + " is incompatible with " + version_);
    }
    greetings_sent_ = snapshot.get<std::int64_t>("greetings_sent").value_or(0);
    last_name_ = snapshot.get<std::string>("last_name").value_or("");
  }

  std::string plugin_version() const override { return version_; }

  void greet(const std::string& name) {
    ++greetings_sent_;
    last_name_ = name;
  }
  std::int64_t greetings_sent() const { return greetings_sent_; }

 private:
  std::string version_;
  std::int64_t greetings_sent_ = 0;
  std::string last_name_;
};

// What one hot reload did.
struct ReloadStory {
  hotstate::ReloadTicket ticket;  // begin_reload's: the reload id and the seq of the state preserved
  std::string error;              // why the new version failed; empty when it runs
  std::uint64_t discarded_seq = 0;  // the failed version's snapshot, discarded by the rollback
  std::uint64_t restored_seq = 0;   // the snapshot the old version went back to
};

// Hot-reloads `running` to `next` the way a host would, recording every step:
// begin_reload preserves the running state, `next` restores it. When `next`
// rejects it, the reload fails, a rollback is triggered and `running` keeps
// going with the last good state; otherwise `next` is running afterwards.
ReloadStory hot_reload(StateManager& manager, GreeterPlugin& running, GreeterPlugin& next) {
  ReloadStory story;
  story.ticket = manager.begin_reload(running.create_snapshot(), next.plugin_version());
  const std::uint64_t reload_id = story.ticket.id;
  manager.set_plugin_state(kDemoPlugin, PluginState::Reloading);
  manager.record_event(ReloadEvent::state_preserved(kDemoPlugin)
                           .with("reload_id", reload_id)
                           .with("seq", story.ticket.snapshot_seq));

  const auto preserved = manager.load_snapshot(kDemoPlugin);
  if (!preserved) throw std::runtime_error("the state begin_reload preserved is gone (another writer cleared it?)");
  try {
    next.restore_snapshot(*preserved);
  } catch (const hotstate::Error&) {
    throw;  // the store failed: not the plugin's failure
  } catch (const std::exception& rejected) {
    story.error = rejected.what();
  }
  if (story.error.empty()) {
    manager.record_event(ReloadEvent::state_restored(kDemoPlugin).with("reload_id", reload_id).with("seq", preserved->seq));
    manager.finish_reload(reload_id, ReloadResult::succeeded());
    manager.set_plugin_state(kDemoPlugin, PluginState::Running);
    return story;
  }

  // The new version started with empty state, and that state was saved
  // before the host saw the failure: the rollback has something to discard.
  manager.save_snapshot(next.create_snapshot());
  story.discarded_seq = manager.load_snapshot(kDemoPlugin)->seq;
  manager.finish_reload(reload_id, ReloadResult::failed(story.error, 1));
  manager.set_plugin_state(kDemoPlugin, PluginState::failed(story.error));
  manager.record_event(ReloadEvent::rollback_triggered(
                           kDemoPlugin, next.plugin_version() + " could not restore the state of " +
                                            running.plugin_version())
                           .with("reload_id", reload_id));
  hotstate::SnapshotPtr restored = manager.rollback(kDemoPlugin);
  if (!restored) {
    // No history to go back to (someone set max_history to 0): the journal's
    // copy of the preserved state is the last good one.
    manager.save_snapshot(*preserved);
    restored = manager.load_snapshot(kDemoPlugin);
  }
  running.restore_snapshot(*restored);
  story.restored_seq = restored->seq;
  manager.record_event(ReloadEvent::state_restored(kDemoPlugin).with("reload_id", reload_id).with("seq", restored->seq));
  manager.set_plugin_state(kDemoPlugin, PluginState::Running);
  return story;
}


// `text` as one shell word: unchanged when it is plain, otherwise quoted.
std::string shell_word(const std::string& text) {
  const bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("-_./:+,=@%").find(c) != std::string_view::npos;
  });
  if (plain) return text;
  std::string quoted = "'";
  for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace

// What comes from the file, which an earlier run or anybody may have written,
// goes through printable().
int run_demo(const hotstate::Options& options, const std::string& program) {
  const std::string& db_path = options.path;
  StateManager manager(options);
  const std::string& id = kDemoPlugin;

  std::cout << "hotstate demo: a plugin's state kept across hot reloads, in " << printable(db_path) << " (schema version "
            << hotstate::schema_version() << ")\n";
  const auto earlier_snapshots = manager.history_size(id) + (manager.load_snapshot(id) ? 1 : 0);
  if (earlier_snapshots > 0) {
    hotstate::AuditQuery all;
    all.plugin_id = id;
    all.limit = 0;
    std::cout << "  this file already holds " << earlier_snapshots << " snapshot(s) and "
              << manager.audit_events(all).size() << " audit events of " << id
              << " from earlier runs: history survives restarts\n";
  }
  std::cout << "\n";

  // 0. A reload an earlier run began and never finished (it was killed in the
  //    middle): its last good state is in the journal.
  std::optional<StateSnapshot> last_good;
  for (const auto& unfinished : manager.unfinished_reloads()) {
    if (unfinished.plugin_id != id) continue;
    std::cout << "0. reload #" << unfinished.id << " (" << printable(unfinished.from_version) << " -> "
              << printable(unfinished.to_version)
              << ") never finished: an earlier run died during it\n"
              << "   resuming from its last good state (seq " << unfinished.last_good.seq
              << ", kept by the reload journal) and marking it resolved\n";
    last_good = unfinished.last_good;
    manager.resolve_reload(unfinished.id, "demo: resumed from the last good state after a restart");
  }

  // 1. The host discovers the plugin and loads version 1.0.0, with the state
  //    an earlier run left when it is compatible.
  manager.record_event(ReloadEvent::plugin_discovered(id).with("version", "1.0.0"));
  manager.set_plugin_state(id, PluginState::Loading);
  GreeterPlugin v1("1.0.0");
  std::string loaded_with = "fresh state";
  hotstate::SnapshotPtr previous = last_good ? std::make_shared<const StateSnapshot>(*last_good) : manager.load_snapshot(id);
  if (previous && v1.is_snapshot_compatible(*previous)) {
    v1.restore_snapshot(*previous);
    loaded_with = "the state of seq " + std::to_string(previous->seq) + " restored";
  }
  manager.set_plugin_state(id, PluginState::Running);
  v1.greet("Ada");
  v1.greet("Grace");
  std::cout << "1. discovered " << id << ", loaded 1.0.0 with " << loaded_with << ": "
            << manager.plugin_state(id) << "\n"
            << "   it greets Ada and Grace (greetings_sent " << v1.greetings_sent() << ")\n";

  // 2. Hot reload to 1.1.0: the state is preserved, restored, and runs on.
  GreeterPlugin v11("1.1.0");
  const ReloadStory first = hot_reload(manager, v1, v11);
  if (!first.error.empty()) throw std::runtime_error("demo: 1.1.0 failed to reload: " + first.error);
  v11.greet("Linus");
  std::cout << "2. hot reload #" << first.ticket.id << " 1.0.0 -> 1.1.0: state preserved as seq "
            << first.ticket.snapshot_seq << ", restored into 1.1.0: " << manager.plugin_state(id) << "\n"
            << "   it greets Linus (greetings_sent " << v11.greetings_sent() << ")\n";

  // 3. Hot reload to 2.0.0, a breaking version: it rejects the 1.x state, the
  //    reload fails and is rolled back; 1.1.0 runs on with its state.
  GreeterPlugin v2("2.0.0");
  const ReloadStory second = hot_reload(manager, v11, v2);
  if (second.error.empty()) {
    std::cout << "3. hot reload #" << second.ticket.id << " 1.1.0 -> 2.0.0: " << manager.plugin_state(id) << "\n";
  } else {
    std::cout << "3. hot reload #" << second.ticket.id << " 1.1.0 -> 2.0.0: state preserved as seq "
              << second.ticket.snapshot_seq << ", but 2.0.0 rejected it and the reload failed:\n"
              << "     " << PluginState::failed(second.error) << "\n"
              << "   2.0.0 had started empty and saved seq " << second.discarded_seq << "\n"
              << "4. rollback triggered: seq " << second.discarded_seq << " discarded, 1.1.0 restored from seq "
              << second.restored_seq << ": " << manager.plugin_state(id) << " (greetings_sent "
              << v11.greetings_sent() << ")\n";
  }

  // What the file holds now.
  const auto current = manager.load_snapshot(id);
  std::cout << "\nhistory of " << id << " (oldest first, max_history " << manager.max_history() << "):\n";
  for (const auto& entry : manager.get_history(id)) {
    std::cout << "  seq " << entry.seq << "  version " << printable(entry.plugin_version) << "  data "
              << printable(hotstate::Json::from(entry.data).text())
              << (entry.seq == first.ticket.snapshot_seq ? "  <- preserved by reload #" + std::to_string(first.ticket.id)
                                                         : std::string())
              << "\n";
  }
  if (current) {
    std::cout << "  seq " << current->seq << "  version " << printable(current->plugin_version) << "  data "
              << printable(hotstate::Json::from(current->data).text()) << "  <- current"
              << (second.error.empty() ? "" : ", the last good state") << "\n";
  }
  std::cout << "state of " << id << ": " << printable(manager.plugin_state(id).to_string()) << "\n";

  hotstate::AuditQuery story_query;  // the failed reload, step by step
  story_query.plugin_id = id;
  story_query.since_us = second.ticket.started_at_us;
  story_query.order = hotstate::AuditOrder::NewestFirst;
  story_query.limit = 14;
  auto events = manager.audit_events(story_query);
  std::reverse(events.begin(), events.end());
  std::vector<std::vector<std::string>> rows;
  for (const auto& event : events) {
    rows.push_back({hotstate::format_time_us(event.time_us).substr(11, 15), event.kind,
                    shorten(event.short_detail(), 70)});
  }
  std::cout << "\nthe audit log of reload #" << second.ticket.id << ", step by step (" << events.size()
            << " events):\n";
  print_table({"TIME (UTC)", "KIND", "DETAIL"}, rows, "  ");

  const std::string tool = printable(shell_word(program) + " --db " + shell_word(db_path)) + " ";
  const std::uint64_t seq_a = first.ticket.snapshot_seq;
  const std::uint64_t seq_b = current ? current->seq : second.ticket.snapshot_seq;
  const std::vector<std::pair<std::string, std::string>> explore = {
      {tool + "plugins", "every plugin and its current snapshot"},
      {tool + "history " + id, "the snapshots above"},
      {tool + "audit --plugin " + id, "every event, newest first (--kind, --since, --json …)"},
      {tool + "state " + id, "its life-cycle state"},
      {tool + "diff " + id + " " + std::to_string(seq_a) + " " + std::to_string(seq_b),
       "what changed between 1.0.0's and 1.1.0's state"},
      {tool + "verify", "integrity, history bound, audit log consistent"},
  };
  std::size_t width = 0;
  for (const auto& line : explore) width = std::max(width, line.first.size());
  std::cout << "\nexplore it with:\n";
  for (const auto& [command, what] : explore) {
    std::cout << "  " << command << std::string(width - command.size() + 2, ' ') << "# " << what << "\n";
  }
  std::cout << "  sqlite3 " << printable(shell_word(db_path)) << " \"SELECT time, kind, detail FROM audit_log WHERE plugin_id = '"
            << id << "'\"\n";
  return 0;
}

}  // namespace hotstate_tool
