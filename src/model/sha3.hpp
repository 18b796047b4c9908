// Internal: SHA3-256 (FIPS 202). Not installed.
//
// Hand-written because none of the project's dependencies (the SQLite library,
// SQLiteCpp, simdjson) exposes a SHA-3, while the sqlite3 shell has sha3()
// built in: hashes computed here can be recomputed by a shell user with
// lower(hex(sha3(x))).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hotstate::internal {

// SHA3-256 (FIPS 202), the same function as the sqlite3 shell's sha3(X) (its default size 256).
class Sha3_256 {
 public:
  Sha3_256() noexcept;
  // May be called any number of times; the digest is that of all bytes in order.
  void update(std::string_view bytes) noexcept;
  // The digest; the object must not be used afterwards except to be destroyed.
  std::array<std::uint8_t, 32> finish() noexcept;

 private:
  // Keccak-f[1600] state, lane (x, y) at index x + 5 * y.
  std::array<std::uint64_t, 25> state_{};
  // Bytes of the current block already absorbed (0 .. rate - 1).
  std::size_t position_ = 0;
};

std::array<std::uint8_t, 32> sha3_256(std::string_view bytes) noexcept;

// Lowercase hex of SHA3-256 over `first` followed by `second` (64 characters).
std::string sha3_256_hex(std::string_view first, std::string_view second = {});

// Lowercase hex of HMAC-SHA3-256 (RFC 2104 over SHA3-256, block size 136
// bytes, as NIST's HMAC-SHA3 and Python's hmac.new(key, message,
// hashlib.sha3_256)) of `message` with `key`: the signature of the audit
// chain (Options::audit_key).
std::string hmac_sha3_256_hex(std::string_view key, std::string_view message);

}  // namespace hotstate::internal
