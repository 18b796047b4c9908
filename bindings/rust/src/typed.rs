//! The typed API beside the seed's: the audit log, the reload journal,
//! plugin life-cycle states, stored snapshots, restores, pins, and
//! restore_for with migrations written as Rust closures. Every method is one
//! call of the C API, durable when it returns; errors are hotstate::Error.
use std::ffi::{c_void, CString};
use std::os::raw::{c_char, c_int};
use std::ptr;

use serde::Deserialize;

use crate::database::{check, json_of, parse_snapshot, Database};
use crate::error::{Error, Result};
use crate::ffi;
use crate::{PluginState, StateSnapshot};

/// A migration of a plugin's state from one major version to another.
pub(crate) type MigrationFn = dyn Fn(StateSnapshot) -> std::result::Result<StateSnapshot, String> + Send + Sync;

/// One event of the audit log.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AuditEvent {
    pub id: u64,
    pub time_us: i64,
    /// ISO-8601 UTC, as the view audit_log shows it.
    pub time: String,
    pub plugin_id: String,
    pub kind: String,
    /// The event's fields.
    pub detail: serde_json::Value,
}

/// What begin_reload returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReloadTicket {
    pub id: u64,
    /// The seq of the pre-reload snapshot it saved.
    pub snapshot_seq: u64,
}

/// A reload that began and never finished, with the state to go back to.
#[derive(Debug, Clone, Deserialize)]
pub struct UnfinishedReload {
    pub id: u64,
    pub plugin_id: String,
    pub from_version: String,
    pub to_version: String,
    pub started_at_us: i64,
    pub last_good: StateSnapshot,
    pub last_good_seq: u64,
}

/// One pin.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PinInfo {
    pub plugin_id: String,
    pub label: String,
    pub seq: u64,
    pub plugin_version: String,
    pub pinned_at_us: i64,
    pub in_snapshots: bool,
}

fn c_text(text: &str, what: &str) -> Result<CString> {
    CString::new(text).map_err(|_| Error::new("InvalidArgument", format!("{} holds a NUL byte", what)))
}

fn parse<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::new("InvalidJson", format!("{} from hotstate did not parse: {}", what, e)))
}

// The C migration: calls the closure behind `user_data` on the seed-layout
// JSON it is given. A panic or an Err fails the migration (restore_for then
// passes over that snapshot); nothing unwinds into C.
unsafe extern "C" fn call_migration(user_data: *mut c_void, json: *const c_char, json_len: usize, result: *mut c_void) -> c_int {
    let outcome = std::panic::catch_unwind(|| {
        let migration = &*(user_data as *const Box<MigrationFn>);
        let bytes = std::slice::from_raw_parts(json as *const u8, json_len);
        let snapshot = StateSnapshot::from_bytes(bytes).map_err(|e| e.to_string())?;
        let migrated = migration(snapshot)?;
        migrated.to_bytes().map_err(|e| e.to_string())
    });
    let why = match outcome {
        Ok(Ok(bytes)) => {
            if ffi::hotstate_migration_result_set(result, bytes.as_ptr() as *const c_char, bytes.len()) == ffi::HOTSTATE_OK {
                return 0;
            }
            "its result was refused".to_string()
        }
        Ok(Err(message)) => message,
        Err(_) => "it panicked".to_string(),
    };
    ffi::hotstate_migration_result_fail(result, why.as_ptr() as *const c_char, why.len());
    1
}

impl Database {
    /// Records a host's reload event (`kind`: "ReloadStarted", "StatePreserved",
    /// "StateRestored", "ReloadCompleted", "ReloadFailed", "RollbackTriggered",
    /// "PluginDiscovered", "PluginRemoved") with a JSON object of fields.
    pub fn record_event(&self, kind: &str, plugin_id: &str, detail: &serde_json::Value) -> Result<()> {
        let kind = c_text(kind, "the kind")?;
        let detail = serde_json::to_vec(detail).map_err(|e| Error::new("InvalidJson", e.to_string()))?;
        check(unsafe {
            ffi::hotstate_record_event(
                self.raw,
                kind.as_ptr(),
                plugin_id.as_ptr() as *const c_char,
                plugin_id.len(),
                detail.as_ptr() as *const c_char,
                detail.len(),
            )
        })
    }

    /// Events of the audit log: of `plugin_id` (None: every plugin), of
    /// `kind` (None: any), at or after `since_us`, at most `limit` (0: all),
    /// newest first or oldest first.
    pub fn audit_events(
        &self,
        plugin_id: Option<&str>,
        kind: Option<&str>,
        since_us: Option<i64>,
        limit: usize,
        newest_first: bool,
    ) -> Result<Vec<AuditEvent>> {
        let kind = kind.map(|k| c_text(k, "the kind")).transpose()?;
        let (id_ptr, id_len) = match plugin_id {
            Some(id) => (id.as_ptr() as *const c_char, id.len()),
            None => (ptr::null(), 0),
        };
        let bytes = json_of(
            &|json, len| unsafe {
                ffi::hotstate_audit_events(
                    self.raw,
                    id_ptr,
                    id_len,
                    kind.as_ref().map_or(ptr::null(), |k| k.as_ptr()),
                    since_us.unwrap_or(i64::MIN),
                    limit,
                    newest_first as c_int,
                    json,
                    len,
                )
            }
        )?;
        parse(&bytes.unwrap_or_else(|| b"[]".to_vec()), "the audit log")
    }

    /// Saves `snapshot` and records the reload as started, in one transaction.
    pub fn begin_reload(&self, snapshot: &StateSnapshot, to_version: &str) -> Result<ReloadTicket> {
        let json = snapshot.to_bytes().map_err(|e| Error::new("InvalidSnapshot", e.to_string()))?;
        let mut ticket = ReloadTicket { id: 0, snapshot_seq: 0 };
        check(unsafe {
            ffi::hotstate_begin_reload(
                self.raw,
                json.as_ptr() as *const c_char,
                json.len(),
                to_version.as_ptr() as *const c_char,
                to_version.len(),
                &mut ticket.id,
                &mut ticket.snapshot_seq,
            )
        })?;
        Ok(ticket)
    }

    /// Finishes a reload: Ok(()) for a success, Err(why) for a failure.
    pub fn finish_reload(&self, reload_id: u64, outcome: std::result::Result<(), &str>) -> Result<()> {
        let (success, error) = match outcome {
            Ok(()) => (1, ""),
            Err(why) => (0, why),
        };
        check(unsafe { ffi::hotstate_finish_reload(self.raw, reload_id, success, error.as_ptr() as *const c_char, error.len(), 1) })
    }

    /// Finishes a reload as a success and pins the plugin's current snapshot
    /// under `label` ("last-known-good" when empty), in one transaction.
    pub fn finish_reload_pinning(&self, reload_id: u64, label: &str) -> Result<()> {
        check(unsafe { ffi::hotstate_finish_reload_pinning(self.raw, reload_id, label.as_ptr() as *const c_char, label.len()) })
    }

    /// Reloads that began and never finished.
    pub fn unfinished_reloads(&self) -> Result<Vec<UnfinishedReload>> {
        let bytes = json_of(&|json, len| unsafe { ffi::hotstate_unfinished_reloads(self.raw, json, len) })?;
        parse(&bytes.unwrap_or_else(|| b"[]".to_vec()), "the journal")
    }

    /// Marks an unfinished reload resolved.
    pub fn resolve_reload(&self, reload_id: u64, note: &str) -> Result<()> {
        check(unsafe { ffi::hotstate_resolve_reload(self.raw, reload_id, note.as_ptr() as *const c_char, note.len()) })
    }

    /// Persists the plugin's life-cycle state (audited).
    pub fn set_plugin_state(&self, plugin_id: &str, state: &PluginState) -> Result<()> {
        let (name, reason) = match state {
            PluginState::Unloaded => ("Unloaded", ""),
            PluginState::Loading => ("Loading", ""),
            PluginState::Loaded => ("Loaded", ""),
            PluginState::Running => ("Running", ""),
            PluginState::Reloading => ("Reloading", ""),
            PluginState::Failed(reason) => ("Failed", reason.as_str()),
            PluginState::Unloading => ("Unloading", ""),
        };
        let name = c_text(name, "the state")?;
        check(unsafe {
            ffi::hotstate_set_plugin_state(
                self.raw,
                plugin_id.as_ptr() as *const c_char,
                plugin_id.len(),
                name.as_ptr(),
                reason.as_ptr() as *const c_char,
                reason.len(),
            )
        })
    }

    /// The plugin's persisted life-cycle state (Unloaded when never set).
    pub fn plugin_state(&self, plugin_id: &str) -> Result<PluginState> {
        #[derive(Deserialize)]
        struct Persisted {
            state: String,
            reason: String,
        }
        let bytes = json_of(
            &|json, len| unsafe { ffi::hotstate_plugin_state(self.raw, plugin_id.as_ptr() as *const c_char, plugin_id.len(), json, len) }
        )?;
        let persisted: Persisted = parse(&bytes.unwrap_or_default(), "the state")?;
        Ok(match persisted.state.as_str() {
            "Loading" => PluginState::Loading,
            "Loaded" => PluginState::Loaded,
            "Running" => PluginState::Running,
            "Reloading" => PluginState::Reloading,
            "Failed" => PluginState::Failed(persisted.reason),
            "Unloading" => PluginState::Unloading,
            _ => PluginState::Unloaded,
        })
    }

    fn snapshot_json(&self, bytes: Option<Vec<u8>>) -> Result<Option<StateSnapshot>> {
        bytes.map(|b| parse_snapshot(&b)).transpose()
    }

    /// The plugin's stored snapshot `seq`: current, history or pinned.
    pub fn snapshot(&self, plugin_id: &str, seq: u64) -> Result<Option<StateSnapshot>> {
        let bytes = json_of(
            &|json, len| unsafe { ffi::hotstate_snapshot(self.raw, plugin_id.as_ptr() as *const c_char, plugin_id.len(), seq, json, len) }
        )?;
        self.snapshot_json(bytes)
    }

    /// Makes a copy of stored snapshot `seq` the current one (nothing is
    /// deleted); returns it and its new seq.
    pub fn restore(&self, plugin_id: &str, seq: u64) -> Result<(StateSnapshot, u64)> {
        let new_seq = std::cell::Cell::new(0u64);
        let bytes = json_of(
            &|json, len| unsafe {
                ffi::hotstate_restore(self.raw, plugin_id.as_ptr() as *const c_char, plugin_id.len(), seq, json, len, new_seq.as_ptr())
            }
        )?;
        let snapshot = self.snapshot_json(bytes)?.ok_or_else(|| Error::new("Internal", "restore gave no snapshot".to_string()))?;
        Ok((snapshot, new_seq.get()))
    }

    /// Pins stored snapshot `seq` under `label`.
    pub fn pin(&self, plugin_id: &str, seq: u64, label: &str) -> Result<()> {
        check(unsafe {
            ffi::hotstate_pin(self.raw, plugin_id.as_ptr() as *const c_char, plugin_id.len(), seq, label.as_ptr() as *const c_char, label.len())
        })
    }

    /// Removes a pin; false when there was none.
    pub fn unpin(&self, plugin_id: &str, label: &str) -> Result<bool> {
        let mut removed: c_int = 0;
        check(unsafe {
            ffi::hotstate_unpin(self.raw, plugin_id.as_ptr() as *const c_char, plugin_id.len(), label.as_ptr() as *const c_char, label.len(), &mut removed)
        })?;
        Ok(removed != 0)
    }

    /// The snapshot pinned under `label`.
    pub fn pinned(&self, plugin_id: &str, label: &str) -> Result<Option<StateSnapshot>> {
        let bytes = json_of(
            &|json, len| unsafe {
                ffi::hotstate_pinned(
                    self.raw,
                    plugin_id.as_ptr() as *const c_char,
                    plugin_id.len(),
                    label.as_ptr() as *const c_char,
                    label.len(),
                    json,
                    len,
                    ptr::null_mut(),
                )
            }
        )?;
        self.snapshot_json(bytes)
    }

    /// The pins of `plugin_id` (None: every plugin).
    pub fn pins(&self, plugin_id: Option<&str>) -> Result<Vec<PinInfo>> {
        let id = plugin_id.unwrap_or("");
        let bytes = json_of(
            &|json, len| unsafe { ffi::hotstate_pins(self.raw, id.as_ptr() as *const c_char, id.len(), json, len) }
        )?;
        parse(&bytes.unwrap_or_else(|| b"[]".to_vec()), "pins")
    }

    /// Writes a consistent copy of the database to `path` while writers go
    /// on; `path` is either its old self or the whole copy.
    pub fn backup(&self, path: &std::path::Path) -> Result<()> {
        let path = c_text(&path.to_string_lossy(), "the path")?;
        check(unsafe { ffi::hotstate_backup(self.raw, path.as_ptr()) })
    }

    /// Checks the file (integrity, schema, history bound, every row and pin,
    /// the audit log and its hash chain, with an audit key its signatures):
    /// the problems found, none when it is sound. The whole report, with the
    /// audit log's head: [`Database::verify_report`]; against a checkpoint:
    /// [`Database::verify_extends`].
    pub fn verify(&self) -> Result<Vec<String>> {
        let ok = std::cell::Cell::new(0 as c_int);
        let bytes = json_of(&|json, len| unsafe { ffi::hotstate_verify(self.raw, ok.as_ptr(), json, len) })?;
        parse(&bytes.unwrap_or_else(|| b"[]".to_vec()), "verify's report")
    }

    /// Registers the migration of the plugin's state ("" for every plugin)
    /// from major `from_major` to `to_major`, either direction; restore_for
    /// chains them. Err from the closure (or a panic) fails that migration.
    pub fn register_migration<F>(&self, plugin_id: &str, from_major: i32, to_major: i32, migration: F) -> Result<()>
    where
        F: Fn(StateSnapshot) -> std::result::Result<StateSnapshot, String> + Send + Sync + 'static,
    {
        let boxed: Box<Box<MigrationFn>> = Box::new(Box::new(migration));
        let user_data = &*boxed as *const Box<MigrationFn> as *mut c_void;
        check(unsafe {
            ffi::hotstate_register_migration(
                self.raw,
                plugin_id.as_ptr() as *const c_char,
                plugin_id.len(),
                from_major,
                to_major,
                call_migration,
                user_data,
            )
        })?;
        // Kept, at the same address, while the handle may call it.
        self.migrations.lock().unwrap_or_else(|p| p.into_inner()).push(boxed);
        Ok(())
    }

    /// The state a plugin at `target_version` should start from (see
    /// StateManager::restore_for in the C++ API): the newest stored state
    /// that is compatible, or that registered migrations take there (then
    /// saved, with StateMigrated).
    pub fn restore_for(&self, plugin_id: &str, target_version: &str) -> Result<Option<StateSnapshot>> {
        let bytes = json_of(
            &|json, len| unsafe {
                ffi::hotstate_restore_for(
                    self.raw,
                    plugin_id.as_ptr() as *const c_char,
                    plugin_id.len(),
                    target_version.as_ptr() as *const c_char,
                    target_version.len(),
                    json,
                    len,
                    ptr::null_mut(),
                )
            }
        )?;
        self.snapshot_json(bytes)
    }
}
