//! A libhotstate handle: one database file (or a private `:memory:` one),
//! safe to share between threads (the C API is thread-safe on one handle).
use std::ffi::CString;
use std::os::raw::{c_char, c_void};
use std::ptr;

use crate::checkpoint::{call_checkpoint, AuditCheckpoint, CheckpointFn};
use crate::error::{Error, Result};
use crate::ffi;
use crate::StateSnapshot;

/// How to open a [`Database`], for what [`Database::open`] does not set:
/// the audit log's key and checkpoint closure (see [`AuditCheckpoint`]).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use hotstate::{AuditCheckpoint, OpenOptions, StateSnapshot};
///
/// let kept: Arc<Mutex<Vec<AuditCheckpoint>>> = Arc::default();
/// let sink = Arc::clone(&kept);
/// let db = OpenOptions::new()
///     .audit_key(&[7u8; 32]) // use 32 random bytes, kept out of the database
///     .on_audit_checkpoint(move |checkpoint| sink.lock().unwrap().push(checkpoint.clone()))
///     .open(":memory:")
///     .unwrap();
/// db.save(&StateSnapshot::new("p", "1.0.0")).unwrap();
/// let head = db.audit_head().unwrap();
/// assert!(head.signature.is_some());
/// assert_eq!(kept.lock().unwrap().last(), Some(&head));
/// assert!(db.verify_extends(&head.to_string().parse().unwrap()).unwrap().ok);
/// ```
#[derive(Default)]
pub struct OpenOptions {
    audit_key: Option<Vec<u8>>,
    on_audit_checkpoint: Option<Box<CheckpointFn>>,
    audit_checkpoint_every: Option<u64>,
}

impl std::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret: only whether there is one.
        f.debug_struct("OpenOptions")
            .field("audit_key", &self.audit_key.as_ref().map(|_| "<set>"))
            .field("on_audit_checkpoint", &self.on_audit_checkpoint.as_ref().map(|_| "<closure>"))
            .field("audit_checkpoint_every", &self.audit_checkpoint_every)
            .finish()
    }
}

impl OpenOptions {
    /// The defaults: those of [`Database::open`].
    pub fn new() -> OpenOptions {
        OpenOptions::default()
    }

    /// The audit key: a secret only the host holds (any bytes; use 32 random
    /// ones), never written to the database. With it hotstate signs every
    /// audit event it chains and every checkpoint (HMAC-SHA3-256,
    /// [`AuditCheckpoint::signature`]), and verify checks them, so that a log
    /// rewritten with a consistent new chain, or an event of a kind only
    /// hotstate writes that another client inserted, is detected. Open a
    /// database with the same key every time. Empty: no key.
    pub fn audit_key(mut self, key: &[u8]) -> OpenOptions {
        self.audit_key = Some(key.to_vec());
        self
    }

    /// Called with the audit log's new head after a write of this database
    /// that chained audit events (every [`OpenOptions::audit_checkpoint_every`]
    /// events), so that the host can keep checkpoints where the database
    /// does not reach. Called on the thread of the write, before the write
    /// returns and after its commit, one call at a time, with checkpoints in
    /// increasing order (one overtaken by a newer one is skipped). It must
    /// not use the same [`Database`] (the write is still in progress on this
    /// thread). A panic is caught and dropped: nothing unwinds into C.
    pub fn on_audit_checkpoint<F>(mut self, callback: F) -> OpenOptions
    where
        F: Fn(&AuditCheckpoint) + Send + Sync + 'static,
    {
        self.on_audit_checkpoint = Some(Box::new(callback));
        self
    }

    /// Calls the [`OpenOptions::on_audit_checkpoint`] closure only once at
    /// least `events` events were chained since its last call (the first
    /// call comes after the first write). Default 1: after every write that
    /// chained any; 0 is taken as 1.
    pub fn audit_checkpoint_every(mut self, events: u64) -> OpenOptions {
        self.audit_checkpoint_every = Some(events);
        self
    }

    /// Opens (creating it when missing) the database at `path`, as
    /// [`Database::open`] does, with these options.
    pub fn open(self, path: &str) -> Result<Database> {
        let c_path = CString::new(path).map_err(|_| Error::new("InvalidArgument", format!("the path {:?} holds a NUL byte", path)))?;
        // SAFETY: hotstate_options_init fills every field for our size;
        // zeroed first, so the struct is valid even before (NULL pointers,
        // no callback).
        let mut options: ffi::hotstate_options = unsafe { std::mem::zeroed() };
        unsafe { ffi::hotstate_options_init(&mut options, std::mem::size_of::<ffi::hotstate_options>()) };
        options.path = c_path.as_ptr();
        if let Some(key) = &self.audit_key {
            options.audit_key = key.as_ptr() as *const c_void;
            options.audit_key_len = key.len();
        }
        if let Some(every) = self.audit_checkpoint_every {
            options.audit_checkpoint_every = every;
        }
        let checkpoint: Option<Box<Box<CheckpointFn>>> = self.on_audit_checkpoint.map(Box::new);
        if let Some(callback) = &checkpoint {
            options.on_audit_checkpoint = Some(call_checkpoint);
            options.checkpoint_user_data = &**callback as *const Box<CheckpointFn> as *mut c_void;
        }
        let mut raw = ptr::null_mut();
        // SAFETY: options and the texts it points to live through the call
        // (the library copies them); the closure lives in the Database,
        // at the same address, until the handle is closed.
        check(unsafe { ffi::hotstate_open(&options, &mut raw) })?;
        Ok(Database { raw, migrations: std::sync::Mutex::new(Vec::new()), checkpoint })
    }
}

/// An open database. Closed when dropped.
pub struct Database {
    pub(crate) raw: *mut ffi::hotstate_db,
    // The migrations registered on this handle: alive while it is open.
    // Boxed twice: the C side holds the address of the inner box.
    pub(crate) migrations: std::sync::Mutex<Vec<Box<Box<crate::typed::MigrationFn>>>>,
    // OpenOptions::on_audit_checkpoint's closure, alive while the handle is
    // open (boxed twice, as the migrations). Never read here: the C side
    // calls it through the address it was given.
    #[allow(dead_code)]
    pub(crate) checkpoint: Option<Box<Box<CheckpointFn>>>,
}

// SAFETY: every function of the C API may be called on one handle from any
// thread at once (hotstate.h, "Threads").
unsafe impl Send for Database {}
unsafe impl Sync for Database {}

impl Drop for Database {
    fn drop(&mut self) {
        // SAFETY: raw came from hotstate_open_path or hotstate_open and is
        // closed once, before the migrations and the checkpoint closure it
        // may call are dropped (fields drop after this).
        unsafe { ffi::hotstate_close(self.raw) };
    }
}

pub(crate) fn check(code: ffi::hotstate_code) -> Result<()> {
    if code == ffi::HOTSTATE_OK {
        Ok(())
    } else {
        Err(Error::last(code))
    }
}

/// Takes a buffer the C API allocated; None for NULL.
pub(crate) fn take_buffer(buffer: *mut c_char, len: usize) -> Option<Vec<u8>> {
    if buffer.is_null() {
        return None;
    }
    // SAFETY: the C API gave `len` bytes at `buffer`, released here once.
    let bytes = unsafe { std::slice::from_raw_parts(buffer as *const u8, len) }.to_vec();
    unsafe { ffi::hotstate_free(buffer as *mut c_void) };
    Some(bytes)
}

/// Runs a C API call that gives back a buffer (json, json_len); the buffer's
/// bytes, None when the call gave NULL.
pub(crate) fn json_of(call: &dyn Fn(*mut *mut c_char, *mut usize) -> ffi::hotstate_code) -> Result<Option<Vec<u8>>> {
    let mut buffer = ptr::null_mut();
    let mut len = 0usize;
    check(call(&mut buffer, &mut len))?;
    Ok(take_buffer(buffer, len))
}

pub(crate) fn parse_snapshot(bytes: &[u8]) -> Result<StateSnapshot> {
    StateSnapshot::from_bytes(bytes).map_err(|e| Error::new("InvalidSnapshot", format!("a snapshot from hotstate did not parse: {}", e)))
}

impl Database {
    /// Opens (creating it when missing) the database at `path`; ":memory:"
    /// for a private one.
    pub fn open(path: &str) -> Result<Database> {
        let c_path = CString::new(path).map_err(|_| Error::new("InvalidArgument", format!("the path {:?} holds a NUL byte", path)))?;
        let mut raw = ptr::null_mut();
        // SAFETY: c_path is NUL-terminated; raw receives the handle.
        check(unsafe { ffi::hotstate_open_path(c_path.as_ptr(), &mut raw) })?;
        Ok(Database { raw, migrations: std::sync::Mutex::new(Vec::new()), checkpoint: None })
    }

    /// Options for opening a database: the audit key and the checkpoint
    /// closure. The same as [`OpenOptions::new`].
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Sets the history bound of the file (audited; a lower one trims at once).
    pub fn set_max_history(&self, max_history: usize) -> Result<usize> {
        let mut trimmed = 0usize;
        check(unsafe { ffi::hotstate_set_max_history(self.raw, max_history, &mut trimmed) })?;
        Ok(trimmed)
    }

    /// Saves `snapshot` as its plugin's current one, durably; returns its seq.
    pub fn save(&self, snapshot: &StateSnapshot) -> Result<u64> {
        let json = snapshot
            .to_bytes()
            .map_err(|e| Error::new("InvalidSnapshot", format!("the snapshot did not serialize: {}", e)))?;
        let mut seq = 0u64;
        check(unsafe { ffi::hotstate_save(self.raw, json.as_ptr() as *const c_char, json.len(), &mut seq) })?;
        Ok(seq)
    }

    /// Saves every snapshot, in order, in one durable transaction: all or none.
    pub fn save_all(&self, snapshots: &[StateSnapshot]) -> Result<usize> {
        let json = serde_json::to_vec(snapshots)
            .map_err(|e| Error::new("InvalidSnapshot", format!("the snapshots did not serialize: {}", e)))?;
        let mut count = 0usize;
        check(unsafe { ffi::hotstate_save_all(self.raw, json.as_ptr() as *const c_char, json.len(), &mut count) })?;
        Ok(count)
    }

    fn snapshot_call(
        &self,
        plugin_id: &str,
        call: unsafe extern "C" fn(*mut ffi::hotstate_db, *const c_char, usize, *mut *mut c_char, *mut usize, *mut u64) -> ffi::hotstate_code,
    ) -> Result<Option<StateSnapshot>> {
        json_of(&|json, len| unsafe { call(self.raw, plugin_id.as_ptr() as *const c_char, plugin_id.len(), json, len, ptr::null_mut()) })?
            .map(|bytes| parse_snapshot(&bytes))
            .transpose()
    }

    /// The plugin's current snapshot.
    pub fn load(&self, plugin_id: &str) -> Result<Option<StateSnapshot>> {
        self.snapshot_call(plugin_id, ffi::hotstate_load)
    }

    /// Discards the current snapshot and makes the newest history entry current.
    pub fn rollback(&self, plugin_id: &str) -> Result<Option<StateSnapshot>> {
        self.snapshot_call(plugin_id, ffi::hotstate_rollback)
    }

    pub fn clear(&self, plugin_id: &str) -> Result<()> {
        check(unsafe { ffi::hotstate_clear(self.raw, plugin_id.as_ptr() as *const c_char, plugin_id.len()) })
    }

    pub fn clear_all(&self) -> Result<()> {
        check(unsafe { ffi::hotstate_clear_all(self.raw) })
    }

    /// The plugin's history, oldest first, without its current snapshot.
    pub fn history(&self, plugin_id: &str) -> Result<Vec<StateSnapshot>> {
        let bytes = json_of(&|json, len| unsafe { ffi::hotstate_history(self.raw, plugin_id.as_ptr() as *const c_char, plugin_id.len(), json, len) })?;
        serde_json::from_slice(&bytes.unwrap_or_else(|| b"[]".to_vec()))
            .map_err(|e| Error::new("InvalidSnapshot", format!("a history from hotstate did not parse: {}", e)))
    }

    /// Every plugin with a current snapshot, sorted.
    pub fn plugin_ids(&self) -> Result<Vec<String>> {
        let bytes = json_of(&|json, len| unsafe { ffi::hotstate_plugin_ids(self.raw, json, len) })?;
        serde_json::from_slice(&bytes.unwrap_or_else(|| b"[]".to_vec()))
            .map_err(|e| Error::new("InvalidJson", format!("plugin ids from hotstate did not parse: {}", e)))
    }
}
