// Audit checkpoints as text and JSON (checkpoint.hpp).
#include "hotstate/checkpoint.hpp"

#include <cctype>
#include <charconv>

#include "hotstate/error.hpp"
#include "hotstate/time.hpp"

namespace hotstate {

std::string AuditCheckpoint::to_text() const { return std::to_string(event_id) + ":" + chain_hash; }

AuditCheckpoint AuditCheckpoint::parse(std::string_view text) {
  const auto refuse = [&] {
    return Error(ErrorCode::InvalidArgument,
                 "audit checkpoint '" + std::string(text.substr(0, 200)) +
                     "': expected ID:HASH, an event id and its chain hash of 64 hex digits");
  };
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) throw refuse();
  AuditCheckpoint checkpoint;
  const std::string_view id = text.substr(0, colon);
  const auto [end, error] = std::from_chars(id.data(), id.data() + id.size(), checkpoint.event_id);
  if (error != std::errc() || end != id.data() + id.size()) throw refuse();
  const std::string_view hash = text.substr(colon + 1);
  if (hash.size() != 64) throw refuse();
  for (const char c : hash) {
    if (std::isxdigit(static_cast<unsigned char>(c)) == 0) throw refuse();
    checkpoint.chain_hash += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return checkpoint;
}

void to_json(JsonWriter& out, const AuditCheckpoint& checkpoint) {
  out.begin_object();
  out.member("event_id", checkpoint.event_id);
  out.member("chain_hash", checkpoint.chain_hash);
  out.member("event_count", checkpoint.event_count);
  out.member("time_us", checkpoint.time_us);
  out.member("time", format_time_us(checkpoint.time_us));
  if (!checkpoint.signature.empty()) out.member("signature", checkpoint.signature);
  out.member("text", checkpoint.to_text());
  out.end_object();
}

}  // namespace hotstate
