// The manager: following the audit log (changes.hpp). Each subscription has
// a thread of its own that looks at the WAL index every poll_interval and
// reads the log only after some writer committed.
#include "hotstate/changes.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <thread>

#include "hotstate/state_manager.hpp"
#include "manager/manager_impl.hpp"
#include "model/mutex.hpp"

namespace hotstate {

bool ChangeFilter::matches(const AuditEvent& event) const {
  const bool plugin_ok =
      plugin_ids.empty() || std::find(plugin_ids.begin(), plugin_ids.end(), event.plugin_id) != plugin_ids.end();
  const bool kind_ok = kinds.empty() || std::find(kinds.begin(), kinds.end(), event.kind) != kinds.end();
  return plugin_ok && kind_ok;
}

ChangeBatch StateManager::changes_since(std::uint64_t after_event_id, const ChangeFilter& filter,
                                        std::size_t limit) const {
  const std::size_t read_limit = std::max<std::size_t>(1, limit);
  internal::Store::EventsAfter read = impl_->store.events_after(after_event_id, read_limit);
  ChangeBatch batch;
  batch.position = read.events.empty() ? after_event_id : read.events.back().id;
  batch.missed = read.missed;
  batch.more = read.events.size() == read_limit;
  for (AuditEvent& event : read.events) {
    if (filter.matches(event)) batch.events.push_back(std::move(event));
  }
  return batch;
}

std::uint64_t StateManager::newest_event_id() const { return impl_->store.newest_event_id(); }

struct Subscription::State {
  const internal::Store* store = nullptr;
  std::function<void(const AuditEvent&)> on_event;
  SubscribeOptions options;

  internal::Mutex mutex;
  std::condition_variable wake;  // stop() wakes the thread from its wait; subscribe() lets it start
  bool stopping GUARDED_BY(mutex) = false;
  bool started GUARDED_BY(mutex) = false;  // subscribe() has stored `thread`
  std::thread thread GUARDED_BY(mutex);
  std::thread::id thread_id GUARDED_BY(mutex);

  std::atomic<bool> running{true};
  std::atomic<std::uint64_t> position{0};
  std::atomic<std::uint64_t> polls{0};
  std::atomic<std::uint64_t> queries{0};
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> missed{0};
  std::atomic<std::uint64_t> failures{0};

  bool stop_requested() EXCLUDES(mutex) {
    internal::MutexLock lock(mutex);
    return stopping;
  }

  // Waits for the next poll; false when stopped meanwhile.
  bool wait_poll() EXCLUDES(mutex) {
    const auto until = std::chrono::steady_clock::now() + options.poll_interval;
    internal::MutexLock lock(mutex);
    while (!stopping && mutex.wait_until(wake, until)) {
    }
    return !stopping;
  }

  void run() EXCLUDES(mutex) {
    {
      internal::MutexLock lock(mutex);
      thread_id = std::this_thread::get_id();
      while (!started) mutex.wait(wake);
    }
    std::optional<internal::ChangeMarker> seen;
    bool backlog = true;  // read at once: events may be waiting after the start
    while (backlog || wait_poll()) {
      if (stop_requested()) break;
      polls.fetch_add(1, std::memory_order_relaxed);
      const internal::ChangeMarker marker = store->marker();
      // Unchanged since the last read: no writer committed. (An unstable
      // marker, with no WAL index to look at, never compares equal: the log
      // is read at every poll.)
      if (!backlog && seen && *seen == marker) continue;
      internal::Store::EventsAfter read;
      try {
        queries.fetch_add(1, std::memory_order_relaxed);
        read = store->events_after(position.load(), std::max<std::size_t>(1, options.batch_size));
      } catch (const Error&) {
        failures.fetch_add(1, std::memory_order_relaxed);
        backlog = false;
        seen.reset();
        continue;
      }
      seen = marker;
      backlog = read.events.size() >= std::max<std::size_t>(1, options.batch_size);
      if (read.missed > 0) {
        missed.fetch_add(read.missed, std::memory_order_relaxed);
        if (options.on_missed) {
          try {
            options.on_missed(read.missed);
          } catch (...) {  // the contract says it must not throw; what it throws is dropped
          }
        }
      }
      for (const AuditEvent& event : read.events) {
        if (stop_requested()) break;
        position.store(event.id);
        if (!options.filter.matches(event)) continue;
        try {
          on_event(event);
        } catch (...) {  // the contract says it must not throw; what it throws is dropped
        }
        delivered.fetch_add(1, std::memory_order_relaxed);
      }
    }
    running.store(false);
  }

  void stop() EXCLUDES(mutex) {
    std::thread joined;
    {
      internal::MutexLock lock(mutex);
      stopping = true;
      if (thread_id == std::this_thread::get_id()) {
        // From the callback: the thread ends when it returns (it holds the
        // state until then).
        if (thread.joinable()) thread.detach();
      } else {
        joined = std::move(thread);
      }
    }
    wake.notify_all();
    if (joined.joinable()) joined.join();
  }
};

Subscription StateManager::subscribe(std::function<void(const AuditEvent&)> on_event, SubscribeOptions options) const {
  if (!on_event) throw Error(ErrorCode::InvalidArgument, "subscribe: on_event is empty");
  if (options.poll_interval.count() <= 0) {
    throw Error(ErrorCode::InvalidArgument, "subscribe: poll_interval must be positive");
  }
  auto state = std::make_shared<Subscription::State>();
  state->store = &impl_->store;
  state->on_event = std::move(on_event);
  state->position.store(options.after_event_id ? *options.after_event_id : impl_->store.newest_event_id());
  state->options = std::move(options);
  impl_->track(state);
  // The thread holds the state until it ends; the Subscription and the
  // manager stop it.
  std::thread thread([held = state] { held->run(); });
  {
    internal::MutexLock lock(state->mutex);
    state->thread = std::move(thread);
    state->started = true;
  }
  state->wake.notify_all();
  return Subscription(std::move(state));
}

Subscription::~Subscription() { stop(); }

Subscription::Subscription(Subscription&& other) noexcept = default;

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    stop();
    state_ = std::move(other.state_);
  }
  return *this;
}

void Subscription::stop() {
  if (state_) state_->stop();
}

bool Subscription::active() const { return state_ && state_->running.load() && !state_->stop_requested(); }

std::uint64_t Subscription::position() const { return state_ ? state_->position.load() : 0; }

Subscription::Stats Subscription::stats() const {
  Stats stats;
  if (!state_) return stats;
  stats.polls = state_->polls.load();
  stats.queries = state_->queries.load();
  stats.delivered = state_->delivered.load();
  stats.missed = state_->missed.load();
  stats.failures = state_->failures.load();
  return stats;
}

StateManager::Impl::~Impl() {
  std::vector<std::weak_ptr<Subscription::State>> held;
  std::vector<std::weak_ptr<Replication::State>> held_replications;
  {
    internal::MutexLock lock(subscriptions_mutex);
    held.swap(subscriptions);
    held_replications.swap(replications);
  }
  for (const auto& weak : held) {
    if (const auto subscription = weak.lock()) subscription->stop();
  }
  for (const auto& weak : held_replications) {
    if (const auto replication = weak.lock()) stop_replication(*replication);
  }
}

}  // namespace hotstate
