// Internal: PostgreSQL's schema "hotstate", from migrations/postgresql/NNNN_*.sql
// (embedded at build time), applied when missing.
#pragma once

#include <vector>

#include "replication/pg_connection.hpp"
#include "store/migrations.hpp"

namespace hotstate::internal {

// Every PostgreSQL migration, in version order 1, 2, … (generated).
const std::vector<Migration>& embedded_postgresql_migrations();

// Brings the database's schema "hotstate" to the newest version, each
// migration in its own transaction under an advisory lock (hosts starting at
// once apply it once). Throws Error(NewerSchema) when the database has a
// newer version than this hotstate knows, Error(Unavailable) on a failure.
void migrate_postgresql(PgConnection& pg);

}  // namespace hotstate::internal
