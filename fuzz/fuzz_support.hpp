// Shared by the fuzz targets: a check that stops the fuzzer with a message.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "hotstate/error.hpp"

// Aborts (a crash for libFuzzer, which then saves the input) when `cond` is false.
#define FUZZ_CHECK(cond)                                                                        \
  do {                                                                                          \
    if (!(cond)) ::hotstate_fuzz::fail(__FILE__, __LINE__, #cond);                              \
  } while (false)

namespace hotstate_fuzz {

[[noreturn]] inline void fail(const char* file, int line, const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "%s:%d: fuzz check failed: %s%s%.*s\n", file, line, what, detail.empty() ? "" : ": ",
               static_cast<int>(detail.size()), detail.data());
  std::fflush(stderr);
  std::abort();
}

// An Error with a code the caller did not expect is a finding too.
[[noreturn]] inline void unexpected(const char* file, int line, const hotstate::Error& error) {
  fail(file, line, "unexpected hotstate::Error", error.what());
}

}  // namespace hotstate_fuzz

#define FUZZ_UNEXPECTED(error) ::hotstate_fuzz::unexpected(__FILE__, __LINE__, (error))
