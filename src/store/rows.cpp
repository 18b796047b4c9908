// The store: a snapshot as a row of table snapshots and back, and the rules
// every id and size follows.
#include "store/store_internal.hpp"

#include <limits>

#include "model/json_internal.hpp"
#include "model/sha3.hpp"

namespace hotstate::internal {

// The current row of `statement` (columns as in snapshot_columns). A row
// whose canonical_hash matches its texts is exactly as hotstate wrote it, and
// is split without a parser; any other row is parsed and canonicalized.
StateSnapshot read_snapshot(SQLite::Statement& statement) {
  const std::int64_t seq = statement.getColumn(0).getInt64();
  try {
    StateSnapshot snapshot = SnapshotAccess::unstamped();
    snapshot.plugin_id = statement.getColumn(1).getString();
    snapshot.plugin_version = statement.getColumn(3).getString();
    snapshot.seq = static_cast<std::uint64_t>(seq);
    snapshot.timestamp = static_cast<std::uint64_t>(statement.getColumn(2).getInt64());
    const std::string_view data = column_text(statement.getColumn(4));
    const std::string_view metadata = column_text(statement.getColumn(5));
    const SQLite::Column hash = statement.getColumn(6);
    const bool as_written = !hash.isNull() && static_cast<std::uint64_t>(hash.getInt64()) == canonical_hash(data, metadata);
    if (!as_written || !split_canonical_object(data, snapshot.data) ||
        !split_canonical_string_object(metadata, snapshot.metadata)) {
      snapshot.data = decode_json_object(data);
      snapshot.metadata = decode_string_object(metadata);
    }
    return snapshot;
  } catch (const Error& error) {
    throw Error(ErrorCode::Corrupt, "snapshot row seq " + std::to_string(seq) + " is unreadable: " + error.what());
  }
}

void require_within(std::size_t size, std::size_t limit, const char* what) {
  if (size > limit) {
    throw Error(ErrorCode::TooLarge, std::string(what) + " is " + std::to_string(size) + " bytes; the limit is " +
                                         std::to_string(limit) + " (Options); nothing was written");
  }
}

// The one rule for a plugin id (and a version), on every path that takes
// one, reads included: UTF-8, within max_id_bytes.
void require_id(const Store::Shared& limits, std::string_view text, const char* what) {
  require_within(text.size(), limits.max_id_bytes, what);
  require_utf8(text, what);
}

EncodedRow encode_row(const Store::Shared& limits, const StateSnapshot& snapshot) {
  require_within(snapshot.plugin_id.size(), limits.max_id_bytes, "plugin_id");
  require_within(snapshot.plugin_version.size(), limits.max_id_bytes, "plugin_version");
  require_utf8(snapshot.plugin_id, "plugin_id");
  require_utf8(snapshot.plugin_version, "plugin_version");
  EncodedRow row{&snapshot, encode_data_object(snapshot.data), encode_string_object(snapshot.metadata), 0, {}};
  require_within(row.data.size(), limits.max_data_bytes, "the snapshot's data");
  require_within(row.metadata.size(), limits.max_metadata_bytes, "the snapshot's metadata");
  row.hash = static_cast<std::int64_t>(canonical_hash(row.data, row.metadata));
  row.content_hash = sha3_256_hex(row.data, row.metadata);
  return row;
}

std::uint64_t insert_row(Store::Connection& c, const EncodedRow& row, std::int64_t time_us) {
  StatementUse insert(*c.insert_snapshot);
  insert->bindNoCopy(1, row.snapshot->plugin_id);
  // Every u64 the seed accepts: above 2^63-1 as the int64 with the same bits
  // (migration 0003), read back by the cast in read_snapshot.
  insert->bind(2, static_cast<std::int64_t>(row.snapshot->timestamp));
  insert->bindNoCopy(3, row.snapshot->plugin_version);
  insert->bindNoCopy(4, row.data);
  insert->bindNoCopy(5, row.metadata);
  insert->bind(6, time_us);
  insert->bind(7, row.hash);
  insert->bindNoCopy(8, row.content_hash);
  insert->exec();
  return static_cast<std::uint64_t>(c.db.getLastInsertRowid());
}

}  // namespace hotstate::internal
