// StateManager: the seed's semantics, on :memory: and file databases.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

using hotstate::ErrorCode;
using hotstate::Json;
using hotstate::StateManager;
using hotstate::StateSnapshot;
using hotstate_test::current_version;
using hotstate_test::error_code_of;
using hotstate_test::versioned;
using hotstate_test::versions_of;
using hotstate_test::memory_options;
using hotstate_test::file_options;
using hotstate_test::RawDb;
using hotstate_test::TempDir;

// --- The seed's own tests -------------------------------------------------

TEST_CASE("a saved snapshot loads back with its data (seed: test_state_manager)", "[manager][seed]") {
  StateManager manager(memory_options());
  manager.save_snapshot(StateSnapshot("plugin-1", "1.0.0").with_data("state", "active"));

  auto loaded = manager.load_snapshot("plugin-1");
  REQUIRE(loaded);
  CHECK(loaded->plugin_id == "plugin-1");
  CHECK(loaded->get<std::string>("state") == std::optional<std::string>("active"));
}

TEST_CASE("rollback restores the previous snapshot (seed: test_state_manager_rollback)", "[manager][rollback][seed]") {
  StateManager manager(memory_options());
  manager.save_snapshot(versioned("plugin-1", 1));
  manager.save_snapshot(versioned("plugin-1", 2));
  CHECK(current_version(manager, "plugin-1") == 2);

  auto rolled_back = manager.rollback("plugin-1");
  REQUIRE(rolled_back);
  CHECK(rolled_back->get<int>("version") == 1);
  CHECK(current_version(manager, "plugin-1") == 1);
}

// --- Loading ----------------------------------------------------------------

TEST_CASE("load_snapshot and get_latest return null for an unknown plugin", "[manager]") {
  StateManager manager(memory_options());
  CHECK(manager.load_snapshot("nobody") == nullptr);
  CHECK(manager.get_latest("nobody") == nullptr);
}

TEST_CASE("get_latest returns the same current snapshot as load_snapshot", "[manager]") {
  StateManager manager(memory_options());
  manager.save_snapshot(versioned("p", 1));
  manager.save_snapshot(versioned("p", 2));
  REQUIRE(manager.get_latest("p"));
  CHECK(*manager.get_latest("p") == *manager.load_snapshot("p"));
}

TEST_CASE("a loaded snapshot equals the saved one, field for field", "[manager]") {
  StateManager manager(memory_options());
  StateSnapshot saved = StateSnapshot("p", "2.1.0")
                            .with_data("counter", 42)
                            .with_data("names", std::vector<std::string>{"a", "b"})
                            .with_metadata("author", "developer");
  saved.timestamp = 1712345678;
  manager.save_snapshot(saved);

  auto loaded = manager.load_snapshot("p");
  REQUIRE(loaded);
  CHECK(loaded->seq > 0);
  StateSnapshot expected = saved;
  expected.seq = loaded->seq;
  CHECK(*loaded == expected);
}

// --- Saving and ordering ---------------------------------------------------

TEST_CASE("each save gets a higher seq, never reused, even after clear", "[manager][seq]") {
  StateManager manager(memory_options());
  manager.save_snapshot(versioned("p", 1));
  const auto first = manager.load_snapshot("p")->seq;
  manager.save_snapshot(versioned("q", 1));
  const auto second = manager.load_snapshot("q")->seq;
  manager.clear_all();
  manager.save_snapshot(versioned("p", 2));
  const auto third = manager.load_snapshot("p")->seq;
  CHECK(first < second);
  CHECK(second < third);
}

TEST_CASE("order follows saves, never the seconds-resolution timestamp", "[manager][seq]") {
  StateManager manager(memory_options());
  for (int version = 1; version <= 4; ++version) {
    StateSnapshot snapshot = versioned("p", version);
    snapshot.timestamp = 1000 - static_cast<std::uint64_t>(version);  // older and older
    manager.save_snapshot(snapshot);
  }
  StateSnapshot same_second = versioned("p", 5);
  same_second.timestamp = 996;
  manager.save_snapshot(same_second);

  CHECK(current_version(manager, "p") == 5);
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{1, 2, 3, 4});
  CHECK(manager.rollback("p")->get<int>("version") == 4);
}

TEST_CASE("save_snapshot ignores a caller's seq and assigns its own", "[manager][seq]") {
  StateManager manager(memory_options());
  StateSnapshot snapshot = versioned("p", 1);
  snapshot.seq = 999999;
  manager.save_snapshot(snapshot);
  CHECK(manager.load_snapshot("p")->seq != 999999);
}

TEST_CASE("every u64 timestamp the seed accepts is stored and read back exactly", "[manager][timestamp]") {
  TempDir dir;
  const auto path = dir.file("u64.db");
  const std::vector<std::uint64_t> timestamps = {0,
                                                 1,
                                                 static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()),
                                                 std::uint64_t{1} << 63,
                                                 (std::uint64_t{1} << 63) + 1,
                                                 18446744073709551614ull,
                                                 std::numeric_limits<std::uint64_t>::max()};
  {
    StateManager manager(file_options(path, 20));
    for (const std::uint64_t timestamp : timestamps) {
      StateSnapshot snapshot = versioned("p", 1);
      snapshot.timestamp = timestamp;
      manager.save_snapshot(snapshot);
      CHECK(manager.load_snapshot("p")->timestamp == timestamp);
    }
  }
  StateManager reopened(file_options(path));
  std::vector<std::uint64_t> read;
  for (const auto& entry : reopened.get_history("p")) read.push_back(entry.timestamp);
  read.push_back(reopened.load_snapshot("p")->timestamp);
  CHECK(read == timestamps);
  // The sqlite3 shell sees the exact u64 in the views.
  RawDb shell(path);
  CHECK(shell.query("SELECT timestamp FROM current_snapshots WHERE plugin_id = 'p'") == "18446744073709551615");
  CHECK(shell.query("SELECT group_concat(timestamp, ' ') FROM (SELECT timestamp FROM snapshot_history ORDER BY seq)") ==
        "0 1 9223372036854775807 9223372036854775808 9223372036854775809 18446744073709551614");
}

TEST_CASE("a plugin id that is not UTF-8 is refused and nothing is written", "[manager][errors]") {
  StateManager manager(memory_options());
  CHECK(error_code_of([&] { manager.save_snapshot(StateSnapshot("bad\xff", "1.0.0")); }) == ErrorCode::InvalidUtf8);
  CHECK(error_code_of([&] { manager.save_snapshot(StateSnapshot("p", "1.\xc3")); }) == ErrorCode::InvalidUtf8);
  StateSnapshot bad_metadata("p", "1.0.0");
  bad_metadata.metadata["k"] = "\xfe";
  CHECK(error_code_of([&] { manager.save_snapshot(bad_metadata); }) == ErrorCode::InvalidUtf8);
  CHECK(manager.plugin_ids().empty());
}

TEST_CASE("plugin ids are stored and read back exactly, whatever their bytes", "[manager]") {
  StateManager manager(memory_options());
  const std::vector<std::string> ids = {"",     "../x",  "/etc/passwd", "a/b",  "back\\slash",
                                        "..",   "ünï",   "emoji 😀",    "sp ce", std::string("nul\0inside", 10),
                                        "DROP TABLE snapshots; --"};
  int version = 0;
  for (const auto& id : ids) manager.save_snapshot(versioned(id, ++version));
  version = 0;
  for (const auto& id : ids) {
    auto loaded = manager.load_snapshot(id);
    REQUIRE(loaded);
    CHECK(loaded->plugin_id == id);
    CHECK(loaded->get<int>("version") == ++version);
  }
  CHECK(manager.plugin_ids().size() == ids.size());
  CHECK(manager.load_snapshot("nul") == nullptr);  // no truncation at the NUL
}

// --- History and max_history ------------------------------------------------

TEST_CASE("get_history is oldest first and excludes the current snapshot", "[manager][history]") {
  StateManager manager(memory_options());
  for (int version = 1; version <= 4; ++version) manager.save_snapshot(versioned("p", version));
  const auto history = manager.get_history("p");
  CHECK(versions_of(history) == std::vector<int>{1, 2, 3});
  CHECK(history.front().seq < history.back().seq);
  CHECK(manager.get_history("unknown").empty());
}

TEST_CASE("history is trimmed to the newest max_history entries", "[manager][history]") {
  StateManager manager(memory_options());  // default 10
  for (int version = 1; version <= 15; ++version) manager.save_snapshot(versioned("p", version));
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{5, 6, 7, 8, 9, 10, 11, 12, 13, 14});
  CHECK(current_version(manager, "p") == 15);
  CHECK(manager.max_history() == 10);
}

TEST_CASE("max_history 0 keeps no history", "[manager][history]") {
  StateManager manager(memory_options(0));
  for (int version = 1; version <= 3; ++version) manager.save_snapshot(versioned("p", version));
  CHECK(manager.get_history("p").empty());
  CHECK(current_version(manager, "p") == 3);
  CHECK(manager.rollback("p") == nullptr);
  CHECK(current_version(manager, "p") == 3);
}

TEST_CASE("max_history 1 keeps exactly the previous snapshot", "[manager][history]") {
  StateManager manager(memory_options(1));
  for (int version = 1; version <= 3; ++version) manager.save_snapshot(versioned("p", version));
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{2});
  CHECK(manager.rollback("p")->get<int>("version") == 2);
  CHECK(manager.rollback("p") == nullptr);
}

TEST_CASE("history of one plugin never trims another plugin", "[manager][history]") {
  StateManager manager(memory_options(2));
  for (int version = 1; version <= 3; ++version) manager.save_snapshot(versioned("a", version));
  for (int version = 1; version <= 5; ++version) manager.save_snapshot(versioned("b", version));
  CHECK(versions_of(manager.get_history("a")) == std::vector<int>{1, 2});
  CHECK(versions_of(manager.get_history("b")) == std::vector<int>{3, 4});
}

TEST_CASE("max_history above 2147483647 is refused", "[manager][errors]") {
  CHECK(error_code_of([] { StateManager manager(memory_options(std::size_t{1} << 31)); }) ==
        ErrorCode::InvalidArgument);
  StateManager largest(memory_options(2147483647));
  CHECK(largest.max_history() == 2147483647);
}

// --- Rollback -----------------------------------------------------------------

TEST_CASE("rollback restores the newest history entry and discards the current one", "[manager][rollback]") {
  StateManager manager(memory_options());
  for (int version = 1; version <= 3; ++version) manager.save_snapshot(versioned("p", version));
  auto restored = manager.rollback("p");
  REQUIRE(restored);
  CHECK(restored->get<int>("version") == 2);
  CHECK(current_version(manager, "p") == 2);
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{1});
  CHECK(*restored == *manager.load_snapshot("p"));
}

TEST_CASE("rollback with no history returns null and changes nothing", "[manager][rollback]") {
  StateManager manager(memory_options());
  CHECK(manager.rollback("unknown") == nullptr);
  CHECK(manager.plugin_ids().empty());

  manager.save_snapshot(versioned("p", 1));
  const auto before = *manager.load_snapshot("p");
  CHECK(manager.rollback("p") == nullptr);
  CHECK(*manager.load_snapshot("p") == before);
  CHECK(manager.plugin_ids() == std::vector<std::string>{"p"});
}

TEST_CASE("rollback until empty walks back through every entry", "[manager][rollback]") {
  StateManager manager(memory_options());
  for (int version = 1; version <= 5; ++version) manager.save_snapshot(versioned("p", version));
  for (int expected = 4; expected >= 1; --expected) {
    auto restored = manager.rollback("p");
    REQUIRE(restored);
    CHECK(restored->get<int>("version") == expected);
  }
  CHECK(manager.rollback("p") == nullptr);
  CHECK(current_version(manager, "p") == 1);
  CHECK(manager.get_history("p").empty());
}

TEST_CASE("a save after a rollback continues from the restored snapshot", "[manager][rollback]") {
  StateManager manager(memory_options());
  for (int version = 1; version <= 3; ++version) manager.save_snapshot(versioned("p", version));
  manager.rollback("p");
  manager.save_snapshot(versioned("p", 4));
  CHECK(versions_of(manager.get_history("p")) == std::vector<int>{1, 2});
  CHECK(current_version(manager, "p") == 4);
}

// --- Clearing -------------------------------------------------------------------

TEST_CASE("clear removes a plugin entirely and leaves the others", "[manager][clear]") {
  StateManager manager(memory_options());
  for (int version = 1; version <= 3; ++version) manager.save_snapshot(versioned("p", version));
  manager.save_snapshot(versioned("other", 7));

  manager.clear("p");
  CHECK(manager.load_snapshot("p") == nullptr);
  CHECK(manager.get_history("p").empty());
  CHECK(manager.rollback("p") == nullptr);
  CHECK(manager.plugin_ids() == std::vector<std::string>{"other"});
  CHECK(current_version(manager, "other") == 7);

  manager.clear("never-saved");  // no effect, no error
  CHECK(manager.plugin_ids() == std::vector<std::string>{"other"});
}

TEST_CASE("a save after clear starts a fresh history", "[manager][clear]") {
  StateManager manager(memory_options());
  for (int version = 1; version <= 3; ++version) manager.save_snapshot(versioned("p", version));
  manager.clear("p");
  manager.save_snapshot(versioned("p", 10));
  CHECK(current_version(manager, "p") == 10);
  CHECK(manager.get_history("p").empty());
  CHECK(manager.rollback("p") == nullptr);
}

TEST_CASE("clear_all removes every plugin", "[manager][clear]") {
  StateManager manager(memory_options());
  manager.save_snapshot(versioned("a", 1));
  manager.save_snapshot(versioned("a", 2));
  manager.save_snapshot(versioned("b", 1));
  manager.clear_all();
  CHECK(manager.plugin_ids().empty());
  CHECK(manager.load_snapshot("a") == nullptr);
  CHECK(manager.get_history("a").empty());
  manager.save_snapshot(versioned("a", 3));
  CHECK(manager.plugin_ids() == std::vector<std::string>{"a"});
}

TEST_CASE("plugin_ids lists each plugin once, sorted by bytes", "[manager]") {
  StateManager manager(memory_options());
  for (const char* id : {"zeta", "alpha", "Beta", "\xc3\xa9t\xc3\xa9", "alpha", "_"}) {
    manager.save_snapshot(StateSnapshot(id, "1.0.0"));
  }
  CHECK(manager.plugin_ids() == std::vector<std::string>{"Beta", "_", "alpha", "zeta", "\xc3\xa9t\xc3\xa9"});
}

// --- JSON through the database ------------------------------------------------

TEST_CASE("JSON values survive the database unchanged", "[manager][json]") {
  StateManager manager(memory_options());
  StateSnapshot saved("json", "1.0.0");
  saved.with_data("unicode", std::string("h\xc3\xa9llo \xe6\xbc\xa2\xe5\xad\x97 \xf0\x9f\x98\x80"))
      .with_data("escapes", std::string("quote\" backslash\\ slash/ nl\n cr\r tab\t bs\b ff\f"))
      .with_data("control", std::string("\x01\x1f\x7f", 3) + std::string(1, '\0'))
      .with_data("u64_max", std::numeric_limits<std::uint64_t>::max())
      .with_data("i64_min", std::numeric_limits<std::int64_t>::min())
      .with_data("big", 1e300)
      .with_data("neg_zero", -0.0)
      .with_data("nested", Json::parse(R"({"b":[1,[2,[3,{"c":null}]]],"a":{"x":true,"y":[]}})"))
      .with_metadata("author", "Zo\xc3\xab \xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb");
  manager.save_snapshot(saved);

  auto loaded = manager.load_snapshot("json");
  REQUIRE(loaded);
  CHECK(loaded->data == saved.data);
  CHECK(loaded->metadata == saved.metadata);
  CHECK(loaded->get<std::uint64_t>("u64_max") == std::numeric_limits<std::uint64_t>::max());
  CHECK(loaded->get<std::int64_t>("i64_min") == std::numeric_limits<std::int64_t>::min());
  CHECK(loaded->get<double>("big") == 1e300);
  CHECK(loaded->data.at("neg_zero").text() == "-0.0");
  CHECK(loaded->get<std::string>("control") == std::string("\x01\x1f\x7f", 3) + std::string(1, '\0'));
  CHECK(loaded->data.at("nested").text() == R"({"a":{"x":true,"y":[]},"b":[1,[2,[3,{"c":null}]]]})");
  CHECK(StateSnapshot::from_bytes(loaded->to_bytes()).data == saved.data);
}

// --- Threads ------------------------------------------------------------------

TEST_CASE("one StateManager shared by threads keeps every plugin consistent", "[manager][threads]") {
  hotstate_test::TempDir dir;
  const std::string path = dir.file("threads.db");
  constexpr int thread_count = 4;
  constexpr int rounds = 60;
  {
    StateManager manager(hotstate_test::file_options(path, 3));
    std::vector<std::thread> threads;
    for (int t = 0; t < thread_count; ++t) {
      threads.emplace_back([&manager, t] {
        for (int i = 0; i < rounds; ++i) {
          const std::string id = "plugin-" + std::to_string((t + i) % 3);
          switch (i % 5) {
            case 0:
            case 1: manager.save_snapshot(versioned(id, t * 1000 + i)); break;
            case 2: (void)manager.load_snapshot(id); break;
            case 3: (void)manager.rollback(id); break;
            default: (void)manager.get_history(id); break;
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
    for (const auto& id : manager.plugin_ids()) CHECK(manager.get_history(id).size() <= 3);
  }
  StateManager reopened(hotstate_test::file_options(path, 3));
  for (const auto& id : reopened.plugin_ids()) {
    const auto history = reopened.get_history(id);
    CHECK(history.size() <= 3);
    for (std::size_t i = 1; i < history.size(); ++i) CHECK(history[i - 1].seq < history[i].seq);
  }
}

TEST_CASE("history_size counts what get_history returns without reading it", "[manager][history]") {
  StateManager manager(memory_options(3));
  CHECK(manager.history_size("p") == 0);
  manager.save_snapshot(versioned("p", 1));
  CHECK(manager.history_size("p") == 0);
  for (int version = 2; version <= 6; ++version) {
    manager.save_snapshot(versioned("p", version));
    CHECK(manager.history_size("p") == manager.get_history("p").size());
  }
  CHECK(manager.history_size("p") == 3);
  (void)manager.rollback("p");
  CHECK(manager.history_size("p") == 2);
  CHECK(error_code_of([&] { (void)manager.history_size("p\xff"); }) == ErrorCode::InvalidUtf8);
}

TEST_CASE("check_snapshot refuses what save_snapshot would refuse, and writes nothing", "[manager][errors]") {
  hotstate::Options options = memory_options();
  options.max_data_bytes = 64;
  StateManager manager(options);
  manager.check_snapshot(versioned("p", 1));
  CHECK(error_code_of([&] { manager.check_snapshot(StateSnapshot("p\xff", "1")); }) == ErrorCode::InvalidUtf8);
  CHECK(error_code_of([&] {
          manager.check_snapshot(StateSnapshot("p", "1").with_data("big", std::string(100, 'x')));
        }) == ErrorCode::TooLarge);
  CHECK(manager.plugin_ids().empty());
}

TEST_CASE("an Error's what() is its code's name and its message", "[manager][errors]") {
  const hotstate::Error error(hotstate::ErrorCode::Busy, "the file is locked");
  CHECK(std::string(error.what()) == "Busy: the file is locked");
  CHECK(error.message() == "the file is locked");
  CHECK(hotstate::Error(hotstate::ErrorCode::Internal, "").message().empty());
}
