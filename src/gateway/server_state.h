// ServerState: what the gateway knows about one upstream server at run time: active-probe health
// (with thresholds), passive ejection (with doubling), its last load report, the gateway's own
// count of outstanding requests and the probed RTT. Survives config reloads (kept by address).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "gateway/config.h"
#include "gateway/load_report.h"
#include "gateway/rtt_model.h"

namespace meridian::gateway {

//! Thread-safety: every method may be called from any thread. Counters are atomics; the health,
//! ejection and load-report fields are guarded by one mutex per server (held for a few loads and
//! stores, never across a call out).
class ServerState {
 public:
  using Clock = std::chrono::steady_clock;

  ServerState(std::string region, std::string address);

  const std::string& region() const { return region_; }
  const std::string& address() const { return address_; }

  //! A probe answered with a load report (status "ready" or "saturated" count as good).
  //! Returns true if the server's health changed.
  bool OnProbeSuccess(const LoadReport& report, const HealthConfig& health);
  //! A probe failed (no answer, timeout, bad body, or the server is loading/draining).
  bool OnProbeFailure(const std::string& reason, const HealthConfig& health);
  //! The outcome of a real request: `failure` is a connect failure or a 5xx. Returns true if this
  //! failure ejected the server.
  bool OnRequestOutcome(bool failure, const HealthConfig& health, Clock::time_point now = Clock::now());

  //! Healthy by active probes (optimistic before the first probe).
  bool healthy() const;
  bool ejected(Clock::time_point now = Clock::now()) const;
  //! Healthy and not ejected: may take new requests.
  bool Available(Clock::time_point now = Clock::now()) const;
  LoadReport load() const;
  bool has_load() const;
  //! The server's prefill rate in tokens/s, smoothed over probes (EWMA, weight kPrefillSmoothing
  //! per probe). The reported rate swings several-fold from one probe to the next with short
  //! prompts and CPU contention; routing on single reports sent requests to far regions. 0 while
  //! unknown (no report yet, or the server reports none, as a freshly started one does).
  double prefill_tokens_per_second() const;
  static constexpr double kPrefillSmoothing = 0.2;

  std::atomic<int64_t> outstanding{0};  //!< requests in flight through this gateway
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> failures{0};
  std::atomic<bool> probe_in_flight{false};
  RttEwma rtt;  //!< probed round-trip time (request on a warm connection to response head)

  //! A JSON object describing this server for GET /gateway/regions.
  std::string DescribeJson(Clock::time_point now = Clock::now()) const;
  uint64_t ejections() const;

 private:
  const std::string region_;
  const std::string address_;
  mutable std::mutex mu_;
  bool probed_ = false;
  bool healthy_ = true;
  int probe_successes_ = 0;  //!< consecutive
  int probe_failures_ = 0;   //!< consecutive
  std::string last_probe_error_;
  bool has_load_ = false;
  LoadReport load_;
  double prefill_tok_s_ = 0.0;  //!< see prefill_tokens_per_second
  int request_failures_ = 0;  //!< consecutive connect failures / 5xx
  uint64_t ejections_ = 0;
  int ejection_streak_ = 0;  //!< ejections since the multiplier last reset
  Clock::time_point ejected_until_{};
};

}  // namespace meridian::gateway
