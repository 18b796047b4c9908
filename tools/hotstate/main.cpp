// The hotstate command-line tool. Built on the public API only.
//
//   hotstate [--db FILE] [--json] <command>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "commands.hpp"
#include "hotstate/hotstate.hpp"

namespace {

// A toy plugin whose state is a counter and a greeting; version 2 cannot read
// version 1's state, so restoring into it fails as a real breaking change would.
class GreeterPlugin : public hotstate::StatefulPlugin {
 public:
  explicit GreeterPlugin(std::string version) : version_(std::move(version)) {}

  hotstate::StateSnapshot create_snapshot() const override {
    return hotstate::StateSnapshot("demo-greeter", version_)
        .with_data("greetings_sent", greetings_sent_)
        .with_data("last_name", last_name_)
        .with_metadata("reason", "hot-reload");
  }

  void restore_snapshot(const hotstate::StateSnapshot& snapshot) override {
    if (!is_snapshot_compatible(snapshot)) {
      throw std::runtime_error("snapshot of version " + snapshot.plugin_version + " is incompatible with " + version_);
    }
    greetings_sent_ = snapshot.get<std::int64_t>("greetings_sent").value_or(0);
    last_name_ = snapshot.get<std::string>("last_name").value_or("");
  }

  std::string plugin_version() const override { return version_; }

  void greet(const std::string& name) {
    ++greetings_sent_;
    last_name_ = name;
  }
  std::int64_t greetings_sent() const { return greetings_sent_; }

 private:
  std::string version_;
  std::int64_t greetings_sent_ = 0;
  std::string last_name_;
};

int run_demo(const std::string& db_path) {
  hotstate::Options options;
  options.path = db_path;
  hotstate::StateManager manager(options);
  const std::string id = "demo-greeter";

  const auto before = manager.get_history(id).size() + (manager.load_snapshot(id) ? 1 : 0);
  std::cout << "hotstate demo on " << db_path << " (schema version " << hotstate::schema_version() << ")\n";
  if (before > 0) {
    std::cout << "  this file already holds " << before << " snapshot(s) of " << id
              << " from earlier runs: history survives restarts\n";
  }

  // 1. Version 1.0.0 runs; restore whatever an earlier run left.
  GreeterPlugin v1("1.0.0");
  if (auto previous = manager.load_snapshot(id); previous && v1.is_snapshot_compatible(*previous)) {
    v1.restore_snapshot(*previous);
    std::cout << "1. restored " << id << " 1.0.0 from seq " << previous->seq << " (greetings_sent "
              << v1.greetings_sent() << ")\n";
  } else {
    std::cout << "1. started " << id << " 1.0.0 with fresh state\n";
  }
  v1.greet("Ada");
  v1.greet("Grace");

  // 2. Hot reload to 1.1.0: save before unloading, restore after loading.
  manager.save_snapshot(v1.create_snapshot());
  GreeterPlugin v11("1.1.0");
  v11.restore_snapshot(*manager.load_snapshot(id));
  v11.greet("Linus");
  manager.save_snapshot(v11.create_snapshot());
  std::cout << "2. reloaded 1.0.0 -> 1.1.0, state carried over (greetings_sent " << v11.greetings_sent() << ")\n";

  // 3. Reload to 2.0.0, a breaking version: it rejects 1.x state, starts
  //    empty, and its first snapshot is saved before the host notices.
  GreeterPlugin v2("2.0.0");
  hotstate::PluginState state = hotstate::PluginState::Reloading;
  try {
    v2.restore_snapshot(*manager.load_snapshot(id));
    state = hotstate::PluginState::Running;
  } catch (const std::exception& error) {
    state = hotstate::PluginState::failed(error.what());
  }
  manager.save_snapshot(v2.create_snapshot());
  std::cout << "3. reloaded 1.1.0 -> 2.0.0: " << state << "\n";

  // 4. Roll back to the last good snapshot.
  auto restored = manager.rollback(id);
  GreeterPlugin back("1.1.0");
  back.restore_snapshot(*restored);
  std::cout << "4. rolled back to seq " << restored->seq << " (version " << restored->plugin_version
            << ", greetings_sent " << back.greetings_sent() << ")\n";

  std::cout << "\nhistory of " << id << " (oldest first, max_history " << manager.max_history() << "):\n";
  for (const auto& entry : manager.get_history(id)) {
    std::cout << "  seq " << entry.seq << "  version " << entry.plugin_version << "  data "
              << hotstate::Json::from(entry.data).text() << "\n";
  }
  std::cout << "current: seq " << manager.load_snapshot(id)->seq << "\n\n"
            << "explore it with the sqlite3 shell:\n"
            << "  sqlite3 " << db_path << " \"SELECT plugin_id, seq, plugin_version, data FROM current_snapshots\"\n"
            << "  sqlite3 " << db_path
            << " \"SELECT seq, json_extract(data, '$.greetings_sent') FROM snapshot_history WHERE plugin_id = '" << id
            << "'\"\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hotstate: durable plugin hot-reload state"};
  app.require_subcommand(1);
  std::string db_path = "hotstate.db";
  bool json = false;
  app.add_option("--db", db_path, "database file")->capture_default_str();
  app.add_flag("--json", json, "print JSON for scripts instead of tables");

  std::string plugin_id;
  std::string directory;
  std::uint64_t seq_a = 0;
  std::uint64_t seq_b = 0;
  auto* demo = app.add_subcommand("demo", "simulate a plugin saved, reloaded, failing and rolled back");
  auto* plugins = app.add_subcommand("plugins", "list every plugin with its current snapshot");
  auto* show = app.add_subcommand("show", "show a plugin's current snapshot");
  show->add_option("ID", plugin_id, "plugin id")->required();
  auto* history = app.add_subcommand("history", "list a plugin's history, oldest first, and its current snapshot");
  history->add_option("ID", plugin_id, "plugin id")->required();
  auto* diff = app.add_subcommand("diff", "which keys of data and metadata changed between two snapshots");
  diff->add_option("ID", plugin_id, "plugin id")->required();
  diff->add_option("SEQ_A", seq_a, "seq of the older snapshot")->required();
  diff->add_option("SEQ_B", seq_b, "seq of the newer snapshot")->required();
  auto* rollback = app.add_subcommand("rollback", "discard a plugin's current snapshot and restore the previous one");
  rollback->add_option("ID", plugin_id, "plugin id")->required();
  auto* export_command = app.add_subcommand("export", "write each plugin's current snapshot as DIR/<id>.json (the seed's format)");
  export_command->add_option("DIR", directory, "directory")->required();
  auto* import_command = app.add_subcommand("import", "save every DIR/*.json snapshot (hotstate's or the seed's files)");
  import_command->add_option("DIR", directory, "directory")->required();
  auto* verify = app.add_subcommand("verify", "check integrity, schema, triggers, history bound and every row; exit 1 on a problem");
  std::string backup_path;
  auto* backup = app.add_subcommand("backup", "write a consistent copy of the database to FILE while writers go on");
  backup->add_option("FILE", backup_path, "the copy")->required();
  CLI11_PARSE(app, argc, argv);

  try {
    if (*demo) return run_demo(db_path);
    hotstate::Options options;
    options.path = db_path;
    const bool writes = *rollback || *import_command;
    options.read_only = !writes;  // looking never changes the file
    if (writes && !std::filesystem::exists(db_path) && !*import_command) {
      throw hotstate_tool::UsageError("no database '" + db_path + "'");
    }
    hotstate::StateManager manager(options);
    if (*plugins) return hotstate_tool::command_plugins(manager, json);
    if (*show) return hotstate_tool::command_show(manager, plugin_id, json);
    if (*history) return hotstate_tool::command_history(manager, plugin_id, json);
    if (*diff) return hotstate_tool::command_diff(manager, plugin_id, seq_a, seq_b, json);
    if (*rollback) return hotstate_tool::command_rollback(manager, plugin_id, json);
    if (*export_command) return hotstate_tool::command_export(manager, directory, json);
    if (*import_command) return hotstate_tool::command_import(manager, directory, json);
    if (*verify) return hotstate_tool::command_verify(manager, json);
    if (*backup) return hotstate_tool::command_backup(manager, backup_path, json);
  } catch (const hotstate_tool::UsageError& error) {
    std::cerr << "hotstate: " << error.what() << "\n";
    return 2;
  } catch (const std::exception& error) {
    std::cerr << "hotstate: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
