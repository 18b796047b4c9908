// The manager: replication to PostgreSQL (replication.hpp). replicate_once
// ships on the caller's thread; replicate starts a thread of its own that
// follows the file as a Subscription does (WAL-index looks, no SQL while
// idle) and ships each commit's events, retrying while PostgreSQL is down.
#include "hotstate/replication.hpp"

#include <atomic>
#include <condition_variable>
#include <thread>

#include "hotstate/state_manager.hpp"
#include "manager/manager_impl.hpp"
#include "model/mutex.hpp"
#include "replication/shipper.hpp"

namespace hotstate {

namespace {

// Shortest time between two records of the position in the file (replicas):
// each is a write the host's writers share the file's lock with.
constexpr auto record_interval = std::chrono::seconds(1);
// How often a follower reconciles (Shipper::ship): rows another client
// deleted without an audit event leave PostgreSQL within this time.
constexpr auto reconcile_interval = std::chrono::seconds(60);

}  // namespace

ShipReport StateManager::replicate_once(const std::string& url, const ReplicationOptions& options) {
  internal::Shipper shipper(impl_->store, url, options, impl_->options.path);
  const std::uint64_t target = impl_->store.newest_event_id();
  ShipReport report;
  // Every batch is counted and told to the callbacks alike, the last included.
  const auto take = [&](const internal::Shipper::Shipped& shipped) {
    report.events += shipped.events;
    report.missed += shipped.missed;
    if (shipped.committed) ++report.batches;
    if (shipped.missed > 0 && options.on_missed) options.on_missed(shipped.missed);
    if (shipped.committed && options.on_batch) options.on_batch(shipped.position, shipped.events);
    report.position = shipped.position;
  };
  bool first = true;
  while (true) {
    // The first batch also reconciles (see Shipper::ship).
    const auto shipped = shipper.ship(false, first);
    first = false;
    take(shipped);
    if (shipped.events == 0 || (!shipped.more && shipped.position >= target)) break;
  }
  // The record is a write, and a write chains the events another client
  // wrote: their chain hashes follow.
  shipper.record_position(true);
  take(shipper.ship());
  return report;
}

struct Replication::State {
  internal::Store* store = nullptr;
  std::string url;
  std::string file_path;
  ReplicationOptions options;

  internal::Mutex mutex;
  std::condition_variable wake;     // stop() wakes the thread from its waits
  std::condition_variable shipped;  // each commit wakes wait_shipped
  bool stopping GUARDED_BY(mutex) = false;
  bool started GUARDED_BY(mutex) = false;
  std::thread thread GUARDED_BY(mutex);
  std::string last_error GUARDED_BY(mutex);

  std::atomic<bool> running{true};
  std::atomic<bool> connected{false};
  std::atomic<std::uint64_t> position{0};
  std::atomic<std::uint64_t> events{0};
  std::atomic<std::uint64_t> batches{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> missed{0};

  // Waits `period`; false when stopped meanwhile.
  bool wait(std::chrono::milliseconds period) EXCLUDES(mutex) {
    const auto until = std::chrono::steady_clock::now() + period;
    internal::MutexLock lock(mutex);
    while (!stopping && mutex.wait_until(wake, until)) {
    }
    return !stopping;
  }

  bool stop_requested() EXCLUDES(mutex) {
    internal::MutexLock lock(mutex);
    return stopping;
  }

  void run() EXCLUDES(mutex) {
    {
      internal::MutexLock lock(mutex);
      while (!started) mutex.wait(wake);
    }
    std::optional<internal::Shipper> shipper;
    try {
      shipper.emplace(*store, url, options, file_path);
    } catch (const Error& e) {
      fail(e);
      running.store(false);
      return;
    }
    std::optional<internal::ChangeMarker> seen;
    auto retry = options.retry_min;
    auto last_contact = std::chrono::steady_clock::now();
    auto last_record = std::chrono::steady_clock::time_point();
    auto last_reconcile = std::chrono::steady_clock::time_point();
    bool reconciled_once = false;
    bool backlog = true;  // ship at once: events may be waiting
    while (!stop_requested()) {
      const auto now = std::chrono::steady_clock::now();
      const bool heartbeat = now - last_contact >= options.heartbeat_interval;
      const bool reconcile = !reconciled_once || now - last_reconcile >= reconcile_interval;
      const internal::ChangeMarker marker = store->marker();
      if (!backlog && !heartbeat && !reconcile && seen && *seen == marker) {
        if (!wait(options.poll_interval)) break;
        continue;
      }
      try {
        const auto result = shipper->ship(heartbeat, reconcile);
        if (reconcile) {
          reconciled_once = true;
          last_reconcile = now;
        }
        connected.store(true);
        seen = marker;
        retry = options.retry_min;
        if (result.committed) last_contact = now;
        position.store(result.position);
        if (result.missed > 0) {
          missed.fetch_add(result.missed);
          if (options.on_missed) call([&] { options.on_missed(result.missed); });
        }
        if (result.committed) {
          batches.fetch_add(1);
          events.fetch_add(result.events);
          if (options.on_batch) call([&] { options.on_batch(result.position, result.events); });
        }
        {
          internal::MutexLock lock(mutex);
        }
        shipped.notify_all();
        backlog = result.more;
        if (!backlog && now - last_record >= record_interval) {
          shipper->record_position(false);
          last_record = now;
        }
        // A commit of the record itself moves the marker: look again.
        if (!backlog && !wait(options.poll_interval)) break;
      } catch (const Error& e) {
        connected.store(false);
        fail(e);
        seen.reset();
        if (!wait(retry)) break;
        retry = std::min(retry * 2, options.retry_max);
      }
    }
    if (shipper && shipper->connected()) shipper->record_position(false);
    running.store(false);
    shipped.notify_all();
  }

  template <class Call>
  static void call(Call&& callback) {
    try {
      callback();
    } catch (...) {  // the contract says it must not throw; what it throws is dropped
    }
  }

  void fail(const Error& e) EXCLUDES(mutex) {
    failures.fetch_add(1);
    {
      internal::MutexLock lock(mutex);
      last_error = e.what();
    }
    if (options.on_error) call([&] { options.on_error(e); });
  }

  void stop() EXCLUDES(mutex) {
    std::thread joined;
    {
      internal::MutexLock lock(mutex);
      stopping = true;
      if (thread.get_id() == std::this_thread::get_id()) {
        if (thread.joinable()) thread.detach();
      } else {
        joined = std::move(thread);
      }
    }
    wake.notify_all();
    if (joined.joinable()) joined.join();
  }
};

void stop_replication(Replication::State& state) { state.stop(); }

Replication StateManager::replicate(const std::string& url, ReplicationOptions options) {
  if (options.host_id.empty()) throw Error(ErrorCode::InvalidArgument, "replicate: the host id is empty");
  if (options.batch_events == 0) throw Error(ErrorCode::InvalidArgument, "replicate: batch_events must be positive");
  if (options.poll_interval.count() <= 0 || options.retry_min.count() <= 0 || options.retry_max < options.retry_min) {
    throw Error(ErrorCode::InvalidArgument,
                "replicate: poll_interval and retry_min must be positive, and retry_max at least retry_min");
  }
  auto state = std::make_shared<Replication::State>();
  state->store = &impl_->store;
  state->url = url;
  state->file_path = impl_->options.path;
  state->options = std::move(options);
  impl_->track(state);
  std::thread thread([held = state] { held->run(); });
  {
    internal::MutexLock lock(state->mutex);
    state->thread = std::move(thread);
    state->started = true;
  }
  state->wake.notify_all();
  return Replication(std::move(state));
}

std::vector<ReplicaInfo> StateManager::replicas() const { return impl_->store.replicas(); }

bool StateManager::forget_replica(std::string_view host_id) { return impl_->store.forget_replica(host_id).value; }

Replication::~Replication() { stop(); }

Replication::Replication(Replication&& other) noexcept = default;

Replication& Replication::operator=(Replication&& other) noexcept {
  if (this != &other) {
    stop();
    state_ = std::move(other.state_);
  }
  return *this;
}

void Replication::stop() {
  if (state_) state_->stop();
}

bool Replication::active() const { return state_ && state_->running.load() && !state_->stop_requested(); }

Replication::Stats Replication::stats() const {
  Stats stats;
  if (!state_) return stats;
  stats.position = state_->position.load();
  stats.events = state_->events.load();
  stats.batches = state_->batches.load();
  stats.failures = state_->failures.load();
  stats.missed = state_->missed.load();
  stats.connected = state_->connected.load();
  internal::MutexLock lock(state_->mutex);
  stats.last_error = state_->last_error;
  return stats;
}

bool Replication::wait_shipped(std::uint64_t event_id, std::chrono::milliseconds timeout) const {
  if (!state_) return false;
  const auto until = std::chrono::steady_clock::now() + timeout;
  internal::MutexLock lock(state_->mutex);
  while (state_->position.load() < event_id) {
    if (!state_->running.load()) return false;
    if (!state_->mutex.wait_until(state_->shipped, until)) return state_->position.load() >= event_id;
  }
  return true;
}

}  // namespace hotstate
