// Plugins whose current snapshot cannot be read (unreadable.hpp).
#include "unreadable.hpp"

#include <iostream>

#include "output.hpp"

namespace hotstate_tool {

bool is_unreadable_row(const hotstate::Error& error) {
  switch (error.code()) {
    case hotstate::ErrorCode::Corrupt:
    case hotstate::ErrorCode::InvalidJson:
    case hotstate::ErrorCode::InvalidSnapshot:
    case hotstate::ErrorCode::InvalidUtf8:
    case hotstate::ErrorCode::TooLarge:
    case hotstate::ErrorCode::TypeMismatch:
    case hotstate::ErrorCode::NonFiniteNumber:
      return true;
    default:
      return false;
  }
}

int report_unreadable(const std::vector<UnreadablePlugin>& unreadable, std::size_t total, std::string_view done) {
  for (const auto& plugin : unreadable) {
    std::cerr << "hotstate: cannot read plugin '" << printable(plugin.plugin_id) << "' (seq " << plugin.seq
              << "): " << printable(plugin.error) << "\n";
  }
  if (unreadable.empty()) return 0;
  std::cerr << "hotstate: " << unreadable.size() << " of " << total << " plugin(s) could not be read; every other one was "
            << done << "\n";
  return 1;
}

void write_unreadable(hotstate::JsonWriter& out, const UnreadablePlugin& plugin) {
  out.begin_object();
  out.member("plugin_id", json_text(plugin.plugin_id));
  out.member("seq", plugin.seq);
  out.member("error", json_text(plugin.error));
  out.end_object();
}

}  // namespace hotstate_tool
