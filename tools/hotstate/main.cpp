// The hotstate command-line tool. Built on the public API only.
//
//   hotstate [--db FILE] [--json] [--time-limit MS] <command>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "hotstate/hotstate.hpp"

namespace {

using hotstate::PluginState;
using hotstate::ReloadEvent;
using hotstate::ReloadResult;
using hotstate::StateManager;
using hotstate::StateSnapshot;

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

// An audit event's detail for the demo's short table: the JSON object
// without the content hash (64 hex digits that `audit` shows).
std::string short_detail(const hotstate::AuditEvent& event) {
  try {
    auto fields = event.detail_json().get<std::map<std::string, hotstate::Json>>();
    fields.erase("content_hash");
    return hotstate::Json::from(fields).text();
  } catch (const hotstate::Error&) {
    return event.detail;
  }
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

// `program`: how the tool was invoked (argv[0]), so the commands it suggests
// can be pasted as they are, also before the tool is installed.
// `options`: the file and the time limit the tool was given.
int run_demo(const hotstate::Options& options, const std::string& program) {
  using hotstate_tool::printable;  // for what comes from the file, which an earlier run or anybody may have written
  const std::string& db_path = options.path;
  StateManager manager(options);
  const std::string& id = kDemoPlugin;

  std::cout << "hotstate demo: a plugin's state kept across hot reloads, in " << printable(db_path) << " (schema version "
            << hotstate::schema_version() << ")\n";
  const auto earlier_snapshots = manager.get_history(id).size() + (manager.load_snapshot(id) ? 1 : 0);
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
    rows.push_back({hotstate_tool::iso_time_us(event.time_us).substr(11, 15), event.kind,
                    hotstate_tool::shorten(short_detail(event), 70)});
  }
  std::cout << "\nthe audit log of reload #" << second.ticket.id << ", step by step (" << events.size()
            << " events):\n";
  hotstate_tool::print_table({"TIME (UTC)", "KIND", "DETAIL"}, rows, "  ");

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

// The most any count the tool reads may be: SQLite's integers are signed
// 64-bit, so a seq, a reload id or a row count beyond this cannot exist.
constexpr std::uint64_t kMaxCount = 9223372036854775807ULL;
// The most StateManager::set_max_history accepts.
constexpr std::uint64_t kMaxHistoryBound = 2147483647;
// The default --time-limit, in milliseconds: far more than any command needs
// on a healthy file, and a bound on SQL planted in a file that is not; and
// the most it may be (a day).
constexpr const char* kDefaultTimeLimitMs = "30000";
constexpr std::uint64_t kMaxTimeLimitMs = 86'400'000;

// Reports an error on stderr, escaped: messages quote ids, paths and
// arguments, which may hold terminal escapes.
void report_error(std::string_view message) { std::cerr << "hotstate: " << hotstate_tool::printable(message) << "\n"; }

}  // namespace

int main(int argc, char** argv) {
  using hotstate_tool::parse_count;

  CLI::App app{"hotstate: durable plugin hot-reload state"};
  app.require_subcommand(1);
  app.fallthrough();  // --db, --json and --time-limit also after the command
  std::string db_path = "hotstate.db";
  bool json = false;
  std::string time_limit_text = kDefaultTimeLimitMs;
  app.add_option("--db", db_path, "database file")->capture_default_str();
  app.add_flag("--json", json, "print JSON for scripts instead of tables");
  app.add_option("--time-limit", time_limit_text,
                 "the most time one call may spend in SQLite, in milliseconds (0: no limit); bounds SQL that a file "
                 "prepared by someone else could make run forever")
      ->type_name("MS")
      ->capture_default_str();

  // Numbers are taken as text and read by parse_count, which refuses what
  // does not fit instead of wrapping it.
  std::string plugin_id;
  std::string directory;
  std::string seq_a_text;
  std::string seq_b_text;
  auto* demo = app.add_subcommand("demo", "simulate a plugin saved, reloaded, failing and rolled back");
  auto* plugins = app.add_subcommand(
      "plugins", "list every plugin with its current snapshot; exit 1, naming them, when some cannot be read");
  auto* show = app.add_subcommand("show", "show a plugin's current snapshot");
  show->add_option("ID", plugin_id, "plugin id")->required();
  auto* history = app.add_subcommand("history", "list a plugin's history, oldest first, and its current snapshot");
  history->add_option("ID", plugin_id, "plugin id")->required();
  auto* diff = app.add_subcommand("diff", "which keys of data and metadata changed between two snapshots");
  diff->add_option("ID", plugin_id, "plugin id")->required();
  diff->add_option("SEQ_A", seq_a_text, "seq of the older snapshot")->type_name("SEQ")->required();
  diff->add_option("SEQ_B", seq_b_text, "seq of the newer snapshot")->type_name("SEQ")->required();
  auto* rollback = app.add_subcommand("rollback", "discard a plugin's current snapshot and restore the previous one");
  rollback->add_option("ID", plugin_id, "plugin id")->required();
  auto* export_command = app.add_subcommand("export", "write each plugin's current snapshot as DIR/<id>.json (the seed's format)");
  export_command->add_option("DIR", directory, "directory")->required();
  auto* import_command = app.add_subcommand("import", "save every DIR/*.json snapshot (hotstate's or the seed's files)");
  import_command->add_option("DIR", directory, "directory")->required();
  auto* verify = app.add_subcommand(
      "verify", "check integrity, schema, triggers, history bound, every row and the audit log; exit 1 on a problem");
  std::string backup_path;
  bool backup_force = false;
  auto* backup = app.add_subcommand("backup", "write a consistent copy of the database to FILE while writers go on");
  backup->add_option("FILE", backup_path, "the copy; refused when it exists, unless --force")->required();
  backup->add_flag("--force", backup_force, "replace FILE when it exists (never the database itself)");

  std::string max_history_text;
  bool max_history_force = false;
  auto* set_max_history = app.add_subcommand(
      "set-max-history",
      "set the history entries kept per plugin, for every writer of the file (audited); a lower bound that would "
      "trim history is refused unless --force");
  set_max_history->add_option("N", max_history_text, "history entries kept per plugin besides its current snapshot")
      ->required();
  set_max_history->add_flag("--force", max_history_force, "trim the history rows beyond N");

  auto* state = app.add_subcommand("state", "a plugin's life-cycle state (Unloaded when never set)");
  state->add_option("ID", plugin_id, "plugin id")->required();

  constexpr const char* kTimeForms =
      "an ISO-8601 UTC date or date-time (2026-11-25, 2026-11-25T10:00:00Z, 2026-11-25T10:00:00.123456Z, "
      "'2026-11-25 10:00:00'), a duration back from now (90s, 15m, 24h, 7d) or @<unix seconds>";
  std::vector<std::string> kinds;
  std::string since_text;
  std::string until_text;
  std::string limit_text = "50";
  bool oldest_first = false;
  auto* audit = app.add_subcommand("audit", "the audit log: what was saved, reloaded, failed and rolled back, newest first");
  auto* audit_plugin = audit->add_option("--plugin", plugin_id, "only this plugin's events ('' for database-wide ones)");
  audit->add_option("--kind", kinds, "only events of this kind (e.g. ReloadFailed); repeat for any of several")
      ->delimiter(',');
  auto* since_option = audit->add_option("--since", since_text, std::string("only events at or after T: ") + kTimeForms)
      ->type_name("T");
  auto* until_option = audit->add_option("--until", until_text, "only events before T (the forms of --since)")->type_name("T");
  audit->add_option("--limit", limit_text, "at most N events; 0 for all")->type_name("N")->capture_default_str();
  audit->add_flag("--oldest-first", oldest_first, "oldest first instead of newest first");

  auto* reloads = app.add_subcommand("reloads", "reloads that began and never finished, with their last good state");
  std::string reload_id_text;
  std::string note;
  auto* resolve = app.add_subcommand("resolve", "mark an unfinished reload resolved (after restoring, or not)");
  resolve->add_option("ID", reload_id_text, "the reload's id (see `reloads`)")->required();
  resolve->add_option("--note", note, "what was done about it");

  std::string older_than_text;
  std::string keep_text;
  auto* prune = app.add_subcommand(
      "prune-audit", "the retention prune: remove audit events older than T and/or beyond the newest N (itself audited)");
  auto* older_than_option =
      prune->add_option("--older-than", older_than_text, std::string("remove events before T: ") + kTimeForms)
          ->type_name("T");
  auto* keep_option = prune->add_option("--keep", keep_text, "keep only the newest N events")->type_name("N");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);  // --help
    // CLI11 quotes the arguments it could not take: escape them.
    report_error(error.what());
    std::cerr << "Run with --help for more information.\n";
    return 2;
  }

  try {
    hotstate::Options options;
    options.path = db_path;
    options.call_time_limit = std::chrono::milliseconds(
        static_cast<std::int64_t>(parse_count(time_limit_text, "--time-limit", kMaxTimeLimitMs)));
    if (*demo) return run_demo(options, argc > 0 && argv[0][0] != '\0' ? argv[0] : "hotstate");

    std::uint64_t seq_a = 0;
    std::uint64_t seq_b = 0;
    if (*diff) {
      seq_a = parse_count(seq_a_text, "SEQ_A", kMaxCount);
      seq_b = parse_count(seq_b_text, "SEQ_B", kMaxCount);
    }
    const std::uint64_t reload_id = *resolve ? parse_count(reload_id_text, "ID", kMaxCount) : 0;
    const std::size_t max_history =
        *set_max_history ? static_cast<std::size_t>(parse_count(max_history_text, "N", kMaxHistoryBound)) : 0;

    hotstate::AuditQuery query;
    if (*audit) {
      const std::int64_t now = hotstate_tool::now_us();
      if (audit_plugin->count() > 0) query.plugin_id = plugin_id;
      query.kinds = kinds;
      if (since_option->count() > 0) query.since_us = hotstate_tool::parse_time_argument(since_text, now, "--since");
      if (until_option->count() > 0) query.until_us = hotstate_tool::parse_time_argument(until_text, now, "--until");
      if (query.since_us && query.until_us && *query.since_us >= *query.until_us) {
        throw hotstate_tool::UsageError("--since " + since_text + " is not before --until " + until_text);
      }
      query.limit = static_cast<std::size_t>(parse_count(limit_text, "--limit", kMaxCount));
      query.order = oldest_first ? hotstate::AuditOrder::OldestFirst : hotstate::AuditOrder::NewestFirst;
    }

    hotstate::AuditPrune prune_bounds;
    if (*prune) {
      if (older_than_option->count() == 0 && keep_option->count() == 0) {
        throw hotstate_tool::UsageError("prune-audit needs --older-than T, --keep N or both");
      }
      if (older_than_option->count() > 0) {
        prune_bounds.older_than_us =
            hotstate_tool::parse_time_argument(older_than_text, hotstate_tool::now_us(), "--older-than");
      }
      if (keep_option->count() > 0) {
        prune_bounds.keep_newest = static_cast<std::size_t>(parse_count(keep_text, "--keep", kMaxCount));
      }
    }

    // Options::max_history stays unset: opening never changes a file's
    // history bound; only set-max-history does, on purpose.
    const bool writes = *rollback || *import_command || *resolve || *prune || *set_max_history;
    options.read_only = !writes;  // looking never changes the file
    if (writes && !std::filesystem::exists(db_path) && !*import_command) {
      throw hotstate_tool::UsageError("no database '" + db_path + "'");
    }
    hotstate::StateManager manager(options);
    if (*plugins) return hotstate_tool::command_plugins(manager, json);
    if (*show) return hotstate_tool::command_show(manager, plugin_id, json);
    if (*history) return hotstate_tool::command_history(manager, plugin_id, json);
    if (*diff) return hotstate_tool::command_diff(manager, plugin_id, seq_a, seq_b, json);
    if (*rollback) return hotstate_tool::command_rollback(manager, plugin_id, json);
    if (*export_command) return hotstate_tool::command_export(manager, directory, json);
    if (*import_command) return hotstate_tool::command_import(manager, directory, json);
    if (*verify) return hotstate_tool::command_verify(manager, json);
    if (*backup) return hotstate_tool::command_backup(manager, backup_path, backup_force, json);
    if (*set_max_history) return hotstate_tool::command_set_max_history(manager, max_history, max_history_force, json);
    if (*state) return hotstate_tool::command_state(manager, plugin_id, json);
    if (*audit) return hotstate_tool::command_audit(manager, query, json);
    if (*reloads) return hotstate_tool::command_reloads(manager, json);
    if (*resolve) return hotstate_tool::command_resolve(manager, reload_id, note, json);
    if (*prune) return hotstate_tool::command_prune_audit(manager, prune_bounds, json);
  } catch (const hotstate_tool::UsageError& error) {
    report_error(error.what());
    return 2;
  } catch (const hotstate::Error& error) {
    std::string message = error.what();
    if (error.code() == hotstate::ErrorCode::TimedOut) {
      message += " (--time-limit MS allows more time; 0: no limit)";
    }
    report_error(message);
    return 1;
  } catch (const std::exception& error) {
    report_error(error.what());
    return 1;
  }
  return 0;
}
