// The C API (include/hotstate/hotstate.h): a StateManager behind an opaque
// handle. Every entry point catches everything: no exception crosses into C.
//
// Handles. A hotstate_db* is a token, not an address: the key of the open
// handle in a process-wide registry (token -> shared_ptr<Handle>). Every
// entry point looks its token up and holds the Handle (and a shared lock on
// it) for the whole call; hotstate_close removes the token, then takes the
// lock exclusively, which waits for the calls in flight, and destroys the
// StateManager. So a closed, never-valid or garbage handle is a lookup that
// fails (InvalidArgument), never a dereference, and a close racing with calls
// on other threads never frees memory under them. Tokens are not reused (a
// heap address would be, by the next open: a stale handle would then reach
// somebody else's database), and on 64-bit platforms they are not canonical
// addresses, so one can never alias real memory.
#include "hotstate/hotstate.h"

#include <algorithm>
#include <cstddef>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <shared_mutex>  // std::shared_lock
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hotstate/hotstate.hpp"
#include "model/mutex.hpp"

// struct hotstate_db stays incomplete: a handle is a token (see above).

// What a C migration gives back (hotstate_migration_result_set).
struct hotstate_migration_result {
  std::optional<std::string> json;
  std::optional<std::string> error;  // why it failed (hotstate_migration_result_fail)
};

namespace {

using hotstate::Error;
using hotstate::ErrorCode;
using hotstate::Json;
using hotstate::JsonWriter;
using hotstate::StateSnapshot;
using hotstate::internal::ReaderLock;
using hotstate::internal::SharedMutex;
using hotstate::internal::WriterLock;

static_assert(HOTSTATE_VERSION_MAJOR == hotstate::version_major);
static_assert(HOTSTATE_VERSION_MINOR == hotstate::version_minor);
static_assert(HOTSTATE_VERSION_PATCH == hotstate::version_patch);
static_assert(std::string_view(HOTSTATE_VERSION_STRING) == std::string_view(hotstate::version_string));

// The C codes, by ErrorCode. A switch without a default: adding an ErrorCode
// without a C code is a -Wswitch warning (an error with HOTSTATE_WERROR).
hotstate_code to_c(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::InvalidArgument: return HOTSTATE_INVALID_ARGUMENT;
    case ErrorCode::InvalidUtf8: return HOTSTATE_INVALID_UTF8;
    case ErrorCode::InvalidJson: return HOTSTATE_INVALID_JSON;
    case ErrorCode::InvalidSnapshot: return HOTSTATE_INVALID_SNAPSHOT;
    case ErrorCode::TypeMismatch: return HOTSTATE_TYPE_MISMATCH;
    case ErrorCode::NonFiniteNumber: return HOTSTATE_NON_FINITE_NUMBER;
    case ErrorCode::NotADatabase: return HOTSTATE_NOT_A_DATABASE;
    case ErrorCode::NewerSchema: return HOTSTATE_NEWER_SCHEMA;
    case ErrorCode::Corrupt: return HOTSTATE_CORRUPT;
    case ErrorCode::CannotOpen: return HOTSTATE_CANNOT_OPEN;
    case ErrorCode::ReadOnly: return HOTSTATE_READ_ONLY;
    case ErrorCode::Busy: return HOTSTATE_BUSY;
    case ErrorCode::DiskFull: return HOTSTATE_DISK_FULL;
    case ErrorCode::Io: return HOTSTATE_IO;
    case ErrorCode::Constraint: return HOTSTATE_CONSTRAINT;
    case ErrorCode::Conflict: return HOTSTATE_CONFLICT;
    case ErrorCode::TooLarge: return HOTSTATE_TOO_LARGE;
    case ErrorCode::Internal: return HOTSTATE_INTERNAL;
    case ErrorCode::UntrustedSchema: return HOTSTATE_UNTRUSTED_SCHEMA;
    case ErrorCode::TimedOut: return HOTSTATE_TIMED_OUT;
    case ErrorCode::NotFound: return HOTSTATE_NOT_FOUND;
    case ErrorCode::Unavailable: return HOTSTATE_UNAVAILABLE;
  }
  return HOTSTATE_INTERNAL;
}

// The calling thread's last failure (hotstate_last_error). `lost` when even
// the message could not be stored.
struct LastError {
  std::string text;
  bool lost = false;
};
thread_local LastError last_error;

void clear_error() noexcept {
  last_error.text.clear();
  last_error.lost = false;
}

hotstate_code fail(hotstate_code code, std::string_view prefix, std::string_view message) noexcept {
  try {
    last_error.text.assign(prefix);
    last_error.text.append(message);
    last_error.lost = false;
  } catch (...) {
    last_error.text.clear();
    last_error.lost = true;
  }
  return code;
}

// Runs `body`, turning every exception into a code and the thread's message.
template <class Body>
hotstate_code guarded(Body&& body) noexcept {
  try {
    body();
    clear_error();
    return HOTSTATE_OK;
  } catch (const Error& error) {
    return fail(to_c(error.code()), {}, error.what());
  } catch (const std::bad_alloc&) {
    return fail(HOTSTATE_OUT_OF_MEMORY, "OutOfMemory: ", "an allocation failed");
  } catch (const std::exception& error) {
    return fail(HOTSTATE_INTERNAL, "Internal: ", error.what());
  } catch (...) {
    return fail(HOTSTATE_INTERNAL, "Internal: ", "an unknown exception");
  }
}

[[noreturn]] void invalid_argument(const char* function, std::string_view what) {
  throw Error(ErrorCode::InvalidArgument, std::string(function) + ": " + std::string(what));
}

// ---- The registry of open handles

// An open handle. `use` is held shared by every call for its duration and
// exclusively by hotstate_close while it destroys the manager; `manager` is
// null once closed.
struct Handle {
  explicit Handle(hotstate::Options options) : manager(std::make_unique<hotstate::StateManager>(std::move(options))) {}
  SharedMutex use;
  std::unique_ptr<hotstate::StateManager> manager GUARDED_BY(use);
};

struct Registry {
  SharedMutex mutex;
  std::unordered_map<std::uintptr_t, std::shared_ptr<Handle>> handles GUARDED_BY(mutex);
  std::uintptr_t opened GUARDED_BY(mutex) = 0;  // handles given out so far
};

// Never destroyed: a finalizer may close a handle while the process exits,
// after static destructors ran.
Registry& registry() {
  static Registry* const instance = new Registry;
  return *instance;
}

// The first token. On 64-bit platforms "HSTA" in the top bytes: never a
// canonical user-space address (x86-64, AArch64), so never a pointer to
// anything, and far from the small values a binding might mistake for one.
constexpr std::uintptr_t token_base() noexcept {
  if constexpr (sizeof(std::uintptr_t) >= 8) {
    return static_cast<std::uintptr_t>(0x4853544100000000ull);
  } else {
    return static_cast<std::uintptr_t>(0x48530000u);
  }
}

// Registers `handle` and returns its new token. Tokens step by 16 (they look
// aligned to tools that care) and are not reused before the counter wraps
// (2^28 opens on 32-bit platforms; never in practice on 64-bit ones).
hotstate_db* register_handle(std::shared_ptr<Handle> handle) {
  Registry& r = registry();
  WriterLock lock(r.mutex);
  std::uintptr_t token = 0;
  do {
    ++r.opened;
    token = token_base() + (r.opened << 4);
  } while (token == 0 || r.handles.count(token) != 0);
  r.handles.emplace(token, std::move(handle));
  return reinterpret_cast<hotstate_db*>(token);
}

// Removes the token `db` from the registry; null when it is not open.
std::shared_ptr<Handle> unregister_handle(hotstate_db* db) {
  Registry& r = registry();
  WriterLock lock(r.mutex);
  const auto found = r.handles.find(reinterpret_cast<std::uintptr_t>(db));
  if (found == r.handles.end()) return nullptr;
  std::shared_ptr<Handle> handle = std::move(found->second);
  r.handles.erase(found);
  return handle;
}

// An open handle, held for one call: the Handle stays alive and its manager
// open until the lease ends.
class Lease {
 public:
  // The lease holds handle_->use shared in a member for its life, which the
  // thread-safety analysis cannot follow: hence NO_THREAD_SAFETY_ANALYSIS on
  // the constructor and manager().
  Lease(hotstate_db* db, const char* function) NO_THREAD_SAFETY_ANALYSIS {
    if (db == nullptr) invalid_argument(function, "the handle (db) is NULL");
    {
      Registry& r = registry();
      ReaderLock lock(r.mutex);
      const auto found = r.handles.find(reinterpret_cast<std::uintptr_t>(db));
      if (found != r.handles.end()) handle_ = found->second;
    }
    if (handle_) {
      use_ = std::shared_lock(handle_->use);
      // hotstate_close may have run between the lookup and the lock.
      if (handle_->manager) return;
    }
    invalid_argument(function,
                     "the handle (db) is not open: closed already, or a value hotstate_open did not return");
  }

  hotstate::StateManager& manager() const noexcept NO_THREAD_SAFETY_ANALYSIS { return *handle_->manager; }

 private:
  // Declared first: the lock is released before the Handle can go.
  std::shared_ptr<Handle> handle_;
  std::shared_lock<SharedMutex> use_;
};

void require_out(const void* out, const char* function, const char* name) {
  if (out == nullptr) invalid_argument(function, std::string("the out-parameter ") + name + " is NULL");
}

// A (pointer, length) text; NULL with length 0 is the empty text.
std::string_view text_of(const char* data, std::size_t size, const char* function, const char* name) {
  if (data == nullptr) {
    if (size != 0) invalid_argument(function, std::string(name) + " is NULL with a non-zero length");
    return {};
  }
  return {data, size};
}

// A NUL-terminated name from a fixed list.
std::string_view name_of(const char* name, const char* function, const char* what) {
  if (name == nullptr) invalid_argument(function, std::string(what) + " is NULL");
  return name;
}

// `text` in a new malloc'd, NUL-terminated buffer.
char* to_buffer(const std::string& text) {
  char* buffer = static_cast<char*>(std::malloc(text.size() + 1));
  if (buffer == nullptr) throw std::bad_alloc();
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  return buffer;
}

// Hands `text` to the caller. The last step of a call: nothing after it may
// throw, or the buffer would leak.
void give(const std::string& text, char** json, std::size_t* json_len) {
  char* buffer = to_buffer(text);
  *json = buffer;
  *json_len = text.size();
}

// A snapshot result of load, get_latest and rollback.
void give_snapshot(const hotstate::SnapshotPtr& snapshot, char** json, std::size_t* json_len,
                   std::uint64_t* seq) {
  if (!snapshot) {
    *json = nullptr;
    *json_len = 0;
    if (seq != nullptr) *seq = 0;
    return;
  }
  const std::string text = snapshot->to_bytes();
  give(text, json, json_len);
  if (seq != nullptr) *seq = snapshot->seq;
}

// `text` as a JSON string.
void append_json_string(std::string& out, std::string_view text) { out += Json::from(text).text(); }

// "ReloadStarted, StatePreserved, … or PluginRemoved", from the library's own list.
std::string reload_event_kind_names() {
  std::vector<std::string_view> names;
  for (const hotstate::ReloadEvent::Kind kind : hotstate::reload_event_kinds()) names.push_back(hotstate::to_string(kind));
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) text += i + 1 == names.size() ? " or " : ", ";
    text += names[i];
  }
  return text;
}

// As load_like, for an operation that takes more than the plugin id.
template <class Operation>
hotstate_code load_with(const char* function, hotstate_db* db, const char* plugin_id, std::size_t plugin_id_len,
                        char** json, std::size_t* json_len, std::uint64_t* seq, Operation&& operation) noexcept {
  return guarded([&] {
    const Lease lease(db, function);
    require_out(json, function, "json");
    require_out(json_len, function, "json_len");
    const std::string_view id = text_of(plugin_id, plugin_id_len, function, "plugin_id");
    give_snapshot(operation(lease.manager(), id), json, json_len, seq);
  });
}

hotstate_code load_like(const char* function, hotstate_db* db, const char* plugin_id, std::size_t plugin_id_len,
                        char** json, std::size_t* json_len, std::uint64_t* seq,
                        hotstate::SnapshotPtr (*operation)(hotstate::StateManager&, std::string_view)) noexcept {
  return load_with(function, db, plugin_id, plugin_id_len, json, json_len, seq, operation);
}

// Options::on_audit_checkpoint for a C callback: the checkpoint as
// hotstate_audit_head's JSON. The C++ side drops what it throws, and a C
// function throws nothing; only building the text can (bad_alloc), and then
// that checkpoint is skipped, as one overtaken by a newer one would be.
std::function<void(const hotstate::AuditCheckpoint&)> checkpoint_callback(hotstate_checkpoint_fn callback,
                                                                          void* user_data) {
  return [callback, user_data](const hotstate::AuditCheckpoint& checkpoint) {
    const std::string text = Json::from(checkpoint).text();
    callback(user_data, text.c_str(), text.size());
  };
}

// hotstate_verify_report and hotstate_verify_extends: the whole report as
// one JSON object.
std::string report_json(const hotstate::StateManager::VerifyReport& report) {
  JsonWriter out;
  out.begin_object();
  out.member("ok", report.ok);
  out.member("problems", report.problems);
  out.member("schema_version", report.schema_version);
  out.member("audit_head", report.audit_head);
  out.member("unchained_events", report.unchained_events);
  out.end_object();
  return out.take().text();
}

}  // namespace

extern "C" {

// ---- Versions and errors

const char* hotstate_version(void) noexcept { return hotstate::version_string; }

int hotstate_schema_version(void) noexcept { return hotstate::schema_version(); }

const char* hotstate_code_name(hotstate_code code) noexcept {
  // Compared as int: a C caller may pass any int.
  switch (static_cast<int>(code)) {
    case HOTSTATE_OK: return "Ok";
    case HOTSTATE_INVALID_ARGUMENT: return hotstate::to_string(ErrorCode::InvalidArgument);
    case HOTSTATE_INVALID_UTF8: return hotstate::to_string(ErrorCode::InvalidUtf8);
    case HOTSTATE_INVALID_JSON: return hotstate::to_string(ErrorCode::InvalidJson);
    case HOTSTATE_INVALID_SNAPSHOT: return hotstate::to_string(ErrorCode::InvalidSnapshot);
    case HOTSTATE_TYPE_MISMATCH: return hotstate::to_string(ErrorCode::TypeMismatch);
    case HOTSTATE_NON_FINITE_NUMBER: return hotstate::to_string(ErrorCode::NonFiniteNumber);
    case HOTSTATE_NOT_A_DATABASE: return hotstate::to_string(ErrorCode::NotADatabase);
    case HOTSTATE_NEWER_SCHEMA: return hotstate::to_string(ErrorCode::NewerSchema);
    case HOTSTATE_CORRUPT: return hotstate::to_string(ErrorCode::Corrupt);
    case HOTSTATE_CANNOT_OPEN: return hotstate::to_string(ErrorCode::CannotOpen);
    case HOTSTATE_READ_ONLY: return hotstate::to_string(ErrorCode::ReadOnly);
    case HOTSTATE_BUSY: return hotstate::to_string(ErrorCode::Busy);
    case HOTSTATE_DISK_FULL: return hotstate::to_string(ErrorCode::DiskFull);
    case HOTSTATE_IO: return hotstate::to_string(ErrorCode::Io);
    case HOTSTATE_CONSTRAINT: return hotstate::to_string(ErrorCode::Constraint);
    case HOTSTATE_CONFLICT: return hotstate::to_string(ErrorCode::Conflict);
    case HOTSTATE_TOO_LARGE: return hotstate::to_string(ErrorCode::TooLarge);
    case HOTSTATE_INTERNAL: return hotstate::to_string(ErrorCode::Internal);
    case HOTSTATE_OUT_OF_MEMORY: return "OutOfMemory";
    case HOTSTATE_UNTRUSTED_SCHEMA: return hotstate::to_string(ErrorCode::UntrustedSchema);
    case HOTSTATE_TIMED_OUT: return hotstate::to_string(ErrorCode::TimedOut);
    case HOTSTATE_NOT_FOUND: return hotstate::to_string(ErrorCode::NotFound);
    case HOTSTATE_UNAVAILABLE: return hotstate::to_string(ErrorCode::Unavailable);
    default: return "Unknown";
  }
}

const char* hotstate_last_error(void) noexcept {
  if (last_error.lost) return "OutOfMemory: the error message could not be stored";
  return last_error.text.c_str();
}

void hotstate_free(void* p) noexcept { std::free(p); }

// ---- Opening and closing

namespace {

hotstate_options default_options() noexcept {
  const hotstate::Options defaults;
  hotstate_options options{};
  options.struct_size = sizeof(hotstate_options);
  options.path = nullptr;
  options.max_history = HOTSTATE_MAX_HISTORY_DEFAULT;  // unset: the file's own, 10 for a new one
  options.synchronous_normal = defaults.synchronous == hotstate::Synchronous::Normal ? 1 : 0;
  options.read_only = defaults.read_only ? 1 : 0;
  options.busy_timeout_ms = static_cast<std::int64_t>(defaults.busy_timeout.count());
  options.cache_max_entries = defaults.cache_max_entries;
  options.cache_max_bytes = defaults.cache_max_bytes;
  options.max_id_bytes = defaults.max_id_bytes;
  options.max_data_bytes = defaults.max_data_bytes;
  options.max_metadata_bytes = defaults.max_metadata_bytes;
  options.vfs = nullptr;
  options.call_time_limit_ms = static_cast<std::int64_t>(defaults.call_time_limit.count());
  options.audit_key = nullptr;
  options.audit_key_len = 0;
  options.on_audit_checkpoint = nullptr;
  options.checkpoint_user_data = nullptr;
  options.audit_checkpoint_every = defaults.audit_checkpoint_every;
  return options;
}

// The fields of the caller's `options` that lie wholly within its
// struct_size (`size`), copied over `into`; the others keep what `into` has.
// Copied bytewise: the caller's struct may be an older, shorter one.
void take_known_fields(const hotstate_options* caller, std::size_t size, hotstate_options& into) noexcept {
  const auto* bytes = reinterpret_cast<const unsigned char*>(caller);
#define HOTSTATE_TAKE(field)                                                          \
  if (size >= offsetof(hotstate_options, field) + sizeof(into.field)) {               \
    std::memcpy(&into.field, bytes + offsetof(hotstate_options, field), sizeof(into.field)); \
  }
  HOTSTATE_TAKE(struct_size)
  HOTSTATE_TAKE(path)
  HOTSTATE_TAKE(max_history)
  HOTSTATE_TAKE(synchronous_normal)
  HOTSTATE_TAKE(read_only)
  HOTSTATE_TAKE(busy_timeout_ms)
  HOTSTATE_TAKE(cache_max_entries)
  HOTSTATE_TAKE(cache_max_bytes)
  HOTSTATE_TAKE(max_id_bytes)
  HOTSTATE_TAKE(max_data_bytes)
  HOTSTATE_TAKE(max_metadata_bytes)
  HOTSTATE_TAKE(vfs)
  HOTSTATE_TAKE(call_time_limit_ms)
  HOTSTATE_TAKE(audit_key)
  HOTSTATE_TAKE(audit_key_len)
  HOTSTATE_TAKE(on_audit_checkpoint)
  HOTSTATE_TAKE(checkpoint_user_data)
  HOTSTATE_TAKE(audit_checkpoint_every)
#undef HOTSTATE_TAKE
}
// A field added to hotstate_options needs its HOTSTATE_TAKE line above.
static_assert(offsetof(hotstate_options, audit_checkpoint_every) + sizeof(std::uint64_t) == sizeof(hotstate_options),
              "a new field of hotstate_options: add it to take_known_fields and default_options");

}  // namespace

void hotstate_options_init(hotstate_options* options, size_t struct_size) noexcept {
  if (options == nullptr || struct_size < sizeof(options->struct_size)) return;
  hotstate_options defaults = default_options();
  // A caller built against an older, shorter struct gets only the fields it has.
  const std::size_t known = std::min(struct_size, sizeof defaults);
  defaults.struct_size = struct_size;
  std::memcpy(static_cast<void*>(options), &defaults, known);
}

hotstate_code hotstate_open(const hotstate_options* caller_options, hotstate_db** out) noexcept {
  static constexpr const char* function = "hotstate_open";
  return guarded([&] {
    if (caller_options == nullptr) invalid_argument(function, "options is NULL");
    require_out(out, function, "out");
    // The fields the caller's struct has; the others keep their defaults.
    const std::size_t size = caller_options->struct_size;
    if (size < offsetof(hotstate_options, path) + sizeof(caller_options->path)) {
      invalid_argument(function, "options->struct_size is not set (call hotstate_options_init first)");
    }
    if (size > sizeof(hotstate_options)) {
      invalid_argument(function, "options->struct_size is " + std::to_string(size) +
                                     ": options of a newer hotstate than this library (" +
                                     std::to_string(sizeof(hotstate_options)) + " bytes)");
    }
    hotstate_options options = default_options();
    take_known_fields(caller_options, size, options);
    if (options.path == nullptr) invalid_argument(function, "options->path is NULL");
    if (options.busy_timeout_ms < 0) invalid_argument(function, "options->busy_timeout_ms is negative");
    if (options.call_time_limit_ms < 0) invalid_argument(function, "options->call_time_limit_ms is negative");
    if (options.audit_key == nullptr && options.audit_key_len != 0) {
      invalid_argument(function, "options->audit_key is NULL with a non-zero audit_key_len");
    }
    hotstate::Options cpp;
    cpp.path = options.path;
    // Unset: the file's own bound (10 for a new file). Anything else is used
    // only when the file is created; the StateManager refuses one above its
    // most.
    if (options.max_history != HOTSTATE_MAX_HISTORY_DEFAULT) cpp.max_history = options.max_history;
    cpp.synchronous = options.synchronous_normal != 0 ? hotstate::Synchronous::Normal : hotstate::Synchronous::Full;
    cpp.read_only = options.read_only != 0;
    cpp.busy_timeout = std::chrono::milliseconds(options.busy_timeout_ms);
    cpp.cache_max_entries = options.cache_max_entries;
    cpp.cache_max_bytes = options.cache_max_bytes;
    cpp.max_id_bytes = options.max_id_bytes;
    cpp.max_data_bytes = options.max_data_bytes;
    cpp.max_metadata_bytes = options.max_metadata_bytes;
    if (options.vfs != nullptr) cpp.vfs = options.vfs;
    cpp.call_time_limit = std::chrono::milliseconds(options.call_time_limit_ms);
    if (options.audit_key != nullptr) {
      cpp.audit_key.assign(static_cast<const char*>(options.audit_key), options.audit_key_len);
    }
    if (options.on_audit_checkpoint != nullptr) {
      cpp.on_audit_checkpoint = checkpoint_callback(options.on_audit_checkpoint, options.checkpoint_user_data);
    }
    cpp.audit_checkpoint_every = options.audit_checkpoint_every;
    auto handle = std::make_shared<Handle>(std::move(cpp));
    *out = register_handle(std::move(handle));  // the last step: nothing after it throws
  });
}

hotstate_code hotstate_open_path(const char* path, hotstate_db** out) noexcept {
  hotstate_options options;
  hotstate_options_init(&options, sizeof options);
  options.path = path;
  return hotstate_open(&options, out);
}

void hotstate_close(hotstate_db* db) noexcept {
  if (db == nullptr) return;
  try {
    // Later calls no longer find the handle; those that did hold `use`.
    const std::shared_ptr<Handle> handle = unregister_handle(db);
    if (!handle) return;  // closed already, or never a handle: nothing to do
    const WriterLock wait_for_calls(handle->use);
    handle->manager.reset();
  } catch (...) {
    // Only taking a lock can throw (std::system_error). The handle is out of
    // the registry already; the manager goes with the last call that holds it.
  }
}

// ---- The history bound

hotstate_code hotstate_max_history(hotstate_db* db, size_t* out) noexcept {
  static constexpr const char* function = "hotstate_max_history";
  return guarded([&] {
    const Lease lease(db, function);
    require_out(out, function, "out");
    *out = lease.manager().max_history();
  });
}

hotstate_code hotstate_set_max_history(hotstate_db* db, size_t max_history, size_t* trimmed) noexcept {
  static constexpr const char* function = "hotstate_set_max_history";
  return guarded([&] {
    const Lease lease(db, function);
    const std::size_t removed = lease.manager().set_max_history(max_history);
    if (trimmed != nullptr) *trimmed = removed;
  });
}

// ---- Snapshots

hotstate_code hotstate_save(hotstate_db* db, const char* json, size_t json_len, uint64_t* seq) noexcept {
  static constexpr const char* function = "hotstate_save";
  return guarded([&] {
    const Lease lease(db, function);
    auto& manager = lease.manager();
    const std::uint64_t saved = manager.save_snapshot(StateSnapshot::from_bytes(text_of(json, json_len, function, "json")));
    if (seq != nullptr) *seq = saved;
  });
}

hotstate_code hotstate_save_all(hotstate_db* db, const char* json_array, size_t json_array_len, size_t* count) noexcept {
  static constexpr const char* function = "hotstate_save_all";
  return guarded([&] {
    const Lease lease(db, function);
    const Json array = Json::parse(text_of(json_array, json_array_len, function, "json_array"));
    if (array.type() != hotstate::JsonType::Array) {
      throw Error(ErrorCode::TypeMismatch, std::string(function) + ": json_array must be a JSON array of snapshots");
    }
    std::vector<StateSnapshot> snapshots;
    std::size_t index = 0;
    for (const Json& element : array.get<std::vector<Json>>()) {
      try {
        snapshots.push_back(StateSnapshot::from_bytes(element.text()));
      } catch (const Error& error) {
        throw Error(error.code(), std::string(function) + ": element " + std::to_string(index) + ": " +
                                      std::string(error.message()) + "; nothing was written");
      }
      ++index;
    }
    const std::size_t saved = lease.manager().save_snapshots(std::move(snapshots)).size();
    if (count != nullptr) *count = saved;
  });
}

hotstate_code hotstate_save_if(hotstate_db* db, const char* json, size_t json_len, uint64_t expected_seq,
                               uint64_t* seq) noexcept {
  static constexpr const char* function = "hotstate_save_if";
  return guarded([&] {
    const Lease lease(db, function);
    auto& manager = lease.manager();
    StateSnapshot snapshot = StateSnapshot::from_bytes(text_of(json, json_len, function, "json"));
    const std::uint64_t saved = manager.save_snapshot_if(std::move(snapshot), expected_seq);
    if (seq != nullptr) *seq = saved;
  });
}

hotstate_code hotstate_load(hotstate_db* db, const char* plugin_id, size_t plugin_id_len, char** json,
                            size_t* json_len, uint64_t* seq) noexcept {
  return load_like("hotstate_load", db, plugin_id, plugin_id_len, json, json_len, seq,
                   [](hotstate::StateManager& m, std::string_view id) { return m.load_snapshot(id); });
}

hotstate_code hotstate_get_latest(hotstate_db* db, const char* plugin_id, size_t plugin_id_len, char** json,
                                  size_t* json_len, uint64_t* seq) noexcept {
  return load_like("hotstate_get_latest", db, plugin_id, plugin_id_len, json, json_len, seq,
                   [](hotstate::StateManager& m, std::string_view id) { return m.get_latest(id); });
}

hotstate_code hotstate_rollback(hotstate_db* db, const char* plugin_id, size_t plugin_id_len, char** json,
                                size_t* json_len, uint64_t* seq) noexcept {
  return load_like("hotstate_rollback", db, plugin_id, plugin_id_len, json, json_len, seq,
                   [](hotstate::StateManager& m, std::string_view id) { return m.rollback(id); });
}

hotstate_code hotstate_clear(hotstate_db* db, const char* plugin_id, size_t plugin_id_len) noexcept {
  static constexpr const char* function = "hotstate_clear";
  return guarded([&] {
    const Lease lease(db, function);
    auto& manager = lease.manager();
    manager.clear(text_of(plugin_id, plugin_id_len, function, "plugin_id"));
  });
}

hotstate_code hotstate_clear_all(hotstate_db* db) noexcept {
  return guarded([&] { Lease(db, "hotstate_clear_all").manager().clear_all(); });
}

hotstate_code hotstate_history(hotstate_db* db, const char* plugin_id, size_t plugin_id_len, char** json,
                               size_t* json_len) noexcept {
  static constexpr const char* function = "hotstate_history";
  return guarded([&] {
    const Lease lease(db, function);
    auto& manager = lease.manager();
    require_out(json, function, "json");
    require_out(json_len, function, "json_len");
    const auto history = manager.get_history(text_of(plugin_id, plugin_id_len, function, "plugin_id"));
    // Each snapshot exactly as to_bytes writes it (a JsonWriter would sort its members).
    std::string out = "[";
    for (const auto& snapshot : history) {
      if (out.size() > 1) out += ',';
      out += snapshot.to_bytes();
    }
    out += ']';
    give(out, json, json_len);
  });
}

hotstate_code hotstate_plugin_ids(hotstate_db* db, char** json, size_t* json_len) noexcept {
  static constexpr const char* function = "hotstate_plugin_ids";
  return guarded([&] {
    const Lease lease(db, function);
    auto& manager = lease.manager();
    require_out(json, function, "json");
    require_out(json_len, function, "json_len");
    const std::string text = Json::from(manager.plugin_ids()).text();
    give(text, json, json_len);
  });
}

// ---- The audit log

hotstate_code hotstate_record_event(hotstate_db* db, const char* kind, const char* plugin_id, size_t plugin_id_len,
                                    const char* detail_json, size_t detail_len) noexcept {
  static constexpr const char* function = "hotstate_record_event";
  return guarded([&] {
    const Lease lease(db, function);
    auto& manager = lease.manager();
    const std::string_view kind_name = name_of(kind, function, "kind");
    hotstate::ReloadEvent event;
    if (const auto known = hotstate::reload_event_kind(kind_name)) {
      event.kind = *known;
    } else {
      invalid_argument(function, "unknown event kind \"" + std::string(kind_name) + "\" (expected " +
                                     reload_event_kind_names() + ")");
    }
    event.plugin_id = std::string(text_of(plugin_id, plugin_id_len, function, "plugin_id"));
    const std::string_view detail = text_of(detail_json, detail_len, function, "detail_json");
    if (!detail.empty()) {
      const Json parsed = Json::parse(detail);
      if (parsed.type() != hotstate::JsonType::Object) {
        throw Error(ErrorCode::TypeMismatch, std::string(function) + ": the detail must be a JSON object, not " +
                                                 hotstate::to_string(parsed.type()));
      }
      event.detail = parsed.get<std::map<std::string, Json>>();
    }
    manager.record_event(event);
  });
}

hotstate_code hotstate_audit_events(hotstate_db* db, const char* plugin_id, size_t plugin_id_len, const char* kind,
                                    int64_t since_us, size_t limit, int newest_first, char** json,
                                    size_t* json_len) noexcept {
  static constexpr const char* function = "hotstate_audit_events";
  return guarded([&] {
    const Lease lease(db, function);
    auto& manager = lease.manager();
    require_out(json, function, "json");
    require_out(json_len, function, "json_len");
    hotstate::AuditQuery query;
    if (plugin_id == nullptr && plugin_id_len != 0) invalid_argument(function, "plugin_id is NULL with a non-zero length");
    if (plugin_id != nullptr) query.plugin_id = std::string(plugin_id, plugin_id_len);
    if (kind != nullptr) query.kinds.emplace_back(kind);
    if (since_us != std::numeric_limits<std::int64_t>::min()) query.since_us = since_us;
    query.limit = limit;
    query.order = newest_first != 0 ? hotstate::AuditOrder::NewestFirst : hotstate::AuditOrder::OldestFirst;
    give(Json::from(manager.audit_events(query)).text(), json, json_len);
  });
}

// ---- The reload journal

hotstate_code hotstate_begin_reload(hotstate_db* db, const char* snapshot_json, size_t snapshot_len,
                                    const char* to_version, size_t to_version_len, uint64_t* reload_id,
                                    uint64_t* snapshot_seq) noexcept {
  static constexpr const char* function = "hotstate_begin_reload";
  return guarded([&] {
    const Lease lease(db, function);
    auto& manager = lease.manager();
    require_out(reload_id, function, "reload_id");
    StateSnapshot snapshot = StateSnapshot::from_bytes(text_of(snapshot_json, snapshot_len, function, "snapshot_json"));
    const std::string_view version = text_of(to_version, to_version_len, function, "to_version");
    const hotstate::ReloadTicket ticket = manager.begin_reload(std::move(snapshot), version);
    *reload_id = ticket.id;
    if (snapshot_seq != nullptr) *snapshot_seq = ticket.snapshot_seq;
  });
}

hotstate_code hotstate_finish_reload(hotstate_db* db, uint64_t reload_id, int success, const char* error,
                                     size_t error_len, uint32_t attempt) noexcept {
  static constexpr const char* function = "hotstate_finish_reload";
  return guarded([&] {
    const Lease lease(db, function);
    auto& manager = lease.manager();
    hotstate::ReloadResult result;
    result.success = success != 0;
    result.error = std::string(text_of(error, error_len, function, "error"));
    result.attempt = attempt;
    manager.finish_reload(reload_id, result);
  });
}

hotstate_code hotstate_unfinished_reloads(hotstate_db* db, char** json, size_t* json_len) noexcept {
  static constexpr const char* function = "hotstate_unfinished_reloads";
  return guarded([&] {
    const Lease lease(db, function);
    auto& manager = lease.manager();
    require_out(json, function, "json");
    require_out(json_len, function, "json_len");
    const auto reloads = manager.unfinished_reloads();
    // Written by hand so that last_good keeps the seed's layout (to_bytes).
    std::string out = "[";
    for (const auto& reload : reloads) {
      if (out.size() > 1) out += ',';
      out += "{\"id\":" + std::to_string(reload.id);
      out += ",\"plugin_id\":";
      append_json_string(out, reload.plugin_id);
      out += ",\"from_version\":";
      append_json_string(out, reload.from_version);
      out += ",\"to_version\":";
      append_json_string(out, reload.to_version);
      out += ",\"started_at_us\":" + std::to_string(reload.started_at_us);
      out += ",\"last_good\":" + reload.last_good.to_bytes();
      out += ",\"last_good_seq\":" + std::to_string(reload.last_good.seq);
      out += '}';
    }
    out += ']';
    give(out, json, json_len);
  });
}

hotstate_code hotstate_resolve_reload(hotstate_db* db, uint64_t reload_id, const char* note, size_t note_len) noexcept {
  static constexpr const char* function = "hotstate_resolve_reload";
  return guarded([&] {
    const Lease lease(db, function);
    auto& manager = lease.manager();
    manager.resolve_reload(reload_id, text_of(note, note_len, function, "note"));
  });
}

// ---- Plugin life cycle

hotstate_code hotstate_set_plugin_state(hotstate_db* db, const char* plugin_id, size_t plugin_id_len, const char* state,
                                        const char* reason, size_t reason_len) noexcept {
  static constexpr const char* function = "hotstate_set_plugin_state";
  return guarded([&] {
    const Lease lease(db, function);
    auto& manager = lease.manager();
    const std::string_view id = text_of(plugin_id, plugin_id_len, function, "plugin_id");
    const std::string_view state_name = name_of(state, function, "state");
    const std::string_view reason_text = text_of(reason, reason_len, function, "reason");
    const auto kind = hotstate::PluginState::kind_named(state_name);
    if (!kind) {
      invalid_argument(function, "unknown plugin state \"" + std::string(state_name) +
                                     "\" (expected Unloaded, Loading, Loaded, Running, Reloading, Failed or "
                                     "Unloading)");
    }
    if (*kind == hotstate::PluginState::Kind::Failed) {
      manager.set_plugin_state(id, hotstate::PluginState::failed(std::string(reason_text)));
    } else {
      if (!reason_text.empty()) invalid_argument(function, "only the state Failed has a reason");
      manager.set_plugin_state(id, hotstate::PluginState(*kind));
    }
  });
}

hotstate_code hotstate_plugin_state(hotstate_db* db, const char* plugin_id, size_t plugin_id_len, char** json,
                                    size_t* json_len) noexcept {
  static constexpr const char* function = "hotstate_plugin_state";
  return guarded([&] {
    const Lease lease(db, function);
    auto& manager = lease.manager();
    require_out(json, function, "json");
    require_out(json_len, function, "json_len");
    const hotstate::PluginState state = manager.plugin_state(text_of(plugin_id, plugin_id_len, function, "plugin_id"));
    JsonWriter out;
    out.begin_object();
    out.member("state", hotstate::PluginState::kind_name(state.kind()));
    out.member("reason", state.reason());
    out.end_object();
    give(out.take().text(), json, json_len);
  });
}


// ---- Maintenance

hotstate_code hotstate_backup(hotstate_db* db, const char* path) noexcept {
  static constexpr const char* function = "hotstate_backup";
  return guarded([&] {
    const Lease lease(db, function);
    if (path == nullptr) invalid_argument(function, "path is NULL");
    lease.manager().backup(path);
  });
}

hotstate_code hotstate_replicate_once(hotstate_db* db, const char* url, const char* host_id, char** json,
                                      size_t* json_len) noexcept {
  static constexpr const char* function = "hotstate_replicate_once";
  return guarded([&] {
    const Lease lease(db, function);
    if (url == nullptr) invalid_argument(function, "url is NULL");
    if (host_id == nullptr) invalid_argument(function, "host_id is NULL");
    if ((json == nullptr) != (json_len == nullptr)) invalid_argument(function, "json and json_len go together");
    hotstate::ReplicationOptions options;
    options.host_id = host_id;
    const hotstate::ShipReport report = lease.manager().replicate_once(url, options);
    if (json != nullptr) {
      hotstate::JsonWriter out;
      out.begin_object();
      out.member("batches", report.batches);
      out.member("events", report.events);
      out.member("missed", report.missed);
      out.member("position", report.position);
      out.end_object();
      give(out.take().text(), json, json_len);
    }
  });
}

hotstate_code hotstate_restore_from(const char* url, const char* host_id, const char* db_path, char** json,
                                    size_t* json_len) noexcept {
  static constexpr const char* function = "hotstate_restore_from";
  return guarded([&] {
    if (url == nullptr) invalid_argument(function, "url is NULL");
    if (host_id == nullptr) invalid_argument(function, "host_id is NULL");
    if (db_path == nullptr) invalid_argument(function, "db_path is NULL");
    if ((json == nullptr) != (json_len == nullptr)) invalid_argument(function, "json and json_len go together");
    const hotstate::RestoreFromReport report = hotstate::restore_from(url, host_id, db_path);
    if (json != nullptr) {
      hotstate::JsonWriter out;
      out.begin_object();
      out.member("events", report.events);
      out.member("pins", report.pins);
      out.member("position", report.position);
      out.member("reloads", report.reloads);
      out.member("snapshots", report.snapshots);
      out.end_object();
      give(out.take().text(), json, json_len);
    }
  });
}

hotstate_code hotstate_verify(hotstate_db* db, int* ok, char** json, size_t* json_len) noexcept {
  static constexpr const char* function = "hotstate_verify";
  return guarded([&] {
    const Lease lease(db, function);
    require_out(ok, function, "ok");
    if ((json == nullptr) != (json_len == nullptr)) invalid_argument(function, "json and json_len go together");
    const hotstate::StateManager::VerifyReport report = lease.manager().verify();
    if (json != nullptr) give(Json::from(report.problems).text(), json, json_len);
    *ok = report.ok ? 1 : 0;
  });
}

namespace {

hotstate_code verify_with(const char* function, hotstate_db* db, const char* checkpoint_text,
                          std::size_t checkpoint_len, bool has_checkpoint, int* ok, char** json,
                          std::size_t* json_len) noexcept {
  return guarded([&] {
    const Lease lease(db, function);
    require_out(ok, function, "ok");
    if ((json == nullptr) != (json_len == nullptr)) invalid_argument(function, "json and json_len go together");
    const auto report =
        has_checkpoint ? lease.manager().verify(hotstate::AuditCheckpoint::parse(
                             text_of(checkpoint_text, checkpoint_len, function, "checkpoint_text")))
                       : lease.manager().verify();
    if (json != nullptr) give(report_json(report), json, json_len);
    *ok = report.ok ? 1 : 0;
  });
}

}  // namespace

hotstate_code hotstate_verify_report(hotstate_db* db, int* ok, char** json, size_t* json_len) noexcept {
  return verify_with("hotstate_verify_report", db, nullptr, 0, false, ok, json, json_len);
}

hotstate_code hotstate_verify_extends(hotstate_db* db, const char* checkpoint_text, size_t checkpoint_len, int* ok,
                                      char** json, size_t* json_len) noexcept {
  return verify_with("hotstate_verify_extends", db, checkpoint_text, checkpoint_len, true, ok, json, json_len);
}

hotstate_code hotstate_audit_head(hotstate_db* db, char** json, size_t* json_len) noexcept {
  static constexpr const char* function = "hotstate_audit_head";
  return guarded([&] {
    const Lease lease(db, function);
    require_out(json, function, "json");
    require_out(json_len, function, "json_len");
    give(Json::from(lease.manager().audit_head()).text(), json, json_len);
  });
}

// ---- State across versions

hotstate_code hotstate_snapshot(hotstate_db* db, const char* plugin_id, size_t plugin_id_len, uint64_t seq,
                                char** json, size_t* json_len) noexcept {
  return load_with("hotstate_snapshot", db, plugin_id, plugin_id_len, json, json_len, nullptr,
                   [&](hotstate::StateManager& m, std::string_view id) { return m.snapshot(id, seq); });
}

hotstate_code hotstate_snapshot_at(hotstate_db* db, const char* plugin_id, size_t plugin_id_len, int64_t time_us,
                                   char** json, size_t* json_len, uint64_t* seq) noexcept {
  return load_with("hotstate_snapshot_at", db, plugin_id, plugin_id_len, json, json_len, seq,
                   [&](hotstate::StateManager& m, std::string_view id) { return m.snapshot_at(id, time_us); });
}

hotstate_code hotstate_restore(hotstate_db* db, const char* plugin_id, size_t plugin_id_len, uint64_t seq,
                               char** json, size_t* json_len, uint64_t* new_seq) noexcept {
  return load_with("hotstate_restore", db, plugin_id, plugin_id_len, json, json_len, new_seq,
                   [&](hotstate::StateManager& m, std::string_view id) { return m.restore(id, seq); });
}

hotstate_code hotstate_pin(hotstate_db* db, const char* plugin_id, size_t plugin_id_len, uint64_t seq,
                           const char* label, size_t label_len) noexcept {
  static constexpr const char* function = "hotstate_pin";
  return guarded([&] {
    const Lease lease(db, function);
    lease.manager().pin(text_of(plugin_id, plugin_id_len, function, "plugin_id"), seq,
                        text_of(label, label_len, function, "label"));
  });
}

hotstate_code hotstate_unpin(hotstate_db* db, const char* plugin_id, size_t plugin_id_len, const char* label,
                             size_t label_len, int* removed) noexcept {
  static constexpr const char* function = "hotstate_unpin";
  return guarded([&] {
    const Lease lease(db, function);
    const bool done = lease.manager().unpin(text_of(plugin_id, plugin_id_len, function, "plugin_id"),
                                            text_of(label, label_len, function, "label"));
    if (removed != nullptr) *removed = done ? 1 : 0;
  });
}

hotstate_code hotstate_pinned(hotstate_db* db, const char* plugin_id, size_t plugin_id_len, const char* label,
                              size_t label_len, char** json, size_t* json_len, uint64_t* seq) noexcept {
  static constexpr const char* function = "hotstate_pinned";
  return load_with(function, db, plugin_id, plugin_id_len, json, json_len, seq,
                   [&](hotstate::StateManager& m, std::string_view id) {
                     return m.pinned(id, text_of(label, label_len, function, "label"));
                   });
}

hotstate_code hotstate_pins(hotstate_db* db, const char* plugin_id, size_t plugin_id_len, char** json,
                            size_t* json_len) noexcept {
  static constexpr const char* function = "hotstate_pins";
  return guarded([&] {
    const Lease lease(db, function);
    require_out(json, function, "json");
    require_out(json_len, function, "json_len");
    const std::string_view id = plugin_id_len == 0 ? std::string_view() : text_of(plugin_id, plugin_id_len, function, "plugin_id");
    give(Json::from(lease.manager().pins(id)).text(), json, json_len);
  });
}

hotstate_code hotstate_finish_reload_pinning(hotstate_db* db, uint64_t reload_id, const char* label,
                                             size_t label_len) noexcept {
  static constexpr const char* function = "hotstate_finish_reload_pinning";
  return guarded([&] {
    const Lease lease(db, function);
    const std::string_view given = label_len == 0 ? std::string_view() : text_of(label, label_len, function, "label");
    lease.manager().finish_reload(reload_id, given.empty() ? hotstate::ReloadResult::succeeded_pinning()
                                                           : hotstate::ReloadResult::succeeded_pinning(std::string(given)));
  });
}

hotstate_code hotstate_migration_result_set(hotstate_migration_result* result, const char* json,
                                            size_t json_len) noexcept {
  static constexpr const char* function = "hotstate_migration_result_set";
  return guarded([&] {
    if (result == nullptr) invalid_argument(function, "result is NULL");
    result->json = std::string(text_of(json, json_len, function, "json"));
  });
}

hotstate_code hotstate_migration_result_fail(hotstate_migration_result* result, const char* message,
                                             size_t message_len) noexcept {
  static constexpr const char* function = "hotstate_migration_result_fail";
  return guarded([&] {
    if (result == nullptr) invalid_argument(function, "result is NULL");
    result->error = std::string(text_of(message, message_len, function, "message"));
  });
}

hotstate_code hotstate_register_migration(hotstate_db* db, const char* plugin_id, size_t plugin_id_len,
                                          int from_major, int to_major, hotstate_migration_fn migration,
                                          void* user_data) noexcept {
  static constexpr const char* function = "hotstate_register_migration";
  return guarded([&] {
    const Lease lease(db, function);
    if (migration == nullptr) invalid_argument(function, "migration is NULL");
    const std::string_view id = plugin_id_len == 0 ? std::string_view() : text_of(plugin_id, plugin_id_len, function, "plugin_id");
    lease.manager().register_migration(id, from_major, to_major, [migration, user_data](StateSnapshot snapshot) {
      const std::string input = snapshot.to_bytes();
      hotstate_migration_result result;
      const int status = migration(user_data, input.data(), input.size(), &result);
      if (result.error) throw std::runtime_error(*result.error);
      if (status != 0) throw std::runtime_error("the C migration returned " + std::to_string(status));
      if (!result.json) throw std::runtime_error("the C migration gave no result");
      return StateSnapshot::from_bytes(*result.json);
    });
  });
}

hotstate_code hotstate_restore_for(hotstate_db* db, const char* plugin_id, size_t plugin_id_len,
                                   const char* target_version, size_t target_version_len, char** json,
                                   size_t* json_len, uint64_t* seq) noexcept {
  static constexpr const char* function = "hotstate_restore_for";
  return load_with(function, db, plugin_id, plugin_id_len, json, json_len, seq,
                   [&](hotstate::StateManager& m, std::string_view id) {
                     return m.restore_for(id, text_of(target_version, target_version_len, function, "target_version"));
                   });
}

}  // extern "C"
