// StateManager driven by a sequence of operations decoded from the input,
// checked after every operation against a model of the seed's semantics
// (/work/shared/seed/state.rs): per plugin, its rows oldest first, the last
// one current; a save appends and trims to max_history + 1 rows; rollback
// drops the current row and makes the previous one current, or does nothing
// (and returns null) with no history; clear drops a plugin, clear_all all.
//
// Input layout (FuzzedDataProvider): the first byte chooses the setup
//   bits 0-1  max_history 0..3
//   bit  2    a database file (in a directory per process, emptied for every
//             input) instead of ":memory:"
//   bits 3-4  the cache: 4096 entries / 2 entries / 2 entries and 600 bytes / off
// then up to max_operations operations, each an opcode byte and its operands.
// (Integers come from the end of the input, strings from its front; the
// checked-in corpus is made by gen_state_manager_corpus.py, which mirrors
// this decoding.)
//
// With a file, two more things are checked: reopen (the StateManager destroyed
// and opened again with Options naming another max_history, which must change
// nothing; then maybe set_max_history, which trims every plugin's history when
// lower) and writes by a second StateManager on the same file, which the first
// one's cache must notice. Without a file, set_max_history is checked alone.
#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "fuzz_support.hpp"
#include "hotstate/hotstate.hpp"

using hotstate::Error;
using hotstate::ErrorCode;
using hotstate::Json;
using hotstate::Options;
using hotstate::SnapshotPtr;
using hotstate::StateManager;
using hotstate::StateSnapshot;

namespace {

constexpr int max_operations = 64;

// HOTSTATE_FUZZ_TRACE=1 prints each operation (to replay a crash by hand).
const bool trace = std::getenv("HOTSTATE_FUZZ_TRACE") != nullptr;
constexpr std::size_t max_id_bytes = 64;
constexpr std::size_t max_data_bytes = 4096;
constexpr std::size_t max_metadata_bytes = 1024;

// Plugin ids: byte order differs from ASCII case order, one is not ASCII, one
// holds a NUL byte, one is empty.
const std::array<std::string, 5> plugin_ids = {"a", "B", "\xc3\xa9t\xc3\xa9", std::string("a\0b", 3), ""};

// Pieces of valid UTF-8 that texts in snapshots are made of.
const std::array<std::string, 12> text_pieces = {
    "a", "Z", "0", " ", "\"", "\\", std::string(1, '\0'), "\xc3\xa9", "\xf0\x9f\x98\x80", "\n", "\x7f", "\xe2\x80\xa8"};

[[noreturn]] void mismatch(int line, const char* what, const std::string& got, const std::string& want) {
  hotstate_fuzz::fail(__FILE__, line, what, "got " + got + "\n  want " + want);
}

std::string describe(const StateSnapshot* snapshot) {
  if (snapshot == nullptr) return "null";
  return "seq " + std::to_string(snapshot->seq) + " " + snapshot->to_bytes();
}

std::string describe(const std::vector<StateSnapshot>& snapshots) {
  std::string out = "[";
  for (const auto& snapshot : snapshots) out += "\n    " + describe(&snapshot);
  return out + "]";
}

std::string describe(const std::vector<std::string>& ids) {
  std::string out = "[";
  for (const auto& id : ids) {
    out += " \"";
    for (const char c : id) out += c == '\0' ? std::string("\\0") : std::string(1, c);
    out += '"';
  }
  return out + " ]";
}

// The seed's semantics, with the store's seqs.
class Model {
 public:
  explicit Model(std::size_t max_history) : max_history_(max_history) {}

  std::size_t max_history() const { return max_history_; }
  std::uint64_t last_seq() const { return last_seq_; }

  void save(StateSnapshot snapshot, std::uint64_t seq) {
    FUZZ_CHECK(seq > last_seq_);  // seqs increase with every save, never reused
    last_seq_ = seq;
    snapshot.seq = seq;
    auto& rows = plugins_[snapshot.plugin_id];
    rows.push_back(std::move(snapshot));
    trim(rows);
  }

  std::optional<StateSnapshot> rollback(const std::string& id) {
    const auto it = plugins_.find(id);
    if (it == plugins_.end() || it->second.size() < 2) return std::nullopt;
    it->second.pop_back();
    return it->second.back();
  }

  void clear(const std::string& id) { plugins_.erase(id); }
  void clear_all() { plugins_.clear(); }

  void set_max_history(std::size_t max_history) {
    max_history_ = max_history;
    for (auto& [id, rows] : plugins_) trim(rows);
  }

  const StateSnapshot* current(const std::string& id) const {
    const auto it = plugins_.find(id);
    return it == plugins_.end() ? nullptr : &it->second.back();
  }

  std::uint64_t current_seq(const std::string& id) const {
    const StateSnapshot* snapshot = current(id);
    return snapshot == nullptr ? 0 : snapshot->seq;
  }

  std::vector<StateSnapshot> history(const std::string& id) const {
    const auto it = plugins_.find(id);
    if (it == plugins_.end()) return {};
    return {it->second.begin(), it->second.end() - 1};
  }

  // std::map<std::string> orders by bytes (char_traits<char> compares as unsigned char).
  std::vector<std::string> ids() const {
    std::vector<std::string> ids;
    for (const auto& [id, rows] : plugins_) ids.push_back(id);
    return ids;
  }

 private:
  void trim(std::vector<StateSnapshot>& rows) const {
    if (rows.size() > max_history_ + 1) rows.erase(rows.begin(), rows.end() - static_cast<long>(max_history_ + 1));
  }

  std::size_t max_history_;
  std::uint64_t last_seq_ = 0;
  std::map<std::string, std::vector<StateSnapshot>> plugins_;  // oldest first; back() is current
};

// A directory of this process's own for the database file, inside
// $HOTSTATE_FUZZ_DIR (tools/scripts/fuzz.sh sets it), else /dev/shm when there
// is one (no fsync cost; the fuzzer does not test durability), else the
// temporary directory.
const std::filesystem::path& database_path() {
  static const struct Directory {
    std::filesystem::path dir;
    Directory() {
      std::error_code ignored;
      std::filesystem::path parent = "/dev/shm";
      if (const char* chosen = std::getenv("HOTSTATE_FUZZ_DIR"); chosen != nullptr && *chosen != '\0') {
        parent = chosen;
      } else if (!std::filesystem::is_directory(parent, ignored) || ::access(parent.c_str(), W_OK) != 0) {
        parent = std::filesystem::temp_directory_path(ignored);
      }
      dir = parent / ("hotstate-fuzz-" + std::to_string(::getpid()));
      std::filesystem::remove_all(dir, ignored);
      std::filesystem::create_directories(dir);
    }
    ~Directory() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } directory;
  static const std::filesystem::path path = directory.dir / "state.db";
  return path;
}

void remove_database() {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::error_code ignored;
    std::filesystem::remove(database_path().string() + suffix, ignored);
  }
}

class Harness {
 public:
  explicit Harness(FuzzedDataProvider& in) : in_(in), model_(0) {
    const auto setup = in_.ConsumeIntegral<std::uint8_t>();
    model_.set_max_history(setup & 3u);
    file_backed_ = (setup & 4u) != 0;
    switch ((setup >> 3) & 3u) {
      case 0: cache_entries_ = 4096; cache_bytes_ = std::size_t{1} << 20; break;
      case 1: cache_entries_ = 2; cache_bytes_ = std::size_t{1} << 20; break;
      case 2: cache_entries_ = 2; cache_bytes_ = 600; break;
      default: cache_entries_ = 0; cache_bytes_ = 0; break;
    }
    if (file_backed_) remove_database();
    open();
  }

  ~Harness() {
    other_.reset();
    manager_.reset();
    if (file_backed_) remove_database();
  }

  void run() {
    for (int i = 0; i < max_operations && in_.remaining_bytes() > 0; ++i) step();
    check_all();
  }

 private:
  // `max_history`: what Options names, which only a new file takes.
  Options options(std::optional<std::size_t> max_history = std::nullopt) const {
    Options o;
    o.path = file_backed_ ? database_path().string() : ":memory:";
    o.max_history = max_history ? *max_history : model_.max_history();
    o.synchronous = hotstate::Synchronous::Normal;  // the fuzzer does not test power loss
    o.cache_max_entries = cache_entries_;
    o.cache_max_bytes = cache_bytes_;
    o.max_id_bytes = max_id_bytes;
    o.max_data_bytes = max_data_bytes;
    o.max_metadata_bytes = max_metadata_bytes;
    return o;
  }

  void open(std::optional<std::size_t> max_history = std::nullopt) {
    manager_ = std::make_unique<StateManager>(options(max_history));
    FUZZ_CHECK(manager_->max_history() == model_.max_history());
  }

  // The second writer on the same file; on ":memory:" the manager itself.
  StateManager& other() {
    if (!file_backed_) return *manager_;
    if (!other_) other_ = std::make_unique<StateManager>(options());
    return *other_;
  }

  const std::string& pick_id() { return plugin_ids[in_.ConsumeIntegral<std::uint8_t>() % plugin_ids.size()]; }

  std::string pick_text() {
    std::string text;
    const auto length = in_.ConsumeIntegralInRange<int>(0, 6);
    for (int i = 0; i < length; ++i) text += text_pieces[in_.ConsumeIntegral<std::uint8_t>() % text_pieces.size()];
    return text;
  }

  // A valid snapshot within the limits, with a little of everything.
  StateSnapshot make_snapshot(const std::string& id) {
    ++saves_;
    StateSnapshot snapshot(id, "1." + std::to_string(saves_ % 5));
    snapshot.timestamp = in_.ConsumeIntegral<std::uint64_t>();  // every u64, as the seed
    snapshot.seq = in_.ConsumeIntegral<std::uint8_t>();                // ignored by saves
    snapshot.data["n"] = Json::from(saves_);
    const auto flags = in_.ConsumeIntegral<std::uint8_t>();
    if (flags & 1u) snapshot.data["s"] = Json::from(pick_text());
    if (flags & 2u) {
      try {
        snapshot.data["j"] = Json::parse(in_.ConsumeRandomLengthString(48));
      } catch (const Error& error) {
        if (error.code() != ErrorCode::InvalidJson) FUZZ_UNEXPECTED(error);
      }
    }
    if (flags & 4u) snapshot.metadata["m"] = pick_text();
    if (flags & 8u) snapshot.metadata[pick_text()] = pick_text();
    if (flags & 16u) snapshot.data[pick_text()] = Json();
    if (flags & 32u) snapshot.plugin_version = pick_text();
    return snapshot;
  }

  // A snapshot that every save refuses before writing, and the code it refuses it with.
  std::pair<StateSnapshot, ErrorCode> make_invalid_snapshot() {
    StateSnapshot snapshot = make_snapshot(pick_id());
    switch (in_.ConsumeIntegral<std::uint8_t>() % 8) {
      case 0:
        snapshot.plugin_id += "\xff";
        return {snapshot, ErrorCode::InvalidUtf8};
      case 1:
        snapshot.plugin_version = "1.\xc3";
        return {snapshot, ErrorCode::InvalidUtf8};
      case 2:
        snapshot.metadata["bad"] = "\xed\xa0\x80";  // a UTF-16 surrogate
        return {snapshot, ErrorCode::InvalidUtf8};
      case 3:
        snapshot.data["\xc0\x80"] = Json();  // overlong NUL
        return {snapshot, ErrorCode::InvalidUtf8};
      case 4:
        snapshot.plugin_version = std::string(max_id_bytes + 1, 'v');
        return {snapshot, ErrorCode::TooLarge};
      case 5:
        snapshot.plugin_id = std::string(max_id_bytes + 1, 'x');
        return {snapshot, ErrorCode::TooLarge};
      case 6:
        snapshot.data["big"] = Json::from(std::string(max_data_bytes, 'x'));
        return {snapshot, ErrorCode::TooLarge};
      default:
        snapshot.metadata["big"] = std::string(max_metadata_bytes, 'x');
        return {snapshot, ErrorCode::TooLarge};
    }
  }

  // Saves through `manager` and records the save in the model.
  void save(StateManager& manager, const std::string& id) {
    StateSnapshot snapshot = make_snapshot(id);
    manager.save_snapshot(snapshot);
    // save_snapshot returns no seq: the manager that saved reads it back.
    const SnapshotPtr saved = manager.load_snapshot(id);
    FUZZ_CHECK(saved != nullptr);
    model_.save(std::move(snapshot), saved->seq);
  }

  template <class Save>
  void expect_error(ErrorCode expected, Save&& save) {
    try {
      save();
    } catch (const Error& error) {
      if (error.code() != expected) {
        hotstate_fuzz::fail(__FILE__, __LINE__, "wrong error code",
                            std::string(error.what()) + "; expected " + hotstate::to_string(expected));
      }
      return;
    }
    hotstate_fuzz::fail(__FILE__, __LINE__, "no error", std::string("expected ") + hotstate::to_string(expected));
  }

  // A seq that is not the current one of `id`.
  std::uint64_t wrong_seq(const std::string& id) {
    const std::uint64_t right = model_.current_seq(id);
    const auto choice = in_.ConsumeIntegral<std::uint8_t>();
    std::uint64_t seq = right + 1 + (choice >> 2);
    switch (choice & 3u) {
      case 0:
        break;  // a seq not handed out yet
      case 1:
        seq = right == 0 ? model_.last_seq() : 0;  // "no snapshot yet" when there is one, or an old seq
        break;
      case 2: {
        const auto history = model_.history(id);  // a stale read
        if (!history.empty()) seq = history[choice % history.size()].seq;
        break;
      }
      default:
        for (const auto& other_id : plugin_ids) {  // another plugin's current seq
          if (other_id != id && model_.current(other_id) != nullptr) seq = model_.current_seq(other_id);
        }
        break;
    }
    return seq == right ? right + 1 : seq;
  }

  void step() {
    const auto op = in_.ConsumeIntegral<std::uint8_t>() % 16;
    const std::string& id = pick_id();
    if (trace) {
      static constexpr const char* names[16] = {
          "save",   "save",  "save_if(right)", "save_if(wrong)", "save_snapshots", "invalid save", "load_snapshot",
          "get_latest", "rollback", "clear", "clear_all?", "get_history+plugin_ids", "reopen", "other: save",
          "other: rollback/clear", "check_all"};
      std::fprintf(stderr, "op %-24s id %s\n", names[op], describe(std::vector<std::string>{id}).c_str());
    }
    switch (op) {
      case 0:
      case 1:  // save_snapshot
        save(*manager_, id);
        check_plugin(id);
        break;
      case 2: {  // save_snapshot_if, with the right seq
        StateSnapshot snapshot = make_snapshot(id);
        const std::uint64_t seq = manager_->save_snapshot_if(snapshot, model_.current_seq(id));
        model_.save(std::move(snapshot), seq);
        check_plugin(id);
        break;
      }
      case 3: {  // save_snapshot_if, with a wrong seq: Conflict, nothing written
        StateSnapshot snapshot = make_snapshot(id);
        const std::uint64_t seq = wrong_seq(id);
        expect_error(ErrorCode::Conflict, [&] { manager_->save_snapshot_if(snapshot, seq); });
        check_plugin(id);
        break;
      }
      case 4: {  // save_snapshots of 1 to 3, in order
        std::vector<StateSnapshot> batch;
        const auto count = in_.ConsumeIntegralInRange<int>(1, 3);
        batch.push_back(make_snapshot(id));
        for (int i = 1; i < count; ++i) batch.push_back(make_snapshot(pick_id()));
        const std::vector<StateSnapshot> saved = batch;
        const std::vector<std::uint64_t> seqs = manager_->save_snapshots(batch);
        FUZZ_CHECK(seqs.size() == saved.size());
        for (std::size_t i = 0; i < saved.size(); ++i) model_.save(saved[i], seqs[i]);
        for (const auto& snapshot : saved) check_plugin(snapshot.plugin_id);
        check_ids();
        break;
      }
      case 5: {  // an invalid snapshot, alone or in a batch: refused, nothing written
        auto made = make_invalid_snapshot();
        StateSnapshot invalid = std::move(made.first);
        const ErrorCode code = made.second;
        switch (in_.ConsumeIntegral<std::uint8_t>() % 3) {
          case 0:
            expect_error(code, [&] { manager_->save_snapshot(invalid); });
            break;
          case 1:
            expect_error(code, [&] { manager_->save_snapshot_if(invalid, model_.current_seq(invalid.plugin_id)); });
            break;
          default: {
            std::vector<StateSnapshot> batch{make_snapshot(id), std::move(invalid)};
            if (in_.ConsumeBool()) std::swap(batch[0], batch[1]);
            expect_error(code, [&] { manager_->save_snapshots(batch); });
            break;
          }
        }
        check_all();
        break;
      }
      case 6:
      case 7:  // load_snapshot / get_latest
        check_snapshot(op == 6 ? manager_->load_snapshot(id) : manager_->get_latest(id), model_.current(id));
        break;
      case 8: {  // rollback
        const std::optional<StateSnapshot> want = model_.rollback(id);
        check_snapshot(manager_->rollback(id), want ? &*want : nullptr);
        check_plugin(id);
        check_ids();
        break;
      }
      case 9:  // clear
        manager_->clear(id);
        model_.clear(id);
        check_plugin(id);
        check_ids();
        break;
      case 10:  // clear_all
        if (in_.ConsumeIntegral<std::uint8_t>() % 4 == 0) {
          manager_->clear_all();
          model_.clear_all();
          check_all();
        }
        break;
      case 11:  // get_history, plugin_ids
        check_history(id);
        check_ids();
        break;
      case 12: {  // reopen with Options naming another max_history (it must not apply), maybe set it on purpose
        const std::size_t max_history = in_.ConsumeIntegral<std::uint8_t>() % 4;
        if (file_backed_) {
          other_.reset();
          manager_.reset();
          open(max_history);
        }
        if (in_.ConsumeBool()) {
          manager_->set_max_history(max_history);
          model_.set_max_history(max_history);
        }
        check_all();
        break;
      }
      case 13:  // another writer saves
        save(other(), id);
        check_plugin(id);
        check_ids();
        break;
      case 14: {  // another writer rolls back or clears
        if (in_.ConsumeBool()) {
          const std::optional<StateSnapshot> want = model_.rollback(id);
          check_snapshot(other().rollback(id), want ? &*want : nullptr);
        } else {
          other().clear(id);
          model_.clear(id);
        }
        check_plugin(id);
        check_ids();
        break;
      }
      default:  // everything
        check_all();
        break;
    }
  }

  void check_snapshot(const SnapshotPtr& got, const StateSnapshot* want) {
    if ((got == nullptr) != (want == nullptr) || (got != nullptr && *got != *want)) {
      mismatch(__LINE__, "snapshot", describe(got.get()), describe(want));
    }
  }

  void check_history(const std::string& id) {
    const std::vector<StateSnapshot> got = manager_->get_history(id);
    const std::vector<StateSnapshot> want = model_.history(id);
    if (got != want) mismatch(__LINE__, "get_history", describe(got), describe(want));
  }

  void check_ids() {
    const std::vector<std::string> got = manager_->plugin_ids();
    const std::vector<std::string> want = model_.ids();
    if (got != want) mismatch(__LINE__, "plugin_ids", describe(got), describe(want));
  }

  void check_plugin(const std::string& id) {
    check_snapshot(manager_->load_snapshot(id), model_.current(id));
    check_history(id);
  }

  void check_all() {
    for (const auto& id : plugin_ids) check_plugin(id);
    check_ids();
    FUZZ_CHECK(manager_->max_history() == model_.max_history());
  }

  FuzzedDataProvider& in_;
  Model model_;
  bool file_backed_ = false;
  std::size_t cache_entries_ = 0;
  std::size_t cache_bytes_ = 0;
  std::uint64_t saves_ = 0;
  std::unique_ptr<StateManager> manager_;
  std::unique_ptr<StateManager> other_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  Harness harness(in);
  harness.run();
  return 0;
}
