// Internal: calls a ProgressCallback at most about ten times a second.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "hotstate/progress.hpp"

namespace hotstate::internal {

class ProgressReporter {
 public:
  ProgressReporter(const ProgressCallback& callback, std::string_view what, std::string_view unit,
                   std::uint64_t total = 0)
      : callback_(callback), what_(what), unit_(unit), total_(total) {}

  void set_total(std::uint64_t total) { total_ = total; }
  // `done` units so far; told when 100 ms passed since the last time (or
  // `force`). Cheap to call per row: the clock is read every 256th call.
  void update(std::uint64_t done, bool force = false) {
    if (!callback_) return;
    if (!force && (++calls_ & 0xFF) != 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (!force && told_ && now - last_ < std::chrono::milliseconds(100)) return;
    told_ = true;
    last_ = now;
    try {
      callback_(Progress{what_, done, total_, unit_});
    } catch (...) {  // the contract says it must not throw; what it throws is dropped
    }
  }
  void finish(std::uint64_t done) { update(done, true); }

 private:
  const ProgressCallback& callback_;
  std::string_view what_;
  std::string_view unit_;
  std::uint64_t total_;
  std::uint64_t calls_ = 0;
  bool told_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace hotstate::internal
