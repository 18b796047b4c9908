-- 0001: plugin snapshots and their history, with the history bound enforced in SQLite.
-- Applied by hotstate in one transaction that also sets PRAGMA user_version = 1.

-- Mark the file as a hotstate database ("HSTA" = 0x48535441), the application_id
-- hotstate checks on open before it touches a file.
PRAGMA application_id = 1213420609;

-- Database-wide settings that every writer honours. Exactly one row.
CREATE TABLE settings (
  id          INTEGER PRIMARY KEY CHECK (id = 1),  -- always 1: the table holds one row
  max_history INTEGER NOT NULL DEFAULT 10          -- history entries kept per plugin besides its current snapshot
              CHECK (typeof(max_history) = 'integer' AND max_history BETWEEN 0 AND 2147483647)
);
INSERT INTO settings (id, max_history) VALUES (1, 10);

CREATE TRIGGER settings_keep_row BEFORE DELETE ON settings
BEGIN
  SELECT RAISE(ABORT, 'hotstate: the settings row cannot be deleted');
END;

-- Every snapshot of every plugin, current and history alike. A plugin's row
-- with the highest seq is its current snapshot; its other rows are its history.
CREATE TABLE snapshots (
  seq            INTEGER PRIMARY KEY AUTOINCREMENT,  -- save order: increases with every insert, never reused
  plugin_id      TEXT    NOT NULL                    -- the plugin's id (any UTF-8 text, exactly as given)
                 CHECK (typeof(plugin_id) = 'text'),
  timestamp      INTEGER NOT NULL                    -- the snapshot's own time, whole seconds since the Unix epoch (as in the seed)
                 DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
                 CHECK (typeof(timestamp) = 'integer' AND timestamp >= 0),
  plugin_version TEXT    NOT NULL DEFAULT ''         -- version of the plugin that made the snapshot, e.g. '1.2.3'
                 CHECK (typeof(plugin_version) = 'text'),
  data           TEXT    NOT NULL DEFAULT '{}'       -- the state: a JSON object, any values (json_extract(data, '$.key'))
                 CHECK (json_valid(data) AND json_type(data) = 'object'),
  metadata       TEXT    NOT NULL DEFAULT '{}'       -- a JSON object of strings (checked by trigger snapshots_metadata_strings)
                 CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
  saved_at_us    INTEGER NOT NULL                    -- when the row was written, microseconds since the Unix epoch (informative)
                 DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)),
  canonical_hash INTEGER                             -- set by hotstate only: a check value of data and metadata as hotstate wrote them; NULL or stale for rows other clients wrote or edited, which hotstate then re-reads in full
);

-- A plugin's rows in save order: current snapshot, history and trimming are index seeks.
CREATE INDEX snapshots_by_plugin ON snapshots (plugin_id, seq);

-- metadata values must be strings, as in the seed.
CREATE TRIGGER snapshots_metadata_strings BEFORE INSERT ON snapshots
-- Fast pass first: when every ':' is followed by '"', every value is a
-- string (the common case); only otherwise look at each value.
WHEN NEW.metadata GLOB '*:[^"]*'
 AND EXISTS (SELECT 1 FROM json_each(NEW.metadata) WHERE type <> 'text')
BEGIN
  SELECT RAISE(ABORT, 'hotstate: snapshots.metadata must be a JSON object of strings');
END;

CREATE TRIGGER snapshots_metadata_strings_on_update BEFORE UPDATE OF metadata ON snapshots
-- Fast pass first: when every ':' is followed by '"', every value is a
-- string (the common case); only otherwise look at each value.
WHEN NEW.metadata GLOB '*:[^"]*'
 AND EXISTS (SELECT 1 FROM json_each(NEW.metadata) WHERE type <> 'text')
BEGIN
  SELECT RAISE(ABORT, 'hotstate: snapshots.metadata must be a JSON object of strings');
END;

-- A new row must come last in save order, so that it becomes the current snapshot.
CREATE TRIGGER snapshots_seq_increases AFTER INSERT ON snapshots
WHEN NEW.seq < (SELECT max(seq) FROM snapshots)
BEGIN
  SELECT RAISE(ABORT, 'hotstate: a new snapshot needs a seq above every existing one (leave seq out)');
END;

CREATE TRIGGER snapshots_seq_immutable BEFORE UPDATE OF seq ON snapshots
WHEN NEW.seq <> OLD.seq
BEGIN
  SELECT RAISE(ABORT, 'hotstate: seq cannot be changed');
END;

-- The history bound, for every writer: after an insert, keep the plugin's
-- newest max_history + 1 rows (its current snapshot and max_history entries).
CREATE TRIGGER snapshots_trim_history AFTER INSERT ON snapshots
BEGIN
  DELETE FROM snapshots
   WHERE plugin_id = NEW.plugin_id
     AND seq <= (SELECT seq FROM snapshots
                  WHERE plugin_id = NEW.plugin_id
                  ORDER BY seq DESC
                  LIMIT 1 OFFSET (SELECT max_history + 1 FROM settings WHERE id = 1));
END;

-- Lowering the bound trims every plugin at once.
CREATE TRIGGER settings_trim_history AFTER UPDATE OF max_history ON settings
WHEN NEW.max_history < OLD.max_history
BEGIN
  DELETE FROM snapshots
   WHERE seq IN (SELECT seq FROM (SELECT seq, row_number() OVER (PARTITION BY plugin_id ORDER BY seq DESC) AS newest_first
                                   FROM snapshots)
                  WHERE newest_first > NEW.max_history + 1);
END;

-- Each plugin's current snapshot.
CREATE VIEW current_snapshots AS
  SELECT plugin_id, seq, timestamp, plugin_version, data, metadata
    FROM snapshots AS s
   WHERE seq = (SELECT max(seq) FROM snapshots WHERE plugin_id = s.plugin_id);

-- Each plugin's history (every snapshot but the current one).
CREATE VIEW snapshot_history AS
  SELECT plugin_id, seq, timestamp, plugin_version, data, metadata
    FROM snapshots AS s
   WHERE seq < (SELECT max(seq) FROM snapshots WHERE plugin_id = s.plugin_id);
