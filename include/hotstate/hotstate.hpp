// hotstate: durable plugin hot-reload state. Include this one header.
#pragma once

#include "hotstate/audit.hpp"
#include "hotstate/changes.hpp"
#include "hotstate/checkpoint.hpp"
#include "hotstate/error.hpp"
#include "hotstate/json.hpp"
#include "hotstate/migration.hpp"
#include "hotstate/options.hpp"
#include "hotstate/pin.hpp"
#include "hotstate/plugin_state.hpp"
#include "hotstate/reload.hpp"
#include "hotstate/snapshot.hpp"
#include "hotstate/snapshot_file.hpp"
#include "hotstate/state_manager.hpp"
#include "hotstate/stateful_plugin.hpp"
#include "hotstate/time.hpp"
#include "hotstate/version.hpp"
