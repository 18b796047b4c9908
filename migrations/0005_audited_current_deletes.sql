-- 0005: every change of a plugin's current snapshot is in the audit log.
-- Applied by hotstate in one transaction that also sets PRAGMA user_version = 5.
--
-- Until now, a DELETE in the shell of a plugin's newest row made an older row
-- its current snapshot without an event. Now the audit log names every plugin
-- whose current snapshot changed, whoever changed it: inserts (SnapshotSaved),
-- rollback (RolledBack), clear (Cleared), clear_all (ClearedAll), edits
-- (SnapshotEdited) and, here, any other delete of a current row
-- (SnapshotDeleted). A process's cache reads the events another process
-- committed and drops only the plugins they name, instead of everything.
-- Deletes of history rows other than by the trim stay unrecorded, as before
-- (verify reports the rows the log does not account for).

INSERT INTO audit_kinds (kind, source, meaning) VALUES
  ('SnapshotDeleted', 'engine', 'a plugin''s current snapshot row was deleted with SQL (not by rollback, clear or clear_all): {seq, content_hash}; its newest remaining row, if any, is its current snapshot now');

-- snapshots_audit_delete: a row deleted while it was its plugin's newest (no
-- row of the plugin has a higher seq), unless hotstate's rollback, clear or
-- clear_all deleted it: those write their own event first, so it is the
-- newest event while the row goes (the trim never deletes a newest row).
-- The newest event is looked at first: it is at hand (the log's last page),
-- and for clear_all it spares a seek into the index per row.
CREATE TRIGGER snapshots_audit_delete AFTER DELETE ON snapshots
WHEN (SELECT (kind = 'RolledBack' AND plugin_id = OLD.plugin_id AND json_extract(detail, '$.from_seq') = OLD.seq)
          OR (kind = 'Cleared' AND plugin_id = OLD.plugin_id)
          OR kind = 'ClearedAll'
        FROM audit_events ORDER BY id DESC LIMIT 1) IS NOT 1
 AND NOT EXISTS (SELECT 1 FROM snapshots WHERE plugin_id = OLD.plugin_id AND seq > OLD.seq)
BEGIN
  INSERT INTO audit_events (plugin_id, kind, detail)
  VALUES (OLD.plugin_id, 'SnapshotDeleted', json_object('seq', OLD.seq, 'content_hash', OLD.content_hash));
END;

-- The retention prune, bounded: the same rule as before, but the events it
-- looks at are those below its bound, found from the start of the log by
-- their ids: below before_id when only before_id is given (keep_newest), so
-- a prune costs what it removes and keeps, not the whole log; below its own
-- event when before_us is given, since times are not in id order.
DROP TRIGGER audit_events_prune;
CREATE TRIGGER audit_events_prune AFTER INSERT ON audit_events
WHEN NEW.kind = 'AuditPruned'
BEGIN
  DELETE FROM audit_events
   WHERE id < (CASE WHEN json_extract(NEW.detail, '$.before_us') IS NOT NULL THEN NEW.id
                    ELSE min(NEW.id, ifnull(json_extract(NEW.detail, '$.before_id'), 0)) END)
     AND kind <> 'AuditPruned'
     AND (id < json_extract(NEW.detail, '$.before_id') OR time_us < json_extract(NEW.detail, '$.before_us'))
     AND NOT (kind = 'SnapshotSaved'
              AND EXISTS (SELECT 1 FROM snapshots WHERE seq = json_extract(audit_events.detail, '$.seq')));
END;

-- The row counts, uncounted row by row on every removal other than the
-- trim's, are left alone by clear and clear_all too: they remove the
-- plugin's count (every count) themselves, after writing their event, which
-- is the newest event while the rows go. Row by row, that work made
-- clear_all of 200,000 rows take 0.3 s more.
DROP TRIGGER snapshots_count_delete;
CREATE TRIGGER snapshots_count_delete AFTER DELETE ON snapshots
WHEN (SELECT (kind = 'HistoryTrimmed' AND plugin_id = OLD.plugin_id AND json_extract(detail, '$.seq') >= OLD.seq)
          OR (kind = 'Cleared' AND plugin_id = OLD.plugin_id)
          OR kind = 'ClearedAll'
        FROM audit_events ORDER BY id DESC LIMIT 1) IS NOT 1
BEGIN
  DELETE FROM snapshot_counts WHERE plugin_id = OLD.plugin_id AND row_count <= 1;
  UPDATE snapshot_counts SET row_count = row_count - 1 WHERE plugin_id = OLD.plugin_id;
END;
