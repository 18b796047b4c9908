-- 0003: timestamps over the seed's whole u64 range, ids that can never use up
-- the id space, and an audited history bound.
-- Applied by hotstate in one transaction that also sets PRAGMA user_version = 3.

-- The seed's timestamp is a u64 and SQLite's integers are signed 64-bit: a
-- timestamp above 2^63-1 is stored as the signed integer with the same 64
-- bits (negative in SQL) and read back as the u64 it was; the views show it
-- as the exact u64. The old CHECK (timestamp >= 0) refused those, and SQLite
-- changes a CHECK only by rebuilding the table: copy the rows aside, create
-- the table anew, copy them back with their seqs, and keep the highest seq
-- ever used so that no seq is reused.
CREATE TEMP TABLE snapshots_rows_0003 AS
  SELECT seq, plugin_id, timestamp, plugin_version, data, metadata, saved_at_us, canonical_hash, content_hash
    FROM main.snapshots;
CREATE TEMP TABLE snapshots_sequence_0003 AS
  SELECT seq FROM main.sqlite_sequence WHERE name = 'snapshots';
DROP TABLE main.snapshots;

CREATE TABLE snapshots (
  seq            INTEGER PRIMARY KEY AUTOINCREMENT,  -- save order: increases with every insert, never reused; at most 2^53-1 (trigger snapshots_seq_in_range)
  plugin_id      TEXT    NOT NULL                    -- the plugin's id (any UTF-8 text, exactly as given)
                 CHECK (typeof(plugin_id) = 'text'),
  timestamp      INTEGER NOT NULL                    -- the snapshot's own time, whole seconds since the Unix epoch (the seed's u64); above 2^63-1 stored as the negative integer with the same 64 bits
                 DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
                 CHECK (typeof(timestamp) = 'integer'),
  plugin_version TEXT    NOT NULL DEFAULT ''         -- version of the plugin that made the snapshot, e.g. '1.2.3'
                 CHECK (typeof(plugin_version) = 'text'),
  data           TEXT    NOT NULL DEFAULT '{}'       -- the state: a JSON object, any values (json_extract(data, '$.key'))
                 CHECK (json_valid(data) AND json_type(data) = 'object'),
  metadata       TEXT    NOT NULL DEFAULT '{}'       -- a JSON object of strings (checked by triggers snapshots_metadata_strings*)
                 CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
  saved_at_us    INTEGER NOT NULL                    -- when the row was written, microseconds since the Unix epoch (informative)
                 DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)),
  canonical_hash INTEGER,                            -- set by hotstate only: a check value of data and metadata as hotstate wrote them; NULL or stale for rows other clients wrote or edited, which hotstate then re-reads in full
  content_hash   TEXT                                -- SHA3-256 of data || metadata, lowercase hex; set by hotstate; NULL for rows other clients wrote without it or changed afterwards
                 CHECK (content_hash IS NULL OR (typeof(content_hash) = 'text' AND length(content_hash) = 64))
);

INSERT INTO main.snapshots (seq, plugin_id, timestamp, plugin_version, data, metadata, saved_at_us, canonical_hash, content_hash)
  SELECT seq, plugin_id, timestamp, plugin_version, data, metadata, saved_at_us, canonical_hash, content_hash
    FROM temp.snapshots_rows_0003 ORDER BY seq;
DELETE FROM main.sqlite_sequence WHERE name = 'snapshots';
INSERT INTO main.sqlite_sequence (name, seq)
  SELECT 'snapshots', max(seq)
    FROM (SELECT seq FROM temp.snapshots_sequence_0003 UNION ALL SELECT seq FROM main.snapshots)
  HAVING max(seq) IS NOT NULL;
DROP TABLE temp.snapshots_rows_0003;
DROP TABLE temp.snapshots_sequence_0003;

-- The index and triggers of snapshots went with the old table: the same again.
CREATE INDEX snapshots_by_plugin ON snapshots (plugin_id, seq);

CREATE TRIGGER snapshots_metadata_strings BEFORE INSERT ON snapshots
-- Fast pass first: when every ':' is followed by '"', every value is a
-- string (the common case); only otherwise look at each value.
WHEN NEW.metadata GLOB '*:[^"]*'
 AND EXISTS (SELECT 1 FROM json_each(NEW.metadata) WHERE type <> 'text')
BEGIN
  SELECT RAISE(ABORT, 'hotstate: snapshots.metadata must be a JSON object of strings');
END;

CREATE TRIGGER snapshots_metadata_strings_on_update BEFORE UPDATE OF metadata ON snapshots
WHEN NEW.metadata GLOB '*:[^"]*'
 AND EXISTS (SELECT 1 FROM json_each(NEW.metadata) WHERE type <> 'text')
BEGIN
  SELECT RAISE(ABORT, 'hotstate: snapshots.metadata must be a JSON object of strings');
END;

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

CREATE TRIGGER snapshots_trim_history AFTER INSERT ON snapshots
BEGIN
  INSERT INTO audit_events (time_us, plugin_id, kind, detail)
  VALUES (max(NEW.saved_at_us, 0), NEW.plugin_id, 'SnapshotSaved',
          json_object('seq', NEW.seq, 'plugin_version', NEW.plugin_version,
                      'size', length(CAST(NEW.data AS BLOB)) + length(CAST(NEW.metadata AS BLOB)),
                      'content_hash', NEW.content_hash));
  INSERT INTO audit_events (time_us, plugin_id, kind, detail)
  SELECT max(NEW.saved_at_us, 0), plugin_id, 'HistoryTrimmed', json_object('seq', seq, 'content_hash', content_hash)
    FROM snapshots
   WHERE plugin_id = NEW.plugin_id
     AND seq <= (SELECT seq FROM snapshots
                  WHERE plugin_id = NEW.plugin_id
                  ORDER BY seq DESC
                  LIMIT 1 OFFSET (SELECT max_history + 1 FROM settings WHERE id = 1))
   ORDER BY seq;
  DELETE FROM snapshots
   WHERE plugin_id = NEW.plugin_id
     AND seq <= (SELECT seq FROM snapshots
                  WHERE plugin_id = NEW.plugin_id
                  ORDER BY seq DESC
                  LIMIT 1 OFFSET (SELECT max_history + 1 FROM settings WHERE id = 1));
END;

CREATE TRIGGER snapshots_audit_edit AFTER UPDATE OF plugin_id, timestamp, plugin_version, data, metadata ON snapshots
BEGIN
  INSERT INTO audit_events (plugin_id, kind, detail)
  VALUES (NEW.plugin_id, 'SnapshotEdited', json_object('seq', NEW.seq, 'content_hash', OLD.content_hash));
  UPDATE snapshots SET content_hash = NULL
   WHERE seq = NEW.seq AND NEW.content_hash IS OLD.content_hash
     AND (NEW.data IS NOT OLD.data OR NEW.metadata IS NOT OLD.metadata);
END;

-- Ids stay below 2^53 (9007199254740991): a row inserted with an explicit id
-- near 2^63-1 would leave AUTOINCREMENT no id to give, and every later write
-- would fail. 2^53-1 is also the largest integer every JSON reader keeps
-- exactly, and leaves room for more saves than any host will make.
CREATE TRIGGER snapshots_seq_in_range AFTER INSERT ON snapshots
WHEN NEW.seq > 9007199254740991
BEGIN
  SELECT RAISE(ABORT, 'hotstate: a seq above 9007199254740991 is refused: it would use up the ids (leave seq out)');
END;

CREATE TRIGGER audit_events_id_in_range AFTER INSERT ON audit_events
WHEN NEW.id > 9007199254740991
BEGIN
  SELECT RAISE(ABORT, 'hotstate: an audit event id above 9007199254740991 is refused: it would use up the ids (leave id out)');
END;

CREATE TRIGGER reloads_id_in_range AFTER INSERT ON reloads
WHEN NEW.id > 9007199254740991
BEGIN
  SELECT RAISE(ABORT, 'hotstate: a reload id above 9007199254740991 is refused: it would use up the ids (leave id out)');
END;

CREATE TRIGGER reloads_id_immutable BEFORE UPDATE OF id ON reloads
WHEN NEW.id <> OLD.id
BEGIN
  SELECT RAISE(ABORT, 'hotstate: a reload id cannot be changed');
END;

-- The history bound changes only on purpose, and every change is recorded,
-- whoever makes it (StateManager::set_max_history, or an UPDATE in the shell).
-- The rows a lower bound trims follow as HistoryTrimmed events.
INSERT INTO audit_kinds (kind, source, meaning) VALUES
  ('MaxHistoryChanged', 'engine', 'the history bound changed (set_max_history, or an UPDATE of settings by any writer): {from, to}; the rows a lower bound trims follow as HistoryTrimmed events');

CREATE TRIGGER settings_audit_max_history AFTER UPDATE OF max_history ON settings
WHEN NEW.max_history IS NOT OLD.max_history
BEGIN
  INSERT INTO audit_events (plugin_id, kind, detail)
  VALUES ('', 'MaxHistoryChanged', json_object('from', OLD.max_history, 'to', NEW.max_history));
END;

-- The views show a timestamp above 2^63-1 as the exact u64 (as text: SQL has
-- no unsigned integers). u = 2h + b with h = the bits above the lowest and
-- b the lowest bit, so u / 10 = h / 5 and u % 10 = 2 (h % 5) + b.
DROP VIEW current_snapshots;
CREATE VIEW current_snapshots AS
  SELECT plugin_id, seq,
         CASE WHEN timestamp >= 0 THEN timestamp
              ELSE printf('%d%d', ((timestamp >> 1) & 9223372036854775807) / 5,
                          2 * (((timestamp >> 1) & 9223372036854775807) % 5) + (timestamp & 1)) END AS timestamp,
         plugin_version, data, metadata, saved_at_us, content_hash
    FROM snapshots AS s
   WHERE seq = (SELECT max(seq) FROM snapshots WHERE plugin_id = s.plugin_id);

DROP VIEW snapshot_history;
CREATE VIEW snapshot_history AS
  SELECT plugin_id, seq,
         CASE WHEN timestamp >= 0 THEN timestamp
              ELSE printf('%d%d', ((timestamp >> 1) & 9223372036854775807) / 5,
                          2 * (((timestamp >> 1) & 9223372036854775807) % 5) + (timestamp & 1)) END AS timestamp,
         plugin_version, data, metadata, saved_at_us, content_hash
    FROM snapshots AS s
   WHERE seq < (SELECT max(seq) FROM snapshots WHERE plugin_id = s.plugin_id);
