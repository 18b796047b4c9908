// Coherence by plugin: after another connection commits, a StateManager's
// cache drops only the plugins the audit log says were changed, and keeps
// the rest; whatever the change (any write of the API, any SQL in the shell,
// a schema change, a pruned or replaced log), every load still sees it.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

using hotstate::StateManager;
using hotstate_test::current_version;
using hotstate_test::file_options;
using hotstate_test::RawDb;
using hotstate_test::TempDir;
using hotstate_test::versioned;

namespace {

const std::vector<std::string> plugins = {"a", "b", "c", "d"};

// `reader` holds each of `plugins` in its cache, at the versions the file has.
void warm(const StateManager& reader) {
  for (const auto& plugin : plugins) (void)reader.load_snapshot(plugin);
  for (const auto& plugin : plugins) (void)reader.load_snapshot(plugin);
}

// The versions every plugin has through `reader`, and through a manager
// with no cache (the file's truth), as "a=1 b=2 …".
std::string versions(const StateManager& manager) {
  std::string text;
  for (const auto& plugin : plugins) {
    text += (text.empty() ? "" : " ") + plugin + "=" + std::to_string(current_version(manager, plugin));
  }
  return text;
}

std::string file_versions(const std::string& path) {
  auto options = file_options(path);
  options.cache_max_entries = 0;
  return versions(StateManager(options));
}

// A reader and a writer of one file; the reader's cache is warm with
// a=1, b=1, c=1, d=1.
struct TwoConnections {
  TempDir dir;
  std::string path = dir.file("coherence.db");
  StateManager writer{file_options(path)};
  StateManager reader{file_options(path)};

  TwoConnections() {
    for (const auto& plugin : plugins) writer.save_snapshot(versioned(plugin, 1));
    warm(reader);
  }

  // What a change did to the reader's cache: how many entries it dropped,
  // whether it dropped them all, and whether every load is right after it.
  struct Effect {
    std::uint64_t dropped = 0;
    bool whole_cache = false;
    bool coherent = false;
  };
  template <class Change>
  Effect after(Change&& change) {
    warm(reader);
    const auto before = reader.cache_stats();
    change();
    Effect effect;
    effect.coherent = versions(reader) == file_versions(path);
    const auto stats = reader.cache_stats();
    effect.dropped = stats.dropped - before.dropped;
    effect.whole_cache = stats.invalidations > before.invalidations;
    return effect;
  }
};

}  // namespace

TEST_CASE("another connection's save drops only its plugin: the others stay cached", "[cache][coherence]") {
  TwoConnections files;
  const auto before = files.reader.cache_stats();
  files.writer.save_snapshot(versioned("b", 2));

  CHECK(current_version(files.reader, "a") == 1);
  CHECK(current_version(files.reader, "c") == 1);
  CHECK(current_version(files.reader, "b") == 2);
  CHECK(current_version(files.reader, "d") == 1);
  const auto after = files.reader.cache_stats();
  CHECK(after.hits - before.hits == 3);      // a, c, d
  CHECK(after.misses - before.misses == 1);  // b, read again
  CHECK(after.dropped - before.dropped == 1);
  CHECK(after.refreshes - before.refreshes == 1);
  CHECK(after.invalidations == before.invalidations);
}

TEST_CASE("each write of another StateManager drops only the plugins it changed, and every load sees it",
          "[cache][coherence]") {
  TwoConnections files;
  using Effect = TwoConnections::Effect;
  const auto only = [](std::uint64_t dropped) {
    return [dropped](const Effect& effect) { return effect.coherent && !effect.whole_cache && effect.dropped == dropped; };
  };
  CHECK(only(1)(files.after([&] { files.writer.save_snapshot(versioned("a", 2)); })));
  CHECK(only(1)(files.after([&] { files.writer.save_snapshot_if(versioned("a", 3), files.writer.load_snapshot("a")->seq); })));
  CHECK(only(2)(files.after([&] { files.writer.save_snapshots({versioned("b", 2), versioned("c", 2)}); })));
  CHECK(only(1)(files.after([&] { files.writer.rollback("a"); })));
  CHECK(only(1)(files.after([&] { files.writer.clear("d"); })));
  CHECK(only(1)(files.after([&] { (void)files.writer.begin_reload(versioned("d", 5), "2.0.0"); })));
  // Writes that change no current snapshot drop nothing.
  CHECK(only(0)(files.after([&] { files.writer.set_plugin_state("a", hotstate::PluginState::Running); })));
  CHECK(only(0)(files.after([&] {
    hotstate::ReloadEvent event;
    event.kind = hotstate::ReloadEvent::Kind::StatePreserved;
    event.plugin_id = "a";
    files.writer.record_event(event);
  })));
  CHECK(only(0)(files.after([&] { files.writer.set_max_history(2); })));
  CHECK(only(0)(files.after([&] { files.writer.pin("b", files.writer.load_snapshot("b")->seq, "kept"); })));
  CHECK(only(0)(files.after([&] { files.writer.unpin("b", "kept"); })));
  CHECK(only(1)(files.after([&] { files.writer.restore("a", files.writer.get_history("a").front().seq); })));
  // clear_all changes every plugin: the whole cache goes.
  const Effect cleared = files.after([&] { files.writer.clear_all(); });
  CHECK(cleared.coherent);
  CHECK(cleared.whole_cache);
}

TEST_CASE("a change made with SQL in the shell drops what it changed, and every load sees it",
          "[cache][coherence][sql]") {
  TwoConnections files;
  files.writer.save_snapshot(versioned("a", 2));
  files.writer.save_snapshot(versioned("b", 2));
  RawDb shell(files.path);
  using Effect = TwoConnections::Effect;

  const Effect inserted = files.after([&] { shell.exec("INSERT INTO snapshots (plugin_id, data) VALUES ('c', '{\"version\": 9}')"); });
  CHECK(inserted.coherent);
  CHECK(inserted.dropped == 1);
  CHECK_FALSE(inserted.whole_cache);

  // Deleting a current row makes the row before it current: a SnapshotDeleted event.
  const Effect deleted = files.after(
      [&] { shell.exec("DELETE FROM snapshots WHERE seq = (SELECT max(seq) FROM snapshots WHERE plugin_id = 'a')"); });
  CHECK(deleted.coherent);
  CHECK(deleted.dropped == 1);
  CHECK_FALSE(deleted.whole_cache);
  CHECK(current_version(files.reader, "a") == 1);
  CHECK(shell.query("SELECT plugin_id || ' ' || kind FROM audit_events ORDER BY id DESC LIMIT 1") == "a SnapshotDeleted");

  // Deleting a history row changes no current snapshot.
  const Effect history = files.after(
      [&] { shell.exec("DELETE FROM snapshots WHERE seq = (SELECT min(seq) FROM snapshots WHERE plugin_id = 'b')"); });
  CHECK(history.coherent);
  CHECK(history.dropped == 0);
  CHECK_FALSE(history.whole_cache);

  // An edit, and a row moved to another plugin: SnapshotEdited names only
  // the plugin a row ends up in, so the whole cache goes.
  const Effect edited = files.after([&] { shell.exec("UPDATE snapshots SET data = '{\"version\": 7}' WHERE plugin_id = 'd'"); });
  CHECK(edited.coherent);
  CHECK(edited.whole_cache);
  const Effect moved = files.after([&] {
    shell.exec("UPDATE snapshots SET plugin_id = 'd' WHERE seq = (SELECT max(seq) FROM snapshots WHERE plugin_id = 'b')");
  });
  CHECK(moved.coherent);
  CHECK(moved.whole_cache);
  CHECK(current_version(files.reader, "d") == 2);
}

TEST_CASE("the whole cache goes when the log cannot say what changed: a schema change, a pruned log, many events",
          "[cache][coherence]") {
  TwoConnections files;
  RawDb shell(files.path);
  using Effect = TwoConnections::Effect;

  // A schema change (it could have dropped a trigger that records changes).
  const Effect schema = files.after([&] {
    shell.exec("CREATE INDEX extra ON audit_events (kind); DROP INDEX extra;");
    shell.exec("UPDATE snapshots SET data = json_set(data, '$.version', 8) WHERE plugin_id = 'c'");
  });
  CHECK(schema.coherent);
  CHECK(schema.whole_cache);

  // A prune that removes the event the cache's position names (the newest
  // when the cache was last brought up to date: this host event).
  hotstate::ReloadEvent discovered;
  discovered.kind = hotstate::ReloadEvent::Kind::PluginDiscovered;
  discovered.plugin_id = "x";
  files.writer.record_event(discovered);
  const Effect pruned = files.after([&] {
    files.writer.save_snapshot(versioned("a", 2));
    hotstate::AuditPrune prune;
    prune.keep_newest = 1;
    files.writer.prune_audit(prune);
  });
  CHECK(pruned.coherent);
  CHECK(pruned.whole_cache);

  // More events than the cache reads one by one.
  const Effect many = files.after([&] {
    shell.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4100)"
               " INSERT INTO audit_events (plugin_id, kind, detail) SELECT 'x', 'PluginDiscovered', '{}' FROM n");
    files.writer.save_snapshot(versioned("b", 2));
  });
  CHECK(many.coherent);
  CHECK(many.whole_cache);
}

TEST_CASE("a file whose content is replaced by another database's is read anew, not taken for the old one",
          "[cache][coherence][sql]") {
  TempDir dir;
  const std::string other_path = dir.file("other.db");
  {
    StateManager other(file_options(other_path));
    for (int i = 0; i < 30; ++i) other.save_snapshot(versioned("a", 100 + i));  // more events than the first file
    other.save_snapshot(versioned("b", 200));
  }
  TwoConnections files;
  const TwoConnections::Effect replaced = files.after([&] {
    // The sqlite3 shell's .restore, through the backup API.
    const std::string command = "sqlite3 '" + files.path + "' \".restore '" + other_path + "'\"";
    REQUIRE(std::system(command.c_str()) == 0);
  });
  CHECK(replaced.coherent);
  CHECK(replaced.whole_cache);
  CHECK(current_version(files.reader, "a") == 129);
  CHECK(current_version(files.reader, "b") == 200);
}

TEST_CASE("a process whose plugins nobody touches keeps every one cached while another process saves others",
          "[cache][coherence][process]") {
  TwoConnections files;
  const auto before = files.reader.cache_stats();
  REQUIRE(hotstate_test::run_in_child_process([&] {
    StateManager other(file_options(files.path));
    for (int i = 0; i < 50; ++i) other.save_snapshot(versioned("other-" + std::to_string(i % 5), i));
  }));
  for (const auto& plugin : plugins) CHECK(current_version(files.reader, plugin) == 1);
  const auto after = files.reader.cache_stats();
  CHECK(after.hits - before.hits == plugins.size());
  CHECK(after.misses == before.misses);
  CHECK(after.invalidations == before.invalidations);
  CHECK(after.dropped == before.dropped);
}

TEST_CASE("threads loading while another connection saves never see a plugin go back to an older version",
          "[cache][coherence][threads]") {
  TwoConnections files;
  constexpr int saves = 300;
  std::atomic<bool> done{false};
  std::atomic<int> regressions{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      std::vector<int> seen(plugins.size(), 0);
      while (!done.load()) {
        for (std::size_t i = 0; i < plugins.size(); ++i) {
          const int version = current_version(files.reader, plugins[i]);
          if (version < seen[i]) regressions.fetch_add(1);
          seen[i] = version;
        }
      }
    });
  }
  for (int version = 2; version <= saves; ++version) {
    files.writer.save_snapshot(versioned(plugins[static_cast<std::size_t>(version) % 2], version));  // a and b only
  }
  done = true;
  for (auto& reader : readers) reader.join();
  CHECK(regressions.load() == 0);
  CHECK(versions(files.reader) == file_versions(files.path));
  CHECK(current_version(files.reader, "c") == 1);
}
