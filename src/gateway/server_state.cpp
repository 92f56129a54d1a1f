// ServerState: health thresholds, passive ejection and the load report of one upstream.
#include "gateway/server_state.h"

#include <cstdio>

#include "core/log.h"

namespace meridian::gateway {

ServerState::ServerState(std::string region, std::string address)
    : region_(std::move(region)), address_(std::move(address)) {}

double ServerState::prefill_tokens_per_second() const {
  std::lock_guard lock(mu_);
  return prefill_tok_s_;
}

bool ServerState::OnProbeSuccess(const LoadReport& report, const HealthConfig& health) {
  std::lock_guard lock(mu_);
  load_ = report;
  has_load_ = true;
  if (report.prefill_tokens_per_second <= 0) {
    prefill_tok_s_ = 0;  // unknown again (e.g. restarted)
  } else if (prefill_tok_s_ <= 0) {
    prefill_tok_s_ = report.prefill_tokens_per_second;
  } else {
    prefill_tok_s_ += kPrefillSmoothing * (report.prefill_tokens_per_second - prefill_tok_s_);
  }
  last_probe_error_.clear();
  probe_failures_ = 0;
  ++probe_successes_;
  bool was = healthy_;
  // The first probe decides at once; later ones need `healthy_after` in a row.
  if (!probed_ || probe_successes_ >= health.healthy_after) healthy_ = true;
  probed_ = true;
  return was != healthy_;
}

bool ServerState::OnProbeFailure(const std::string& reason, const HealthConfig& health) {
  std::lock_guard lock(mu_);
  last_probe_error_ = reason;
  probe_successes_ = 0;
  ++probe_failures_;
  bool was = healthy_;
  if (!probed_ || probe_failures_ >= health.unhealthy_after) healthy_ = false;
  probed_ = true;
  return was != healthy_;
}

bool ServerState::OnRequestOutcome(bool failure, const HealthConfig& health, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (!failure) {
    request_failures_ = 0;
    return false;
  }
  if (now < ejected_until_) return false;  // already out
  if (++request_failures_ < health.eject_after) return false;
  request_failures_ = 0;
  // The multiplier resets once the server stayed in for eject_max after its last ejection ended.
  if (ejection_streak_ > 0 && now - ejected_until_ > health.eject_max) ejection_streak_ = 0;
  auto duration = health.eject_base;
  for (int i = 0; i < ejection_streak_ && duration < health.eject_max; ++i) duration *= 2;
  if (duration > health.eject_max) duration = health.eject_max;
  ++ejection_streak_;
  ++ejections_;
  ejected_until_ = now + duration;
  log::Warn("gateway ejected a server", {{"region", std::string_view(region_)},
                                         {"server", std::string_view(address_)},
                                         {"for_ms", static_cast<long long>(duration.count())}});
  return true;
}

bool ServerState::healthy() const {
  std::lock_guard lock(mu_);
  return healthy_;
}

bool ServerState::ejected(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  return now < ejected_until_;
}

bool ServerState::Available(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  return healthy_ && now >= ejected_until_;
}

LoadReport ServerState::load() const {
  std::lock_guard lock(mu_);
  return load_;
}

bool ServerState::has_load() const {
  std::lock_guard lock(mu_);
  return has_load_;
}

uint64_t ServerState::ejections() const {
  std::lock_guard lock(mu_);
  return ejections_;
}

std::string ServerState::DescribeJson(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  auto num = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    return std::string(buf);
  };
  std::string out = "{\"address\":";
  log::AppendJsonString(out, address_);
  out += ",\"healthy\":";
  out += healthy_ ? "true" : "false";
  bool ejected = now < ejected_until_;
  out += ",\"ejected\":";
  out += ejected ? "true" : "false";
  out += ",\"ejected_for_ms\":";
  out += std::to_string(
      ejected ? std::chrono::duration_cast<std::chrono::milliseconds>(ejected_until_ - now).count() : 0);
  out += ",\"ejections\":" + std::to_string(ejections_);
  out += ",\"outstanding\":" + std::to_string(outstanding.load());
  out += ",\"requests\":" + std::to_string(requests.load());
  out += ",\"failures\":" + std::to_string(failures.load());
  double rtt_ms = rtt.Value();
  out += ",\"rtt_ms\":" + (rtt_ms < 0 ? std::string("null") : num(rtt_ms));
  out += ",\"last_probe_error\":";
  log::AppendJsonString(out, last_probe_error_);
  out += ",\"load\":";
  if (!has_load_) {
    out += "null";
  } else {
    out += "{\"status\":";
    log::AppendJsonString(out, load_.status);
    out += ",\"running\":" + std::to_string(load_.running);
    out += ",\"waiting\":" + std::to_string(load_.waiting);
    out += ",\"max_running\":" + std::to_string(load_.max_running);
    out += ",\"max_waiting\":" + std::to_string(load_.max_waiting);
    out += ",\"kv_blocks_free\":" + std::to_string(load_.kv_blocks_free);
    out += ",\"estimated_queue_wait_ms\":" + num(load_.estimated_queue_wait_ms);
    out += ",\"prefill_tokens_per_second\":" + num(load_.prefill_tokens_per_second) + "}";
  }
  out += "}";
  return out;
}

}  // namespace meridian::gateway
