-- 0004: trimming whose cost does not grow with the history bound.
-- Applied by hotstate in one transaction that also sets PRAGMA user_version = 4.
--
-- The trim of 0003 found its cut by walking the plugin's history from the
-- newest row (LIMIT 1 OFFSET max_history + 1) on every insert, so a save cost
-- grew with max_history. Now each plugin's number of rows is kept in
-- snapshot_counts, by triggers, for every writer; the trim reads it and
-- reaches the rows beyond the bound from the oldest end of the index
-- snapshots_by_plugin: an index seek, and one step per row it removes.
--
-- A save with a full history (one row in, one trimmed) leaves the count as
-- it is, and writes it not at all: the trim counts the rows it removes
-- itself, and the delete trigger leaves those rows alone, telling them by
-- the trim's HistoryTrimmed event (the newest event while they go). Every
-- other removal (rollback, clear, clear_all, a DELETE in the shell) is
-- uncounted row by row.

-- snapshot_counts: how many rows of snapshots each plugin has. A plugin has a
-- row here exactly while it has rows in snapshots. Kept by the triggers on
-- snapshots and settings; verify compares it with the rows.
CREATE TABLE snapshot_counts (
  plugin_id TEXT    PRIMARY KEY   -- a plugin with rows in snapshots (snapshots.plugin_id)
            CHECK (typeof(plugin_id) = 'text'),
  row_count INTEGER NOT NULL      -- how many rows of snapshots it has, current snapshot and history (at least 1)
            CHECK (typeof(row_count) = 'integer' AND row_count >= 1)
) WITHOUT ROWID;

INSERT INTO snapshot_counts (plugin_id, row_count)
  SELECT plugin_id, count(*) FROM snapshots GROUP BY plugin_id;

-- The trim, reading the count: after an insert, record the save
-- (SnapshotSaved), then record (HistoryTrimmed) and remove the plugin's
-- oldest rows beyond its newest max_history + 1: as many as its count before
-- this row exceeds max_history, never the new row. The removal takes exactly
-- the rows just recorded (up to the seq of the newest event). Last, the
-- count: min(count + 1, max_history + 1), written only when it changes;
-- right whether or not the delete trigger counted the trimmed rows.
DROP TRIGGER snapshots_trim_history;
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
   WHERE plugin_id = NEW.plugin_id AND seq < NEW.seq
   ORDER BY seq
   LIMIT ifnull((SELECT max(row_count - max_history, 0) FROM snapshot_counts, settings
                  WHERE plugin_id = NEW.plugin_id AND id = 1), 0);
  DELETE FROM snapshots
   WHERE plugin_id = NEW.plugin_id
     AND seq <= (SELECT CASE WHEN kind = 'HistoryTrimmed' AND plugin_id = NEW.plugin_id THEN json_extract(detail, '$.seq') END
                   FROM audit_events ORDER BY id DESC LIMIT 1);
  INSERT INTO snapshot_counts (plugin_id, row_count) VALUES (NEW.plugin_id, 1)
    ON CONFLICT (plugin_id) DO UPDATE SET row_count = min(row_count + 1, (SELECT max_history + 1 FROM settings WHERE id = 1))
     WHERE row_count <> (SELECT max_history + 1 FROM settings WHERE id = 1);
END;

-- Every row removed other than by the trim above is uncounted; a plugin's
-- count goes with its last row. The trim's rows are those named, plugin and
-- seq at least theirs, by the newest event: the HistoryTrimmed event it
-- wrote just before removing them.
CREATE TRIGGER snapshots_count_delete AFTER DELETE ON snapshots
WHEN (SELECT kind = 'HistoryTrimmed' AND plugin_id = OLD.plugin_id AND json_extract(detail, '$.seq') >= OLD.seq
        FROM audit_events ORDER BY id DESC LIMIT 1) IS NOT 1
BEGIN
  DELETE FROM snapshot_counts WHERE plugin_id = OLD.plugin_id AND row_count <= 1;
  UPDATE snapshot_counts SET row_count = row_count - 1 WHERE plugin_id = OLD.plugin_id;
END;

-- A row moved to another plugin with SQL is counted there instead (an UPDATE
-- never trims, as before).
CREATE TRIGGER snapshots_count_move AFTER UPDATE OF plugin_id ON snapshots
WHEN NEW.plugin_id IS NOT OLD.plugin_id
BEGIN
  DELETE FROM snapshot_counts WHERE plugin_id = OLD.plugin_id AND row_count <= 1;
  UPDATE snapshot_counts SET row_count = row_count - 1 WHERE plugin_id = OLD.plugin_id;
  INSERT INTO snapshot_counts (plugin_id, row_count) VALUES (NEW.plugin_id, 1)
    ON CONFLICT (plugin_id) DO UPDATE SET row_count = row_count + 1;
END;

-- An insert never replaces a row: INSERT OR REPLACE with the seq of an
-- existing row would remove it the way SQLite removes conflicting rows,
-- without delete triggers, so unrecorded and uncounted.
CREATE TRIGGER snapshots_insert_new_seq BEFORE INSERT ON snapshots
WHEN NEW.seq >= 0 AND EXISTS (SELECT 1 FROM snapshots WHERE seq = NEW.seq)
BEGIN
  SELECT RAISE(ABORT, 'hotstate: a snapshot with this seq exists (leave seq out to insert; UPDATE to change a row)');
END;

-- Lowering max_history trims every plugin at once, as before, and then
-- counts every plugin's rows anew. Both settings triggers are created again,
-- in their order: the one created last runs first, so MaxHistoryChanged
-- still comes before the HistoryTrimmed events.
DROP TRIGGER settings_audit_max_history;
DROP TRIGGER settings_trim_history;
CREATE TRIGGER settings_trim_history AFTER UPDATE OF max_history ON settings
WHEN NEW.max_history < OLD.max_history
BEGIN
  INSERT INTO audit_events (plugin_id, kind, detail)
  SELECT plugin_id, 'HistoryTrimmed', json_object('seq', seq, 'content_hash', content_hash)
    FROM (SELECT plugin_id, seq, content_hash,
                 row_number() OVER (PARTITION BY plugin_id ORDER BY seq DESC) AS newest_first
            FROM snapshots)
   WHERE newest_first > NEW.max_history + 1
   ORDER BY seq;
  DELETE FROM snapshots
   WHERE seq IN (SELECT seq FROM (SELECT seq, row_number() OVER (PARTITION BY plugin_id ORDER BY seq DESC) AS newest_first
                                   FROM snapshots)
                  WHERE newest_first > NEW.max_history + 1);
  DELETE FROM snapshot_counts;
  INSERT INTO snapshot_counts (plugin_id, row_count)
    SELECT plugin_id, count(*) FROM snapshots GROUP BY plugin_id;
END;

CREATE TRIGGER settings_audit_max_history AFTER UPDATE OF max_history ON settings
WHEN NEW.max_history IS NOT OLD.max_history
BEGIN
  INSERT INTO audit_events (plugin_id, kind, detail)
  VALUES ('', 'MaxHistoryChanged', json_object('from', OLD.max_history, 'to', NEW.max_history));
END;
