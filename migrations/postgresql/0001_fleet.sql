-- PostgreSQL 0001: the fleet's copy of every host's hotstate file, in schema
-- "hotstate". Applied by hotstate (the replicator, restore-from) in one
-- transaction that also records version 1 in hotstate.schema_version, under
-- a transaction-level advisory lock, so that hosts starting at once apply it
-- once.
--
-- Every table is keyed by host_id first: one database holds many hosts, and
-- each host's rows are the rows of its SQLite file (schema/schema.sql), kept
-- exactly (text byte for byte, integers as stored: a snapshot timestamp above
-- 2^63-1 is the negative bigint with the same 64 bits, as in the file), so
-- that `hotstate restore-from` can rebuild the file. Times are kept as the
-- file's integers; the views add timestamptz columns for people.
--
-- The replicator ships in commit order: each batch is one transaction that
-- adds the host's audit events after hosts.shipped_event_id, brings the rows
-- those events touched to what the file holds, and moves shipped_event_id,
-- all or nothing.

CREATE TABLE hotstate.schema_version (
  version    integer     NOT NULL PRIMARY KEY,       -- a migration applied (migrations/postgresql/NNNN_*.sql)
  applied_at timestamptz NOT NULL DEFAULT now()      -- when
);

CREATE TABLE hotstate.hosts (
  host_id            text        NOT NULL PRIMARY KEY CHECK (host_id <> ''),  -- the host's id (hotstate replicate --host-id), chosen by its operator
  token              text        NOT NULL,            -- random, also in the file's replicas row: another file shipping as the same host id is refused
  target_file        text        NOT NULL DEFAULT '', -- the path of the file shipped, as the host named it (informative)
  shipped_event_id   bigint      NOT NULL DEFAULT 0,  -- the position: the newest audit event of the file shipped; the next batch starts after it
  chained_through    bigint      NOT NULL DEFAULT 0,  -- every shipped event up to here was shipped with its chain hash (events another client wrote are chained by the host's next write, and their hash follows)
  rows_as_of         bigint      NOT NULL DEFAULT 0,  -- the rows (snapshots, pins, states, journal, settings) are the file's as of this event: shipped_event_id once the replicator caught up; behind it while a backlog ships (its rows come with its last batch)
  max_history        integer,                         -- the file's settings.max_history
  audit_chain_from   bigint,                          -- the file's settings.audit_chain_from
  snapshots_seq_high bigint      NOT NULL DEFAULT 0,  -- the file's sqlite_sequence for snapshots: the highest seq ever used (rows may be gone)
  reloads_id_high    bigint      NOT NULL DEFAULT 0,  -- the file's sqlite_sequence for reloads
  events_id_high     bigint      NOT NULL DEFAULT 0,  -- the file's sqlite_sequence for audit_events
  events_shipped     bigint      NOT NULL DEFAULT 0,  -- how many audit events were shipped in all
  missed_events      bigint      NOT NULL DEFAULT 0,  -- how many events a prune of the file removed before they were shipped (see shipment_gaps)
  first_shipped_at   timestamptz NOT NULL DEFAULT now(), -- when the host first shipped
  last_shipped_at    timestamptz,                     -- when a batch with events last committed
  last_contact_at    timestamptz NOT NULL DEFAULT now(), -- when the replicator last said it was caught up (every batch, and a heartbeat while idle)
  last_event_us      bigint                           -- time_us of the newest event shipped: when the host last changed anything
);

CREATE TABLE hotstate.snapshots (
  host_id        text    NOT NULL REFERENCES hotstate.hosts ON DELETE CASCADE, -- the host
  seq            bigint  NOT NULL,  -- the row's seq in the host's file: save order
  plugin_id      text    NOT NULL,  -- the plugin
  "timestamp"    bigint  NOT NULL,  -- the snapshot's own time, seconds since the Unix epoch (u64 bits)
  plugin_version text    NOT NULL,  -- the version of the plugin that made it
  data           text    NOT NULL,  -- the state: a JSON object, as the file holds it (data::jsonb to query it)
  metadata       text    NOT NULL,  -- a JSON object of strings
  saved_at_us    bigint  NOT NULL,  -- when the row was written, microseconds since the Unix epoch
  canonical_hash bigint,            -- as the file's (a check value hotstate keeps)
  content_hash   text,              -- SHA3-256 of data || metadata, lowercase hex, or NULL as in the file
  PRIMARY KEY (host_id, seq)
);
CREATE INDEX snapshots_by_plugin ON hotstate.snapshots (host_id, plugin_id, seq);

CREATE TABLE hotstate.audit_events (
  host_id        text    NOT NULL REFERENCES hotstate.hosts ON DELETE CASCADE, -- the host
  id             bigint  NOT NULL,  -- the event's id in the host's file: commit order
  time_us        bigint  NOT NULL,  -- when, microseconds since the Unix epoch
  plugin_id      text    NOT NULL,  -- the plugin it is about; '' for file-wide events
  kind           text    NOT NULL,  -- what happened (the file's audit_kinds)
  detail         text    NOT NULL,  -- its fields, a JSON object as the file holds it
  chain          text,              -- its chain hash, NULL until the host chained it
  chain_position bigint,            -- its position in the chain, as chain
  mac            text,              -- its HMAC with the host's audit key, NULL without one
  pruned_by      bigint,            -- NULL while the file still holds it; else the id of the AuditPruned event whose prune removed it from the file (the fleet keeps it)
  PRIMARY KEY (host_id, id)
);
-- The fleet's questions look for a kind in a time range.
CREATE INDEX audit_events_by_kind ON hotstate.audit_events (kind, time_us);

CREATE TABLE hotstate.audit_gaps (
  host_id        text    NOT NULL REFERENCES hotstate.hosts ON DELETE CASCADE, -- the host
  first_id       bigint  NOT NULL,  -- as the file's audit_gaps: the first removed event's id
  last_id        bigint  NOT NULL,  -- the last removed event's id
  events         bigint  NOT NULL,  -- how many events the run held
  pruned_by      bigint  NOT NULL,  -- the AuditPruned event that removed them
  chain          text,              -- the chain hash of the run's last event
  chain_position bigint,            -- its chain position
  PRIMARY KEY (host_id, first_id)
);

CREATE TABLE hotstate.plugin_states (
  host_id       text   NOT NULL REFERENCES hotstate.hosts ON DELETE CASCADE, -- the host
  plugin_id     text   NOT NULL,  -- the plugin
  state         text   NOT NULL,  -- its life-cycle state ('Running', 'Failed', ...)
  reason        text   NOT NULL,  -- why it Failed; '' otherwise
  changed_at_us bigint NOT NULL,  -- when it entered the state, microseconds since the Unix epoch
  PRIMARY KEY (host_id, plugin_id)
);

CREATE TABLE hotstate.reloads (
  host_id            text   NOT NULL REFERENCES hotstate.hosts ON DELETE CASCADE, -- the host
  id                 bigint NOT NULL,  -- the reload's id in the host's file
  plugin_id          text   NOT NULL,  -- the plugin reloaded
  from_version       text   NOT NULL,  -- the version replaced
  to_version         text   NOT NULL,  -- the version loaded; '' when the host did not say
  started_at_us      bigint NOT NULL,  -- when it began, microseconds since the Unix epoch
  snapshot_seq       bigint NOT NULL,  -- the pre-reload snapshot's seq: the last known good state
  last_good_snapshot text,             -- that snapshot in the seed's JSON while unfinished; NULL once finished
  finished_at_us     bigint,           -- when it finished or was resolved; NULL while unfinished
  outcome            text,             -- 'succeeded', 'failed', 'resolved', or NULL while unfinished
  note               text   NOT NULL,  -- the error of a failed reload, or the note it was resolved with
  PRIMARY KEY (host_id, id)
);
CREATE INDEX reloads_failed ON hotstate.reloads (finished_at_us) WHERE outcome = 'failed';

CREATE TABLE hotstate.pins (
  host_id        text   NOT NULL REFERENCES hotstate.hosts ON DELETE CASCADE, -- the host
  plugin_id      text   NOT NULL,  -- the plugin
  label          text   NOT NULL,  -- the pin's name
  seq            bigint NOT NULL,  -- the pinned snapshot's seq
  "timestamp"    bigint NOT NULL,  -- as snapshots
  plugin_version text   NOT NULL,  -- as snapshots
  data           text   NOT NULL,  -- as snapshots
  metadata       text   NOT NULL,  -- as snapshots
  saved_at_us    bigint NOT NULL,  -- as snapshots
  canonical_hash bigint,           -- as snapshots
  content_hash   text,             -- as snapshots
  pinned_at_us   bigint NOT NULL,  -- when it was pinned, microseconds since the Unix epoch
  PRIMARY KEY (host_id, plugin_id, label)
);

CREATE TABLE hotstate.shipment_gaps (
  host_id        text        NOT NULL REFERENCES hotstate.hosts ON DELETE CASCADE, -- the host
  after_event_id bigint      NOT NULL,  -- the position the replicator had shipped
  up_to_event_id bigint      NOT NULL,  -- the batch that found events missing ended here
  missed         bigint      NOT NULL,  -- how many events between them a prune of the file removed before they were shipped
  recorded_at    timestamptz NOT NULL DEFAULT now(), -- when the replicator found out
  PRIMARY KEY (host_id, after_event_id)
);

-- Views: the fleet's questions. Times as timestamptz besides the raw integers.

-- current_state: every plugin on every host, with its current snapshot (the
-- highest seq), its life-cycle state and its last reload.
CREATE VIEW hotstate.current_state AS
SELECT h.host_id, p.plugin_id,
       s.seq, s.plugin_version, s.data, s.metadata,
       to_timestamp(s.saved_at_us / 1e6) AS saved_at,
       coalesce(ps.state, 'Unloaded') AS state, coalesce(ps.reason, '') AS state_reason,
       r.id AS last_reload_id, r.to_version AS last_reload_to_version, r.outcome AS last_reload_outcome,
       to_timestamp(r.started_at_us / 1e6) AS last_reload_started_at
  FROM hotstate.hosts AS h
  JOIN (SELECT host_id, plugin_id FROM hotstate.snapshots
        UNION SELECT host_id, plugin_id FROM hotstate.plugin_states) AS p USING (host_id)
  LEFT JOIN LATERAL (SELECT * FROM hotstate.snapshots AS x
                      WHERE x.host_id = p.host_id AND x.plugin_id = p.plugin_id
                      ORDER BY x.seq DESC LIMIT 1) AS s ON true
  LEFT JOIN hotstate.plugin_states AS ps ON ps.host_id = p.host_id AND ps.plugin_id = p.plugin_id
  LEFT JOIN LATERAL (SELECT * FROM hotstate.reloads AS y
                      WHERE y.host_id = p.host_id AND y.plugin_id = p.plugin_id
                      ORDER BY y.id DESC LIMIT 1) AS r ON true;

-- failed_reloads: every failed reload of every host, with the state the host
-- had saved before it (the pre-reload snapshot, while the host keeps it) and
-- the state it has now. Ask for a time range with WHERE on failed_at (or use
-- hotstate.failed_reloads_between).
CREATE VIEW hotstate.failed_reloads AS
SELECT r.host_id, r.id AS reload_id, r.plugin_id, r.from_version, r.to_version,
       to_timestamp(r.started_at_us / 1e6) AS started_at,
       to_timestamp(r.finished_at_us / 1e6) AS failed_at,
       r.note AS error,
       r.snapshot_seq AS pre_reload_seq, pre.data AS pre_reload_data,
       cur.seq AS current_seq, cur.plugin_version AS current_version, cur.data AS current_data,
       r.started_at_us, r.finished_at_us
  FROM hotstate.reloads AS r
  LEFT JOIN hotstate.snapshots AS pre ON pre.host_id = r.host_id AND pre.seq = r.snapshot_seq
  LEFT JOIN LATERAL (SELECT * FROM hotstate.snapshots AS x
                      WHERE x.host_id = r.host_id AND x.plugin_id = r.plugin_id
                      ORDER BY x.seq DESC LIMIT 1) AS cur ON true
 WHERE r.outcome = 'failed';

CREATE FUNCTION hotstate.failed_reloads_between(since timestamptz, until timestamptz)
RETURNS SETOF hotstate.failed_reloads LANGUAGE sql STABLE AS $$
  SELECT * FROM hotstate.failed_reloads
   WHERE finished_at_us >= (extract(epoch FROM since) * 1e6)::bigint
     AND finished_at_us < (extract(epoch FROM until) * 1e6)::bigint
$$;

-- host_shipments: each host's replication: what it shipped, when it last
-- shipped and last made contact, and how long ago. Hosts whose last contact
-- is old: WHERE since_contact > interval '5 minutes' (or
-- hotstate.stale_hosts(interval)).
CREATE VIEW hotstate.host_shipments AS
SELECT host_id, shipped_event_id, events_shipped, missed_events,
       first_shipped_at, last_shipped_at, last_contact_at,
       to_timestamp(last_event_us / 1e6) AS last_event_at,
       now() - last_contact_at AS since_contact,
       now() - last_shipped_at AS since_shipment
  FROM hotstate.hosts;

CREATE FUNCTION hotstate.stale_hosts(older_than interval)
RETURNS SETOF hotstate.host_shipments LANGUAGE sql STABLE AS $$
  SELECT * FROM hotstate.host_shipments WHERE since_contact > older_than ORDER BY last_contact_at
$$;
