// The store: the write path. Every write queues up; the write at the front
// runs the writes queued behind it with its own (group commit), through the
// schema gate, retrying while Busy (see Shared::write in store_internal.hpp).
#include "store/audit_chain.hpp"
#include "store/store_internal.hpp"

namespace hotstate::internal {

namespace {

using Shared = Store::Shared;
using Connection = Store::Connection;
using QueuedWrite = Shared::QueuedWrite;

// `error` with `context` in front of its details instead of the context it had.
Error for_write(const Error& error, std::string_view context) {
  return Error(error.code(), std::string(context) + " (committed with other writes): " + std::string(error.message()));
}

// Checks the schema inside the write's transaction, before anything runs.
void check_schema(Shared& shared, Connection& c) {
  require_trusted_schema(c.db.getHandle(), latest_schema_version(), shared.path,
                         "hotstate does not write through a file with these, so nothing was written");
  c.guard->schema_trusted = true;
}

// The schema gate around one attempt: `attempt(check)` runs the write, with
// check = true when it must first check the schema in its transaction.
template <class Attempt>
auto through_schema_gate(Shared& shared, Connection& c, std::string_view context, Attempt& attempt) {
  ConnectionGuard& guard = *c.guard;
  guard.begin_call();
  if (guard.schema_trusted) {
    try {
      return attempt(false);
    } catch (const SQLite::Exception& e) {
      // A denied compile: the schema changed under a prepared statement
      // (nothing ran); check it below. Anything else is what it says.
      if (!guard.denied || guard.interrupted) {
        shared.explain_guard_failure(context, guard, e);
        throw;
      }
      guard.begin_call();
    }
  }
  guard.schema_trusted = false;
  const CompileWindow window(guard);
  try {
    // One transaction holds the write lock from the check to the commit, so
    // the schema checked is the schema the statements compile against.
    return attempt(true);
  } catch (const SQLite::Exception& e) {
    shared.explain_guard_failure(context, guard, e);
    throw;
  }
}

// Attempts until one is not Busy (up to the busy timeout); SQLite errors
// become Error, and a DiskFull that was a table out of ids says so.
template <class Attempt>
auto with_retries(Shared& shared, Connection& c, std::string_view context, Attempt&& attempt) {
  return retry_while_busy(context, shared.settings.busy_ms, [&] {
    try {
      return translate_sqlite_errors(context, [&] { return through_schema_gate(shared, c, context, attempt); });
    } catch (const Error& error) {
      if (error.code() != ErrorCode::DiskFull) throw;
      if (std::optional<Error> used_up = diagnose_used_up_ids(c, context)) throw *used_up;
      throw;
    }
  });
}

// With an audit key, the events other clients wrote since hotstate's last
// write are chained (and signed as theirs) before the write adds its own.
void chain_found_events(Shared& shared, Connection& c, Commit& commit) {
  if (shared.audit_key.empty()) return;
  if (auto head = chain_pending(c, shared.audit_key, false)) commit.audit_head = std::move(head);
}

// The events the write added (and, without a key, any another client wrote
// before them), chained in the write's transaction before it commits.
void chain_own_events(Shared& shared, Connection& c, Commit& commit) {
  if (auto head = chain_pending(c, shared.audit_key, true)) commit.audit_head = std::move(head);
}

// One write on its own, in one transaction.
void run_alone(Shared& shared, Connection& c, QueuedWrite& write) {
  bool commit_started = false;  // from here on, a failure may have committed
  try {
    write.commit = with_retries(shared, c, write.context, [&](bool check) {
      commit_started = false;
      // Always a transaction: the events the write adds are chained in it.
      WriteTransaction transaction(c);
      if (check) check_schema(shared, c);
      Commit commit;
      commit.before = shared.marker();
      const int changes_before = c.db.getTotalChanges();
      chain_found_events(shared, c, commit);
      write.run(write.body, c, commit);
      chain_own_events(shared, c, commit);
      commit_started = true;
      transaction.commit();
      // Nothing below throws: the outcome of a commit that happened is always reported.
      shared.finish_commit(c, changes_before, commit);
      return commit;
    });
  } catch (const Error& error) {
    write.failure = commit_started ? std::make_exception_ptr(CommitUncertain(error)) : std::current_exception();
  } catch (...) {
    write.failure = std::current_exception();
  }
}

// A write of a group that failed inside its savepoint: undone, and its error kept.
void fail_alone(Connection& c, QueuedWrite& write, std::exception_ptr failure) {
  // Some failures (an I/O error, a full disk, an interrupt) make SQLite roll
  // back the whole transaction: then the group fails as a whole.
  if (sqlite3_get_autocommit(c.db.getHandle()) != 0) std::rethrow_exception(failure);
  StatementUse(*c.rollback_to_savepoint)->exec();
  StatementUse(*c.release_savepoint)->exec();
  write.failure = std::move(failure);
}

// A write of a group run without savepoints failed: the group's
// transaction was rolled back, and the group runs again with them.
struct RunIsolated {};

// The writes of `group` in one transaction; the writes that queue meanwhile
// join it (Shared::grow). Isolated, each runs in its own savepoint and one
// that fails is undone alone. Not isolated (the first try: writes rarely
// fail, and a savepoint copies every page the write changes that an
// earlier write of the group changed too), a write that fails rolls the
// whole transaction back and throws RunIsolated.
void run_group_once(Shared& shared, Connection& c, std::vector<QueuedWrite*>& group, bool check,
                    bool& commit_started, bool isolated) {
  commit_started = false;
  for (QueuedWrite* write : group) {
    write->failure = nullptr;
    write->commit = Commit{};
  }
  WriteTransaction transaction(c);
  if (check) check_schema(shared, c);
  const ChangeMarker before = shared.marker();
  const int changes_before = c.db.getTotalChanges();
  Commit chained;
  chain_found_events(shared, c, chained);
  for (std::size_t index = 0; index < group.size(); ++index) {
    QueuedWrite* write = group[index];
    if (isolated) StatementUse(*c.savepoint)->exec();
    c.guard->begin_call();
    try {
      write->run(write->body, c, write->commit);
      if (isolated) StatementUse(*c.release_savepoint)->exec();
    } catch (const SQLite::Exception& e) {
      // A denied compile: the schema changed; the whole group runs again through the check.
      if (c.guard->denied && !c.guard->interrupted) throw;
      if (!isolated) throw RunIsolated{};
      std::exception_ptr failure;
      try {
        shared.explain_guard_failure(write->context, *c.guard, e);
        rethrow_sqlite(write->context, e, e.getExtendedErrorCode());
      } catch (...) {
        failure = std::current_exception();
      }
      fail_alone(c, *write, std::move(failure));
    } catch (...) {
      if (!isolated) throw RunIsolated{};
      fail_alone(c, *write, std::current_exception());
    }
    if (index + 1 == group.size()) shared.grow(group);
  }
  // What the group changed, in order (a later write of a plugin wins; a
  // removal of every plugin drops what came before it), for every write in
  // it: whichever of them updates a cache first applies the whole commit.
  Commit combined;
  combined.before = before;
  for (const QueuedWrite* write : group) {
    if (write->failure) continue;
    if (write->commit.removed_every_plugin) {
      combined.current.clear();
      combined.removed_every_plugin = true;
    }
    combined.current.insert(combined.current.end(), write->commit.current.begin(), write->commit.current.end());
  }
  chain_own_events(shared, c, chained);
  combined.audit_head = std::move(chained.audit_head);
  for (QueuedWrite* write : group) {
    if (!write->failure) write->commit = combined;
  }
  commit_started = true;
  transaction.commit();
  // Nothing below throws.
  shared.finish_commit(c, changes_before, combined);
  for (QueuedWrite* write : group) {
    if (write->failure) continue;
    write->commit.position = combined.position;
    write->commit.after = combined.after;
  }
}

void run_together(Shared& shared, Connection& c, std::vector<QueuedWrite*>& group) {
  bool commit_started = false;
  try {
    bool isolated = false;
    with_retries(shared, c, "write", [&](bool check) {
      if (!isolated) {
        try {
          run_group_once(shared, c, group, check, commit_started, false);
          return;
        } catch (const RunIsolated&) {
          isolated = true;  // rolled back whole; nothing was committed
        }
      }
      run_group_once(shared, c, group, check, commit_started, true);
    });
  } catch (const Error& error) {
    // The group failed as a whole: its writes that had not failed alone get
    // the failure, as their own.
    for (QueuedWrite* write : group) {
      if (write->failure) continue;
      const Error own = for_write(error, write->context);
      write->failure = commit_started ? std::make_exception_ptr(CommitUncertain(own)) : std::make_exception_ptr(own);
    }
  }
}

}  // namespace

void Store::Shared::run_queued(QueuedWrite& write) {
  std::vector<QueuedWrite*> group;
  bool together = false;
  {
    MutexLock lock(queue_mutex);
    queue.push_back(&write);
    if (const auto found = std::find(awaited.begin(), awaited.end(), write.thread); found != awaited.end()) {
      awaited.erase(found);
      if (gathering && awaited.empty()) queue.front()->wake.notify_one();
    }
    const bool queued_behind = queue.front() != &write;
    while (!write.done && queue.front() != &write) queue_mutex.wait(write.wake);
    if (write.done) return;  // a write ahead of it ran it
    // At the front: this write leads the writes queued behind it.
    take_queued(group);
    together = group.size() > 1 || queued_behind || last_group_size > 1;
  }
  const auto started = std::chrono::steady_clock::now();
  run_group(group, together);
  const auto ran = std::chrono::steady_clock::now() - started;
  MutexLock lock(queue_mutex);
  last_group_size = group.size();
  last_run = ran;
  awaited.clear();
  for (std::size_t i = 0; i < group.size(); ++i) {
    QueuedWrite* done = queue.front();
    if (together) awaited.push_back(done->thread);
    done->done = true;
    queue.pop_front();
    if (done != &write) done->wake.notify_one();
  }
  if (!queue.empty()) queue.front()->wake.notify_one();  // the next leader
}

void Store::Shared::grow(std::vector<QueuedWrite*>& group) {
  MutexLock lock(queue_mutex);
  if (settings.synchronous == Synchronous::Full && !awaited.empty()) {
    gathering = true;
    const auto deadline =
        std::chrono::steady_clock::now() + std::min<std::chrono::steady_clock::duration>(last_run / 2, max_gathering);
    QueuedWrite& leader = *queue.front();
    while (!awaited.empty() && queue.size() < max_group && queue_mutex.wait_until(leader.wake, deadline)) {
    }
    gathering = false;
    awaited.clear();  // a thread that did not come back in time is not waited for again
  }
  take_queued(group);
}

void Store::Shared::take_queued(std::vector<QueuedWrite*>& group) {
  // The group is the front of the queue: what follows it queued meanwhile.
  for (std::size_t next = group.size(); next < queue.size() && group.size() < max_group; ++next) {
    group.push_back(queue[next]);
  }
}

void Store::Shared::run_group(std::vector<QueuedWrite*>& group, bool together) {
  try {
    MutexLock lock(writer_mutex);
    Connection& c = *writer;
    if (together) {
      run_together(*this, c, group);
    } else {
      run_alone(*this, c, *group.front());
    }
  } catch (...) {  // nothing above should throw; if it did, nobody's write is lost silently
    for (QueuedWrite* write : group) {
      if (!write->failure) write->failure = std::current_exception();
    }
  }
}

}  // namespace hotstate::internal
