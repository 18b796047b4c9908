// The inspection and transfer commands of the hotstate tool: plugins, show,
// history, diff, rollback, export, import. Built on the public API only.
#include "commands.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace hotstate_tool {

namespace fs = std::filesystem;
using hotstate::Json;
using hotstate::JsonWriter;
using hotstate::StateManager;
using hotstate::StateSnapshot;

namespace {

// "2023-11-14T22:13:20Z" for whole seconds since the Unix epoch.
std::string iso_time(std::uint64_t seconds) {
  const auto t = static_cast<std::time_t>(seconds);
  std::tm utc{};
  if (gmtime_r(&t, &utc) == nullptr) return std::to_string(seconds);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

void write_snapshot(JsonWriter& out, const StateSnapshot& snapshot, bool current) {
  out.begin_object();
  out.member("plugin_id", snapshot.plugin_id);
  out.member("seq", snapshot.seq);
  out.member("timestamp", snapshot.timestamp);
  out.member("plugin_version", snapshot.plugin_version);
  out.member("current", current);
  out.member("data", snapshot.data);
  out.member("metadata", snapshot.metadata);
  out.end_object();
}

// The snapshot of `plugin_id` with `seq`, current or in its history.
StateSnapshot snapshot_with_seq(const StateManager& manager, const std::string& plugin_id, std::uint64_t seq) {
  if (auto current = manager.load_snapshot(plugin_id); current && current->seq == seq) return *current;
  for (auto& entry : manager.get_history(plugin_id)) {
    if (entry.seq == seq) return entry;
  }
  throw UsageError("plugin '" + plugin_id + "' has no snapshot with seq " + std::to_string(seq));
}

std::string shorten(const std::string& text, std::size_t width) {
  return text.size() <= width ? text : text.substr(0, width - 3) + "...";
}

}  // namespace

std::string file_name_for(const std::string& plugin_id) {
  // Every byte outside [A-Za-z0-9_-] is %XX, so no id can name a directory,
  // a parent (..), a hidden file or a device; an empty id is "%" (never a
  // valid escape). Very long ids keep a prefix plus a hash of the whole id.
  static constexpr char hex[] = "0123456789ABCDEF";
  if (plugin_id.empty()) return "%.json";
  std::string name;
  for (const char ch : plugin_id) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
      name += ch;
    } else {
      name += '%';
      name += hex[c >> 4];
      name += hex[c & 0xF];
    }
  }
  if (name.size() > 200) {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a of the id
    for (const char ch : plugin_id) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
    char suffix[20];
    std::snprintf(suffix, sizeof suffix, "~%016llx", static_cast<unsigned long long>(h));
    name = name.substr(0, 180) + suffix;
  }
  return name + ".json";
}

int command_plugins(StateManager& manager, bool json) {
  const auto ids = manager.plugin_ids();
  if (json) {
    JsonWriter out;
    out.begin_array();
    for (const auto& id : ids) {
      const auto current = manager.load_snapshot(id);
      if (!current) continue;
      out.begin_object();
      out.member("plugin_id", id);
      out.member("seq", current->seq);
      out.member("plugin_version", current->plugin_version);
      out.member("timestamp", current->timestamp);
      out.member("history", manager.get_history(id).size());
      out.end_object();
    }
    out.end_array();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  std::printf("%-32s %8s  %-12s %7s  %s\n", "PLUGIN", "SEQ", "VERSION", "HISTORY", "SAVED (UTC)");
  for (const auto& id : ids) {
    const auto current = manager.load_snapshot(id);
    if (!current) continue;
    std::printf("%-32s %8llu  %-12s %7zu  %s\n", shorten(id, 32).c_str(), static_cast<unsigned long long>(current->seq),
                shorten(current->plugin_version, 12).c_str(), manager.get_history(id).size(),
                iso_time(current->timestamp).c_str());
  }
  if (ids.empty()) std::printf("(no plugins)\n");
  return 0;
}

int command_show(StateManager& manager, const std::string& plugin_id, bool json) {
  const auto current = manager.load_snapshot(plugin_id);
  if (!current) throw UsageError("no plugin '" + plugin_id + "'");
  if (json) {
    JsonWriter out;
    write_snapshot(out, *current, true);
    std::cout << out.take().text() << "\n";
    return 0;
  }
  std::printf("plugin   %s\nseq      %llu\nversion  %s\nsaved    %s (%llu)\n", current->plugin_id.c_str(),
              static_cast<unsigned long long>(current->seq), current->plugin_version.c_str(),
              iso_time(current->timestamp).c_str(), static_cast<unsigned long long>(current->timestamp));
  std::printf("data\n");
  for (const auto& [key, value] : current->data) std::printf("  %-24s %s\n", key.c_str(), value.text().c_str());
  std::printf("metadata\n");
  for (const auto& [key, value] : current->metadata) std::printf("  %-24s %s\n", key.c_str(), value.c_str());
  return 0;
}

int command_history(StateManager& manager, const std::string& plugin_id, bool json) {
  const auto current = manager.load_snapshot(plugin_id);
  if (!current) throw UsageError("no plugin '" + plugin_id + "'");
  auto entries = manager.get_history(plugin_id);
  if (json) {
    JsonWriter out;
    out.begin_array();
    for (const auto& entry : entries) write_snapshot(out, entry, false);
    write_snapshot(out, *current, true);
    out.end_array();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  std::printf("%8s  %-12s %-20s  %s\n", "SEQ", "VERSION", "SAVED (UTC)", "DATA");
  const auto row = [](const StateSnapshot& s, const char* mark) {
    std::printf("%8llu  %-12s %-20s  %s%s\n", static_cast<unsigned long long>(s.seq), shorten(s.plugin_version, 12).c_str(),
                iso_time(s.timestamp).c_str(), shorten(Json::from(s.data).text(), 60).c_str(), mark);
  };
  for (const auto& entry : entries) row(entry, "");
  row(*current, "  <- current");
  return 0;
}

int command_diff(StateManager& manager, const std::string& plugin_id, std::uint64_t seq_a, std::uint64_t seq_b,
                 bool json) {
  const StateSnapshot a = snapshot_with_seq(manager, plugin_id, seq_a);
  const StateSnapshot b = snapshot_with_seq(manager, plugin_id, seq_b);
  // For each of data and metadata: added, removed, changed keys.
  const auto compare = [](const auto& from, const auto& to, JsonWriter* out, const char* section) {
    std::vector<std::string> added, removed, changed;
    for (const auto& [key, value] : to) {
      const auto found = from.find(key);
      if (found == from.end()) {
        added.push_back(key);
      } else if (!(found->second == value)) {
        changed.push_back(key);
      }
    }
    for (const auto& [key, value] : from) {
      if (to.find(key) == to.end()) removed.push_back(key);
    }
    const auto text = [](const auto& value) {
      if constexpr (std::is_same_v<std::decay_t<decltype(value)>, Json>) {
        return value.text();
      } else {
        return Json::from(value).text();
      }
    };
    if (out != nullptr) {
      out->key(section);
      out->begin_object();
      out->key("added");
      out->begin_object();
      for (const auto& key : added) out->member(key, to.at(key));
      out->end_object();
      out->member("removed", removed);
      out->key("changed");
      out->begin_object();
      for (const auto& key : changed) {
        out->key(key);
        out->begin_object();
        out->member("from", from.at(key));
        out->member("to", to.at(key));
        out->end_object();
      }
      out->end_object();
      out->end_object();
      return;
    }
    for (const auto& key : added) std::printf("+ %s.%s = %s\n", section, key.c_str(), text(to.at(key)).c_str());
    for (const auto& key : removed) std::printf("- %s.%s (was %s)\n", section, key.c_str(), text(from.at(key)).c_str());
    for (const auto& key : changed) {
      std::printf("~ %s.%s: %s -> %s\n", section, key.c_str(), text(from.at(key)).c_str(), text(to.at(key)).c_str());
    }
  };
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("plugin_id", plugin_id);
    out.member("from", seq_a);
    out.member("to", seq_b);
    out.member("plugin_version", std::vector<std::string>{a.plugin_version, b.plugin_version});
    compare(a.data, b.data, &out, "data");
    compare(a.metadata, b.metadata, &out, "metadata");
    out.end_object();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  std::printf("%s: seq %llu (version %s) -> seq %llu (version %s)\n", plugin_id.c_str(),
              static_cast<unsigned long long>(seq_a), a.plugin_version.c_str(), static_cast<unsigned long long>(seq_b),
              b.plugin_version.c_str());
  compare(a.data, b.data, nullptr, "data");
  compare(a.metadata, b.metadata, nullptr, "metadata");
  return 0;
}

int command_rollback(StateManager& manager, const std::string& plugin_id, bool json) {
  const auto restored = manager.rollback(plugin_id);
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("plugin_id", plugin_id);
    out.member("rolled_back", restored != nullptr);
    if (restored) out.member("seq", restored->seq);
    out.end_object();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  if (!restored) {
    std::printf("%s has no history: nothing rolled back\n", plugin_id.c_str());
  } else {
    std::printf("%s rolled back to seq %llu (version %s)\n", plugin_id.c_str(),
                static_cast<unsigned long long>(restored->seq), restored->plugin_version.c_str());
  }
  return 0;
}

int command_export(StateManager& manager, const std::string& directory, bool json) {
  fs::create_directories(directory);
  std::size_t written = 0;
  for (const auto& id : manager.plugin_ids()) {
    const auto current = manager.load_snapshot(id);
    if (!current) continue;
    const fs::path target = fs::path(directory) / file_name_for(id);
    const fs::path temporary = fs::path(target).concat(".tmp");
    {
      std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
      out << current->to_persisted_bytes();
      out.flush();
      if (!out) throw std::runtime_error("cannot write " + temporary.string());
    }
    fs::rename(temporary, target);  // a reader never sees half a file
    ++written;
  }
  if (json) {
    std::cout << "{\"exported\":" << written << "}\n";
  } else {
    std::printf("exported %zu plugin(s) to %s\n", written, directory.c_str());
  }
  return 0;
}

int command_import(StateManager& manager, const std::string& directory, bool json) {
  if (!fs::is_directory(directory)) throw UsageError("'" + directory + "' is not a directory");
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(directory)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<StateSnapshot> snapshots;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    try {
      snapshots.push_back(StateSnapshot::from_bytes(content.str()));
    } catch (const hotstate::Error& error) {
      throw hotstate::Error(error.code(), file.string() + ": " + error.what());
    }
  }
  const std::size_t count = snapshots.size();
  try {
    manager.save_snapshots(snapshots);  // all files or none
  } catch (const hotstate::Error& error) {
    // Name the file: replay each snapshot alone into a throwaway store with
    // the same limits; the first one refused is the culprit.
    hotstate::Options probe_options = manager.options();
    probe_options.path = ":memory:";
    probe_options.read_only = false;
    StateManager probe(probe_options);
    for (std::size_t i = 0; i < snapshots.size(); ++i) {
      try {
        probe.save_snapshot(snapshots[i]);
      } catch (const hotstate::Error& refused) {
        throw hotstate::Error(refused.code(), files[i].string() + ": " + refused.what() + "; nothing was imported");
      }
    }
    throw;
  }
  if (json) {
    std::cout << "{\"imported\":" << count << "}\n";
  } else {
    std::printf("imported %zu snapshot(s) from %s\n", count, directory.c_str());
  }
  return 0;
}

int command_verify(StateManager& manager, bool json) {
  const auto report = manager.verify();
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("ok", report.ok);
    out.member("schema_version", report.schema_version);
    out.member("problems", report.problems);
    out.end_object();
    std::cout << out.take().text() << "\n";
  } else if (report.ok) {
    std::printf("ok: integrity, schema version %d, triggers, views, history bound, every row readable\n",
                report.schema_version);
  } else {
    for (const auto& problem : report.problems) std::printf("problem: %s\n", problem.c_str());
  }
  return report.ok ? 0 : 1;
}

int command_backup(StateManager& manager, const std::string& path, bool json) {
  manager.backup(path);
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("backup", path);
    out.end_object();
    std::cout << out.take().text() << "\n";
  } else {
    std::printf("backed up to %s\n", path.c_str());
  }
  return 0;
}

}  // namespace hotstate_tool
