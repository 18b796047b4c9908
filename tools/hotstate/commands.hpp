// The hotstate tool's commands. Each prints a table for people, or JSON with
// `json`, and returns the exit code; errors are thrown (hotstate::Error, or
// UsageError for a wrong argument) and reported by main.
//
// One source file per concept:
//   commands_snapshots.cpp    plugins, show, history, diff, rollback
//   commands_transfer.cpp     export, import
//   commands_maintenance.cpp  verify, backup, set-max-history
//   commands_audit.cpp        state, audit, reloads, resolve, prune-audit
//   commands_pins.cpp         restore, pin, unpin, pins
//   commands_report.cpp       report (one self-contained HTML file)
//   commands_fleet.cpp        replicate, replicas, restore-from (PostgreSQL)
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hotstate/hotstate.hpp"
#include "output.hpp"  // UsageError

namespace hotstate_tool {

// ---- Snapshots: plugins, show, history, diff, rollback

// Exit code 1 when a plugin's snapshot cannot be read (each is named on
// stderr, and in JSON as an entry with an "error" member); every other
// plugin is listed.
int command_plugins(hotstate::StateManager& manager, bool json);
// The current snapshot, or with `seq` that stored snapshot (history or pinned).
int command_show(hotstate::StateManager& manager, const std::string& plugin_id, std::optional<std::uint64_t> seq,
                 bool json);
int command_history(hotstate::StateManager& manager, const std::string& plugin_id, bool json);
int command_diff(hotstate::StateManager& manager, const std::string& plugin_id, std::uint64_t seq_a,
                 std::uint64_t seq_b, bool json);
int command_rollback(hotstate::StateManager& manager, const std::string& plugin_id, bool json);

// ---- Transfer: export, import
// Writes every readable plugin's file (exit code 1, naming the others, when
// a snapshot cannot be read). Never writes outside `directory`, never leaves
// a temporary file behind.
int command_export(hotstate::StateManager& manager, const std::string& directory, bool json);
// Imports every DIR/*.json or nothing; refuses links, anything but regular
// files, and files larger than the manager's limits allow.
int command_import(hotstate::StateManager& manager, const std::string& directory, bool json);

// ---- Maintenance: verify, backup, set-max-history
// Exit code 1 when verify found a problem.
// verify, and with `checkpoint` that the audit log still extends it.
int command_verify(hotstate::StateManager& manager, const std::optional<hotstate::AuditCheckpoint>& checkpoint,
                   bool json);
// audit-head: the audit log's checkpoint.
int command_audit_head(hotstate::StateManager& manager, bool json);
// The bytes of the --audit-key-file; throws std::runtime_error when it cannot
// be read or is empty.
std::string read_audit_key(const std::string& path);
// Refuses an existing `path` (exit code 1) unless `force`.
int command_backup(hotstate::StateManager& manager, const std::string& path, bool force, bool json);
// Sets the database's history bound. A lower bound that would trim history
// rows is refused (exit code 1, nothing changed, the rows and plugins named
// on stderr) unless `force`.
int command_set_max_history(hotstate::StateManager& manager, std::size_t max_history, bool force, bool json);

// ---- Audit: state, audit, reloads, resolve, prune-audit

// Every kind of audit event a hotstate file can hold (the schema refuses
// any other), sorted: the kinds hotstate writes itself and those of
// ReloadEvent. `audit --kind` takes only these.
std::vector<std::string> known_audit_kinds();

int command_state(hotstate::StateManager& manager, const std::string& plugin_id, bool json);
int command_audit(hotstate::StateManager& manager, const hotstate::AuditQuery& query, bool json);
int command_reloads(hotstate::StateManager& manager, bool json);
// watch: prints each event as it commits until SIGINT or SIGTERM (exit 0),
// or until its output cannot be written (exit 1).
int command_watch(hotstate::StateManager& manager, hotstate::SubscribeOptions options, bool json);
// Throws UsageError for a reload that does not exist.
int command_resolve(hotstate::StateManager& manager, std::uint64_t reload_id, const std::string& note, bool json);
// The retention prune (StateManager::prune_audit); prints how many events went.
int command_prune_audit(hotstate::StateManager& manager, const hotstate::AuditPrune& prune, bool json);

// ---- Pins and restores: restore, pin, unpin, pins
// A copy of a stored snapshot made current (StateManager::restore).
int command_restore(hotstate::StateManager& manager, const std::string& plugin_id, std::uint64_t seq, bool json);
int command_pin(hotstate::StateManager& manager, const std::string& plugin_id, std::uint64_t seq,
                const std::string& label, bool json);
// Exit code 1 when the plugin has no such pin.
int command_unpin(hotstate::StateManager& manager, const std::string& plugin_id, const std::string& label, bool json);
// Every pin, or the plugin's.
int command_pins(hotstate::StateManager& manager, const std::string& plugin_id, bool json);

// ---- Report: report (commands_report.cpp)
struct ReportOptions {
  std::string out = "hotstate-report.html";
  std::vector<std::string> plugins;  // only these plugins ("" the database-wide events); empty: every one
  std::optional<std::int64_t> since_us;
  std::optional<std::int64_t> until_us;
  std::size_t max_events = 1000;  // per plugin, the newest; 0: all
};
// Writes one self-contained HTML file of the reload history (no load from
// anywhere when opened); reads only. Its limits are stated in the page.
int command_report(hotstate::StateManager& manager, const ReportOptions& options, bool json);

// ---- Fleets: replicate, replicas, restore-from

// This machine's host name: replicate's default --host-id.
std::string default_host_id();
// Ships once (returns when PostgreSQL holds what was committed), or follows
// until SIGINT or SIGTERM. Events pruned before they shipped are warned
// about on stderr.
int command_replicate(hotstate::StateManager& manager, const std::string& url, hotstate::ReplicationOptions options,
                      bool follow, bool json);
// Exit code 1 when the file has no such replica.
int command_forget_replica(hotstate::StateManager& manager, const std::string& host_id, bool json);
int command_replicas(hotstate::StateManager& manager, bool json);
int command_restore_from(const std::string& url, const std::string& host_id, const std::string& db_path, bool json);

}  // namespace hotstate_tool
