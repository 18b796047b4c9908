// The store: each plugin's persisted life-cycle state.
#include "store/store_internal.hpp"

#include "model/json_internal.hpp"


namespace hotstate::internal {

WriteOutcome<bool> Store::set_plugin_state(std::string_view plugin_id, const PluginState& state) {
  require_id(*shared_, plugin_id, "plugin_id");
  require_utf8(state.reason(), "the Failed reason");
  require_within(state.reason().size(), shared_->max_metadata_bytes, "the Failed reason");
  return shared_->write("set_plugin_state", Shared::Statements::One, [&](Connection& c, Commit&) {
    // The triggers on plugin_states record the transition in the audit log.
    StatementUse upsert(c.statement(
        "INSERT INTO plugin_states (plugin_id, state, reason, changed_at_us) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT (plugin_id) DO UPDATE SET state = excluded.state, reason = excluded.reason,"
        " changed_at_us = excluded.changed_at_us"
        " WHERE state IS NOT excluded.state OR reason IS NOT excluded.reason"));
    upsert->bind(1, std::string(plugin_id));
    upsert->bind(2, std::string(PluginState::kind_name(state.kind())));
    upsert->bind(3, state.reason());
    upsert->bind(4, shared_->now_us());
    upsert->exec();
    return true;
  });
}

PluginState Store::plugin_state(std::string_view plugin_id) const {
  require_id(*shared_, plugin_id, "plugin_id");
  return shared_->read("plugin_state", [&](Connection& c) {
    StatementUse select(c.statement("SELECT state, reason FROM plugin_states WHERE plugin_id = ?1"));
    select->bind(1, std::string(plugin_id));
    if (!select->executeStep()) return PluginState();
    const std::string name = select->getColumn(0).getString();
    const auto kind = PluginState::kind_named(name);
    if (!kind) throw Error(ErrorCode::Corrupt, "plugin_states holds an unknown state '" + name + "'");
    if (*kind == PluginState::Kind::Failed) return PluginState::failed(select->getColumn(1).getString());
    return PluginState(*kind);
  });
}

}  // namespace hotstate::internal
