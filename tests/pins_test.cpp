// Stored snapshots by seq, non-destructive restore, and pins: snapshots kept
// by a label whatever saves, trims, rollbacks and restores happen.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "support.hpp"

using hotstate::ErrorCode;
using hotstate::StateManager;
using hotstate_test::current_version;
using hotstate_test::error_code_of;
using hotstate_test::file_options;
using hotstate_test::RawDb;
using hotstate_test::TempDir;
using hotstate_test::versioned;
using hotstate_test::versions_of;

namespace {

int version_of(const hotstate::SnapshotPtr& snapshot) {
  return snapshot ? snapshot->get<int>("version").value_or(-1) : -1;
}

// "kind detail" of the newest event of `kind`.
std::string newest(RawDb& shell, const std::string& kind) {
  return shell.query("SELECT detail FROM audit_events WHERE kind = '" + kind + "' ORDER BY id DESC LIMIT 1");
}

}  // namespace

TEST_CASE("snapshot(seq) finds the current snapshot, a history entry or a pinned one, and null for anything else",
          "[pins][restore]") {
  TempDir dir;
  StateManager manager(file_options(dir.file("seq.db"), 2));
  std::vector<std::uint64_t> seqs;
  for (int version = 1; version <= 4; ++version) seqs.push_back(manager.save_snapshot(versioned("p", version)));
  manager.save_snapshot(versioned("q", 1));

  CHECK(version_of(manager.snapshot("p", seqs[3])) == 4);  // current
  CHECK(version_of(manager.snapshot("p", seqs[1])) == 2);  // history
  CHECK(manager.snapshot("p", seqs[0]) == nullptr);        // trimmed (max_history 2)
  CHECK(manager.snapshot("q", seqs[3]) == nullptr);        // another plugin's
  CHECK(manager.snapshot("p", 0) == nullptr);
  CHECK(manager.snapshot("p", 999) == nullptr);
  CHECK(manager.snapshot("p", seqs[3])->seq == seqs[3]);
}

TEST_CASE("restore makes a copy of a stored snapshot current with a new seq, deletes nothing a save would keep, "
          "and is audited",
          "[pins][restore]") {
  TempDir dir;
  const auto path = dir.file("restore.db");
  StateManager manager(file_options(path, 3));
  std::vector<std::uint64_t> seqs;
  for (int version = 1; version <= 3; ++version) seqs.push_back(manager.save_snapshot(versioned("p", version)));

  const auto restored = manager.restore("p", seqs[0]);
  REQUIRE(restored);
  CHECK(version_of(restored) == 1);
  CHECK(restored->seq > seqs[2]);
  CHECK(current_version(manager, "p") == 1);
  CHECK(manager.load_snapshot("p")->seq == restored->seq);
  // Every row stays: the bound (3) keeps them all, as it would for a save.
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{1, 2, 3});

  RawDb shell(path);
  CHECK(newest(shell, "Restored") ==
        R"({"from_seq":)" + std::to_string(seqs[0]) + R"(,"to_seq":)" + std::to_string(restored->seq) + "}");
  // The copy is the same content: the same content hash.
  CHECK(shell.query("SELECT content_hash FROM snapshots WHERE seq = " + std::to_string(seqs[0])) ==
        shell.query("SELECT content_hash FROM snapshots WHERE seq = " + std::to_string(restored->seq)));

  // A save after it trims as any save does.
  manager.save_snapshot(versioned("p", 4));
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{2, 3, 1});

  CHECK(error_code_of([&] { manager.restore("p", 999); }) == ErrorCode::NotFound);
  CHECK(error_code_of([&] { manager.restore("other", seqs[1]); }) == ErrorCode::NotFound);
  CHECK(current_version(manager, "p") == 4);
  CHECK(manager.verify().ok);
}

TEST_CASE("a pin outlives max_history saves, a rollback and a restore, and survives reopening the file",
          "[pins]") {
  TempDir dir;
  const auto path = dir.file("pins.db");
  std::uint64_t good = 0;
  {
    StateManager manager(file_options(path, 2));
    manager.save_snapshot(versioned("p", 1));
    good = manager.save_snapshot(versioned("p", 2));
    manager.pin("p", good, "last-known-good");
    for (int version = 3; version <= 12; ++version) manager.save_snapshot(versioned("p", version));
    CHECK(manager.snapshot("p", good) != nullptr);  // trimmed from the history, kept by the pin
    CHECK(manager.get_history("p").size() == 2);    // pins never count against max_history
    manager.rollback("p");
    const auto restored = manager.restore("p", good);
    REQUIRE(restored);
    CHECK(version_of(restored) == 2);
    CHECK(current_version(manager, "p") == 2);
  }
  StateManager reopened(file_options(path));
  CHECK(version_of(reopened.pinned("p", "last-known-good")) == 2);
  CHECK(reopened.pinned("p", "last-known-good")->seq == good);
  CHECK(version_of(reopened.snapshot("p", good)) == 2);
  const auto pins = reopened.pins("p");
  REQUIRE(pins.size() == 1);
  CHECK(pins[0].label == "last-known-good");
  CHECK(pins[0].seq == good);
  CHECK_FALSE(pins[0].in_snapshots);
  CHECK(reopened.verify().ok);
}

TEST_CASE("pinning again moves a label; unpin, clear and clear_all remove pins; each is audited", "[pins]") {
  TempDir dir;
  const auto path = dir.file("labels.db");
  StateManager manager(file_options(path));
  const auto first = manager.save_snapshot(versioned("p", 1));
  const auto second = manager.save_snapshot(versioned("p", 2));
  manager.save_snapshot(versioned("q", 1));
  RawDb shell(path);

  manager.pin("p", first, "good");
  CHECK(newest(shell, "Pinned") == R"({"seq":)" + std::to_string(first) + R"(,"label":"good"})");
  manager.pin("p", second, "good");
  CHECK(newest(shell, "Pinned") ==
        R"({"seq":)" + std::to_string(second) + R"(,"label":"good","replaced_seq":)" + std::to_string(first) + "}");
  CHECK(version_of(manager.pinned("p", "good")) == 2);
  manager.pin("p", first, "first");
  manager.pin("q", manager.load_snapshot("q")->seq, "good");
  CHECK(manager.pins().size() == 3);
  CHECK(manager.pins("p").size() == 2);
  CHECK(manager.pins("p")[0].label == "first");  // by label
  CHECK(manager.pins("p")[0].in_snapshots);

  CHECK(manager.unpin("p", "first"));
  CHECK_FALSE(manager.unpin("p", "first"));
  CHECK(newest(shell, "Unpinned") == R"({"seq":)" + std::to_string(first) + R"(,"label":"first"})");
  CHECK(manager.pinned("p", "first") == nullptr);

  manager.clear("p");
  CHECK(manager.pins("p").empty());
  CHECK(manager.pins("q").size() == 1);
  manager.clear_all();
  CHECK(manager.pins().empty());
  CHECK(shell.query_int("SELECT count(*) FROM audit_events WHERE kind = 'Unpinned'") == 3);
  CHECK(manager.verify().ok);
}

TEST_CASE("pin refuses a seq the plugin does not store and an empty label, and writes nothing", "[pins][errors]") {
  TempDir dir;
  const auto path = dir.file("refused.db");
  StateManager manager(file_options(path));
  const auto seq = manager.save_snapshot(versioned("p", 1));
  CHECK(error_code_of([&] { manager.pin("p", 999, "x"); }) == ErrorCode::NotFound);
  CHECK(error_code_of([&] { manager.pin("q", seq, "x"); }) == ErrorCode::NotFound);
  CHECK(error_code_of([&] { manager.pin("p", seq, ""); }) == ErrorCode::InvalidArgument);
  CHECK(error_code_of([&] { manager.pin("p", 0, "x"); }) == ErrorCode::NotFound);
  CHECK(manager.pins().empty());
  RawDb shell(path);
  CHECK(shell.query_int("SELECT count(*) FROM audit_events WHERE kind = 'Pinned'") == 0);
}

TEST_CASE("pins are rows the sqlite3 shell lists, and a pin made or removed there is audited", "[pins][sql]") {
  TempDir dir;
  const auto path = dir.file("shell.db");
  StateManager manager(file_options(path, 1));
  const auto seq = manager.save_snapshot(versioned("p", 1));
  manager.pin("p", seq, "good");
  manager.save_snapshot(versioned("p", 2));
  manager.save_snapshot(versioned("p", 3));  // seq's row is trimmed now
  RawDb shell(path);
  CHECK(shell.query("SELECT plugin_id || ' ' || label || ' ' || seq || ' ' || in_snapshots || ' ' ||"
                    " (data ->> '$.version') FROM pinned_snapshots") ==
        "p good " + std::to_string(seq) + " 0 1");
  // A pin made in the shell, from a row: audited, and read by hotstate.
  shell.exec("INSERT INTO pins (plugin_id, label, seq, timestamp, plugin_version, data, metadata, saved_at_us)"
             " SELECT plugin_id, 'shell', seq, timestamp, plugin_version, data, metadata, saved_at_us"
             " FROM snapshots WHERE plugin_id = 'p' ORDER BY seq DESC LIMIT 1");
  CHECK(shell.query("SELECT detail ->> '$.label' FROM audit_events WHERE kind = 'Pinned' ORDER BY id DESC LIMIT 1") ==
        "shell");
  CHECK(version_of(manager.pinned("p", "shell")) == 3);
  shell.exec("DELETE FROM pins WHERE label = 'shell'");
  CHECK(shell.query("SELECT detail ->> '$.label' FROM audit_events WHERE kind = 'Unpinned' ORDER BY id DESC LIMIT 1") ==
        "shell");
  // Pins hold JSON objects, as snapshots do, for every writer.
  CHECK(shell.try_exec("UPDATE pins SET data = '[1]' WHERE label = 'good'") != 0);
}

TEST_CASE("finish_reload with succeeded_pinning pins the current snapshot as last-known-good in its transaction",
          "[pins][reload]") {
  TempDir dir;
  const auto path = dir.file("lkg.db");
  StateManager manager(file_options(path, 1));
  const auto ticket = manager.begin_reload(versioned("p", 1), "2.0.0");
  const auto running = manager.save_snapshot(versioned("p", 2));  // what the new version runs with
  manager.finish_reload(ticket.id, hotstate::ReloadResult::succeeded_pinning());
  CHECK(version_of(manager.pinned("p", "last-known-good")) == 2);
  CHECK(manager.pinned("p", "last-known-good")->seq == running);

  // The next good reload moves the label; a failed one leaves it.
  const auto second = manager.begin_reload(versioned("p", 3), "3.0.0");
  manager.finish_reload(second.id, hotstate::ReloadResult::failed("crashed"));
  CHECK(version_of(manager.pinned("p", "last-known-good")) == 2);
  const auto third = manager.begin_reload(versioned("p", 4), "3.0.1");
  manager.finish_reload(third.id, hotstate::ReloadResult::succeeded_pinning());
  CHECK(version_of(manager.pinned("p", "last-known-good")) == 4);
  // A plain success pins nothing.
  const auto fourth = manager.begin_reload(versioned("p", 5), "3.0.2");
  manager.finish_reload(fourth.id, hotstate::ReloadResult::succeeded());
  CHECK(version_of(manager.pinned("p", "last-known-good")) == 4);
  RawDb shell(path);
  CHECK(shell.query("SELECT count(*) FROM audit_events WHERE kind = 'Pinned'") == "2");
  // The pin is in finish_reload's transaction: its event comes right after ReloadCompleted.
  CHECK(shell.query("SELECT group_concat(kind, ' ') FROM (SELECT kind FROM audit_events WHERE kind IN"
                    " ('ReloadCompleted', 'Pinned') ORDER BY id)") ==
        "ReloadCompleted Pinned ReloadCompleted ReloadCompleted Pinned ReloadCompleted");
}

TEST_CASE("snapshot_at gives the snapshot that was current at a time, through rollbacks, restores and clears",
          "[pins][restore][time]") {
  TempDir dir;
  auto options = file_options(dir.file("at.db"), 10);
  std::int64_t now = 1'700'000'000'000'000;
  options.clock = [&now] { return now; };
  StateManager manager(options);
  const auto at = [&](std::int64_t t) { return version_of(manager.snapshot_at("p", t)); };

  now = 1000;
  const auto first = manager.save_snapshot(versioned("p", 1));
  now = 2000;
  manager.save_snapshot(versioned("p", 2));
  now = 3000;
  manager.rollback("p");  // back to 1; 2 is deleted
  now = 4000;
  manager.restore("p", first);  // a copy of 1
  now = 5000;
  manager.save_snapshot(versioned("p", 5));

  CHECK(at(999) == -1);  // nothing yet
  CHECK(at(1000) == 1);
  CHECK(at(2500) == -1);  // 2 was current then, and rollback deleted it
  CHECK(at(3500) == 1);
  CHECK(manager.snapshot_at("p", 3500)->seq == first);
  CHECK(at(4500) == 1);
  CHECK(manager.snapshot_at("p", 4500)->seq != first);  // the restored copy
  CHECK(at(5500) == 5);
  // A pin keeps what was current at a time readable after its row goes.
  manager.pin("p", first, "first");

  now = 6000;
  manager.clear("p");
  now = 7000;
  manager.save_snapshot(versioned("p", 7));
  CHECK(at(1000) == -1);  // cleared: its rows and its pins are gone
  CHECK(at(6500) == -1);  // nothing was current
  CHECK(at(7000) == 7);
  CHECK(manager.snapshot_at("other", 7000) == nullptr);
  now = 7500;
  const auto kept = manager.save_snapshot(versioned("p", 8));
  manager.pin("p", kept, "kept");
  now = 7600;
  for (int i = 0; i < 12; ++i) manager.save_snapshot(versioned("p", 9));  // trims 7's and 8's rows
  CHECK(at(7500) == 8);  // trimmed, but pinned
  CHECK(at(7000) == -1);  // 7's row was trimmed, not pinned
  CHECK(at(now) == 9);

  // After a retention prune, earlier times cannot be told.
  now = 8000;
  hotstate::AuditPrune prune;
  prune.keep_newest = 1;
  manager.prune_audit(prune);
  CHECK(error_code_of([&] { manager.snapshot_at("p", 7700); }) == ErrorCode::NotFound);
  CHECK(at(8000) == 9);
}

TEST_CASE("verify checks every pin's copy: readable and matching its content hash", "[pins][verify]") {
  TempDir dir;
  const auto path = dir.file("verify.db");
  StateManager manager(file_options(path));
  const auto seq = manager.save_snapshot(versioned("p", 1));
  manager.pin("p", seq, "good");
  CHECK(manager.verify().ok);
  RawDb shell(path);
  shell.exec("UPDATE pins SET data = '{\"version\": 2}' WHERE label = 'good'");
  const auto report = manager.verify();
  CHECK_FALSE(report.ok);
  std::string problems;
  for (const auto& problem : report.problems) problems += problem + "\n";
  CHECK_THAT(problems, Catch::Contains("pin 'good' of plugin 'p'") && Catch::Contains("content_hash"));
}
