// A test HttpServer on 127.0.0.1 (ephemeral port) with short timeouts and a set of routes that the
// server tests share, plus a place where "held" requests park their writers for the test to drive.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "core/log.h"
#include "http/http_client.h"
#include "http/http_server.h"
#include "test_util.h"

namespace meridian::http::testing {

struct HeldRequest {
  Request request;
  std::shared_ptr<ResponseWriter> writer;
};

class ServerTest : public ::testing::Test {
 protected:
  //! Short limits so that every limit and timeout can be hit in milliseconds.
  static HttpServerOptions TestOptions() {
    HttpServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.io_threads = 2;
    o.max_header_bytes = 4096;
    o.max_body_bytes = 64 * 1024;
    o.header_read_timeout = 1000ms;
    o.body_read_timeout = 1000ms;
    o.idle_timeout = 2000ms;
    o.write_timeout = 2000ms;
    o.linger_timeout = 300ms;
    o.access_log = false;
    return o;
  }

  Router MakeRouter() {
    Router router;
    router.Get("/hello", [](Request, std::shared_ptr<ResponseWriter> w) {
      w->Send(200, {{"Content-Type", "text/plain"}}, "hello");
    });
    router.Post("/echo", [](Request r, std::shared_ptr<ResponseWriter> w) {
      w->Send(200, {{"X-Method", r.method}, {"X-Query", r.query}}, std::move(r.body));
    });
    router.Handle("PUT", "/echo",
                  [](Request r, std::shared_ptr<ResponseWriter> w) { w->Send(201, {}, std::move(r.body)); });
    router.Get("/hold", [this](Request r, std::shared_ptr<ResponseWriter> w) {
      held_.Put(HeldRequest{std::move(r), std::move(w)});
    });
    router.Get("/throw", [](Request, std::shared_ptr<ResponseWriter>) { throw std::runtime_error("boom"); });
    router.Get("/silent", [](Request, std::shared_ptr<ResponseWriter>) {});
    router.Get("/later", [](Request, std::shared_ptr<ResponseWriter> w) {
      std::thread([w] {
        std::this_thread::sleep_for(20ms);
        w->Send(200, {}, "from another thread");
      }).detach();
    });
    router.Get("/sse", [](Request, std::shared_ptr<ResponseWriter> w) {
      w->BeginEventStream();
      w->WriteEvent("{\"n\":1}");
      w->WriteEvent("two\nlines", "update");
      w->WriteEvent("[DONE]");
      w->End();
    });
    return router;
  }

  void StartServer(HttpServerOptions options = TestOptions()) {
    log::SetLevel(log::Level::kError);
    server_ = std::make_unique<HttpServer>(options, MakeRouter());
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    ASSERT_NE(server_->port(), 0);
  }

  void SetUp() override { StartServer(); }
  void TearDown() override {
    held_.Take(0ms);
    server_.reset();
  }

  std::string Url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + std::string(path);
  }
  uint16_t port() const { return server_->port(); }

  std::unique_ptr<HttpServer> server_;
  Mailbox<HeldRequest> held_;
};

}  // namespace meridian::http::testing
