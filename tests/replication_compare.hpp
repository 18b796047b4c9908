// Replication tests' helpers (replication_test.cpp, replication_faults_test.cpp,
// replication_child.cpp):
//  - RandomHost: a host's random operations on a StateManager, hotstate's own
//    and another client's raw SQL, from a seed;
//  - replica_differences / require_replica_matches: whether PostgreSQL holds
//    exactly what the file holds for a host, row by row, as text, naming the
//    first rows that differ; require_each_event_once: every event shipped
//    once, none missing;
//  - ChildProcess (the tool, the child program, read line by line) and
//    eventually (a condition polled with a deadline).
//
// The child program (replication_child.cpp) has neither Catch nor libpq: it
// defines HOTSTATE_REPLICATION_WORKLOAD_ONLY before including this, and gets
// RandomHost alone.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "hotstate/hotstate.hpp"

namespace hotstate_test {

// HOTSTATE_TEST_SCALE (default 1): multiplies the operations of the
// replication tests' random sequences and hosts.
inline int replication_test_scale() {
  const char* text = std::getenv("HOTSTATE_TEST_SCALE");
  if (text == nullptr || *text == '\0') return 1;
  const int scale = std::atoi(text);
  return scale > 0 ? scale : 1;
}

// ---------------------------------------------------------------------------
// RandomHost: random operations on one file, as a host and "another client"
// (the sqlite3 shell) would do them. Every operation is one that must
// succeed: a failure throws (std::runtime_error for the raw SQL, Error for
// hotstate), so a test sees it.
// ---------------------------------------------------------------------------
class RandomHost {
 public:
  struct Settings {
    bool raw_sql = true;      // also write as another client (INSERT, UPDATE, DELETE with SQL)
    bool prunes = true;       // prune_audit now and then
    bool clear_all = true;    // clear_all, rarely
    // Also deletes and edits with SQL that leave no audit event (a history
    // row, a journal row, a reload finished by hand): replicate_once finds
    // them when it reconciles, a follower only every minute.
    bool unaudited_sql = true;
    int big_data_percent = 3; // saves with 20 to 200 KB of data
  };

  RandomHost(hotstate::StateManager& manager, std::string db_path, std::uint64_t seed)
      : RandomHost(manager, std::move(db_path), seed, Settings{}) {}
  RandomHost(hotstate::StateManager& manager, std::string db_path, std::uint64_t seed, Settings settings)
      : manager_(manager), db_path_(std::move(db_path)), rng_(seed), settings_(settings) {}
  ~RandomHost() {
    if (raw_ != nullptr) sqlite3_close(raw_);
  }
  RandomHost(const RandomHost&) = delete;
  RandomHost& operator=(const RandomHost&) = delete;

  // Plugin ids with what COPY's text format must escape (tab, newline,
  // backslash) and non-ASCII text.
  static const std::vector<std::string>& plugins() {
    static const std::vector<std::string> ids{"alpha", "beta", "gamma", "ünïcödé-δ", "tab\there\\back\nline"};
    return ids;
  }

  // One random operation; returns its name (also counted in counts()).
  std::string step() {
    const int roll = pick(0, 999);
    std::string name;
    if (roll < 300) {
      name = save();
    } else if (roll < 350) {
      name = save_many();
    } else if (roll < 380) {
      name = save_if();
    } else if (roll < 440) {
      name = rollback();
    } else if (roll < 460) {
      name = clear();
    } else if (roll < 465 && settings_.clear_all) {
      manager_.clear_all();
      name = "clear_all";
    } else if (roll < 510) {
      name = pin();
    } else if (roll < 535) {
      name = unpin();
    } else if (roll < 575) {
      name = restore();
    } else if (roll < 620) {
      name = set_plugin_state();
    } else if (roll < 680) {
      name = reload();
    } else if (roll < 700) {
      name = resolve_reload();
    } else if (roll < 740) {
      name = record_event();
    } else if (roll < 765) {
      name = set_max_history();
    } else if (roll < 790 && settings_.prunes) {
      name = prune();
    } else if (roll < 960 && settings_.raw_sql) {
      name = raw_sql();
    } else {
      name = save();
    }
    ++counts_[name];
    ++steps_;
    return name;
  }

  // A plain save: a hotstate write, which also chains what another client
  // wrote before it.
  std::uint64_t save_plain(const std::string& plugin_id) {
    return manager_.save_snapshot(make_snapshot(plugin_id));
  }

  const std::map<std::string, int>& counts() const { return counts_; }
  std::uint64_t steps() const { return steps_; }

  // "save 12, rollback 3, ..." for INFO.
  std::string summary() const {
    std::string text;
    for (const auto& [name, count] : counts_) {
      if (!text.empty()) text += ", ";
      text += name + " " + std::to_string(count);
    }
    return text;
  }

  int pick(int low, int high) { return std::uniform_int_distribution<int>(low, high)(rng_); }

 private:
  const std::string& any_plugin() { return plugins()[static_cast<std::size_t>(pick(0, static_cast<int>(plugins().size()) - 1))]; }

  hotstate::StateSnapshot make_snapshot(const std::string& plugin_id) {
    hotstate::StateSnapshot snapshot(plugin_id, std::to_string(pick(1, 3)) + "." + std::to_string(pick(0, 9)) + ".0");
    const int n = ++serial_;
    snapshot.with_data("n", n);
    const int size_roll = pick(0, 99);
    std::size_t size = static_cast<std::size_t>(pick(0, 64));
    if (size_roll < settings_.big_data_percent) {
      size = static_cast<std::size_t>(pick(20'000, 200'000));
    } else if (size_roll < 25) {
      size = static_cast<std::size_t>(pick(500, 8'000));
    }
    std::string blob;
    blob.reserve(size);
    static const std::vector<std::string> alphabet{"a", "b", "c", "x", "y", "z", "0", "9", " ", "\t", "\n", "\\",
                                                   "\"", "'", "{", "}", "[", ",", ":", "é", "😀"};
    while (blob.size() < size) blob += alphabet[static_cast<std::size_t>(pick(0, static_cast<int>(alphabet.size()) - 1))];
    snapshot.with_data("blob", blob);
    if (pick(0, 3) == 0) snapshot.with_data("nested", std::map<std::string, int>{{"x", n}, {"y", -n}});
    if (pick(0, 4) == 0) snapshot.with_metadata("note", "tab\tnewline\nbackslash\\ " + std::to_string(n));
    if (pick(0, 9) == 0) snapshot.timestamp = std::numeric_limits<std::uint64_t>::max() - static_cast<std::uint64_t>(n);
    if (pick(0, 9) == 0) snapshot.timestamp = 0;
    return snapshot;
  }

  std::string save() {
    manager_.save_snapshot(make_snapshot(any_plugin()));
    return "save_snapshot";
  }

  std::string save_many() {
    std::vector<hotstate::StateSnapshot> snapshots;
    const int count = pick(2, 5);
    for (int i = 0; i < count; ++i) snapshots.push_back(make_snapshot(any_plugin()));
    manager_.save_snapshots(std::move(snapshots));
    return "save_snapshots";
  }

  std::string save_if() {
    const auto& plugin = any_plugin();
    const auto current = manager_.load_snapshot(plugin);
    manager_.save_snapshot_if(make_snapshot(plugin), current ? current->seq : 0);
    return "save_snapshot_if";
  }

  std::string rollback() {
    manager_.rollback(any_plugin());
    return "rollback";
  }

  std::string clear() {
    manager_.clear(any_plugin());
    return "clear";
  }

  // A stored seq of the plugin: its current snapshot or a history entry.
  std::optional<std::uint64_t> stored_seq(const std::string& plugin) {
    std::vector<std::uint64_t> seqs;
    for (const auto& entry : manager_.get_history(plugin)) seqs.push_back(entry.seq);
    if (const auto current = manager_.load_snapshot(plugin)) seqs.push_back(current->seq);
    if (seqs.empty()) return std::nullopt;
    return seqs[static_cast<std::size_t>(pick(0, static_cast<int>(seqs.size()) - 1))];
  }

  std::string pin() {
    const auto& plugin = any_plugin();
    const auto seq = stored_seq(plugin);
    if (!seq) return save();
    static const char* labels[] = {"good", "last-known-good", "tab\tlabel"};
    manager_.pin(plugin, *seq, labels[pick(0, 2)]);
    return "pin";
  }

  std::string unpin() {
    const auto pins = manager_.pins();
    if (pins.empty()) return pin();
    const auto& chosen = pins[static_cast<std::size_t>(pick(0, static_cast<int>(pins.size()) - 1))];
    manager_.unpin(chosen.plugin_id, chosen.label);
    return "unpin";
  }

  std::string restore() {
    const auto& plugin = any_plugin();
    std::optional<std::uint64_t> seq = stored_seq(plugin);
    if (pick(0, 2) == 0) {  // a pinned snapshot, whose row may be gone
      const auto pins = manager_.pins(plugin);
      if (!pins.empty()) seq = pins[static_cast<std::size_t>(pick(0, static_cast<int>(pins.size()) - 1))].seq;
    }
    if (!seq) return save();
    manager_.restore(plugin, *seq);
    return "restore";
  }

  std::string set_plugin_state() {
    using Kind = hotstate::PluginState::Kind;
    static const Kind kinds[] = {Kind::Unloaded, Kind::Loading, Kind::Loaded, Kind::Running, Kind::Reloading, Kind::Unloading};
    const auto& plugin = any_plugin();
    if (pick(0, 4) == 0) {
      manager_.set_plugin_state(plugin, hotstate::PluginState::failed("boom\t#" + std::to_string(++serial_) + "\n\\"));
    } else {
      manager_.set_plugin_state(plugin, hotstate::PluginState(kinds[pick(0, 5)]));
    }
    return "set_plugin_state";
  }

  // begin_reload, then finish_reload (success, success pinning, failure) or
  // nothing: an unfinished reload, for resolve_reload.
  std::string reload() {
    const auto& plugin = any_plugin();
    const auto ticket = manager_.begin_reload(make_snapshot(plugin), pick(0, 1) ? "2.0.0" : "");
    const int outcome = pick(0, 9);
    if (outcome < 3) {
      manager_.finish_reload(ticket.id, hotstate::ReloadResult::succeeded());
      return "reload_succeeded";
    }
    if (outcome < 5) {
      manager_.finish_reload(ticket.id, hotstate::ReloadResult::succeeded_pinning());
      return "reload_succeeded_pinning";
    }
    if (outcome < 8) {
      manager_.finish_reload(ticket.id, hotstate::ReloadResult::failed("failed\twith\ttabs\n#" + std::to_string(ticket.id),
                                                                       static_cast<std::uint32_t>(pick(1, 3))));
      return "reload_failed";
    }
    return "reload_unfinished";
  }

  std::string resolve_reload() {
    const auto unfinished = manager_.unfinished_reloads();
    if (unfinished.empty()) return reload();
    manager_.resolve_reload(unfinished.front().id, "resolved after a crash\t\\");
    return "resolve_reload";
  }

  std::string record_event() {
    const auto& plugin = any_plugin();
    switch (pick(0, 3)) {
      case 0: manager_.record_event(hotstate::ReloadEvent::state_preserved(plugin).with("n", ++serial_)); break;
      case 1: manager_.record_event(hotstate::ReloadEvent::rollback_triggered(plugin, "why\tnot")); break;
      case 2:
        manager_.record_event(hotstate::ReloadEvent::reload_completed(plugin, true, std::chrono::microseconds(pick(1, 9999))));
        break;
      default: manager_.record_event(hotstate::ReloadEvent::plugin_discovered(plugin).with("path", "/p/x.so")); break;
    }
    return "record_event";
  }

  std::string set_max_history() {
    manager_.set_max_history(static_cast<std::size_t>(pick(0, 2) == 0 ? pick(0, 2) : pick(3, 8)));
    return "set_max_history";
  }

  std::string prune() {
    hotstate::AuditPrune bounds;
    if (pick(0, 2) == 0) {
      bounds.older_than_us = hotstate::now_us() - pick(0, 2000);
    } else {
      bounds.keep_newest = static_cast<std::size_t>(pick(0, 40));
    }
    manager_.prune_audit(bounds);
    return "prune_audit";
  }

  // ---- another client: a plain sqlite3 connection

  sqlite3* raw() {
    if (raw_ == nullptr) {
      if (sqlite3_open_v2(db_path_.c_str(), &raw_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
        const std::string message = raw_ != nullptr ? sqlite3_errmsg(raw_) : "out of memory";
        sqlite3_close(raw_);
        raw_ = nullptr;
        throw std::runtime_error("another client cannot open " + db_path_ + ": " + message);
      }
      sqlite3_busy_timeout(raw_, 10000);
    }
    return raw_;
  }

  // Runs `sql` with ?1 bound to `text` and ?2 to `number`; returns the rows changed.
  int raw_exec(const char* sql, const std::string& text, std::int64_t number = 0) {
    sqlite3* db = raw();
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("another client: ") + sql + ": " + sqlite3_errmsg(db));
    }
    if (sqlite3_bind_parameter_count(statement) >= 1) {
      sqlite3_bind_text(statement, 1, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    }
    if (sqlite3_bind_parameter_count(statement) >= 2) sqlite3_bind_int64(statement, 2, number);
    const int rc = sqlite3_step(statement);
    sqlite3_finalize(statement);
    if (rc != SQLITE_DONE) throw std::runtime_error(std::string("another client: ") + sql + ": " + sqlite3_errmsg(db));
    return sqlite3_changes(db);
  }

  std::string raw_sql() {
    const auto& plugin = any_plugin();
    const int n = ++serial_;
    switch (pick(0, settings_.unaudited_sql ? 17 : 14)) {
      case 0:
      case 1:
        // A snapshot row without hotstate's hashes: SnapshotSaved by the trigger.
        raw_exec("INSERT INTO snapshots (plugin_id, plugin_version, data, metadata)"
                 " VALUES (?1, '9.9.9', json_object('raw', ?2, 's', 'a\tb'), json_object('by', 'shell'))",
                 plugin, n);
        return "raw_insert_snapshot";
      case 2:
      case 3:
        // An event: unchained until hotstate's next write.
        raw_exec("INSERT INTO audit_events (plugin_id, kind, detail)"
                 " VALUES (?1, 'PluginDiscovered', json_object('by', 'shell', 'n', ?2))",
                 plugin, n);
        return "raw_insert_event";
      case 4:
      case 5:
        // SnapshotEdited.
        raw_exec("UPDATE snapshots SET data = json_object('edited', ?2)"
                 " WHERE seq = (SELECT max(seq) FROM snapshots WHERE plugin_id = ?1)",
                 plugin, n);
        return "raw_update_snapshot";
      case 6:
        // SnapshotDeleted: the plugin's current row.
        raw_exec("DELETE FROM snapshots WHERE seq = (SELECT max(seq) FROM snapshots WHERE plugin_id = ?1)", plugin);
        return "raw_delete_current";
      case 7:
        // Pinned: a pin written with SQL, a copy of the current row.
        raw_exec("INSERT INTO pins (plugin_id, label, seq, timestamp, plugin_version, data, metadata, saved_at_us,"
                 " canonical_hash, content_hash)"
                 " SELECT plugin_id, 'shell', seq, timestamp, plugin_version, data, metadata, saved_at_us,"
                 " canonical_hash, content_hash FROM snapshots"
                 " WHERE seq = (SELECT max(seq) FROM snapshots WHERE plugin_id = ?1)"
                 "   AND NOT EXISTS (SELECT 1 FROM pins WHERE plugin_id = ?1 AND label = 'shell')",
                 plugin);
        return "raw_insert_pin";
      case 8:
        // Unpinned.
        raw_exec("DELETE FROM pins WHERE plugin_id = ?1", plugin);
        return "raw_delete_pins";
      case 9:
        // MaxHistoryChanged, and HistoryTrimmed for what a lower bound trims.
        raw_exec("UPDATE settings SET max_history = ?2 WHERE id = 1", plugin, pick(1, 6));
        return "raw_update_settings";
      case 10:
        // SnapshotEdited of a history row (the oldest).
        raw_exec("UPDATE snapshots SET data = json_object('edited', ?2), plugin_version = 'edited'"
                 " WHERE seq = (SELECT min(seq) FROM snapshots WHERE plugin_id = ?1)",
                 plugin, n);
        return "raw_update_history";
      case 11:
        // A life-cycle state written with SQL: PluginStateChanged by the trigger.
        raw_exec("INSERT INTO plugin_states (plugin_id, state) VALUES (?1, 'Loaded')"
                 " ON CONFLICT (plugin_id) DO UPDATE SET state = CASE state WHEN 'Loaded' THEN 'Running' ELSE 'Loaded' END,"
                 " reason = '', changed_at_us = changed_at_us + ?2",
                 plugin, n);
        return "raw_upsert_plugin_state";
      case 12:
        raw_exec("DELETE FROM plugin_states WHERE plugin_id = ?1", plugin);
        return "raw_delete_plugin_state";
      case 13:
        // A pin relabelled: Unpinned and Pinned by the trigger.
        raw_exec("UPDATE OR IGNORE pins SET label = 'relabelled ' || ?2"
                 " WHERE rowid = (SELECT min(rowid) FROM pins WHERE plugin_id = ?1)",
                 plugin, n);
        return "raw_relabel_pin";
      case 14:
        // A row moved to another plugin: SnapshotEdited.
        raw_exec("UPDATE snapshots SET plugin_id = 'moved'"
                 " WHERE seq = (SELECT min(seq) FROM snapshots WHERE plugin_id = ?1) AND ?2 >= 0",
                 plugin, n);
        return "raw_move_snapshot";
      case 15:
        // No event: a history row deleted (verify reports it; reconcile drops it).
        raw_exec("DELETE FROM snapshots WHERE seq = (SELECT min(seq) FROM snapshots WHERE plugin_id = ?1)"
                 " AND (SELECT count(*) FROM snapshots WHERE plugin_id = ?1) > 1",
                 plugin);
        return "raw_delete_history";
      case 16:
        // No event: a reload finished in the journal alone.
        raw_exec("UPDATE reloads SET outcome = 'resolved', finished_at_us = ?2, note = 'by hand\t' || ?1,"
                 " last_good_snapshot = NULL WHERE id = (SELECT min(id) FROM reloads WHERE outcome IS NULL)",
                 plugin, hotstate::now_us());
        return "raw_finish_reload";
      default:
        // No event: a journal row deleted.
        raw_exec("DELETE FROM reloads WHERE id = (SELECT min(id) FROM reloads WHERE ?1 = ?1)", plugin);
        return "raw_delete_reload";
    }
  }

  hotstate::StateManager& manager_;
  std::string db_path_;
  std::mt19937_64 rng_;
  Settings settings_;
  sqlite3* raw_ = nullptr;
  int serial_ = 0;
  std::uint64_t steps_ = 0;
  std::map<std::string, int> counts_;
};

}  // namespace hotstate_test

#ifndef HOTSTATE_REPLICATION_WORKLOAD_ONLY

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <sstream>
#include <thread>

namespace hotstate_test {

// ---------------------------------------------------------------------------
// Comparing a host's file with PostgreSQL.
// ---------------------------------------------------------------------------

// One row as text: its cells, NULL as \N; `key` sorts rows the same way on
// both sides (integers by value).
struct TextRow {
  std::string key;
  std::vector<std::optional<std::string>> cells;

  std::string text() const {
    std::string out;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) out += " | ";
      out += cells[i] ? *cells[i] : "\\N";
    }
    return out;
  }
  // For a message: long cells cut, control characters shown.
  std::string shown() const {
    std::string out;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) out += " | ";
      if (!cells[i]) {
        out += "\\N";
        continue;
      }
      const std::string& cell = *cells[i];
      const std::string cut = cell.size() > 120 ? cell.substr(0, 120) : cell;
      for (char c : cut) {
        if (c == '\t') {
          out += "\\t";
        } else if (c == '\n') {
          out += "\\n";
        } else {
          out += c;
        }
      }
      if (cell.size() > 120) out += "…(" + std::to_string(cell.size()) + " bytes)";
    }
    return out;
  }
};

struct ComparedTable {
  const char* name;
  std::vector<const char*> columns;  // as both sides name them
  std::vector<std::size_t> key;      // indexes into columns
  std::vector<bool> integer;         // by column
  const char* postgresql_filter;     // ANDed to host_id = $1
};

inline const std::vector<ComparedTable>& compared_tables() {
  static const std::vector<ComparedTable> tables{
      {"snapshots",
       {"seq", "plugin_id", "\"timestamp\"", "plugin_version", "data", "metadata", "saved_at_us", "canonical_hash",
        "content_hash"},
       {0},
       {true, false, true, false, false, false, true, true, false},
       ""},
      {"audit_events",
       {"id", "time_us", "plugin_id", "kind", "detail", "chain", "chain_position", "mac"},
       {0},
       {true, true, false, false, false, false, true, false},
       " AND pruned_by IS NULL"},
      {"audit_gaps",
       {"first_id", "last_id", "events", "pruned_by", "chain", "chain_position"},
       {0},
       {true, true, true, true, false, true},
       ""},
      {"plugin_states", {"plugin_id", "state", "reason", "changed_at_us"}, {0}, {false, false, false, true}, ""},
      {"reloads",
       {"id", "plugin_id", "from_version", "to_version", "started_at_us", "snapshot_seq", "last_good_snapshot",
        "finished_at_us", "outcome", "note"},
       {0},
       {true, false, false, false, true, true, false, true, false, false},
       ""},
      {"pins",
       {"plugin_id", "label", "seq", "\"timestamp\"", "plugin_version", "data", "metadata", "saved_at_us",
        "canonical_hash", "content_hash", "pinned_at_us"},
       {0, 1},
       {false, false, true, true, false, false, false, true, true, false, true},
       ""},
  };
  return tables;
}

inline std::string column_list(const ComparedTable& table) {
  std::string list;
  for (const char* column : table.columns) {
    if (!list.empty()) list += ", ";
    list += column;
  }
  return list;
}

inline std::string sort_key(const ComparedTable& table, const std::vector<std::optional<std::string>>& cells) {
  std::string key;
  for (const std::size_t index : table.key) {
    const std::string value = cells[index].value_or("");
    if (table.integer[index]) {
      // Keys are positive: zero-padded, they sort as numbers.
      key += std::string(value.size() < 20 ? 20 - value.size() : 0, '0') + value;
    } else {
      key += value;
    }
    key += '\x01';
  }
  return key;
}

// The file, read in one read transaction of a connection of its own.
class FileReader {
 public:
  explicit FileReader(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      const std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      db_ = nullptr;
      throw std::runtime_error("cannot open " + path + ": " + message);
    }
    sqlite3_busy_timeout(db_, 10000);
    rows("BEGIN");
    rows("SELECT count(*) FROM sqlite_schema");  // the read transaction starts here
  }
  ~FileReader() {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db_);
  }
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  std::vector<std::vector<std::optional<std::string>>> rows(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    }
    std::vector<std::vector<std::optional<std::string>>> result;
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
      std::vector<std::optional<std::string>> row;
      for (int i = 0; i < sqlite3_column_count(statement); ++i) {
        if (sqlite3_column_type(statement, i) == SQLITE_NULL) {
          row.emplace_back();
        } else {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, i));
          row.emplace_back(std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(statement, i))));
        }
      }
      result.push_back(std::move(row));
    }
    sqlite3_finalize(statement);
    if (rc != SQLITE_DONE) throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    return result;
  }

  std::string scalar(const std::string& sql) {
    const auto result = rows(sql);
    if (result.empty() || result[0].empty() || !result[0][0]) return "";
    return *result[0][0];
  }

 private:
  sqlite3* db_ = nullptr;
};

// A libpq connection for the tests' own questions.
class PgReader {
 public:
  explicit PgReader(const std::string& url) : connection_(PQconnectdb(url.c_str())) {
    if (connection_ == nullptr || PQstatus(connection_) != CONNECTION_OK) {
      const std::string message = connection_ ? PQerrorMessage(connection_) : "out of memory";
      PQfinish(connection_);
      connection_ = nullptr;
      throw std::runtime_error("cannot connect to " + url + ": " + message);
    }
  }
  ~PgReader() {
    if (connection_ != nullptr) PQfinish(connection_);
  }
  PgReader(const PgReader&) = delete;
  PgReader& operator=(const PgReader&) = delete;

  std::vector<std::vector<std::optional<std::string>>> rows(const std::string& sql,
                                                           const std::vector<std::string>& parameters = {}) {
    std::vector<const char*> values;
    for (const auto& parameter : parameters) values.push_back(parameter.c_str());
    std::unique_ptr<PGresult, decltype(&PQclear)> result(
        PQexecParams(connection_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                     nullptr, 0),
        &PQclear);
    const auto status = PQresultStatus(result.get());
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      throw std::runtime_error(sql + ": " + PQerrorMessage(connection_));
    }
    std::vector<std::vector<std::optional<std::string>>> out;
    for (int r = 0; r < PQntuples(result.get()); ++r) {
      std::vector<std::optional<std::string>> row;
      for (int c = 0; c < PQnfields(result.get()); ++c) {
        if (PQgetisnull(result.get(), r, c)) {
          row.emplace_back();
        } else {
          row.emplace_back(std::string(PQgetvalue(result.get(), r, c),
                                       static_cast<std::size_t>(PQgetlength(result.get(), r, c))));
        }
      }
      out.push_back(std::move(row));
    }
    return out;
  }
  void exec(const std::string& sql, const std::vector<std::string>& parameters = {}) { rows(sql, parameters); }
  // The first column of the first row; "" for none or NULL.
  std::string scalar(const std::string& sql, const std::vector<std::string>& parameters = {}) {
    const auto result = rows(sql, parameters);
    if (result.empty() || result[0].empty() || !result[0][0]) return "";
    return *result[0][0];
  }
  long long integer(const std::string& sql, const std::vector<std::string>& parameters = {}) {
    const std::string text = scalar(sql, parameters);
    return text.empty() ? -1 : std::stoll(text);
  }

 private:
  PGconn* connection_ = nullptr;
};

// Where the two sides of one table differ: the first `most` differing rows, each as
// "file: ROW / postgresql: ROW" (a missing row shown as (none)). Empty when equal.
inline std::vector<std::string> table_differences(const ComparedTable& table, std::vector<TextRow> file,
                                                  std::vector<TextRow> postgresql, std::size_t most = 3) {
  const auto by_key = [](const TextRow& a, const TextRow& b) { return a.key < b.key; };
  std::sort(file.begin(), file.end(), by_key);
  std::sort(postgresql.begin(), postgresql.end(), by_key);
  std::vector<std::string> differences;
  std::size_t count = 0;
  std::size_t i = 0;
  std::size_t j = 0;
  const auto note = [&](const TextRow* in_file, const TextRow* in_postgresql) {
    ++count;
    if (differences.size() < most) {
      differences.push_back(std::string(table.name) + ": file: " + (in_file ? in_file->shown() : "(none)") +
                            "\n    postgresql: " + (in_postgresql ? in_postgresql->shown() : "(none)"));
    }
  };
  while (i < file.size() || j < postgresql.size()) {
    if (j == postgresql.size() || (i < file.size() && file[i].key < postgresql[j].key)) {
      note(&file[i++], nullptr);
    } else if (i == file.size() || postgresql[j].key < file[i].key) {
      note(nullptr, &postgresql[j++]);
    } else {
      if (file[i].text() != postgresql[j].text()) note(&file[i], &postgresql[j]);
      ++i;
      ++j;
    }
  }
  if (count > differences.size()) {
    differences.push_back(std::string(table.name) + ": " + std::to_string(count - differences.size()) +
                          " more differing row(s); the file has " + std::to_string(file.size()) +
                          " row(s), PostgreSQL " + std::to_string(postgresql.size()));
  }
  return differences;
}

inline std::vector<TextRow> text_rows(const ComparedTable& table,
                                      std::vector<std::vector<std::optional<std::string>>> rows) {
  std::vector<TextRow> out;
  out.reserve(rows.size());
  for (auto& cells : rows) {
    TextRow row;
    row.key = sort_key(table, cells);
    row.cells = std::move(cells);
    out.push_back(std::move(row));
  }
  return out;
}

// Everything that differs between the file at `db_path` and PostgreSQL's
// rows of host `host_id` at `url`: every row of the mirrored tables (PostgreSQL's
// audit events those WHERE pruned_by IS NULL), and the host's position (and
// the event its rows are as of: both the file's newest) and settings. Each entry says what differs; empty when PostgreSQL holds exactly
// the file. The file must be quiet meanwhile (PostgreSQL is read in one
// REPEATABLE READ transaction, the file in one read transaction).
inline std::vector<std::string> replica_differences(const std::string& db_path, const std::string& url,
                                                    const std::string& host_id) {
  std::vector<std::string> differences;
  FileReader file(db_path);
  PgReader postgresql(url);
  postgresql.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  const auto host = postgresql.rows(
      "SELECT shipped_event_id, rows_as_of, max_history, audit_chain_from, snapshots_seq_high, reloads_id_high,"
      " events_id_high FROM hotstate.hosts WHERE host_id = $1",
      {host_id});
  if (host.size() != 1) return {"PostgreSQL has no host '" + host_id + "'"};
  const auto settings = file.rows(
      "SELECT (SELECT ifnull(max(id), 0) FROM audit_events), (SELECT ifnull(max(id), 0) FROM audit_events),"
      " max_history, audit_chain_from,"
      " ifnull((SELECT seq FROM sqlite_sequence WHERE name = 'snapshots'), 0),"
      " ifnull((SELECT seq FROM sqlite_sequence WHERE name = 'reloads'), 0),"
      " ifnull((SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'), 0)"
      " FROM settings WHERE id = 1");
  static const char* names[] = {"shipped_event_id (the file: its newest event id)",
                                "rows_as_of (the file: its newest event id)",
                                "max_history",
                                "audit_chain_from",
                                "snapshots_seq_high",
                                "reloads_id_high",
                                "events_id_high"};
  for (std::size_t i = 0; i < std::size(names); ++i) {
    const std::string in_file = settings.at(0).at(i).value_or("\\N");
    const std::string in_postgresql = host[0][i].value_or("\\N");
    if (in_file != in_postgresql) {
      differences.push_back(std::string("hosts.") + names[i] + ": file " + in_file + ", postgresql " + in_postgresql);
    }
  }
  for (const auto& table : compared_tables()) {
    const std::string columns = column_list(table);
    auto in_file = text_rows(table, file.rows("SELECT " + columns + " FROM " + table.name));
    auto in_postgresql = text_rows(
        table, postgresql.rows("SELECT " + columns + " FROM hotstate." + table.name + " WHERE host_id = $1" +
                                   table.postgresql_filter,
                               {host_id}));
    for (auto& difference : table_differences(table, std::move(in_file), std::move(in_postgresql))) {
      differences.push_back(std::move(difference));
    }
  }
  postgresql.exec("COMMIT");
  return differences;
}

inline std::string shown_differences(const std::vector<std::string>& differences) {
  std::ostringstream shown;
  for (const auto& difference : differences) shown << "\n  " << difference;
  return shown.str();
}

// Fails the test, naming the first differing rows, unless PostgreSQL holds
// exactly what the file holds for `host_id`.
inline void require_replica_matches(const std::string& db_path, const std::string& url, const std::string& host_id) {
  const auto differences = replica_differences(db_path, url, host_id);
  INFO("host " << host_id << ": PostgreSQL differs from " << db_path << ":" << shown_differences(differences));
  REQUIRE(differences.empty());
}

// As require_replica_matches, and the test goes on (for many hosts).
inline void check_replica_matches(const std::string& db_path, const std::string& url, const std::string& host_id) {
  const auto differences = replica_differences(db_path, url, host_id);
  INFO("host " << host_id << ": PostgreSQL differs from " << db_path << ":" << shown_differences(differences));
  CHECK(differences.empty());
}

// "Nothing twice, nothing missing": every shipped event counted once
// (hosts.events_shipped is the host's events in PostgreSQL, pruned or not),
// and every event of the file's history either in PostgreSQL or counted as
// missed: their sum is the file's highest event id (ids are dense: a write
// that fails takes none).
inline void require_each_event_once(const std::string& db_path, const std::string& url, const std::string& host_id) {
  PgReader postgresql(url);
  const auto row = postgresql.rows(
      "SELECT h.events_shipped, h.missed_events, (SELECT count(*) FROM hotstate.audit_events AS e"
      " WHERE e.host_id = h.host_id), (SELECT count(DISTINCT id) FROM hotstate.audit_events AS e"
      " WHERE e.host_id = h.host_id) FROM hotstate.hosts AS h WHERE h.host_id = $1",
      {host_id});
  REQUIRE(row.size() == 1);
  const long long events_shipped = std::stoll(row[0][0].value());
  const long long missed = std::stoll(row[0][1].value());
  const long long held = std::stoll(row[0][2].value());
  FileReader file(db_path);
  const long long highest =
      std::stoll(file.scalar("SELECT ifnull((SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'), 0)"));
  INFO("host " << host_id << ": events_shipped " << events_shipped << ", events in PostgreSQL " << held
               << ", missed " << missed << ", the file's highest event id " << highest);
  CHECK(events_shipped == held);
  CHECK(held + missed == highest);
}


// Polls `condition` (every millisecond) until it holds or `timeout` passes;
// returns whether it holds. For conditions no call waits on: counters another
// thread or process moves.
template <class Condition>
bool eventually(Condition&& condition, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// ---------------------------------------------------------------------------
// A program started as a child process (the tool, hotstate_replication_child),
// its stdout read line by line as it comes and its stderr collected; killed
// with SIGKILL at the end if it still runs.
// ---------------------------------------------------------------------------
class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& argv_text) {
    std::vector<char*> argv;
    for (const auto& argument : argv_text) argv.push_back(const_cast<char*>(argument.c_str()));
    argv.push_back(nullptr);
    int out_pipe[2];
    int err_pipe[2];
    REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {  // only async-signal-safe calls until exec
      ::dup2(out_pipe[1], STDOUT_FILENO);
      ::dup2(err_pipe[1], STDERR_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    out_ = out_pipe[0];
    err_ = err_pipe[0];
    ::fcntl(err_, F_SETFL, ::fcntl(err_, F_GETFL) | O_NONBLOCK);
  }
  ~ChildProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) ::close(out_);
    if (err_ >= 0) ::close(err_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // The next line of its stdout; nullopt at its end or after `timeout`
  // without one.
  std::optional<std::string> next_line(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buffer_.find('\n') == std::string::npos) {
      collect_err();
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0 || out_ < 0) return std::nullopt;
      pollfd fds[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
      if (::poll(fds, err_ >= 0 ? 2 : 1, static_cast<int>(std::min<long long>(left, 1000))) <= 0) continue;
      if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char chunk[4096];
      const ssize_t n = ::read(out_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(out_);
        out_ = -1;
        return std::nullopt;
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
    const std::size_t end = buffer_.find('\n');
    std::string line = buffer_.substr(0, end);
    buffer_.erase(0, end + 1);
    return line;
  }

  // Sends `signal` and waits for the end; returns the exit code, or -1 when
  // it did not exit by itself (a signal).
  int stop(int signal) {
    ::kill(pid_, signal);
    return wait();
  }
  // Waits for the end (its stdout is read meanwhile, so that it never blocks
  // on a full pipe); as stop.
  int wait() {
    while (next_line(std::chrono::seconds(600))) {
    }
    int status = 0;
    REQUIRE(::waitpid(pid_, &status, 0) == pid_);
    pid_ = -1;
    collect_err();
    signal_ = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  int signal() const { return signal_; }
  // What it wrote on stderr so far.
  const std::string& err() {
    collect_err();
    return err_text_;
  }

 private:
  void collect_err() {
    if (err_ < 0) return;
    char chunk[4096];
    while (true) {
      const ssize_t n = ::read(err_, chunk, sizeof chunk);
      if (n > 0) {
        err_text_.append(chunk, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) {
        ::close(err_);
        err_ = -1;
      }
      return;
    }
  }

  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
  int signal_ = 0;
  std::string buffer_;
  std::string err_text_;
};

}  // namespace hotstate_test

#endif  // HOTSTATE_REPLICATION_WORKLOAD_ONLY
