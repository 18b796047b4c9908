// The audit log: what the engine records with each change, what a host
// records, the rules that keep it append-only, the retention prune, the
// query API, and the audit checks of verify.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "model/sha3.hpp"
#include "support.hpp"

using hotstate::AuditEvent;
using hotstate::AuditOrder;
using hotstate::AuditPrune;
using hotstate::AuditQuery;
using hotstate::ErrorCode;
using hotstate::Json;
using hotstate::PluginState;
using hotstate::ReloadEvent;
using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate_test::error_code_of;
using hotstate_test::file_options;
using hotstate_test::RawDb;
using hotstate_test::TempDir;
using hotstate_test::versioned;

namespace {

// A clock the test moves by hand: every call returns the current value.
struct ScriptedClock {
  std::shared_ptr<std::atomic<std::int64_t>> now = std::make_shared<std::atomic<std::int64_t>>(1'700'000'000'000'000);
  std::function<std::int64_t()> function() const {
    return [now = now] { return now->load(); };
  }
  void advance(std::int64_t us) const { now->fetch_add(us); }
  std::int64_t value() const { return now->load(); }
};

hotstate::Options clocked_options(const std::string& path, const ScriptedClock& clock, std::size_t max_history = 10) {
  hotstate::Options options = file_options(path, max_history);
  options.clock = clock.function();
  return options;
}

std::vector<AuditEvent> all_events(const StateManager& manager) {
  AuditQuery query;
  query.order = AuditOrder::OldestFirst;
  query.limit = 0;
  return manager.audit_events(query);
}

std::vector<std::string> kinds_of(const std::vector<AuditEvent>& events) {
  std::vector<std::string> kinds;
  for (const auto& event : events) kinds.push_back(event.kind);
  return kinds;
}

// A field of an event's detail, as canonical JSON text ("null" when missing).
std::string field(const AuditEvent& event, const std::string& key) {
  const auto members = event.detail_json().get<std::map<std::string, Json>>();
  const auto found = members.find(key);
  return found == members.end() ? "null" : found->second.text();
}

std::string json_string(const std::string& text) { return "\"" + text + "\""; }

// The content hash hotstate records: SHA3-256 of the stored data and metadata texts.
std::string content_hash_of(RawDb& raw, std::uint64_t seq) {
  const std::string where = " FROM snapshots WHERE seq = " + std::to_string(seq);
  return hotstate::internal::sha3_256_hex(raw.query("SELECT data" + where), raw.query("SELECT metadata" + where));
}

}  // namespace

TEST_CASE("audit_kinds lists the schema's kinds, and reload_event_kind reads each ReloadEvent name back", "[audit]") {
  TempDir dir;
  const auto path = dir.file("kinds.db");
  { StateManager manager(file_options(path)); }
  const auto schema_kinds = [&](const std::string& where) {
    return RawDb(path).query("SELECT group_concat(kind, ',') FROM (SELECT kind FROM audit_kinds " + where +
                             " ORDER BY kind)");
  };
  const auto joined_sorted = [](std::vector<std::string> kinds) {
    std::sort(kinds.begin(), kinds.end());
    std::string text;
    for (const auto& kind : kinds) text += (text.empty() ? "" : ",") + kind;
    return text;
  };
  const auto all = hotstate::audit_kinds();
  CHECK(joined_sorted({all.begin(), all.end()}) == schema_kinds(""));
  std::vector<std::string> host_kinds;
  for (const ReloadEvent::Kind kind : hotstate::reload_event_kinds()) {
    host_kinds.emplace_back(hotstate::to_string(kind));
  }
  CHECK(host_kinds.size() == 8);
  CHECK(joined_sorted(host_kinds) == schema_kinds("WHERE source = 'host'"));

  for (const auto kind : {ReloadEvent::Kind::ReloadStarted, ReloadEvent::Kind::ReloadFailed, ReloadEvent::Kind::PluginRemoved}) {
    CHECK(hotstate::reload_event_kind(hotstate::to_string(kind)) == kind);
  }
  CHECK_FALSE(hotstate::reload_event_kind("RolledBack").has_value());  // hotstate's own, not a host's
  CHECK_FALSE(hotstate::reload_event_kind("reloadstarted").has_value());

  StateManager manager(file_options(path));
  ReloadEvent bogus;
  bogus.kind = static_cast<ReloadEvent::Kind>(99);
  bogus.plugin_id = "p";
  CHECK(hotstate::to_string(bogus.kind).empty());
  CHECK(error_code_of([&] { manager.record_event(bogus); }) == ErrorCode::InvalidArgument);
  AuditQuery everything;
  everything.plugin_id = "p";
  CHECK(manager.audit_events(everything).empty());
}

TEST_CASE("an audit event converts to JSON with its time as audit_log shows it and its detail embedded", "[audit]") {
  AuditEvent event{7, 1'764'041'634'272'233, "p", "RollbackTriggered", R"({"reason":"tests"})"};
  CHECK(Json::from(event).text() ==
        R"({"detail":{"reason":"tests"},"id":7,"kind":"RollbackTriggered","plugin_id":"p",)"
        R"("time":"2025-11-25T03:33:54.272233Z","time_us":1764041634272233})");
  event.detail = "not json";  // text another client stored
  CHECK(Json::from(event).text().find(R"("detail":"not json")") != std::string::npos);
  CHECK(Json::from(std::vector<AuditEvent>{event, event}).type() == hotstate::JsonType::Array);
}

TEST_CASE("every save, rollback, clear and clear_all is recorded with its details", "[audit]") {
  TempDir dir;
  ScriptedClock clock;
  StateManager manager(clocked_options(dir.file("a.db"), clock));

  manager.save_snapshot(StateSnapshot("p", "1.0.0").with_data("n", 1).with_metadata("why", "test"));
  clock.advance(10);
  manager.save_snapshot(StateSnapshot("p", "1.1.0").with_data("n", 2));
  manager.save_snapshot(StateSnapshot("q", "3.0.0").with_data("n", 3));
  clock.advance(10);
  const auto restored = manager.rollback("p");
  REQUIRE(restored);
  manager.clear("q");
  manager.save_snapshot(StateSnapshot("r", "1.0.0"));
  manager.clear_all();
  manager.clear("never-saved");  // no effect, no event
  manager.clear_all();           // nothing left: no event

  const auto events = all_events(manager);
  CHECK(kinds_of(events) == std::vector<std::string>{"SnapshotSaved", "SnapshotSaved", "SnapshotSaved", "RolledBack",
                                                      "Cleared", "SnapshotSaved", "ClearedAll"});
  const AuditEvent& first = events.at(0);
  CHECK(first.plugin_id == "p");
  CHECK(first.time_us == 1'700'000'000'000'000);
  CHECK(field(first, "seq") == "1");
  CHECK(field(first, "plugin_version") == json_string("1.0.0"));
  CHECK(field(first, "size") == std::to_string(std::string(R"({"n":1})").size() + std::string(R"({"why":"test"})").size()));
  CHECK(field(first, "content_hash") ==
        json_string(hotstate::internal::sha3_256_hex(R"({"n":1})", R"({"why":"test"})")));
  CHECK(events.at(1).time_us == 1'700'000'000'000'010);
  CHECK(events.at(3).plugin_id == "p");
  CHECK(field(events.at(3), "from_seq") == "2");
  CHECK(field(events.at(3), "to_seq") == "1");
  CHECK(events.at(3).time_us == 1'700'000'000'000'020);
  CHECK(events.at(4).plugin_id == "q");
  CHECK(field(events.at(4), "rows") == "1");
  CHECK(field(events.at(4), "newest_seq") == "3");
  CHECK(events.at(6).plugin_id.empty());
  CHECK(field(events.at(6), "rows") == "2");
  CHECK(field(events.at(6), "plugins") == "2");
  for (std::size_t i = 1; i < events.size(); ++i) CHECK(events[i].id > events[i - 1].id);
  CHECK(manager.verify().ok);
}

TEST_CASE("each row the history bound trims is recorded with its seq and content hash", "[audit]") {
  TempDir dir;
  const std::string path = dir.file("a.db");
  std::vector<std::string> hashes;
  {
    StateManager manager(file_options(path, 1));
    RawDb raw(path);
    for (int i = 1; i <= 4; ++i) {
      manager.save_snapshot(versioned("p", i));
      hashes.push_back(content_hash_of(raw, static_cast<std::uint64_t>(i)));
    }
    AuditQuery query;
    query.kinds = {"HistoryTrimmed"};
    query.order = AuditOrder::OldestFirst;
    const auto trimmed = manager.audit_events(query);
    REQUIRE(trimmed.size() == 2);
    CHECK(field(trimmed[0], "seq") == "1");
    CHECK(field(trimmed[0], "content_hash") == json_string(hashes[0]));
    CHECK(field(trimmed[1], "seq") == "2");
    CHECK(field(trimmed[1], "content_hash") == json_string(hashes[1]));
    // The save comes first, then what it trimmed.
    const auto events = all_events(manager);
    CHECK(kinds_of(events) == std::vector<std::string>{"SnapshotSaved", "SnapshotSaved", "SnapshotSaved",
                                                        "HistoryTrimmed", "SnapshotSaved", "HistoryTrimmed"});
  }
  // Lowering the bound trims at once, and records that too.
  StateManager manager(file_options(path));
  CHECK(manager.set_max_history(0) == 1);
  AuditQuery query;
  query.kinds = {"HistoryTrimmed"};
  const auto newest = manager.audit_events(query).at(0);
  CHECK(field(newest, "seq") == "3");
  CHECK(field(newest, "content_hash") == json_string(hashes[2]));
  CHECK(manager.verify().ok);
}

TEST_CASE("a row another client inserts is audited too, without a content hash", "[audit]") {
  TempDir dir;
  const std::string path = dir.file("a.db");
  StateManager manager(file_options(path));
  RawDb raw(path);
  raw.exec("INSERT INTO snapshots (plugin_id, plugin_version, data) VALUES ('shell', '9.9.9', '{\"k\":1}')");
  const auto events = all_events(manager);
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == "SnapshotSaved");
  CHECK(events[0].plugin_id == "shell");
  CHECK(field(events[0], "plugin_version") == json_string("9.9.9"));
  CHECK(field(events[0], "content_hash") == "null");
  // Setting the hash hotstate would compute makes the row fully checked.
  raw.exec("UPDATE snapshots SET content_hash = '" + content_hash_of(raw, 1) + "'");
  CHECK(manager.verify().ok);
}

TEST_CASE("a current snapshot deleted with SQL is recorded; rollback, clear, clear_all and the trim record only "
          "their own events",
          "[audit][sql]") {
  TempDir dir;
  const auto path = dir.file("deleted.db");
  StateManager manager(file_options(path, 2));
  for (int version = 1; version <= 4; ++version) manager.save_snapshot(versioned("p", version));  // trims one
  manager.save_snapshot(versioned("q", 1));
  manager.save_snapshot(versioned("q", 2));
  manager.save_snapshot(versioned("r", 1));
  RawDb shell(path);
  const auto deleted_events = [&] { return shell.query_int("SELECT count(*) FROM audit_events WHERE kind = 'SnapshotDeleted'"); };
  CHECK(deleted_events() == 0);

  manager.rollback("p");
  manager.clear("q");
  CHECK(deleted_events() == 0);

  // A history row: not recorded (no current snapshot changed).
  shell.exec("DELETE FROM snapshots WHERE seq = (SELECT min(seq) FROM snapshots WHERE plugin_id = 'p')");
  CHECK(deleted_events() == 0);
  // A current row: recorded, with its seq and content hash.
  const std::string seq = shell.query("SELECT max(seq) FROM snapshots WHERE plugin_id = 'p'");
  const std::string hash = shell.query("SELECT content_hash FROM snapshots WHERE seq = " + seq);
  shell.exec("DELETE FROM snapshots WHERE seq = " + seq);
  CHECK(shell.query("SELECT plugin_id || ' ' || kind || ' ' || (detail ->> '$.seq') || ' ' || (detail ->> '$.content_hash')"
                    " FROM audit_events ORDER BY id DESC LIMIT 1") == "p SnapshotDeleted " + seq + " " + hash);
  CHECK(manager.load_snapshot("p") == nullptr);
  // A plugin's every row in one statement: its last (current) row is recorded.
  shell.exec("DELETE FROM snapshots WHERE plugin_id = 'r'");
  CHECK(deleted_events() == 2);

  manager.save_snapshot(versioned("s", 1));
  manager.clear_all();
  CHECK(deleted_events() == 2);
}

TEST_CASE("audit events cannot be changed or deleted with SQL", "[audit]") {
  TempDir dir;
  const std::string path = dir.file("a.db");
  StateManager manager(file_options(path));
  manager.save_snapshot(versioned("p", 1));
  manager.record_event(ReloadEvent::plugin_discovered("p"));
  RawDb raw(path);
  const std::string before = raw.query("SELECT group_concat(id || kind || detail, '|') FROM audit_events");

  CHECK(raw.try_exec("UPDATE audit_events SET detail = '{}'") != SQLITE_OK);
  CHECK_THAT(raw.last_error(), Catch::Contains("audit events cannot be changed"));
  CHECK(raw.try_exec("UPDATE audit_events SET time_us = 0 WHERE id = 1") != SQLITE_OK);
  CHECK(raw.try_exec("DELETE FROM audit_events") != SQLITE_OK);
  CHECK_THAT(raw.last_error(), Catch::Contains("except by a retention prune"));
  CHECK(raw.try_exec("DELETE FROM audit_events WHERE id = 2") != SQLITE_OK);
  CHECK(raw.try_exec("INSERT INTO audit_events (kind) VALUES ('NoSuchKind')") != SQLITE_OK);
  CHECK_THAT(raw.last_error(), Catch::Contains("unknown audit event kind"));
  CHECK(raw.try_exec("INSERT INTO audit_events (kind, detail) VALUES ('PluginRemoved', '[1]')") != SQLITE_OK);

  CHECK(raw.query("SELECT group_concat(id || kind || detail, '|') FROM audit_events") == before);
}

TEST_CASE("the retention prune removes old events, keeps what accounts for existing snapshots, and audits itself",
          "[audit][prune]") {
  TempDir dir;
  const std::string path = dir.file("a.db");
  ScriptedClock clock;
  StateManager manager(clocked_options(path, clock, 1));
  // Times 0..9 s: p saved three times (the first trimmed), ten host events.
  for (int i = 0; i < 10; ++i) {
    if (i < 3) manager.save_snapshot(versioned("p", i));
    manager.record_event(ReloadEvent::state_preserved("p").with("i", i));
    clock.advance(1'000'000);
  }
  const auto before = all_events(manager);
  const std::int64_t t0 = 1'700'000'000'000'000;

  CHECK(error_code_of([&] { manager.prune_audit(AuditPrune{}); }) == ErrorCode::InvalidArgument);

  // Older than t0 + 5 s: the events of seconds 0..4 go, except the
  // SnapshotSaved events of seq 2 and 3 (their rows exist).
  AuditPrune by_time;
  by_time.older_than_us = t0 + 5'000'000;
  const std::uint64_t removed = manager.prune_audit(by_time);
  std::uint64_t expected = 0;
  for (const auto& event : before) {
    const bool kept_saved = event.kind == "SnapshotSaved" && (field(event, "seq") == "2" || field(event, "seq") == "3");
    if (event.time_us < t0 + 5'000'000 && !kept_saved) ++expected;
  }
  CHECK(removed == expected);
  auto after = all_events(manager);
  CHECK(after.size() == before.size() - removed + 1);
  const AuditEvent& pruned = after.back();
  CHECK(pruned.kind == "AuditPruned");
  CHECK(pruned.plugin_id.empty());
  CHECK(field(pruned, "before_us") == std::to_string(t0 + 5'000'000));
  CHECK(field(pruned, "deleted") == std::to_string(removed));
  for (const auto& event : after) {
    if (event.kind == "SnapshotSaved") CHECK((field(event, "seq") == "2" || field(event, "seq") == "3"));
    if (event.kind == "StatePreserved") CHECK(event.time_us >= t0 + 5'000'000);
  }
  CHECK(manager.verify().ok);

  // Keep the newest 2: everything older goes but the prune events and the
  // saves of existing rows.
  AuditPrune by_count;
  by_count.keep_newest = 2;
  manager.prune_audit(by_count);
  after = all_events(manager);
  CHECK(kinds_of(after) == std::vector<std::string>{"SnapshotSaved", "SnapshotSaved", "StatePreserved", "AuditPruned",
                                                     "AuditPruned"});
  CHECK(manager.verify().ok);

  // A prune inserted in the shell follows the same rules.
  RawDb raw(path);
  raw.exec("INSERT INTO audit_events (kind, detail) VALUES ('AuditPruned', json_object('before_id', 1000000))");
  CHECK(kinds_of(all_events(manager)) ==
        std::vector<std::string>{"SnapshotSaved", "SnapshotSaved", "AuditPruned", "AuditPruned", "AuditPruned"});
  // Once the prune is done, nothing it covered may be deleted by hand.
  manager.record_event(ReloadEvent::plugin_removed("p"));
  CHECK(raw.try_exec("DELETE FROM audit_events WHERE kind = 'PluginRemoved'") != SQLITE_OK);
}

TEST_CASE("a host's reload events are recorded with their details", "[audit]") {
  StateManager manager(hotstate_test::memory_options());
  using namespace std::chrono_literals;
  manager.record_event(ReloadEvent::plugin_discovered("p").with("path", "/plugins/p.so"));
  manager.record_event(ReloadEvent::reload_started("p"));
  manager.record_event(ReloadEvent::state_preserved("p"));
  manager.record_event(ReloadEvent::state_restored("p"));
  manager.record_event(ReloadEvent::reload_completed("p", true, 1500us));
  manager.record_event(ReloadEvent::reload_failed("p", "symbol not found", 2));
  manager.record_event(ReloadEvent::rollback_triggered("p", "health check failed"));
  manager.record_event(ReloadEvent::plugin_removed("p"));

  const auto events = all_events(manager);
  CHECK(kinds_of(events) == std::vector<std::string>{"PluginDiscovered", "ReloadStarted", "StatePreserved",
                                                      "StateRestored", "ReloadCompleted", "ReloadFailed",
                                                      "RollbackTriggered", "PluginRemoved"});
  CHECK(events[0].detail == R"({"path":"/plugins/p.so"})");
  CHECK(events[1].detail == "{}");
  CHECK(events[4].detail == R"({"duration_us":1500,"success":true})");
  CHECK(events[5].detail == R"({"attempt":2,"error":"symbol not found"})");
  CHECK(events[6].detail == R"({"reason":"health check failed"})");
  for (const auto& event : events) CHECK(event.plugin_id == "p");
  CHECK(to_string(ReloadEvent::Kind::RollbackTriggered) == "RollbackTriggered");
}

TEST_CASE("record_event refuses a bad plugin id and writes nothing", "[audit]") {
  hotstate::Options options = hotstate_test::memory_options();
  options.max_id_bytes = 8;
  StateManager manager(options);
  CHECK(error_code_of([&] { manager.record_event(ReloadEvent::plugin_removed("\xff")); }) == ErrorCode::InvalidUtf8);
  CHECK(error_code_of([&] { manager.record_event(ReloadEvent::plugin_removed("123456789")); }) == ErrorCode::TooLarge);
  CHECK(all_events(manager).empty());
}

TEST_CASE("a read-only StateManager refuses to record events and changes nothing", "[audit]") {
  TempDir dir;
  const std::string path = dir.file("a.db");
  { StateManager(file_options(path)).record_event(ReloadEvent::plugin_discovered("p")); }
  hotstate::Options options = file_options(path);
  options.read_only = true;
  StateManager reader(options);
  CHECK(error_code_of([&] { reader.record_event(ReloadEvent::plugin_removed("p")); }) == ErrorCode::ReadOnly);
  CHECK(error_code_of([&] { reader.set_plugin_state("p", PluginState::Running); }) == ErrorCode::ReadOnly);
  CHECK(error_code_of([&] { reader.prune_audit(AuditPrune{0, std::nullopt}); }) == ErrorCode::ReadOnly);
  CHECK(all_events(reader).size() == 1);
}

TEST_CASE("a save that fails inside SQLite records no audit event either", "[audit]") {
  TempDir dir;
  const std::string path = dir.file("a.db");
  StateManager manager(file_options(path));
  manager.save_snapshot(versioned("p", 1));
  RawDb raw(path);
  // The save's audit event now has a kind the log does not know: the
  // trigger that writes it fails, after the snapshot row was inserted.
  raw.exec("DELETE FROM audit_kinds WHERE kind = 'SnapshotSaved'");
  CHECK(error_code_of([&] { manager.save_snapshot(versioned("p", 2)); }) == ErrorCode::Constraint);
  CHECK(error_code_of([&] { manager.begin_reload(versioned("p", 3), "2.0.0"); }) == ErrorCode::Constraint);
  CHECK(raw.query_int("SELECT count(*) FROM snapshots") == 1);
  CHECK(raw.query_int("SELECT count(*) FROM audit_events") == 1);
  CHECK(raw.query_int("SELECT count(*) FROM reloads") == 0);
  CHECK(manager.load_snapshot("p")->get<int>("version") == 1);
}

TEST_CASE("audit_events filters by plugin, kind and time, in either order, with a limit", "[audit][query]") {
  TempDir dir;
  ScriptedClock clock;
  StateManager manager(clocked_options(dir.file("a.db"), clock));
  const std::int64_t t0 = clock.value();
  for (int i = 0; i < 6; ++i) {
    const std::string plugin = i % 2 == 0 ? "even" : "odd";
    manager.record_event(ReloadEvent::reload_started(plugin).with("i", i));
    manager.record_event(ReloadEvent::reload_completed(plugin, i != 3, std::chrono::microseconds(i)));
    clock.advance(1'000'000);
  }
  AuditQuery query;
  query.limit = 0;
  CHECK(manager.audit_events(query).size() == 12);
  CHECK(manager.audit_events(query).front().id > manager.audit_events(query).back().id);  // newest first

  query.plugin_id = "odd";
  CHECK(manager.audit_events(query).size() == 6);
  query.kinds = {"ReloadCompleted"};
  auto events = manager.audit_events(query);
  REQUIRE(events.size() == 3);
  CHECK(field(events[0], "duration_us") == "5");
  query.order = AuditOrder::OldestFirst;
  query.limit = 2;
  events = manager.audit_events(query);
  REQUIRE(events.size() == 2);
  CHECK(field(events[0], "duration_us") == "1");
  CHECK(field(events[1], "success") == "false");

  AuditQuery window;
  window.since_us = t0 + 2'000'000;
  window.until_us = t0 + 4'000'000;
  window.kinds = {"ReloadStarted", "ReloadCompleted"};
  window.order = AuditOrder::OldestFirst;
  events = manager.audit_events(window);
  REQUIRE(events.size() == 4);
  CHECK(field(events[0], "i") == "2");
  CHECK(events[3].time_us == t0 + 3'000'000);

  AuditQuery nobody;
  nobody.plugin_id = "nobody";
  CHECK(manager.audit_events(nobody).empty());
  AuditQuery default_query;
  CHECK(manager.audit_events(default_query).size() == 12);  // limit 100 by default
}

TEST_CASE("the audit_log view shows each event with an ISO-8601 time", "[audit][sql]") {
  TempDir dir;
  const std::string path = dir.file("a.db");
  ScriptedClock clock;
  clock.now->store(1'764'041'634'272'233);  // 2025-11-25T03:33:54.272233Z
  StateManager manager(clocked_options(path, clock));
  manager.record_event(ReloadEvent::rollback_triggered("p", "tests"));
  RawDb raw(path);
  CHECK(raw.query("SELECT time || ' ' || plugin_id || ' ' || kind || ' ' || detail FROM audit_log") ==
        R"(2025-11-25T03:33:54.272233Z p RollbackTriggered {"reason":"tests"})");
}

TEST_CASE("plugin_state is Unloaded until set, survives reopening, and each change is audited", "[lifecycle]") {
  TempDir dir;
  const std::string path = dir.file("a.db");
  {
    StateManager manager(file_options(path));
    CHECK(manager.plugin_state("p") == PluginState::Unloaded);
    manager.set_plugin_state("p", PluginState::Loading);
    manager.set_plugin_state("p", PluginState::Running);
    manager.set_plugin_state("p", PluginState::Running);  // no change, no event
    manager.set_plugin_state("p", PluginState::failed("dlopen: undefined symbol"));
    manager.set_plugin_state("other", PluginState::Loaded);
    CHECK(manager.plugin_state("p") == PluginState::failed("dlopen: undefined symbol"));
  }
  StateManager manager(file_options(path));
  CHECK(manager.plugin_state("p") == PluginState::failed("dlopen: undefined symbol"));
  CHECK(manager.plugin_state("p").to_string() == "Failed: dlopen: undefined symbol");
  CHECK(manager.plugin_state("other") == PluginState::Loaded);
  AuditQuery query;
  query.plugin_id = "p";
  query.order = AuditOrder::OldestFirst;
  const auto events = manager.audit_events(query);
  REQUIRE(events.size() == 3);
  CHECK(events[0].detail == R"({"from":"Unloaded","to":"Loading","reason":""})");
  CHECK(events[1].detail == R"({"from":"Loading","to":"Running","reason":""})");
  CHECK(events[2].detail == R"({"from":"Running","to":"Failed","reason":"dlopen: undefined symbol"})");

  // A state set in the shell is audited the same way.
  RawDb raw(path);
  raw.exec("UPDATE plugin_states SET state = 'Unloading', reason = '' WHERE plugin_id = 'other'");
  CHECK(manager.plugin_state("other") == PluginState::Unloading);
  query.plugin_id = "other";
  CHECK(manager.audit_events(query).back().detail == R"({"from":"Loaded","to":"Unloading","reason":""})");
  CHECK(raw.try_exec("UPDATE plugin_states SET state = 'Exploded'") != SQLITE_OK);
  CHECK(raw.try_exec("UPDATE plugin_states SET reason = 'x' WHERE plugin_id = 'other'") != SQLITE_OK);
  CHECK(error_code_of([&] { manager.set_plugin_state("p", PluginState::failed("\xc3")); }) == ErrorCode::InvalidUtf8);
}

TEST_CASE("verify finds snapshot rows deleted, changed or re-hashed outside hotstate", "[audit][verify]") {
  TempDir dir;
  const std::string path = dir.file("a.db");
  StateManager manager(file_options(path, 2));
  for (int i = 1; i <= 4; ++i) manager.save_snapshot(versioned("p", i));
  manager.save_snapshot(versioned("q", 1));
  manager.rollback("p");
  REQUIRE(manager.verify().ok);

  RawDb raw(path);
  SECTION("an edit with SQL is recorded, so verify accepts it") {
    raw.exec("UPDATE snapshots SET data = '{\"version\":99}' WHERE seq = 2");
    AuditQuery query;
    query.kinds = {"SnapshotEdited"};
    const auto edited = manager.audit_events(query);
    REQUIRE(edited.size() == 1);
    CHECK(field(edited[0], "seq") == "2");
    CHECK(raw.query("SELECT content_hash IS NULL FROM snapshots WHERE seq = 2") == "1");
    CHECK(manager.verify().ok);
  }
  SECTION("a row deleted with SQL is reported") {
    raw.exec("DELETE FROM snapshots WHERE seq = 5");
    const auto report = manager.verify();
    REQUIRE_FALSE(report.ok);
    CHECK_THAT(report.problems.at(0), Catch::Contains("snapshot seq 5 of 'q' is gone with no event"));
  }
  SECTION("a content hash that does not match is reported") {
    raw.exec("UPDATE snapshots SET content_hash = '" + hotstate::internal::sha3_256_hex("forged") + "' WHERE seq = 3");
    const auto report = manager.verify();
    REQUIRE(report.problems.size() == 2);
    CHECK_THAT(report.problems[0], Catch::Contains("seq 3 does not match its content_hash"));
    CHECK_THAT(report.problems[1], Catch::Contains("differs from what its SnapshotSaved event recorded"));
  }
  SECTION("a dropped audit trigger is reported") {
    raw.exec("DROP TRIGGER audit_events_append_only");
    const auto report = manager.verify();
    REQUIRE_FALSE(report.ok);
    CHECK_THAT(report.problems.at(0), Catch::Contains("audit_events_append_only on audit_events is missing"));
  }
}

TEST_CASE("threads saving and recording events concurrently leave a consistent audit log", "[audit][threads]") {
  TempDir dir;
  StateManager manager(file_options(dir.file("a.db"), 3));
  constexpr int threads = 4;
  constexpr int rounds = 100;
  std::atomic<std::size_t> rollbacks{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&manager, &rollbacks, t] {
      const std::string plugin = "p" + std::to_string(t % 2);
      for (int i = 0; i < rounds; ++i) {
        manager.save_snapshot(versioned(plugin, i));
        manager.record_event(ReloadEvent::state_preserved(plugin).with("thread", t));
        if (i % 10 == 9 && manager.rollback(plugin)) ++rollbacks;
        if (i % 25 == 24) manager.set_plugin_state(plugin, i % 50 == 49 ? PluginState::Running : PluginState::Reloading);
      }
    });
  }
  for (auto& worker : workers) worker.join();
  AuditQuery query;
  query.limit = 0;
  query.kinds = {"SnapshotSaved"};
  CHECK(manager.audit_events(query).size() == threads * rounds);
  query.kinds = {"StatePreserved"};
  CHECK(manager.audit_events(query).size() == threads * rounds);
  query.kinds = {"RolledBack"};
  CHECK(manager.audit_events(query).size() == rollbacks.load());
  const auto report = manager.verify();
  INFO((report.problems.empty() ? std::string() : report.problems.front()));
  CHECK(report.ok);
}

TEST_CASE("short_detail shows an event's detail without its content hash, and never throws", "[audit]") {
  hotstate::AuditEvent event;
  event.detail = R"({"content_hash":"ab12","seq":7,"size":3})";
  CHECK(event.short_detail() == R"({"seq":7,"size":3})");
  event.detail = "not json";  // only possible for rows other clients wrote
  CHECK(event.short_detail() == "not json");
  event.detail = "[1,2]";
  CHECK(event.short_detail() == "[1,2]");
}

TEST_CASE("format_time_us writes the audit_log view's time text", "[audit][time]") {
  RawDb sql(":memory:");
  for (const std::int64_t time_us : {std::int64_t{0}, std::int64_t{1}, std::int64_t{999999}, std::int64_t{1764000000123456},
                                     std::int64_t{253402300799999999}}) {
    INFO(time_us);
    const std::string t = std::to_string(time_us);
    CHECK(hotstate::format_time_us(time_us) ==
          sql.query("SELECT strftime('%Y-%m-%dT%H:%M:%S', " + t + " / 1000000, 'unixepoch') || printf('.%06dZ', " + t +
                    " % 1000000)"));
  }
  CHECK(hotstate::format_time_us(-1) == "1969-12-31T23:59:59.999999Z");
  const std::int64_t before = hotstate::now_us();
  CHECK(before > 1764000000000000);
  CHECK(hotstate::now_us() >= before);
}
