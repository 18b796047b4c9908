//! A libhotstate handle: one database file (or a private `:memory:` one),
//! safe to share between threads (the C API is thread-safe on one handle).
use std::ffi::CString;
use std::os::raw::{c_char, c_void};
use std::ptr;

use crate::error::{Error, Result};
use crate::ffi;
use crate::StateSnapshot;

/// An open database. Closed when dropped.
pub struct Database {
    pub(crate) raw: *mut ffi::hotstate_db,
    // The migrations registered on this handle: alive while it is open.
    // Boxed twice: the C side holds the address of the inner box.
    pub(crate) migrations: std::sync::Mutex<Vec<Box<Box<crate::typed::MigrationFn>>>>,
}

// SAFETY: every function of the C API may be called on one handle from any
// thread at once (hotstate.h, "Threads").
unsafe impl Send for Database {}
unsafe impl Sync for Database {}

impl Drop for Database {
    fn drop(&mut self) {
        // SAFETY: raw came from hotstate_open_path and is closed once, before
        // the migrations it may call are dropped (fields drop after this).
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
        Ok(Database { raw, migrations: std::sync::Mutex::new(Vec::new()) })
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
