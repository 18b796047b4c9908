// The store: the audit log's hash chain (migrations/0007_audit_chain.sql
// defines it; checkpoint.hpp says what it proves). Every write chains the
// events it added before it commits; verify walks the whole chain.
#include "store/audit_chain.hpp"

#include <map>
#include <set>

#include "model/audit_kinds.hpp"
#include "model/sha3.hpp"
#include "store/progress_reporter.hpp"

namespace hotstate::internal {

namespace {

const std::string genesis(64, '0');

void append_netstring(std::string& out, std::string_view bytes) {
  out += std::to_string(bytes.size());
  out += ':';
  out += bytes;
  out += ',';
}

void append_netstring(std::string& out, std::int64_t number) { append_netstring(out, std::to_string(number)); }

}  // namespace

std::string chain_encoding(std::int64_t id, std::string_view time_us, std::string_view plugin_id, std::string_view kind,
                           std::string_view detail, const std::vector<AuditGap>& gaps) {
  std::string out;
  out.reserve(64 + plugin_id.size() + kind.size() + detail.size());
  append_netstring(out, id);
  append_netstring(out, time_us);
  append_netstring(out, plugin_id);
  append_netstring(out, kind);
  append_netstring(out, detail);
  for (const AuditGap& gap : gaps) {
    append_netstring(out, gap.first_id);
    append_netstring(out, gap.last_id);
    append_netstring(out, gap.events);
  }
  return out;
}

std::string chain_hash(std::string_view previous, std::string_view encoding) { return sha3_256_hex(previous, encoding); }

std::string event_mac(std::string_view key, bool written_by_hotstate, std::string_view chain) {
  return hmac_sha3_256_hex(key, std::string(written_by_hotstate ? "hotstate:" : "foreign:") + std::string(chain));
}

std::string checkpoint_signature(std::string_view key, const AuditCheckpoint& checkpoint) {
  return hmac_sha3_256_hex(key, "checkpoint:" + checkpoint.to_text() + ":" + std::to_string(checkpoint.event_count));
}

std::vector<AuditGap> gaps_of_prune(Store::Connection& c, std::int64_t pruned_by) {
  StatementUse select(c.statement("SELECT first_id, last_id, events FROM audit_gaps WHERE pruned_by = ?1 ORDER BY first_id"));
  select->bind(1, pruned_by);
  std::vector<AuditGap> gaps;
  while (select->executeStep()) {
    gaps.push_back(AuditGap{select->getColumn(0).getInt64(), select->getColumn(1).getInt64(), select->getColumn(2).getInt64()});
  }
  return gaps;
}

std::optional<AuditCheckpoint> chain_pending(Store::Connection& c, const std::string& key, bool written_by_hotstate) {
  // The unchained events are the newest ones (ids only grow): walk back from
  // the newest to the newest chained one. Usually one or two steps.
  struct Pending {
    std::int64_t id;
    std::string time_us, plugin_id, kind, detail;
  };
  std::vector<Pending> pending;
  std::string previous = genesis;
  std::int64_t position = 0;
  std::int64_t base_id = 0;
  {
    StatementUse newest(c.statement(
        "SELECT id, CAST(time_us AS BLOB), plugin_id, kind, detail, chain, chain_position FROM audit_events ORDER BY id DESC"));
    while (newest->executeStep()) {
      if (!newest->getColumn(5).isNull()) {
        base_id = newest->getColumn(0).getInt64();
        previous = newest->getColumn(5).getString();
        position = newest->getColumn(6).getInt64();
        break;
      }
      pending.push_back(Pending{newest->getColumn(0).getInt64(), std::string(column_text(newest->getColumn(1))),
                                std::string(column_text(newest->getColumn(2))),
                                std::string(column_text(newest->getColumn(3))),
                                std::string(column_text(newest->getColumn(4)))});
    }
  }
  if (pending.empty()) return std::nullopt;
  std::reverse(pending.begin(), pending.end());

  // Gaps after the newest chained event: a prune since (theirs link the
  // chain across them; a gap of events never chained takes the chain as it
  // stands).
  struct Gap {
    std::int64_t first_id;
    std::optional<std::string> chain;
    std::int64_t position;
  };
  std::vector<Gap> gaps;
  {
    StatementUse select(c.statement("SELECT first_id, chain, chain_position FROM audit_gaps WHERE first_id > ?1 ORDER BY first_id"));
    select->bind(1, base_id);
    while (select->executeStep()) {
      Gap gap{select->getColumn(0).getInt64(), std::nullopt, 0};
      if (!select->getColumn(1).isNull()) {
        gap.chain = select->getColumn(1).getString();
        gap.position = select->getColumn(2).getInt64();
      }
      gaps.push_back(std::move(gap));
    }
  }

  StatementUse update(c.statement("UPDATE audit_events SET chain = ?2, chain_position = ?3, mac = ?4 WHERE id = ?1"));
  std::size_t next_gap = 0;
  AuditCheckpoint head;
  for (const Pending& event : pending) {
    for (; next_gap < gaps.size() && gaps[next_gap].first_id < event.id; ++next_gap) {
      Gap& gap = gaps[next_gap];
      if (gap.chain) {
        previous = *gap.chain;
        position = gap.position;
      } else {
        StatementUse fill(c.statement("UPDATE audit_gaps SET chain = ?2, chain_position = ?3 WHERE first_id = ?1"));
        fill->bind(1, gap.first_id);
        fill->bind(2, previous);
        if (position > 0) {
          fill->bind(3, position);
        } else {
          fill->bind(3);
        }
        fill->exec();
      }
    }
    const std::vector<AuditGap> own_gaps =
        event.kind == audit_kind::audit_pruned ? gaps_of_prune(c, event.id) : std::vector<AuditGap>{};
    std::string chain =
        chain_hash(previous, chain_encoding(event.id, event.time_us, event.plugin_id, event.kind, event.detail, own_gaps));
    ++position;
    update->reset();
    update->bind(1, event.id);
    update->bind(2, chain);
    update->bind(3, position);
    if (key.empty()) {
      update->bind(4);
    } else {
      update->bind(4, event_mac(key, written_by_hotstate, chain));
    }
    update->exec();
    head.event_id = static_cast<std::uint64_t>(event.id);
    head.time_us = std::stoll(event.time_us);
    previous = std::move(chain);
  }
  head.chain_hash = previous;
  head.event_count = static_cast<std::uint64_t>(position);
  if (!key.empty()) head.signature = checkpoint_signature(key, head);
  return head;
}

AuditCheckpoint read_audit_head(SQLite::Database& db, const std::string& key) {
  AuditCheckpoint head;
  head.chain_hash = genesis;
  // From the newest event back to the newest chained one (the unchained are
  // the newest few).
  SQLite::Statement newest(db, "SELECT id, chain, chain_position, time_us FROM audit_events ORDER BY id DESC");
  while (newest.executeStep()) {
    if (newest.getColumn(1).isNull()) continue;
    head.event_id = static_cast<std::uint64_t>(newest.getColumn(0).getInt64());
    head.chain_hash = newest.getColumn(1).getString();
    head.event_count = static_cast<std::uint64_t>(newest.getColumn(2).getInt64());
    head.time_us = newest.getColumn(3).getInt64();
    break;
  }
  if (!key.empty()) head.signature = checkpoint_signature(key, head);
  return head;
}

namespace {

// Problems of one sort: the first few in full, then how many more.
class ProblemList {
 public:
  ProblemList(std::vector<std::string>& problems, std::string more) : problems_(problems), more_(std::move(more)) {}
  ~ProblemList() {
    if (dropped_ > 0) problems_.push_back("... and " + std::to_string(dropped_) + " more " + more_);
  }
  ProblemList(const ProblemList&) = delete;
  ProblemList& operator=(const ProblemList&) = delete;
  void add(std::string problem) {
    if (added_ < limit) {
      problems_.push_back(std::move(problem));
      ++added_;
    } else {
      ++dropped_;
    }
  }

 private:
  static constexpr std::size_t limit = 10;
  std::vector<std::string>& problems_;
  std::string more_;
  std::size_t added_ = 0;
  std::size_t dropped_ = 0;
};

struct StoredGap {
  AuditGap gap;
  std::int64_t pruned_by = 0;
  std::optional<std::string> chain;
  std::optional<std::int64_t> position;
};

std::string range_text(std::int64_t first, std::int64_t last) {
  return first == last ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
}

// Events of kinds only hotstate writes, against the snapshots, the journal,
// the gaps and each other: what a forged event says that cannot be so.
void verify_event_claims(SQLite::Database& db, const std::map<std::int64_t, std::int64_t>& gap_events_by_prune,
                         std::vector<std::string>& problems) {
  ProblemList list(problems, "events that contradict the snapshots, the journal or other events");
  {
    // An AuditPruned event of the chain's time (audit_chain_from on) says how
    // many events it removed: its gaps must hold exactly as many.
    SQLite::Statement prunes(db,
                             "SELECT id, json_extract(detail, '$.deleted') FROM audit_events"
                             " WHERE kind = 'AuditPruned' AND id >= (SELECT audit_chain_from FROM settings WHERE id = 1)"
                             " ORDER BY id");
    while (prunes.executeStep()) {
      const std::int64_t id = prunes.getColumn(0).getInt64();
      const auto found = gap_events_by_prune.find(id);
      const std::int64_t removed = found == gap_events_by_prune.end() ? 0 : found->second;
      if (prunes.getColumn(1).isNull() || prunes.getColumn(1).getInt64() != removed) {
        list.add("audit event " + std::to_string(id) + " (AuditPruned) says it removed " +
                 (prunes.getColumn(1).isNull() ? std::string("an unstated number of") : prunes.getColumn(1).getString()) +
                 " events, but the gaps it left hold " + std::to_string(removed) + " (a forged or altered prune)");
      }
    }
  }
  {
    // A rollback removes the row it names; a row is removed once.
    SQLite::Statement rollbacks(db,
                                "SELECT e.id, json_extract(e.detail, '$.from_seq'), json_extract(e.detail, '$.to_seq'),"
                                "       EXISTS (SELECT 1 FROM snapshots WHERE seq = json_extract(e.detail, '$.from_seq'))"
                                "  FROM audit_events AS e WHERE e.kind = 'RolledBack' ORDER BY e.id");
    while (rollbacks.executeStep()) {
      const std::string id = rollbacks.getColumn(0).getString();
      if (rollbacks.getColumn(3).getInt() != 0) {
        list.add("audit event " + id + " (RolledBack) says snapshot seq " + rollbacks.getColumn(1).getString() +
                 " was rolled back, but that row is still there");
      } else if (rollbacks.getColumn(1).isNull() || rollbacks.getColumn(2).isNull() ||
                 rollbacks.getColumn(2).getInt64() >= rollbacks.getColumn(1).getInt64()) {
        list.add("audit event " + id + " (RolledBack) does not name an older to_seq than its from_seq");
      }
    }
    SQLite::Statement twice(db,
                            "WITH hotstate_cte_removals AS MATERIALIZED ("
                            "  SELECT id, json_extract(detail, '$.seq') AS seq FROM audit_events"
                            "   WHERE kind IN ('HistoryTrimmed', 'SnapshotDeleted')"
                            "  UNION ALL SELECT id, json_extract(detail, '$.from_seq') FROM audit_events WHERE kind = 'RolledBack')"
                            " SELECT seq, group_concat(id, ', ') FROM hotstate_cte_removals WHERE seq IS NOT NULL"
                            "  GROUP BY seq HAVING count(*) > 1 ORDER BY seq LIMIT 100");
    while (twice.executeStep()) {
      list.add("snapshot seq " + twice.getColumn(0).getString() + " is recorded as removed more than once (audit events " +
               twice.getColumn(1).getString() + ")");
    }
  }
  {
    // A reload's events against its journal row.
    SQLite::Statement reloads(db,
                              "SELECT e.id, e.kind, json_extract(e.detail, '$.reload_id'), r.id, r.outcome,"
                              "       json_extract(e.detail, '$.success')"
                              "  FROM audit_events AS e LEFT JOIN reloads AS r ON r.id = json_extract(e.detail, '$.reload_id')"
                              " WHERE e.kind IN ('ReloadStarted', 'ReloadCompleted', 'ReloadFailed', 'ReloadResolved')"
                              "   AND json_extract(e.detail, '$.reload_id') IS NOT NULL ORDER BY e.id");
    while (reloads.executeStep()) {
      const std::string event =
          "audit event " + reloads.getColumn(0).getString() + " (" + reloads.getColumn(1).getString() + ")";
      const std::string reload = reloads.getColumn(2).getString();
      if (reloads.getColumn(3).isNull()) {
        list.add(event + " names reload " + reload + ", which the reload journal does not have");
        continue;
      }
      const std::string kind = reloads.getColumn(1).getString();
      const std::string outcome = reloads.getColumn(4).isNull() ? std::string() : reloads.getColumn(4).getString();
      // The outcome the event says the journal must hold (ReloadStarted
      // says none: any row will do), and how the message puts it.
      std::string said;
      std::string says;
      if (kind == "ReloadCompleted") {
        said = reloads.getColumn(5).getInt() != 0 ? "succeeded" : "failed";
        says = said;
      } else if (kind == "ReloadFailed") {
        said = says = "failed";
      } else if (kind == "ReloadResolved") {
        said = "resolved";
        says = "was resolved";
      }
      if (!said.empty() && outcome != said) {
        list.add(event + " says reload " + reload + " " + says + ", but the journal says " +
                 (outcome.empty() ? std::string("it never finished") : outcome));
      }
    }
  }
}

}  // namespace

void verify_chain(SQLite::Database& db, const std::string& key, const std::optional<AuditCheckpoint>& extends,
                  std::vector<std::string>& problems, ChainSummary& summary, const ProgressCallback& progress) {
  ProgressReporter reporter(progress, "verify: audit chain", "events");
  if (progress) reporter.set_total(static_cast<std::uint64_t>(db.execAndGet("SELECT count(*) FROM audit_events").getInt64()));
  std::uint64_t walked = 0;
  std::vector<StoredGap> gaps;
  std::map<std::int64_t, std::vector<AuditGap>> gaps_by_prune;
  std::map<std::int64_t, std::int64_t> gap_events_by_prune;
  {
    SQLite::Statement select(db, "SELECT first_id, last_id, events, pruned_by, chain, chain_position FROM audit_gaps ORDER BY first_id");
    while (select.executeStep()) {
      StoredGap gap;
      gap.gap = AuditGap{select.getColumn(0).getInt64(), select.getColumn(1).getInt64(), select.getColumn(2).getInt64()};
      gap.pruned_by = select.getColumn(3).getInt64();
      if (!select.getColumn(4).isNull()) gap.chain = select.getColumn(4).getString();
      if (!select.getColumn(5).isNull()) gap.position = select.getColumn(5).getInt64();
      gaps_by_prune[gap.pruned_by].push_back(gap.gap);
      gap_events_by_prune[gap.pruned_by] += gap.gap.events;
      gaps.push_back(std::move(gap));
    }
  }

  ProblemList links(problems, "audit events where the chain breaks");
  ProblemList signatures(problems, "audit events whose signature is missing or wrong");
  std::string previous = genesis;
  bool previous_known = true;
  std::int64_t position = 0;
  std::int64_t covered_to = 0;         // the last id of the previous event or gap
  std::int64_t first_unchained = 0;    // the first event (or gap's first id) not chained, if any
  bool reported_unchained = false;
  bool any_signed = false;
  std::optional<bool> extends_found;   // whether the checkpoint's event (or gap end) was reached
  std::size_t next_gap = 0;
  std::map<std::int64_t, std::string> prune_kinds;  // pruned_by ids seen as events, with their kinds

  const auto check_extends = [&](std::int64_t id, const std::optional<std::string>& chain, std::string_view what) {
    if (!extends || extends_found || static_cast<std::uint64_t>(id) != extends->event_id) return;
    extends_found = true;
    if (!chain) {
      problems.push_back("the audit log cannot show that it extends checkpoint " + extends->to_text() + ": " +
                         std::string(what) + " " + std::to_string(id) + " is not chained");
    } else if (*chain != extends->chain_hash) {
      problems.push_back("the audit log does not extend checkpoint " + extends->to_text() + ": " + std::string(what) +
                         " " + std::to_string(id) + " has chain hash " + *chain +
                         " now (the log up to it was changed or rewritten)");
    }
  };

  const auto take_gap = [&](const StoredGap& gap) {
    if (gap.gap.first_id <= covered_to) {
      links.add("audit gap " + range_text(gap.gap.first_id, gap.gap.last_id) + " overlaps the event or gap before it");
    }
    if (extends && !extends_found && extends->event_id >= static_cast<std::uint64_t>(gap.gap.first_id) &&
        extends->event_id < static_cast<std::uint64_t>(gap.gap.last_id)) {
      extends_found = true;
      problems.push_back("the audit log cannot show that it extends checkpoint " + extends->to_text() +
                         ": a prune (AuditPruned event " + std::to_string(gap.pruned_by) + ") removed event " +
                         std::to_string(extends->event_id) +
                         ", and only the last event of each pruned run keeps its chain hash; check against a newer checkpoint");
    }
    check_extends(gap.gap.last_id, gap.chain, "pruned event");
    covered_to = std::max(covered_to, gap.gap.last_id);
    if (!gap.chain) {
      if (first_unchained == 0) first_unchained = gap.gap.first_id;
      previous_known = false;
      return;
    }
    previous = *gap.chain;
    if (gap.position) position = *gap.position;
    previous_known = first_unchained == 0;
  };

  SQLite::Statement events(db,
                           "SELECT id, CAST(time_us AS BLOB), plugin_id, kind, detail, chain, chain_position, mac"
                           "  FROM audit_events ORDER BY id");
  while (events.executeStep()) {
    reporter.update(++walked);
    const std::int64_t id = events.getColumn(0).getInt64();
    while (next_gap < gaps.size() && gaps[next_gap].gap.first_id < id) take_gap(gaps[next_gap++]);
    const std::string kind(column_text(events.getColumn(3)));
    if (kind == audit_kind::audit_pruned) prune_kinds[id] = kind;
    if (id <= covered_to) {
      links.add("audit event " + std::to_string(id) + " (" + kind + ") lies inside a gap a prune left: it was inserted there");
    }
    const std::int64_t hole_from = covered_to + 1;
    covered_to = std::max(covered_to, id);
    if (events.getColumn(5).isNull()) {
      ++summary.unchained;
      if (first_unchained == 0) first_unchained = id;
      previous_known = false;
      check_extends(id, std::nullopt, "event");
      continue;
    }
    const std::string chain = events.getColumn(5).getString();
    if (first_unchained != 0 && !reported_unchained) {
      reported_unchained = true;
      links.add("audit event " + std::to_string(first_unchained) + " is not chained, but event " + std::to_string(id) +
                " after it is: events were inserted or changed between chained ones");
    }
    if (previous_known) {
      const std::vector<AuditGap> own_gaps =
          kind == audit_kind::audit_pruned && gaps_by_prune.count(id) ? gaps_by_prune[id] : std::vector<AuditGap>{};
      const std::string expected =
          chain_hash(previous, chain_encoding(id, column_text(events.getColumn(1)), column_text(events.getColumn(2)), kind,
                                              column_text(events.getColumn(4)), own_gaps));
      if (expected != chain) {
        std::string problem = "the audit chain breaks at event " + std::to_string(id) + " (" + kind +
                              "): its chain hash does not follow from its fields and the chain before it, so it was "
                              "changed, or an event before it was removed, inserted or reordered";
        if (hole_from < id) problem += " (ids " + range_text(hole_from, id - 1) + " are missing, and no prune removed them)";
        links.add(std::move(problem));
      }
      if (events.getColumn(6).isNull() || events.getColumn(6).getInt64() != position + 1) {
        links.add("audit event " + std::to_string(id) + " has chain_position " +
                  (events.getColumn(6).isNull() ? std::string("NULL") : events.getColumn(6).getString()) + ", expected " +
                  std::to_string(position + 1));
      }
    }
    if (!key.empty()) {
      if (events.getColumn(7).isNull()) {
        if (any_signed) {
          signatures.add("audit event " + std::to_string(id) + " (" + kind +
                         ") is not signed with the audit key, though events before it are");
        }
      } else {
        const std::string mac = events.getColumn(7).getString();
        if (mac == event_mac(key, true, chain)) {
          ++summary.signed_by_hotstate;
          any_signed = true;
        } else if (mac == event_mac(key, false, chain)) {
          ++summary.signed_foreign;
          any_signed = true;
          if (audit_kind::written_only_by_hotstate(kind)) {
            signatures.add("audit event " + std::to_string(id) + " (" + kind +
                           ") was inserted by another client: only hotstate writes this kind, and hotstate did not sign it as its own");
          }
        } else {
          signatures.add("audit event " + std::to_string(id) + " (" + kind +
                         ") has a signature that does not match its chain hash with this key: the chain was "
                         "recomputed, or another key signed it");
        }
      }
    }
    check_extends(id, chain, "event");
    previous = chain;
    position = events.getColumn(6).isNull() ? position + 1 : events.getColumn(6).getInt64();
    previous_known = first_unchained == 0;
    summary.head.event_id = static_cast<std::uint64_t>(id);
    summary.head.chain_hash = chain;
    summary.head.event_count = static_cast<std::uint64_t>(position);
    summary.head.time_us = events.getColumn(1).getInt64();
  }
  while (next_gap < gaps.size()) take_gap(gaps[next_gap++]);
  reporter.finish(walked);
  if (summary.head.event_id == 0) summary.head.chain_hash = genesis;
  if (!key.empty()) summary.head.signature = checkpoint_signature(key, summary.head);

  for (const StoredGap& gap : gaps) {
    if (prune_kinds.count(gap.pruned_by) == 0 || gap.pruned_by <= gap.gap.last_id) {
      links.add("audit gap " + range_text(gap.gap.first_id, gap.gap.last_id) + " names AuditPruned event " +
                std::to_string(gap.pruned_by) + " as its prune, and there is no such event after it");
    }
  }
  if (extends && !extends_found) {
    if (extends->event_id > summary.head.event_id) {
      problems.push_back("the audit log does not extend checkpoint " + extends->to_text() + ": it ends at event " +
                         std::to_string(summary.head.event_id) + ", so events up to " +
                         std::to_string(extends->event_id) + " were removed");
    } else if (extends->event_id != 0 || extends->chain_hash != genesis) {
      problems.push_back("the audit log does not extend checkpoint " + extends->to_text() + ": event " +
                         std::to_string(extends->event_id) + " is gone, and no prune removed it");
    }
  }
  if (!key.empty() && !any_signed && summary.head.event_id != 0) {
    signatures.add("no audit event is signed with this audit key (they were written without it, or their signatures were removed)");
  }
  verify_event_claims(db, gap_events_by_prune, problems);
}

}  // namespace hotstate::internal
