// Builds under clang's -Wthread-safety: the same access as
// writer_without_lock.cpp, with writer_mutex held (the control of
// thread_safety_refuses_an_unlocked_access).
#include "store/store_internal.hpp"

bool has_writer(hotstate::internal::Store::Shared& shared) {
  hotstate::internal::MutexLock lock(shared.writer_mutex);
  return shared.writer != nullptr;
}
