#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "model/sha3.hpp"
#include "support.hpp"

namespace {

using hotstate::internal::Sha3_256;
using hotstate::internal::sha3_256;
using hotstate::internal::sha3_256_hex;

// Written out here rather than taken from sha3_256_hex, which is under test.
std::string to_hex(const std::array<std::uint8_t, 32>& digest) {
  constexpr std::string_view digits = "0123456789abcdef";
  std::string hex;
  for (const std::uint8_t byte : digest) {
    hex += digits[byte >> 4];
    hex += digits[byte & 0x0F];
  }
  return hex;
}

// Every byte value, so the lane packing sees high bits too.
std::string patterned_bytes(std::size_t length) {
  std::string bytes;
  for (std::size_t i = 0; i < length; ++i) bytes += static_cast<char>((i * 131 + 7) & 0xFF);
  return bytes;
}

std::array<std::uint8_t, 32> hash_in_pieces(std::string_view bytes, std::size_t piece) {
  Sha3_256 hash;
  while (!bytes.empty()) {
    hash.update(bytes.substr(0, piece));
    bytes.remove_prefix(bytes.size() < piece ? bytes.size() : piece);
  }
  return hash.finish();
}

void append_utf8(std::string& out, std::uint32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

// Valid UTF-8 of at most `max_bytes` bytes: mostly printable ASCII, with
// 2-, 3- and 4-byte characters mixed in (never a surrogate or NUL).
std::string random_text(std::mt19937& rng, std::size_t max_bytes) {
  std::string text;
  while (true) {
    std::uint32_t code_point = 0;
    switch (rng() % 5) {
      case 0: code_point = 0x80 + rng() % (0x800 - 0x80); break;
      case 1:
        code_point = 0x800 + rng() % (0x10000 - 0x800);
        if (code_point >= 0xD800 && code_point <= 0xDFFF) code_point = 0x20AC;
        break;
      case 2: code_point = 0x10000 + rng() % (0x110000 - 0x10000); break;
      default: code_point = 0x20 + rng() % (0x7F - 0x20); break;
    }
    std::string character;
    append_utf8(character, code_point);
    if (text.size() + character.size() > max_bytes) break;
    text += character;
  }
  return text;
}

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace

TEST_CASE("SHA3-256 matches the FIPS 202 test vectors", "[sha3]") {
  const std::string million_a(1000000, 'a');
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"},
      {"abc", "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "41c0dba2a9d6240849100376a8235e2c82e1b9998a999e21db32dd97496d3376"},
      {million_a, "5c8875ae474a3634ba4fd55ec85bffd661f32aca75c6d699d0cdcb6c115891c1"},
  };
  for (const auto& [input, expected] : vectors) {
    INFO("input of " << input.size() << " bytes");
    CHECK(to_hex(sha3_256(input)) == expected);
    CHECK(sha3_256_hex(input) == expected);
  }
}

TEST_CASE("SHA3-256 gives the same digest however the input is split into updates", "[sha3]") {
  for (std::size_t length = 0; length <= 300; ++length) {
    const std::string input = patterned_bytes(length);
    const auto whole = sha3_256(input);
    for (std::size_t split = 0; split <= length; ++split) {
      Sha3_256 hash;
      hash.update(std::string_view(input).substr(0, split));
      hash.update(std::string_view(input).substr(split));
      const auto two_parts = hash.finish();
      if (two_parts != whole) FAIL_CHECK("length " << length << " split at " << split << " differs");
    }
    for (const std::size_t piece : {std::size_t{1}, std::size_t{135}, std::size_t{136}, std::size_t{137}}) {
      INFO("length " << length << " in pieces of " << piece);
      CHECK(hash_in_pieces(input, piece) == whole);
    }
  }
}

TEST_CASE("sha3_256_hex hashes its two arguments as one concatenated input", "[sha3]") {
  const std::vector<std::string> parts = {"", "a", "bc", patterned_bytes(135), patterned_bytes(136),
                                          patterned_bytes(200)};
  for (const auto& first : parts) {
    for (const auto& second : parts) {
      INFO("first " << first.size() << " bytes, second " << second.size() << " bytes");
      const std::string hex = sha3_256_hex(first, second);
      CHECK(hex.size() == 64);
      CHECK(hex == to_hex(sha3_256(first + second)));
    }
  }
}

TEST_CASE("SHA3-256 agrees with the sqlite3 shell's sha3() on stored text", "[sha3]") {
  if (std::system("command -v sqlite3 >/dev/null") != 0) {
    FAIL("the sqlite3 shell is not on PATH (CI installs it); it is needed to cross-check sha3()");
  }

  // Fixed seed; the first lengths sit on the 136-byte block boundaries.
  std::mt19937 rng(20240202);
  std::vector<std::string> texts;
  for (const std::size_t max_bytes : std::array<std::size_t, 9>{0, 1, 135, 136, 137, 271, 272, 273, 1000}) {
    texts.push_back(random_text(rng, max_bytes));
  }
  while (texts.size() < 50) texts.push_back(random_text(rng, rng() % 1001));
  texts.push_back(std::string(136, 'x'));  // exactly one block, ASCII only

  hotstate_test::TempDir dir;
  const std::string path = dir.file("sha3.db");
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, x TEXT); BEGIN", nullptr, nullptr, nullptr) ==
            SQLITE_OK);
    sqlite3_stmt* insert = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "INSERT INTO t(id, x) VALUES (?1, ?2)", -1, &insert, nullptr) == SQLITE_OK);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      sqlite3_bind_int(insert, 1, static_cast<int>(i));
      sqlite3_bind_text(insert, 2, texts[i].data(), static_cast<int>(texts[i].size()), SQLITE_TRANSIENT);
      REQUIRE(sqlite3_step(insert) == SQLITE_DONE);
      sqlite3_reset(insert);
    }
    sqlite3_finalize(insert);
    REQUIRE(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_close(db) == SQLITE_OK);
  }

  // -batch -init /dev/null: no ~/.sqliterc and no banner; -list -noheader: "id|hex" lines.
  const std::string command = "sqlite3 -batch -init /dev/null -list -noheader " + shell_quote(path) +
                              " \"SELECT id, lower(hex(sha3(x))) FROM t ORDER BY id\"";
  std::map<std::size_t, std::string> shell_hashes;
  {
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string output;
    std::array<char, 4096> chunk{};
    std::size_t read = 0;
    while ((read = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0) output.append(chunk.data(), read);
    const int status = ::pclose(pipe);
    INFO(command << "\n" << output);
    REQUIRE(status == 0);
    std::size_t start = 0;
    while (start < output.size()) {
      std::size_t end = output.find('\n', start);
      if (end == std::string::npos) end = output.size();
      const std::string line = output.substr(start, end - start);
      start = end + 1;
      const std::size_t bar = line.find('|');
      INFO("line: " << line);
      REQUIRE(bar != std::string::npos);
      shell_hashes[std::stoul(line.substr(0, bar))] = line.substr(bar + 1);
    }
  }

  REQUIRE(shell_hashes.size() == texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    INFO("text " << i << " of " << texts[i].size() << " bytes");
    CHECK(shell_hashes[i] == sha3_256_hex(texts[i]));
  }
}

TEST_CASE("HMAC-SHA3-256 matches Python's hmac with hashlib.sha3_256, keys shorter, equal to and longer than a block",
          "[sha3]") {
  // hmac.new(key, message, hashlib.sha3_256).hexdigest() (Python 3.11), an
  // implementation independent of this one.
  std::string block_key;
  for (int i = 0; i < 136; ++i) block_key += static_cast<char>(i);
  CHECK(hotstate::internal::hmac_sha3_256_hex("key", "The quick brown fox jumps over the lazy dog") ==
        "8c6e0683409427f8931711b10ca92a506eb1fafa48fadd66d76126f47ac2c333");
  CHECK(hotstate::internal::hmac_sha3_256_hex(std::string(200, 'k'), "") ==
        "c14e4b3400ff8fbfd61f71f76eb282dbbdda4d259f9fc0fcb8169cbab7a1ca54");
  CHECK(hotstate::internal::hmac_sha3_256_hex(block_key, "hotstate:" + std::string(64, '0')) ==
        "a54edcc5f7750bc01eda3adaeb0f82a85fb351304909b90936dc6c7f80fb153d");
  CHECK(hotstate::internal::hmac_sha3_256_hex("", "") ==
        "e841c164e5b4f10c9f3985587962af72fd607a951196fc92fb3a5251941784ea");
}
