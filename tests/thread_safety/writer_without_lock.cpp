// Must not build under clang's -Wthread-safety: takes the store's writer
// connection without holding writer_mutex (ctest
// thread_safety_refuses_an_unlocked_access; see tests/CMakeLists.txt).
#include "store/store_internal.hpp"

hotstate::internal::Store::Connection& writer_of(hotstate::internal::Store::Shared& shared) {
  return *shared.writer;
}
