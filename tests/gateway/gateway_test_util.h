// Test helpers for the gateway: fake regions on the http library (a configurable /ready load
// report and a chat endpoint that answers, refuses, hangs or streams), a raw TCP upstream that
// misbehaves below HTTP (garbage, a stream cut mid-way), and an in-process gateway on port 0.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/gateway.h"
#include "http/http_client.h"
#include "http/http_server.h"

namespace meridian::gateway::testing {

//! A region server stand-in. Thread-safe knobs; the destructor stops it.
class FakeRegion {
 public:
  enum class Mode { kOk, kBusy503, kBusy429, kHang, kStream };
  explicit FakeRegion(std::string name) : name_(std::move(name)) {
    http::Router router;
    router.Get("/ready", [this](http::Request, std::shared_ptr<http::ResponseWriter> w) {
      std::string status;
      double wait;
      {
        std::lock_guard lock(mu_);
        status = status_;
        wait = wait_ms_;
      }
      probes.fetch_add(1);
      w->SendJson(status == "ready" ? 200 : 503,
                  "{\"ready\":" + std::string(status == "ready" ? "true" : "false") + ",\"status\":\"" + status +
                      "\",\"running\":0,\"waiting\":0,\"max_running\":4,\"max_waiting\":8,"
                      "\"estimated_queue_wait_ms\":" +
                      std::to_string(wait) + ",\"prefill_tokens_per_second\":1000000}");
    });
    auto chat = [this](http::Request r, std::shared_ptr<http::ResponseWriter> w) {
      requests.fetch_add(1);
      {
        std::lock_guard lock(mu_);
        last_headers_ = r.headers;
      }
      switch (mode.load()) {
        case Mode::kOk: w->SendJson(200, "{\"region\":\"" + name_ + "\"}"); return;
        case Mode::kBusy503: w->SendError(503, "busy"); return;
        case Mode::kBusy429: w->SendError(429, "queue full"); return;
        case Mode::kHang: {
          std::lock_guard lock(mu_);
          held_.push_back(w);
          return;
        }
        case Mode::kStream: {
          w->OnClose([this] { closed_at_ns.store(Now()); });
          w->BeginEventStream();
          std::lock_guard lock(mu_);
          streams_.emplace_back([this, w] {
            for (int i = 0; i < 2000 && !stop_.load(); ++i) {
              if (!w->WriteEvent("{\"i\":" + std::to_string(i) + "}")) return;
              std::this_thread::sleep_for(std::chrono::milliseconds(stream_gap_ms.load()));
              if (i + 1 >= stream_events.load()) {
                w->WriteEvent("[DONE]");
                w->End();
                return;
              }
            }
          });
          return;
        }
      }
    };
    router.Post("/v1/chat/completions", chat);
    http::HttpServerOptions o;
    o.access_log = false;
    server_ = std::make_unique<http::HttpServer>(o, std::move(router));
    Status s = server_->Start();
    EXPECT_TRUE(s.ok()) << s.message();
  }
  ~FakeRegion() {
    stop_ = true;
    {
      std::lock_guard lock(mu_);
      held_.clear();
    }
    for (auto& t : streams_) t.join();
    server_->Shutdown(std::chrono::milliseconds(0));
    server_->Wait();
  }
  void SetReport(std::string status, double wait_ms) {
    std::lock_guard lock(mu_);
    status_ = std::move(status);
    wait_ms_ = wait_ms;
  }
  http::Headers last_headers() {
    std::lock_guard lock(mu_);
    return last_headers_;
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(server_->port()); }
  static int64_t Now() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  std::atomic<Mode> mode{Mode::kOk};
  std::atomic<int> requests{0};
  std::atomic<int> probes{0};
  std::atomic<int> stream_events{5};
  std::atomic<int> stream_gap_ms{5};
  std::atomic<int64_t> closed_at_ns{0};

 private:
  std::string name_;
  std::mutex mu_;
  std::string status_ = "ready";
  double wait_ms_ = 0;
  http::Headers last_headers_;
  std::vector<std::shared_ptr<http::ResponseWriter>> held_;
  std::vector<std::thread> streams_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<http::HttpServer> server_;
};

//! A TCP upstream below HTTP: answers /ready properly, and any other request with `garbage` bytes
//! or a stream head plus one event before closing (mid_stream).
class RawUpstream {
 public:
  enum class Mode { kGarbage, kMidStream };
  explicit RawUpstream(Mode mode) : mode_(mode) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(fd_, 64);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~RawUpstream() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::atomic<int> requests{0};

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::string in;
      char buf[4096];
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (in.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        pollfd q{c, POLLIN, 0};
        if (poll(&q, 1, 50) <= 0) continue;
        ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
      }
      std::string out;
      if (in.rfind("GET /ready", 0) == 0) {
        std::string body = "{\"ready\":true,\"status\":\"ready\",\"max_running\":4,\"prefill_tokens_per_second\":1000000}";
        out = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n\r\n" + body;
      } else {
        requests.fetch_add(1);
        out = mode_ == Mode::kGarbage
                  ? std::string("SURPRISE! not http at all\r\n\r\n")
                  : std::string("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "e\r\ndata: {\"i\":0}\n\n\r\n");
      }
      (void)send(c, out.data(), out.size(), MSG_NOSIGNAL);
      close(c);
    }
  }
  Mode mode_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

//! An in-process gateway from config text (listener on 127.0.0.1:0).
struct TestGateway {
  std::unique_ptr<Gateway> gateway;
  std::string base;
  static std::unique_ptr<TestGateway> Start(const std::string& config_text) {
    auto config = ParseGatewayConfig(config_text, "test.toml");
    EXPECT_TRUE(config.ok()) << config.status().message();
    if (!config.ok()) return nullptr;
    auto gw = Gateway::Create(std::move(config).value());
    EXPECT_TRUE(gw.ok()) << gw.status().message();
    if (!gw.ok()) return nullptr;
    auto t = std::make_unique<TestGateway>();
    t->gateway = std::move(gw).value();
    Status s = t->gateway->Start();
    EXPECT_TRUE(s.ok()) << s.message();
    if (!s.ok()) return nullptr;
    t->base = "http://127.0.0.1:" + std::to_string(t->gateway->ports()[0]);
    return t;
  }
};

//! A region block for config text.
inline std::string RegionToml(const std::string& name, double lat, double lon, const std::vector<std::string>& servers) {
  std::string s = "[[region]]\nname = \"" + name + "\"\nlat = " + std::to_string(lat) + "\nlon = " +
                  std::to_string(lon) + "\nservers = [";
  for (size_t i = 0; i < servers.size(); ++i) s += (i ? ", \"" : "\"") + servers[i] + "\"";
  return s + "]\n";
}

//! A loopback port nothing listens on (bound, then closed).
inline std::string DeadAddress() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

}  // namespace meridian::gateway::testing
