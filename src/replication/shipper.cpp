// Internal: one batch of the file's changes, one PostgreSQL transaction
// (shipper.hpp).
#include "replication/shipper.hpp"

#include <random>

#include "hotstate/error.hpp"
#include "replication/pg_schema.hpp"

namespace hotstate::internal {

namespace {

std::string random_token() {
  std::random_device device;
  static constexpr char digits[] = "0123456789abcdef";
  std::string token;
  for (int i = 0; i < 8; ++i) {
    auto word = device();
    for (int j = 0; j < 4; ++j) {
      token += digits[word & 0xf];
      token += digits[(word >> 4) & 0xf];
      word >>= 8;
    }
  }
  return token;
}

// Rows in COPY's text format, each led by the host id.
std::string copy_rows(const std::string& host_id, const std::vector<Row>& rows) {
  std::string data;
  for (const auto& row : rows) {
    append_copy_text(data, host_id);
    for (const auto& cell : row) {
      data += '\t';
      switch (cell.kind) {
        case Cell::Kind::null: data += "\\N"; break;
        case Cell::Kind::integer: data += std::to_string(cell.integer); break;
        case Cell::Kind::text: append_copy_text(data, cell.text); break;
      }
    }
    data += '\n';
  }
  return data;
}

void copy_into(PgConnection& pg, const TableSpec& spec, const std::string& host_id, const std::vector<Row>& rows,
               const char* table = nullptr) {
  if (rows.empty()) return;
  pg.copy_in("COPY " + std::string(table ? table : std::string("hotstate.") + spec.name) + " (host_id, " +
                 spec.column_list() + ") FROM STDIN",
             copy_rows(host_id, rows));
}

std::vector<std::int64_t> first_column(const std::vector<Row>& rows) {
  std::vector<std::int64_t> values;
  values.reserve(rows.size());
  for (const auto& row : rows) values.push_back(row[0].integer);
  return values;
}

}  // namespace

Shipper::Shipper(Store& store, std::string url, ReplicationOptions options, std::string file_path)
    : store_(store), url_(std::move(url)), options_(std::move(options)), file_path_(std::move(file_path)) {
  if (options_.host_id.empty()) throw Error(ErrorCode::InvalidArgument, "replicate: the host id is empty");
  if (options_.batch_events == 0) throw Error(ErrorCode::InvalidArgument, "replicate: batch_events must be positive");
}

void Shipper::connect() {
  auto pg = std::make_unique<PgConnection>(url_);
  migrate_postgresql(*pg);
  // The file's token for this host, or a new one for a file shipping for
  // the first time, which the file keeps before PostgreSQL hears of it:
  // were it the other way round, a failed write (a busy file) would leave a
  // token in PostgreSQL that the file never learnt, locking the host id out.
  auto replica = store_.replica(options_.host_id);
  const bool first_time = !replica;
  if (!replica) {
    store_.record_replica(
        ReplicaInfo{options_.host_id, url_without_password(url_), random_token(), 0, false});
    replica = store_.replica(options_.host_id);
    if (!replica) throw Error(ErrorCode::Internal, "replicate: the file's replicas row vanished");
  }
  token_ = replica->token;
  pg->exec(
      "INSERT INTO hotstate.hosts (host_id, token, target_file) VALUES ($1, $2, $3) ON CONFLICT (host_id) DO NOTHING",
      {options_.host_id, token_, file_path_});
  const auto host = pg->exec("SELECT token, shipped_event_id FROM hotstate.hosts WHERE host_id = $1", {options_.host_id});
  if (host.rows() != 1) throw Error(ErrorCode::Unavailable, "PostgreSQL: the host row of '" + options_.host_id + "' vanished");
  if (host.text(0, 0) != token_) {
    if (first_time) {
      // Leave no trace of a host id the file never shipped as.
      try {
        store_.drop_replica(options_.host_id);
      } catch (const Error&) {  // a row holding nothing; the next try reuses its token
      }
      token_.clear();
    }
    throw Error(ErrorCode::Conflict,
                "replicate: host id '" + options_.host_id + "' is already shipped to " + url_without_password(url_) +
                    " from another file (its token differs); choose another --host-id, or rebuild this host's file "
                    "with restore-from to go on from it; nothing was shipped");
  }
  position_ = static_cast<std::uint64_t>(host.integer(0, 1));
  pg_ = std::move(pg);
  if (replica->holds_prune != options_.hold_prune || replica->target != url_without_password(url_)) {
    // Holding the prune from now on, before anything ships (or no longer).
    const std::uint64_t held = std::min(replica->shipped_event_id, position_);
    store_.record_replica(ReplicaInfo{options_.host_id, url_without_password(url_), token_, held, options_.hold_prune});
    recorded_position_ = held;
    recorded_once_ = true;
  }
}

Shipper::Shipped Shipper::ship(bool heartbeat, bool reconcile) {
  try {
    if (!pg_) connect();
    return ship_connected(heartbeat, reconcile);
  } catch (...) {
    pg_.reset();
    throw;
  }
}

Shipper::Shipped Shipper::ship_connected(bool heartbeat, bool reconcile) {
  PgConnection& pg = *pg_;
  const std::string& host = options_.host_id;
  PgTransaction shipping(pg, "BEGIN");
  // The host's row, locked: a second replicator of the same host waits here
  // and then reads the position this one committed.
  const auto position =
      pg.exec("SELECT token, shipped_event_id, chained_through, reloads_id_high, rows_as_of FROM hotstate.hosts"
              " WHERE host_id = $1 FOR UPDATE",
              {host});
  if (position.rows() != 1 || position.text(0, 0) != token_) {
    throw Error(ErrorCode::Conflict, "replicate: the host row of '" + host + "' was removed or taken over meanwhile");
  }
  ReplicationCursor cursor;
  cursor.after_event_id = static_cast<std::uint64_t>(position.integer(0, 1));
  cursor.chained_through = static_cast<std::uint64_t>(position.integer(0, 2));
  cursor.reloads_id_high = position.integer(0, 3);
  cursor.rows_as_of = static_cast<std::uint64_t>(position.integer(0, 4));
  cursor.limit = options_.batch_events;
  // A reconcile asked for waits for the batch that carries rows.
  reconcile_pending_ = reconcile_pending_ || reconcile;
  cursor.reconcile = reconcile_pending_;
  {
    const auto unfinished =
        pg.exec("SELECT id FROM hotstate.reloads WHERE host_id = $1 AND outcome IS NULL ORDER BY id", {host});
    for (int i = 0; i < unfinished.rows(); ++i) cursor.unfinished_reloads.push_back(unfinished.integer(i, 0));
    const auto unchained =
        pg.exec("SELECT first_id FROM hotstate.audit_gaps WHERE host_id = $1 AND chain IS NULL", {host});
    for (int i = 0; i < unchained.rows(); ++i) cursor.unchained_gaps.push_back(unchained.integer(i, 0));
  }
  const ReplicationBatch batch = store_.replication_batch(cursor);

  if (batch.anchor) {
    // The file must still hold the event PostgreSQL's position names, the
    // same: otherwise its ids mean other events now (an older backup of the
    // file was put back), and shipping on would skip or mix them.
    const auto& anchor = *batch.anchor;
    const auto held = pg.exec("SELECT time_us, kind, detail FROM hotstate.audit_events WHERE host_id = $1 AND id = $2",
                              {host, std::to_string(cursor.after_event_id)});
    if (held.rows() == 1 && (held.integer(0, 0) != anchor[1].integer || held.text(0, 1) != anchor[3].text ||
                             held.text(0, 2) != anchor[4].text)) {
      throw Error(ErrorCode::Conflict,
                  "replicate: the file's event " + std::to_string(cursor.after_event_id) +
                      " is not the one PostgreSQL holds for host '" + host +
                      "' (was an older copy of the file put back, or is this another file?); nothing was shipped: "
                      "ship it as another host id, or rebuild it with restore-from");
    }
  } else if (cursor.after_event_id > batch.newest) {
    throw Error(ErrorCode::Conflict,
                "replicate: PostgreSQL holds host '" + host + "' up to event " +
                    std::to_string(cursor.after_event_id) + ", but the file ends at event " +
                    std::to_string(batch.newest) +
                    " (was an older copy of the file put back?); nothing was shipped: ship it as another host id, "
                    "or rebuild it with restore-from");
  }
  Shipped shipped;
  shipped.events = batch.events.size();
  shipped.position = batch.position;
  shipped.newest = batch.newest;
  shipped.missed = batch.missed;
  shipped.more = batch.events.size() >= options_.batch_events;
  const bool changes = !batch.events.empty() || !batch.chained.empty() ||
                       batch.chained_through != cursor.chained_through || !batch.gaps.empty() ||
                       (batch.rows && (batch.position != cursor.rows_as_of || batch.reconciled || batch.full ||
                                       batch.settings.reloads_id_high != cursor.reloads_id_high));
  if (!changes && !heartbeat) {
    // Nothing new. (Unfinished journal rows are compared only when events
    // come: a reload finishes with an event, except by hand.)
    position_ = cursor.after_event_id;
    return shipped;
  }

  copy_into(pg, audit_events_table(), host, batch.events);
  if (!batch.chained.empty()) {
    // Events shipped before the host chained them: their chain, position and
    // mac, as arrays (no temporary table: a batch is one transaction and keeps
    // no session state, so a pooler in transaction mode can carry it).
    std::vector<std::int64_t> ids;
    std::vector<std::int64_t> positions;
    std::vector<std::optional<std::string>> chains;
    std::vector<std::optional<std::string>> macs;
    for (const auto& row : batch.chained) {
      ids.push_back(row[0].integer);
      chains.push_back(row[1].kind == Cell::Kind::text ? std::optional(row[1].text) : std::nullopt);
      positions.push_back(row[2].integer);
      macs.push_back(row[3].kind == Cell::Kind::text ? std::optional(row[3].text) : std::nullopt);
    }
    pg.exec(
        "UPDATE hotstate.audit_events AS e SET chain = c.chain, chain_position = c.chain_position, mac = c.mac"
        "  FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[]) AS c (id, chain, chain_position, mac)"
        " WHERE e.host_id = $1 AND e.id = c.id",
        {host, pg_bigint_array(ids), pg_text_array(chains), pg_bigint_array(positions), pg_text_array(macs)});
  }
  if (batch.full) {
    for (const char* table : {"snapshots", "plugin_states", "pins", "reloads"}) {
      pg.exec(std::string("DELETE FROM hotstate.") + table + " WHERE host_id = $1", {host});
    }
    copy_into(pg, snapshots_table(), host, batch.snapshots);
    copy_into(pg, plugin_states_table(), host, batch.plugin_states);
    copy_into(pg, pins_table(), host, batch.pins);
    copy_into(pg, reloads_table(), host, batch.reloads);
  }
  if (!batch.snapshot_seqs.empty()) {
    pg.exec("DELETE FROM hotstate.snapshots WHERE host_id = $1 AND seq = ANY($2::bigint[])",
            {host, pg_bigint_array(batch.snapshot_seqs)});
    copy_into(pg, snapshots_table(), host, batch.snapshots);
  }
  if (batch.cleared_all || batch.reconciled) {
    pg.exec("DELETE FROM hotstate.snapshots WHERE host_id = $1 AND seq NOT IN (SELECT unnest($2::bigint[]))",
            {host, pg_bigint_array(batch.all_seqs)});
  }
  if (batch.reconciled) {
    pg.exec("DELETE FROM hotstate.reloads WHERE host_id = $1 AND id NOT IN (SELECT unnest($2::bigint[]))",
            {host, pg_bigint_array(batch.all_reload_ids)});
  }
  for (std::size_t i = 0; i < batch.cleared_plugins.size(); ++i) {
    pg.exec("DELETE FROM hotstate.snapshots WHERE host_id = $1 AND plugin_id = $2"
            " AND seq NOT IN (SELECT unnest($3::bigint[]))",
            {host, batch.cleared_plugins[i], pg_bigint_array(batch.cleared_keep[i])});
  }
  if (!batch.state_plugins.empty()) {
    pg.exec("DELETE FROM hotstate.plugin_states WHERE host_id = $1 AND plugin_id = ANY($2::text[])",
            {host, pg_text_array(batch.state_plugins)});
    copy_into(pg, plugin_states_table(), host, batch.plugin_states);
  }
  if (!batch.pin_plugins.empty()) {
    pg.exec("DELETE FROM hotstate.pins WHERE host_id = $1 AND plugin_id = ANY($2::text[])",
            {host, pg_text_array(batch.pin_plugins)});
    copy_into(pg, pins_table(), host, batch.pins);
  }
  if (!batch.reload_ids.empty()) {
    pg.exec("DELETE FROM hotstate.reloads WHERE host_id = $1 AND id = ANY($2::bigint[])",
            {host, pg_bigint_array(batch.reload_ids)});
    copy_into(pg, reloads_table(), host, batch.reloads);
  }
  if (!batch.gaps.empty()) {
    const auto first_ids = pg_bigint_array(first_column(batch.gaps));
    pg.exec("DELETE FROM hotstate.audit_gaps WHERE host_id = $1 AND first_id = ANY($2::bigint[])", {host, first_ids});
    copy_into(pg, audit_gaps_table(), host, batch.gaps);
    // The fleet keeps what the prune removed from the file, marked.
    pg.exec(
        "UPDATE hotstate.audit_events AS e SET pruned_by = g.pruned_by FROM hotstate.audit_gaps AS g"
        " WHERE g.host_id = $1 AND g.first_id = ANY($2::bigint[]) AND e.host_id = $1"
        "   AND e.id BETWEEN g.first_id AND g.last_id AND e.pruned_by IS NULL",
        {host, first_ids});
  }
  if (batch.missed > 0) {
    pg.exec(
        "INSERT INTO hotstate.shipment_gaps (host_id, after_event_id, up_to_event_id, missed) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING",
        {host, std::to_string(cursor.after_event_id), std::to_string(batch.position), std::to_string(batch.missed)});
  }
  if (batch.rows) {
    const auto& settings = batch.settings;
    pg.exec(
        "UPDATE hotstate.hosts SET rows_as_of = $2, max_history = $3, audit_chain_from = $4, snapshots_seq_high = $5,"
        " reloads_id_high = $6, events_id_high = $7 WHERE host_id = $1",
        {host, std::to_string(batch.position), std::to_string(settings.max_history),
         std::to_string(settings.audit_chain_from), std::to_string(settings.snapshots_seq_high),
         std::to_string(settings.reloads_id_high), std::to_string(settings.events_id_high)});
  }
  pg.exec(
      "UPDATE hotstate.hosts SET shipped_event_id = $2, chained_through = $3,"
      " events_shipped = events_shipped + $4, missed_events = missed_events + $5,"
      " last_shipped_at = CASE WHEN $4::bigint > 0 THEN now() ELSE last_shipped_at END,"
      " last_event_us = coalesce($6::bigint, last_event_us), last_contact_at = now()"
      " WHERE host_id = $1",
      {host, std::to_string(batch.position), std::to_string(batch.chained_through),
       std::to_string(batch.events.size()), std::to_string(batch.missed),
       batch.events.empty() ? PgParam() : PgParam(std::to_string(batch.last_event_us))});
  shipping.commit();
  if (batch.reconciled || batch.full) reconcile_pending_ = false;  // a full batch replaced every row
  shipped.committed = true;
  position_ = batch.position;
  return shipped;
}

void Shipper::record_position(bool force) {
  if (!options_.hold_prune || token_.empty()) return;
  if (recorded_once_ && recorded_position_ == position_ && !force) return;
  try {
    store_.record_replica(ReplicaInfo{options_.host_id, url_without_password(url_), token_, position_, true});
    recorded_position_ = position_;
    recorded_once_ = true;
  } catch (const Error&) {  // busy or read-only: the prune keeps more until the next record
  }
}

}  // namespace hotstate::internal
