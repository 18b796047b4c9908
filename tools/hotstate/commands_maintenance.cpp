// The commands that look after the database file itself: verify, backup,
// set-max-history. Built on the public API only.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <iostream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "commands.hpp"
#include "output.hpp"
#include "progress_line.hpp"

namespace hotstate_tool {

namespace fs = std::filesystem;
using hotstate::JsonWriter;
using hotstate::StateManager;

int command_verify(StateManager& manager, const std::optional<hotstate::AuditCheckpoint>& checkpoint, bool json) {
  const auto report = [&] {
    ProgressLine progress;
    return manager.verify(StateManager::VerifyOptions{checkpoint, progress.callback()});
  }();
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("ok", report.ok);
    out.member("schema_version", report.schema_version);
    std::vector<std::string> problems;
    for (const auto& problem : report.problems) problems.push_back(json_text(problem));
    out.member("problems", problems);
    out.member("audit_head", report.audit_head);
    out.member("unchained_events", report.unchained_events);
    out.end_object();
    std::cout << out.take().text() << "\n";
  } else if (report.ok) {
    std::printf(
        "ok: integrity, schema version %d, triggers, views, history bound, every row readable and matching its "
        "content hash, audit log consistent\n",
        report.schema_version);
    std::printf("audit chain: intact to event %llu (%s, %llu events)%s%s\n",
                static_cast<unsigned long long>(report.audit_head.event_id), report.audit_head.to_text().c_str(),
                static_cast<unsigned long long>(report.audit_head.event_count),
                checkpoint ? (", extends " + checkpoint->to_text()).c_str() : "",
                manager.options().audit_key.empty() ? "" : ", every signature valid");
    if (report.unchained_events > 0) {
      std::printf("audit chain: %llu newest event(s) another client wrote are not chained yet (hotstate's next write "
                  "chains them)\n",
                  static_cast<unsigned long long>(report.unchained_events));
    }
  } else {
    for (const auto& problem : report.problems) std::printf("problem: %s\n", printable(problem).c_str());
  }
  return report.ok ? 0 : 1;
}

int command_audit_head(StateManager& manager, bool json) {
  const hotstate::AuditCheckpoint head = manager.audit_head();
  if (json) {
    std::cout << hotstate::Json::from(head).text() << "\n";
    return 0;
  }
  std::printf("%s\n", head.to_text().c_str());
  std::printf("event %llu of %llu chained, %s\n", static_cast<unsigned long long>(head.event_id),
              static_cast<unsigned long long>(head.event_count),
              head.event_id == 0 ? "the log is empty" : hotstate::format_time_us(head.time_us).c_str());
  if (!head.signature.empty()) std::printf("signature %s\n", head.signature.c_str());
  return 0;
}

std::string read_audit_key(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("--audit-key-file: cannot read '" + path + "'");
  std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (key.empty()) throw std::runtime_error("--audit-key-file: '" + path + "' is empty");
  return key;
}

int command_backup(StateManager& manager, const std::string& path, bool force, bool json) {
  // symlink_status: a link at `path`, even a dangling one, is an entry the
  // copy would replace.
  std::error_code ignored;
  if (!force && fs::exists(fs::symlink_status(path, ignored))) {
    throw std::runtime_error("'" + path + "' exists: refused, it was left as it is (--force replaces it)");
  }
  {
    ProgressLine progress;
    manager.backup(path, progress.callback());  // refuses the database itself, whatever the spelling of `path`
  }
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("backup", json_text(path));
    out.end_object();
    std::cout << out.take().text() << "\n";
  } else {
    std::printf("backed up to %s\n", printable(path).c_str());
  }
  return 0;
}

int command_set_max_history(StateManager& manager, std::size_t max_history, bool force, bool json) {
  // What the new bound would trim, counted by SQL before anything changes.
  std::size_t rows = 0;
  std::size_t plugins = 0;
  for (const auto& summary : manager.plugin_summaries()) {
    if (summary.history_entries <= max_history) continue;
    rows += summary.history_entries - max_history;
    ++plugins;
  }
  const std::size_t before = manager.max_history();
  const auto write_json = [&](bool changed, std::size_t trimmed) {
    JsonWriter out;
    out.begin_object();
    out.member("from", static_cast<std::uint64_t>(before));
    out.member("to", static_cast<std::uint64_t>(max_history));
    out.member("changed", changed);
    out.member(changed ? "trimmed" : "would_trim", static_cast<std::uint64_t>(trimmed));
    out.member("plugins", static_cast<std::uint64_t>(plugins));
    out.end_object();
    std::cout << out.take().text() << "\n";
  };
  if (rows > 0 && !force) {
    if (json) write_json(false, rows);
    std::fflush(stdout);
    std::cerr << "hotstate: max_history " << max_history << " would trim " << rows << " history row(s) of " << plugins
              << " plugin(s) (the bound is " << before
              << " now); nothing was changed. Run again with --force to trim them (each trimmed row is audited)\n";
    return 1;
  }
  // Another writer may have saved since the count: report what was trimmed.
  const std::size_t trimmed = manager.set_max_history(max_history);
  if (json) {
    write_json(true, trimmed);
  } else if (before == max_history) {
    std::printf("max_history is %zu already: nothing changed\n", max_history);
  } else {
    std::printf("max_history %zu -> %zu: trimmed %zu history row(s)%s\n", before, max_history, trimmed,
                trimmed > 0 ? " (each recorded in the audit log as HistoryTrimmed)" : "");
  }
  return 0;
}

}  // namespace hotstate_tool
