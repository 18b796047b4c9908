-- hotstate: the current database schema (schema version 8), for people to read.
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
  max_history INTEGER NOT NULL DEFAULT 10          -- history entries kept per plugin besides its current snapshot (0 to 2147483647); set when hotstate creates the file (Options::max_history, 10 if unset), never by opening one; changed only by StateManager::set_max_history or an UPDATE, each change audited (MaxHistoryChanged)
              CHECK (typeof(max_history) = 'integer' AND max_history BETWEEN 0 AND 2147483647),
  audit_chain_from INTEGER NOT NULL DEFAULT 1  -- the first event id written with the chain in place (schema version 7): from it on, every AuditPruned event's deleted count equals the events of its gaps; never changes
  CHECK (typeof(audit_chain_from) = 'integer' AND audit_chain_from > 0)
);

-- snapshots: every snapshot of every plugin, current and history alike. A
-- plugin's row with the highest seq is its current snapshot; its other rows
-- are its history, oldest (lowest seq) first. Order is the order of saves
-- (seq), never the timestamp.
CREATE TABLE snapshots (
  seq            INTEGER PRIMARY KEY AUTOINCREMENT,  -- save order: increases with every insert, never reused (AUTOINCREMENT keeps it so after deletes); at most 2^53-1 (trigger snapshots_seq_in_range)
  plugin_id      TEXT    NOT NULL                    -- the plugin's id (any UTF-8 text, exactly as given)
                 CHECK (typeof(plugin_id) = 'text'),
  timestamp      INTEGER NOT NULL                    -- the snapshot's own time, whole seconds since the Unix epoch (the seed's u64); defaults to now; a u64 above 2^63-1 is stored as the negative integer with the same 64 bits (the views show it as the exact u64)
                 DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
                 CHECK (typeof(timestamp) = 'integer'),
  plugin_version TEXT    NOT NULL DEFAULT ''         -- version of the plugin that made the snapshot, e.g. '1.2.3'
                 CHECK (typeof(plugin_version) = 'text'),
  data           TEXT    NOT NULL DEFAULT '{}'       -- the state: a JSON object, any values (json_extract(data, '$.key'))
                 CHECK (json_valid(data) AND json_type(data) = 'object'),
  metadata       TEXT    NOT NULL DEFAULT '{}'       -- a JSON object of strings (checked by triggers snapshots_metadata_strings*)
                 CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
  saved_at_us    INTEGER NOT NULL                    -- when the row was written, microseconds since the Unix epoch (informative); defaults to now
                 DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)),
  canonical_hash INTEGER,                            -- set by hotstate only: a check value of data and metadata as hotstate wrote them; NULL or stale for rows other clients wrote or edited, which hotstate then re-reads in full
  content_hash   TEXT                                -- SHA3-256 of data || metadata, lowercase hex, as the sqlite3 shell's lower(hex(sha3(data || metadata))); set by hotstate; NULL for rows other clients wrote without it or changed afterwards
                 CHECK (content_hash IS NULL OR (typeof(content_hash) = 'text' AND length(content_hash) = 64))
);

-- sqlite_sequence (not created here) is SQLite's own table behind
-- AUTOINCREMENT: it holds the highest seq ever used in snapshots.

-- snapshot_counts: how many rows of snapshots each plugin has, so that the
-- history bound knows how many of a plugin's oldest rows to trim without
-- walking its history. A plugin has a row here exactly while it has rows in
-- snapshots. Kept by the triggers on snapshots and settings for every writer
-- (never write it by hand); StateManager::verify compares it with the rows.
CREATE TABLE snapshot_counts (
  plugin_id TEXT    PRIMARY KEY   -- a plugin with rows in snapshots (snapshots.plugin_id)
            CHECK (typeof(plugin_id) = 'text'),
  row_count INTEGER NOT NULL      -- how many rows of snapshots it has, current snapshot and history (at least 1)
            CHECK (typeof(row_count) = 'integer' AND row_count >= 1)
) WITHOUT ROWID;

-- The one settings row, with the default history bound. (hotstate, creating
-- a file, writes Options::max_history here instead; opening an existing file
-- never changes it.)
INSERT INTO settings (id, max_history) VALUES (1, 10);

-- audit_kinds: every kind of audit event, with who writes it and what its detail holds.
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
  ('MaxHistoryChanged',  'engine', 'the history bound changed (set_max_history, or an UPDATE of settings by any writer): {from, to}; the rows a lower bound trims follow as HistoryTrimmed events'),
  ('SnapshotDeleted',    'engine', 'a plugin''s current snapshot row was deleted with SQL (not by rollback, clear or clear_all): {seq, content_hash}; its newest remaining row, if any, is its current snapshot now'),
  ('Pinned',             'engine', 'a snapshot was pinned under a label (pin, or an INSERT or UPDATE of pins by any writer): {seq, label}, and replaced_seq when the label was moved from another snapshot'),
  ('Unpinned',           'engine', 'a pin was removed (unpin, clear, clear_all, or a DELETE from pins by any writer): {seq, label}'),
  ('Restored',           'engine', 'restore made a copy of a stored snapshot the current one: {from_seq, to_seq}'),
  ('StateMigrated',      'engine', 'restore_for migrated a stored snapshot to the target version and saved it as the current one: {from_seq, from_version, to_version, steps}'),
  ('RestoreSkipped',     'engine', 'restore_for passed over a stored snapshot: {seq, reason}'),
  ('ReloadStarted',      'host',   'a reload began; written by begin_reload in the transaction that saves the pre-reload snapshot: {reload_id, from_version, to_version, snapshot_seq}'),
  ('StatePreserved',     'host',   'the plugin''s state was preserved before unloading it'),
  ('StateRestored',      'host',   'the preserved state was restored into the reloaded plugin'),
  ('ReloadCompleted',    'host',   'a reload ended; written by finish_reload in its transaction: {reload_id, success, duration_us}'),
  ('ReloadFailed',       'host',   'a reload attempt failed; written by finish_reload before ReloadCompleted: {reload_id, error, attempt}'),
  ('RollbackTriggered',  'host',   'the host decided to roll back: {reason}'),
  ('PluginDiscovered',   'host',   'the host found a plugin'),
  ('PluginRemoved',      'host',   'the host removed a plugin');

-- audit_events: the audit log, append-only, one row per event, in the order they happened.
CREATE TABLE audit_events (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,  -- event order: increases with every event, never reused; at most 2^53-1 (trigger audit_events_id_in_range)
  time_us   INTEGER NOT NULL                    -- when, microseconds since the Unix epoch
            DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER))
            CHECK (typeof(time_us) = 'integer' AND time_us >= 0),
  plugin_id TEXT    NOT NULL DEFAULT ''         -- the plugin the event is about; '' for database-wide events (ClearedAll, AuditPruned, MaxHistoryChanged)
            CHECK (typeof(plugin_id) = 'text'),
  kind      TEXT    NOT NULL,                   -- what happened: one of audit_kinds.kind
  detail    TEXT    NOT NULL DEFAULT '{}'       -- the event's fields, a JSON object (see audit_kinds.meaning)
            CHECK (json_valid(detail) AND json_type(detail) = 'object'),
  chain          TEXT                           -- the chain hash: lower(hex(sha3(previous chain hash || encoding))) (see view audit_chain_links); NULL until chained (by hotstate, in the transaction that wrote the event, or at its next write for an event another client wrote)
                 CHECK (chain IS NULL OR (typeof(chain) = 'text' AND length(chain) = 64)),
  chain_position INTEGER                        -- how many events the chain holds up to and including this one, pruned ones included; NULL until chained
                 CHECK (chain_position IS NULL OR (typeof(chain_position) = 'integer' AND chain_position > 0)),
  mac            TEXT                           -- HMAC-SHA3-256 of 'hotstate:' || chain (an event hotstate wrote) or 'foreign:' || chain (one it found another client had written) with the host's audit key (Options::audit_key, never stored); NULL without a key
                 CHECK (mac IS NULL OR (typeof(mac) = 'text' AND length(mac) = 64))
);

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

-- plugin_states: each plugin's life-cycle state (hotstate::PluginState); a plugin without a
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

-- reloads: the reload journal. begin_reload inserts a row (with the snapshot it
-- saved), finish_reload or resolve_reload completes it. A row with no
-- outcome after its process died is an unfinished reload.
CREATE TABLE reloads (
  id                 INTEGER PRIMARY KEY AUTOINCREMENT, -- the reload's id, returned by begin_reload; never changes (trigger reloads_id_immutable); at most 2^53-1 (trigger reloads_id_in_range)
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


-- pins: the pinned snapshots, one row per plugin and label.
CREATE TABLE pins (
  plugin_id      TEXT    NOT NULL                    -- the plugin's id
                 CHECK (typeof(plugin_id) = 'text'),
  label          TEXT    NOT NULL                    -- the pin's name, unique per plugin, e.g. 'last-known-good'
                 CHECK (typeof(label) = 'text' AND length(label) > 0),
  seq            INTEGER NOT NULL                    -- the pinned snapshot's seq (its row in snapshots, while it is there)
                 CHECK (typeof(seq) = 'integer' AND seq > 0),
  timestamp      INTEGER NOT NULL                    -- as snapshots.timestamp
                 CHECK (typeof(timestamp) = 'integer'),
  plugin_version TEXT    NOT NULL                    -- as snapshots.plugin_version
                 CHECK (typeof(plugin_version) = 'text'),
  data           TEXT    NOT NULL                    -- as snapshots.data: a JSON object
                 CHECK (json_valid(data) AND json_type(data) = 'object'),
  metadata       TEXT    NOT NULL                    -- as snapshots.metadata: a JSON object of strings
                 CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
  saved_at_us    INTEGER NOT NULL,                   -- when the snapshot's row was written (as snapshots.saved_at_us)
  canonical_hash INTEGER,                            -- as snapshots.canonical_hash
  content_hash   TEXT                                -- as snapshots.content_hash
                 CHECK (content_hash IS NULL OR (typeof(content_hash) = 'text' AND length(content_hash) = 64)),
  pinned_at_us   INTEGER NOT NULL                    -- when it was pinned, microseconds since the Unix epoch
                 DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)),
  PRIMARY KEY (plugin_id, label)
);

-- replicas: the PostgreSQL databases this file's changes are shipped to
-- (hotstate replicate, StateManager::replicate), one row per host id. Each
-- replicator writes its row after PostgreSQL committed a batch; the retention
-- prune keeps every event after the lowest shipped_event_id of a replica that
-- holds it (triggers audit_events_prune*).
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

-- ---------------------------------------------------------------------------
-- Indexes

-- snapshots_by_plugin: a plugin's rows in save order, so that finding its
-- current snapshot, listing its history and trimming it are index seeks.
CREATE INDEX snapshots_by_plugin ON snapshots (plugin_id, seq);

-- audit_events_by_plugin: one plugin's events in order, an index seek.
CREATE INDEX audit_events_by_plugin ON audit_events (plugin_id, id);
-- audit_events_by_rare_kind: one kind's events in order, for every kind but
-- the two every save writes: each index costs a save a page write, so those
-- two are left out (find them by plugin, or by scanning). A query uses this
-- index when its WHERE clause repeats the index's:
--   AND kind NOT IN ('SnapshotSaved', 'HistoryTrimmed')
CREATE INDEX audit_events_by_rare_kind ON audit_events (kind, id) WHERE kind NOT IN ('SnapshotSaved', 'HistoryTrimmed');

-- reloads_unfinished: unfinished reloads are found without reading the finished ones.
CREATE INDEX reloads_unfinished ON reloads (id) WHERE outcome IS NULL;

-- pins_by_seq: a pinned snapshot by its seq (StateManager::snapshot).
CREATE INDEX pins_by_seq ON pins (seq);

-- audit_gaps_by_prune: the gaps of one AuditPruned event, in order, for its encoding.
CREATE INDEX audit_gaps_by_prune ON audit_gaps (pruned_by, first_id);


-- ---------------------------------------------------------------------------
-- Triggers
--
-- Each table's triggers are created here in the order the migrations leave
-- them: when one statement fires several triggers of the same kind, SQLite
-- runs the most recently created first, so the order decides the order of
-- the audit events they write.

-- settings_keep_row: the settings row cannot be deleted (every writer needs it).
CREATE TRIGGER settings_keep_row BEFORE DELETE ON settings
BEGIN
  SELECT RAISE(ABORT, 'hotstate: the settings row cannot be deleted');
END;

-- settings_trim_history: lowering max_history trims every plugin's history at
-- once, keeping each plugin's newest max_history + 1 rows; each trimmed row
-- is recorded in the audit log (HistoryTrimmed), after the MaxHistoryChanged
-- event of settings_audit_max_history (created later, so it runs first).
-- Then every plugin's rows are counted anew (snapshot_counts).
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

-- settings_audit_max_history: the history bound changes only on purpose, and
-- every change is recorded (MaxHistoryChanged, {from, to}), whoever makes it:
-- StateManager::set_max_history, or an UPDATE in the sqlite3 shell. Opening a
-- file never changes it.
CREATE TRIGGER settings_audit_max_history AFTER UPDATE OF max_history ON settings
WHEN NEW.max_history IS NOT OLD.max_history
BEGIN
  INSERT INTO audit_events (plugin_id, kind, detail)
  VALUES ('', 'MaxHistoryChanged', json_object('from', OLD.max_history, 'to', NEW.max_history));
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

-- snapshots_audit_edit: a snapshot changed with SQL after it was saved: record it, and drop its
-- content hash unless the same statement set a new one.
CREATE TRIGGER snapshots_audit_edit AFTER UPDATE OF plugin_id, timestamp, plugin_version, data, metadata ON snapshots
BEGIN
  INSERT INTO audit_events (plugin_id, kind, detail)
  VALUES (NEW.plugin_id, 'SnapshotEdited', json_object('seq', NEW.seq, 'content_hash', OLD.content_hash));
  UPDATE snapshots SET content_hash = NULL
   WHERE seq = NEW.seq AND NEW.content_hash IS OLD.content_hash
     AND (NEW.data IS NOT OLD.data OR NEW.metadata IS NOT OLD.metadata);
END;

-- snapshots_seq_in_range: seqs stay below 2^53 (9007199254740991). A row
-- inserted with an explicit seq near 2^63-1 would leave AUTOINCREMENT no seq
-- to give, and every later save would fail; 2^53-1 is also the largest
-- integer every JSON reader keeps exactly, and leaves room for more saves
-- than any host will make.
CREATE TRIGGER snapshots_seq_in_range AFTER INSERT ON snapshots
WHEN NEW.seq > 9007199254740991
BEGIN
  SELECT RAISE(ABORT, 'hotstate: a seq above 9007199254740991 is refused: it would use up the ids (leave seq out)');
END;

-- snapshots_trim_history: the history bound, for every writer. After an
-- insert, keep the plugin's newest max_history + 1 rows (its current snapshot
-- and max_history history entries) and delete the older ones. It records the
-- save (SnapshotSaved) and each trimmed row (HistoryTrimmed) in the audit
-- log, in that order. The rows to trim are the plugin's oldest, as many as
-- its count (snapshot_counts) before this row exceeds max_history, never the
-- new row: reached from the oldest end of the index snapshots_by_plugin, so a
-- save costs the same whatever the history's length. The delete takes
-- exactly the rows just recorded (up to the seq of the newest event). Last,
-- the count: one more, less what was trimmed, written only when it changes,
-- so a save with a full history (one row in, one trimmed) writes no count.
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

-- snapshots_count_move: a row moved to another plugin with SQL is counted
-- there instead (an UPDATE never trims).
CREATE TRIGGER snapshots_count_move AFTER UPDATE OF plugin_id ON snapshots
WHEN NEW.plugin_id IS NOT OLD.plugin_id
BEGIN
  DELETE FROM snapshot_counts WHERE plugin_id = OLD.plugin_id AND row_count <= 1;
  UPDATE snapshot_counts SET row_count = row_count - 1 WHERE plugin_id = OLD.plugin_id;
  INSERT INTO snapshot_counts (plugin_id, row_count) VALUES (NEW.plugin_id, 1)
    ON CONFLICT (plugin_id) DO UPDATE SET row_count = row_count + 1;
END;

-- snapshots_insert_new_seq: an insert never replaces a row. INSERT OR
-- REPLACE with the seq of an existing row would remove it the way SQLite
-- removes conflicting rows, without delete triggers: unrecorded and uncounted.
CREATE TRIGGER snapshots_insert_new_seq BEFORE INSERT ON snapshots
WHEN NEW.seq >= 0 AND EXISTS (SELECT 1 FROM snapshots WHERE seq = NEW.seq)
BEGIN
  SELECT RAISE(ABORT, 'hotstate: a snapshot with this seq exists (leave seq out to insert; UPDATE to change a row)');
END;

-- snapshots_audit_delete: every change of a plugin's current snapshot is in
-- the audit log, so that it names every plugin another writer changed (a
-- process's cache drops only those). A row deleted while it was its plugin's
-- newest (no row of the plugin has a higher seq) is recorded as
-- SnapshotDeleted, unless hotstate's rollback, clear or clear_all deleted it:
-- those write their own event first, so it is the newest event while the row
-- goes (the trim never deletes a newest row); it is looked at first, being
-- at hand (the log's last page), which spares clear_all a seek into the
-- index per row. Deletes of history rows other than by the trim are not
-- recorded (verify reports them).
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

-- snapshots_count_delete: every row removed other than by the trim above,
-- by clear or by clear_all is uncounted (rollback, a DELETE in the shell); a
-- plugin's count goes with its last row. The trim, clear and clear_all count
-- their rows themselves (the trim: min(count + 1, max_history + 1) after the
-- rows it trimmed, counted or not; clear and clear_all remove the counts),
-- and their event is the newest while the rows go: HistoryTrimmed naming the
-- plugin and a seq at least the row's, Cleared naming the plugin, ClearedAll.
CREATE TRIGGER snapshots_count_delete AFTER DELETE ON snapshots
WHEN (SELECT (kind = 'HistoryTrimmed' AND plugin_id = OLD.plugin_id AND json_extract(detail, '$.seq') >= OLD.seq)
          OR (kind = 'Cleared' AND plugin_id = OLD.plugin_id)
          OR kind = 'ClearedAll'
        FROM audit_events ORDER BY id DESC LIMIT 1) IS NOT 1
BEGIN
  DELETE FROM snapshot_counts WHERE plugin_id = OLD.plugin_id AND row_count <= 1;
  UPDATE snapshot_counts SET row_count = row_count - 1 WHERE plugin_id = OLD.plugin_id;
END;

-- audit_events_known_kind: events of known kinds only.
CREATE TRIGGER audit_events_known_kind BEFORE INSERT ON audit_events
WHEN NOT EXISTS (SELECT 1 FROM audit_kinds WHERE kind = NEW.kind)
BEGIN
  SELECT RAISE(ABORT, 'hotstate: unknown audit event kind (see table audit_kinds)');
END;

-- audit_events_id_in_range: event ids stay below 2^53, as seqs do (see
-- snapshots_seq_in_range).
CREATE TRIGGER audit_events_id_in_range AFTER INSERT ON audit_events
WHEN NEW.id > 9007199254740991
BEGIN
  SELECT RAISE(ABORT, 'hotstate: an audit event id above 9007199254740991 is refused: it would use up the ids (leave id out)');
END;

-- plugin_states_audit_*: every life-cycle transition is recorded, whoever makes it.
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

-- reloads_id_in_range: reload ids stay below 2^53, as seqs do (see
-- snapshots_seq_in_range).
CREATE TRIGGER reloads_id_in_range AFTER INSERT ON reloads
WHEN NEW.id > 9007199254740991
BEGIN
  SELECT RAISE(ABORT, 'hotstate: a reload id above 9007199254740991 is refused: it would use up the ids (leave id out)');
END;

-- reloads_id_immutable: a reload's id never changes once begin_reload returned it.
CREATE TRIGGER reloads_id_immutable BEFORE UPDATE OF id ON reloads
WHEN NEW.id <> OLD.id
BEGIN
  SELECT RAISE(ABORT, 'hotstate: a reload id cannot be changed');
END;

-- pins_audit_*: every pin and unpin is recorded, whoever makes it.
CREATE TRIGGER pins_audit_insert AFTER INSERT ON pins
BEGIN
  INSERT INTO audit_events (plugin_id, kind, detail)
  VALUES (NEW.plugin_id, 'Pinned', json_object('seq', NEW.seq, 'label', NEW.label));
END;

CREATE TRIGGER pins_audit_update AFTER UPDATE ON pins
BEGIN
  INSERT INTO audit_events (plugin_id, kind, detail)
  SELECT OLD.plugin_id, 'Unpinned', json_object('seq', OLD.seq, 'label', OLD.label)
   WHERE NEW.plugin_id IS NOT OLD.plugin_id OR NEW.label IS NOT OLD.label;
  INSERT INTO audit_events (plugin_id, kind, detail)
  VALUES (NEW.plugin_id, 'Pinned',
          CASE WHEN NEW.plugin_id IS OLD.plugin_id AND NEW.label IS OLD.label
               THEN json_object('seq', NEW.seq, 'label', NEW.label, 'replaced_seq', OLD.seq)
               ELSE json_object('seq', NEW.seq, 'label', NEW.label) END);
END;

CREATE TRIGGER pins_audit_delete AFTER DELETE ON pins
BEGIN
  INSERT INTO audit_events (plugin_id, kind, detail)
  VALUES (OLD.plugin_id, 'Unpinned', json_object('seq', OLD.seq, 'label', OLD.label));
END;


-- The audit chain (schema version 7).

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

-- audit_events_prune_only: no other delete: an event may go only while the
-- newest event is the AuditPruned event that covers it (that is, inside the
-- prune below).
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

-- audit_events_prune: the retention prune. Inserting an AuditPruned event
-- whose detail names before_id and/or before_us removes the older events it
-- covers. The prune keeps every AuditPruned event, and the SnapshotSaved
-- and SnapshotEdited events of every snapshot that still exists, so each snapshot row stays
-- accounted for. It looks only at events below its bound, found by their
-- ids from the start of the log: below before_id when only before_id is
-- given (keep_newest), so a prune costs what it removes and keeps, not the
-- whole log; below its own event when before_us is given, since times are
-- not in id order.
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

-- ---------------------------------------------------------------------------
-- Views (read-only conveniences for people and tools; the library reads the
-- snapshots table directly)
--
-- The snapshot views show a timestamp above 2^63-1 (stored as a negative
-- integer, see snapshots.timestamp) as the exact u64, as text: SQL has no
-- unsigned integers. With u = 2h + b, h the bits above the lowest and b the
-- lowest bit, u / 10 = h / 5 and u % 10 = 2 (h % 5) + b.

-- current_snapshots: each plugin's current snapshot, one row per plugin.
CREATE VIEW current_snapshots AS
  SELECT plugin_id,       -- the plugin
         seq,             -- the current snapshot's place in save order
         -- timestamp: its time, seconds since the Unix epoch; an integer, or
         -- for a time above 2^63-1 (stored negative) the exact u64 as text
         CASE WHEN timestamp >= 0 THEN timestamp
              ELSE printf('%d%d', ((timestamp >> 1) & 9223372036854775807) / 5,
                          2 * (((timestamp >> 1) & 9223372036854775807) % 5) + (timestamp & 1)) END AS timestamp,
         plugin_version,  -- the version that made it
         data,            -- its state, a JSON object
         metadata,        -- its metadata, a JSON object of strings
         saved_at_us,     -- when the row was written, microseconds since the Unix epoch
         content_hash     -- SHA3-256 of data || metadata (NULL for rows written without one)
    FROM snapshots AS s
   WHERE seq = (SELECT max(seq) FROM snapshots WHERE plugin_id = s.plugin_id);

-- snapshot_history: each plugin's history, every snapshot but the current one
-- (order by seq for oldest first).
CREATE VIEW snapshot_history AS
  SELECT plugin_id,       -- the plugin
         seq,             -- the entry's place in save order
         -- timestamp: its time, seconds since the Unix epoch; an integer, or
         -- for a time above 2^63-1 (stored negative) the exact u64 as text
         CASE WHEN timestamp >= 0 THEN timestamp
              ELSE printf('%d%d', ((timestamp >> 1) & 9223372036854775807) / 5,
                          2 * (((timestamp >> 1) & 9223372036854775807) % 5) + (timestamp & 1)) END AS timestamp,
         plugin_version,  -- the version that made it
         data,            -- its state, a JSON object
         metadata,        -- its metadata, a JSON object of strings
         saved_at_us,     -- when the row was written, microseconds since the Unix epoch
         content_hash     -- SHA3-256 of data || metadata (NULL for rows written without one)
    FROM snapshots AS s
   WHERE seq < (SELECT max(seq) FROM snapshots WHERE plugin_id = s.plugin_id);

-- audit_log: the audit log for people: ISO-8601 times (UTC, microseconds).
CREATE VIEW audit_log AS
  SELECT id,
         strftime('%Y-%m-%dT%H:%M:%S', time_us / 1000000, 'unixepoch') || printf('.%06dZ', time_us % 1000000) AS time,
         plugin_id, kind, detail
    FROM audit_events;

-- unfinished_reloads: reloads that began and never finished (their process died): what to
-- restore is last_good_snapshot.
CREATE VIEW unfinished_reloads AS
  SELECT id, plugin_id, from_version, to_version,
         strftime('%Y-%m-%dT%H:%M:%S', started_at_us / 1000000, 'unixepoch') || printf('.%06dZ', started_at_us % 1000000) AS started,
         snapshot_seq, last_good_snapshot
    FROM reloads
   WHERE outcome IS NULL;

-- pinned_snapshots: every pin, with its snapshot, for people.
CREATE VIEW pinned_snapshots AS
  SELECT plugin_id,       -- the plugin
         label,           -- the pin's name
         seq,             -- the pinned snapshot's place in save order
         plugin_version,  -- the version that made it
         strftime('%Y-%m-%dT%H:%M:%S', pinned_at_us / 1000000, 'unixepoch') || printf('.%06dZ', pinned_at_us % 1000000) AS pinned,
         EXISTS (SELECT 1 FROM snapshots WHERE snapshots.seq = p.seq) AS in_snapshots,  -- 1 while its row is still in snapshots (current or history)
         data,            -- its state, a JSON object
         metadata         -- its metadata, a JSON object of strings
    FROM pins AS p;

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

-- ---------------------------------------------------------------------------
-- File identity: what hotstate checks on open. Set last (see the top).

-- application_id: 0x48535441 ("HSTA"), marks the file as a hotstate database.
PRAGMA application_id = 1213420609;
-- user_version: the schema version, the number of migrations applied.
PRAGMA user_version = 8;
