//! hotstate for Rust: the seed's state module (`PluginState`, `StateSnapshot`,
//! `StateManager`, `StatefulPlugin`, with the seed's items and signatures),
//! made durable on libhotstate's C API. Switching is one line:
//!
//! ```
//! // use crate::state::{PluginState, StateManager, StateSnapshot, StatefulPlugin};
//! use hotstate::{PluginState, StateManager, StateSnapshot, StatefulPlugin};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! # let dir = std::env::temp_dir().join(format!("hotstate-doc-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//!
//! // The seed's code, unchanged: now every save is a durable transaction.
//! let manager = StateManager::new().with_max_history(5).with_persistence(&dir);
//! let snapshot = StateSnapshot::new("greeter", "1.0.0").with_data("count", &3);
//! manager.save_snapshot(snapshot).await.unwrap();
//! manager
//!     .save_snapshot(StateSnapshot::new("greeter", "1.0.1").with_data("count", &4))
//!     .await
//!     .unwrap();
//! let restored = manager.rollback("greeter").await.unwrap();
//! assert_eq!(restored.get::<i64>("count"), Some(3));
//! assert_eq!(PluginState::Loaded.to_string(), "Loaded");
//!
//! // The typed API on the same file: the audit log saw both saves and the rollback.
//! let database = manager.database().unwrap();
//! let events = database.audit_events(Some("greeter"), None, None, 0, false).unwrap();
//! let kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
//! assert_eq!(kinds, ["SnapshotSaved", "SnapshotSaved", "RolledBack"]);
//! # let _ = std::fs::remove_dir_all(&dir);
//! # }
//! ```
//!
//! `StateManager::new()` keeps everything in a private in-memory database;
//! `with_persistence(dir)` keeps it in `dir/hotstate.db`, one SQLite file
//! where every save is one durable transaction and history survives
//! restarts. The async methods never run a write on the async runtime's
//! threads: each write (and its fsync) runs on tokio's blocking pool
//! (`spawn_blocking`), so many tasks on a multi-threaded runtime can save at
//! once while the runtime goes on. Reads are answered from libhotstate's
//! cache or one indexed query, without an fsync, on the calling task.
//!
//! [`Database`] is the typed API beside it: `Result<T, hotstate::Error>`.
//! [`OpenOptions`] opens one with an audit key and a closure that receives
//! the audit log's checkpoints ([`AuditCheckpoint`]); [`Database::audit_head`]
//! and [`Database::verify_extends`] prove later that the log was not changed.

mod checkpoint;
mod database;
mod error;
mod ffi;
mod typed;

pub use checkpoint::{AuditCheckpoint, VerifyReport};
pub use database::{Database, OpenOptions};
pub use error::{Error, Result};
pub use typed::{AuditEvent, PinInfo, ReloadTicket, UnfinishedReload};

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Plugin hot-reload state (the seed's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PluginState {
    /// Not loaded
    Unloaded,
    /// Loading in progress
    Loading,
    /// Loaded and ready
    Loaded,
    /// Running
    Running,
    /// Reloading in progress
    Reloading,
    /// Failed to load/reload
    Failed(String),
    /// Unloading in progress
    Unloading,
}

// Rust 1.63 has no #[default] on enum variants: the seed's default, by hand.
impl Default for PluginState {
    fn default() -> Self {
        PluginState::Unloaded
    }
}

impl std::fmt::Display for PluginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginState::Unloaded => write!(f, "Unloaded"),
            PluginState::Loading => write!(f, "Loading"),
            PluginState::Loaded => write!(f, "Loaded"),
            PluginState::Running => write!(f, "Running"),
            PluginState::Reloading => write!(f, "Reloading"),
            PluginState::Failed(err) => write!(f, "Failed: {}", err),
            PluginState::Unloading => write!(f, "Unloading"),
        }
    }
}

/// A snapshot of plugin state that can be preserved across reloads (the
/// seed's fields and serde layout, which is also what hotstate stores).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateSnapshot {
    /// Plugin ID
    pub plugin_id: String,
    /// Snapshot timestamp
    pub timestamp: u64,
    /// Serialized state data
    pub data: HashMap<String, serde_json::Value>,
    /// Plugin version at snapshot time
    pub plugin_version: String,
    /// Custom metadata
    pub metadata: HashMap<String, String>,
}

impl StateSnapshot {
    /// Create a new state snapshot
    pub fn new(plugin_id: &str, plugin_version: &str) -> Self {
        Self {
            plugin_id: plugin_id.to_string(),
            timestamp: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
            data: HashMap::new(),
            plugin_version: plugin_version.to_string(),
            metadata: HashMap::new(),
        }
    }

    /// Add state data (a value that does not serialize is left out, as in the seed)
    pub fn with_data<T: Serialize>(mut self, key: &str, value: &T) -> Self {
        if let Ok(json_value) = serde_json::to_value(value) {
            self.data.insert(key.to_string(), json_value);
        }
        self
    }

    /// Add metadata
    pub fn with_metadata(mut self, key: &str, value: &str) -> Self {
        self.metadata.insert(key.to_string(), value.to_string());
        self
    }

    /// Get state data
    pub fn get<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Option<T> {
        self.data.get(key).and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// Get metadata
    pub fn get_metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(|s| s.as_str())
    }

    /// Check if snapshot is compatible with a plugin version (equal major versions)
    pub fn is_compatible(&self, plugin_version: &str) -> bool {
        let snapshot_major = self.plugin_version.split('.').next();
        let plugin_major = plugin_version.split('.').next();
        snapshot_major == plugin_major
    }

    /// Serialize to bytes
    pub fn to_bytes(&self) -> std::result::Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    /// Deserialize from bytes
    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// State manager for plugin hot-reload: the seed's, durable. The database
/// opens on first use, so that the builder methods apply to it.
pub struct StateManager {
    max_history: Option<usize>,
    persist_dir: Option<std::path::PathBuf>,
    database: Mutex<Option<Arc<Database>>>,
}

impl StateManager {
    /// Create a new state manager (a private in-memory database)
    pub fn new() -> Self {
        Self { max_history: None, persist_dir: None, database: Mutex::new(None) }
    }

    /// Set maximum history entries. Applied to the database when it opens:
    /// for a file, this sets the file's bound (audited; a lower bound trims).
    pub fn with_max_history(mut self, max: usize) -> Self {
        self.max_history = Some(max);
        self
    }

    /// Keep the state in `dir/hotstate.db` (created when missing).
    pub fn with_persistence<P: AsRef<std::path::Path>>(mut self, dir: P) -> Self {
        self.persist_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The database, opened on first use: the typed API (audit log, reload
    /// journal, plugin states, restores, pins, restore_for) on the same
    /// handle as this manager.
    pub fn database(&self) -> Result<Arc<Database>> {
        let mut slot = self.database.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(database) = slot.as_ref() {
            return Ok(Arc::clone(database));
        }
        let path = match &self.persist_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::new("CannotOpen", format!("cannot create {}: {}", dir.display(), e)))?;
                dir.join("hotstate.db").to_string_lossy().into_owned()
            }
            None => ":memory:".to_string(),
        };
        let created = path != ":memory:" && !std::path::Path::new(&path).exists();
        let database = Arc::new(Database::open(&path)?);
        // Only a bound asked for changes the file's: opening never does.
        if let Some(max) = self.max_history {
            database.set_max_history(max)?;
        }
        if created {
            if let Some(dir) = &self.persist_dir {
                // The seed's own files, moved over once, all or nothing; on a
                // failure the new database goes, so the next use tries again.
                if let Err(error) = import_seed_files(&database, dir) {
                    drop(database);
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{}", path, suffix));
                    }
                    return Err(error);
                }
            }
        }
        *slot = Some(Arc::clone(&database));
        Ok(database)
    }

    /// Runs a write on tokio's blocking pool: its fsync never holds a runtime thread.
    async fn write<T, F>(&self, write: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T> + Send + 'static,
    {
        let database = self.database()?;
        tokio::task::spawn_blocking(move || write(&database))
            .await
            .map_err(|e| Error::new("Internal", format!("the write's task failed: {}", e)))?
    }

    /// Save a state snapshot (durable when it returns)
    pub async fn save_snapshot(&self, snapshot: StateSnapshot) -> std::result::Result<(), String> {
        self.write(move |database| database.save(&snapshot).map(|_| ())).await.map_err(|e| e.to_string())
    }

    /// Load a state snapshot
    pub async fn load_snapshot(&self, plugin_id: &str) -> Option<StateSnapshot> {
        self.database().and_then(|database| database.load(plugin_id)).ok().flatten()
    }

    /// Get the latest snapshot for a plugin (every save is durable: the same as load_snapshot)
    pub async fn get_latest(&self, plugin_id: &str) -> Option<StateSnapshot> {
        self.load_snapshot(plugin_id).await
    }

    /// Rollback to a previous snapshot
    pub async fn rollback(&self, plugin_id: &str) -> Option<StateSnapshot> {
        let id = plugin_id.to_string();
        self.write(move |database| database.rollback(&id)).await.ok().flatten()
    }

    /// Clear all snapshots for a plugin
    pub async fn clear(&self, plugin_id: &str) {
        let id = plugin_id.to_string();
        let _ = self.write(move |database| database.clear(&id)).await;
    }

    /// Clear all snapshots
    pub async fn clear_all(&self) {
        let _ = self.write(|database| database.clear_all()).await;
    }

    /// Get history for a plugin
    pub async fn get_history(&self, plugin_id: &str) -> Vec<StateSnapshot> {
        self.database().and_then(|database| database.history(plugin_id)).unwrap_or_default()
    }

    /// Get all managed plugin IDs
    pub async fn plugin_ids(&self) -> Vec<String> {
        self.database().and_then(|database| database.plugin_ids()).unwrap_or_default()
    }
}

impl Default for StateManager {
    fn default() -> Self {
        Self::new()
    }
}

/// The `<plugin_id>.json` files the seed persisted in `dir` (each its
/// plugin's current snapshot), saved in one transaction, by file name.
fn import_seed_files(database: &Database, dir: &std::path::Path) -> Result<usize> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::new("CannotOpen", format!("cannot list {}: {}", dir.display(), e)))?;
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::new("Io", format!("cannot list {}: {}", dir.display(), e)))?;
        let path = entry.path();
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);  // not followed: a link is no file here
        if is_file && path.extension().map_or(false, |e| e == "json") {
            files.push(path);
        }
    }
    files.sort();
    let mut snapshots = Vec::with_capacity(files.len());
    for file in &files {
        let bytes = std::fs::read(file).map_err(|e| Error::new("Io", format!("cannot read {}: {}", file.display(), e)))?;
        let snapshot = StateSnapshot::from_bytes(&bytes)
            .map_err(|e| Error::new("InvalidSnapshot", format!("{} is not a snapshot the seed wrote: {}; nothing was imported", file.display(), e)))?;
        snapshots.push(snapshot);
    }
    if snapshots.is_empty() {
        return Ok(0);
    }
    database.save_all(&snapshots)
}

/// Trait for plugins that support state preservation
pub trait StatefulPlugin {
    /// Create a state snapshot
    fn create_snapshot(&self) -> StateSnapshot;

    /// Restore from a state snapshot
    fn restore_snapshot(&mut self, snapshot: &StateSnapshot) -> std::result::Result<(), String>;

    /// Check if a snapshot is compatible
    fn is_snapshot_compatible(&self, snapshot: &StateSnapshot) -> bool {
        snapshot.is_compatible(&self.plugin_version())
    }

    /// Get plugin version
    fn plugin_version(&self) -> String;
}
