// Uses the installed headers and library: saves, reloads, rolls back, reads
// the audit log, and catches a hotstate::Error thrown inside the library (so
// exceptions cross a shared library's boundary too).
#include <hotstate/hotstate.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "consumer.db";
  std::filesystem::remove(path);
  hotstate::Options options;
  options.path = path;
  hotstate::StateManager manager(options);
  manager.save_snapshot(hotstate::StateSnapshot("host-plugin", "1.0.0").with_data("count", 1));
  const auto ticket = manager.begin_reload(hotstate::StateSnapshot("host-plugin", "1.0.0").with_data("count", 2), "2.0.0");
  manager.finish_reload(ticket.id, hotstate::ReloadResult::failed("2.0.0 did not start"));
  const auto restored = manager.rollback("host-plugin");
  if (!restored || restored->get<int>("count") != 1) {
    std::cerr << "rollback did not restore count 1\n";
    return 1;
  }
  hotstate::AuditQuery query;
  query.kinds = {"ReloadFailed"};
  if (manager.audit_events(query).size() != 1) {
    std::cerr << "expected one ReloadFailed event\n";
    return 1;
  }
  try {
    (void)hotstate::StateSnapshot::from_bytes("not json");
    std::cerr << "from_bytes accepted bad input\n";
    return 1;
  } catch (const hotstate::Error& error) {
    if (error.code() != hotstate::ErrorCode::InvalidJson) return 1;
  }
  if (!manager.verify().ok) return 1;
  std::cout << "host linked the installed hotstate (schema version " << hotstate::schema_version() << ")\n";
  return 0;
}
