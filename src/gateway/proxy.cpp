// Proxy: one ProxyExchange per client request, walking ranked regions and servers.
#include "gateway/proxy.h"

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <mutex>

#include "core/log.h"
#include "gateway/routing_policy.h"
#include "gateway/server_picker.h"

namespace meridian::gateway {
namespace {

using Clock = std::chrono::steady_clock;

//! Hop-by-hop fields (RFC 9110 7.6.1) and the ones the client library sets itself.
bool IsHopByHop(std::string_view name) {
  static constexpr std::string_view kFields[] = {"connection", "keep-alive",        "proxy-connection",
                                                 "te",         "trailer",           "transfer-encoding",
                                                 "upgrade",    "proxy-authenticate", "proxy-authorization",
                                                 "host",       "content-length",    "expect"};
  for (auto f : kFields) {
    if (http::EqualsIgnoreCase(name, f)) return true;
  }
  return false;
}

std::string ClientIp(const std::string& remote) {
  if (!remote.empty() && remote.front() == '[') return remote.substr(1, remote.find(']') - 1);
  size_t colon = remote.rfind(':');
  return colon == std::string::npos ? remote : remote.substr(0, colon);
}

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

//! One client request on its way through the gateway. Shared by the upstream callbacks and the
//! client's close callback; mu_ guards the mutable state they share.
class ProxyExchange : public std::enable_shared_from_this<ProxyExchange> {
 public:
  ProxyExchange(std::shared_ptr<const Topology> topology, GatewayMetrics* metrics,
                http::HttpClient* client, std::shared_ptr<StreamCutter> cutter,
                http::Request request, std::shared_ptr<http::ResponseWriter> writer)
      : topology_(std::move(topology)),
        metrics_(metrics),
        client_(client),
        cutter_(std::move(cutter)),
        request_(std::move(request)),
        writer_(std::move(writer)),
        started_(request_.received_at == Clock::time_point{} ? Clock::now() : request_.received_at),
        deadline_(started_ + topology_->config.upstream.request_timeout) {}

  void Start() {
    const auto now = Clock::now();
    ClientLocation client = topology_->locator->Locate(request_);
    candidates_ = topology_->Score(client, request_.body.size(), now);
    topology_->policy->Rank(candidates_);
    if (candidates_.empty()) {
      FailLocal(503, "no healthy server in any region can take this request right now; retry shortly",
                "no_healthy_upstream");
      return;
    }
    BuildUpstreamHeaders(client);
    // Weak: the writer must not keep the exchange alive (the upstream call does while it runs).
    std::weak_ptr<ProxyExchange> weak = shared_from_this();
    writer_->OnClose([weak] {
      if (auto self = weak.lock()) self->OnClientGone();
    });
    Attempt();
  }

 private:
  void BuildUpstreamHeaders(const ClientLocation& client) {
    std::string forwarded_for;
    for (const auto& [name, value] : request_.headers) {
      if (IsHopByHop(name)) continue;
      if (http::EqualsIgnoreCase(name, "x-forwarded-for")) {
        forwarded_for += (forwarded_for.empty() ? "" : ", ") + value;
        continue;
      }
      if (http::EqualsIgnoreCase(name, "x-request-id")) continue;
      upstream_headers_.Add(name, value);
    }
    std::string ip = ClientIp(request_.remote_address);
    if (!ip.empty()) forwarded_for += (forwarded_for.empty() ? "" : ", ") + ip;
    if (!forwarded_for.empty()) upstream_headers_.Add("X-Forwarded-For", forwarded_for);
    upstream_headers_.Add("X-Request-Id", writer_->request_id());
    (void)client;
  }

  //! Picks the next server (best region first, untried servers only) and starts a call; answers
  //! the client with an error when nothing is left.
  void Attempt() {
    const auto now = Clock::now();
    const ServerView* server = nullptr;
    const RegionView* region = nullptr;
    while (region_index_ < candidates_.size()) {
      const RegionView* r = candidates_[region_index_].region;
      if (auto i = PickServer(*r, tried_, now)) {
        region = r;
        server = &r->servers[*i];
        break;
      }
      ++region_index_;
    }
    if (!server) {
      FinishWithLastError();
      return;
    }
    if (now >= deadline_) {
      FailLocal(504, "the request deadline passed before an upstream answered", "timeout");
      return;
    }
    tried_.push_back(server->state.get());
    current_server_ = server->state;
    current_region_ = region->config.name;
    if (attempts_ == 0) first_region_ = current_region_;
    ++attempts_;
    current_server_->outstanding.fetch_add(1, std::memory_order_relaxed);
    current_server_->requests.fetch_add(1, std::memory_order_relaxed);

    const UpstreamConfig& up = topology_->config.upstream;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - now);
    if (left.count() < 1) left = std::chrono::milliseconds(1);
    http::ClientRequest call;
    call.method = request_.method;
    call.url = "http://" + current_server_->address() + request_.target;
    call.headers = upstream_headers_;
    call.body = request_.body;  // kept for a retry
    call.connect_timeout = std::min(up.connect_timeout, left);
    call.first_byte_timeout = std::min(up.first_byte_timeout, left);
    call.read_idle_timeout = up.idle_timeout;
    call.retry_stale_pooled = true;  // nothing was processed on a connection that died idle

    head_seen_ = false;
    retry_pending_ = false;
    buffered_ = false;
    body_.clear();
    auto self = shared_from_this();
    http::ClientCallbacks cb;
    cb.on_headers = [self](const http::ClientResponse& head) { self->OnHead(head); };
    cb.on_body = [self](std::string_view piece) { return self->OnBody(piece); };
    cb.on_complete = [self](const Status& status) { self->OnComplete(status); };
    std::shared_ptr<http::ClientCall> started = client_->Start(std::move(call), std::move(cb));
    std::lock_guard lock(mu_);
    call_ = started;
    if (client_gone_) started->Cancel();
  }

  bool HasAnotherCandidate() const {
    const auto now = Clock::now();
    for (size_t i = region_index_; i < candidates_.size(); ++i) {
      const RegionView* r = candidates_[i].region;
      for (const auto& s : r->servers) {
        if (std::find(tried_.begin(), tried_.end(), s.state.get()) == tried_.end() && s.state->Available(now)) {
          return true;
        }
      }
    }
    return false;
  }

  bool CanRetry() const {
    return attempts_ <= topology_->config.upstream.max_retries && Clock::now() < deadline_ && HasAnotherCandidate();
  }

  void OnHead(const http::ClientResponse& head) {
    head_seen_ = true;
    head_status_ = head.status;
    metrics_->UpstreamLatency(current_region_, head.head_latency.count() / 1e6);
    const bool retryable = head.status == 429 || head.status == 503;
    if (retryable && CanRetry()) {
      retry_pending_ = true;  // the body is dropped (on_body stops the call)
      last_error_status_ = head.status;
      last_error_message_ = "upstream answered " + std::to_string(head.status);
      return;
    }
    http::Headers headers;
    for (const auto& [name, value] : head.headers) {
      if (IsHopByHop(name) || http::EqualsIgnoreCase(name, "keep-alive")) continue;
      headers.Add(name, value);
    }
    headers.Add("X-Meridian-Region", current_region_);
    auto length = head.headers.Get("content-length");
    size_t content_length = 0;
    bool has_length = false;
    if (length) {
      try {
        content_length = static_cast<size_t>(std::stoull(std::string(*length)));
        has_length = true;
      } catch (...) {
      }
    }
    if (has_length && content_length <= topology_->config.upstream.buffer_limit_bytes) {
      buffered_ = true;
      response_headers_ = std::move(headers);
      body_.reserve(content_length);
      return;
    }
    if (!writer_->BeginStream(head.status, std::move(headers))) {
      stop_ = true;  // the client is gone
      return;
    }
    streaming_ = true;
  }

  bool OnBody(std::string_view piece) {
    if (retry_pending_ || stop_) return false;
    if (buffered_) {
      body_.append(piece);
      return true;
    }
    if (!first_byte_sent_) {
      first_byte_sent_ = true;
      metrics_->Ttft(current_region_, SecondsSince(started_));
    }
    return writer_->Write(piece);
  }

  void OnComplete(const Status& status) {
    current_server_->outstanding.fetch_sub(1, std::memory_order_relaxed);
    const HealthConfig& health = topology_->config.health;
    if (client_gone()) {
      metrics_->Request(current_region_, 499);
      return;
    }
    if (retry_pending_) {
      RecordOutcome(head_status_ >= 500, health);
      metrics_->Retry(current_region_);
      Attempt();
      return;
    }
    if (status.ok() || (head_seen_ && (buffered_ || streaming_) && status.code() == StatusCode::kCancelled)) {
      RecordOutcome(head_status_ >= 500, health);
      if (status.ok() && buffered_) {
        metrics_->Ttft(current_region_, SecondsSince(started_));
        writer_->Send(head_status_, std::move(response_headers_), std::move(body_));
      } else if (status.ok() && streaming_) {
        writer_->End();
      } else if (streaming_) {
        writer_->Abort();
      }
      if (attempts_ > 1 && current_region_ != first_region_) metrics_->Failover();
      metrics_->Request(current_region_, head_status_);
      return;
    }
    // A transport failure or timeout.
    if (!head_seen_) {
      RecordOutcome(/*failure=*/true, health);
      last_error_status_ = status.code() == StatusCode::kDeadlineExceeded ? 504 : 502;
      last_error_message_ = "upstream " + current_server_->address() + " in region " + current_region_ +
                            " failed: " + status.message();
      log::Warn("gateway upstream attempt failed", {{"request_id", std::string_view(writer_->request_id())},
                                                    {"region", std::string_view(current_region_)},
                                                    {"server", std::string_view(current_server_->address())},
                                                    {"error", std::string_view(status.message())}});
      if (CanRetry()) {
        metrics_->Retry(current_region_);
        Attempt();
        return;
      }
      FinishWithLastError();
      return;
    }
    // The head arrived but the body failed: nothing can be retried once the upstream acted on it.
    current_server_->failures.fetch_add(1, std::memory_order_relaxed);
    if (streaming_) {
      // What the upstream sent before it failed reaches the client, then the stream is cut.
      cutter_->AbortAfterFlush(writer_, std::chrono::milliseconds(2000));
      metrics_->Request(current_region_, head_status_);
    } else {
      FailLocal(502, "upstream " + current_server_->address() + " failed mid-response: " + status.message(),
                "bad_gateway");
    }
  }

  void RecordOutcome(bool failure, const HealthConfig& health) {
    if (failure) current_server_->failures.fetch_add(1, std::memory_order_relaxed);
    if (current_server_->OnRequestOutcome(failure, health)) metrics_->Ejection(current_region_);
  }

  void FinishWithLastError() {
    if (last_error_status_ == 0) {
      FailLocal(503, "no healthy server in any region can take this request right now; retry shortly",
                "no_healthy_upstream");
    } else if (last_error_status_ == 429 || last_error_status_ == 503) {
      FailLocal(last_error_status_, "every region that was tried is busy (" + last_error_message_ + "); retry shortly",
                last_error_status_ == 429 ? "rate_limit_exceeded" : "upstream_unavailable");
    } else {
      FailLocal(last_error_status_, last_error_message_, last_error_status_ == 504 ? "timeout" : "bad_gateway");
    }
  }

  void FailLocal(int status, const std::string& message, const char* code) {
    http::Headers headers{{"Content-Type", "application/json"}};
    if (status == 503 || status == 429) headers.Add("Retry-After", "1");
    writer_->Send(status, std::move(headers), GatewayErrorJson(status, message, code));
    metrics_->Request(current_region_.empty() ? "none" : current_region_, status);
  }

  void OnClientGone() {
    std::shared_ptr<http::ClientCall> call;
    {
      std::lock_guard lock(mu_);
      client_gone_ = true;
      call = call_;
    }
    if (call) call->Cancel();
  }

  bool client_gone() {
    std::lock_guard lock(mu_);
    return client_gone_;
  }

  const std::shared_ptr<const Topology> topology_;
  GatewayMetrics* const metrics_;
  // The Proxy's client. It outlives every callback of this exchange: ~HttpClient cancels the
  // calls still running and waits for them, and the Proxy goes before the metrics it reports to.
  http::HttpClient* const client_;
  const std::shared_ptr<StreamCutter> cutter_;
  http::Request request_;
  const std::shared_ptr<http::ResponseWriter> writer_;
  const Clock::time_point started_;
  const Clock::time_point deadline_;
  http::Headers upstream_headers_;
  std::vector<RegionCandidate> candidates_;
  size_t region_index_ = 0;
  std::vector<const ServerState*> tried_;
  int attempts_ = 0;
  std::shared_ptr<ServerState> current_server_;
  std::string current_region_;
  std::string first_region_;
  // Per attempt; touched only by the attempt's callbacks (one at a time, in order).
  bool head_seen_ = false;
  int head_status_ = 0;
  bool retry_pending_ = false;
  bool buffered_ = false;
  bool streaming_ = false;
  bool stop_ = false;
  bool first_byte_sent_ = false;
  http::Headers response_headers_;
  std::string body_;
  int last_error_status_ = 0;
  std::string last_error_message_;

  std::mutex mu_;  //!< guards call_ and client_gone_
  std::shared_ptr<http::ClientCall> call_;
  bool client_gone_ = false;
};

}  // namespace

std::string GatewayErrorJson(int status, std::string_view message, std::string_view code) {
  std::string out = "{\"error\":{\"message\":";
  log::AppendJsonString(out, message);
  out += ",\"type\":";
  out += status >= 500 ? "\"server_error\"" : status == 429 ? "\"rate_limit_error\"" : "\"invalid_request_error\"";
  out += ",\"param\":null,\"code\":";
  log::AppendJsonString(out, code);
  out += "}}";
  return out;
}

StreamCutter::StreamCutter() : work_(boost::asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}

StreamCutter::~StreamCutter() {
  work_.reset();
  io_.stop();  // pending cuts are dropped: their writers go, and the http library cuts the streams
  thread_.join();
}

namespace {

struct PendingCut {
  PendingCut(std::shared_ptr<http::ResponseWriter> w, boost::asio::io_context& io, Clock::time_point d)
      : writer(std::move(w)), timer(io), deadline(d) {}
  std::shared_ptr<http::ResponseWriter> writer;
  boost::asio::steady_timer timer;
  Clock::time_point deadline;
};

void CutWhenFlushed(std::shared_ptr<PendingCut> cut) {
  cut->timer.expires_after(std::chrono::milliseconds(2));
  cut->timer.async_wait([cut](const boost::system::error_code& ec) {
    if (ec || cut->writer->QueuedBytes() == 0 || cut->writer->IsClosed() || Clock::now() >= cut->deadline) {
      cut->writer->Abort();
      return;
    }
    CutWhenFlushed(cut);
  });
}

}  // namespace

void StreamCutter::AbortAfterFlush(std::shared_ptr<http::ResponseWriter> writer, std::chrono::milliseconds max_wait) {
  if (writer->QueuedBytes() == 0 || writer->IsClosed()) {
    writer->Abort();
    return;
  }
  CutWhenFlushed(std::make_shared<PendingCut>(std::move(writer), io_, Clock::now() + max_wait));
}

Proxy::Proxy(TopologySource topology, GatewayMetrics* metrics, const UpstreamConfig& upstream)
    : topology_(std::move(topology)), metrics_(metrics) {
  http::HttpClientOptions options;
  options.io_threads = upstream.io_threads;
  options.connect_timeout = upstream.connect_timeout;
  options.first_byte_timeout = upstream.first_byte_timeout;
  options.read_idle_timeout = upstream.idle_timeout;
  options.max_idle_per_host = upstream.max_idle_per_server;
  options.pool_idle_timeout = std::chrono::milliseconds(30'000);
  client_ = std::make_unique<http::HttpClient>(options);
  cutter_ = std::make_shared<StreamCutter>();
}

Proxy::~Proxy() = default;

void Proxy::Forward(http::Request request, std::shared_ptr<http::ResponseWriter> writer) {
  auto exchange = std::make_shared<ProxyExchange>(topology_(), metrics_, client_.get(), cutter_, std::move(request),
                                                  std::move(writer));
  exchange->Start();
}

}  // namespace meridian::gateway
