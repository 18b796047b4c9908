// A file whose history no longer matches what PostgreSQL holds for its host
// (an older copy put back after PostgreSQL had shipped later events) is
// refused: shipping on would skip its new events or mix two histories.
#include <catch2/catch.hpp>

#include "hotstate/hotstate.hpp"
#include "postgresql_test_cluster.hpp"
#include "replication/pg_connection.hpp"
#include "support.hpp"

namespace {

hotstate::ErrorCode code_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const hotstate::Error& e) {
    return e.code();
  }
  FAIL("no hotstate::Error was thrown");
  return hotstate::ErrorCode::Internal;
}

std::string count_events(const std::string& url) {
  hotstate::internal::PgConnection pg(url);
  return std::string(pg.exec("SELECT count(*) || ' ' || max(id) FROM hotstate.audit_events").text(0, 0));
}

}  // namespace

TEST_CASE("an older copy of a host's file put back is refused instead of shipped over PostgreSQL's history",
          "[postgresql][replication]") {
  const std::string url = fresh_test_database("divergence");
  hotstate_test::TempDir dir;
  hotstate::ReplicationOptions options;
  options.host_id = "h";
  hotstate::StateManager host(hotstate_test::file_options(dir.file("host.db")));
  host.save_snapshot(hotstate::StateSnapshot("p", "1.0.0").with_data("n", 1));
  host.replicate_once(url, options);
  host.backup(dir.file("old.db"));
  host.save_snapshot(hotstate::StateSnapshot("p", "1.0.0").with_data("n", 2));
  host.save_snapshot(hotstate::StateSnapshot("p", "1.0.0").with_data("n", 3));
  host.replicate_once(url, options);
  const std::string shipped = count_events(url);

  hotstate::StateManager old(hotstate_test::file_options(dir.file("old.db")));
  // Behind PostgreSQL: the position names an event the file does not have yet.
  CHECK(code_of([&] { old.replicate_once(url, options); }) == hotstate::ErrorCode::Conflict);
  // Then its own, different events take the ids PostgreSQL has.
  old.save_snapshot(hotstate::StateSnapshot("p", "1.0.0").with_data("n", 20));
  old.save_snapshot(hotstate::StateSnapshot("p", "1.0.0").with_data("n", 30));
  old.save_snapshot(hotstate::StateSnapshot("p", "1.0.0").with_data("n", 40));
  CHECK(code_of([&] { old.replicate_once(url, options); }) == hotstate::ErrorCode::Conflict);
  CHECK(count_events(url) == shipped);
  // As another host it ships.
  options.host_id = "h-restored-from-backup";
  CHECK(old.replicate_once(url, options).events > 0);
}

TEST_CASE("a host that stopped in the middle of shipping a backlog is rebuilt as of its last consistent point, "
          "which verifies",
          "[postgresql][replication][restore_from]") {
  const std::string url = fresh_test_database("mid_catch_up");
  hotstate_test::TempDir dir;
  hotstate::StateManager host(hotstate_test::file_options(dir.file("host.db"), 2));
  hotstate::ReplicationOptions options;
  options.host_id = "h";
  options.batch_events = 10;
  for (int i = 0; i < 5; ++i) host.save_snapshot(hotstate::StateSnapshot("p", "1.0.0").with_data("n", i));
  host.replicate_once(url, options);
  const std::uint64_t consistent = host.newest_event_id();
  for (int i = 5; i < 40; ++i) host.save_snapshot(hotstate::StateSnapshot("p", "1.0.0").with_data("n", i));
  // The host dies after the first batch of its backlog.
  options.on_batch = [](std::uint64_t, std::uint64_t) { throw std::runtime_error("the host died"); };
  CHECK_THROWS_AS(host.replicate_once(url, options), std::runtime_error);

  const auto report = hotstate::restore_from(url, "h", dir.file("rebuilt.db"));
  CHECK(report.position == consistent);
  CHECK(report.shipped == consistent + 10);
  {
    hotstate::StateManager rebuilt(hotstate_test::file_options(dir.file("rebuilt.db")));
    CHECK(rebuilt.load_snapshot("p")->get<int>("n") == 4);
    CHECK(rebuilt.verify().ok);
    // As the same host it would ship over the events PostgreSQL has after its position.
    options.on_batch = nullptr;
    CHECK(code_of([&] { rebuilt.replicate_once(url, options); }) == hotstate::ErrorCode::Conflict);
  }

  // Caught up, the rebuilt file is the host's as of its newest event.
  host.replicate_once(url, options);
  const auto caught_up = hotstate::restore_from(url, "h", dir.file("caught-up.db"));
  CHECK(caught_up.position == host.newest_event_id());
  CHECK(caught_up.shipped == caught_up.position);
  hotstate::StateManager whole(hotstate_test::file_options(dir.file("caught-up.db")));
  CHECK(whole.load_snapshot("p")->get<int>("n") == 39);
  CHECK(whole.verify().ok);
}
