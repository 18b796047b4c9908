#include "hotstate/error.hpp"

#include <algorithm>
#include <string>

namespace hotstate {

const char* to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::InvalidArgument: return "InvalidArgument";
    case ErrorCode::InvalidUtf8: return "InvalidUtf8";
    case ErrorCode::InvalidJson: return "InvalidJson";
    case ErrorCode::InvalidSnapshot: return "InvalidSnapshot";
    case ErrorCode::TypeMismatch: return "TypeMismatch";
    case ErrorCode::NonFiniteNumber: return "NonFiniteNumber";
    case ErrorCode::NotADatabase: return "NotADatabase";
    case ErrorCode::NewerSchema: return "NewerSchema";
    case ErrorCode::Corrupt: return "Corrupt";
    case ErrorCode::CannotOpen: return "CannotOpen";
    case ErrorCode::ReadOnly: return "ReadOnly";
    case ErrorCode::Busy: return "Busy";
    case ErrorCode::DiskFull: return "DiskFull";
    case ErrorCode::Io: return "Io";
    case ErrorCode::Constraint: return "Constraint";
    case ErrorCode::Conflict: return "Conflict";
    case ErrorCode::TooLarge: return "TooLarge";
    case ErrorCode::Internal: return "Internal";
    case ErrorCode::UntrustedSchema: return "UntrustedSchema";
    case ErrorCode::TimedOut: return "TimedOut";
    case ErrorCode::NotFound: return "NotFound";
    case ErrorCode::Unavailable: return "Unavailable";
  }
  return "Unknown";
}

Error::Error(ErrorCode code, std::string_view message)
    : std::runtime_error(std::string(to_string(code)) + ": " + std::string(message)), code_(code) {}

std::string_view Error::message() const noexcept {
  std::string_view text = what();
  text.remove_prefix(std::min(text.size(), std::string_view(to_string(code_)).size() + 2));
  return text;
}

}  // namespace hotstate
