-- 0007: a hash chain over the audit log, so that it can prove it was not changed.
-- Applied by hotstate in one transaction that also sets PRAGMA user_version = 7.
-- hotstate registers sha3() on its connection before migrating (as for 0002):
-- the sqlite3 shell's sha3(X), SHA3-256.
--
-- Every event gets a chain hash that covers its own fields and the chain hash
-- before it:
--
--   chain = lower(hex(sha3(previous || encoding)))
--
-- encoding (view audit_chain_links): id, time_us, plugin_id, kind and detail,
--   each as a netstring <length in bytes>:<bytes>, (so no two events encode
--   alike), and for an AuditPruned event the same for each gap its prune left
--   (first_id, last_id, events), in first_id order, so that what a prune
--   removed is part of the chain too.
-- previous: the chain hash of the event or gap just before it (by id), 64
--   zeros for the first event.
--
-- hotstate chains the events a write adds in the write's own transaction,
-- before it commits; events another client inserted (the sqlite3 shell, or a
-- program without hotstate) are chained by hotstate's next write. Each event
-- is chained once: the triggers below let chain, chain_position and mac be
-- set only where chain is NULL, and nothing else change.
--
-- A prune leaves a gap per run of events it removed (audit_gaps), with the
-- chain hash of the run's last event, so that the chain still links across
-- it; the AuditPruned event's own chain hash covers its gaps, so they cannot
-- be moved, grown or added afterwards without breaking the chain.

-- The chain of each event. chain_position counts chained events, pruned ones
-- included: with the chain hash it is the audit log's checkpoint
-- (StateManager::audit_head). mac is set by a hotstate that holds an audit key.
ALTER TABLE audit_events ADD COLUMN chain TEXT  -- the chain hash: lower(hex(sha3(previous chain hash || encoding))) (see view audit_chain_links); NULL until chained (by hotstate, in the transaction that wrote the event, or at its next write for an event another client wrote)
  CHECK (chain IS NULL OR (typeof(chain) = 'text' AND length(chain) = 64));
ALTER TABLE audit_events ADD COLUMN chain_position INTEGER  -- how many events the chain holds up to and including this one, pruned ones included; NULL until chained
  CHECK (chain_position IS NULL OR (typeof(chain_position) = 'integer' AND chain_position > 0));
ALTER TABLE audit_events ADD COLUMN mac TEXT  -- HMAC-SHA3-256 of 'hotstate:' || chain (an event hotstate wrote) or 'foreign:' || chain (one it found another client had written), with the host's audit key (Options::audit_key, never stored); NULL without a key
  CHECK (mac IS NULL OR (typeof(mac) = 'text' AND length(mac) = 64));

-- Events before audit_chain_from were written before the chain existed: their
-- prunes (AuditPruned events below it) left no gaps.
ALTER TABLE settings ADD COLUMN audit_chain_from INTEGER NOT NULL DEFAULT 1  -- the first event id written with the chain in place (schema version 7): from it on, every AuditPruned event's deleted count equals the events of its gaps; never changes
  CHECK (typeof(audit_chain_from) = 'integer' AND audit_chain_from > 0);
UPDATE settings SET audit_chain_from = ifnull((SELECT max(id) FROM audit_events), 0) + 1;

-- audit_gaps: what retention prunes removed, one row per run of consecutive
-- events (by id, among the events there were) that one prune removed. Written
-- only by the trigger audit_events_prune_leaves_gap, inside the prune.
CREATE TABLE audit_gaps (
  first_id       INTEGER PRIMARY KEY,  -- the first removed event's id
  last_id        INTEGER NOT NULL      -- the last removed event's id; no event lies between first_id and last_id
                 CHECK (typeof(last_id) = 'integer' AND last_id >= first_id),
  events         INTEGER NOT NULL      -- how many events the run held (fewer than the ids it spans when some were already gone)
                 CHECK (typeof(events) = 'integer' AND events > 0),
  pruned_by      INTEGER NOT NULL,     -- the id of the AuditPruned event whose prune removed them
  chain          TEXT                  -- the chain hash of the last removed event, so that the event after the gap still links; NULL while the removed events had not been chained (hotstate sets it at its next write)
                 CHECK (chain IS NULL OR (typeof(chain) = 'text' AND length(chain) = 64)),
  chain_position INTEGER               -- the chain_position of the last removed event, as chain
                 CHECK (chain_position IS NULL OR typeof(chain_position) = 'integer')
);
-- audit_gaps_by_prune: the gaps of one AuditPruned event, in order, for its encoding.
CREATE INDEX audit_gaps_by_prune ON audit_gaps (pruned_by, first_id);

-- audit_chain_links: each event with the chain hash before it and its
-- encoding, so that anyone can check a link with the sqlite3 shell:
--   SELECT id FROM audit_chain_links WHERE chain IS NOT lower(hex(sha3(previous || encoding)));
-- lists the events whose chain hash is wrong (docs/sqlite-shell.md). previous
-- is NULL after an event or gap that is not chained yet.
CREATE VIEW audit_chain_links AS
  SELECT e.id, e.kind, e.chain, e.chain_position, e.mac,
         CASE WHEN ifnull((SELECT max(id) FROM audit_events WHERE id < e.id), 0)
                   >= ifnull((SELECT max(first_id) FROM audit_gaps WHERE first_id < e.id), 0)
              THEN ifnull((SELECT chain FROM audit_events WHERE id < e.id ORDER BY id DESC LIMIT 1),
                          CASE WHEN EXISTS (SELECT 1 FROM audit_events WHERE id < e.id) THEN NULL
                               ELSE '0000000000000000000000000000000000000000000000000000000000000000' END)
              ELSE (SELECT chain FROM audit_gaps WHERE first_id < e.id ORDER BY first_id DESC LIMIT 1) END AS previous,
         length(CAST(e.id AS BLOB)) || ':' || e.id || ','
         || length(CAST(e.time_us AS BLOB)) || ':' || e.time_us || ','
         || length(CAST(e.plugin_id AS BLOB)) || ':' || e.plugin_id || ','
         || length(CAST(e.kind AS BLOB)) || ':' || e.kind || ','
         || length(CAST(e.detail AS BLOB)) || ':' || e.detail || ','
         || ifnull((SELECT group_concat(length(CAST(g.first_id AS BLOB)) || ':' || g.first_id || ','
                                        || length(CAST(g.last_id AS BLOB)) || ':' || g.last_id || ','
                                        || length(CAST(g.events AS BLOB)) || ':' || g.events || ',', '')
                      FROM (SELECT first_id, last_id, events FROM audit_gaps
                             WHERE pruned_by = e.id AND e.kind = 'AuditPruned' ORDER BY first_id) AS g), '') AS encoding
    FROM audit_events AS e;

-- The events there are now, chained in id order.
CREATE TEMP TABLE hotstate_chain_0007 (id INTEGER PRIMARY KEY, chain TEXT NOT NULL, chain_position INTEGER NOT NULL);
WITH RECURSIVE links (id, chain, chain_position) AS (
  SELECT l.id, lower(hex(sha3('0000000000000000000000000000000000000000000000000000000000000000' || l.encoding))), 1
    FROM audit_chain_links AS l WHERE l.id = (SELECT min(id) FROM audit_events)
  UNION ALL
  SELECT l.id, lower(hex(sha3(links.chain || l.encoding))), links.chain_position + 1
    FROM links JOIN audit_chain_links AS l ON l.id = (SELECT min(id) FROM audit_events WHERE id > links.id)
)
INSERT INTO temp.hotstate_chain_0007 (id, chain, chain_position) SELECT id, chain, chain_position FROM links;

DROP TRIGGER audit_events_append_only;
UPDATE audit_events
   SET (chain, chain_position) = (SELECT chain, chain_position FROM temp.hotstate_chain_0007 AS c WHERE c.id = audit_events.id);
DROP TABLE temp.hotstate_chain_0007;

-- audit_events_append_only: events never change, but each is chained once.
CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
WHEN NOT (OLD.chain IS NULL AND NEW.chain IS NOT NULL
          AND NEW.id IS OLD.id AND NEW.time_us IS OLD.time_us AND NEW.plugin_id IS OLD.plugin_id
          AND NEW.kind IS OLD.kind AND NEW.detail IS OLD.detail)
BEGIN
  SELECT RAISE(ABORT, 'hotstate: audit events cannot be changed (an event is only chained, once: chain, chain_position and mac where chain is NULL)');
END;

-- audit_events_unchained_when_inserted: an event is inserted unchained;
-- hotstate chains it.
CREATE TRIGGER audit_events_unchained_when_inserted BEFORE INSERT ON audit_events
WHEN NEW.chain IS NOT NULL OR NEW.chain_position IS NOT NULL OR NEW.mac IS NOT NULL
BEGIN
  SELECT RAISE(ABORT, 'hotstate: insert audit events without chain, chain_position and mac: hotstate chains them');
END;

-- audit_events_ids_only_grow: a new event comes after every event there is
-- (no event can be slipped in between two others, nor into a prune's gap).
CREATE TRIGGER audit_events_ids_only_grow AFTER INSERT ON audit_events
WHEN EXISTS (SELECT 1 FROM audit_events WHERE id > NEW.id)
BEGIN
  SELECT RAISE(ABORT, 'hotstate: an audit event id below an existing one is refused: events are only appended (leave id out)');
END;

-- audit_events_prune_leaves_gap: each event a prune removes joins the gap
-- just before it when no event lies between them (the prune removes in id
-- order), or starts a gap. The gap keeps the chain hash of its last event.
-- (audit_events_prune_only refuses any other delete, and its ABORT undoes
-- what this trigger did.)
CREATE TRIGGER audit_events_prune_leaves_gap BEFORE DELETE ON audit_events
BEGIN
  UPDATE audit_gaps SET last_id = OLD.id, events = events + 1,
                        chain = ifnull(OLD.chain, audit_gaps.chain),
                        chain_position = ifnull(OLD.chain_position, audit_gaps.chain_position)
   WHERE first_id = (SELECT max(first_id) FROM audit_gaps WHERE first_id < OLD.id)
     AND pruned_by = (SELECT max(id) FROM audit_events)
     AND NOT EXISTS (SELECT 1 FROM audit_events WHERE id > audit_gaps.last_id AND id < OLD.id);
  INSERT INTO audit_gaps (first_id, last_id, events, pruned_by, chain, chain_position)
  SELECT OLD.id, OLD.id, 1, (SELECT max(id) FROM audit_events), OLD.chain, OLD.chain_position
   WHERE NOT EXISTS (SELECT 1 FROM audit_gaps WHERE last_id = OLD.id AND first_id <= OLD.id);
END;

-- audit_gaps_*: gaps are written by prunes only, and kept.
CREATE TRIGGER audit_gaps_only_by_prunes BEFORE INSERT ON audit_gaps
WHEN NOT (NEW.pruned_by = (SELECT max(id) FROM audit_events)
          AND (SELECT kind FROM audit_events WHERE id = NEW.pruned_by) = 'AuditPruned'
          AND NEW.last_id = NEW.first_id AND NEW.events = 1
          AND EXISTS (SELECT 1 FROM audit_events WHERE id = NEW.first_id))
BEGIN
  SELECT RAISE(ABORT, 'hotstate: audit_gaps rows are written only by a retention prune (an AuditPruned event)');
END;

CREATE TRIGGER audit_gaps_grow_only_by_prunes BEFORE UPDATE ON audit_gaps
WHEN NOT (NEW.first_id IS OLD.first_id AND NEW.pruned_by IS OLD.pruned_by
          AND ((OLD.pruned_by = (SELECT max(id) FROM audit_events)
                AND NEW.last_id > OLD.last_id AND NEW.events = OLD.events + 1
                AND EXISTS (SELECT 1 FROM audit_events WHERE id = NEW.last_id))
               OR (NEW.last_id IS OLD.last_id AND NEW.events IS OLD.events
                   AND OLD.chain IS NULL AND NEW.chain IS NOT NULL)))
BEGIN
  SELECT RAISE(ABORT, 'hotstate: audit_gaps rows change only while their prune runs, or when hotstate chains them');
END;

CREATE TRIGGER audit_gaps_kept BEFORE DELETE ON audit_gaps
BEGIN
  SELECT RAISE(ABORT, 'hotstate: audit_gaps rows cannot be deleted: they prove what prunes removed');
END;

-- settings_audit_chain_from_fixed: where the chain began never moves.
CREATE TRIGGER settings_audit_chain_from_fixed BEFORE UPDATE OF audit_chain_from ON settings
WHEN NEW.audit_chain_from IS NOT OLD.audit_chain_from
BEGIN
  SELECT RAISE(ABORT, 'hotstate: settings.audit_chain_from cannot be changed');
END;

-- The retention prune now also keeps the SnapshotEdited events of the rows
-- that still exist, as it keeps their SnapshotSaved events: verify compares
-- an edited row with its SnapshotSaved event and accepts the difference only
-- with a SnapshotEdited event, so a prune that removed it made verify report
-- a problem that was not one.
DROP TRIGGER audit_events_prune_only;
CREATE TRIGGER audit_events_prune_only BEFORE DELETE ON audit_events
WHEN NOT EXISTS (
  SELECT 1 FROM audit_events AS prune
   WHERE prune.id = (SELECT max(id) FROM audit_events)
     AND prune.kind = 'AuditPruned'
     AND OLD.id < prune.id
     AND OLD.kind <> 'AuditPruned'
     AND (OLD.id < json_extract(prune.detail, '$.before_id') OR OLD.time_us < json_extract(prune.detail, '$.before_us'))
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
     AND kind <> 'AuditPruned'
     AND (id < json_extract(NEW.detail, '$.before_id') OR time_us < json_extract(NEW.detail, '$.before_us'))
     AND NOT (kind IN ('SnapshotSaved', 'SnapshotEdited')
              AND EXISTS (SELECT 1 FROM snapshots WHERE seq = json_extract(audit_events.detail, '$.seq')));
END;
