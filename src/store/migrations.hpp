// Internal: the schema migrations embedded from migrations/NNNN_what.sql at build time.
#pragma once

#include <string_view>
#include <vector>

namespace hotstate::internal {

struct Migration {
  int version;            // NNNN: the user_version the database has after it
  std::string_view name;  // the file name without .sql
  std::string_view sql;   // the file's text
};

// Every migration, in version order 1, 2, … (checked at build time).
const std::vector<Migration>& embedded_migrations();

// The schema version the migrations build: the newest this hotstate writes
// and reads (hotstate::schema_version() in the public API).
inline int latest_schema_version() { return static_cast<int>(embedded_migrations().size()); }

}  // namespace hotstate::internal
