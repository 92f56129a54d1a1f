// Great-circle RTT estimates and the probe EWMA.
#include "gateway/rtt_model.h"

#include <cmath>

namespace meridian::gateway {

double GreatCircleKm(const LatLon& a, const LatLon& b) {
  constexpr double kEarthRadiusKm = 6371.0088;
  constexpr double kRad = 3.14159265358979323846 / 180.0;
  const double dlat = (b.lat - a.lat) * kRad;
  const double dlon = (b.lon - a.lon) * kRad;
  const double h = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(a.lat * kRad) * std::cos(b.lat * kRad) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * kEarthRadiusKm * std::asin(std::min(1.0, std::sqrt(h)));
}

double EstimateRttMs(const LatLon& a, const LatLon& b, const RttConfig& rtt) {
  return rtt.base_ms + 2.0 * GreatCircleKm(a, b) * rtt.route_factor / rtt.fibre_km_per_ms;
}

void RttEwma::Add(double sample_ms, double alpha) {
  if (!(sample_ms >= 0)) return;
  double old = value_.load(std::memory_order_relaxed);
  value_.store(old < 0 ? sample_ms : (1 - alpha) * old + alpha * sample_ms, std::memory_order_relaxed);
}

}  // namespace meridian::gateway
