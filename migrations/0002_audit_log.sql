-- 0002: the audit log, the reload journal and each plugin's life-cycle state.
-- Applied by hotstate in one transaction that also sets PRAGMA user_version = 2.
-- hotstate registers sha3() on its connection before migrating: the same
-- function as the sqlite3 shell's sha3(X) (SHA3-256), used once below to hash
-- the snapshots that exist already.

-- Every kind of audit event, with who writes it and what its detail holds.
-- audit_events.kind must be one of these (trigger audit_events_known_kind).
CREATE TABLE audit_kinds (
  kind    TEXT PRIMARY KEY,                                 -- the name stored in audit_events.kind
  source  TEXT NOT NULL CHECK (source IN ('engine', 'host')), -- 'engine': written by hotstate or the schema's triggers in the same transaction as the change; 'host': about the host's reloads, recorded by the application with record_event, or by begin_reload and finish_reload
  meaning TEXT NOT NULL                                     -- what the event says, and the fields of its detail
) WITHOUT ROWID;

INSERT INTO audit_kinds (kind, source, meaning) VALUES
  ('SnapshotSaved',      'engine', 'a snapshot row was inserted (by any writer): {seq, plugin_version, size (bytes of data + metadata), content_hash}'),
  ('HistoryTrimmed',     'engine', 'the history bound removed a row: {seq, content_hash}'),
  ('SnapshotEdited',     'engine', 'a snapshot row was changed with SQL after it was saved: {seq, content_hash (before the change)}'),
  ('RolledBack',         'engine', 'rollback discarded the current snapshot: {from_seq, to_seq}'),
  ('Cleared',            'engine', 'clear removed a plugin''s snapshots: {rows, newest_seq}'),
  ('ClearedAll',         'engine', 'clear_all removed every snapshot: {rows, plugins}'),
  ('PluginStateChanged', 'engine', 'the plugin''s life-cycle state changed: {from, to, reason}'),
  ('ReloadResolved',     'engine', 'an unfinished reload was marked resolved: {reload_id, note}'),
  ('AuditPruned',        'engine', 'the retention prune removed older events: {before_id and/or before_us, deleted}'),
  ('ReloadStarted',      'host',   'a reload began; written by begin_reload in the transaction that saves the pre-reload snapshot: {reload_id, from_version, to_version, snapshot_seq}'),
  ('StatePreserved',     'host',   'the plugin''s state was preserved before unloading it'),
  ('StateRestored',      'host',   'the preserved state was restored into the reloaded plugin'),
  ('ReloadCompleted',    'host',   'a reload ended; written by finish_reload in its transaction: {reload_id, success, duration_us}'),
  ('ReloadFailed',       'host',   'a reload attempt failed; written by finish_reload before ReloadCompleted: {reload_id, error, attempt}'),
  ('RollbackTriggered',  'host',   'the host decided to roll back: {reason}'),
  ('PluginDiscovered',   'host',   'the host found a plugin'),
  ('PluginRemoved',      'host',   'the host removed a plugin');

-- The audit log: append-only, one row per event, in the order they happened.
CREATE TABLE audit_events (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,  -- event order: increases with every event, never reused
  time_us   INTEGER NOT NULL                    -- when, microseconds since the Unix epoch
            DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
            CHECK (typeof(time_us) = 'integer' AND time_us >= 0),
  plugin_id TEXT    NOT NULL DEFAULT ''         -- the plugin the event is about; '' for database-wide events (ClearedAll, AuditPruned)
            CHECK (typeof(plugin_id) = 'text'),
  kind      TEXT    NOT NULL,                   -- what happened: one of audit_kinds.kind
  detail    TEXT    NOT NULL DEFAULT '{}'       -- the event's fields, a JSON object (see audit_kinds.meaning)
            CHECK (json_valid(detail) AND json_type(detail) = 'object')
);

-- One plugin's events in order: an index seek.
CREATE INDEX audit_events_by_plugin ON audit_events (plugin_id, id);
-- One kind's events in order, for every kind but the two every save writes:
-- each index costs a save a page write, so those two are left out (find them
-- by plugin, or by scanning). A query uses this index when its WHERE clause
-- repeats the index's: AND kind NOT IN ('SnapshotSaved', 'HistoryTrimmed').
CREATE INDEX audit_events_by_rare_kind ON audit_events (kind, id) WHERE kind NOT IN ('SnapshotSaved', 'HistoryTrimmed');

CREATE TRIGGER audit_events_known_kind BEFORE INSERT ON audit_events
WHEN NOT EXISTS (SELECT 1 FROM audit_kinds WHERE kind = NEW.kind)
BEGIN
  SELECT RAISE(ABORT, 'hotstate: unknown audit event kind (see table audit_kinds)');
END;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'hotstate: audit events cannot be changed');
END;

-- The retention prune: inserting an AuditPruned event whose detail names
-- before_id and/or before_us removes the older events it covers. The prune
-- keeps every AuditPruned event, and the SnapshotSaved event of every
-- snapshot that still exists, so each snapshot row stays accounted for.
CREATE TRIGGER audit_events_prune AFTER INSERT ON audit_events
WHEN NEW.kind = 'AuditPruned'
BEGIN
  DELETE FROM audit_events
   WHERE id < NEW.id
     AND kind <> 'AuditPruned'
     AND (id < json_extract(NEW.detail, '$.before_id') OR time_us < json_extract(NEW.detail, '$.before_us'))
     AND NOT (kind = 'SnapshotSaved'
              AND EXISTS (SELECT 1 FROM snapshots WHERE seq = json_extract(audit_events.detail, '$.seq')));
END;

-- No other delete: an event may go only while the newest event is the
-- AuditPruned event that covers it (that is, inside the prune above).
CREATE TRIGGER audit_events_prune_only BEFORE DELETE ON audit_events
WHEN NOT EXISTS (
  SELECT 1 FROM audit_events AS prune
   WHERE prune.id = (SELECT max(id) FROM audit_events)
     AND prune.kind = 'AuditPruned'
     AND OLD.id < prune.id
     AND OLD.kind <> 'AuditPruned'
     AND (OLD.id < json_extract(prune.detail, '$.before_id') OR OLD.time_us < json_extract(prune.detail, '$.before_us'))
     AND NOT (OLD.kind = 'SnapshotSaved'
              AND EXISTS (SELECT 1 FROM snapshots WHERE seq = json_extract(OLD.detail, '$.seq'))))
BEGIN
  SELECT RAISE(ABORT, 'hotstate: audit events cannot be deleted, except by a retention prune (an AuditPruned event)');
END;

-- The content hash of every snapshot: lower(hex(sha3(data || metadata))),
-- SHA3-256 as the sqlite3 shell's sha3() computes it.
ALTER TABLE snapshots ADD COLUMN content_hash TEXT  -- SHA3-256 of data || metadata, lowercase hex; set by hotstate; NULL for rows other clients wrote without it or changed afterwards
  CHECK (content_hash IS NULL OR (typeof(content_hash) = 'text' AND length(content_hash) = 64));

UPDATE snapshots SET content_hash = lower(hex(sha3(data || metadata)));

-- The snapshots that exist now were saved before there was an audit log:
-- record them, so that every snapshot row has its SnapshotSaved event.
INSERT INTO audit_events (time_us, plugin_id, kind, detail)
SELECT max(saved_at_us, 0), plugin_id, 'SnapshotSaved',
       json_object('seq', seq, 'plugin_version', plugin_version,
                   'size', length(CAST(data AS BLOB)) + length(CAST(metadata AS BLOB)),
                   'content_hash', content_hash, 'recorded_by', 'migration 0002')
  FROM snapshots ORDER BY seq;

-- Saving now records the save and every row the bound trims, in the
-- inserting statement's own transaction. One trigger, so that the events
-- come in this order: the save, then what it trimmed.
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
END;

-- A snapshot changed with SQL after it was saved: record it, and drop its
-- content hash unless the same statement set a new one.
CREATE TRIGGER snapshots_audit_edit AFTER UPDATE OF plugin_id, timestamp, plugin_version, data, metadata ON snapshots
BEGIN
  INSERT INTO audit_events (plugin_id, kind, detail)
  VALUES (NEW.plugin_id, 'SnapshotEdited', json_object('seq', NEW.seq, 'content_hash', OLD.content_hash));
  UPDATE snapshots SET content_hash = NULL
   WHERE seq = NEW.seq AND NEW.content_hash IS OLD.content_hash
     AND (NEW.data IS NOT OLD.data OR NEW.metadata IS NOT OLD.metadata);
END;

-- The snapshot views show when each row was saved and its content hash too
-- (columns added at the end, so queries naming columns are unaffected).
DROP VIEW current_snapshots;
CREATE VIEW current_snapshots AS
  SELECT plugin_id, seq, timestamp, plugin_version, data, metadata, saved_at_us, content_hash
    FROM snapshots AS s
   WHERE seq = (SELECT max(seq) FROM snapshots WHERE plugin_id = s.plugin_id);

DROP VIEW snapshot_history;
CREATE VIEW snapshot_history AS
  SELECT plugin_id, seq, timestamp, plugin_version, data, metadata, saved_at_us, content_hash
    FROM snapshots AS s
   WHERE seq < (SELECT max(seq) FROM snapshots WHERE plugin_id = s.plugin_id);

-- Each plugin's life-cycle state (hotstate::PluginState); a plugin without a
-- row is Unloaded.
CREATE TABLE plugin_states (
  plugin_id     TEXT    PRIMARY KEY            -- the plugin's id
                CHECK (typeof(plugin_id) = 'text'),
  state         TEXT    NOT NULL               -- 'Unloaded', 'Loading', 'Loaded', 'Running', 'Reloading', 'Failed' or 'Unloading'
                CHECK (state IN ('Unloaded', 'Loading', 'Loaded', 'Running', 'Reloading', 'Failed', 'Unloading')),
  reason        TEXT    NOT NULL DEFAULT ''    -- why it Failed; '' for every other state
                CHECK (typeof(reason) = 'text' AND (state = 'Failed' OR reason = '')),
  changed_at_us INTEGER NOT NULL               -- when it entered this state, microseconds since the Unix epoch
                DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
                CHECK (typeof(changed_at_us) = 'integer' AND changed_at_us >= 0)
) WITHOUT ROWID;

-- Every transition is recorded, whoever makes it.
CREATE TRIGGER plugin_states_audit_insert AFTER INSERT ON plugin_states
BEGIN
  INSERT INTO audit_events (time_us, plugin_id, kind, detail)
  VALUES (NEW.changed_at_us, NEW.plugin_id, 'PluginStateChanged',
          json_object('from', 'Unloaded', 'to', NEW.state, 'reason', NEW.reason));
END;

CREATE TRIGGER plugin_states_audit_update AFTER UPDATE ON plugin_states
WHEN NEW.state IS NOT OLD.state OR NEW.reason IS NOT OLD.reason OR NEW.plugin_id IS NOT OLD.plugin_id
BEGIN
  INSERT INTO audit_events (time_us, plugin_id, kind, detail)
  VALUES (NEW.changed_at_us, NEW.plugin_id, 'PluginStateChanged',
          json_object('from', OLD.state, 'to', NEW.state, 'reason', NEW.reason));
END;

CREATE TRIGGER plugin_states_audit_delete AFTER DELETE ON plugin_states
BEGIN
  INSERT INTO audit_events (plugin_id, kind, detail)
  VALUES (OLD.plugin_id, 'PluginStateChanged', json_object('from', OLD.state, 'to', 'Unloaded', 'reason', ''));
END;

-- The reload journal: begin_reload inserts a row (with the snapshot it
-- saved), finish_reload or resolve_reload completes it. A row with no
-- outcome after its process died is an unfinished reload.
CREATE TABLE reloads (
  id                 INTEGER PRIMARY KEY AUTOINCREMENT, -- the reload's id, returned by begin_reload
  plugin_id          TEXT    NOT NULL                   -- the plugin being reloaded
                     CHECK (typeof(plugin_id) = 'text'),
  from_version       TEXT    NOT NULL DEFAULT '',       -- the version being replaced (the pre-reload snapshot's plugin_version)
  to_version         TEXT    NOT NULL DEFAULT '',       -- the version being loaded; '' when the host did not say
  started_at_us      INTEGER NOT NULL                   -- when begin_reload committed, microseconds since the Unix epoch
                     CHECK (typeof(started_at_us) = 'integer' AND started_at_us >= 0),
  snapshot_seq       INTEGER NOT NULL,                  -- seq of the pre-reload snapshot begin_reload saved: the last known good state
  last_good_snapshot TEXT                               -- that snapshot in the seed's JSON format (StateSnapshot::to_bytes), kept while the reload is unfinished, since history may trim its row; NULL once finished
                     CHECK (last_good_snapshot IS NULL OR json_valid(last_good_snapshot)),
  finished_at_us     INTEGER                            -- when it finished or was resolved; NULL while unfinished
                     CHECK (finished_at_us IS NULL OR typeof(finished_at_us) = 'integer'),
  outcome            TEXT                               -- 'succeeded', 'failed' or 'resolved' (finished after a crash); NULL while unfinished
                     CHECK (outcome IS NULL OR outcome IN ('succeeded', 'failed', 'resolved')),
  note               TEXT    NOT NULL DEFAULT ''        -- the error of a failed reload, or the note given when it was resolved
                     CHECK (typeof(note) = 'text'),
  CHECK ((outcome IS NULL) = (finished_at_us IS NULL))
);

-- Unfinished reloads are found without reading the finished ones.
CREATE INDEX reloads_unfinished ON reloads (id) WHERE outcome IS NULL;

-- The audit log for people: ISO-8601 times (UTC, microseconds).
CREATE VIEW audit_log AS
  SELECT id,
         strftime('%Y-%m-%dT%H:%M:%S', time_us / 1000000, 'unixepoch') || printf('.%06dZ', time_us % 1000000) AS time,
         plugin_id, kind, detail
    FROM audit_events;

-- Reloads that began and never finished (their process died): what to
-- restore is last_good_snapshot.
CREATE VIEW unfinished_reloads AS
  SELECT id, plugin_id, from_version, to_version,
         strftime('%Y-%m-%dT%H:%M:%S', started_at_us / 1000000, 'unixepoch') || printf('.%06dZ', started_at_us % 1000000) AS started,
         snapshot_seq, last_good_snapshot
    FROM reloads
   WHERE outcome IS NULL;
