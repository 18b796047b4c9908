// The commands on a plugin's snapshots: plugins, show, history, diff,
// rollback. Built on the public API only.
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "commands.hpp"
#include "output.hpp"
#include "unreadable.hpp"

namespace hotstate_tool {

using hotstate::Json;
using hotstate::JsonWriter;
using hotstate::StateManager;
using hotstate::StateSnapshot;

namespace {

void write_snapshot(JsonWriter& out, const StateSnapshot& snapshot, bool current,
                    const std::vector<std::string>& pins = {}) {
  out.begin_object();
  out.member("plugin_id", snapshot.plugin_id);
  out.member("seq", snapshot.seq);
  out.member("timestamp", snapshot.timestamp);
  out.member("plugin_version", snapshot.plugin_version);
  out.member("current", current);
  out.member("pins", pins);
  out.member("data", snapshot.data);
  out.member("metadata", snapshot.metadata);
  out.end_object();
}

// The labels pinning each of the plugin's seqs.
std::map<std::uint64_t, std::vector<std::string>> pins_by_seq(const StateManager& manager, const std::string& plugin_id) {
  std::map<std::uint64_t, std::vector<std::string>> labels;
  for (const auto& pin : manager.pins(plugin_id)) labels[pin.seq].push_back(pin.label);
  return labels;
}

// The stored snapshot of `plugin_id` with `seq`: current, history or pinned.
StateSnapshot snapshot_with_seq(const StateManager& manager, const std::string& plugin_id, std::uint64_t seq) {
  if (const auto stored = manager.snapshot(plugin_id, seq)) return *stored;
  throw UsageError("plugin '" + plugin_id + "' has no snapshot with seq " + std::to_string(seq));
}

}  // namespace

int command_plugins(StateManager& manager, bool json) {
  // The listing comes from SQL (no data is read, history is counted, not
  // loaded); each snapshot is then loaded only to tell which cannot be read.
  const auto summaries = manager.plugin_summaries();
  std::vector<UnreadablePlugin> unreadable;  // in the order of `summaries`
  std::vector<bool> readable;                // per summary; false also for a plugin cleared meanwhile
  for (const auto& summary : summaries) {
    const auto current = read_current_row(summary, unreadable, [&] { return manager.load_snapshot(summary.plugin_id); });
    readable.push_back(current != nullptr);
  }
  if (json) {
    JsonWriter out;
    out.begin_array();
    auto next_unreadable = unreadable.begin();
    for (std::size_t i = 0; i < summaries.size(); ++i) {
      const auto& summary = summaries[i];
      if (!readable[i]) {
        if (next_unreadable != unreadable.end() && next_unreadable->plugin_id == summary.plugin_id) {
          write_unreadable(out, *next_unreadable++);
        }
        continue;
      }
      out.begin_object();
      out.member("plugin_id", json_text(summary.plugin_id));
      out.member("seq", summary.seq);
      out.member("plugin_version", json_text(summary.plugin_version));
      out.member("timestamp", summary.timestamp);
      out.member("saved_at_us", summary.saved_at_us);
      out.member("history", static_cast<std::uint64_t>(summary.history_entries));
      out.end_object();
    }
    out.end_array();
    std::cout << out.take().text() << "\n";
  } else {
    std::printf("%-32s %8s  %-12s %7s  %s\n", "PLUGIN", "SEQ", "VERSION", "HISTORY", "SAVED (UTC)");
    for (std::size_t i = 0; i < summaries.size(); ++i) {
      if (!readable[i]) continue;
      const auto& summary = summaries[i];
      std::printf("%-32s %8llu  %-12s %7zu  %s\n", shorten(printable(summary.plugin_id), 32).c_str(),
                  static_cast<unsigned long long>(summary.seq), shorten(printable(summary.plugin_version), 12).c_str(),
                  summary.history_entries, iso_time(summary.timestamp).c_str());
    }
    if (summaries.empty()) std::printf("(no plugins)\n");
  }
  std::fflush(stdout);  // the listing, then what could not be read
  return report_unreadable(unreadable, summaries.size(), "listed");
}

int command_show(StateManager& manager, const std::string& plugin_id, std::optional<std::uint64_t> seq, bool json) {
  auto current = manager.load_snapshot(plugin_id);
  if (!current && !seq) throw UsageError("no plugin '" + plugin_id + "'");
  const bool is_current = current && (!seq || current->seq == *seq);
  if (seq && !is_current) {
    current = manager.snapshot(plugin_id, *seq);
    if (!current) throw UsageError("plugin '" + plugin_id + "' has no stored snapshot with seq " + std::to_string(*seq));
  }
  const auto pins = pins_by_seq(manager, plugin_id);
  const auto pinned = pins.find(current->seq);
  const std::vector<std::string> labels = pinned == pins.end() ? std::vector<std::string>{} : pinned->second;
  if (json) {
    JsonWriter out;
    write_snapshot(out, *current, is_current, labels);
    std::cout << out.take().text() << "\n";
    return 0;
  }
  std::printf("plugin   %s\nseq      %llu\nversion  %s\nsaved    %s (%llu)\n", printable(current->plugin_id).c_str(),
              static_cast<unsigned long long>(current->seq), printable(current->plugin_version).c_str(),
              iso_time(current->timestamp).c_str(), static_cast<unsigned long long>(current->timestamp));
  if (!is_current) std::printf("current  no (a history entry or a pinned snapshot)\n");
  for (const auto& label : labels) std::printf("pinned   %s\n", printable(label).c_str());
  std::printf("data\n");
  for (const auto& [key, value] : current->data) {
    std::printf("  %-24s %s\n", printable(key).c_str(), printable(value.text()).c_str());
  }
  std::printf("metadata\n");
  for (const auto& [key, value] : current->metadata) {
    std::printf("  %-24s %s\n", printable(key).c_str(), printable(value).c_str());
  }
  return 0;
}

int command_history(StateManager& manager, const std::string& plugin_id, bool json) {
  const auto current = manager.load_snapshot(plugin_id);
  if (!current) throw UsageError("no plugin '" + plugin_id + "'");
  auto entries = manager.get_history(plugin_id);
  const auto pins = pins_by_seq(manager, plugin_id);
  const auto labels_of = [&](std::uint64_t seq) {
    const auto found = pins.find(seq);
    return found == pins.end() ? std::vector<std::string>{} : found->second;
  };
  if (json) {
    JsonWriter out;
    out.begin_array();
    for (const auto& entry : entries) write_snapshot(out, entry, false, labels_of(entry.seq));
    write_snapshot(out, *current, true, labels_of(current->seq));
    out.end_array();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  std::printf("%8s  %-12s %-20s  %s\n", "SEQ", "VERSION", "SAVED (UTC)", "DATA");
  const auto row = [&](const StateSnapshot& s, std::string mark) {
    for (const auto& label : labels_of(s.seq)) mark += "  [pinned: " + printable(label) + "]";
    std::printf("%8llu  %-12s %-20s  %s%s\n", static_cast<unsigned long long>(s.seq),
                shorten(printable(s.plugin_version), 12).c_str(), iso_time(s.timestamp).c_str(),
                shorten(printable(Json::from(s.data).text()), 60).c_str(), mark.c_str());
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
        return printable(value.text());
      } else {
        return printable(Json::from(value).text());
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
    for (const auto& key : added) {
      std::printf("+ %s.%s = %s\n", section, printable(key).c_str(), text(to.at(key)).c_str());
    }
    for (const auto& key : removed) {
      std::printf("- %s.%s (was %s)\n", section, printable(key).c_str(), text(from.at(key)).c_str());
    }
    for (const auto& key : changed) {
      std::printf("~ %s.%s: %s -> %s\n", section, printable(key).c_str(), text(from.at(key)).c_str(),
                  text(to.at(key)).c_str());
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
  std::printf("%s: seq %llu (version %s) -> seq %llu (version %s)\n", printable(plugin_id).c_str(),
              static_cast<unsigned long long>(seq_a), printable(a.plugin_version).c_str(),
              static_cast<unsigned long long>(seq_b), printable(b.plugin_version).c_str());
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
    std::printf("%s has no history: nothing rolled back\n", printable(plugin_id).c_str());
  } else {
    std::printf("%s rolled back to seq %llu (version %s)\n", printable(plugin_id).c_str(),
                static_cast<unsigned long long>(restored->seq), printable(restored->plugin_version).c_str());
  }
  return 0;
}

}  // namespace hotstate_tool
