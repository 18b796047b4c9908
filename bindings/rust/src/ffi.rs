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

extern "C" {
    pub fn hotstate_code_name(code: hotstate_code) -> *const c_char;
    pub fn hotstate_last_error() -> *const c_char;
    pub fn hotstate_free(p: *mut c_void);
    pub fn hotstate_open_path(path: *const c_char, out: *mut *mut hotstate_db) -> hotstate_code;
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
