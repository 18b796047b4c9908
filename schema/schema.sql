-- hotstate: the current database schema (schema version 1), for people to read.
--
-- This file is the result of applying every migration in migrations/, in
-- order, to an empty database. It is documentation: hotstate never reads it.
-- What the library runs is migrations/NNNN_*.sql (embedded at build time);
-- when a migration changes the schema, update this file to match (the test
-- tests/schema_test.cpp compares the two).
--
-- It is also a working script: `sqlite3 new.db < schema/schema.sql` creates a
-- database that hotstate opens as current, without running any migration.
-- The two PRAGMAs that mark it as such come last, so a script that stops
-- half-way leaves a file hotstate refuses instead of one it would trust.
--
-- Conventions: every time is an INTEGER counted from the Unix epoch; every JSON
-- value is stored as TEXT; every rule is enforced by SQLite itself (CHECKs and
-- triggers), so the sqlite3 shell and other writers obey the same rules as the
-- library.

-- ---------------------------------------------------------------------------
-- Tables

-- settings: database-wide settings that every writer honours. Exactly one row
-- (id 1), inserted below; it cannot be deleted.
CREATE TABLE settings (
  id          INTEGER PRIMARY KEY CHECK (id = 1),  -- always 1: the table holds one row
  max_history INTEGER NOT NULL DEFAULT 10          -- history entries kept per plugin besides its current snapshot (0 to 2147483647); opening a StateManager writes Options::max_history here
              CHECK (typeof(max_history) = 'integer' AND max_history BETWEEN 0 AND 2147483647)
);

-- snapshots: every snapshot of every plugin, current and history alike. A
-- plugin's row with the highest seq is its current snapshot; its other rows
-- are its history, oldest (lowest seq) first. Order is the order of saves
-- (seq), never the timestamp.
CREATE TABLE snapshots (
  seq            INTEGER PRIMARY KEY AUTOINCREMENT,  -- save order: increases with every insert, never reused (AUTOINCREMENT keeps it so after deletes)
  plugin_id      TEXT    NOT NULL                    -- the plugin's id (any UTF-8 text, exactly as given)
                 CHECK (typeof(plugin_id) = 'text'),
  timestamp      INTEGER NOT NULL                    -- the snapshot's own time, whole seconds since the Unix epoch (as in the seed); defaults to now
                 DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
                 CHECK (typeof(timestamp) = 'integer' AND timestamp >= 0),
  plugin_version TEXT    NOT NULL DEFAULT ''         -- version of the plugin that made the snapshot, e.g. '1.2.3'
                 CHECK (typeof(plugin_version) = 'text'),
  data           TEXT    NOT NULL DEFAULT '{}'       -- the state: a JSON object, any values (json_extract(data, '$.key'))
                 CHECK (json_valid(data) AND json_type(data) = 'object'),
  metadata       TEXT    NOT NULL DEFAULT '{}'       -- a JSON object of strings (checked by triggers snapshots_metadata_strings*)
                 CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
  saved_at_us    INTEGER NOT NULL                    -- when the row was written, microseconds since the Unix epoch (informative); defaults to now
                 DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)),
  canonical_hash INTEGER                             -- set by hotstate only: a check value of data and metadata as hotstate wrote them; NULL or stale for rows other clients wrote or edited, which hotstate then re-reads in full
);

-- sqlite_sequence (not created here) is SQLite's own table behind
-- AUTOINCREMENT: it holds the highest seq ever used in snapshots.

-- The one settings row, with the default history bound.
INSERT INTO settings (id, max_history) VALUES (1, 10);

-- ---------------------------------------------------------------------------
-- Indexes

-- snapshots_by_plugin: a plugin's rows in save order, so that finding its
-- current snapshot, listing its history and trimming it are index seeks.
CREATE INDEX snapshots_by_plugin ON snapshots (plugin_id, seq);

-- ---------------------------------------------------------------------------
-- Triggers

-- settings_keep_row: the settings row cannot be deleted (every writer needs it).
CREATE TRIGGER settings_keep_row BEFORE DELETE ON settings
BEGIN
  SELECT RAISE(ABORT, 'hotstate: the settings row cannot be deleted');
END;

-- settings_trim_history: lowering max_history trims every plugin's history at
-- once, keeping each plugin's newest max_history + 1 rows.
CREATE TRIGGER settings_trim_history AFTER UPDATE OF max_history ON settings
WHEN NEW.max_history < OLD.max_history
BEGIN
  DELETE FROM snapshots
   WHERE seq IN (SELECT seq FROM (SELECT seq, row_number() OVER (PARTITION BY plugin_id ORDER BY seq DESC) AS newest_first
                                   FROM snapshots)
                  WHERE newest_first > NEW.max_history + 1);
END;

-- snapshots_metadata_strings: a new row's metadata values must all be JSON
-- strings, as in the seed.
CREATE TRIGGER snapshots_metadata_strings BEFORE INSERT ON snapshots
-- Fast pass first: when every ':' is followed by '"', every value is a
-- string (the common case); only otherwise look at each value.
WHEN NEW.metadata GLOB '*:[^"]*'
 AND EXISTS (SELECT 1 FROM json_each(NEW.metadata) WHERE type <> 'text')
BEGIN
  SELECT RAISE(ABORT, 'hotstate: snapshots.metadata must be a JSON object of strings');
END;

-- snapshots_metadata_strings_on_update: the same rule when metadata is updated.
CREATE TRIGGER snapshots_metadata_strings_on_update BEFORE UPDATE OF metadata ON snapshots
-- Fast pass first: when every ':' is followed by '"', every value is a
-- string (the common case); only otherwise look at each value.
WHEN NEW.metadata GLOB '*:[^"]*'
 AND EXISTS (SELECT 1 FROM json_each(NEW.metadata) WHERE type <> 'text')
BEGIN
  SELECT RAISE(ABORT, 'hotstate: snapshots.metadata must be a JSON object of strings');
END;

-- snapshots_seq_increases: a new row must come last in save order, so that it
-- becomes its plugin's current snapshot (leave seq out when inserting).
CREATE TRIGGER snapshots_seq_increases AFTER INSERT ON snapshots
WHEN NEW.seq < (SELECT max(seq) FROM snapshots)
BEGIN
  SELECT RAISE(ABORT, 'hotstate: a new snapshot needs a seq above every existing one (leave seq out)');
END;

-- snapshots_seq_immutable: a row's seq never changes once written.
CREATE TRIGGER snapshots_seq_immutable BEFORE UPDATE OF seq ON snapshots
WHEN NEW.seq <> OLD.seq
BEGIN
  SELECT RAISE(ABORT, 'hotstate: seq cannot be changed');
END;

-- snapshots_trim_history: the history bound, for every writer. After an
-- insert, keep the plugin's newest max_history + 1 rows (its current snapshot
-- and max_history history entries) and delete the older ones.
CREATE TRIGGER snapshots_trim_history AFTER INSERT ON snapshots
BEGIN
  DELETE FROM snapshots
   WHERE plugin_id = NEW.plugin_id
     AND seq <= (SELECT seq FROM snapshots
                  WHERE plugin_id = NEW.plugin_id
                  ORDER BY seq DESC
                  LIMIT 1 OFFSET (SELECT max_history + 1 FROM settings WHERE id = 1));
END;

-- ---------------------------------------------------------------------------
-- Views (read-only conveniences for people and tools; the library reads the
-- snapshots table directly)

-- current_snapshots: each plugin's current snapshot, one row per plugin.
CREATE VIEW current_snapshots AS
  SELECT plugin_id,       -- the plugin
         seq,             -- the current snapshot's place in save order
         timestamp,       -- its time, seconds since the Unix epoch
         plugin_version,  -- the version that made it
         data,            -- its state, a JSON object
         metadata         -- its metadata, a JSON object of strings
    FROM snapshots AS s
   WHERE seq = (SELECT max(seq) FROM snapshots WHERE plugin_id = s.plugin_id);

-- snapshot_history: each plugin's history, every snapshot but the current one
-- (order by seq for oldest first).
CREATE VIEW snapshot_history AS
  SELECT plugin_id,       -- the plugin
         seq,             -- the entry's place in save order
         timestamp,       -- its time, seconds since the Unix epoch
         plugin_version,  -- the version that made it
         data,            -- its state, a JSON object
         metadata         -- its metadata, a JSON object of strings
    FROM snapshots AS s
   WHERE seq < (SELECT max(seq) FROM snapshots WHERE plugin_id = s.plugin_id);

-- ---------------------------------------------------------------------------
-- File identity: what hotstate checks on open. Set last (see the top).

-- application_id: 0x48535441 ("HSTA"), marks the file as a hotstate database.
PRAGMA application_id = 1213420609;
-- user_version: the schema version, the number of migrations applied.
PRAGMA user_version = 1;
