// Power-of-two-choices server picking, capacity weighted.
#include "gateway/server_picker.h"

#include <algorithm>
#include <random>

namespace meridian::gateway {

std::optional<size_t> PickServer(const RegionView& region, const std::vector<const ServerState*>& exclude,
                                  ServerState::Clock::time_point now) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::vector<size_t> eligible;
  double total = 0.0;
  for (size_t i = 0; i < region.servers.size(); ++i) {
    const ServerState* s = region.servers[i].state.get();
    if (std::find(exclude.begin(), exclude.end(), s) != exclude.end()) continue;
    if (!s->Available(now)) continue;
    eligible.push_back(i);
    total += region.servers[i].capacity;
  }
  if (eligible.empty()) return std::nullopt;
  if (eligible.size() == 1) return eligible[0];
  auto draw = [&](std::optional<size_t> not_this) {
    double sum = total - (not_this ? region.servers[*not_this].capacity : 0.0);
    double x = std::uniform_real_distribution<double>(0.0, sum)(rng);
    size_t last = eligible.front();
    for (size_t i : eligible) {
      if (not_this && i == *not_this) continue;
      last = i;
      x -= region.servers[i].capacity;
      if (x < 0) return i;
    }
    return last;
  };
  size_t a = draw(std::nullopt);
  size_t b = draw(a);
  auto load = [&](size_t i) {
    return static_cast<double>(region.servers[i].state->outstanding.load(std::memory_order_relaxed) + 1) /
           region.servers[i].capacity;
  };
  return load(b) < load(a) ? b : a;
}

}  // namespace meridian::gateway
