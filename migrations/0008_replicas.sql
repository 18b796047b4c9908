-- 0008: replicas, the PostgreSQL databases this file's changes are shipped to
-- (hotstate replicate, StateManager::replicate), and a retention prune that
-- keeps what they have not received yet.
-- Applied by hotstate in one transaction that also sets PRAGMA user_version = 8.
--
-- The audit log is the change log a replicator ships: a prune that removed
-- events no replica had received would lose them for the fleet. Each
-- replicator records here, after PostgreSQL committed a batch, the newest
-- event PostgreSQL holds; the prune keeps every event after the lowest such
-- position. The row lags PostgreSQL (it is written after PostgreSQL's commit,
-- at most about once a second), never leads it, so the prune may keep a few
-- shipped events a little longer but never removes an unshipped one. A
-- replica that will never come back holds the log until it is forgotten
-- (hotstate replicate --forget HOST_ID); the replicator of a forgotten replica
-- that comes back finds the events it missed, records them in PostgreSQL
-- (hotstate.shipment_gaps) and says so.

CREATE TABLE replicas (
  host_id          TEXT    PRIMARY KEY             -- the host id the file is shipped as (PostgreSQL's hotstate.hosts.host_id)
                   CHECK (typeof(host_id) = 'text' AND length(host_id) > 0),
  target           TEXT    NOT NULL                -- where to: the PostgreSQL connection URL, without its password
                   CHECK (typeof(target) = 'text'),
  token            TEXT    NOT NULL                -- random, also in PostgreSQL's hosts row: another file shipping as the same host id is refused
                   CHECK (typeof(token) = 'text' AND length(token) > 0),
  shipped_event_id INTEGER NOT NULL DEFAULT 0      -- the newest audit event PostgreSQL confirmed holding (lags PostgreSQL, never leads it)
                   CHECK (typeof(shipped_event_id) = 'integer' AND shipped_event_id >= 0),
  updated_at_us    INTEGER NOT NULL                -- when shipped_event_id was last written, microseconds since the Unix epoch
                   DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
                   CHECK (typeof(updated_at_us) = 'integer'),
  holds_prune      INTEGER NOT NULL DEFAULT 1      -- 1: the retention prune keeps the events after shipped_event_id; 0: it does not wait for this replica
                   CHECK (holds_prune IN (0, 1))
) WITHOUT ROWID;

-- The prune (and the trigger that refuses any other delete) leave the events
-- after the lowest position of a replica that holds the prune.
DROP TRIGGER audit_events_prune_only;
CREATE TRIGGER audit_events_prune_only BEFORE DELETE ON audit_events
WHEN NOT EXISTS (
  SELECT 1 FROM audit_events AS prune
   WHERE prune.id = (SELECT max(id) FROM audit_events)
     AND prune.kind = 'AuditPruned'
     AND OLD.id < prune.id
     AND OLD.kind <> 'AuditPruned'
     AND (OLD.id < json_extract(prune.detail, '$.before_id') OR OLD.time_us < json_extract(prune.detail, '$.before_us'))
     AND OLD.id <= ifnull((SELECT min(shipped_event_id) FROM replicas WHERE holds_prune = 1), 9223372036854775807)
     AND NOT (OLD.kind IN ('SnapshotSaved', 'SnapshotEdited')
              AND EXISTS (SELECT 1 FROM snapshots WHERE seq = json_extract(OLD.detail, '$.seq'))))
BEGIN
  SELECT RAISE(ABORT, 'hotstate: audit events cannot be deleted, except by a retention prune (an AuditPruned event)');
END;

DROP TRIGGER audit_events_prune;
CREATE TRIGGER audit_events_prune AFTER INSERT ON audit_events
WHEN NEW.kind = 'AuditPruned'
BEGIN
  DELETE FROM audit_events
   WHERE id < (CASE WHEN json_extract(NEW.detail, '$.before_us') IS NOT NULL THEN NEW.id
                    ELSE min(NEW.id, ifnull(json_extract(NEW.detail, '$.before_id'), 0)) END)
     AND id <= ifnull((SELECT min(shipped_event_id) FROM replicas WHERE holds_prune = 1), 9223372036854775807)
     AND kind <> 'AuditPruned'
     AND (id < json_extract(NEW.detail, '$.before_id') OR time_us < json_extract(NEW.detail, '$.before_us'))
     AND NOT (kind IN ('SnapshotSaved', 'SnapshotEdited')
              AND EXISTS (SELECT 1 FROM snapshots WHERE seq = json_extract(audit_events.detail, '$.seq')));
END;
