#include "sqlite_error.hpp"

#include <sqlite3.h>

#include <string>

namespace hotstate::internal {

ErrorCode error_code_for_sqlite(int result_code) noexcept {
  switch (result_code & 0xFF) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return ErrorCode::Busy;
    case SQLITE_FULL: return ErrorCode::DiskFull;
    case SQLITE_READONLY: return ErrorCode::ReadOnly;
    case SQLITE_CORRUPT: return ErrorCode::Corrupt;
    case SQLITE_NOTADB: return ErrorCode::NotADatabase;
    case SQLITE_IOERR: return ErrorCode::Io;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM: return ErrorCode::CannotOpen;
    case SQLITE_CONSTRAINT: return ErrorCode::Constraint;
    case SQLITE_TOOBIG: return ErrorCode::TooLarge;          // a value over the connection's length limit
    case SQLITE_INTERRUPT: return ErrorCode::TimedOut;       // only Options::call_time_limit interrupts
    case SQLITE_AUTH: return ErrorCode::UntrustedSchema;     // only the schema guard's authorizer denies
    default: return ErrorCode::Internal;
  }
}

void rethrow_sqlite(std::string_view context, const std::exception& sqlite_exception, int result_code) {
  std::string message(context);
  message += ": ";
  message += sqlite_exception.what();
  if (result_code > 0) {
    message += " (SQLite ";
    message += sqlite3_errstr(result_code);
    message += ", code ";
    message += std::to_string(result_code);
    message += ')';
  }
  throw Error(error_code_for_sqlite(result_code), message);
}

}  // namespace hotstate::internal
