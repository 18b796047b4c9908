#include "cache/snapshot_cache.hpp"


namespace hotstate::internal {

namespace {

// Roughly what an entry holds on the heap: the entry and its index node, the
// snapshot with its strings, and a map node per data and metadata member.
std::size_t estimate_bytes(std::string_view plugin_id, const SnapshotPtr& snapshot) {
  constexpr std::size_t list_node = 64 + 2 * sizeof(void*);
  constexpr std::size_t index_node = 48;
  constexpr std::size_t map_node = 48;
  std::size_t bytes = list_node + index_node + plugin_id.size();
  if (!snapshot) return bytes;
  bytes += sizeof(StateSnapshot) + 16 + snapshot->plugin_id.size() + snapshot->plugin_version.size();
  for (const auto& [key, value] : snapshot->data) bytes += map_node + key.size() + value.text().size();
  for (const auto& [key, value] : snapshot->metadata) bytes += map_node + key.size() + value.size();
  return bytes;
}

}  // namespace

SnapshotCache::SnapshotCache(CacheLimits limits) : limits_(limits) {}

SnapshotCache::Lookup SnapshotCache::lookup_locked(std::string_view plugin_id) const {
  const auto found = index_.find(plugin_id);
  if (found == index_.end()) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return Lookup{false, nullptr, Ticket{generation_}, std::nullopt};
  }
  const Entry& entry = *found->second;
  // Write only when it changes, so that hits on a hot entry share its cache line.
  if (!entry.referenced.load(std::memory_order_relaxed)) entry.referenced.store(true, std::memory_order_relaxed);
  hits_.fetch_add(1, std::memory_order_relaxed);
  return Lookup{true, entry.snapshot, Ticket{}, std::nullopt};
}

SnapshotCache::Lookup SnapshotCache::find(std::string_view plugin_id, const ChangeMarker& marker) {
  if (!enabled()) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return Lookup{};
  }
  ReaderLock lock(mutex_);
  if (marker == validated_) return lookup_locked(plugin_id);
  // Someone committed since the cache was validated. While a write of ours
  // is under way that may be our own commit, which the write's completion
  // accounts for; a torn marker may be another process's commit in
  // progress. Either way: serve nothing from the cache, drop nothing yet.
  if (pending_writes_.load(std::memory_order_acquire) > 0 || !marker.stable) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return Lookup{false, nullptr, Ticket{generation_}, std::nullopt};
  }
  // Another connection committed: the caller reads what it changed.
  return Lookup{false, nullptr, Ticket{generation_}, Refresh{generation_, position_}};
}

SnapshotCache::Lookup SnapshotCache::refresh(const Refresh& refresh, const ChangeMarker& marker,
                                             const ChangesSince& changes, std::string_view plugin_id) {
  WriterLock lock(mutex_);
  // `marker` was read before the store read `changes`, and so before any
  // store read that refills the cache: every entry kept is current at it.
  if (generation_ == refresh.generation && marker.stable && pending_writes_.load(std::memory_order_acquire) == 0) {
    refreshes_.fetch_add(1, std::memory_order_relaxed);
    if (changes.everything) {
      if (!index_.empty()) invalidations_.fetch_add(1, std::memory_order_relaxed);
      clear_locked();
    } else {
      for (const std::string& changed : changes.plugins) {
        if (erase_locked(changed)) dropped_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    validated_ = marker;
    position_ = changes.position;
    ++generation_;
  }
  if (marker == validated_) return lookup_locked(plugin_id);
  misses_.fetch_add(1, std::memory_order_relaxed);
  return Lookup{false, nullptr, Ticket{generation_}, std::nullopt};
}

void SnapshotCache::fill(const Ticket& ticket, std::string_view plugin_id, SnapshotPtr snapshot) {
  if (!enabled()) return;
  WriterLock lock(mutex_);
  if (ticket.generation != generation_) return;
  upsert_locked(plugin_id, std::move(snapshot));
  evict_locked();
}

SnapshotCache::Write::Write(SnapshotCache& cache) : cache_(cache) {
  cache_.pending_writes_.fetch_add(1, std::memory_order_acq_rel);
}

SnapshotCache::Write::~Write() {
  if (!completed_ && cache_.enabled()) {
    WriterLock lock(cache_.mutex_);
    cache_.clear_locked();
    ++cache_.generation_;
  }
  cache_.pending_writes_.fetch_sub(1, std::memory_order_acq_rel);
}

void SnapshotCache::Write::complete(const Commit& commit) {
  completed_ = true;
  const ChangeMarker& before = commit.before;
  const ChangeMarker& after = commit.after;
  if (!cache_.enabled() || before == after) return;  // disabled, or the write changed nothing
  WriterLock lock(cache_.mutex_);
  // Our commit, and no other, came after `before`: the commit counter moved by one.
  const bool only_ours = before.stable && after.stable && after.commit_counter() == before.commit_counter() + 1;
  // A group commit: another write of the same commit applied it already
  // (each write's Commit names the changes of the whole group).
  if (only_ours && cache_.validated_ == after) return;
  const bool removed_all = commit.removed_every_plugin;
  if (removed_all || !only_ours || !(cache_.validated_ == before)) {
    if (!removed_all && !cache_.index_.empty()) cache_.invalidations_.fetch_add(1, std::memory_order_relaxed);
    cache_.clear_locked();
  }
  if (only_ours) {
    for (const CurrentSnapshot& current : commit.current) cache_.upsert_locked(current.plugin_id, current.snapshot);
    cache_.evict_locked();
  }
  cache_.validated_ = after;
  cache_.position_ = commit.position;
  ++cache_.generation_;
}

void SnapshotCache::upsert_locked(std::string_view plugin_id, SnapshotPtr snapshot) {
  const std::size_t bytes = estimate_bytes(plugin_id, snapshot);
  if (const auto found = index_.find(plugin_id); found != index_.end()) {
    Entry& entry = *found->second;
    bytes_ = bytes_ - entry.bytes + bytes;
    entry.bytes = bytes;
    entry.snapshot = std::move(snapshot);
    entry.referenced.store(true, std::memory_order_relaxed);
    return;
  }
  Entry& entry = entries_.emplace_front();
  entry.plugin_id = std::string(plugin_id);
  entry.snapshot = std::move(snapshot);
  entry.bytes = bytes;
  bytes_ += bytes;
  index_.emplace(entry.plugin_id, entries_.begin());
}

bool SnapshotCache::erase_locked(std::string_view plugin_id) {
  const auto found = index_.find(plugin_id);
  if (found == index_.end()) return false;
  const Entries::iterator entry = found->second;
  bytes_ -= entry->bytes;
  index_.erase(found);
  entries_.erase(entry);
  return true;
}

void SnapshotCache::clear_locked() {
  index_.clear();
  entries_.clear();
  bytes_ = 0;
}

void SnapshotCache::evict_locked() {
  while (!entries_.empty() && (index_.size() > limits_.max_entries || bytes_ > limits_.max_bytes)) {
    const auto oldest = std::prev(entries_.end());
    if (oldest->referenced.load(std::memory_order_relaxed)) {
      oldest->referenced.store(false, std::memory_order_relaxed);
      entries_.splice(entries_.begin(), entries_, oldest);
      continue;
    }
    bytes_ -= oldest->bytes;
    index_.erase(oldest->plugin_id);
    entries_.erase(oldest);
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
}

CacheCounters SnapshotCache::counters() const {
  ReaderLock lock(mutex_);
  CacheCounters counters;
  counters.hits = hits_.load(std::memory_order_relaxed);
  counters.misses = misses_.load(std::memory_order_relaxed);
  counters.invalidations = invalidations_.load(std::memory_order_relaxed);
  counters.evictions = evictions_.load(std::memory_order_relaxed);
  counters.refreshes = refreshes_.load(std::memory_order_relaxed);
  counters.dropped = dropped_.load(std::memory_order_relaxed);
  counters.entries = index_.size();
  counters.bytes = bytes_;
  return counters;
}

}  // namespace hotstate::internal
