// hotstate report: the reload history as ONE self-contained HTML file.
// Built on the public API only (audit_events, snapshot, plugin_summaries,
// pins, plugin_state).
//
// The file holds everything it shows: a JSON blob in a
// <script type="application/json"> element (every '<' written as \u003c, so
// nothing in the data can end the element), inline CSS and a small
// hand-written inline script that renders it. A Content-Security-Policy
// forbids every load from elsewhere, so opening it never touches the network.
//
// Limits (stated in the page itself and in README.md):
//  - per plugin, the newest `max_events` events of the range are embedded
//    (--max-events, 1000 by default; 0: all); each plugin says how many older
//    ones it left out;
//  - the contents (data, metadata) and the diff of at most
//    kSnapshotsPerPlugin snapshots per plugin (the newest its embedded events
//    save or name), handed out round-robin across plugins until
//    kSnapshotBudgetBytes of snapshot text; at most kKeysPerSnapshot keys and
//    kValueBytes bytes per value are shown;
//  - the page renders kPluginsPerPage plugins and kItemsPerPage events per
//    plugin at a time (paging in the script over the embedded array), so the
//    page stays light whatever the file holds.
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "output.hpp"

namespace hotstate_tool {

namespace {

using hotstate::AuditEvent;
using hotstate::Json;
using hotstate::JsonType;
using hotstate::JsonWriter;
using hotstate::StateManager;
using Detail = std::map<std::string, Json>;

constexpr std::size_t kSnapshotsPerPlugin = 50;
constexpr std::size_t kKeysPerSnapshot = 200;
constexpr std::size_t kValueBytes = 2048;
constexpr std::size_t kSnapshotBudgetBytes = std::size_t{16} << 20;
constexpr int kPluginsPerPage = 20;
constexpr int kItemsPerPage = 50;

// The detail members that name a snapshot by its seq.
constexpr std::string_view kSeqMembers[] = {"seq", "to_seq", "from_seq", "snapshot_seq", "replaced_seq"};

// One plugin's events (or the database-wide ones, id "").
struct Lane {
  std::string id;
  std::vector<AuditEvent> events;              // every event of the range, oldest first
  std::vector<std::optional<Detail>> details;  // each event's detail, parsed (nullopt: not a JSON object)
  std::size_t first_shown = 0;                 // events before this index are left out
  // Each seq saved in the range -> the seq that was current when it was saved
  // (nullopt: none), told by replaying the events.
  std::map<std::uint64_t, std::optional<std::uint64_t>> replaced;
  std::vector<std::uint64_t> candidates;  // seqs whose contents to embed, newest first
};

std::optional<Detail> parse_detail(const AuditEvent& event) {
  try {
    const Json detail = event.detail_json();
    if (detail.type() != JsonType::Object) return std::nullopt;
    return detail.get<Detail>();
  } catch (const hotstate::Error&) {
    return std::nullopt;  // text another client stored: embedded as a string
  }
}

std::optional<std::uint64_t> detail_u64(const std::optional<Detail>& detail, std::string_view key) {
  if (!detail) return std::nullopt;
  const auto found = detail->find(std::string(key));
  if (found == detail->end()) return std::nullopt;
  return found->second.try_get<std::uint64_t>();
}

// Which snapshot each save of the range replaced as the plugin's current
// one: a plugin's current snapshot is its stored row with the highest seq,
// so the rows known to be stored are followed through saves, trims,
// rollbacks, deletes and clears. `seed`: the plugin's newest save before
// the range, when the range has a start.
void replay(Lane& lane, std::optional<std::uint64_t> seed, const std::vector<std::uint64_t>& cleared_all_ids) {
  std::set<std::uint64_t> stored;
  if (seed) stored.insert(*seed);
  std::size_t next_clear = 0;
  for (std::size_t i = 0; i < lane.events.size(); ++i) {
    const AuditEvent& event = lane.events[i];
    const auto& detail = lane.details[i];
    while (next_clear < cleared_all_ids.size() && cleared_all_ids[next_clear] < event.id) {
      stored.clear();
      ++next_clear;
    }
    if (event.kind == "SnapshotSaved") {
      if (const auto seq = detail_u64(detail, "seq")) {
        lane.replaced.emplace(*seq, stored.empty() ? std::nullopt : std::optional<std::uint64_t>(*stored.rbegin()));
        stored.insert(*seq);
      }
    } else if (event.kind == "HistoryTrimmed" || event.kind == "SnapshotDeleted") {
      if (const auto seq = detail_u64(detail, "seq")) stored.erase(*seq);
    } else if (event.kind == "RolledBack") {
      if (const auto from = detail_u64(detail, "from_seq")) stored.erase(*from);
      if (const auto to = detail_u64(detail, "to_seq"); to && *to != 0) stored.insert(*to);
    } else if (event.kind == "Cleared") {
      stored.clear();
    }
  }
}

// `text` cut to kValueBytes at a UTF-8 boundary, saying how long it was.
std::string cut_value(const std::string& text, std::size_t& values_cut) {
  if (text.size() <= kValueBytes) return text;
  ++values_cut;
  std::size_t end = kValueBytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "\u2026 (" + std::to_string(text.size()) + " bytes)";
}

// Counters of what the file leaves out, for the page's statement.
struct LeftOut {
  std::uint64_t events = 0;            // older events beyond the per-plugin cap
  std::size_t plugins_with_older = 0;  // plugins that left some out
  std::size_t contents = 0;            // saved snapshots of embedded events without contents
  std::size_t values_cut = 0;          // values longer than kValueBytes, shown cut
  std::size_t keys_not_listed = 0;     // keys beyond kKeysPerSnapshot (data, metadata or diff rows)
};

// The snapshot entry the page shows when `seq` is selected: contents, and
// the diff from the snapshot it replaced.
Json snapshot_entry(const StateManager& manager, const Lane& lane, std::uint64_t seq,
                    std::map<std::uint64_t, hotstate::SnapshotPtr>& loaded, LeftOut& left_out) {
  const auto load = [&](std::uint64_t which) {
    auto found = loaded.find(which);
    if (found == loaded.end()) found = loaded.emplace(which, manager.snapshot(lane.id, which)).first;
    return found->second;
  };
  JsonWriter out;
  out.begin_object();
  out.member("p", json_text(lane.id));
  hotstate::SnapshotPtr snapshot;
  try {
    snapshot = load(seq);
  } catch (const hotstate::Error& error) {
    out.member("status", "error");
    out.member("error", json_text(error.what()));
    out.end_object();
    return out.take();
  }
  if (!snapshot) {
    out.member("status", "gone");
    out.end_object();
    return out.take();
  }
  out.member("status", "stored");
  out.member("v", json_text(snapshot->plugin_version));
  out.member("ts", snapshot->timestamp);
  out.member("data_keys", static_cast<std::uint64_t>(snapshot->data.size()));
  out.key("data");
  out.begin_array();
  std::size_t listed = 0;
  for (const auto& [key, value] : snapshot->data) {
    if (listed++ == kKeysPerSnapshot) break;
    out.begin_array();
    out.string(json_text(key));
    out.string(cut_value(value.text(), left_out.values_cut));
    out.end_array();
  }
  out.end_array();
  if (snapshot->data.size() > kKeysPerSnapshot) left_out.keys_not_listed += snapshot->data.size() - kKeysPerSnapshot;
  out.member("meta_keys", static_cast<std::uint64_t>(snapshot->metadata.size()));
  out.key("meta");
  out.begin_array();
  listed = 0;
  for (const auto& [key, value] : snapshot->metadata) {
    if (listed++ == kKeysPerSnapshot) break;
    out.begin_array();
    out.string(json_text(key));
    out.string(cut_value(json_text(value), left_out.values_cut));
    out.end_array();
  }
  out.end_array();
  if (snapshot->metadata.size() > kKeysPerSnapshot) {
    left_out.keys_not_listed += snapshot->metadata.size() - kKeysPerSnapshot;
  }

  // What changed from the snapshot it replaced.
  const auto replaced = lane.replaced.find(seq);
  if (replaced == lane.replaced.end()) {
    out.member("prev_status", "unknown");  // not saved in the range: what it replaced is not told
    out.end_object();
    return out.take();
  }
  if (!replaced->second) {
    out.member("prev_status", "none");
    out.end_object();
    return out.take();
  }
  const std::uint64_t previous_seq = *replaced->second;
  out.member("prev", previous_seq);
  hotstate::SnapshotPtr previous;
  try {
    previous = load(previous_seq);
  } catch (const hotstate::Error& error) {
    out.member("prev_status", "error");
    out.member("prev_error", json_text(error.what()));
    out.end_object();
    return out.take();
  }
  if (!previous) {
    out.member("prev_status", "gone");
    out.end_object();
    return out.take();
  }
  out.member("prev_status", "stored");
  out.key("diff");
  out.begin_array();
  std::size_t rows = 0;
  std::size_t more = 0;
  const auto row = [&](std::string_view change, std::string_view section, const std::string& key,
                       const std::string* before, const std::string* after) {
    if (rows++ >= kKeysPerSnapshot) {
      ++more;
      return;
    }
    out.begin_array();
    out.string(change);
    out.string(section);
    out.string(json_text(key));
    if (before) {
      out.string(cut_value(*before, left_out.values_cut));
    } else {
      out.null();
    }
    if (after) {
      out.string(cut_value(*after, left_out.values_cut));
    } else {
      out.null();
    }
    out.end_array();
  };
  // Both sides are sorted by key: one merge pass each.
  const auto diff = [&](std::string_view section, const auto& before, const auto& after, const auto& text_of) {
    auto a = before.begin();
    auto b = after.begin();
    while (a != before.end() || b != after.end()) {
      if (b == after.end() || (a != before.end() && a->first < b->first)) {
        const std::string old_text = text_of(a->second);
        row("removed", section, a->first, &old_text, nullptr);
        ++a;
      } else if (a == before.end() || b->first < a->first) {
        const std::string new_text = text_of(b->second);
        row("added", section, b->first, nullptr, &new_text);
        ++b;
      } else {
        if (!(a->second == b->second)) {
          const std::string old_text = text_of(a->second);
          const std::string new_text = text_of(b->second);
          row("changed", section, a->first, &old_text, &new_text);
        }
        ++a;
        ++b;
      }
    }
  };
  diff("data", previous->data, snapshot->data, [](const Json& value) { return value.text(); });
  diff("metadata", previous->metadata, snapshot->metadata, [](const std::string& value) { return json_text(value); });
  out.end_array();
  if (more > 0) {
    out.member("diff_more", static_cast<std::uint64_t>(more));
    left_out.keys_not_listed += more;
  }
  out.end_object();
  return out.take();
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// 1234567 as "1,234,567".
std::string grouped(std::uint64_t n) {
  std::string digits = std::to_string(n);
  for (std::size_t i = digits.size(); i > 3; i -= 3) digits.insert(i - 3, ",");
  return digits;
}

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
  return grouped(n) + " " + std::string(n == 1 ? one : many);
}

// The page's style, script and skeleton. The script reads the JSON of
// #report-data and renders it; it writes every error it meets into #errors
// (window.onerror, and a try/catch around each render), never to the console.
constexpr std::string_view kStyle = R"CSS(
:root { --saved: #2b6cb0; --ok: #2f855a; --failed: #c53030; --open: #dd6b20; --rollback: #6b46c1;
  --restore: #2c7a7b; --migrate: #b7791f; --pin: #b83280; --state: #718096; --other: #a0aec0; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1a202c; background: #f7fafc; }
header.top { padding: 12px 20px; background: #1a202c; color: #edf2f7; }
header.top h1 { margin: 0 0 4px; font-size: 20px; }
header.top p { margin: 2px 0; font-size: 13px; color: #cbd5e0; }
header.top code { color: #fefcbf; }
#limits { color: #e2e8f0; }
#errors:empty { display: none; }
#errors { margin: 8px 20px; padding: 8px; border: 2px solid var(--failed); background: #fff5f5; color: var(--failed); white-space: pre-wrap; }
#bar { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; padding: 8px 20px; background: #edf2f7; border-bottom: 1px solid #cbd5e0; }
#bar input[type=search] { width: 220px; padding: 3px 6px; }
#legend { display: flex; flex-wrap: wrap; gap: 10px; font-size: 12px; }
#legend span.sw { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; vertical-align: -1px; }
#app { display: grid; grid-template-columns: minmax(0, 1fr) 400px; gap: 16px; padding: 12px 20px; align-items: start; }
#detail { position: sticky; top: 8px; background: #fff; border: 1px solid #cbd5e0; border-radius: 6px; padding: 10px 12px; max-height: calc(100vh - 16px); overflow: auto; }
#detail h2 { margin: 0 0 4px; font-size: 16px; }
#detail h3 { margin: 12px 0 4px; font-size: 14px; }
.hint { color: #4a5568; }
.status { font-weight: 600; }
.status.gone, .status.error { color: var(--failed); }
table.kv { border-collapse: collapse; width: 100%; font-size: 12px; }
table.kv th, table.kv td { border-top: 1px solid #e2e8f0; padding: 2px 4px; text-align: left; vertical-align: top; }
table.kv th { font-weight: 600; white-space: nowrap; }
table.kv td.v { font-family: ui-monospace, "DejaVu Sans Mono", monospace; word-break: break-all; }
tr.ch-added td.sign { color: var(--ok); }
tr.ch-removed td.sign { color: var(--failed); }
tr.ch-changed td.sign { color: var(--migrate); }
tr.ch-added { background: #f0fff4; } tr.ch-removed { background: #fff5f5; } tr.ch-changed { background: #fffff0; }
.pager { display: flex; gap: 8px; align-items: center; font-size: 12px; color: #4a5568; margin: 4px 0; }
.pager button { font-size: 12px; }
section.plugin { background: #fff; border: 1px solid #cbd5e0; border-radius: 6px; padding: 8px 10px; margin-bottom: 12px; }
.lane-head { display: flex; flex-wrap: wrap; gap: 10px; align-items: baseline; }
.lane-head h2 { margin: 0; font-size: 15px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.facts { font-size: 12px; color: #4a5568; }
.badge-failed { color: #fff; background: var(--failed); border-radius: 3px; padding: 0 5px; font-size: 12px; }
.state { font-size: 12px; border-radius: 3px; padding: 0 5px; background: #e2e8f0; }
.st-Running, .st-Loaded { background: #c6f6d5; } .st-Failed { background: #fed7d7; color: var(--failed); }
.st-Loading, .st-Reloading { background: #fefcbf; }
p.older { margin: 2px 0; font-size: 12px; color: #975a16; }
.strip { position: relative; height: 30px; margin: 6px 0; background: #f7fafc; border: 1px solid #e2e8f0; border-radius: 3px; }
.band { position: absolute; left: 0; right: 0; bottom: 0; height: 5px; }
.band span { position: absolute; top: 0; bottom: 0; }
.band .b-Running, .band .b-Loaded { background: #9ae6b4; } .band .b-Failed { background: #feb2b2; }
.band .b-Loading, .band .b-Reloading { background: #faf089; } .band .b-Unloaded, .band .b-Unloading { background: #e2e8f0; }
.mk { position: absolute; top: 3px; height: 18px; min-width: 4px; margin-left: -2px; border-radius: 2px; background: var(--other); opacity: 0.85; cursor: pointer; display: block; }
.mk:hover { opacity: 1; outline: 1px solid #1a202c; }
.k-SnapshotSaved { --c: var(--saved); } .k-Reload { --c: var(--ok); } .k-RolledBack { --c: var(--rollback); }
.k-Restored { --c: var(--restore); } .k-StateMigrated { --c: var(--migrate); } .k-Pinned, .k-Unpinned { --c: var(--pin); }
.k-PluginStateChanged { --c: var(--state); }
.mk.k-SnapshotSaved, .mk.k-Reload, .mk.k-RolledBack, .mk.k-Restored, .mk.k-StateMigrated, .mk.k-Pinned, .mk.k-Unpinned, .mk.k-PluginStateChanged { background: var(--c); }
.mk.k-SnapshotSaved { top: 7px; height: 10px; }
.mk.k-PluginStateChanged { top: 9px; height: 6px; }
.mk.o-unfinished { background: var(--open); }
.mk.o-failed { background: var(--failed); top: 0; height: 24px; min-width: 6px; opacity: 1; box-shadow: 0 0 0 1px #fff, 0 0 0 2px var(--failed); }
.axis { display: flex; justify-content: space-between; font-size: 11px; color: #718096; }
ol.items { list-style: none; margin: 4px 0; padding: 0; font-size: 12px; }
ol.items li { display: grid; grid-template-columns: 200px 130px minmax(0, 1fr); gap: 8px; padding: 2px 4px; border-left: 4px solid var(--c, var(--other)); border-top: 1px solid #edf2f7; }
ol.items li time { font-family: ui-monospace, "DejaVu Sans Mono", monospace; color: #4a5568; }
ol.items li .kind { font-weight: 600; color: var(--c, #4a5568); }
ol.items li[data-seq] { cursor: pointer; }
ol.items li[data-seq]:hover { background: #ebf8ff; }
ol.items li.flash { background: #fefcbf; }
ol.items li.selected { background: #bee3f8; }
ol.items li.is-failed { --c: var(--failed); background: #fff5f5; }
ol.items li.o-unfinished { --c: var(--open); }
span.failed { display: inline-block; margin-left: 6px; padding: 0 5px; border-radius: 3px; background: var(--failed); color: #fff; font-weight: 700; }
span.unfinished { display: inline-block; margin-left: 6px; padding: 0 5px; border-radius: 3px; background: var(--open); color: #fff; }
a.seq { color: var(--saved); }
.what .err { color: var(--failed); font-weight: 600; }
)CSS";

constexpr std::string_view kScript = R"JS(
(function () {
  "use strict";
  var errorsBox = document.getElementById("errors");
  function reportError(text) {
    var line = document.createElement("div");
    line.textContent = String(text);
    errorsBox.appendChild(line);
  }
  window.onerror = function (message, source, line) {
    reportError("error: " + message + (line ? " (line " + line + ")" : ""));
  };
  window.addEventListener("unhandledrejection", function (event) {
    reportError("unhandled rejection: " + event.reason);
  });

  function append(node, child) {
    if (child === undefined || child === null || child === false) return;
    if (Array.isArray(child)) {
      for (var i = 0; i < child.length; ++i) append(node, child[i]);
      return;
    }
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var value = attrs[name];
        if (value === undefined || value === null || value === false) return;
        if (name === "class") node.className = value;
        else if (name === "onclick") node.addEventListener("click", value);
        else if (name === "style") node.style.cssText = value;
        else node.setAttribute(name, String(value));
      });
    }
    append(node, children);
    return node;
  }
  function fmt(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function pad(n, width) { var s = String(n); while (s.length < width) s = "0" + s; return s; }
  function timeText(us) {
    var date = new Date(Math.floor(us / 1000));
    if (typeof us !== "number" || isNaN(date.getTime())) return String(us);
    return date.toISOString().slice(0, 19).replace("T", " ") + "." + pad(((us % 1000000) + 1000000) % 1000000, 6) + "Z";
  }
  function durationText(us) {
    if (typeof us !== "number") return "";
    if (us < 1000) return us + " \u00b5s";
    if (us < 1000000) return (us / 1000).toFixed(1) + " ms";
    return (us / 1000000).toFixed(2) + " s";
  }
  function text(value) { return typeof value === "string" ? value : JSON.stringify(value); }
  function seqLink(seq) {
    if (typeof seq !== "number") return "seq ?";
    return el("a", { href: "#seq=" + seq, "class": "seq" }, "seq " + seq);
  }

  var R = null;
  var lanes = [];
  var seqIndex = {};
  var view = { page: 0, filter: "", onlyFailed: false, itemPages: {}, selected: null, flash: null };

  // The events of one plugin as the items the page shows: a reload's
  // ReloadStarted, ReloadFailed and ReloadCompleted become one item.
  function buildLane(plugin, index) {
    var items = [];
    var open = [];
    function findOpen(rid, remove) {
      for (var i = open.length - 1; i >= 0; --i) {
        if (rid !== undefined && open[i].rid !== undefined && open[i].rid !== rid) continue;
        var found = open[i];
        if (remove) open.splice(i, 1);
        return found;
      }
      return null;
    }
    plugin.events.forEach(function (event) {
      var kind = R.kinds[event[2]] || "?";
      var raw = event[3];
      var d = raw !== null && typeof raw === "object" && !Array.isArray(raw) ? raw : {};
      if (kind === "ReloadStarted") {
        var started = { kind: "Reload", t: event[1], id: event[0], d: d, rid: d.reload_id, from: d.from_version,
                        to: d.to_version, seq: d.snapshot_seq, outcome: "unfinished" };
        items.push(started);
        open.push(started);
        return;
      }
      if (kind === "ReloadFailed" || kind === "ReloadCompleted") {
        var reload = findOpen(d.reload_id, kind === "ReloadCompleted");
        if (!reload) {
          reload = { kind: "Reload", t: event[1], id: event[0], d: d, rid: d.reload_id, outcome: "unfinished", nostart: true };
          items.push(reload);
          if (kind === "ReloadFailed") open.push(reload);
        }
        if (kind === "ReloadFailed") {
          reload.failed = true;
          reload.error = d.error;
          reload.attempt = d.attempt;
          reload.outcome = "failed";
        } else {
          reload.end = event[1];
          reload.dur = typeof d.duration_us === "number" ? d.duration_us : (reload.nostart ? undefined : event[1] - reload.t);
          reload.outcome = d.success === false || reload.failed ? "failed" : "completed";
        }
        return;
      }
      if (kind === "ReloadResolved") {
        var resolved = findOpen(d.reload_id, true);
        if (resolved) {
          resolved.outcome = "resolved";
          resolved.note = d.note;
        }
      }
      items.push({ kind: kind, t: event[1], id: event[0], d: d, raw: raw });
    });
    var lane = { p: plugin, index: index, items: items, failed: 0 };
    items.forEach(function (item, i) {
      if (item.kind === "Reload" && item.outcome === "failed") lane.failed += 1;
      if (item.kind === "SnapshotSaved" && typeof item.d.seq === "number") seqIndex[item.d.seq] = { lane: lane, item: i };
    });
    return lane;
  }

  var LABELS = { SnapshotSaved: "saved", Reload: "reload", RolledBack: "rolled back", Restored: "restored",
                 StateMigrated: "migrated", Pinned: "pinned", Unpinned: "unpinned", PluginStateChanged: "state",
                 HistoryTrimmed: "trimmed", ReloadResolved: "resolved" };
  function label(item) { return LABELS[item.kind] || item.kind; }

  function describe(item) {
    var d = item.d;
    switch (item.kind) {
      case "SnapshotSaved":
        return [seqLink(d.seq), " saved", d.plugin_version !== undefined ? ", version " + text(d.plugin_version) : "",
                typeof d.size === "number" ? ", " + fmt(d.size) + " bytes" : ""];
      case "Reload":
        var parts = ["reload" + (item.rid !== undefined ? " #" + item.rid : "")];
        if (item.from !== undefined || item.to !== undefined) parts.push(" " + text(item.from || "?") + " \u2192 " + text(item.to || "?"));
        if (typeof item.seq === "number") parts.push(", state ", seqLink(item.seq));
        if (item.nostart) parts.push(", started before this report's range");
        if (item.dur !== undefined) parts.push(", " + durationText(item.dur));
        if (item.outcome === "failed") {
          parts.push(": ", el("span", { "class": "err" }, "failed" + (item.error !== undefined ? ": " + text(item.error) : "")));
          if (item.attempt !== undefined) parts.push(" (attempt " + text(item.attempt) + ")");
        } else if (item.outcome === "completed") {
          parts.push(": completed");
        } else if (item.outcome === "resolved") {
          parts.push(": never finished, resolved" + (item.note ? " (" + text(item.note) + ")" : ""));
        } else {
          parts.push(": not finished");
        }
        return parts;
      case "RolledBack":
        return ["rolled back: ", seqLink(d.from_seq), " discarded, ", seqLink(d.to_seq), " current again"];
      case "Restored":
        return [seqLink(d.from_seq), " restored as ", seqLink(d.to_seq)];
      case "StateMigrated":
        return [seqLink(d.from_seq), " (" + text(d.from_version) + ") migrated to " + text(d.to_version) +
                (d.steps !== undefined ? " in " + text(d.steps) + " step(s)" : "")];
      case "Pinned":
        return [seqLink(d.seq), " pinned as \u201c" + text(d.label) + "\u201d",
                typeof d.replaced_seq === "number" ? [" (moved from ", seqLink(d.replaced_seq), ")"] : ""];
      case "Unpinned":
        return ["pin \u201c" + text(d.label) + "\u201d of ", seqLink(d.seq), " removed"];
      case "PluginStateChanged":
        return [text(d.from) + " \u2192 " + text(d.to) + (d.reason ? ": " + text(d.reason) : "")];
      case "HistoryTrimmed":
        return [seqLink(d.seq), " trimmed by the history bound"];
      case "SnapshotDeleted":
        return [seqLink(d.seq), " deleted with SQL"];
      case "SnapshotEdited":
        return [seqLink(d.seq), " changed with SQL"];
      case "Cleared":
        return ["cleared: " + text(d.rows) + " row(s)"];
      case "ReloadResolved":
        return ["reload #" + text(d.reload_id) + " resolved" + (d.note ? ": " + text(d.note) : "")];
      default:
        return [item.raw === undefined ? "" : text(item.raw)];
    }
  }
  function plainText(nodes) {
    var holder = el("span", null, nodes);
    return holder.textContent;
  }

  function visibleLanes() {
    var filter = view.filter.toLowerCase();
    return lanes.filter(function (lane) {
      if (view.onlyFailed && lane.failed === 0) return false;
      return filter === "" || lane.p.id.toLowerCase().indexOf(filter) >= 0;
    });
  }

  var STRIP_SLOTS = 200;
  function x(t) {
    var span = R.t1 - R.t0;
    if (!(span > 0)) return 50;
    return Math.max(0, Math.min(100, (t - R.t0) / span * 100));
  }

  // Turns the plugin's event list to the page that holds item `index`.
  function showItem(lane, index, flash) {
    var pages = Math.ceil(lane.items.length / R.limits.events_per_page);
    view.itemPages[lane.index] = Math.min(pages - 1, Math.floor((lane.items.length - 1 - index) / R.limits.events_per_page));
    view.flash = flash ? lane.items[index].id : null;
  }

  function renderStrip(lane) {
    var strip = el("div", { "class": "strip" });
    var band = el("div", { "class": "band" });
    var changes = lane.items.filter(function (item) { return item.kind === "PluginStateChanged"; });
    changes.forEach(function (change, i) {
      if (i === 0 && change.d.from) {
        band.appendChild(el("span", { "class": "b-" + change.d.from, style: "left:0;width:" + x(change.t) + "%" }));
      }
      var end = i + 1 < changes.length ? x(changes[i + 1].t) : 100;
      band.appendChild(el("span", { "class": "b-" + change.d.to, title: "state " + text(change.d.to),
                                    style: "left:" + x(change.t) + "%;width:" + Math.max(0, end - x(change.t)) + "%" }));
    });
    strip.appendChild(band);
    // A mark's tooltip is written when the pointer first comes over it.
    strip.addEventListener("mouseover", function (event) {
      var mark = event.target;
      if (!mark.hasAttribute("data-i") || mark.hasAttribute("title")) return;
      var item = lane.items[Number(mark.getAttribute("data-i"))];
      var count = Number(mark.getAttribute("data-n"));
      mark.setAttribute("title", (count > 1 ? fmt(count) + " events here, the newest: " : "") + timeText(item.t) + "  " +
                                 label(item) + ": " + plainText(describe(item)));
    });
    // Items of the same look closer than a mark is wide share one mark (the
    // newest of them): at most STRIP_SLOTS marks of each look per strip.
    var marks = [];
    var slots = {};
    lane.items.forEach(function (item, index) {
      var left = x(item.t);
      var cls = "mk k-" + item.kind + (item.kind === "Reload" ? " o-" + item.outcome : "");
      var width = item.kind === "Reload" && item.end !== undefined ? Math.max(0, x(item.end) - left) : 0;
      var key = width >= 100 / STRIP_SLOTS ? "wide " + index : Math.min(STRIP_SLOTS - 1, Math.floor(left / 100 * STRIP_SLOTS)) + " " + cls;
      var mark = slots[key];
      if (!mark) {
        mark = slots[key] = { cls: cls, count: 0 };
        marks.push(mark);
      }
      mark.count += 1;
      mark.item = item;
      mark.index = index;
      mark.left = left;
      mark.width = width;
    });
    marks.forEach(function (mark) {
      var item = mark.item;
      var index = mark.index;
      var attrs = { "class": mark.cls, style: "left:" + mark.left + "%" + (mark.width > 0 ? ";width:" + mark.width + "%" : ""),
                    "data-kind": item.kind, "data-i": index, "data-n": mark.count };
      if (item.kind === "SnapshotSaved" && typeof item.d.seq === "number") {
        attrs.href = "#seq=" + item.d.seq;
        strip.appendChild(el("a", attrs));
      } else {
        attrs.onclick = function () { showItem(lane, index, true); render(); };
        strip.appendChild(el("span", attrs));
      }
    });
    return [strip, el("div", { "class": "axis" }, [el("span", null, timeText(R.t0)), el("span", null, timeText(R.t1))])];
  }

  function renderItem(item) {
    var attrs = { "class": "item k-" + item.kind, "data-kind": item.kind, "data-event": item.id };
    if (item.kind === "Reload") {
      attrs["data-outcome"] = item.outcome;
      attrs["class"] += " o-" + item.outcome + (item.outcome === "failed" ? " is-failed" : "");
    }
    if (item.kind === "SnapshotSaved" && typeof item.d.seq === "number") {
      attrs["data-seq"] = item.d.seq;
      if (view.selected === item.d.seq) attrs["class"] += " selected";
      attrs.onclick = function (event) {
        if (event.target.tagName !== "A") location.hash = "seq=" + item.d.seq;
      };
    }
    if (view.flash === item.id) attrs["class"] += " flash";
    var marker = null;
    if (item.kind === "Reload" && item.outcome === "failed") marker = el("span", { "class": "failed", title: "this reload failed" }, "\u2717 failed");
    if (item.kind === "Reload" && item.outcome === "unfinished") marker = el("span", { "class": "unfinished" }, "not finished");
    return el("li", attrs, [el("time", null, timeText(item.t)), el("span", { "class": "kind" }, [label(item), marker]),
                            el("span", { "class": "what" }, describe(item))]);
  }

  function pager(caption, onPrevious, onNext) {
    return el("div", { "class": "pager" }, [
      el("button", { type: "button", disabled: !onPrevious, onclick: onPrevious || null }, "\u2039 " + (onPrevious && onPrevious.label || "previous")),
      el("span", null, caption),
      el("button", { type: "button", disabled: !onNext, onclick: onNext || null }, (onNext && onNext.label || "next") + " \u203a")
    ]);
  }

  function renderLane(lane) {
    var p = lane.p;
    var section = el("section", { "class": "plugin", "data-plugin": p.id, id: "plugin-" + lane.index });
    var facts = [];
    if (typeof p.current_seq === "number") facts.push("current ", seqLink(p.current_seq), p.version !== undefined ? " (" + p.version + ")" : "", " \u00b7 ");
    if (typeof p.history === "number") facts.push(fmt(p.history) + " in history \u00b7 ");
    (p.pins || []).forEach(function (pin) { facts.push("pin \u201c" + pin[0] + "\u201d \u2192 ", seqLink(pin[1]), " \u00b7 "); });
    facts.push(fmt(p.events.length) + " event(s) shown of " + fmt(p.total));
    section.appendChild(el("div", { "class": "lane-head" }, [
      el("h2", null, p.id === "" ? "(database-wide events)" : p.id),
      p.state ? el("span", { "class": "state st-" + p.state }, p.state + (p.state_reason ? ": " + p.state_reason : "")) : null,
      lane.failed > 0 ? el("span", { "class": "badge-failed" }, fmt(lane.failed) + " failed reload(s)") : null,
      el("span", { "class": "facts" }, facts)
    ]));
    if (p.omitted > 0) {
      section.appendChild(el("p", { "class": "older" }, fmt(p.omitted) + " older events not shown (this file holds the newest " +
        fmt(p.events.length) + " of the " + fmt(p.total) + " in its range; --max-events N or --since/--until for others)"));
    }
    if (lane.items.length === 0) {
      section.appendChild(el("p", { "class": "hint" }, "no events in this report's range"));
      return section;
    }
    append(section, renderStrip(lane));
    var per = R.limits.events_per_page;
    var pages = Math.max(1, Math.ceil(lane.items.length / per));
    var page = Math.min(view.itemPages[lane.index] || 0, pages - 1);
    var end = lane.items.length - page * per;
    var start = Math.max(0, end - per);
    var list = el("ol", { "class": "items" });
    for (var i = end - 1; i >= start; --i) list.appendChild(renderItem(lane.items[i]));
    section.appendChild(list);
    if (pages > 1) {
      var newer = page > 0 ? function () { view.itemPages[lane.index] = page - 1; render(); } : null;
      var older = page + 1 < pages ? function () { view.itemPages[lane.index] = page + 1; render(); } : null;
      if (newer) newer.label = "newer";
      if (older) older.label = "older";
      section.appendChild(pager("events " + fmt(lane.items.length - end + 1) + "\u2013" + fmt(lane.items.length - start) +
                                " of " + fmt(lane.items.length) + ", newest first", newer, older));
    }
    return section;
  }

  function renderLanes() {
    var host = document.getElementById("plugins");
    host.textContent = "";
    var visible = visibleLanes();
    var per = R.limits.plugins_per_page;
    var pages = Math.max(1, Math.ceil(visible.length / per));
    view.page = Math.min(view.page, pages - 1);
    var first = view.page * per;
    var shown = visible.slice(first, first + per);
    var previous = view.page > 0 ? function () { view.page -= 1; render(); } : null;
    var next = view.page + 1 < pages ? function () { view.page += 1; render(); } : null;
    var summary = visible.length === 0 ? "no plugin matches" :
      "plugins " + fmt(first + 1) + "\u2013" + fmt(first + shown.length) + " of " + fmt(visible.length) +
      (visible.length !== lanes.length ? " (of " + fmt(lanes.length) + ")" : "");
    host.appendChild(pager(summary, previous, next));
    shown.forEach(function (lane) { host.appendChild(renderLane(lane)); });
    if (pages > 1) host.appendChild(pager(summary, previous, next));
  }

  function kvTable(rows, total, what) {
    if (rows.length === 0) return el("p", { "class": "hint" }, "no " + what);
    var table = el("table", { "class": "kv" });
    rows.forEach(function (row) {
      table.appendChild(el("tr", { "data-key": row[0] }, [el("th", null, row[0]), el("td", { "class": "v" }, row[1])]));
    });
    var nodes = [table];
    if (total > rows.length) nodes.push(el("p", { "class": "hint" }, fmt(total - rows.length) + " more key(s) not listed"));
    return nodes;
  }

  function renderDetail() {
    var box = document.getElementById("snapshot");
    var diffBox = document.getElementById("diff");
    box.textContent = "";
    diffBox.textContent = "";
    box.removeAttribute("data-seq");
    if (view.selected === null) {
      box.appendChild(el("p", { "class": "hint" }, "Select a saved snapshot (a blue mark or a \u201csaved\u201d row), or open " +
        "this file with #seq=N at the end of its address, to see its data and what changed from the snapshot it replaced."));
      return;
    }
    var seq = view.selected;
    var s = R.snapshots[String(seq)];
    var where = seqIndex[seq];
    var plugin = s ? s.p : where ? where.lane.p.id : null;
    box.setAttribute("data-seq", seq);
    box.appendChild(el("h2", null, "Snapshot seq " + seq));
    if (plugin !== null) {
      var saved = where ? where.lane.items[where.item] : null;
      box.appendChild(el("p", null, ["of ", el("strong", null, plugin === "" ? "(database-wide)" : plugin),
                                     saved ? ", saved " + timeText(saved.t) : ""]));
    }
    if (!s) {
      box.appendChild(el("p", { "class": "status not-embedded" }, where ?
        ["Its contents are not embedded in this file (see the limits at the top); ",
         el("code", null, "hotstate show " + plugin + " --seq " + seq), " prints them."] :
        "seq " + seq + " is not in this report."));
      return;
    }
    if (s.status === "gone") {
      box.appendChild(el("p", { "class": "status gone" }, "not stored any more: its row was trimmed by the history bound, rolled back, cleared or deleted since, and no pin keeps it"));
      diffBox.appendChild(el("p", { "class": "hint" }, "no diff: the snapshot is not stored any more"));
      return;
    }
    if (s.status === "error") {
      box.appendChild(el("p", { "class": "status error" }, "cannot be read: " + s.error));
      return;
    }
    box.appendChild(el("p", null, "version " + s.v + ", timestamp " + timeText(s.ts * 1000000).slice(0, 19) + "Z"));
    box.appendChild(el("h3", null, "data (" + fmt(s.data_keys) + " key(s))"));
    append(box, kvTable(s.data, s.data_keys, "data"));
    box.appendChild(el("h3", null, "metadata (" + fmt(s.meta_keys) + " key(s))"));
    append(box, kvTable(s.meta, s.meta_keys, "metadata"));

    var status = s.prev_status;
    diffBox.appendChild(el("h3", null, typeof s.prev === "number" ? ["Changes from ", seqLink(s.prev), ", the snapshot it replaced"] : "Changes"));
    if (status === "none") { diffBox.appendChild(el("p", { "class": "hint" }, "the plugin had no current snapshot before this one: every key is new")); return; }
    if (status === "unknown") { diffBox.appendChild(el("p", { "class": "hint" }, "saved before this report's range: the snapshot it replaced is not known here")); return; }
    if (status === "gone") { diffBox.appendChild(el("p", { "class": "status gone" }, "no diff: the previous snapshot, seq " + s.prev + ", is not stored any more")); return; }
    if (status === "error") { diffBox.appendChild(el("p", { "class": "status error" }, "no diff: the previous snapshot cannot be read: " + s.prev_error)); return; }
    if (!s.diff || s.diff.length === 0) { diffBox.appendChild(el("p", { "class": "hint" }, "no key of data or metadata changed")); return; }
    var signs = { added: "+", removed: "\u2212", changed: "~" };
    var table = el("table", { "class": "kv" });
    table.appendChild(el("tr", null, [el("th", null, ""), el("th", null, "key"), el("th", null, "before"), el("th", null, "after")]));
    s.diff.forEach(function (row) {
      table.appendChild(el("tr", { "class": "ch ch-" + row[0], "data-change": row[0], "data-section": row[1], "data-key": row[2] }, [
        el("td", { "class": "sign", title: row[0] }, signs[row[0]] || "?"),
        el("th", null, (row[1] === "metadata" ? "metadata " : "") + row[2]),
        el("td", { "class": "v" }, row[3] === null ? "" : row[3]),
        el("td", { "class": "v" }, row[4] === null ? "" : row[4])
      ]));
    });
    diffBox.appendChild(table);
    if (s.diff_more) diffBox.appendChild(el("p", { "class": "hint" }, fmt(s.diff_more) + " more changed key(s) not listed"));
  }

  function render() {
    try {
      renderLanes();
    } catch (error) {
      reportError("rendering the plugins failed: " + (error && error.stack ? error.stack : error));
    }
    try {
      renderDetail();
    } catch (error) {
      reportError("rendering the snapshot failed: " + (error && error.stack ? error.stack : error));
    }
  }

  function select(seq) {
    view.selected = seq;
    var where = seqIndex[seq];
    if (where) {
      var visible = visibleLanes();
      if (visible.indexOf(where.lane) < 0) {
        view.filter = "";
        view.onlyFailed = false;
        document.getElementById("filter").value = "";
        document.getElementById("only-failed").checked = false;
        visible = lanes;
      }
      view.page = Math.floor(visible.indexOf(where.lane) / R.limits.plugins_per_page);
      showItem(where.lane, where.item, false);
    }
    render();
    var selected = document.querySelector("li.selected");
    if (selected && selected.scrollIntoView) selected.scrollIntoView({ block: "nearest" });
  }

  function selectFromHash() {
    var match = /(?:^#|&)seq=(\d+)/.exec(location.hash);
    if (match) select(Number(match[1]));
  }

  function renderLegend() {
    var entries = [["k-SnapshotSaved", "saved snapshot", "var(--saved)"], ["", "reload completed", "var(--ok)"],
                   ["", "reload failed", "var(--failed)"], ["", "reload not finished", "var(--open)"],
                   ["", "rollback", "var(--rollback)"], ["", "restore", "var(--restore)"],
                   ["", "migration", "var(--migrate)"], ["", "pin / unpin", "var(--pin)"],
                   ["", "life-cycle state", "var(--state)"], ["", "other", "var(--other)"]];
    var legend = document.getElementById("legend");
    entries.forEach(function (entry) {
      legend.appendChild(el("span", null, [el("span", { "class": "sw", style: "background:" + entry[2] }), entry[1]]));
    });
  }

  try {
    R = JSON.parse(document.getElementById("report-data").textContent);
    R.plugins.forEach(function (plugin, index) { lanes.push(buildLane(plugin, index)); });
    renderLegend();
    var filter = document.getElementById("filter");
    filter.addEventListener("input", function () { view.filter = filter.value; view.page = 0; render(); });
    var onlyFailed = document.getElementById("only-failed");
    onlyFailed.addEventListener("change", function () { view.onlyFailed = onlyFailed.checked; view.page = 0; render(); });
    window.addEventListener("hashchange", selectFromHash);
    render();
    selectFromHash();
    document.body.setAttribute("data-rendered", "yes");
  } catch (error) {
    reportError("the report could not be rendered: " + (error && error.stack ? error.stack : error));
  }
})();
)JS";

}  // namespace

int command_report(StateManager& manager, const ReportOptions& options, bool json) {
  // The events of the range, oldest first, by plugin.
  hotstate::AuditQuery range;
  range.since_us = options.since_us;
  range.until_us = options.until_us;
  range.order = hotstate::AuditOrder::OldestFirst;
  range.limit = 0;
  std::map<std::string, Lane> lanes;
  std::vector<std::uint64_t> cleared_all_ids;
  if (options.plugins.empty()) {
    for (auto& event : manager.audit_events(range)) {
      if (event.kind == "ClearedAll") cleared_all_ids.push_back(event.id);
      const std::string id = event.plugin_id;
      lanes[id].events.push_back(std::move(event));
    }
    for (const auto& id : manager.plugin_ids()) lanes[id];
  } else {
    for (const auto& id : options.plugins) {
      if (lanes.count(id) > 0) continue;
      hotstate::AuditQuery query = range;
      query.plugin_id = id;
      lanes[id].events = manager.audit_events(query);
    }
    hotstate::AuditQuery clears = range;
    clears.plugin_id = "";
    clears.kinds = {"ClearedAll"};
    for (const auto& event : manager.audit_events(clears)) cleared_all_ids.push_back(event.id);
  }

  std::map<std::string, StateManager::PluginSummary> summaries;
  for (auto& summary : manager.plugin_summaries()) {
    const std::string id = summary.plugin_id;
    summaries.emplace(id, std::move(summary));
  }
  std::map<std::string, std::vector<hotstate::PinInfo>> pins;
  for (auto& pin : manager.pins()) pins[pin.plugin_id].push_back(std::move(pin));

  // The database-wide lane last, the plugins by id.
  std::vector<Lane*> order;
  for (auto& [id, lane] : lanes) {
    lane.id = id;
    if (!id.empty()) order.push_back(&lane);
  }
  if (const auto found = lanes.find(""); found != lanes.end()) order.push_back(&found->second);

  LeftOut left_out;
  std::uint64_t total_events = 0;
  std::uint64_t shown_events = 0;
  std::int64_t t0 = 0;
  std::int64_t t1 = 0;
  bool any_time = false;
  for (Lane* lane : order) {
    lane->details.reserve(lane->events.size());
    for (const auto& event : lane->events) lane->details.push_back(parse_detail(event));
    std::optional<std::uint64_t> seed;
    if (options.since_us && !lane->id.empty()) {
      hotstate::AuditQuery before;
      before.plugin_id = lane->id;
      before.kinds = {"SnapshotSaved"};
      before.until_us = options.since_us;
      before.limit = 1;
      before.order = hotstate::AuditOrder::NewestFirst;
      const auto newest = manager.audit_events(before);
      if (!newest.empty()) seed = detail_u64(parse_detail(newest.front()), "seq");
    }
    replay(*lane, seed, cleared_all_ids);
    const std::size_t count = lane->events.size();
    lane->first_shown = options.max_events > 0 && count > options.max_events ? count - options.max_events : 0;
    total_events += count;
    shown_events += count - lane->first_shown;
    if (lane->first_shown > 0) {
      left_out.events += lane->first_shown;
      ++left_out.plugins_with_older;
    }
    for (std::size_t i = lane->first_shown; i < count; ++i) {
      const std::int64_t t = lane->events[i].time_us;
      t0 = any_time ? std::min(t0, t) : t;
      t1 = any_time ? std::max(t1, t) : t;
      any_time = true;
    }
    // The snapshots its shown events save or name, newest first.
    if (!lane->id.empty()) {
      std::set<std::uint64_t> named;
      for (std::size_t i = count; i > lane->first_shown && lane->candidates.size() < kSnapshotsPerPlugin; --i) {
        for (const std::string_view member : kSeqMembers) {
          const auto seq = detail_u64(lane->details[i - 1], member);
          if (!seq || *seq == 0 || !named.insert(*seq).second) continue;
          lane->candidates.push_back(*seq);
          if (lane->candidates.size() == kSnapshotsPerPlugin) break;
        }
      }
    }
  }

  // Snapshot contents, round-robin across plugins (each plugin's newest
  // first) until the budget is spent.
  std::map<std::uint64_t, Json> snapshots;
  std::size_t snapshot_bytes = 0;
  bool budget_spent = false;
  {
    std::map<const Lane*, std::map<std::uint64_t, hotstate::SnapshotPtr>> loaded;
    for (std::size_t rank = 0; rank < kSnapshotsPerPlugin && !budget_spent; ++rank) {
      for (const Lane* lane : order) {
        if (rank >= lane->candidates.size()) continue;
        const std::uint64_t seq = lane->candidates[rank];
        if (snapshots.count(seq) > 0) continue;
        Json entry = snapshot_entry(manager, *lane, seq, loaded[lane], left_out);
        if (snapshot_bytes + entry.text().size() > kSnapshotBudgetBytes) {
          budget_spent = true;
          break;
        }
        snapshot_bytes += entry.text().size();
        snapshots.emplace(seq, std::move(entry));
      }
      // Only the previous snapshots of the next rank are needed again.
      if (rank % 8 == 7) loaded.clear();
    }
  }
  std::size_t saves_shown = 0;
  for (const Lane* lane : order) {
    for (std::size_t i = lane->first_shown; i < lane->events.size(); ++i) {
      if (lane->events[i].kind != "SnapshotSaved") continue;
      ++saves_shown;
      const auto seq = detail_u64(lane->details[i], "seq");
      if (!seq || snapshots.count(*seq) == 0) ++left_out.contents;
    }
  }

  // The JSON the page renders.
  const std::int64_t generated_us = hotstate::now_us();
  std::map<std::string, int> kind_index;
  std::vector<std::string> kinds;
  JsonWriter out;
  out.begin_object();
  out.member("format", 1);
  out.member("db", json_text(manager.options().path));
  out.member("generated_us", generated_us);
  if (options.since_us) out.member("since_us", *options.since_us);
  if (options.until_us) out.member("until_us", *options.until_us);
  out.member("t0", t0);
  out.member("t1", t1);
  out.key("limits");
  out.begin_object();
  out.member("events_per_plugin", static_cast<std::uint64_t>(options.max_events));
  out.member("snapshots_per_plugin", static_cast<std::uint64_t>(kSnapshotsPerPlugin));
  out.member("snapshot_budget_bytes", static_cast<std::uint64_t>(kSnapshotBudgetBytes));
  out.member("keys_per_snapshot", static_cast<std::uint64_t>(kKeysPerSnapshot));
  out.member("value_bytes", static_cast<std::uint64_t>(kValueBytes));
  out.member("plugins_per_page", kPluginsPerPage);
  out.member("events_per_page", kItemsPerPage);
  out.end_object();
  out.key("plugins");
  out.begin_array();
  for (const Lane* lane : order) {
    out.begin_object();
    out.member("id", json_text(lane->id));
    out.member("total", static_cast<std::uint64_t>(lane->events.size()));
    out.member("omitted", static_cast<std::uint64_t>(lane->first_shown));
    if (!lane->id.empty()) {
      const hotstate::PluginState state = manager.plugin_state(lane->id);
      out.member("state", hotstate::PluginState::kind_name(state.kind()));
      if (!state.reason().empty()) out.member("state_reason", json_text(state.reason()));
    }
    if (const auto summary = summaries.find(lane->id); summary != summaries.end()) {
      out.member("current_seq", summary->second.seq);
      out.member("version", json_text(summary->second.plugin_version));
      out.member("history", static_cast<std::uint64_t>(summary->second.history_entries));
    }
    if (const auto found = pins.find(lane->id); found != pins.end()) {
      out.key("pins");
      out.begin_array();
      for (const auto& pin : found->second) {
        out.begin_array();
        out.string(json_text(pin.label));
        out.integer(pin.seq);
        out.end_array();
      }
      out.end_array();
    }
    out.key("events");
    out.begin_array();
    for (std::size_t i = lane->first_shown; i < lane->events.size(); ++i) {
      const AuditEvent& event = lane->events[i];
      auto [kind, inserted] = kind_index.emplace(event.kind, static_cast<int>(kinds.size()));
      if (inserted) kinds.push_back(event.kind);
      out.begin_array();
      out.integer(event.id);
      out.integer(event.time_us);
      out.integer(static_cast<std::int64_t>(kind->second));
      if (const auto& detail = lane->details[i]) {
        out.begin_object();
        for (const auto& [key, value] : *detail) {
          if (key != "content_hash") out.member(key, value);  // 64 hex digits that say nothing at a glance
        }
        out.end_object();
      } else {
        out.string(json_text(event.detail));
      }
      out.end_array();
    }
    out.end_array();
    out.end_object();
  }
  out.end_array();
  out.key("kinds");
  out.begin_array();
  for (const auto& kind : kinds) out.string(json_text(kind));
  out.end_array();
  out.key("snapshots");
  out.begin_object();
  for (const auto& [seq, entry] : snapshots) {
    out.key(std::to_string(seq));
    out.json(entry);
  }
  out.end_object();
  out.end_object();
  const Json data = out.take();

  // What the page says it left out.
  std::string limits = "Limits: this file holds, per plugin, the newest " +
                       (options.max_events > 0 ? plural(options.max_events, "event", "events") : std::string("(all)")) +
                       " of the range (--max-events N; 0 for all), and the data, metadata and diff of at most " +
                       grouped(kSnapshotsPerPlugin) +
                       " snapshots per plugin (the newest its events save or name, up to " +
                       grouped(kSnapshotBudgetBytes >> 20) + " MiB of snapshot text in all); at most " +
                       grouped(kKeysPerSnapshot) + " keys and " + grouped(kValueBytes) +
                       " bytes per value are shown. The page shows " + grouped(kPluginsPerPage) + " plugins and " +
                       grouped(kItemsPerPage) + " events per plugin at a time; the buttons page through the rest. ";
  std::vector<std::string> omissions;
  if (left_out.events > 0) {
    omissions.push_back(plural(left_out.events, "older event", "older events") + " of " +
                        plural(left_out.plugins_with_older, "plugin", "plugins") + " not shown");
  }
  if (left_out.contents > 0) {
    omissions.push_back("the contents of " + plural(left_out.contents, "saved snapshot", "saved snapshots") +
                        " of " + grouped(saves_shown) + " not embedded");
  }
  if (left_out.values_cut > 0) omissions.push_back(plural(left_out.values_cut, "value", "values") + " cut");
  if (left_out.keys_not_listed > 0) {
    omissions.push_back(plural(left_out.keys_not_listed, "key", "keys") + " not listed");
  }
  if (omissions.empty()) {
    limits += "Nothing was left out.";
  } else {
    limits += "Left out here: ";
    for (std::size_t i = 0; i < omissions.size(); ++i) limits += (i > 0 ? "; " : "") + omissions[i];
    limits += ".";
  }

  std::string range_text;
  if (options.since_us || options.until_us) {
    range_text = " \u00b7 events " + (options.since_us ? "from " + hotstate::format_time_us(*options.since_us) : std::string()) +
                 (options.since_us && options.until_us ? " " : "") +
                 (options.until_us ? "before " + hotstate::format_time_us(*options.until_us) : std::string());
  }
  std::string html;
  html.reserve(data.text().size() + kStyle.size() + kScript.size() + 4096);
  html += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  // Nothing may load from anywhere: the file is the whole report.
  html += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
          "script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">\n";
  html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  html += "<meta name=\"generator\" content=\"hotstate report\">\n";
  html += "<title>hotstate report: " + html_escape(json_text(manager.options().path)) + "</title>\n<style>";
  html += kStyle;
  html += "</style>\n</head>\n<body>\n<header class=\"top\">\n<h1>hotstate report</h1>\n<p id=\"summary\">";
  html += "database <code>" + html_escape(json_text(manager.options().path)) + "</code> \u00b7 " +
          plural(order.size(), "lane", "lanes") + " (" +
          plural(static_cast<std::uint64_t>(std::count_if(order.begin(), order.end(),
                                                          [](const Lane* lane) { return !lane->id.empty(); })),
                 "plugin", "plugins") +
          ") \u00b7 " + plural(total_events, "event", "events") + " in the range, " + grouped(shown_events) +
          " in this file" + html_escape(range_text) + " \u00b7 generated " + hotstate::format_time_us(generated_us);
  html += "</p>\n<p id=\"limits\">" + html_escape(limits) + "</p>\n</header>\n";
  html += "<div id=\"errors\"></div>\n";
  html += "<noscript><p>This report is drawn by its inline script: allow scripts for this file.</p></noscript>\n";
  html += "<div id=\"bar\"><input id=\"filter\" type=\"search\" placeholder=\"filter plugins by id\" "
          "aria-label=\"filter plugins by id\"><label><input id=\"only-failed\" type=\"checkbox\"> only plugins with "
          "failed reloads</label><div id=\"legend\"></div></div>\n";
  html += "<div id=\"app\"><main id=\"plugins\"></main>\n<aside id=\"detail\"><div id=\"snapshot\"></div>"
          "<div id=\"diff\"></div></aside></div>\n";
  html += "<script type=\"application/json\" id=\"report-data\">";
  // Every '<' as \u003c (only possible inside JSON strings): no "</script>"
  // or "<!--" in the data can end or change the element.
  for (const char c : data.text()) {
    if (c == '<') {
      html += "\\u003c";
    } else {
      html += c;
    }
  }
  html += "</script>\n<script>";
  html += kScript;
  html += "</script>\n</body>\n</html>\n";

  // Never over the database itself.
  std::error_code ignored;
  if (std::filesystem::exists(options.out, ignored) &&
      std::filesystem::equivalent(options.out, manager.options().path, ignored)) {
    throw UsageError("--out " + options.out + " is the database itself");
  }
  {
    std::ofstream file(options.out, std::ios::binary | std::ios::trunc);
    file.write(html.data(), static_cast<std::streamsize>(html.size()));
    file.close();
    if (!file) {
      std::error_code error(errno, std::generic_category());
      throw std::runtime_error("cannot write " + options.out + ": " + error.message());
    }
  }

  if (json) {
    JsonWriter summary;
    summary.begin_object();
    summary.member("out", json_text(options.out));
    summary.member("bytes", static_cast<std::uint64_t>(html.size()));
    summary.member("plugins", static_cast<std::uint64_t>(order.size()));
    summary.member("events", total_events);
    summary.member("events_shown", shown_events);
    summary.member("older_events_not_shown", left_out.events);
    summary.member("snapshots_embedded", static_cast<std::uint64_t>(snapshots.size()));
    summary.member("snapshot_contents_not_embedded", static_cast<std::uint64_t>(left_out.contents));
    summary.end_object();
    std::cout << summary.take().text() << "\n";
    return 0;
  }
  std::cout << "wrote " << printable(options.out) << " (" << grouped(html.size()) << " bytes): "
            << plural(order.size(), "lane", "lanes") << ", " << grouped(shown_events) << " of "
            << plural(total_events, "event", "events");
  if (left_out.events > 0) std::cout << " (" << grouped(left_out.events) << " older not shown)";
  std::cout << ", " << plural(snapshots.size(), "snapshot", "snapshots") << " with contents\n";
  return 0;
}

}  // namespace hotstate_tool
