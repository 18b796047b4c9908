//! The audit log's hash chain (issue 15): checkpoints, verify's report, and
//! the checkpoint callback.
//!
//! Every audit event is chained with SHA3-256: changing, removing, inserting
//! or reordering any event changes every chain hash after it. An
//! [`AuditCheckpoint`] is the chain's head at one moment
//! ([`Database::audit_head`], or handed to the closure of
//! [`OpenOptions::on_audit_checkpoint`](crate::OpenOptions::on_audit_checkpoint)
//! after each write); kept where the database does not reach, it lets
//! [`Database::verify_extends`] prove later that the log still extends it.
//! With an audit key ([`OpenOptions::audit_key`](crate::OpenOptions::audit_key))
//! every event and checkpoint is also signed with HMAC-SHA3-256.
use std::ffi::c_void;
use std::fmt;
use std::os::raw::{c_char, c_int};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::database::{json_of, Database};
use crate::error::{Error, Result};
use crate::ffi;

/// The audit log's hash chain at one event (the C API's checkpoint JSON,
/// `hotstate_audit_head`). `Display` gives its text, `"ID:HASH"`, which
/// `FromStr` (`"ID:HASH".parse()`) reads back; that text is all that
/// [`Database::verify_extends`] needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AuditCheckpoint {
    /// The newest chained event; 0 for an empty log.
    pub event_id: u64,
    /// Its chain hash, 64 lowercase hex digits (64 zeros for an empty log).
    pub chain_hash: String,
    /// Events the chain holds up to `event_id`, pruned ones included (0 from `FromStr`).
    pub event_count: u64,
    /// That event's time, microseconds since the Unix epoch (0 for an empty
    /// log, and from `FromStr`).
    pub time_us: i64,
    /// HMAC-SHA3-256 with the audit key of `"checkpoint:" + text + ":" +
    /// event_count`, 64 lowercase hex digits; None without a key (and from
    /// `FromStr`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

impl fmt::Display for AuditCheckpoint {
    /// `"ID:HASH"`, as `hotstate verify --audit-head` takes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.event_id, self.chain_hash)
    }
}

impl FromStr for AuditCheckpoint {
    type Err = Error;

    /// Parses `"ID:HASH"`: a decimal event id, `:`, and its chain hash of 64
    /// hex digits in either case (kept in lowercase). Only `event_id` and
    /// `chain_hash` are known then: the other fields are 0 and None. Anything
    /// else is an `InvalidArgument` error, as the C API's.
    fn from_str(text: &str) -> Result<AuditCheckpoint> {
        let refuse = || {
            let shown: String = text.chars().take(200).collect();
            Error::new(
                "InvalidArgument",
                format!("audit checkpoint '{}': expected ID:HASH, an event id and its chain hash of 64 hex digits", shown),
            )
        };
        let (id, hash) = text.split_once(':').ok_or_else(refuse)?;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse());
        }
        let event_id: u64 = id.parse().map_err(|_| refuse())?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(refuse());
        }
        Ok(AuditCheckpoint { event_id, chain_hash: hash.to_ascii_lowercase(), event_count: 0, time_us: 0, signature: None })
    }
}

/// What [`Database::verify_report`] and [`Database::verify_extends`] found;
/// `ok` when `problems` is empty.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VerifyReport {
    /// No problem found.
    pub ok: bool,
    /// One sentence each.
    pub problems: Vec<String>,
    /// The file's `PRAGMA user_version`.
    pub schema_version: i32,
    /// The audit log's head as verify found it (signed with the audit key, if any).
    pub audit_head: AuditCheckpoint,
    /// The newest events another client wrote that no hotstate has chained
    /// yet (not a problem).
    pub unchained_events: u64,
}

/// The closure of `OpenOptions::on_audit_checkpoint`.
pub(crate) type CheckpointFn = dyn Fn(&AuditCheckpoint) + Send + Sync;

// The C checkpoint callback: calls the closure behind `user_data` with the
// checkpoint. A panic is caught (nothing unwinds into C) and dropped, as the
// C++ API drops what its callback throws; so is a checkpoint that does not
// parse (it cannot happen with a library of the same version).
pub(crate) unsafe extern "C" fn call_checkpoint(user_data: *mut c_void, json: *const c_char, json_len: usize) {
    let _ = std::panic::catch_unwind(|| {
        let callback = &*(user_data as *const Box<CheckpointFn>);
        let bytes = std::slice::from_raw_parts(json as *const u8, json_len);
        if let Ok(checkpoint) = serde_json::from_slice::<AuditCheckpoint>(bytes) {
            callback(&checkpoint);
        }
    });
}

fn parse<T: for<'de> Deserialize<'de>>(bytes: Option<Vec<u8>>, what: &str) -> Result<T> {
    serde_json::from_slice(&bytes.unwrap_or_default())
        .map_err(|e| Error::new("InvalidJson", format!("{} from hotstate did not parse: {}", what, e)))
}

impl Database {
    /// The audit log's checkpoint now: its newest chained event, the chain
    /// hash there and how many events the chain holds, signed with the audit
    /// key if the database was opened with one. Keep it where the database
    /// does not reach; check the log later with [`Database::verify_extends`].
    /// Reads only.
    pub fn audit_head(&self) -> Result<AuditCheckpoint> {
        let bytes = json_of(&|json, len| unsafe { ffi::hotstate_audit_head(self.raw, json, len) })?;
        parse(bytes, "the audit head")
    }

    /// [`Database::verify`] with the whole report: the problems, the schema
    /// version, the audit log's head as verify found it and the events not
    /// chained yet. Problems are reported, not returned as `Err`.
    pub fn verify_report(&self) -> Result<VerifyReport> {
        let ok = std::cell::Cell::new(0 as c_int);
        let bytes = json_of(&|json, len| unsafe { ffi::hotstate_verify_report(self.raw, ok.as_ptr(), json, len) })?;
        parse(bytes, "verify's report")
    }

    /// [`Database::verify_report`], and also that the audit log still extends
    /// `checkpoint`, taken earlier ([`Database::audit_head`], the closure of
    /// `OpenOptions::on_audit_checkpoint`, or parsed from its `"ID:HASH"`
    /// text): a log rewritten up to it, its newest events removed, or its
    /// event removed by a prune since are problems in the report (one says
    /// "does not extend checkpoint …" for a chain hash that differs). Only
    /// the checkpoint's event id and chain hash are used. Reads only.
    pub fn verify_extends(&self, checkpoint: &AuditCheckpoint) -> Result<VerifyReport> {
        let text = checkpoint.to_string();
        let ok = std::cell::Cell::new(0 as c_int);
        let bytes = json_of(&|json, len| unsafe {
            ffi::hotstate_verify_extends(self.raw, text.as_ptr() as *const c_char, text.len(), ok.as_ptr(), json, len)
        })?;
        parse(bytes, "verify's report")
    }
}
