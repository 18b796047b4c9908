// Replication: rebuilding a host's file from PostgreSQL (restore_from). One
// read-only REPEATABLE READ transaction reads the host's rows, so they are
// one shipment's state, even while the host ships on; the store writes the
// file (Store::rebuild_file).
#include "hotstate/replication.hpp"

#include <filesystem>

#include "hotstate/error.hpp"
#include "replication/pg_connection.hpp"
#include "replication/pg_schema.hpp"
#include "store/replication_rows.hpp"
#include "store/store.hpp"

namespace hotstate {

namespace {

using internal::Cell;
using internal::PgConnection;
using internal::PgResult;
using internal::Row;
using internal::TableSpec;

// Every row of `spec`'s table of the host, as cells typed by the spec.
std::vector<Row> read_rows(PgConnection& pg, const TableSpec& spec, const std::string& host_id,
                           const std::string& where, const char* order) {
  const PgResult result =
      pg.exec("SELECT " + spec.column_list() + " FROM hotstate." + spec.name + " WHERE host_id = $1" + where +
                  " ORDER BY " + order,
              {host_id});
  std::vector<Row> rows;
  rows.reserve(static_cast<std::size_t>(result.rows()));
  for (int r = 0; r < result.rows(); ++r) {
    Row row;
    row.reserve(spec.columns.size());
    for (std::size_t c = 0; c < spec.columns.size(); ++c) {
      const int column = static_cast<int>(c);
      if (result.null(r, column)) {
        row.emplace_back();
      } else if (spec.columns[c].integer) {
        row.push_back(Cell::of(result.integer(r, column)));
      } else {
        row.push_back(Cell::of(std::string(result.text(r, column))));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

// The image of `host_id`, read in the caller's transaction.
internal::HostImage read_image(PgConnection& pg, const std::string& url, const std::string& host_id) {
  const std::string target = internal::url_without_password(url);
  {
    const auto schema = pg.exec("SELECT to_regclass('hotstate.schema_version') IS NOT NULL");
    if (schema.text(0, 0) != "t") {
      throw Error(ErrorCode::NotFound, "restore-from: PostgreSQL at " + target +
                                           " has no schema hotstate (no host ever replicated there)");
    }
    const auto newest = static_cast<std::int64_t>(internal::embedded_postgresql_migrations().size());
    const auto version = pg.exec("SELECT coalesce(max(version), 0) FROM hotstate.schema_version").integer(0, 0);
    if (version > newest) {
      throw Error(ErrorCode::NewerSchema, "restore-from: PostgreSQL's schema hotstate has version " +
                                              std::to_string(version) + ", newer than this hotstate's " +
                                              std::to_string(newest) + "; nothing was written");
    }
  }
  internal::HostImage image;
  image.host_id = host_id;
  image.target = target;
  {
    const auto host = pg.exec(
        "SELECT token, shipped_event_id, max_history, audit_chain_from, snapshots_seq_high, reloads_id_high,"
        " events_id_high, rows_as_of FROM hotstate.hosts WHERE host_id = $1",
        {host_id});
    if (host.rows() != 1) {
      throw Error(ErrorCode::NotFound,
                  "restore-from: PostgreSQL at " + target + " has no host '" + host_id + "'; nothing was written");
    }
    image.token = std::string(host.text(0, 0));
    image.shipped_event_id = static_cast<std::uint64_t>(std::max<std::int64_t>(host.integer(0, 1), 0));
    // NULL until a batch shipped the settings: the file had no event yet,
    // so it still had a new file's settings (kept by FileSettings).
    if (!host.null(0, 2)) image.settings.max_history = host.integer(0, 2);
    if (!host.null(0, 3)) image.settings.audit_chain_from = host.integer(0, 3);
    image.settings.snapshots_seq_high = host.integer(0, 4);
    image.settings.reloads_id_high = host.integer(0, 5);
    image.settings.events_id_high = host.integer(0, 6);
    image.rows_as_of = static_cast<std::uint64_t>(std::max<std::int64_t>(host.integer(0, 7), 0));
  }
  image.snapshots = read_rows(pg, internal::snapshots_table(), host_id, "", "seq");
  // The fleet keeps the events the host's prunes removed; its file did not.
  // The rows are the host's as of rows_as_of (a backlog's rows come with
  // its last batch): so are the events and gaps taken, and the file is the
  // host's as of that event.
  const std::string as_of = std::to_string(image.rows_as_of);
  image.events = read_rows(pg, internal::audit_events_table(), host_id,
                           " AND id <= " + as_of + " AND (pruned_by IS NULL OR pruned_by > " + as_of + ")", "id");
  image.gaps = read_rows(pg, internal::audit_gaps_table(), host_id, " AND pruned_by <= " + as_of, "first_id");
  image.plugin_states = read_rows(pg, internal::plugin_states_table(), host_id, "", "plugin_id");
  image.reloads = read_rows(pg, internal::reloads_table(), host_id, "", "id");
  image.pins = read_rows(pg, internal::pins_table(), host_id, "", "plugin_id, label");
  return image;
}

}  // namespace

RestoreFromReport restore_from(const std::string& url, const std::string& host_id, const std::string& db_path) {
  if (host_id.empty()) throw Error(ErrorCode::InvalidArgument, "restore-from: the host id is empty");
  if (db_path.empty() || db_path == ":memory:") {
    throw Error(ErrorCode::InvalidArgument, "restore-from: the file to rebuild needs a path");
  }
  // Refused before PostgreSQL is asked for anything (rebuild_file checks again).
  std::error_code ignored;
  if (std::filesystem::exists(std::filesystem::symlink_status(db_path, ignored))) {
    throw Error(ErrorCode::InvalidArgument,
                "restore-from: '" + db_path + "' exists; nothing was changed (rebuild into a new path)");
  }
  internal::HostImage image;
  {
    PgConnection pg(url);
    internal::PgTransaction reading(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    image = read_image(pg, url, host_id);
    reading.commit();
  }
  internal::Store::rebuild_file(db_path, image);
  RestoreFromReport report;
  report.snapshots = image.snapshots.size();
  report.events = image.events.size();
  report.reloads = image.reloads.size();
  report.pins = image.pins.size();
  report.position = image.rows_as_of;
  report.shipped = image.shipped_event_id;
  return report;
}

}  // namespace hotstate
