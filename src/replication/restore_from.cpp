// Replication: rebuilding a host's file from PostgreSQL (restore_from). Written by a helper.
#include "hotstate/replication.hpp"

namespace hotstate {

RestoreFromReport restore_from(const std::string&, const std::string&, const std::string&) {
  throw Error(ErrorCode::Internal, "restore_from: not written yet");
}

}  // namespace hotstate
