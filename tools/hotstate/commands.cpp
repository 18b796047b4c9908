// The inspection and transfer commands of the hotstate tool: plugins, show,
// history, diff, rollback, export, import, verify, backup, state, audit,
// reloads, resolve. Built on the public API only.
#include "commands.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
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
    std::printf(
        "ok: integrity, schema version %d, triggers, views, history bound, every row readable and matching its "
        "content hash, audit log consistent\n",
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

// ---- Times, tables

namespace {

constexpr std::int64_t kMicrosPerSecond = 1'000'000;
constexpr std::int64_t kSecondsPerDay = 86'400;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// `count` digits at text[pos…] as a number, or nullopt.
std::optional<std::int64_t> digits_at(std::string_view text, std::size_t pos, std::size_t count) {
  if (pos + count > text.size()) return std::nullopt;
  std::int64_t value = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (!is_digit(text[i])) return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

// A whole string of 1 to 12 digits as a number (12 digits of seconds still
// fit in microseconds), or nullopt.
std::optional<std::int64_t> small_number(std::string_view text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  return digits_at(text, 0, text.size());
}

// YYYY-MM-DD[(T|space)HH:MM:SS[.fraction][Z]], UTC.
std::optional<std::int64_t> parse_iso(std::string_view text) {
  const auto year = digits_at(text, 0, 4);
  const auto month = digits_at(text, 5, 2);
  const auto day = digits_at(text, 8, 2);
  if (!year || !month || !day || text[4] != '-' || text[7] != '-') return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(static_cast<int>(*year)),
                                         std::chrono::month(static_cast<unsigned>(*month)),
                                         std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok()) return std::nullopt;  // e.g. month 13, or February 30
  std::int64_t seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::sys_days(date).time_since_epoch()).count();
  if (text.size() == 10) return seconds * kMicrosPerSecond;
  if (text[10] != 'T' && text[10] != 't' && text[10] != ' ') return std::nullopt;
  const auto hour = digits_at(text, 11, 2);
  const auto minute = digits_at(text, 14, 2);
  const auto second = digits_at(text, 17, 2);
  if (!hour || !minute || !second || text[13] != ':' || text[16] != ':') return std::nullopt;
  if (*hour > 23 || *minute > 59 || *second > 59) return std::nullopt;
  seconds += *hour * 3600 + *minute * 60 + *second;
  std::int64_t micros = 0;
  std::size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t count = 0;
    std::int64_t scale = 100'000;
    for (; pos < text.size() && is_digit(text[pos]); ++pos, ++count) {
      if (count < 6) {  // beyond microseconds: read, not kept
        micros += (text[pos] - '0') * scale;
        scale /= 10;
      }
    }
    if (count == 0 || count > 9) return std::nullopt;
  }
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) ++pos;
  if (pos != text.size()) return std::nullopt;
  return seconds * kMicrosPerSecond + micros;
}

// A cell as one line: control characters escaped.
std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02X", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += ch;
    }
  }
  return out;
}

// Characters (UTF-8 code points) in `text`: every byte but continuation bytes.
std::size_t display_width(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char ch) {
    return (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  }));
}


// Embeds the text of a JSON object read from the store; a text hotstate cannot
// read (only possible for rows other clients wrote) goes in as a string.
void embed_json_text(JsonWriter& out, std::string_view key, const std::string& text) {
  out.key(key);
  try {
    out.json(Json::parse(text));
  } catch (const hotstate::Error&) {
    out.string(text);
  }
}

}  // namespace

std::string iso_time_us(std::int64_t time_us) {
  const std::chrono::sys_time<std::chrono::microseconds> time{std::chrono::microseconds(time_us)};
  const auto day = std::chrono::floor<std::chrono::days>(time);  // floor: times before 1970 too
  const std::chrono::year_month_day date{day};
  const std::chrono::hh_mm_ss clock{time - day};
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<long long>(clock.hours().count()), static_cast<long long>(clock.minutes().count()),
                static_cast<long long>(clock.seconds().count()), static_cast<long long>(clock.subseconds().count()));
  return buffer;
}

std::int64_t parse_time_argument(std::string_view text, std::int64_t now, std::string_view option) {
  std::optional<std::int64_t> result;
  if (!text.empty() && text.front() == '@') {
    if (const auto seconds = small_number(text.substr(1))) result = *seconds * kMicrosPerSecond;
  } else if (text.size() >= 2 && is_digit(text.front()) && !is_digit(text.back()) &&
             text.find_first_not_of("0123456789") == text.size() - 1) {
    std::int64_t unit = 0;
    switch (text.back()) {
      case 's': unit = kMicrosPerSecond; break;
      case 'm': unit = 60 * kMicrosPerSecond; break;
      case 'h': unit = 3600 * kMicrosPerSecond; break;
      case 'd': unit = kSecondsPerDay * kMicrosPerSecond; break;
      default: break;
    }
    const auto amount = small_number(text.substr(0, text.size() - 1));
    if (unit != 0 && amount && *amount <= std::numeric_limits<std::int64_t>::max() / unit) {
      result = std::max<std::int64_t>(now - *amount * unit, 0);
    }
  } else if (text.size() >= 10) {
    result = parse_iso(text);
  }
  if (!result) {
    throw UsageError(std::string(option) + " '" + printable(text) +
                     "' is not a time: give an ISO-8601 UTC date or date-time (2026-11-25, 2026-11-25T10:00:00Z, "
                     "2026-11-25T10:00:00.123456Z, '2026-11-25 10:00:00'), a duration back from now (90s, 15m, "
                     "24h, 7d) or @<unix seconds>");
  }
  return *result;
}

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string shorten(std::string_view text, std::size_t width) {
  if (display_width(text) <= width) return std::string(text);
  const std::size_t keep = width > 3 ? width - 3 : 0;
  std::size_t chars = 0;
  std::size_t end = 0;
  for (; end < text.size(); ++end) {
    if ((static_cast<unsigned char>(text[end]) & 0xC0) != 0x80 && chars++ == keep) break;
  }
  return std::string(text.substr(0, end)) + "...";
}

void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                 std::string_view indent) {
  std::vector<std::size_t> widths(header.size(), 0);
  const auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(printable(row[i])));
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  const auto print_row = [&](const std::vector<std::string>& row) {
    std::string line(indent);
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? printable(row[i]) : std::string();
      line += cell;
      if (i + 1 < widths.size()) line += std::string(widths[i] - display_width(cell) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
}

// ---- state, audit, reloads, resolve

int command_state(StateManager& manager, const std::string& plugin_id, bool json) {
  const hotstate::PluginState state = manager.plugin_state(plugin_id);
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("plugin_id", plugin_id);
    out.member("state", hotstate::PluginState::kind_name(state.kind()));
    out.member("reason", state.reason());
    out.end_object();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  print_table({"PLUGIN", "STATE"}, {{plugin_id, state.to_string()}});
  return 0;
}

int command_audit(StateManager& manager, const hotstate::AuditQuery& query, bool json) {
  const auto events = manager.audit_events(query);
  if (json) {
    JsonWriter out;
    out.begin_array();
    for (const auto& event : events) {
      out.begin_object();
      out.member("id", event.id);
      out.member("time_us", event.time_us);
      out.member("time", iso_time_us(event.time_us));
      out.member("plugin_id", event.plugin_id);
      out.member("kind", event.kind);
      embed_json_text(out, "detail", event.detail);
      out.end_object();
    }
    out.end_array();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  if (events.empty()) {
    std::cout << "(no events)\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(events.size());
  for (const auto& event : events) {
    rows.push_back({std::to_string(event.id), iso_time_us(event.time_us), event.plugin_id.empty() ? "-" : event.plugin_id,
                    event.kind, event.detail});
  }
  print_table({"ID", "TIME (UTC)", "PLUGIN", "KIND", "DETAIL"}, rows);
  if (query.limit > 0 && events.size() == query.limit) {
    std::cout << "(" << (query.order == hotstate::AuditOrder::NewestFirst ? "newest " : "oldest ") << events.size()
              << " events shown; --limit N for more, --limit 0 for all)\n";
  }
  return 0;
}

int command_reloads(StateManager& manager, bool json) {
  const auto reloads = manager.unfinished_reloads();
  if (json) {
    JsonWriter out;
    out.begin_array();
    for (const auto& reload : reloads) {
      out.begin_object();
      out.member("id", reload.id);
      out.member("plugin_id", reload.plugin_id);
      out.member("from_version", reload.from_version);
      out.member("to_version", reload.to_version);
      out.member("started_at_us", reload.started_at_us);
      out.member("started", iso_time_us(reload.started_at_us));
      out.member("last_good_seq", reload.last_good.seq);
      embed_json_text(out, "last_good", reload.last_good.to_bytes());
      out.end_object();
    }
    out.end_array();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  if (reloads.empty()) {
    std::cout << "(no unfinished reloads)\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& reload : reloads) {
    rows.push_back({std::to_string(reload.id), reload.plugin_id,
                    (reload.from_version.empty() ? "?" : reload.from_version) + " -> " +
                        (reload.to_version.empty() ? "?" : reload.to_version),
                    iso_time_us(reload.started_at_us), std::to_string(reload.last_good.seq)});
  }
  print_table({"ID", "PLUGIN", "FROM -> TO", "STARTED (UTC)", "LAST GOOD SEQ"}, rows);
  std::cout << "\nthese reloads began and never finished: their host died, or is still running them.\n"
               "the last good state of each is its LAST GOOD SEQ (`--json reloads` embeds it);\n"
               "once handled, mark one resolved with: hotstate resolve ID --note TEXT\n";
  return 0;
}

int command_prune_audit(StateManager& manager, const hotstate::AuditPrune& prune, bool json) {
  const std::uint64_t removed = manager.prune_audit(prune);
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("removed", removed);
    if (prune.older_than_us) out.member("older_than_us", *prune.older_than_us);
    if (prune.keep_newest) out.member("keep_newest", static_cast<std::uint64_t>(*prune.keep_newest));
    out.end_object();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  std::cout << "removed " << removed << " audit event(s)";
  if (prune.older_than_us) std::cout << " older than " << iso_time_us(*prune.older_than_us);
  if (prune.keep_newest) std::cout << (prune.older_than_us ? " or" : "") << " beyond the newest " << *prune.keep_newest;
  std::cout << "; the prune itself is recorded (AuditPruned), and the saves of existing snapshots stay\n";
  return 0;
}

int command_resolve(StateManager& manager, std::uint64_t reload_id, const std::string& note, bool json) {
  std::string plugin_id;
  for (const auto& reload : manager.unfinished_reloads()) {
    if (reload.id == reload_id) plugin_id = reload.plugin_id;
  }
  try {
    manager.resolve_reload(reload_id, note);
  } catch (const hotstate::Error& error) {
    if (error.code() == hotstate::ErrorCode::InvalidArgument) {
      throw UsageError("there is no reload " + std::to_string(reload_id) + " (`hotstate reloads` lists the unfinished ones)");
    }
    throw;
  }
  if (json) {
    JsonWriter out;
    out.begin_object();
    out.member("id", reload_id);
    out.member("plugin_id", plugin_id);
    out.member("resolved", true);
    out.member("note", note);
    out.end_object();
    std::cout << out.take().text() << "\n";
    return 0;
  }
  std::cout << "reload " << reload_id << " of " << printable(plugin_id) << " resolved"
            << (note.empty() ? std::string() : " (note: " + printable(note) + ")") << "\n";
  return 0;
}

}  // namespace hotstate_tool
