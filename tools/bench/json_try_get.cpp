// Json::try_get on a mismatch next to get on a match, in the same run: try_get
// does not throw inside, so a refused value should cost about what an accepted
// one does, not the price of an exception. The baseline is what try_get used to
// do: get, and catch Error(TypeMismatch).
//
//   hotstate_bench_json [--quick]
//
// Public API only. Each figure is the median of 9 rounds.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hotstate/json.hpp"

namespace {

using hotstate::Json;

volatile bool sink;  // keeps the optimizer from dropping the calls

template <class Call>
double median_ns(long iterations, Call&& call) {
  std::vector<double> rounds;
  for (int round = 0; round < 9; ++round) {
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < iterations; ++i) sink = call();
    const std::chrono::duration<double, std::nano> elapsed = std::chrono::steady_clock::now() - start;
    rounds.push_back(elapsed.count() / static_cast<double>(iterations));
  }
  std::nth_element(rounds.begin(), rounds.begin() + 4, rounds.end());
  return rounds[4];
}

// What try_get did before: get, and catch the mismatch.
template <class T>
std::optional<T> get_or_catch(const Json& json) {
  try {
    return json.get<T>();
  } catch (const hotstate::Error& error) {
    if (error.code() != hotstate::ErrorCode::TypeMismatch) throw;
    return std::nullopt;
  }
}

template <class T>
void figure(const char* what, long iterations, const Json& match, const Json& mismatch) {
  const double get = median_ns(iterations, [&] { return match.get<T>() == T{}; });
  const double try_hit = median_ns(iterations, [&] { return match.try_get<T>().has_value(); });
  const double try_miss = median_ns(iterations, [&] { return mismatch.try_get<T>().has_value(); });
  const double caught = median_ns(iterations / 10, [&] { return get_or_catch<T>(mismatch).has_value(); });
  std::printf("| %s | %.1f ns | %.1f ns | %.1f ns (%.2fx get) | %.1f ns (%.1fx try_get) |\n", what, get, try_hit,
              try_miss, try_miss / get, caught, caught / try_miss);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const long n = quick ? 20'000 : 400'000;
  std::string numbers = "[";
  for (int i = 0; i < 100; ++i) numbers += std::to_string(i * 7919) + ",";
  const Json hundred = Json::parse(numbers + "0]");
  const Json hundred_bad = Json::parse(numbers + "\"x\"]");  // the mismatch is the last element

  std::printf("| conversion | get (match) | try_get (match) | try_get (mismatch) | get + catch (mismatch) |\n");
  std::printf("|---|---|---|---|---|\n");
  figure<int>("int", n, Json::parse("42"), Json::parse("\"42\""));
  figure<std::uint8_t>("uint8_t, out of range", n, Json::parse("200"), Json::parse("300"));
  figure<std::string>("std::string", n, Json::parse("\"a string\""), Json::parse("[\"a string\"]"));
  figure<std::vector<int>>("vector<int> of 100", n / 10, hundred, hundred_bad);
  figure<std::map<std::string, std::vector<int>>>("map of vectors, inner mismatch", n / 4,
                                                  Json::parse(R"({"a":[1,2,3],"b":[4,5]})"),
                                                  Json::parse(R"({"a":[1,2,3],"b":[4,5.5]})"));
  return 0;
}
