// Internal: applying migrations/postgresql/ (pg_schema.hpp).
#include "replication/pg_schema.hpp"

#include "hotstate/error.hpp"
#include "hotstate/replication.hpp"

namespace hotstate {

int postgresql_schema_version() noexcept {
  return static_cast<int>(internal::embedded_postgresql_migrations().size());
}

}  // namespace hotstate

namespace hotstate::internal {

namespace {

// pg_advisory_xact_lock's key: "HSTA" and 1, hotstate's migrations.
constexpr const char* migration_lock = "SELECT pg_advisory_xact_lock(1213420609, 1)";

int applied_version(PgConnection& pg) {
  // A query of pg_class, not to_regclass: the latter reads the catalog through
  // caches that a transaction waiting on the advisory lock does not refresh,
  // and would miss the table another host just created.
  const auto exists = pg.exec(
      "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace"
      " WHERE n.nspname = 'hotstate' AND c.relname = 'schema_version')");
  if (exists.text(0, 0) != "t") return 0;
  return static_cast<int>(pg.exec("SELECT coalesce(max(version), 0) FROM hotstate.schema_version").integer(0, 0));
}

}  // namespace

void migrate_postgresql(PgConnection& pg) {
  const auto& migrations = embedded_postgresql_migrations();
  const int newest = static_cast<int>(migrations.size());
  // Without the lock first: a current database costs one query.
  if (applied_version(pg) == newest) return;
  for (const auto& migration : migrations) {
    PgTransaction migrating(pg, "BEGIN");
    pg.exec(migration_lock);
    const int version = applied_version(pg);
    if (version > newest) {
      throw Error(ErrorCode::NewerSchema, "PostgreSQL's schema hotstate has version " + std::to_string(version) +
                                              ", newer than this hotstate's " + std::to_string(newest) +
                                              "; nothing was changed");
    }
    if (version < migration.version) {
      if (migration.version == 1) pg.exec("CREATE SCHEMA IF NOT EXISTS hotstate");
      pg.exec(std::string(migration.sql));
      pg.exec("INSERT INTO hotstate.schema_version (version) VALUES ($1)", {std::to_string(migration.version)});
    }
    migrating.commit();
  }
  if (const int version = applied_version(pg); version > newest) {
    throw Error(ErrorCode::NewerSchema, "PostgreSQL's schema hotstate has version " + std::to_string(version) +
                                            ", newer than this hotstate's " + std::to_string(newest));
  }
}

}  // namespace hotstate::internal
