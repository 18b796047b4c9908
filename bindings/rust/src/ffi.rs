//! The C API of libhotstate (include/hotstate/hotstate.h), as much of it as
//! the crate uses. Every function is thread-safe on one handle.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_void};

#[repr(C)]
pub struct hotstate_db {
    _opaque: [u8; 0],
}

pub type hotstate_code = c_int;
pub const HOTSTATE_OK: hotstate_code = 0;

/// hotstate_options.on_audit_checkpoint.
pub type hotstate_checkpoint_fn = unsafe extern "C" fn(user_data: *mut c_void, json: *const c_char, json_len: usize);

/// hotstate_options, field for field (hotstate.h). hotstate_options_init
/// fills it with the defaults for size_of::<hotstate_options>(); a library
/// older than this layout refuses it in hotstate_open (struct_size).
#[repr(C)]
pub struct hotstate_options {
    pub struct_size: usize,
    pub path: *const c_char,
    pub max_history: usize,
    pub synchronous_normal: c_int,
    pub read_only: c_int,
    pub busy_timeout_ms: i64,
    pub cache_max_entries: usize,
    pub cache_max_bytes: usize,
    pub max_id_bytes: usize,
    pub max_data_bytes: usize,
    pub max_metadata_bytes: usize,
    pub vfs: *const c_char,
    pub call_time_limit_ms: i64,
    pub audit_key: *const c_void,
    pub audit_key_len: usize,
    pub on_audit_checkpoint: Option<hotstate_checkpoint_fn>,
    pub checkpoint_user_data: *mut c_void,
    pub audit_checkpoint_every: u64,
}

extern "C" {
    pub fn hotstate_code_name(code: hotstate_code) -> *const c_char;
    pub fn hotstate_last_error() -> *const c_char;
    pub fn hotstate_free(p: *mut c_void);
    pub fn hotstate_open_path(path: *const c_char, out: *mut *mut hotstate_db) -> hotstate_code;
    pub fn hotstate_options_init(options: *mut hotstate_options, struct_size: usize);
    pub fn hotstate_open(options: *const hotstate_options, out: *mut *mut hotstate_db) -> hotstate_code;
    pub fn hotstate_close(db: *mut hotstate_db);
    pub fn hotstate_set_max_history(db: *mut hotstate_db, max_history: usize, trimmed: *mut usize) -> hotstate_code;
    pub fn hotstate_save(db: *mut hotstate_db, json: *const c_char, json_len: usize, seq: *mut u64) -> hotstate_code;
    pub fn hotstate_save_all(db: *mut hotstate_db, json_array: *const c_char, json_array_len: usize, count: *mut usize) -> hotstate_code;
    pub fn hotstate_load(
        db: *mut hotstate_db,
        plugin_id: *const c_char,
        plugin_id_len: usize,
        json: *mut *mut c_char,
        json_len: *mut usize,
        seq: *mut u64,
    ) -> hotstate_code;
    pub fn hotstate_rollback(
        db: *mut hotstate_db,
        plugin_id: *const c_char,
        plugin_id_len: usize,
        json: *mut *mut c_char,
        json_len: *mut usize,
        seq: *mut u64,
    ) -> hotstate_code;
    pub fn hotstate_clear(db: *mut hotstate_db, plugin_id: *const c_char, plugin_id_len: usize) -> hotstate_code;
    pub fn hotstate_clear_all(db: *mut hotstate_db) -> hotstate_code;
    pub fn hotstate_history(
        db: *mut hotstate_db,
        plugin_id: *const c_char,
        plugin_id_len: usize,
        json: *mut *mut c_char,
        json_len: *mut usize,
    ) -> hotstate_code;
    pub fn hotstate_plugin_ids(db: *mut hotstate_db, json: *mut *mut c_char, json_len: *mut usize) -> hotstate_code;
}

pub type hotstate_migration_fn =
    unsafe extern "C" fn(user_data: *mut c_void, json: *const c_char, json_len: usize, result: *mut c_void) -> c_int;

extern "C" {
    pub fn hotstate_record_event(
        db: *mut hotstate_db,
        kind: *const c_char,
        plugin_id: *const c_char,
        plugin_id_len: usize,
        detail_json: *const c_char,
        detail_len: usize,
    ) -> hotstate_code;
    pub fn hotstate_audit_events(
        db: *mut hotstate_db,
        plugin_id: *const c_char,
        plugin_id_len: usize,
        kind: *const c_char,
        since_us: i64,
        limit: usize,
        newest_first: c_int,
        json: *mut *mut c_char,
        json_len: *mut usize,
    ) -> hotstate_code;
    pub fn hotstate_begin_reload(
        db: *mut hotstate_db,
        snapshot_json: *const c_char,
        snapshot_len: usize,
        to_version: *const c_char,
        to_version_len: usize,
        reload_id: *mut u64,
        snapshot_seq: *mut u64,
    ) -> hotstate_code;
    pub fn hotstate_finish_reload(
        db: *mut hotstate_db,
        reload_id: u64,
        success: c_int,
        error: *const c_char,
        error_len: usize,
        attempt: u32,
    ) -> hotstate_code;
    pub fn hotstate_finish_reload_pinning(db: *mut hotstate_db, reload_id: u64, label: *const c_char, label_len: usize) -> hotstate_code;
    pub fn hotstate_unfinished_reloads(db: *mut hotstate_db, json: *mut *mut c_char, json_len: *mut usize) -> hotstate_code;
    pub fn hotstate_resolve_reload(db: *mut hotstate_db, reload_id: u64, note: *const c_char, note_len: usize) -> hotstate_code;
    pub fn hotstate_set_plugin_state(
        db: *mut hotstate_db,
        plugin_id: *const c_char,
        plugin_id_len: usize,
        state: *const c_char,
        reason: *const c_char,
        reason_len: usize,
    ) -> hotstate_code;
    pub fn hotstate_plugin_state(
        db: *mut hotstate_db,
        plugin_id: *const c_char,
        plugin_id_len: usize,
        json: *mut *mut c_char,
        json_len: *mut usize,
    ) -> hotstate_code;
    pub fn hotstate_snapshot(
        db: *mut hotstate_db,
        plugin_id: *const c_char,
        plugin_id_len: usize,
        seq: u64,
        json: *mut *mut c_char,
        json_len: *mut usize,
    ) -> hotstate_code;
    pub fn hotstate_restore(
        db: *mut hotstate_db,
        plugin_id: *const c_char,
        plugin_id_len: usize,
        seq: u64,
        json: *mut *mut c_char,
        json_len: *mut usize,
        new_seq: *mut u64,
    ) -> hotstate_code;
    pub fn hotstate_pin(
        db: *mut hotstate_db,
        plugin_id: *const c_char,
        plugin_id_len: usize,
        seq: u64,
        label: *const c_char,
        label_len: usize,
    ) -> hotstate_code;
    pub fn hotstate_unpin(
        db: *mut hotstate_db,
        plugin_id: *const c_char,
        plugin_id_len: usize,
        label: *const c_char,
        label_len: usize,
        removed: *mut c_int,
    ) -> hotstate_code;
    pub fn hotstate_pinned(
        db: *mut hotstate_db,
        plugin_id: *const c_char,
        plugin_id_len: usize,
        label: *const c_char,
        label_len: usize,
        json: *mut *mut c_char,
        json_len: *mut usize,
        seq: *mut u64,
    ) -> hotstate_code;
    pub fn hotstate_pins(
        db: *mut hotstate_db,
        plugin_id: *const c_char,
        plugin_id_len: usize,
        json: *mut *mut c_char,
        json_len: *mut usize,
    ) -> hotstate_code;
    pub fn hotstate_backup(db: *mut hotstate_db, path: *const c_char) -> hotstate_code;
    pub fn hotstate_verify(db: *mut hotstate_db, ok: *mut c_int, json: *mut *mut c_char, json_len: *mut usize) -> hotstate_code;
    pub fn hotstate_verify_report(db: *mut hotstate_db, ok: *mut c_int, json: *mut *mut c_char, json_len: *mut usize) -> hotstate_code;
    pub fn hotstate_verify_extends(
        db: *mut hotstate_db,
        checkpoint_text: *const c_char,
        checkpoint_len: usize,
        ok: *mut c_int,
        json: *mut *mut c_char,
        json_len: *mut usize,
    ) -> hotstate_code;
    pub fn hotstate_audit_head(db: *mut hotstate_db, json: *mut *mut c_char, json_len: *mut usize) -> hotstate_code;
    pub fn hotstate_migration_result_set(result: *mut c_void, json: *const c_char, json_len: usize) -> hotstate_code;
    pub fn hotstate_migration_result_fail(result: *mut c_void, message: *const c_char, message_len: usize) -> hotstate_code;
    pub fn hotstate_register_migration(
        db: *mut hotstate_db,
        plugin_id: *const c_char,
        plugin_id_len: usize,
        from_major: c_int,
        to_major: c_int,
        migration: hotstate_migration_fn,
        user_data: *mut c_void,
    ) -> hotstate_code;
    pub fn hotstate_restore_for(
        db: *mut hotstate_db,
        plugin_id: *const c_char,
        plugin_id_len: usize,
        target_version: *const c_char,
        target_version_len: usize,
        json: *mut *mut c_char,
        json_len: *mut usize,
        seq: *mut u64,
    ) -> hotstate_code;
}
