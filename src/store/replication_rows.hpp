// Internal: rows of the tables a replica mirrors, as plain cells, and what one
// shipment carries. Shared by the store (which reads and rebuilds files) and
// the replication layer (which writes and reads PostgreSQL): the same column
// lists name the same columns on both sides (schema/schema.sql,
// migrations/postgresql/0001_fleet.sql).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hotstate::internal {

// One value: NULL, an integer or text (JSON is text).
struct Cell {
  enum class Kind { null, integer, text } kind = Kind::null;
  std::int64_t integer = 0;
  std::string text;

  static Cell of(std::int64_t value) { return Cell{Kind::integer, value, {}}; }
  static Cell of(std::string value) { return Cell{Kind::text, 0, std::move(value)}; }
  bool operator==(const Cell&) const = default;
};
using Row = std::vector<Cell>;

struct ColumnSpec {
  const char* name;
  bool integer;  // else text
};

// A mirrored table: its name (the same in the file and in PostgreSQL's schema
// "hotstate", where host_id comes first) and its columns, in order.
struct TableSpec {
  const char* name;
  std::vector<ColumnSpec> columns;

  // "a, b, c" (quoted where PostgreSQL needs it: "timestamp").
  std::string column_list() const;
};

const TableSpec& snapshots_table();
const TableSpec& audit_events_table();
const TableSpec& audit_gaps_table();
const TableSpec& plugin_states_table();
const TableSpec& reloads_table();
const TableSpec& pins_table();

// The file-wide values a replica keeps beside the rows.
struct FileSettings {
  std::int64_t max_history = 10;
  std::int64_t audit_chain_from = 1;
  std::int64_t snapshots_seq_high = 0;  // sqlite_sequence of snapshots
  std::int64_t reloads_id_high = 0;     // of reloads
  std::int64_t events_id_high = 0;      // of audit_events
};

// Where the last shipment ended, as PostgreSQL holds it, and what it asks to
// see again.
struct ReplicationCursor {
  std::uint64_t after_event_id = 0;              // the events after this one ship next
  std::uint64_t chained_through = 0;             // events up to here shipped with their chain hash
  std::vector<std::int64_t> unfinished_reloads;  // journal rows PostgreSQL holds unfinished: shipped again as they are now
  std::vector<std::int64_t> unchained_gaps;      // gaps (first_id) PostgreSQL holds without a chain hash
  std::int64_t reloads_id_high = 0;              // journal rows above this are new
  std::uint64_t rows_as_of = 0;                  // PostgreSQL's rows are the file's as of this event
  std::size_t limit = 2000;                      // events per batch
  // Also list every seq and journal id the file has, so that PostgreSQL drops
  // rows another client deleted without an audit event (a history row, a
  // journal row: the schema audits deletes of current snapshots only).
  bool reconcile = false;
};

// One shipment: the events after the cursor, and the rows they touched as
// the file holds them now, read in one read transaction.
struct ReplicationBatch {
  std::vector<Row> events;         // audit_events_table() rows, in id order
  std::uint64_t position = 0;      // the newest event read (the cursor's when none)
  std::uint64_t newest = 0;        // the newest event of the file
  std::uint64_t missed = 0;        // events between the cursor and position a prune removed first
  std::vector<Row> chained;        // (id, chain, chain_position, mac) of events up to the cursor chained since they shipped
  std::uint64_t chained_through = 0;
  // Whether the batch reaches the file's newest event and so carries the
  // rows the events since cursor.rows_as_of touched (all below are empty
  // otherwise): PostgreSQL's rows are then the file's as of `position`.
  bool rows = false;
  // With rows: every row of the file, not only those touched (a first
  // shipment, or events pruned before they shipped): PostgreSQL's rows of the
  // host are replaced by snapshots, plugin_states, pins and reloads, and the
  // touched lists below are empty.
  bool full = false;
  std::vector<std::int64_t> snapshot_seqs;   // seqs the events touched: PostgreSQL's rows of these are replaced by
  std::vector<Row> snapshots;                // these, the touched rows that exist
  std::vector<std::string> cleared_plugins;  // plugins cleared: PostgreSQL keeps only the seqs the file has of each
  std::vector<std::vector<std::int64_t>> cleared_keep;
  bool cleared_all = false;                  // every plugin cleared (or reconcile): PostgreSQL keeps only all_seqs
  std::vector<std::int64_t> all_seqs;
  bool reconciled = false;                   // the cursor asked to reconcile: all_seqs and all_reload_ids are complete
  std::vector<std::int64_t> all_reload_ids;
  std::vector<std::string> state_plugins;    // plugins whose life-cycle state changed, and
  std::vector<Row> plugin_states;            // their rows that exist
  std::vector<std::string> pin_plugins;      // plugins whose pins changed, and
  std::vector<Row> pins;                     // every pin of them
  std::vector<std::int64_t> reload_ids;      // journal rows touched, and
  std::vector<Row> reloads;                  // those that exist
  std::vector<Row> gaps;                     // audit_gaps rows of the prunes in the batch, and the unchained ones asked for
  FileSettings settings;
  std::int64_t last_event_us = 0;            // time_us of the newest event in the batch
  // The event at the cursor (audit_events_table() row), when the file still
  // has it: PostgreSQL's copy must be the same, or the file is not the one
  // PostgreSQL followed (an older backup put back, another file).
  std::optional<Row> anchor;
};

// Everything of one host, to rebuild its file.
struct HostImage {
  std::vector<Row> snapshots, events, gaps, plugin_states, reloads, pins;
  FileSettings settings;
  std::string host_id, target, token;
  std::uint64_t shipped_event_id = 0;
  std::uint64_t rows_as_of = 0;  // hotstate.hosts.rows_as_of
};

}  // namespace hotstate::internal
