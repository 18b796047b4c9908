// The hot-reload host example: a host process that runs a plugin from a
// shared library, swaps the library for new versions while it runs, and keeps
// the plugin's state across every reload with hotstate.
//
//   hotstate-host-example [run] [--db FILE] [--plugins DIR] [--work DIR] [--steps N]
//                         [--reload-to VERSION]... [--pause-after-begin] [--serve]
//
// What one run does (every step lands in the audit log of --db):
//  1. Discovers the plugin libraries in --plugins (each one loaded once to ask
//     its id and version): PluginDiscovered.
//  2. Recovers: a reload that an earlier host began and never finished (it
//     was killed in the middle) is found in the reload journal; the library of
//     the version that ran before it is reinstalled, its last good state made
//     current again, and the reload resolved: RollbackTriggered,
//     ReloadResolved.
//  3. Loads the installed library, <work>/active/<plugin>.so (installing the
//     oldest version when there is none), initializes the plugin and restores
//     its last snapshot: Loading, StateRestored, Running.
//  4. Runs --steps steps; each changes the plugin's state.
//  5. Hot-reloads to each --reload-to version (default 1.1.0, then 2.0.0;
//     3.0.0 renamed a key of the state), running --steps steps after each:
//       begin_reload saves the running state (ReloadStarted, StatePreserved,
//       Reloading); the old plugin is destroyed and its library closed; the
//       new library is copied next to the installed one and renamed over it
//       (atomic: the path always holds one whole library); it is loaded,
//       initialized, and given the state restore_for picks: the saved state,
//       or, across a major version, that state migrated by the migration the
//       host registered (StateMigrated) (StateRestored); finish_reload pins
//       it as last-known-good (ReloadCompleted, Pinned); Running.
//     When the new version fails to load, initialize or restore: finish_reload
//     with the error (ReloadFailed, ReloadCompleted), Failed,
//     RollbackTriggered; the old library is renamed back into place, loaded,
//     and given the last good state, the one begin_reload saved
//     (StateRestored); Running.
//  --serve: then keeps running until SIGINT or SIGTERM, and follows the
//     database (StateManager::subscribe): when another writer rolls back,
//     restores, deletes or clears the plugin's state (`hotstate rollback`,
//     `hotstate restore` from another terminal, the sqlite3 shell), the
//     running plugin gets the new current state at once, without a restart
//     or a reload: "APPLIED <kind> ...", StateRestored.
//  6. Shuts down: saves the plugin's state (StatePreserved), Unloading,
//     unloads it, Unloaded; prints the audit log of this run.
// Run it again on the same files: it carries on from the state it saved.
//
// --pause-after-begin: in the first reload, once begin_reload has committed
// and the new library is installed and loaded, prints "PAUSED mid-reload" and
// waits to be killed (kill -9); the next run recovers (step 2).
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "hotstate/hotstate.hpp"
#include "plugin_api.hpp"

namespace {

namespace fs = std::filesystem;
using hotstate::PluginState;
using hotstate::ReloadEvent;
using hotstate::ReloadResult;
using hotstate::SnapshotPtr;
using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate_example::HostedPlugin;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------------------
// Command line

struct HostOptions {
  std::string db = "hotstate-host.db";
  std::string plugins;  // default: plugins/ next to this executable
  std::string work = "hotstate-host-work";
  int steps = 3;
  std::vector<std::string> reload_to;  // default: 1.1.0, 2.0.0
  bool pause_after_begin = false;
  bool serve = false;
};

constexpr std::string_view kUsage =
    "usage: hotstate-host-example [run] [--db FILE] [--plugins DIR] [--work DIR] [--steps N]\n"
    "                             [--reload-to VERSION]... [--pause-after-begin]\n"
    "  --db FILE             hotstate database (default hotstate-host.db)\n"
    "  --plugins DIR         the built plugin libraries (default: plugins/ next to this program)\n"
    "  --work DIR            where the installed library lives: DIR/active/<plugin>.so\n"
    "                        (default hotstate-host-work)\n"
    "  --steps N             steps the plugin runs between reloads (default 3)\n"
    "  --reload-to VERSION   hot-reload to this version; repeat for more (default 1.1.0, then 2.0.0)\n"
    "  --pause-after-begin   in the first reload, after begin_reload, print \"PAUSED mid-reload\"\n"
    "                        and wait to be killed\n"
    "  --serve               after the reloads, keep running until SIGINT or SIGTERM, applying to the\n"
    "                        running plugin the state other writers roll back to or restore\n";

HostOptions parse_arguments(int argc, char** argv) {
  HostOptions options;
  bool reload_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "run" && i == 1) {
      continue;
    } else if (arg == "--db") {
      options.db = value();
    } else if (arg == "--plugins") {
      options.plugins = value();
    } else if (arg == "--work") {
      options.work = value();
    } else if (arg == "--steps") {
      const std::string text = value();
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), options.steps);
      if (error != std::errc() || end != text.data() + text.size() || options.steps < 0) {
        throw UsageError("--steps wants a number of steps, not '" + text + "'");
      }
    } else if (arg == "--reload-to") {
      if (!reload_given) options.reload_to.clear();
      reload_given = true;
      options.reload_to.push_back(value());
    } else if (arg == "--pause-after-begin") {
      options.pause_after_begin = true;
    } else if (arg == "--serve") {
      options.serve = true;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else {
      throw UsageError("unknown argument '" + std::string(arg) + "'");
    }
  }
  if (!reload_given) options.reload_to = {"1.1.0", "2.0.0"};
  if (options.plugins.empty()) {
    std::error_code error;
    const fs::path self = fs::read_symlink("/proc/self/exe", error);
    options.plugins = ((error ? fs::path(argv[0]) : self).parent_path() / "plugins").string();
  }
  return options;
}

// ---------------------------------------------------------------------------
// Plugin libraries

// One plugin library loaded with dlopen and the plugin it made. The
// destructor destroys the plugin (in the library that made it) and closes the
// library; unload() also checks that the library is really gone.
class LoadedLibrary {
 public:
  // Loads the library at `path` and creates its plugin. Throws
  // std::runtime_error with dlerror()'s message when it cannot.
  explicit LoadedLibrary(std::string path) : path_(std::move(path)) {
    // RTLD_NOW: every symbol the plugin needs from the host is bound now, so
    // a plugin that cannot run fails here and not in the middle of a step.
    // RTLD_LOCAL: one version's symbols never satisfy another's.
    handle_ = dlopen(path_.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) throw std::runtime_error("cannot load " + path_ + ": " + dlerror());
    const auto create = reinterpret_cast<hotstate_example_create_fn>(symbol(hotstate_example_create_symbol));
    destroy_ = reinterpret_cast<hotstate_example_destroy_fn>(symbol(hotstate_example_destroy_symbol));
    if (create == nullptr || destroy_ == nullptr || (plugin_ = create()) == nullptr) {
      const std::string why = create == nullptr || destroy_ == nullptr ? "it exports no hotstate_example entry points"
                                                                       : "its create function failed";
      dlclose(handle_);
      throw std::runtime_error("cannot load " + path_ + ": " + why);
    }
  }
  ~LoadedLibrary() {
    destroy_(plugin_);
    dlclose(handle_);
  }
  LoadedLibrary(const LoadedLibrary&) = delete;
  LoadedLibrary& operator=(const LoadedLibrary&) = delete;

  HostedPlugin& plugin() const { return *plugin_; }
  const std::string& path() const { return path_; }

 private:
  void* symbol(const char* name) const { return dlsym(handle_, name); }

  std::string path_;
  void* handle_ = nullptr;
  hotstate_example_destroy_fn destroy_ = nullptr;
  HostedPlugin* plugin_ = nullptr;
};

// Destroys the plugin and closes its library, and checks that the library is
// gone from the process: otherwise the next dlopen of the same path would
// hand back the old, still mapped version (glibc matches loaded libraries by
// path) instead of loading the file now at that path.
void unload(std::unique_ptr<LoadedLibrary>& library) {
  if (!library) return;
  const std::string path = library->path();
  library.reset();
  if (void* still_loaded = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD)) {
    dlclose(still_loaded);
    throw std::runtime_error(path + " stayed loaded after dlclose: a new version at that path could not be loaded");
  }
}

// "1.10.0" after "1.9.0": versions compared number by number.
struct VersionLess {
  static std::vector<long> numbers(std::string_view version) {
    std::vector<long> result;
    while (!version.empty()) {
      const auto dot = version.find('.');
      const std::string_view part = version.substr(0, dot);
      long number = 0;
      std::from_chars(part.data(), part.data() + part.size(), number);
      result.push_back(number);
      version = dot == std::string_view::npos ? std::string_view() : version.substr(dot + 1);
    }
    return result;
  }
  bool operator()(const std::string& a, const std::string& b) const {
    const auto x = numbers(a);
    const auto y = numbers(b);
    return x != y ? x < y : a < b;
  }
};

struct Library {
  std::string path;
  std::string version;
};

// The plugin libraries in --plugins: every version of one plugin.
struct Catalog {
  std::string plugin_id;
  std::map<std::string, Library, VersionLess> versions;

  const Library& at(const std::string& version) const {
    const auto found = versions.find(version);
    if (found == versions.end()) throw std::runtime_error("no library of " + plugin_id + " " + version);
    return found->second;
  }
};

// Loads each library in `directory` once, to ask its plugin's id and version.
Catalog discover(StateManager& manager, const std::string& directory) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(directory)) {
    if (entry.is_regular_file() && entry.path().extension() == ".so") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  Catalog catalog;
  for (const auto& file : files) {
    std::string id;
    std::string version;
    try {
      auto library = std::make_unique<LoadedLibrary>(file.string());
      id = library->plugin().name();
      version = library->plugin().plugin_version();
      unload(library);
    } catch (const std::exception& error) {
      std::cerr << "hotstate-host-example: skipping " << file.string() << ": " << error.what() << "\n";
      continue;
    }
    if (catalog.plugin_id.empty()) catalog.plugin_id = id;
    if (id != catalog.plugin_id) {
      throw std::runtime_error("this host runs one plugin; " + directory + " holds " + catalog.plugin_id + " and " + id);
    }
    catalog.versions.insert_or_assign(version, Library{file.string(), version});
    manager.record_event(
        ReloadEvent::plugin_discovered(id).with("version", version).with("library", file.filename().string()));
  }
  if (catalog.versions.empty()) throw std::runtime_error("no plugin libraries in " + directory);
  return catalog;
}

// Makes `path` durable: its data, or a directory's entries.
void sync_path(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path.string());
  const int result = ::fsync(fd);
  const int saved_errno = errno;
  ::close(fd);
  if (result != 0) throw std::system_error(saved_errno, std::generic_category(), "fsync " + path.string());
}

// Installs `library` at `active`: copies it next to it and renames the copy
// over it, so the path holds the old file or the new one, never a partial
// one. Never write into a library that is mapped: a rename gives the new
// version a new file, and the old mapping keeps its own.
void install(const Library& library, const fs::path& active) {
  const fs::path staged = active.parent_path() / ("." + active.filename().string() + ".staged");
  fs::copy_file(library.path, staged, fs::copy_options::overwrite_existing);
  sync_path(staged);
  fs::rename(staged, active);
  sync_path(active.parent_path());
}

// ---------------------------------------------------------------------------
// The host

// "12:34:56.789", UTC.
std::string clock_time(std::int64_t time_us) {
  const std::time_t seconds = static_cast<std::time_t>(time_us / 1'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::snprintf(text, sizeof text, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(time_us / 1000 % 1000));
  return text;
}


class Host {
 public:
  Host(StateManager& manager, Catalog catalog, const HostOptions& options)
      : manager_(manager),
        catalog_(std::move(catalog)),
        options_(options),
        id_(catalog_.plugin_id),
        active_(fs::path(options.work) / "active" / (id_ + ".so")) {
    fs::create_directories(active_.parent_path());
  }

  // 2. Reloads an earlier host began and never finished.
  void recover() {
    for (const auto& reload : manager_.unfinished_reloads()) {
      if (reload.plugin_id != id_) continue;  // another host's plugin
      const Library& last_good_library = catalog_.at(reload.from_version);
      std::cout << "recovering: reload #" << reload.id << " (" << id_ << " " << reload.from_version << " -> "
                << reload.to_version << ") never finished; the host died during it\n";
      manager_.set_plugin_state(id_, PluginState::failed("the host died during reload #" + std::to_string(reload.id)));
      manager_.record_event(ReloadEvent::rollback_triggered(id_, "host restarted after a crash mid-reload")
                                .with("reload_id", reload.id)
                                .with("to_version", reload.from_version));
      install(last_good_library, active_);
      // The last good state, the one begin_reload saved, current again: the
      // version being loaded may have saved state of its own since.
      const SnapshotPtr current = manager_.load_snapshot(id_);
      if (!current || current->seq != reload.last_good.seq) manager_.save_snapshot(reload.last_good);
      const std::string note = "host restarted: reinstalled " + id_ + " " + reload.from_version +
                               " and its last good state (seq " + std::to_string(reload.last_good.seq) + ")";
      manager_.resolve_reload(reload.id, note);
      std::cout << "  " << note << "\n";
    }
  }

  // 3. Loads the installed version with its last state.
  void start() {
    if (!fs::exists(active_)) {
      const Library& oldest = catalog_.versions.begin()->second;
      install(oldest, active_);
      std::cout << "installed " << id_ << " " << oldest.version << " at " << active_.string() << "\n";
    }
    manager_.set_plugin_state(id_, PluginState::Loading);
    try {
      loaded_ = std::make_unique<LoadedLibrary>(active_.string());
      loaded_->plugin().initialize();
    } catch (const std::exception& error) {
      manager_.set_plugin_state(id_, PluginState::failed(error.what()));
      throw std::runtime_error(id_ + " cannot start: " + error.what());
    }
    HostedPlugin& plugin = loaded_->plugin();
    std::string with = "fresh state";
    if (const SnapshotPtr saved = manager_.load_snapshot(id_)) {
      if (plugin.is_snapshot_compatible(*saved)) {
        plugin.restore_snapshot(*saved);
        manager_.record_event(ReloadEvent::state_restored(id_)
                                  .with("seq", saved->seq)
                                  .with("version", plugin.plugin_version())
                                  .with("from_version", saved->plugin_version));
        with = "the state of seq " + std::to_string(saved->seq) + " (" + saved->plugin_version + ")";
      } else {
        with = "fresh state (seq " + std::to_string(saved->seq) + " of " + saved->plugin_version +
               " is incompatible)";
      }
    }
    manager_.set_plugin_state(id_, PluginState::Running);
    std::cout << "loaded " << id_ << " " << plugin.plugin_version() << " with " << with << ": " << plugin.describe()
              << "\n";
  }

  // 4. The plugin at work.
  void run_steps() {
    for (int i = 0; i < options_.steps; ++i) std::cout << "  step: " << loaded_->plugin().run_step() << "\n";
  }

  // 5. A hot reload to `target`.
  void hot_reload(const Library& target, bool pause_mid_reload) {
    const std::string from_version = loaded_->plugin().plugin_version();
    const Library& from_library = catalog_.at(from_version);
    const StateSnapshot preserved = loaded_->plugin().create_snapshot().with_metadata("reason", "hot-reload");
    const hotstate::ReloadTicket ticket = manager_.begin_reload(preserved, target.version);
    manager_.set_plugin_state(id_, PluginState::Reloading);
    manager_.record_event(ReloadEvent::state_preserved(id_)
                              .with("reload_id", ticket.id)
                              .with("seq", ticket.snapshot_seq)
                              .with("version", from_version));
    std::cout << "reload #" << ticket.id << ": " << id_ << " " << from_version << " -> " << target.version
              << ", state saved as seq " << ticket.snapshot_seq << "\n";

    unload(loaded_);
    install(target, active_);
    std::optional<std::string> error;  // why the new version failed
    try {
      loaded_ = std::make_unique<LoadedLibrary>(active_.string());
      if (pause_mid_reload) {
        std::cout << "PAUSED mid-reload: " << target.version << " is installed and loaded, reload #" << ticket.id
                  << " is unfinished; pid " << ::getpid() << " waits to be killed (kill -9 it, then run again)"
                  << std::endl;
        for (;;) ::pause();
      }
      loaded_->plugin().initialize();
    } catch (const std::exception& failure) {  // only the new version runs in here, no store call
      // Copied before the library goes: an exception of a type the plugin
      // defined is destroyed by code in that library.
      error = failure.what();
    } catch (...) {
      error = "an exception that is no std::exception";
    }
    // The state the new version starts from: the saved state when it can
    // read it, else that state migrated to its major version (saved, and
    // audited as StateMigrated) by a migration the host registered.
    SnapshotPtr start;
    if (!error) {
      start = manager_.restore_for(id_, target.version);
      if (!start) error = target.version + " cannot read the state of " + from_version + " (no migration to it)";
    }
    if (!error) {
      try {
        loaded_->plugin().restore_snapshot(*start);
      } catch (const std::exception& failure) {
        error = failure.what();
      } catch (...) {
        error = "an exception that is no std::exception";
      }
    }

    if (!error) {
      manager_.record_event(ReloadEvent::state_restored(id_)
                                .with("reload_id", ticket.id)
                                .with("seq", start->seq)
                                .with("version", target.version));
      manager_.finish_reload(ticket.id, ReloadResult::succeeded_pinning());
      manager_.set_plugin_state(id_, PluginState::Running);
      std::cout << "  " << target.version << " runs with the state of seq " << start->seq
                << (start->seq == ticket.snapshot_seq
                        ? std::string()
                        : " (seq " + std::to_string(ticket.snapshot_seq) + " migrated from " + from_version + ")")
                << ": " << loaded_->plugin().describe() << "\n";
      return;
    }

    // The new version failed: back to the old library and the last good state.
    // The old library goes back in place before the reload is finished: a
    // host killed in between leaves an unfinished reload, which the next one
    // recovers (the same steps); killed after, it finds the old library.
    std::cout << "  " << target.version << " failed: " << *error << "\n";
    unload(loaded_);
    install(from_library, active_);
    manager_.finish_reload(ticket.id, ReloadResult::failed(*error));
    manager_.set_plugin_state(id_, PluginState::failed(*error));
    manager_.record_event(
        ReloadEvent::rollback_triggered(id_, target.version + " failed: " + *error + "; back to " + from_version)
            .with("reload_id", ticket.id)
            .with("to_version", from_version));
    loaded_ = std::make_unique<LoadedLibrary>(active_.string());
    HostedPlugin& old = loaded_->plugin();
    old.initialize();
    // The last good state is the snapshot begin_reload saved. Had the failed
    // version saved state of its own since, rolling back discards it.
    SnapshotPtr last_good = manager_.load_snapshot(id_);
    while (last_good && last_good->seq > ticket.snapshot_seq) last_good = manager_.rollback(id_);
    if (!last_good || last_good->seq != ticket.snapshot_seq) {
      manager_.save_snapshot(preserved);  // history no longer holds it
      last_good = manager_.load_snapshot(id_);
    }
    old.restore_snapshot(*last_good);
    manager_.record_event(ReloadEvent::state_restored(id_)
                              .with("reload_id", ticket.id)
                              .with("seq", last_good->seq)
                              .with("version", from_version));
    manager_.set_plugin_state(id_, PluginState::Running);
    std::cout << "  rolled back: " << from_version << " reinstalled and running with the state of seq "
              << last_good->seq << ": " << old.describe() << "\n";
  }

  // --serve: follows the database until SIGINT or SIGTERM. The subscription
  // calls back on hotstate's thread; the plugin is only touched here, on the
  // host's own thread, which the callback wakes.
  void serve() {
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before any thread starts: they inherit it

    std::mutex mutex;
    std::condition_variable changed;
    std::deque<hotstate::AuditEvent> pending;
    bool stop = false;
    std::thread signals([&] {
      int taken = 0;
      sigwait(&stop_signals, &taken);
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
      changed.notify_all();
    });
    hotstate::SubscribeOptions options;
    options.filter.plugin_ids = {id_};
    options.filter.kinds = {"RolledBack", "Restored", "SnapshotDeleted", "Cleared", "ClearedAll", "StateMigrated"};
    hotstate::Subscription subscription = manager_.subscribe(
        [&](const hotstate::AuditEvent& event) {
          std::lock_guard<std::mutex> lock(mutex);
          pending.push_back(event);
          changed.notify_all();
        },
        options);
    std::cout << "SERVING " << id_ << " " << loaded_->plugin().plugin_version() << " (pid " << ::getpid()
              << "): roll back or restore its state from another terminal; SIGINT or SIGTERM stops" << std::endl;
    for (;;) {
      std::unique_lock<std::mutex> lock(mutex);
      changed.wait(lock, [&] { return stop || !pending.empty(); });
      if (pending.empty()) break;
      const hotstate::AuditEvent event = pending.front();
      pending.pop_front();
      lock.unlock();
      apply_external_change(event);
    }
    subscription.stop();
    signals.join();
  }

  // The plugin's current state changed under it: give it the new one.
  void apply_external_change(const hotstate::AuditEvent& event) {
    HostedPlugin& plugin = loaded_->plugin();
    const SnapshotPtr current = manager_.load_snapshot(id_);
    if (!current) {
      std::cout << "APPLIED " << event.kind << " " << event.detail << ": no state is left; " << plugin.describe()
                << " keeps running" << std::endl;
      return;
    }
    try {
      plugin.restore_snapshot(*current);
    } catch (const std::exception& error) {
      std::cout << "REFUSED " << event.kind << " " << event.detail << ": " << error.what() << std::endl;
      return;
    }
    manager_.record_event(ReloadEvent::state_restored(id_)
                              .with("seq", current->seq)
                              .with("version", plugin.plugin_version())
                              .with("reason", "changed by another writer: " + event.kind));
    std::cout << "APPLIED " << event.kind << " " << event.detail << ": now the state of seq " << current->seq << ": "
              << plugin.describe() << std::endl;
  }

  // 6. Saves the state and unloads the plugin.
  void shut_down() {
    HostedPlugin& plugin = loaded_->plugin();
    const std::string version = plugin.plugin_version();
    const std::string described = plugin.describe();
    manager_.save_snapshot(plugin.create_snapshot().with_metadata("reason", "shutdown"));
    const SnapshotPtr saved = manager_.load_snapshot(id_);
    manager_.record_event(ReloadEvent::state_preserved(id_)
                              .with("seq", saved->seq)
                              .with("version", version)
                              .with("reason", "shutdown"));
    manager_.set_plugin_state(id_, PluginState::Unloading);
    unload(loaded_);
    manager_.set_plugin_state(id_, PluginState::Unloaded);
    std::cout << "shut down: " << id_ << " " << version << " saved as seq " << saved->seq << " (" << described
              << "), " << manager_.plugin_state(id_) << "\n";
  }

  const std::string& plugin_id() const { return id_; }

 private:
  StateManager& manager_;
  Catalog catalog_;
  const HostOptions& options_;
  std::string id_;
  fs::path active_;
  std::unique_ptr<LoadedLibrary> loaded_;
};

int run(const HostOptions& options) {
  const std::int64_t run_started = hotstate::now_us();
  hotstate::Options store_options;
  store_options.path = options.db;
  StateManager manager(store_options);

  Catalog catalog = discover(manager, options.plugins);
  std::cout << "hotstate host example: database " << options.db << ", plugins " << options.plugins << "\n"
            << "discovered " << catalog.plugin_id << ":";
  for (const auto& [version, library] : catalog.versions) {
    std::cout << " " << version << " (" << fs::path(library.path).filename().string() << ")";
  }
  std::cout << "\n";
  std::vector<const Library*> targets;
  for (const auto& version : options.reload_to) targets.push_back(&catalog.at(version));
  // The state migrations the host carries for its plugin: 3.0.0 renamed
  // 1.x's "last_message" to "greeting". restore_for applies it when a
  // reload crosses from 1.x to 3.x, and saves the result.
  manager.register_migration(catalog.plugin_id, 1, 3, [](StateSnapshot snapshot) {
    if (const auto found = snapshot.data.find("last_message"); found != snapshot.data.end()) {
      snapshot.data["greeting"] = found->second;
      snapshot.data.erase(found);
    }
    snapshot.data.erase("recent_messages");  // 3.0.0 keeps no list
    return snapshot;
  });

  Host host(manager, std::move(catalog), options);
  try {
    host.recover();
    host.start();
    host.run_steps();
    bool pause = options.pause_after_begin;
    for (const Library* target : targets) {
      host.hot_reload(*target, pause);
      pause = false;
      host.run_steps();
    }
    if (options.serve) host.serve();
    host.shut_down();
  } catch (const hotstate::Error&) {
    throw;
  } catch (const std::exception& error) {
    // A plugin's exception may be of a type its library defines: it is copied
    // here, while that library is loaded, not after ~Host has closed it.
    throw std::runtime_error(error.what());
  }

  hotstate::AuditQuery query;
  query.plugin_id = host.plugin_id();
  query.since_us = run_started;
  query.order = hotstate::AuditOrder::OldestFirst;
  query.limit = 0;
  const auto events = manager.audit_events(query);
  std::cout << "\nthe audit log of this run (" << events.size() << " events):\n";
  for (const auto& event : events) {
    std::string kind = event.kind;
    kind.resize(std::max<std::size_t>(kind.size(), 19), ' ');
    std::cout << "  " << clock_time(event.time_us) << "  " << kind << "  " << event.short_detail() << "\n";
  }
  const auto report = manager.verify();
  std::cout << "verify: " << (report.ok ? "ok" : "PROBLEMS") << "\n";
  for (const auto& problem : report.problems) std::cout << "  " << problem << "\n";
  return report.ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_arguments(argc, argv));
  } catch (const UsageError& error) {
    std::cerr << "hotstate-host-example: " << error.what() << "\n" << kUsage;
    return 2;
  } catch (const std::exception& error) {
    std::cerr << "hotstate-host-example: " << error.what() << "\n";
    return 1;
  }
}
