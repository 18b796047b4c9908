// The commands that move snapshots between a database and a folder of
// files: export, import. Built on the public API only.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "files.hpp"
#include "output.hpp"
#include "progress_line.hpp"
#include "unreadable.hpp"

namespace hotstate_tool {

namespace fs = std::filesystem;
using hotstate::JsonWriter;
using hotstate::StateManager;
using hotstate::StateSnapshot;

int command_export(StateManager& manager, const std::string& directory, bool json) {
  fs::create_directories(directory);
  const FileDescriptor folder = open_directory(directory);
  const auto summaries = manager.plugin_summaries();
  std::vector<UnreadablePlugin> unreadable;
  std::size_t written = 0;
  ProgressLine progress;
  std::uint64_t looked_at = 0;
  for (const auto& summary : summaries) {
    progress.show({"export", looked_at++, summaries.size(), "plugins"});
    // A snapshot with text JSON cannot hold (only rows other clients wrote)
    // is as unreadable as a row that cannot be parsed.
    const auto bytes = read_current_row(summary, unreadable, [&]() -> std::optional<std::string> {
      const auto current = manager.load_snapshot(summary.plugin_id);
      if (!current) return std::nullopt;
      return current->to_persisted_bytes();
    });
    if (!bytes) continue;
    const std::string target = hotstate::snapshot_file_name(summary.plugin_id);
    TemporaryFile temporary(folder, target, directory);
    temporary.write_and_rename(*bytes, target);
    ++written;
  }
  progress.show({"export", looked_at, summaries.size(), "plugins"});
  sync_directory(folder, directory);
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("exported", static_cast<std::uint64_t>(written));
    if (!unreadable.empty()) {
      out.key("unreadable");
      out.begin_array();
      for (const auto& plugin : unreadable) write_unreadable(out, plugin);
      out.end_array();
    }
    out.end_object();
    std::cout << out.take().text() << "\n";
  } else {
    std::printf("exported %zu plugin(s) to %s\n", written, printable(directory).c_str());
  }
  std::fflush(stdout);
  return report_unreadable(unreadable, summaries.size(), "exported");
}

int command_import(StateManager& manager, const std::string& directory, bool json) {
  const FileDescriptor folder = open_directory(directory);
  const auto names = json_names(folder, directory);
  std::vector<std::string> files;  // as shown in messages
  std::vector<StateSnapshot> snapshots;
  {
  ProgressLine progress;
  for (const auto& name : names) {
    progress.show({"import: reading", files.size(), names.size(), "files"});
    files.push_back((fs::path(directory) / name).string());
    const std::string content = read_snapshot_file(folder, name, files.back(), manager.options());
    try {
      snapshots.push_back(StateSnapshot::from_bytes(content));
    } catch (const hotstate::Error& error) {
      throw hotstate::Error(error.code(), files.back() + ": " + error.what());
    }
  }
  progress.show({"import: reading", files.size(), names.size(), "files"});
  }
  const std::size_t count = snapshots.size();
  // Name the file a snapshot came from when the library refuses it: each is
  // checked as a save would check it, before the batch writes anything.
  for (std::size_t i = 0; i < snapshots.size(); ++i) {
    try {
      manager.check_snapshot(snapshots[i]);
    } catch (const hotstate::Error& refused) {
      throw hotstate::Error(refused.code(), files[i] + ": " + std::string(refused.message()) + "; nothing was imported");
    }
  }
  manager.save_snapshots(std::move(snapshots));  // all files or none
  if (json) {
    std::cout << "{\"imported\":" << count << "}\n";
  } else {
    std::printf("imported %zu snapshot(s) from %s\n", count, printable(directory).c_str());
  }
  return 0;
}

}  // namespace hotstate_tool
