// hotstate: following what every writer commits. The audit log is the
// change log: every change of snapshots, pins, plugin states and the reload
// journal lands in it in the change's own transaction, whoever made it
// (another process, the sqlite3 shell), with an id that only grows. So "every
// change since a point" is "every audit event after an event id":
// StateManager::changes_since reads them, StateManager::subscribe delivers
// them as they commit, on a thread hotstate owns.
//
// Thread safety: ChangeFilter and ChangeBatch are plain values. A
// Subscription may be stopped from any thread, its callback included.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hotstate/audit.hpp"

namespace hotstate {

// Which events to deliver: of these plugins (empty: every plugin) and of
// these kinds (empty: every kind). A value type.
struct ChangeFilter {
  std::vector<std::string> plugin_ids;
  std::vector<std::string> kinds;

  bool matches(const AuditEvent& event) const;
};

// What StateManager::changes_since read. A value type.
struct ChangeBatch {
  std::vector<AuditEvent> events;  // those the filter matched, in commit (event id) order
  std::uint64_t position = 0;      // the newest event read, matched or not: the next call's after_event_id
  std::uint64_t missed = 0;        // events between the start and `position` that a retention prune removed before they were read
  bool more = false;               // the limit was reached: more events are waiting
};

// How StateManager::subscribe follows the log.
struct SubscribeOptions {
  ChangeFilter filter;
  // Deliver the events after this id; unset: only those committed after
  // subscribe returns.
  std::optional<std::uint64_t> after_event_id;
  // How often the thread looks for commits. A look costs a few loads from
  // the WAL index in shared memory (the check the cache makes), no SQL and no
  // system call: the log is read only after a commit of some writer.
  std::chrono::milliseconds poll_interval{10};
  // Events read per query; a longer backlog is read in several.
  std::size_t batch_size = 256;
  // Called, before the events of the read that found it out, with how many
  // events a retention prune removed before the subscription read them (the
  // subscriber fell behind the prune). Empty: not told.
  std::function<void(std::uint64_t missed)> on_missed;
};

// A running subscription (StateManager::subscribe). Move-only; destroying it
// stops it. It must be stopped before its StateManager is destroyed, or that
// destructor stops it.
class Subscription {
 public:
  Subscription() = default;  // none
  ~Subscription();
  Subscription(Subscription&&) noexcept;
  Subscription& operator=(Subscription&&) noexcept;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Stops the thread: no callback starts after it returns. Waits for a
  // callback in progress on another thread; called from the callback itself,
  // returns at once (the thread ends when the callback returns). Idempotent.
  void stop();
  // Whether it is still following the log.
  bool active() const;
  // The newest event id read so far (delivered or filtered out).
  std::uint64_t position() const;

  struct Stats {
    std::uint64_t polls = 0;      // looks at the WAL index
    std::uint64_t queries = 0;    // reads of the audit log (only after a commit, or while a backlog lasts)
    std::uint64_t delivered = 0;  // events handed to the callback
    std::uint64_t missed = 0;     // events pruned before they were read
    std::uint64_t failures = 0;   // reads that failed (an Error; retried at the next poll)
  };
  Stats stats() const;

  struct State;  // internal

 private:
  friend class StateManager;
  explicit Subscription(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace hotstate
