// Pins as JSON (pin.hpp).
#include "hotstate/pin.hpp"

#include "hotstate/time.hpp"

namespace hotstate {

void to_json(JsonWriter& out, const PinInfo& pin) {
  out.begin_object();
  out.member("plugin_id", pin.plugin_id);
  out.member("label", pin.label);
  out.member("seq", pin.seq);
  out.member("plugin_version", pin.plugin_version);
  out.member("pinned_at_us", pin.pinned_at_us);
  out.member("pinned", format_time_us(pin.pinned_at_us));
  out.member("in_snapshots", pin.in_snapshots);
  out.end_object();
}

}  // namespace hotstate
