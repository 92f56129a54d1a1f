// Proxy: forwards one client request to the best region's server and relays the answer. Retries
// (at most upstream.max_retries, within the request deadline) on a connect failure, a connection
// lost before the response head, a first-byte timeout, 429 or 503, always before any byte reached
// the client; never after. Small Content-Length answers are sent whole; everything else (SSE)
// is relayed piece by piece as it arrives. A client that goes away cancels the upstream call at
// once (its connection is closed, so the server frees the sequence).
#pragma once

#include <functional>
#include <memory>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "gateway/gateway_metrics.h"
#include "gateway/topology.h"
#include "http/http_client.h"
#include "http/request.h"
#include "http/response_writer.h"

namespace meridian::gateway {

//! The OpenAI-shaped error body the gateway sends itself:
//! {"error":{"message":..,"type":..,"param":null,"code":..}}.
std::string GatewayErrorJson(int status, std::string_view message, std::string_view code);

//! Cuts a client's stream off (Abort) once what was already relayed has reached its socket, or
//! after `max_wait`: Abort alone drops queued output, and the client would lose the events the
//! upstream sent just before it failed. One timer thread of its own; thread-safe.
class StreamCutter {
 public:
  StreamCutter();
  ~StreamCutter();
  StreamCutter(const StreamCutter&) = delete;
  StreamCutter& operator=(const StreamCutter&) = delete;
  void AbortAfterFlush(std::shared_ptr<http::ResponseWriter> writer, std::chrono::milliseconds max_wait);

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

//! Thread-safety: Forward may be called from many threads at once (it runs on the listener's io
//! threads and returns at once; the exchange continues on the upstream client's threads).
class Proxy {
 public:
  using TopologySource = std::function<std::shared_ptr<const Topology>()>;
  Proxy(TopologySource topology, GatewayMetrics* metrics, const UpstreamConfig& upstream);
  ~Proxy();

  void Forward(http::Request request, std::shared_ptr<http::ResponseWriter> writer);

 private:
  TopologySource topology_;
  GatewayMetrics* metrics_;
  //! Owned here alone: destroying the Proxy cancels upstream calls and waits for their callbacks,
  //! which use the metrics (a shared client kept alive by exchanges outlived them).
  std::unique_ptr<http::HttpClient> client_;
  std::shared_ptr<StreamCutter> cutter_;
};

}  // namespace meridian::gateway
