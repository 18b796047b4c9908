// The hotstate tool's demo (demo.hpp). Built on the public API only.
#include "demo.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
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

// A toy plugin whose state is a counter and the last name it greeted. Its
// 2.x renamed the key "last_name" to "last_greeted": it reads 1.x state only
// through the registered migration. 3.0.0 is broken: it cannot restore any
// state, as a real bad release would crash.
class GreeterPlugin : public hotstate::StatefulPlugin {
 public:
  explicit GreeterPlugin(std::string version) : version_(std::move(version)) {}

  StateSnapshot create_snapshot() const override {
    return StateSnapshot(kDemoPlugin, version_)
        .with_data("greetings_sent", greetings_sent_)
        .with_data(name_key(), last_name_)
        .with_metadata("reason", "hot-reload");
  }

  void restore_snapshot(const StateSnapshot& snapshot) override {
    if (version_.rfind("3.", 0) == 0) throw std::runtime_error("3.0.0 crashed while restoring its state");
    if (!is_snapshot_compatible(snapshot)) {
      throw std::runtime_error("snapshot of version " + snapshot.plugin_version + " is incompatible with " + version_);
    }
    greetings_sent_ = snapshot.get<std::int64_t>("greetings_sent").value_or(0);
    last_name_ = snapshot.get<std::string>(name_key()).value_or("");
  }

  std::string plugin_version() const override { return version_; }

  void greet(const std::string& name) {
    ++greetings_sent_;
    last_name_ = name;
  }
  std::int64_t greetings_sent() const { return greetings_sent_; }

 private:
  std::string name_key() const { return version_.rfind("1.", 0) == 0 ? "last_name" : "last_greeted"; }

  std::string version_;
  std::int64_t greetings_sent_ = 0;
  std::string last_name_;
};

// 1.x -> 2.x: the key was renamed.
StateSnapshot rename_last_name(StateSnapshot snapshot) {
  if (const auto found = snapshot.data.find("last_name"); found != snapshot.data.end()) {
    snapshot.data["last_greeted"] = found->second;
    snapshot.data.erase(found);
  }
  return snapshot;
}

// What one hot reload did.
struct ReloadStory {
  hotstate::ReloadTicket ticket;    // begin_reload's: the reload id and the seq of the state preserved
  hotstate::SnapshotPtr started;    // the state the new version started from (restore_for)
  std::string error;                // why the new version failed; empty when it runs
  std::uint64_t failed_seq = 0;     // the failed version's own snapshot, kept in the history
  hotstate::SnapshotPtr restored;   // last-known-good, restored as a copy after a failure
};

// Hot-reloads `running` to `next` the way a host would, recording every
// step: begin_reload preserves the running state; `next` starts from
// restore_for (migrated when a migration takes the state to its major); it
// runs (`work`), and finish_reload pins what it saved as last-known-good.
// When `next` fails, the host restores last-known-good, non-destructively,
// and `running` goes on with it.
ReloadStory hot_reload(StateManager& manager, GreeterPlugin& running, GreeterPlugin& next,
                       const std::function<void(GreeterPlugin&)>& work) {
  ReloadStory story;
  story.ticket = manager.begin_reload(running.create_snapshot(), next.plugin_version());
  const std::uint64_t reload_id = story.ticket.id;
  manager.set_plugin_state(kDemoPlugin, PluginState::Reloading);
  manager.record_event(ReloadEvent::state_preserved(kDemoPlugin)
                           .with("reload_id", reload_id)
                           .with("seq", story.ticket.snapshot_seq));
  try {
    story.started = manager.restore_for(kDemoPlugin, next.plugin_version());
    if (!story.started) throw std::runtime_error("no stored state fits " + next.plugin_version());
    next.restore_snapshot(*story.started);
  } catch (const hotstate::Error&) {
    throw;  // the store failed: not the plugin's failure
  } catch (const std::exception& rejected) {
    story.error = rejected.what();
  }
  if (story.error.empty()) {
    manager.record_event(
        ReloadEvent::state_restored(kDemoPlugin).with("reload_id", reload_id).with("seq", story.started->seq));
    manager.set_plugin_state(kDemoPlugin, PluginState::Running);
    work(next);
    manager.save_snapshot(next.create_snapshot());
    manager.finish_reload(reload_id, ReloadResult::succeeded_pinning());
    return story;
  }

  // What the new version was given stays in the history (a restore deletes nothing).
  story.failed_seq = story.started ? story.started->seq : 0;
  manager.finish_reload(reload_id, ReloadResult::failed(story.error, 1));
  manager.set_plugin_state(kDemoPlugin, PluginState::failed(story.error));
  manager.record_event(ReloadEvent::rollback_triggered(kDemoPlugin, next.plugin_version() + " failed: " + story.error)
                           .with("reload_id", reload_id));
  const hotstate::SnapshotPtr good = manager.pinned(kDemoPlugin, "last-known-good");
  story.restored = manager.restore(kDemoPlugin, good ? good->seq : story.ticket.snapshot_seq);
  running.restore_snapshot(*story.restored);
  manager.record_event(
      ReloadEvent::state_restored(kDemoPlugin).with("reload_id", reload_id).with("seq", story.restored->seq));
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

  // 1. The host discovers the plugin and loads version 1.0.0, with the
  //    newest 1.x state an earlier run left, when there is one.
  manager.register_migration(id, 1, 2, rename_last_name);
  manager.register_migration(id, 2, 3, [](StateSnapshot snapshot) { return snapshot; });  // 3.x kept the keys
  manager.record_event(ReloadEvent::plugin_discovered(id).with("version", "1.0.0"));
  manager.set_plugin_state(id, PluginState::Loading);
  GreeterPlugin v1("1.0.0");
  std::string loaded_with = "fresh state";
  hotstate::SnapshotPtr previous = last_good && v1.is_snapshot_compatible(*last_good)
                                       ? std::make_shared<const StateSnapshot>(*last_good)
                                       : manager.restore_for(id, "1.0.0");
  if (previous) {
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
  const ReloadStory first = hot_reload(manager, v1, v11, [](GreeterPlugin& p) { p.greet("Linus"); });
  if (!first.error.empty()) throw std::runtime_error("demo: 1.1.0 failed to reload: " + first.error);
  std::cout << "2. hot reload #" << first.ticket.id << " 1.0.0 -> 1.1.0: state preserved as seq "
            << first.ticket.snapshot_seq << ", restored into 1.1.0, which greets Linus (greetings_sent "
            << v11.greetings_sent() << ");\n   its state pinned as last-known-good\n";

  // 3. Hot reload to 2.0.0, which renamed a key of the state: restore_for
  //    migrates the 1.x state (registered migration 1 -> 2) and saves it.
  GreeterPlugin v2("2.0.0");
  const ReloadStory second = hot_reload(manager, v11, v2, [](GreeterPlugin& p) { p.greet("Margaret"); });
  if (!second.error.empty()) throw std::runtime_error("demo: 2.0.0 failed to reload: " + second.error);
  const std::uint64_t migrated_seq = second.started->seq;
  std::cout << "3. hot reload #" << second.ticket.id << " 1.1.0 -> 2.0.0, a breaking version (last_name is now "
            << "last_greeted):\n   the 1.x state migrated and saved as seq " << migrated_seq
            << " (StateMigrated), restored into 2.0.0, which greets Margaret (greetings_sent " << v2.greetings_sent()
            << ");\n   pinned as last-known-good\n";

  // 4. Hot reload to 3.0.0, a bad release: it fails, and the host restores
  //    last-known-good as a copy; nothing is deleted.
  GreeterPlugin v3("3.0.0");
  const ReloadStory third = hot_reload(manager, v2, v3, [](GreeterPlugin&) {});
  if (third.error.empty()) throw std::runtime_error("demo: 3.0.0 was expected to fail");
  std::cout << "4. hot reload #" << third.ticket.id << " 2.0.0 -> 3.0.0 failed: " << PluginState::failed(third.error)
            << "\n   the state migrated for it stays in the history as seq " << third.failed_seq
            << "; last-known-good restored as seq " << third.restored->seq << ": " << manager.plugin_state(id)
            << " (2.0.0, greetings_sent " << v2.greetings_sent() << ")\n";

  // 5. An operator goes back to the state 2.0.0 started from, by its seq;
  //    again a copy: every row stays.
  const auto rows_before = manager.get_history(id).size() + 1;
  const hotstate::SnapshotPtr chosen = manager.restore(id, migrated_seq);
  std::cout << "5. restored seq " << migrated_seq << " (the migrated state) as seq " << chosen->seq << "; the "
            << rows_before << " rows before it are all still there\n";

  // What the file holds now.
  const auto current = manager.load_snapshot(id);
  std::map<std::uint64_t, std::string> pinned;
  for (const auto& pin : manager.pins(id)) pinned[pin.seq] += "  [pinned: " + printable(pin.label) + "]";
  std::cout << "\nhistory of " << id << " (oldest first, max_history " << manager.max_history() << "):\n";
  const auto print_entry = [&](const StateSnapshot& entry, const std::string& mark) {
    std::cout << "  seq " << entry.seq << "  version " << printable(entry.plugin_version) << "  data "
              << printable(hotstate::Json::from(entry.data).text()) << mark
              << (pinned.count(entry.seq) ? pinned[entry.seq] : std::string()) << "\n";
  };
  for (const auto& entry : manager.get_history(id)) print_entry(entry, "");
  if (current) print_entry(*current, "  <- current");
  std::cout << "state of " << id << ": " << printable(manager.plugin_state(id).to_string()) << "\n";

  hotstate::AuditQuery story_query;  // the failed reload and what came after, step by step
  story_query.plugin_id = id;
  story_query.since_us = third.ticket.started_at_us;
  story_query.order = hotstate::AuditOrder::NewestFirst;
  story_query.limit = 16;
  auto events = manager.audit_events(story_query);
  std::reverse(events.begin(), events.end());
  std::vector<std::vector<std::string>> rows;
  for (const auto& event : events) {
    rows.push_back({hotstate::format_time_us(event.time_us).substr(11, 15), event.kind,
                    shorten(event.short_detail(), 70)});
  }
  std::cout << "\nthe audit log from reload #" << third.ticket.id << " on, step by step (" << events.size()
            << " events):\n";
  print_table({"TIME (UTC)", "KIND", "DETAIL"}, rows, "  ");

  const std::string tool = printable(shell_word(program) + " --db " + shell_word(db_path)) + " ";
  const std::uint64_t seq_a = second.ticket.snapshot_seq;
  const std::uint64_t seq_b = migrated_seq;
  const std::vector<std::pair<std::string, std::string>> explore = {
      {tool + "plugins", "every plugin and its current snapshot"},
      {tool + "history " + id, "the snapshots above"},
      {tool + "pins " + id, "what is kept whatever the history bound trims"},
      {tool + "audit --plugin " + id, "every event, newest first (--kind, --since, --json …)"},
      {tool + "state " + id, "its life-cycle state"},
      {tool + "diff " + id + " " + std::to_string(seq_a) + " " + std::to_string(seq_b),
       "what the migration to 2.0.0 changed"},
      {tool + "show " + id + " --seq " + std::to_string(third.failed_seq), "the failed 3.0.0's state, still stored"},
      {tool + "verify", "integrity, history bound, audit log consistent and its hash chain intact"},
      {tool + "audit-head", "the audit log's checkpoint: keep it, check it later with verify --audit-head ID:HASH"},
      {tool + "report --out report.html", "a timeline of it all in one self-contained HTML page"},
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
