// Internal: SQLite failures as hotstate::Error.
#pragma once

#include <exception>
#include <string_view>

#include "hotstate/error.hpp"

namespace hotstate::internal {

// The ErrorCode for a SQLite result code (primary or extended).
ErrorCode error_code_for_sqlite(int result_code) noexcept;

// Runs `body`; a SQLite::Exception escaping it becomes Error, its message
// prefixed with `context` (e.g. "save_snapshot").
template <class Body>
decltype(auto) translate_sqlite_errors(std::string_view context, Body&& body);

[[noreturn]] void rethrow_sqlite(std::string_view context, const std::exception& sqlite_exception, int result_code);

}  // namespace hotstate::internal

#include <SQLiteCpp/Exception.h>

namespace hotstate::internal {

template <class Body>
decltype(auto) translate_sqlite_errors(std::string_view context, Body&& body) {
  try {
    return body();
  } catch (const SQLite::Exception& e) {
    rethrow_sqlite(context, e, e.getExtendedErrorCode());
  }
}

}  // namespace hotstate::internal
