// hotstate: the one exception type every public function throws, and its codes.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace hotstate {

// What went wrong, in categories a caller can act on. The message of the
// Error carries the details (which file, which row, what SQLite said).
enum class ErrorCode {
  InvalidArgument,  // an argument is outside what the API accepts (a bad option, a path that is the database itself)
  InvalidUtf8,      // text that must be UTF-8 (ids, versions, keys, strings) is not
  InvalidJson,      // text is not one valid JSON value (syntax, encoding, nesting depth, number range)
  InvalidSnapshot,  // valid JSON that is not a snapshot in the seed's layout (missing, duplicate or mistyped field)
  TypeMismatch,     // a JSON value does not have the type or range that was asked for
  NonFiniteNumber,  // NaN or an infinity was given where JSON can only hold finite numbers
  NotADatabase,     // the file exists but is not a SQLite database; it was left untouched
  NewerSchema,      // the database was written by a newer hotstate; it was refused and left untouched
  Corrupt,          // the database file is damaged, or a row breaks the schema's rules
  CannotOpen,       // the database file or its directory could not be opened or created
  ReadOnly,         // the database, its directory or the connection does not allow writing
  Busy,             // another connection held a lock for longer than the busy timeout
  DiskFull,         // the disk, or the database's page limit, is full
  Io,               // the operating system reported an I/O error
  Constraint,       // a write broke a rule of the schema (a CHECK, a trigger's RAISE)
  Conflict,         // a conditional save found another current snapshot than the caller read
  TooLarge,         // an id, version, data or metadata is over its limit in Options; nothing was written
  Internal,         // any other failure inside SQLite or hotstate; the message has the details
  UntrustedSchema,  // the file has triggers, views or indexes hotstate did not create, or changed ones (named in the message); nothing was written
  TimedOut,         // a call ran longer than Options::call_time_limit inside SQLite and was interrupted; a write was undone whole
  NotFound,         // what the call names does not exist (an unknown reload id); nothing was written
  Unavailable,      // a remote database (PostgreSQL) could not be reached, or refused or failed the request; its transaction was undone, the local file untouched
};

// The name of a code, e.g. "Busy". Never null.
const char* to_string(ErrorCode code) noexcept;

// The exception thrown by every hotstate function that can fail.
// what() is "<code name>: <details>". Copyable; safe to catch as std::runtime_error.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string_view message);

  ErrorCode code() const noexcept { return code_; }
  // The details alone: what() without "<code name>: " in front.
  std::string_view message() const noexcept;

 private:
  ErrorCode code_;
};

}  // namespace hotstate
