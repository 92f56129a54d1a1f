// In-region server choice: least outstanding requests over two random choices (the "power of two
// choices"), with the random draws and the comparison weighted by capacity.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "gateway/topology.h"

namespace meridian::gateway {

//! Picks an available server of `region` whose address is not in `exclude`; nullopt if none.
//! Thread-safe (a thread-local random generator).
std::optional<size_t> PickServer(const RegionView& region, const std::vector<const ServerState*>& exclude,
                                 ServerState::Clock::time_point now);

}  // namespace meridian::gateway
