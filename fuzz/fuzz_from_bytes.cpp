// StateSnapshot::from_bytes on arbitrary bytes.
//
// Failure must be a hotstate::Error with the documented codes (InvalidJson,
// InvalidSnapshot); anything else escapes and crashes the fuzzer. On success:
//  - to_bytes() does not throw, and from_bytes(to_bytes()) equals the snapshot;
//  - to_bytes() is stable (the re-read snapshot writes the same bytes);
//  - every data value is canonical JSON;
//  - when the whole input also parses as one Json value (it may not: its data
//    values may nest up to json_max_depth each, deeper than one document may),
//    the fields read by Json agree with the snapshot's.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "hotstate/json.hpp"
#include "hotstate/snapshot.hpp"

using hotstate::Error;
using hotstate::ErrorCode;
using hotstate::Json;
using hotstate::StateSnapshot;

namespace {

void cross_check_with_json(std::string_view input, const StateSnapshot& snapshot) {
  std::optional<Json> document;
  try {
    document = Json::parse(input);
  } catch (const Error& error) {
    if (error.code() != ErrorCode::InvalidJson) FUZZ_UNEXPECTED(error);
    return;
  }
  FUZZ_CHECK(document->type() == hotstate::JsonType::Object);
  const auto fields = document->get<std::map<std::string, Json>>();
  // Json keeps the last of duplicate keys; from_bytes refuses duplicate
  // fields, so both saw the same value of each field.
  FUZZ_CHECK(fields.at("plugin_id").get<std::string>() == snapshot.plugin_id);
  FUZZ_CHECK(fields.at("timestamp").get<std::uint64_t>() == snapshot.timestamp);
  FUZZ_CHECK(fields.at("plugin_version").get<std::string>() == snapshot.plugin_version);
  FUZZ_CHECK((fields.at("data").get<std::map<std::string, Json>>() == snapshot.data));
  FUZZ_CHECK((fields.at("metadata").get<std::map<std::string, std::string>>() == snapshot.metadata));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  std::optional<StateSnapshot> snapshot;
  try {
    snapshot.emplace(StateSnapshot::from_bytes(input));
  } catch (const Error& error) {
    if (error.code() != ErrorCode::InvalidJson && error.code() != ErrorCode::InvalidSnapshot) {
      FUZZ_UNEXPECTED(error);
    }
    return 0;
  }

  FUZZ_CHECK(snapshot->seq == 0);
  for (const auto& [key, value] : snapshot->data) {
    (void)key;
    FUZZ_CHECK(Json::parse(value.text()) == value);
  }

  // Whatever from_bytes accepted, to_bytes writes (it throws only for
  // invalid UTF-8, which from_bytes never produces).
  const std::string bytes = snapshot->to_bytes();
  const StateSnapshot again = StateSnapshot::from_bytes(bytes);
  FUZZ_CHECK(again == *snapshot);
  FUZZ_CHECK(again.to_bytes() == bytes);

  cross_check_with_json(input, *snapshot);
  return 0;
}
