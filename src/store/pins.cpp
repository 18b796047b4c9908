// The store: pins, read and removed (pin itself, which copies a stored
// snapshot, is beside stored() and restore() in snapshots.cpp).
#include "store/store_internal.hpp"

namespace hotstate::internal {

WriteOutcome<bool> Store::unpin(std::string_view plugin_id, std::string_view label) {
  require_id(*shared_, plugin_id, "plugin_id");
  require_id(*shared_, label, "the pin's label");
  return shared_->write("unpin", Shared::Statements::Many, [&](Connection& c, Commit&) {
    StatementUse erase(c.statement("DELETE FROM pins WHERE plugin_id = ?1 AND label = ?2"));
    erase->bind(1, std::string(plugin_id));
    erase->bind(2, std::string(label));
    return erase->exec() > 0;
  });
}

std::optional<StateSnapshot> Store::pinned(std::string_view plugin_id, std::string_view label) const {
  require_id(*shared_, plugin_id, "plugin_id");
  require_id(*shared_, label, "the pin's label");
  return shared_->read("pinned", [&](Connection& c) -> std::optional<StateSnapshot> {
    StatementUse select(c.statement(
        "SELECT seq, plugin_id, timestamp, plugin_version, data, metadata, canonical_hash FROM pins"
        " WHERE plugin_id = ?1 AND label = ?2"));
    select->bind(1, std::string(plugin_id));
    select->bind(2, std::string(label));
    if (!select->executeStep()) return std::nullopt;
    return read_snapshot(*select.operator->());
  });
}

std::vector<PinInfo> Store::pins(std::string_view plugin_id) const {
  if (!plugin_id.empty()) require_id(*shared_, plugin_id, "plugin_id");
  return shared_->read("pins", [&](Connection& c) {
    StatementUse select(c.statement(
        "SELECT plugin_id, label, seq, plugin_version, pinned_at_us,"
        "       EXISTS (SELECT 1 FROM snapshots WHERE snapshots.seq = pins.seq AND snapshots.plugin_id = pins.plugin_id)"
        "  FROM pins WHERE ?1 = '' OR plugin_id = ?1 ORDER BY plugin_id, label"));
    select->bind(1, std::string(plugin_id));
    std::vector<PinInfo> pins;
    while (select->executeStep()) {
      PinInfo pin;
      pin.plugin_id = select->getColumn(0).getString();
      pin.label = select->getColumn(1).getString();
      pin.seq = static_cast<std::uint64_t>(select->getColumn(2).getInt64());
      pin.plugin_version = select->getColumn(3).getString();
      pin.pinned_at_us = select->getColumn(4).getInt64();
      pin.in_snapshots = select->getColumn(5).getInt() != 0;
      pins.push_back(std::move(pin));
    }
    return pins;
  });
}

}  // namespace hotstate::internal
