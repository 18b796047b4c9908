// The store: a new file from a replica's rows (Store::rebuild_file). Written by a helper.
#include "store/store_internal.hpp"

namespace hotstate::internal {

void Store::rebuild_file(const std::string&, const HostImage&) {
  throw Error(ErrorCode::Internal, "rebuild_file: not written yet");
}

}  // namespace hotstate::internal
