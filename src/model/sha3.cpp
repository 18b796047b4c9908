#include "sha3.hpp"

#include "hex.hpp"

#include <algorithm>

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

// Rho and pi together, as a walk through the lanes starting at lane 1: the
// lane each step moves to (pi) and the rotation it gets there (rho).
constexpr std::array<unsigned, 24> pi_lanes = {10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
                                               15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1};
constexpr std::array<unsigned, 24> rho_rotations = {1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                                                    27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44};

// Every count here is in 1..63, so neither shift is by 64.
constexpr std::uint64_t rotate_left(std::uint64_t value, unsigned count) noexcept {
  return (value << count) | (value >> (64 - count));
}

// The permutation, with every loop unrolled (the saves hash every snapshot,
// so this is on the write path; unrolled it is about ten times faster).
void keccak_f1600(std::array<std::uint64_t, 25>& a) noexcept {
  for (const std::uint64_t round_constant : round_constants) {
    // Theta: every lane takes the parity of two neighbouring columns.
    std::uint64_t c[5];
#pragma GCC unroll 5
    for (unsigned x = 0; x < 5; ++x) c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
#pragma GCC unroll 5
    for (unsigned x = 0; x < 5; ++x) {
      const std::uint64_t d = c[(x + 4) % 5] ^ rotate_left(c[(x + 1) % 5], 1);
#pragma GCC unroll 5
      for (unsigned y = 0; y < 25; y += 5) a[x + y] ^= d;
    }
    // Rho and pi.
    std::uint64_t carried = a[1];
#pragma GCC unroll 24
    for (unsigned i = 0; i < 24; ++i) {
      const unsigned lane = pi_lanes[i];
      const std::uint64_t next = a[lane];
      a[lane] = rotate_left(carried, rho_rotations[i]);
      carried = next;
    }
    // Chi: the only non-linear step, along each row.
#pragma GCC unroll 5
    for (unsigned y = 0; y < 25; y += 5) {
      const std::uint64_t row[5] = {a[y], a[y + 1], a[y + 2], a[y + 3], a[y + 4]};
#pragma GCC unroll 5
      for (unsigned x = 0; x < 5; ++x) a[y + x] = row[x] ^ (~row[(x + 1) % 5] & row[(x + 2) % 5]);
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
  std::size_t i = 0;
  // Whole lanes at a time while aligned to one, byte by byte otherwise.
  while (i < bytes.size()) {
    if (position_ % 8 == 0 && bytes.size() - i >= 8) {
      std::uint64_t lane = 0;
      for (unsigned k = 0; k < 8; ++k) lane |= std::uint64_t{static_cast<std::uint8_t>(bytes[i + k])} << (8 * k);
      state_[position_ / 8] ^= lane;
      position_ += 8;
      i += 8;
    } else {
      xor_byte(state_, position_++, static_cast<std::uint8_t>(bytes[i++]));
    }
    if (position_ == rate_bytes) {
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
  std::string hex;
  hex.reserve(2 * digest_bytes);
  for (const std::uint8_t byte : hash.finish()) append_hex(hex, byte);
  return hex;
}

std::string hmac_sha3_256_hex(std::string_view key, std::string_view message) {
  constexpr std::size_t block_bytes = 136;  // SHA3-256's rate
  std::array<std::uint8_t, block_bytes> padded_key{};
  if (key.size() > block_bytes) {
    const auto digest = sha3_256(key);
    std::copy(digest.begin(), digest.end(), padded_key.begin());
  } else {
    std::copy(key.begin(), key.end(), padded_key.begin());
  }
  std::string inner_pad(block_bytes, '\0');
  std::string outer_pad(block_bytes, '\0');
  for (std::size_t i = 0; i < block_bytes; ++i) {
    inner_pad[i] = static_cast<char>(padded_key[i] ^ 0x36U);
    outer_pad[i] = static_cast<char>(padded_key[i] ^ 0x5cU);
  }
  Sha3_256 inner;
  inner.update(inner_pad);
  inner.update(message);
  const auto inner_digest = inner.finish();
  return sha3_256_hex(outer_pad, std::string_view(reinterpret_cast<const char*>(inner_digest.data()), inner_digest.size()));
}

}  // namespace hotstate::internal
