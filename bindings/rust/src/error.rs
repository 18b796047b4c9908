//! The errors of hotstate: a code (include/hotstate/hotstate.h, hotstate_code)
//! and the library's message.
use std::ffi::CStr;
use std::fmt;

use crate::ffi;

/// A failed call: its code's name (`"Busy"`, `"DiskFull"`, …, as
/// `hotstate_code_name` gives it), the numeric code, and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The C API's code (`HOTSTATE_*`).
    pub code: i32,
    /// Its name, e.g. "Conflict".
    pub name: String,
    /// What happened, as the library says it.
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The error of the call that just returned `code` on this thread.
    pub(crate) fn last(code: ffi::hotstate_code) -> Error {
        // SAFETY: both return NUL-terminated static or thread-local strings.
        let name = unsafe { CStr::from_ptr(ffi::hotstate_code_name(code)) }.to_string_lossy().into_owned();
        let message = unsafe { CStr::from_ptr(ffi::hotstate_last_error()) }.to_string_lossy().into_owned();
        Error { code, name, message }
    }

    pub(crate) fn new(name: &str, message: String) -> Error {
        Error { code: -1, name: name.to_string(), message }
    }
}

/// `Result<T, hotstate::Error>`.
pub type Result<T> = std::result::Result<T, Error>;
