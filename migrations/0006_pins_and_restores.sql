-- 0006: pins, restores and state migrations.
-- Applied by hotstate in one transaction that also sets PRAGMA user_version = 6.
--
-- A pin keeps a snapshot by a label, whatever saves, trims, rollbacks and
-- restores happen, until it is unpinned or its plugin cleared. A pin holds its
-- own copy of the snapshot's row (seq included), so the history bound, the row
-- counts and the trim stay as they are: a pinned snapshot never counts against
-- max_history, and stays readable after its row left snapshots.

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

-- pins_by_seq: a pinned snapshot by its seq (StateManager::snapshot).
CREATE INDEX pins_by_seq ON pins (seq);

INSERT INTO audit_kinds (kind, source, meaning) VALUES
  ('Pinned',         'engine', 'a snapshot was pinned under a label (pin, or an INSERT or UPDATE of pins by any writer): {seq, label}, and replaced_seq when the label was moved from another snapshot'),
  ('Unpinned',       'engine', 'a pin was removed (unpin, clear, clear_all, or a DELETE from pins by any writer): {seq, label}'),
  ('Restored',       'engine', 'restore made a copy of a stored snapshot the current one: {from_seq, to_seq}'),
  ('StateMigrated',  'engine', 'restore_for migrated a stored snapshot to the target version and saved it as the current one: {from_seq, from_version, to_version, steps}'),
  ('RestoreSkipped', 'engine', 'restore_for passed over a stored snapshot: {seq, reason}');

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
