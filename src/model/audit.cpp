// The audit log's value types: host reload events and read-back events.
#include "hotstate/audit.hpp"

#include "hotstate/time.hpp"
#include "model/audit_kinds.hpp"

#include <map>
#include <utility>

namespace hotstate {

Json AuditEvent::detail_json() const { return Json::parse(detail); }

std::string AuditEvent::short_detail() const {
  try {
    auto fields = detail_json().get<std::map<std::string, Json>>();
    fields.erase("content_hash");
    return Json::from(fields).text();
  } catch (const Error&) {
    return detail;
  }
}

namespace {

constexpr std::size_t reload_event_kind_count = static_cast<std::size_t>(ReloadEvent::Kind::PluginRemoved) + 1;
static_assert(internal::audit_kind::first_reload_event + reload_event_kind_count == std::size(internal::audit_kind::all),
              "every ReloadEvent kind has its name in audit_kind::all, in the enum's order");

}  // namespace

void to_json(JsonWriter& out, const AuditEvent& event) {
  out.begin_object();
  out.member("id", event.id);
  out.member("time_us", event.time_us);
  out.member("time", format_time_us(event.time_us));
  out.member("plugin_id", event.plugin_id);
  out.member("kind", event.kind);
  out.key("detail");
  try {
    out.json(event.detail_json());
  } catch (const Error& error) {
    if (error.code() != ErrorCode::InvalidJson) throw;
    out.string(event.detail);
  }
  out.end_object();
}

std::string_view to_string(ReloadEvent::Kind kind) noexcept {
  const auto index = static_cast<std::size_t>(kind);
  if (index >= reload_event_kind_count) return {};
  return internal::audit_kind::all[internal::audit_kind::first_reload_event + index];
}

std::optional<ReloadEvent::Kind> reload_event_kind(std::string_view name) noexcept {
  for (std::size_t index = 0; index < reload_event_kind_count; ++index) {
    if (internal::audit_kind::all[internal::audit_kind::first_reload_event + index] == name) {
      return static_cast<ReloadEvent::Kind>(index);
    }
  }
  return std::nullopt;
}

std::span<const std::string_view> audit_kinds() noexcept { return internal::audit_kind::all; }

std::span<const ReloadEvent::Kind> reload_event_kinds() noexcept {
  using Kind = ReloadEvent::Kind;
  static constexpr Kind kinds[] = {Kind::ReloadStarted,   Kind::StatePreserved,    Kind::StateRestored,
                                   Kind::ReloadCompleted, Kind::ReloadFailed,      Kind::RollbackTriggered,
                                   Kind::PluginDiscovered, Kind::PluginRemoved};
  static_assert(std::size(kinds) == reload_event_kind_count, "every ReloadEvent kind, once");
  return kinds;
}

namespace {

ReloadEvent event(ReloadEvent::Kind kind, std::string plugin_id) {
  ReloadEvent result;
  result.kind = kind;
  result.plugin_id = std::move(plugin_id);
  return result;
}

}  // namespace

ReloadEvent ReloadEvent::reload_started(std::string plugin_id) { return event(Kind::ReloadStarted, std::move(plugin_id)); }

ReloadEvent ReloadEvent::state_preserved(std::string plugin_id) {
  return event(Kind::StatePreserved, std::move(plugin_id));
}

ReloadEvent ReloadEvent::state_restored(std::string plugin_id) { return event(Kind::StateRestored, std::move(plugin_id)); }

ReloadEvent ReloadEvent::reload_completed(std::string plugin_id, bool success, std::chrono::microseconds duration) {
  return event(Kind::ReloadCompleted, std::move(plugin_id))
      .with("success", success)
      .with("duration_us", static_cast<std::int64_t>(duration.count()));
}

ReloadEvent ReloadEvent::reload_failed(std::string plugin_id, std::string error, std::uint32_t attempt) {
  return event(Kind::ReloadFailed, std::move(plugin_id)).with("error", error).with("attempt", attempt);
}

ReloadEvent ReloadEvent::rollback_triggered(std::string plugin_id, std::string reason) {
  return event(Kind::RollbackTriggered, std::move(plugin_id)).with("reason", reason);
}

ReloadEvent ReloadEvent::plugin_discovered(std::string plugin_id) {
  return event(Kind::PluginDiscovered, std::move(plugin_id));
}

ReloadEvent ReloadEvent::plugin_removed(std::string plugin_id) { return event(Kind::PluginRemoved, std::move(plugin_id)); }

}  // namespace hotstate
