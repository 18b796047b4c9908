#include "sha3.hpp"

namespace hotstate::internal {

namespace {

// SHA3-256: capacity 2 * 256 bits, so the rate is (1600 - 512) / 8 bytes.
constexpr std::size_t rate_bytes = 136;
constexpr std::size_t digest_bytes = 32;

constexpr std::array<std::uint64_t, 24> round_constants = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808AULL, 0x8000000080008000ULL,
    0x000000000000808BULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008AULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000AULL,
    0x000000008000808BULL, 0x800000000000008BULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800AULL, 0x800000008000000AULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

// Rho rotation of lane (x, y), indexed x + 5 * y.
constexpr std::array<unsigned, 25> rho_offsets = {
    0,  1,  62, 28, 27,  //
    36, 44, 6,  55, 20,  //
    3,  10, 43, 25, 39,  //
    41, 45, 15, 21, 8,   //
    18, 2,  61, 56, 14,  //
};

// Shifting a 64-bit value by 64 is UB, so rotation by 0 (lane (0, 0)) returns
// the value itself instead of computing v >> 64.
constexpr std::uint64_t rotate_left(std::uint64_t value, unsigned count) noexcept {
  return count == 0 ? value : (value << count) | (value >> (64 - count));
}

void keccak_f1600(std::array<std::uint64_t, 25>& a) noexcept {
  for (const std::uint64_t round_constant : round_constants) {
    // Theta: every lane takes the parity of two neighbouring columns.
    std::array<std::uint64_t, 5> parity{};
    for (std::size_t x = 0; x < 5; ++x) parity[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
    for (std::size_t x = 0; x < 5; ++x) {
      const std::uint64_t d = parity[(x + 4) % 5] ^ rotate_left(parity[(x + 1) % 5], 1);
      for (std::size_t y = 0; y < 25; y += 5) a[x + y] ^= d;
    }
    // Rho and pi: lane (x, y) is rotated and moved to (y, 2x + 3y).
    std::array<std::uint64_t, 25> b{};
    for (std::size_t x = 0; x < 5; ++x) {
      for (std::size_t y = 0; y < 5; ++y) {
        b[y + 5 * ((2 * x + 3 * y) % 5)] = rotate_left(a[x + 5 * y], rho_offsets[x + 5 * y]);
      }
    }
    // Chi: the only non-linear step, along each row.
    for (std::size_t y = 0; y < 25; y += 5) {
      for (std::size_t x = 0; x < 5; ++x) a[x + y] = b[x + y] ^ (~b[(x + 1) % 5 + y] & b[(x + 2) % 5 + y]);
    }
    // Iota: breaks the symmetry between rounds.
    a[0] ^= round_constant;
  }
}

// Lanes are little-endian byte strings (FIPS 202 B.1); XORing byte by byte
// into place keeps that independent of the host's byte order.
void xor_byte(std::array<std::uint64_t, 25>& state, std::size_t position, std::uint8_t byte) noexcept {
  state[position / 8] ^= std::uint64_t{byte} << (8 * (position % 8));
}

}  // namespace

Sha3_256::Sha3_256() noexcept = default;

void Sha3_256::update(std::string_view bytes) noexcept {
  for (const char c : bytes) {
    xor_byte(state_, position_, static_cast<std::uint8_t>(c));
    if (++position_ == rate_bytes) {
      keccak_f1600(state_);
      position_ = 0;
    }
  }
}

std::array<std::uint8_t, 32> Sha3_256::finish() noexcept {
  // SHA-3 domain bits 01 followed by pad10*1: 0x06 after the message, 0x80 in
  // the block's last byte (both land in one byte, 0x86, when one byte is left).
  xor_byte(state_, position_, 0x06);
  xor_byte(state_, rate_bytes - 1, 0x80);
  keccak_f1600(state_);
  std::array<std::uint8_t, digest_bytes> digest{};
  for (std::size_t i = 0; i < digest_bytes; ++i) {
    digest[i] = static_cast<std::uint8_t>(state_[i / 8] >> (8 * (i % 8)));
  }
  return digest;
}

std::array<std::uint8_t, 32> sha3_256(std::string_view bytes) noexcept {
  Sha3_256 hash;
  hash.update(bytes);
  return hash.finish();
}

std::string sha3_256_hex(std::string_view first, std::string_view second) {
  Sha3_256 hash;
  hash.update(first);
  hash.update(second);
  constexpr std::string_view digits = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * digest_bytes);
  for (const std::uint8_t byte : hash.finish()) {
    hex += digits[byte >> 4];
    hex += digits[byte & 0x0F];
  }
  return hex;
}

}  // namespace hotstate::internal
