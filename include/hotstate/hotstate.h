/* hotstate's C API: durable plugin hot-reload state in one SQLite file, for
 * hosts that are not written in C++ (Rust through FFI, Python through ctypes,
 * C itself). A thin layer over hotstate::StateManager (state_manager.hpp):
 * the same semantics, the same database, the same error codes.
 *
 * Conventions, which hold for every function below unless it says otherwise:
 *
 *  - Errors. A function that can fail returns a hotstate_code: HOTSTATE_OK on
 *    success, otherwise the reason. hotstate_last_error() then gives the
 *    details as text. No C++ exception ever leaves this API.
 *
 *  - Out-parameters are written only on success. On failure they keep
 *    whatever the caller put there. An out-pointer the function needs must
 *    not be NULL (HOTSTATE_INVALID_ARGUMENT); optional ones say "may be NULL".
 *
 *  - Text in. Plugin ids, versions, reasons, notes and JSON are
 *    (pointer, length) pairs: they may contain any bytes, NUL included, and
 *    need no terminating NUL. A NULL pointer with length 0 is the empty
 *    text; a NULL pointer with a non-zero length is HOTSTATE_INVALID_ARGUMENT.
 *    Ids and versions must be UTF-8: one rule on every function that takes
 *    one, reads and filters included (HOTSTATE_INVALID_UTF8 otherwise, and
 *    nothing is read or written). Names from a fixed list (an event kind, a
 *    plugin state) and file paths are NUL-terminated strings.
 *
 *  - Text out. Snapshots and query results come back as JSON text in a buffer
 *    that this library allocates and the caller releases with hotstate_free():
 *    NUL-terminated, its length (without the NUL) in the size_t out-parameter.
 *    A snapshot is the seed's own layout, exactly what
 *    hotstate::StateSnapshot::to_bytes() writes:
 *      {"plugin_id":…,"timestamp":…,"data":{…},"plugin_version":…,"metadata":{…}}
 *    A snapshot's position in its store's save order (its "seq") is not part
 *    of that layout; functions hand it out separately.
 *
 *  - Handles. A hotstate_db* is an opaque value that hotstate_open() gives
 *    out, not an address the caller may read. Every function looks its
 *    handle up among the open ones before it uses it, and never follows a
 *    value it did not give out: a handle that was closed, or any other value
 *    (garbage, an uninitialized variable), is HOTSTATE_INVALID_ARGUMENT with
 *    a message, and hotstate_close() ignores it. The value of a closed handle
 *    is not given out again (on a 32-bit platform: not within 2^28 opens), so
 *    a stale handle never reaches a database opened later. This protects
 *    bindings (finalizers of garbage-collected languages, double closes); it
 *    is no licence to pass garbage.
 *
 *  - Files prepared by someone else. Every write first checks that the
 *    file's triggers and indexes are exactly hotstate's and fails with
 *    HOTSTATE_UNTRUSTED_SCHEMA, writing nothing, when they are not. With
 *    options->call_time_limit_ms set, any call can fail with
 *    HOTSTATE_TIMED_OUT (a write then wrote nothing). Neither is repeated in
 *    the list of each function's failures below.
 *
 *  - Thread safety. One hotstate_db may be used by any number of threads at
 *    once, exactly as a StateManager: reads run concurrently, writes
 *    serialize. Every call is atomic with respect to the others.
 *    hotstate_close() may run while other threads call the same handle: the
 *    calls that already hold the handle finish normally (close waits for
 *    them, then closes the database), every call that comes later fails with
 *    HOTSTATE_INVALID_ARGUMENT. hotstate_last_error() is per thread.
 *
 * The header is C99 and C++; it includes only <stddef.h> and <stdint.h>. */
#ifndef HOTSTATE_HOTSTATE_H
#define HOTSTATE_HOTSTATE_H

#include <stddef.h>
#include <stdint.h>

/* Marks the functions of this API for export from a shared library built with
 * hidden visibility. */
#if defined(__GNUC__) || defined(__clang__)
#define HOTSTATE_C_API __attribute__((visibility("default")))
#else
#define HOTSTATE_C_API
#endif

/* The functions never throw; C++ callers may rely on it. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define HOTSTATE_NOEXCEPT noexcept
#else
#define HOTSTATE_NOEXCEPT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versions */

/* The version of this header: HOTSTATE_VERSION_MAJOR, _MINOR, _PATCH and
 * HOTSTATE_VERSION_STRING (from hotstate/version.h). hotstate_version()
 * gives the library's. */
#include "hotstate/version.h"

/* The library's version, e.g. "0.1.0". Never NULL; a static string. */
HOTSTATE_C_API const char* hotstate_version(void) HOTSTATE_NOEXCEPT;

/* The newest database schema version (PRAGMA user_version) this library
 * reads and writes. */
HOTSTATE_C_API int hotstate_schema_version(void) HOTSTATE_NOEXCEPT;

/* ---- Errors */

/* What went wrong. HOTSTATE_OK, then hotstate::ErrorCode in its order (see
 * error.hpp), then HOTSTATE_OUT_OF_MEMORY, then the codes added later. The
 * values are stable. */
typedef enum hotstate_code {
  HOTSTATE_OK = 0,                /* success */
  HOTSTATE_INVALID_ARGUMENT = 1,  /* an argument is outside what the API accepts (NULL handle, bad option, unknown name) */
  HOTSTATE_INVALID_UTF8 = 2,      /* text that must be UTF-8 (ids, versions, keys, strings) is not */
  HOTSTATE_INVALID_JSON = 3,      /* text is not one valid JSON value (syntax, encoding, nesting depth, number range) */
  HOTSTATE_INVALID_SNAPSHOT = 4,  /* valid JSON that is not a snapshot in the seed's layout */
  HOTSTATE_TYPE_MISMATCH = 5,     /* a JSON value does not have the type asked for (e.g. a detail that is not an object) */
  HOTSTATE_NON_FINITE_NUMBER = 6, /* NaN or an infinity where JSON can only hold finite numbers */
  HOTSTATE_NOT_A_DATABASE = 7,    /* the file is not a hotstate database; it was left untouched */
  HOTSTATE_NEWER_SCHEMA = 8,      /* the database was written by a newer hotstate; it was left untouched */
  HOTSTATE_CORRUPT = 9,           /* the database file is damaged, or a row breaks the schema's rules */
  HOTSTATE_CANNOT_OPEN = 10,      /* the database file or its directory could not be opened or created */
  HOTSTATE_READ_ONLY = 11,        /* the database, its directory or the handle does not allow writing */
  HOTSTATE_BUSY = 12,             /* another connection held a lock for longer than the busy timeout */
  HOTSTATE_DISK_FULL = 13,        /* the disk, or the database's page limit, is full */
  HOTSTATE_IO = 14,               /* the operating system reported an I/O error */
  HOTSTATE_CONSTRAINT = 15,       /* a write broke a rule of the schema (a CHECK, a trigger) */
  HOTSTATE_CONFLICT = 16,         /* a conditional save lost a race; a reload already finished */
  HOTSTATE_TOO_LARGE = 17,        /* an id, version, data or metadata is over its limit; nothing was written */
  HOTSTATE_INTERNAL = 18,         /* any other failure inside SQLite or hotstate; see hotstate_last_error() */
  HOTSTATE_OUT_OF_MEMORY = 19,    /* an allocation failed; nothing was written */
  HOTSTATE_UNTRUSTED_SCHEMA = 20, /* the file has triggers, views or indexes hotstate did not create, or changed ones (named in the message); nothing was written or migrated */
  HOTSTATE_TIMED_OUT = 21,        /* a call spent longer than options->call_time_limit_ms inside SQLite and was interrupted; a write was undone whole */
  HOTSTATE_NOT_FOUND = 22,        /* what the call names does not exist (an unknown reload id); nothing was written */
  HOTSTATE_UNAVAILABLE = 23       /* a remote database (PostgreSQL) could not be reached or failed the request; the local file is untouched */
} hotstate_code;

/* The name of a code, e.g. "Busy", "Ok", "OutOfMemory" (the names of
 * hotstate::ErrorCode). "Unknown" for a value that is no code. Never NULL; a
 * static string. Does not change hotstate_last_error(). */
HOTSTATE_C_API const char* hotstate_code_name(hotstate_code code) HOTSTATE_NOEXCEPT;

/* The details of the last failure on the calling thread: the message of the
 * last function that returned a hotstate_code other than HOTSTATE_OK, e.g.
 * "InvalidJson: …"; "" when the last such function succeeded (or none ran
 * yet). Never NULL. The text belongs to the library and stays valid until
 * the calling thread calls another function that returns a hotstate_code;
 * the functions that return no code (this one, hotstate_version,
 * hotstate_schema_version, hotstate_code_name, hotstate_options_init,
 * hotstate_free, hotstate_close) leave it as it is. */
HOTSTATE_C_API const char* hotstate_last_error(void) HOTSTATE_NOEXCEPT;

/* Releases a buffer that a function of this API returned. NULL is allowed and
 * does nothing. Use this, not free(): the library and the caller may not
 * share one C runtime. */
HOTSTATE_C_API void hotstate_free(void* p) HOTSTATE_NOEXCEPT;

/* ---- Opening and closing */

/* The value of hotstate_options.max_history that hotstate_options_init()
 * sets: no bound given. A new database gets 10; an existing one keeps its
 * own. */
#define HOTSTATE_MAX_HISTORY_DEFAULT ((size_t)-1)

/* An open database: a hotstate::StateManager. Opaque. */
typedef struct hotstate_db hotstate_db;

/* Receives the audit log's new head, a checkpoint (see
 * hotstate_options.on_audit_checkpoint): `json` (json_len bytes,
 * NUL-terminated, valid during the call only) is the checkpoint as
 * hotstate_audit_head() gives it. `user_data` is
 * hotstate_options.checkpoint_user_data. */
typedef void (*hotstate_checkpoint_fn)(void* user_data, const char* json, size_t json_len);

/* How to open a database (hotstate::Options). Fill it with
 * hotstate_options_init() first, then set the fields you need. Later
 * versions may add fields at the end only; struct_size says how much of the
 * struct the caller knows, so a binding built against an older header keeps
 * working with a newer library: hotstate_open() reads only the fields that
 * lie wholly within struct_size, the others keep their defaults. Added
 * later (absent from an older caller's struct): call_time_limit_ms; then
 * audit_key, audit_key_len, on_audit_checkpoint, checkpoint_user_data and
 * audit_checkpoint_every (the audit log's hash chain, issue 15). */
typedef struct hotstate_options {
  /* sizeof(hotstate_options) as the caller's header defines it; set by
   * hotstate_options_init(). */
  size_t struct_size;
  /* The database file (NUL-terminated), created when missing; ":memory:" for
   * a private database that vanishes with its handle. Required. The string is
   * copied; it need not outlive hotstate_open(). */
  const char* path;
  /* History entries kept per plugin besides the current snapshot (0 keeps
   * none), for a database that hotstate_open() creates; at most 2147483647.
   * HOTSTATE_MAX_HISTORY_DEFAULT (the default): 10. The bound lives in the
   * database and holds for every writer. Opening an existing database never
   * changes it, whatever this says: the file keeps its own bound
   * (hotstate_max_history() tells which) and every row, so a second program
   * or a tool opened with other options cannot trim anybody's history.
   * Change it on purpose with hotstate_set_max_history(). */
  size_t max_history;
  /* Non-zero: PRAGMA synchronous=NORMAL, commits survive a crash of the
   * process but the newest may be lost on power loss. 0 (default): FULL,
   * every commit is fsynced before the write returns. */
  int synchronous_normal;
  /* Non-zero: open for reading only; nothing is created or migrated, every
   * write returns HOTSTATE_READ_ONLY. Default 0. */
  int read_only;
  /* How long a write waits for another connection's lock before it returns
   * HOTSTATE_BUSY, in milliseconds; not negative. Default 5000. */
  int64_t busy_timeout_ms;
  /* The cache of current snapshots: at most this many plugins (0 turns it
   * off; default 4096) and about this many bytes (default 64 MiB). */
  size_t cache_max_entries;
  size_t cache_max_bytes;
  /* Size limits, checked before anything is written (HOTSTATE_TOO_LARGE): a
   * plugin id or version (default 1024 bytes), a snapshot's data and its
   * metadata as compact JSON (default 16 MiB and 1 MiB). */
  size_t max_id_bytes;
  size_t max_data_bytes;
  size_t max_metadata_bytes;
  /* The SQLite VFS to open the database with (NUL-terminated); NULL
   * (default) for SQLite's default VFS. */
  const char* vfs;
  /* How long one call may spend inside SQLite before it is interrupted and
   * fails with HOTSTATE_TIMED_OUT (a write is then undone whole), in
   * milliseconds; not negative. 0 (default): no bound. Waiting for another
   * connection's lock is bounded by busy_timeout_ms instead. For tools that
   * open files prepared by someone else. Added later than the fields
   * above: a caller whose struct_size ends before it gets 0. */
  int64_t call_time_limit_ms;
  /* The audit log's hash chain (hotstate/checkpoint.hpp; added later than
   * the fields above, like every field below: a caller whose struct_size
   * ends before one gets its default). Every audit event is chained with
   * SHA3-256 whatever these say; a checkpoint (hotstate_audit_head())
   * kept where the database does not reach lets hotstate_verify_extends()
   * prove later that the log was not changed.
   *
   * audit_key, audit_key_len: a secret only the host holds (any bytes, NUL
   * included; use 32 random bytes), never written to the database. With
   * it, hotstate signs every event it chains and every checkpoint with
   * HMAC-SHA3-256 (the checkpoint's "signature"), and verify checks them, so
   * that a log rewritten with a consistent new chain, or an event of a kind
   * only hotstate writes that another client inserted, is detected. NULL
   * with 0 (default): no signatures. Copied; need not outlive
   * hotstate_open(). NULL with a non-zero length is
   * HOTSTATE_INVALID_ARGUMENT. */
  const void* audit_key;
  size_t audit_key_len;
  /* Called with the audit log's new head after a write of this handle that
   * chained events, once at least audit_checkpoint_every events were
   * chained since the last call (default 1: after every such write; 0 is
   * taken as 1), so that the host can keep checkpoints where the database
   * does not reach. Called on the thread of the write, inside the
   * hotstate_* call that wrote, after its commit (no transaction or lock of
   * hotstate's held), one call at a time, with checkpoints in increasing
   * order (one overtaken by a newer one is skipped). It must not call this
   * API with the same handle (that call is in progress on this thread);
   * other handles are fine. NULL (default): none. checkpoint_user_data is
   * passed to every call and must stay valid while the handle is open. */
  hotstate_checkpoint_fn on_audit_checkpoint;
  void* checkpoint_user_data;
  uint64_t audit_checkpoint_every;
} hotstate_options;

/* Fills *options with the defaults (path NULL, max_history
 * HOTSTATE_MAX_HISTORY_DEFAULT, call_time_limit_ms 0, no audit key, no
 * checkpoint callback, audit_checkpoint_every 1) and sets
 * struct_size; pass the size of the caller's struct:
 * hotstate_options_init(&options, sizeof options). Writes nothing beyond
 * `struct_size` bytes. Does nothing for NULL or a struct_size too small to
 * hold struct_size itself. */
HOTSTATE_C_API void hotstate_options_init(hotstate_options* options, size_t struct_size) HOTSTATE_NOEXCEPT;

/* Opens (or creates) the database options->path and brings its schema up
 * to date. A new database gets options->max_history; opening an existing
 * one changes nothing else: not its history bound, not a row. The path is a
 * file name, never a SQLite URI. On success stores a new handle in *out;
 * release it with hotstate_close(). Fails with HOTSTATE_NOT_A_DATABASE for
 * a file that is not a hotstate database, HOTSTATE_NEWER_SCHEMA for a
 * database of a newer hotstate (both left untouched),
 * HOTSTATE_UNTRUSTED_SCHEMA for an older database whose schema is not
 * exactly the one hotstate created (not migrated), HOTSTATE_CANNOT_OPEN,
 * HOTSTATE_READ_ONLY (a file or directory that cannot be written: open it
 * with read_only), HOTSTATE_BUSY, HOTSTATE_CORRUPT,
 * HOTSTATE_INVALID_ARGUMENT (NULL options, out or path, an empty path, a
 * bad option such as a max_history above 2147483647, a negative
 * busy_timeout_ms or call_time_limit_ms, or an audit_key that is NULL with a
 * non-zero audit_key_len, a struct_size that is not set or comes from a
 * newer hotstate whose options this library does not know). */
HOTSTATE_C_API hotstate_code hotstate_open(const hotstate_options* options, hotstate_db** out) HOTSTATE_NOEXCEPT;

/* hotstate_open() with the default options and `path`. */
HOTSTATE_C_API hotstate_code hotstate_open_path(const char* path, hotstate_db** out) HOTSTATE_NOEXCEPT;

/* Closes the database and releases the handle. Calls on the handle that
 * other threads are running finish first (close waits for them); when close
 * returns, the database is closed and every later call with the handle
 * fails with HOTSTATE_INVALID_ARGUMENT. NULL, a handle closed already (a
 * double close) and any value that is not an open handle are allowed and do
 * nothing. Every write was already durable when it returned; closing loses
 * nothing. */
HOTSTATE_C_API void hotstate_close(hotstate_db* db) HOTSTATE_NOEXCEPT;

/* ---- The history bound */

/* The history bound the database holds now (see hotstate_options.max_history):
 * on success stores it in *out. Reads the database, so it sees a change
 * another process made. */
HOTSTATE_C_API hotstate_code hotstate_max_history(hotstate_db* db, size_t* out) HOTSTATE_NOEXCEPT;

/* Changes the database's history bound to `max_history`, for every writer,
 * in one durable transaction: lowering it trims every plugin's history at
 * once. The change and each trimmed row are recorded in the audit log
 * (MaxHistoryChanged {from, to}, HistoryTrimmed {seq, content_hash}).
 * Setting the bound the database has changes nothing. On success stores how
 * many history rows it removed in *trimmed (may be NULL). Fails with
 * HOTSTATE_INVALID_ARGUMENT above 2147483647 (HOTSTATE_MAX_HISTORY_DEFAULT
 * included), HOTSTATE_READ_ONLY, HOTSTATE_BUSY, HOTSTATE_DISK_FULL,
 * HOTSTATE_IO; then nothing was written. */
HOTSTATE_C_API hotstate_code hotstate_set_max_history(hotstate_db* db, size_t max_history,
                                                      size_t* trimmed) HOTSTATE_NOEXCEPT;

/* ---- Snapshots */

/* Makes the snapshot `json` (the seed's layout: to_bytes() output or the
 * seed's persisted files; unknown members are ignored) the current snapshot
 * of its plugin_id; the previous current one becomes the newest history
 * entry, and history beyond the database's bound is dropped. One durable
 * transaction. Every timestamp the seed's u64 holds (up to 2^64-1) is
 * stored exactly. On success stores the new snapshot's seq in *seq (may be
 * NULL). Fails with HOTSTATE_INVALID_JSON, HOTSTATE_INVALID_SNAPSHOT,
 * HOTSTATE_TOO_LARGE, HOTSTATE_READ_ONLY, HOTSTATE_BUSY,
 * HOTSTATE_DISK_FULL, HOTSTATE_IO; then nothing was written. */
HOTSTATE_C_API hotstate_code hotstate_save(hotstate_db* db, const char* json, size_t json_len,
                                           uint64_t* seq) HOTSTATE_NOEXCEPT;

/* Saves every snapshot of `json_array` (a JSON array of snapshots in the
 * seed's layout), in order, in one durable transaction: all of them or, on
 * any failure, none. *count (may be NULL) is how many were saved. Fails as
 * hotstate_save() does, naming the element that was refused. */
HOTSTATE_C_API hotstate_code hotstate_save_all(hotstate_db* db, const char* json_array, size_t json_array_len,
                                               size_t* count) HOTSTATE_NOEXCEPT;

/* hotstate_save(), but only if the plugin's current snapshot still has seq
 * `expected_seq` (0: only if the plugin has no snapshot), e.g. the seq that
 * hotstate_load() gave. Fails with HOTSTATE_CONFLICT, writing nothing, when
 * another save, rollback or clear came first; otherwise as hotstate_save(). */
HOTSTATE_C_API hotstate_code hotstate_save_if(hotstate_db* db, const char* json, size_t json_len,
                                              uint64_t expected_seq, uint64_t* seq) HOTSTATE_NOEXCEPT;

/* The current snapshot of the plugin `plugin_id`. On success: *json is a
 * buffer with the snapshot (free it with hotstate_free()), *json_len its
 * length, and *seq (may be NULL) its seq; when the plugin has no snapshot,
 * *json is NULL, *json_len 0 and *seq 0, and the result is HOTSTATE_OK.
 * Reads the database, so it sees what other processes committed. */
HOTSTATE_C_API hotstate_code hotstate_load(hotstate_db* db, const char* plugin_id, size_t plugin_id_len,
                                           char** json, size_t* json_len, uint64_t* seq) HOTSTATE_NOEXCEPT;

/* The same as hotstate_load() (the seed's get_latest). */
HOTSTATE_C_API hotstate_code hotstate_get_latest(hotstate_db* db, const char* plugin_id, size_t plugin_id_len,
                                                 char** json, size_t* json_len, uint64_t* seq) HOTSTATE_NOEXCEPT;

/* Discards the current snapshot of `plugin_id` and makes the newest history
 * entry current, in one durable transaction; returns that entry as
 * hotstate_load() does. With no history, changes nothing and returns
 * HOTSTATE_OK with *json NULL, *json_len 0 and *seq 0. Fails as
 * hotstate_save() does for writing. */
HOTSTATE_C_API hotstate_code hotstate_rollback(hotstate_db* db, const char* plugin_id, size_t plugin_id_len,
                                               char** json, size_t* json_len, uint64_t* seq) HOTSTATE_NOEXCEPT;

/* Removes the plugin's current snapshot and its history. Succeeds, changing
 * nothing, for an unknown plugin. */
HOTSTATE_C_API hotstate_code hotstate_clear(hotstate_db* db, const char* plugin_id,
                                            size_t plugin_id_len) HOTSTATE_NOEXCEPT;

/* Removes every plugin's snapshots. */
HOTSTATE_C_API hotstate_code hotstate_clear_all(hotstate_db* db) HOTSTATE_NOEXCEPT;

/* The plugin's history, without its current snapshot: on success *json is a
 * JSON array of snapshots, oldest first, each in the seed's layout ("[]"
 * for none); free it with hotstate_free(). */
HOTSTATE_C_API hotstate_code hotstate_history(hotstate_db* db, const char* plugin_id, size_t plugin_id_len,
                                              char** json, size_t* json_len) HOTSTATE_NOEXCEPT;

/* Every plugin with a current snapshot: on success *json is a JSON array of
 * strings, sorted by the bytes of the id; free it with hotstate_free(). */
HOTSTATE_C_API hotstate_code hotstate_plugin_ids(hotstate_db* db, char** json, size_t* json_len) HOTSTATE_NOEXCEPT;

/* ---- The audit log */

/* Records a host's reload event in the audit log, durably. `kind` is one of
 * "ReloadStarted", "StatePreserved", "StateRestored", "ReloadCompleted",
 * "ReloadFailed", "RollbackTriggered", "PluginDiscovered", "PluginRemoved"
 * (NUL-terminated; anything else is HOTSTATE_INVALID_ARGUMENT).
 * `detail_json` is a JSON object with the event's fields, e.g.
 * {"success":true,"duration_us":1200} for ReloadCompleted; an empty text
 * (length 0, the pointer may be NULL) for none ({}). Fails with HOTSTATE_INVALID_JSON, HOTSTATE_TYPE_MISMATCH
 * (a detail that is not an object), HOTSTATE_INVALID_UTF8 or
 * HOTSTATE_TOO_LARGE (the id; a detail over max_metadata_bytes),
 * HOTSTATE_READ_ONLY, HOTSTATE_BUSY, HOTSTATE_DISK_FULL, HOTSTATE_IO; then
 * nothing was written. */
HOTSTATE_C_API hotstate_code hotstate_record_event(hotstate_db* db, const char* kind, const char* plugin_id,
                                                   size_t plugin_id_len, const char* detail_json,
                                                   size_t detail_len) HOTSTATE_NOEXCEPT;

/* Events of the audit log, both those hotstate writes itself (SnapshotSaved,
 * RolledBack, ReloadStarted, … see audit.hpp) and those a host recorded.
 * Selects: the plugin `plugin_id`, or every plugin when plugin_id is NULL (a
 * non-NULL empty id selects the database-wide events such as ClearedAll);
 * the kind `kind` (NUL-terminated), or every kind when NULL; events at or
 * after `since_us` (microseconds since the Unix epoch; INT64_MIN for no
 * bound); at most `limit` events (0: no limit); newest first when
 * `newest_first` is non-zero, else oldest first (by event order). On success
 * *json is a JSON array of objects
 *   {"detail":{…},"id":N,"kind":"…","plugin_id":"…","time":"…","time_us":N}
 * (detail is the event's JSON object; a detail text that another client
 * wrote and that is not JSON comes as a JSON string; time is time_us as
 * ISO-8601 UTC, "2026-11-25T03:33:54.272233Z", as the view audit_log shows
 * it); free it with hotstate_free(). */
HOTSTATE_C_API hotstate_code hotstate_audit_events(hotstate_db* db, const char* plugin_id, size_t plugin_id_len,
                                                   const char* kind, int64_t since_us, size_t limit,
                                                   int newest_first, char** json, size_t* json_len) HOTSTATE_NOEXCEPT;

/* ---- The reload journal */

/* Begins a reload, in one durable transaction: saves the snapshot
 * `snapshot_json` (as hotstate_save()) as its plugin's current snapshot,
 * records the reload in the journal with a copy of it, and a ReloadStarted
 * event. `to_version`: the version about to be loaded (empty when unknown).
 * On success stores the reload's id in *reload_id (for
 * hotstate_finish_reload) and the saved snapshot's seq in *snapshot_seq
 * (may be NULL). Fails as hotstate_save(); then nothing was written. */
HOTSTATE_C_API hotstate_code hotstate_begin_reload(hotstate_db* db, const char* snapshot_json, size_t snapshot_len,
                                                   const char* to_version, size_t to_version_len,
                                                   uint64_t* reload_id, uint64_t* snapshot_seq) HOTSTATE_NOEXCEPT;

/* Finishes reload `reload_id`, in one durable transaction: records its
 * outcome in the journal and ReloadCompleted {success, duration_us} in the
 * audit log, preceded by ReloadFailed {error, attempt} when `success` is 0.
 * `error`: why it failed (empty on success). `attempt`: which attempt this
 * was, from 1. Fails with HOTSTATE_NOT_FOUND for an unknown reload,
 * HOTSTATE_CONFLICT for one that already finished or was resolved,
 * HOTSTATE_INVALID_UTF8 for an error text that is not UTF-8, and as
 * hotstate_record_event() for writing. */
HOTSTATE_C_API hotstate_code hotstate_finish_reload(hotstate_db* db, uint64_t reload_id, int success,
                                                    const char* error, size_t error_len,
                                                    uint32_t attempt) HOTSTATE_NOEXCEPT;

/* Reloads that began and did not finish (their host died, or another live
 * process is running them now), oldest first. On success *json is a JSON
 * array of objects
 *   {"id":N,"plugin_id":"…","from_version":"…","to_version":"…",
 *    "started_at_us":N,"last_good":{snapshot},"last_good_seq":N}
 * where last_good is the snapshot begin_reload saved, in the seed's layout
 * (hotstate_save() accepts it as it is); free it with hotstate_free(). */
HOTSTATE_C_API hotstate_code hotstate_unfinished_reloads(hotstate_db* db, char** json,
                                                         size_t* json_len) HOTSTATE_NOEXCEPT;

/* Marks unfinished reload `reload_id` resolved, with `note` (may be empty),
 * and records ReloadResolved, in one durable transaction. Fails as
 * hotstate_finish_reload(). */
HOTSTATE_C_API hotstate_code hotstate_resolve_reload(hotstate_db* db, uint64_t reload_id, const char* note,
                                                     size_t note_len) HOTSTATE_NOEXCEPT;

/* ---- Plugin life cycle */

/* Persists the plugin's life-cycle state. `state` is one of "Unloaded",
 * "Loading", "Loaded", "Running", "Reloading", "Failed", "Unloading"
 * (NUL-terminated; anything else is HOTSTATE_INVALID_ARGUMENT). `reason` is
 * the reason of a Failed state; for any other state it must be empty
 * (HOTSTATE_INVALID_ARGUMENT). A change is recorded in the audit log
 * (PluginStateChanged) in the same transaction; setting the state the plugin
 * already has changes nothing. Fails with HOTSTATE_INVALID_UTF8 or
 * HOTSTATE_TOO_LARGE for the id or reason, and as hotstate_record_event()
 * for writing. */
HOTSTATE_C_API hotstate_code hotstate_set_plugin_state(hotstate_db* db, const char* plugin_id, size_t plugin_id_len,
                                                       const char* state, const char* reason,
                                                       size_t reason_len) HOTSTATE_NOEXCEPT;

/* The plugin's persisted life-cycle state ("Unloaded" for a plugin never
 * set): on success *json is a JSON object {"reason":"…","state":"…"}
 * (reason empty unless the state is "Failed"); free it with hotstate_free(). */
HOTSTATE_C_API hotstate_code hotstate_plugin_state(hotstate_db* db, const char* plugin_id, size_t plugin_id_len,
                                                   char** json, size_t* json_len) HOTSTATE_NOEXCEPT;

/* ---- Maintenance */

/* Writes a consistent copy of the database to `path` (NUL-terminated) with
 * SQLite's online backup API while writers go on; `path` is either its old
 * self or the whole copy (see StateManager::backup). Fails with
 * HOTSTATE_INVALID_ARGUMENT when `path` is this database itself,
 * HOTSTATE_CANNOT_OPEN, HOTSTATE_IO or HOTSTATE_DISK_FULL. */
HOTSTATE_C_API hotstate_code hotstate_backup(hotstate_db* db, const char* path) HOTSTATE_NOEXCEPT;

/* Replication to PostgreSQL (hotstate/replication.hpp; README "Fleets").
 * Ships every change committed before the call to the PostgreSQL database at
 * `url` (NUL-terminated; a libpq URL or key=value string) as host `host_id`
 * (NUL-terminated, not empty), as StateManager::replicate_once does: one
 * PostgreSQL transaction per batch with the position, exactly once. On
 * success *json (may be NULL with json_len NULL: not wanted) is
 *   {"batches":N,"events":N,"missed":N,"position":N}
 * Fails with HOTSTATE_UNAVAILABLE (PostgreSQL unreachable or failing: what
 * committed before stays shipped), HOTSTATE_CONFLICT (another file ships as
 * this host id), HOTSTATE_NEWER_SCHEMA. */
HOTSTATE_C_API hotstate_code hotstate_replicate_once(hotstate_db* db, const char* url, const char* host_id, char** json,
                                                     size_t* json_len) HOTSTATE_NOEXCEPT;

/* Rebuilds host `host_id`'s file from the PostgreSQL database at `url` into a
 * new file at `db_path` (which must not exist), as hotstate::restore_from
 * does. On success *json (may be NULL with json_len NULL) is
 *   {"events":N,"pins":N,"position":N,"reloads":N,"snapshots":N}
 * Fails with HOTSTATE_NOT_FOUND (no such host), HOTSTATE_UNAVAILABLE,
 * HOTSTATE_INVALID_ARGUMENT (db_path exists). */
HOTSTATE_C_API hotstate_code hotstate_restore_from(const char* url, const char* host_id, const char* db_path,
                                                   char** json, size_t* json_len) HOTSTATE_NOEXCEPT;

/* Checks the file as StateManager::verify does, the audit log's hash chain
 * included (with options->audit_key: every signature too). On success *ok
 * is 1 when it found no problem, else 0, and *json (may be NULL with
 * json_len NULL: not wanted) is a JSON array of the problems, one sentence
 * each; free it with hotstate_free(). The whole report, with the audit
 * log's head, comes from hotstate_verify_report(). */
HOTSTATE_C_API hotstate_code hotstate_verify(hotstate_db* db, int* ok, char** json, size_t* json_len) HOTSTATE_NOEXCEPT;

/* hotstate_verify() with the whole report: on success *ok as there, and
 * *json (may be NULL with json_len NULL: not wanted) a JSON object
 *   {"audit_head":{checkpoint},"ok":true|false,"problems":["…",…],
 *    "schema_version":N,"unchained_events":N}
 * where audit_head is the audit log's head as verify found it, in
 * hotstate_audit_head()'s layout (signed with options->audit_key, if any),
 * and unchained_events the newest events another client wrote that no
 * hotstate has chained yet (not a problem); free it with hotstate_free().
 * (hotstate_verify() keeps its JSON array: an object in its place would
 * break the callers that read one.) */
HOTSTATE_C_API hotstate_code hotstate_verify_report(hotstate_db* db, int* ok, char** json,
                                                    size_t* json_len) HOTSTATE_NOEXCEPT;

/* hotstate_verify_report(), and also that the audit log still extends the
 * checkpoint `checkpoint_text` (checkpoint_len bytes, no NUL needed), one
 * taken earlier (hotstate_audit_head(), options->on_audit_checkpoint) in
 * its "ID:HASH" form (the checkpoint's "text": a decimal event id, ':' and
 * its chain hash of 64 hex digits, either case). A log rewritten up to the
 * checkpoint, its newest events removed, or the checkpoint's event removed
 * by a prune since (which cannot be checked: take newer checkpoints) are
 * problems (*ok 0; one says "does not extend checkpoint …" for a chain
 * hash that differs), not failures. Fails with HOTSTATE_INVALID_ARGUMENT
 * for a text that is not ID:HASH (or NULL with a non-zero length). Reads
 * only. */
HOTSTATE_C_API hotstate_code hotstate_verify_extends(hotstate_db* db, const char* checkpoint_text,
                                                     size_t checkpoint_len, int* ok, char** json,
                                                     size_t* json_len) HOTSTATE_NOEXCEPT;

/* The audit log's checkpoint now (StateManager::audit_head): its newest
 * chained event, the chain hash there and how many events the chain holds,
 * signed with options->audit_key if any. On success *json is a JSON object
 *   {"chain_hash":"<64 hex>","event_count":N,"event_id":N,
 *    "signature":"<64 hex>","text":"ID:HASH","time":"…","time_us":N}
 * (signature only with an audit key; time is time_us as ISO-8601 UTC; an
 * empty log has event_id 0 and a chain hash of 64 zeros); free it with
 * hotstate_free(). Keep it (or its "text") where the database does not
 * reach, and check the log later with hotstate_verify_extends(). Reads
 * only. */
HOTSTATE_C_API hotstate_code hotstate_audit_head(hotstate_db* db, char** json, size_t* json_len) HOTSTATE_NOEXCEPT;

/* ---- State across versions: stored snapshots, restores, pins, migrations
 *
 * Snapshots come back as hotstate_load() gives them: *json a buffer in the
 * seed's layout (free it with hotstate_free()), *json_len its length, *seq
 * (may be NULL) its seq; when there is none, *json NULL, *json_len 0, *seq 0
 * and HOTSTATE_OK. See state_manager.hpp and pin.hpp for the contracts. */

/* The plugin's stored snapshot `seq`: current, history or pinned. */
HOTSTATE_C_API hotstate_code hotstate_snapshot(hotstate_db* db, const char* plugin_id, size_t plugin_id_len,
                                               uint64_t seq, char** json, size_t* json_len) HOTSTATE_NOEXCEPT;

/* The snapshot that was the plugin's current one at `time_us` (microseconds
 * since the Unix epoch), when it is still stored. HOTSTATE_NOT_FOUND for a
 * time before the audit log's newest retention prune. */
HOTSTATE_C_API hotstate_code hotstate_snapshot_at(hotstate_db* db, const char* plugin_id, size_t plugin_id_len,
                                                  int64_t time_us, char** json, size_t* json_len,
                                                  uint64_t* seq) HOTSTATE_NOEXCEPT;

/* Makes a copy of the stored snapshot `seq` the plugin's current one (a new
 * seq), audited as Restored; nothing is deleted but what the history bound
 * trims. Gives the new current snapshot. HOTSTATE_NOT_FOUND when `seq` is not
 * stored for the plugin. */
HOTSTATE_C_API hotstate_code hotstate_restore(hotstate_db* db, const char* plugin_id, size_t plugin_id_len,
                                              uint64_t seq, char** json, size_t* json_len,
                                              uint64_t* new_seq) HOTSTATE_NOEXCEPT;

/* Pins the stored snapshot `seq` under `label` (moving the label), audited
 * as Pinned. HOTSTATE_NOT_FOUND when `seq` is not stored for the plugin,
 * HOTSTATE_INVALID_ARGUMENT for an empty label. */
HOTSTATE_C_API hotstate_code hotstate_pin(hotstate_db* db, const char* plugin_id, size_t plugin_id_len, uint64_t seq,
                                          const char* label, size_t label_len) HOTSTATE_NOEXCEPT;

/* Removes the pin, audited as Unpinned; *removed (may be NULL) is 1, or 0
 * when the plugin had no such pin (nothing written). */
HOTSTATE_C_API hotstate_code hotstate_unpin(hotstate_db* db, const char* plugin_id, size_t plugin_id_len,
                                            const char* label, size_t label_len, int* removed) HOTSTATE_NOEXCEPT;

/* The snapshot pinned under `label`. */
HOTSTATE_C_API hotstate_code hotstate_pinned(hotstate_db* db, const char* plugin_id, size_t plugin_id_len,
                                             const char* label, size_t label_len, char** json, size_t* json_len,
                                             uint64_t* seq) HOTSTATE_NOEXCEPT;

/* The pins of the plugin, or of every plugin when plugin_id_len is 0: *json
 * is a JSON array of {"plugin_id","label","seq","plugin_version",
 * "pinned_at_us","pinned" (ISO-8601 UTC),"in_snapshots"}; free it with
 * hotstate_free(). */
HOTSTATE_C_API hotstate_code hotstate_pins(hotstate_db* db, const char* plugin_id, size_t plugin_id_len, char** json,
                                           size_t* json_len) HOTSTATE_NOEXCEPT;

/* hotstate_finish_reload() of a success that also pins the plugin's current
 * snapshot under `label` ("last-known-good" when label_len is 0), in the
 * same transaction. */
HOTSTATE_C_API hotstate_code hotstate_finish_reload_pinning(hotstate_db* db, uint64_t reload_id, const char* label,
                                                            size_t label_len) HOTSTATE_NOEXCEPT;

/* What a migration gives back: see hotstate_migration_fn. */
typedef struct hotstate_migration_result hotstate_migration_result;

/* A state migration: receives a snapshot in the seed's layout (json,
 * json_len; valid during the call) and gives the migrated snapshot, in the
 * same layout, with hotstate_migration_result_set(result, …) before it
 * returns 0. Any other return value, or 0 without a result, says it failed:
 * hotstate_restore_for() then passes over that snapshot (recorded as
 * RestoreSkipped) and tries an older one. Called on the thread that calls
 * hotstate_restore_for(), with no hotstate lock held. */
typedef int (*hotstate_migration_fn)(void* user_data, const char* json, size_t json_len,
                                     hotstate_migration_result* result);

/* Sets what a migration gives back (copied). Only inside the migration's
 * call, with the `result` it received. */
HOTSTATE_C_API hotstate_code hotstate_migration_result_set(hotstate_migration_result* result, const char* json,
                                                           size_t json_len) HOTSTATE_NOEXCEPT;

/* Says why a migration failed (copied), for the RestoreSkipped event; the
 * migration then returns non-zero. Only inside the migration's call. */
HOTSTATE_C_API hotstate_code hotstate_migration_result_fail(hotstate_migration_result* result, const char* message,
                                                            size_t message_len) HOTSTATE_NOEXCEPT;

/* Registers (or replaces) the migration of the plugin's state (every
 * plugin's when plugin_id_len is 0) from major version `from_major` to
 * `to_major`, either direction; restore_for chains them. `user_data` is
 * passed to each call and must stay valid while `db` is open. Registrations
 * live in this handle, not in the file. HOTSTATE_INVALID_ARGUMENT for equal
 * majors or a NULL function. */
HOTSTATE_C_API hotstate_code hotstate_register_migration(hotstate_db* db, const char* plugin_id, size_t plugin_id_len,
                                                         int from_major, int to_major, hotstate_migration_fn migration,
                                                         void* user_data) HOTSTATE_NOEXCEPT;

/* The state a plugin at `target_version` should start from (see
 * StateManager::restore_for): the newest compatible stored snapshot as it
 * is, else the newest one a chain of registered migrations takes to the
 * target's major, saved as the current snapshot with StateMigrated in one
 * transaction. None: *json NULL and HOTSTATE_OK. */
HOTSTATE_C_API hotstate_code hotstate_restore_for(hotstate_db* db, const char* plugin_id, size_t plugin_id_len,
                                                  const char* target_version, size_t target_version_len,
                                                  char** json, size_t* json_len, uint64_t* seq) HOTSTATE_NOEXCEPT;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* HOTSTATE_HOTSTATE_H */
