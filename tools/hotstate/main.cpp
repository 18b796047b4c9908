// The hotstate command-line tool: the command line only (its options, which
// command runs, how errors are reported). The commands are in commands*.cpp,
// the demo in demo.cpp, the text helpers in output.cpp, the file handling
// of export and import in files.cpp. Built on the public API only.
//
//   hotstate [--db FILE] [--json] [--time-limit MS] <command>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "demo.hpp"
#include "hotstate/hotstate.hpp"
#include "output.hpp"

namespace {

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
  std::string audit_key_file;
  app.add_option("--audit-key-file", audit_key_file,
                 "the audit key, the file's bytes exactly (e.g. head -c 32 /dev/urandom > key): writes sign the "
                 "audit chain with it, verify and audit-head check and sign with it")
      ->type_name("FILE")
      ->check(CLI::ExistingFile);

  // Numbers are taken as text and read by parse_count, which refuses what
  // does not fit instead of wrapping it.
  std::string plugin_id;
  std::string directory;
  std::string seq_a_text;
  std::string seq_b_text;
  auto* demo = app.add_subcommand("demo", "simulate a plugin saved, reloaded, failing and rolled back");
  auto* plugins = app.add_subcommand(
      "plugins", "list every plugin with its current snapshot; exit 1, naming them, when some cannot be read");
  std::string show_seq_text;
  auto* show = app.add_subcommand("show", "show a plugin's current snapshot, or with --seq a stored one");
  show->add_option("ID", plugin_id, "plugin id")->required();
  auto* show_seq = show->add_option("--seq", show_seq_text, "that stored snapshot: current, history or pinned")
                       ->type_name("SEQ");
  auto* history = app.add_subcommand("history", "list a plugin's history, oldest first, and its current snapshot");
  history->add_option("ID", plugin_id, "plugin id")->required();
  auto* diff = app.add_subcommand("diff", "which keys of data and metadata changed between two snapshots");
  diff->add_option("ID", plugin_id, "plugin id")->required();
  diff->add_option("SEQ_A", seq_a_text, "seq of the older snapshot")->type_name("SEQ")->required();
  diff->add_option("SEQ_B", seq_b_text, "seq of the newer snapshot")->type_name("SEQ")->required();
  auto* rollback = app.add_subcommand("rollback", "discard a plugin's current snapshot and restore the previous one");
  rollback->add_option("ID", plugin_id, "plugin id")->required();
  std::string label;
  auto* restore = app.add_subcommand(
      "restore", "make a copy of a stored snapshot (history or pinned) the current one; nothing is deleted (audited)");
  restore->add_option("ID", plugin_id, "plugin id")->required();
  restore->add_option("SEQ", seq_a_text, "seq of the stored snapshot")->required();
  auto* pin = app.add_subcommand("pin", "keep a stored snapshot under LABEL whatever history trims (audited)");
  pin->add_option("ID", plugin_id, "plugin id")->required();
  pin->add_option("SEQ", seq_a_text, "seq of the stored snapshot")->required();
  pin->add_option("LABEL", label, "the pin's name, e.g. last-known-good")->required();
  auto* unpin = app.add_subcommand("unpin", "remove a pin (audited); exit 1 when there is none");
  unpin->add_option("ID", plugin_id, "plugin id")->required();
  unpin->add_option("LABEL", label, "the pin's name")->required();
  auto* pins = app.add_subcommand("pins", "list the pins of every plugin, or of one");
  pins->add_option("ID", plugin_id, "plugin id");
  auto* export_command = app.add_subcommand("export", "write each plugin's current snapshot as DIR/<id>.json (the seed's format)");
  export_command->add_option("DIR", directory, "directory")->required();
  auto* import_command = app.add_subcommand("import", "save every DIR/*.json snapshot (hotstate's or the seed's files)");
  // ExistingDirectory only spares opening the database for a DIR that is not
  // there: open_directory still refuses a link in its place, race-free.
  import_command->add_option("DIR", directory, "directory")->required()->check(CLI::ExistingDirectory);
  auto* verify = app.add_subcommand(
      "verify",
      "check integrity, schema, triggers, history bound, every row and the audit log and its hash chain; exit 1 on a "
      "problem");
  std::string audit_head_text;
  auto* verify_audit_head = verify->add_option(
      "--audit-head", audit_head_text,
      "also check that the audit log still extends this checkpoint, ID:HASH as audit-head printed it earlier");
  verify_audit_head->type_name("ID:HASH");
  auto* audit_head = app.add_subcommand(
      "audit-head", "the audit log's checkpoint: its newest chained event, chain hash and event count (ID:HASH); keep "
                    "it where the database does not reach, check it later with verify --audit-head");
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

  const std::string time_forms(hotstate_tool::kTimeForms);
  std::vector<std::string> kinds;
  std::string since_text;
  std::string until_text;
  std::string limit_text = "50";
  bool oldest_first = false;
  std::vector<std::string> watch_plugins;
  std::vector<std::string> watch_kinds;
  std::string watch_after_text;
  auto* watch = app.add_subcommand(
      "watch", "print each audit event as any writer commits it (another process, the sqlite3 shell), until "
               "interrupted; --json: one JSON object per line");
  watch->add_option("--plugin", watch_plugins, "only this plugin's events; repeat for any of several");
  watch->add_option("--kind", watch_kinds, "only events of this kind; repeat for any of several")
      ->check(CLI::IsMember(hotstate_tool::known_audit_kinds()));
  auto* watch_after = watch->add_option("--after", watch_after_text,
                                        "first print the events after this event id that are already there");
  watch_after->type_name("ID");
  auto* audit = app.add_subcommand("audit", "the audit log: what was saved, reloaded, failed and rolled back, newest first");
  auto* audit_plugin = audit->add_option("--plugin", plugin_id, "only this plugin's events ('' for database-wide ones)");
  // Only the kinds a file can hold: a misspelt kind is a usage error, not an empty result.
  audit->add_option("--kind", kinds, "only events of this kind (e.g. ReloadFailed); repeat for any of several")
      ->type_name("KIND")
      ->delimiter(',')
      ->check(CLI::IsMember(hotstate_tool::known_audit_kinds()));
  auto* since_option = audit->add_option("--since", since_text, "only events at or after T: " + time_forms)
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
      prune->add_option("--older-than", older_than_text, "remove events before T: " + time_forms)
          ->type_name("T");
  auto* keep_option = prune->add_option("--keep", keep_text, "keep only the newest N events")->type_name("N");

  hotstate_tool::ReportOptions report_options;
  std::string report_since_text;
  std::string report_until_text;
  std::string report_max_events_text = std::to_string(report_options.max_events);
  auto* report = app.add_subcommand(
      "report", "write the reload history as one self-contained HTML file (timelines, failed reloads, each "
                "snapshot's data and what changed); opening it loads nothing from anywhere");
  report->add_option("--out", report_options.out, "the HTML file to write (replaced when it exists)")
      ->type_name("FILE")
      ->capture_default_str();
  report->add_option("--plugin", report_options.plugins, "only this plugin ('' for database-wide events); repeat for several");
  auto* report_since = report->add_option("--since", report_since_text, "only events at or after T: " + time_forms)
                           ->type_name("T");
  auto* report_until = report->add_option("--until", report_until_text, "only events before T (the forms of --since)")
                           ->type_name("T");
  report->add_option("--max-events", report_max_events_text,
                     "per plugin, embed only the newest N events of the range (the page says how many it left out); "
                     "0 for all")
      ->type_name("N")
      ->capture_default_str();

  // Fleets: replicate, replicas, restore-from.
  std::string replicate_url;
  std::string replicate_host = hotstate_tool::default_host_id();
  std::string replicate_batch_text = "2000";
  std::string forget_host;
  auto* replicate = app.add_subcommand(
      "replicate", "ship every committed change of the file (snapshots, audit events, plugin states, the reload "
                   "journal) to PostgreSQL, in commit order, exactly once; --once (the default) ships what is "
                   "committed and returns, --follow goes on until interrupted, retrying while PostgreSQL is down");
  replicate->add_option("--to", replicate_url, "the PostgreSQL database: a libpq URL (postgresql://…) or key=value string")
      ->type_name("URL");
  replicate->add_option("--host-id", replicate_host, "this host's id in the fleet")->capture_default_str();
  bool replicate_once_flag = false;
  bool replicate_follow_flag = false;
  auto* replicate_once = replicate->add_flag("--once", replicate_once_flag, "ship what is committed now, then return");
  auto* replicate_follow =
      replicate->add_flag("--follow", replicate_follow_flag, "ship each commit as it comes, until SIGINT or SIGTERM");
  replicate_once->excludes(replicate_follow);
  replicate->add_option("--batch", replicate_batch_text, "events per PostgreSQL transaction")
      ->type_name("N")
      ->capture_default_str();
  auto* forget_option = replicate->add_option(
      "--forget", forget_host, "forget the replica HOST_ID instead of shipping: the retention prune stops keeping "
                               "events for it");
  forget_option->type_name("HOST_ID");
  forget_option->excludes(replicate_once)->excludes(replicate_follow);
  auto* replicas_command = app.add_subcommand("replicas", "the replicas the file ships to, and how far each has shipped");
  std::string restore_url;
  std::string restore_host;
  auto* restore_from = app.add_subcommand(
      "restore-from", "rebuild a host's file (--db, which must not exist) from PostgreSQL: its snapshots, history, "
                      "pins, plugin states, reload journal and audit log");
  restore_from->add_option("URL", restore_url, "the PostgreSQL database")->required();
  restore_from->add_option("--host-id", restore_host, "the host whose file to rebuild")->required();

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
    if (!audit_key_file.empty()) {
      options.audit_key = hotstate_tool::read_audit_key(audit_key_file);
    }
    if (*restore_from) return hotstate_tool::command_restore_from(restore_url, restore_host, db_path, json);
    if (*demo) return hotstate_tool::run_demo(options, argc > 0 && argv[0][0] != '\0' ? argv[0] : "hotstate");

    std::uint64_t seq_a = 0;
    std::uint64_t seq_b = 0;
    if (*diff) {
      seq_a = parse_count(seq_a_text, "SEQ_A", kMaxCount);
      seq_b = parse_count(seq_b_text, "SEQ_B", kMaxCount);
    }
    if (*restore || *pin) seq_a = parse_count(seq_a_text, "SEQ", kMaxCount);
    std::optional<std::uint64_t> show_seq_value;
    if (*show && show_seq->count() > 0) show_seq_value = parse_count(show_seq_text, "--seq", kMaxCount);
    const std::uint64_t reload_id = *resolve ? parse_count(reload_id_text, "ID", kMaxCount) : 0;
    const std::size_t max_history =
        *set_max_history ? static_cast<std::size_t>(parse_count(max_history_text, "N", kMaxHistoryBound)) : 0;

    hotstate::AuditQuery query;
    if (*audit) {
      const std::int64_t now = hotstate::now_us();
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

    std::optional<hotstate::AuditCheckpoint> checkpoint;
    if (*verify && verify_audit_head->count() > 0) {
      try {
        checkpoint = hotstate::AuditCheckpoint::parse(audit_head_text);
      } catch (const hotstate::Error& error) {
        throw hotstate_tool::UsageError("--audit-head: " + std::string(error.message()));
      }
    }

    hotstate::AuditPrune prune_bounds;
    if (*prune) {
      if (older_than_option->count() == 0 && keep_option->count() == 0) {
        throw hotstate_tool::UsageError("prune-audit needs --older-than T, --keep N or both");
      }
      if (older_than_option->count() > 0) {
        prune_bounds.older_than_us =
            hotstate_tool::parse_time_argument(older_than_text, hotstate::now_us(), "--older-than");
      }
      if (keep_option->count() > 0) {
        prune_bounds.keep_newest = static_cast<std::size_t>(parse_count(keep_text, "--keep", kMaxCount));
      }
    }

    if (*report) {
      const std::int64_t now = hotstate::now_us();
      if (report_since->count() > 0) {
        report_options.since_us = hotstate_tool::parse_time_argument(report_since_text, now, "--since");
      }
      if (report_until->count() > 0) {
        report_options.until_us = hotstate_tool::parse_time_argument(report_until_text, now, "--until");
      }
      if (report_options.since_us && report_options.until_us && *report_options.since_us >= *report_options.until_us) {
        throw hotstate_tool::UsageError("--since " + report_since_text + " is not before --until " + report_until_text);
      }
      report_options.max_events =
          static_cast<std::size_t>(parse_count(report_max_events_text, "--max-events", kMaxCount));
    }

    // Options::max_history stays unset: opening never changes a file's
    // history bound; only set-max-history does, on purpose.
    const bool writes = *rollback || *import_command || *resolve || *prune || *set_max_history || *restore || *pin ||
                        *unpin || *replicate;
    options.read_only = !writes;  // looking never changes the file
    if (writes && !std::filesystem::exists(db_path) && !*import_command) {
      throw hotstate_tool::UsageError("no database '" + db_path + "'");
    }
    hotstate::StateManager manager(options);
    if (*plugins) return hotstate_tool::command_plugins(manager, json);
    if (*show) return hotstate_tool::command_show(manager, plugin_id, show_seq_value, json);
    if (*history) return hotstate_tool::command_history(manager, plugin_id, json);
    if (*diff) return hotstate_tool::command_diff(manager, plugin_id, seq_a, seq_b, json);
    if (*rollback) return hotstate_tool::command_rollback(manager, plugin_id, json);
    if (*restore) return hotstate_tool::command_restore(manager, plugin_id, seq_a, json);
    if (*pin) return hotstate_tool::command_pin(manager, plugin_id, seq_a, label, json);
    if (*unpin) return hotstate_tool::command_unpin(manager, plugin_id, label, json);
    if (*pins) return hotstate_tool::command_pins(manager, plugin_id, json);
    if (*export_command) return hotstate_tool::command_export(manager, directory, json);
    if (*import_command) return hotstate_tool::command_import(manager, directory, json);
    if (*verify) return hotstate_tool::command_verify(manager, checkpoint, json);
    if (*audit_head) return hotstate_tool::command_audit_head(manager, json);
    if (*backup) return hotstate_tool::command_backup(manager, backup_path, backup_force, json);
    if (*set_max_history) return hotstate_tool::command_set_max_history(manager, max_history, max_history_force, json);
    if (*state) return hotstate_tool::command_state(manager, plugin_id, json);
    if (*audit) return hotstate_tool::command_audit(manager, query, json);
    if (*watch) {
      hotstate::SubscribeOptions watching;
      watching.filter.plugin_ids = watch_plugins;
      watching.filter.kinds = watch_kinds;
      if (watch_after->count() > 0) watching.after_event_id = parse_count(watch_after_text, "--after", kMaxCount);
      return hotstate_tool::command_watch(manager, std::move(watching), json);
    }
    if (*reloads) return hotstate_tool::command_reloads(manager, json);
    if (*resolve) return hotstate_tool::command_resolve(manager, reload_id, note, json);
    if (*prune) return hotstate_tool::command_prune_audit(manager, prune_bounds, json);
    if (*report) return hotstate_tool::command_report(manager, report_options, json);
    if (*replicas_command) return hotstate_tool::command_replicas(manager, json);
    if (*replicate) {
      if (forget_option->count() > 0) return hotstate_tool::command_forget_replica(manager, forget_host, json);
      if (replicate_url.empty()) throw hotstate_tool::UsageError("replicate needs --to URL (or --forget HOST_ID)");
      if (replicate_host.empty()) throw hotstate_tool::UsageError("--host-id must not be empty");
      hotstate::ReplicationOptions replicating;
      replicating.host_id = replicate_host;
      replicating.batch_events = static_cast<std::size_t>(parse_count(replicate_batch_text, "--batch", 1000000));
      if (replicating.batch_events == 0) throw hotstate_tool::UsageError("--batch must be at least 1");
      return hotstate_tool::command_replicate(manager, replicate_url, std::move(replicating),
                                              replicate_follow->count() > 0, json);
    }
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
