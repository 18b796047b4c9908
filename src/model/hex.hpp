// Internal: a byte as two hexadecimal digits, the one definition the library
// uses (JSON \u escapes, SHA3 digests, escaped names, URIs).
#pragma once

#include <string>

namespace hotstate::internal {

enum class HexCase { Lower, Upper };

// Appends `byte` to `out` as two hex digits.
inline void append_hex(std::string& out, unsigned char byte, HexCase letters = HexCase::Lower) {
  const char* digits = letters == HexCase::Lower ? "0123456789abcdef" : "0123456789ABCDEF";
  out += digits[byte >> 4];
  out += digits[byte & 0x0F];
}

}  // namespace hotstate::internal
