// The store: the reload journal (begin, finish, resolve, unfinished).
#include "store/store_internal.hpp"

#include "model/json_internal.hpp"

#include <algorithm>

namespace hotstate::internal {

namespace {

// A reload's journal row, read inside the transaction that finishes it.
struct JournalRow {
  std::string plugin_id;
  std::int64_t started_at_us = 0;
};

JournalRow unfinished_journal_row(Store::Connection& c, std::uint64_t reload_id, const char* context) {
  StatementUse select(c.statement("SELECT plugin_id, started_at_us, outcome FROM reloads WHERE id = ?1"));
  select->bind(1, static_cast<std::int64_t>(reload_id));
  if (!select->executeStep()) {
    throw Error(ErrorCode::NotFound,
                std::string(context) + ": there is no reload " + std::to_string(reload_id) + "; nothing was written");
  }
  if (!select->getColumn(2).isNull()) {
    throw Error(ErrorCode::Conflict, std::string(context) + ": reload " + std::to_string(reload_id) +
                                         " already ended (" + select->getColumn(2).getString() +
                                         "); nothing was written");
  }
  return {select->getColumn(0).getString(), select->getColumn(1).getInt64()};
}

void end_journal_row(Store::Connection& c, std::uint64_t reload_id, const char* outcome, std::int64_t time_us,
                     const std::string& note) {
  StatementUse update(c.statement(
      "UPDATE reloads SET outcome = ?2, finished_at_us = ?3, note = ?4, last_good_snapshot = NULL WHERE id = ?1"));
  update->bind(1, static_cast<std::int64_t>(reload_id));
  update->bind(2, outcome);
  update->bind(3, time_us);
  update->bindNoCopy(4, note);
  update->exec();
}

}  // namespace

WriteOutcome<ReloadTicket> Store::begin_reload(StateSnapshot pre_reload, std::string_view to_version) {
  const SnapshotToSave saved = to_save(std::move(pre_reload));
  const StateSnapshot& snapshot = *saved;
  const EncodedRow row = encode_row(*shared_, snapshot);
  require_id(*shared_, to_version, "to_version");
  const std::string last_good = snapshot.to_bytes();
  return shared_->write("begin_reload", Shared::Statements::Many, [&](Connection& c, Commit& commit) {
    ReloadTicket ticket;
    ticket.started_at_us = shared_->now_us();
    ticket.snapshot_seq = insert_current(c, commit, saved, row, ticket.started_at_us);
    {
      StatementUse insert(c.statement(
          "INSERT INTO reloads (plugin_id, from_version, to_version, started_at_us, snapshot_seq, last_good_snapshot)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
      insert->bindNoCopy(1, snapshot.plugin_id);
      insert->bindNoCopy(2, snapshot.plugin_version);
      insert->bind(3, std::string(to_version));
      insert->bind(4, ticket.started_at_us);
      insert->bind(5, static_cast<std::int64_t>(ticket.snapshot_seq));
      insert->bindNoCopy(6, last_good);
      insert->exec();
      ticket.id = static_cast<std::uint64_t>(c.db.getLastInsertRowid());
    }
    insert_event(c, ticket.started_at_us, snapshot.plugin_id, audit_kind::reload_started,
                 detail_text({{"reload_id", Json::from(ticket.id)},
                              {"from_version", Json::from(snapshot.plugin_version)},
                              {"to_version", Json::from(std::string(to_version))},
                              {"snapshot_seq", Json::from(ticket.snapshot_seq)}}));
    return ticket;
  });
}

WriteOutcome<bool> Store::finish_reload(std::uint64_t reload_id, const ReloadResult& result) {
  if (!result.success) {
    require_utf8(result.error, "the reload's error");
    require_within(result.error.size(), shared_->max_metadata_bytes, "the reload's error");
  } else if (!result.pin_label.empty()) {
    require_id(*shared_, result.pin_label, "the pin's label");
  }
  return shared_->write("finish_reload", Shared::Statements::Many, [&](Connection& c, Commit&) {
    const JournalRow journal = unfinished_journal_row(c, reload_id, "finish_reload");
    const std::int64_t now = shared_->now_us();
    const std::string note = result.success ? std::string() : result.error;
    end_journal_row(c, reload_id, result.success ? "succeeded" : "failed", now, note);
    if (!result.success) {
      insert_event(c, now, journal.plugin_id, audit_kind::reload_failed,
                   detail_text({{"reload_id", Json::from(reload_id)},
                                {"error", Json::from(result.error)},
                                {"attempt", Json::from(result.attempt)}}));
    }
    insert_event(c, now, journal.plugin_id, audit_kind::reload_completed,
                 detail_text({{"reload_id", Json::from(reload_id)},
                              {"success", Json::from(result.success)},
                              {"duration_us", Json::from(std::max<std::int64_t>(0, now - journal.started_at_us))}}));
    if (result.success && !result.pin_label.empty()) {
      std::optional<std::uint64_t> current_seq;
      {
        StatementUse current(c.select_current_seq);
        current->bind(1, journal.plugin_id);
        if (current->executeStep() && !current->getColumn(0).isNull()) {
          current_seq = static_cast<std::uint64_t>(current->getColumn(0).getInt64());
        }
      }
      if (current_seq) pin_stored(c, journal.plugin_id, *current_seq, result.pin_label, now);
    }
    return true;
  });
}

WriteOutcome<bool> Store::resolve_reload(std::uint64_t reload_id, std::string_view note) {
  require_utf8(note, "the note");
  require_within(note.size(), shared_->max_metadata_bytes, "the note");
  return shared_->write("resolve_reload", Shared::Statements::Many, [&](Connection& c, Commit&) {
    const JournalRow journal = unfinished_journal_row(c, reload_id, "resolve_reload");
    const std::int64_t now = shared_->now_us();
    end_journal_row(c, reload_id, "resolved", now, std::string(note));
    insert_event(c, now, journal.plugin_id, audit_kind::reload_resolved,
                 detail_text({{"reload_id", Json::from(reload_id)}, {"note", Json::from(std::string(note))}}));
    return true;
  });
}

std::vector<UnfinishedReload> Store::unfinished_reloads() const {
  return shared_->read("unfinished_reloads", [&](Connection& c) {
    std::vector<UnfinishedReload> reloads;
    StatementUse select(c.statement(
        "SELECT id, plugin_id, from_version, to_version, started_at_us, snapshot_seq, last_good_snapshot"
        " FROM reloads WHERE outcome IS NULL ORDER BY id"));
    while (select->executeStep()) {
      UnfinishedReload reload;
      reload.id = static_cast<std::uint64_t>(select->getColumn(0).getInt64());
      reload.plugin_id = select->getColumn(1).getString();
      reload.from_version = select->getColumn(2).getString();
      reload.to_version = select->getColumn(3).getString();
      reload.started_at_us = select->getColumn(4).getInt64();
      const auto seq = static_cast<std::uint64_t>(select->getColumn(5).getInt64());
      if (select->getColumn(6).isNull()) {
        throw Error(ErrorCode::Corrupt, "unfinished reload " + std::to_string(reload.id) + " has no last_good_snapshot");
      }
      try {
        reload.last_good = StateSnapshot::from_bytes(column_text(select->getColumn(6)));
      } catch (const Error& error) {
        throw Error(ErrorCode::Corrupt, "the last good snapshot of reload " + std::to_string(reload.id) +
                                            " is unreadable: " + error.what());
      }
      reload.last_good.seq = seq;
      reloads.push_back(std::move(reload));
    }
    return reloads;
  });
}

}  // namespace hotstate::internal
