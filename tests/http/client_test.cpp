// HttpClient against the test server and raw listeners: errors, timeouts, cancel, pooling with
// stale connections, body limits.
#include <gtest/gtest.h>

#include "server_fixture.h"

namespace meridian::http::testing {
namespace {

using ClientTest = ServerTest;

//! A listening socket on 127.0.0.1 that never accepts: connections complete in the backlog but
//! nothing is ever answered.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 16);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_;
  uint16_t port_;
};

TEST_F(ClientTest, BadUrlsFailFast) {
  HttpClient client;
  EXPECT_EQ(client.Fetch({"GET", "not a url", {}, ""}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client.Fetch({"GET", "https://127.0.0.1/", {}, ""}).status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(client.Fetch({"BAD METHOD", Url("/hello"), {}, ""}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client.Fetch({"GET", Url("/hello"), {{"X-Evil", "a\r\nb: c"}}, ""}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ClientTest, ConnectionRefusedIsUnavailable) {
  uint16_t closed_port;
  {
    SilentListener l;
    closed_port = l.port();
  }
  HttpClient client;
  auto r = client.Fetch({"GET", "http://127.0.0.1:" + std::to_string(closed_port) + "/", {}, ""});
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("cannot connect"), std::string::npos) << r.status().ToString();
}

TEST_F(ClientTest, FirstByteTimeout) {
  SilentListener silent;
  HttpClientOptions o;
  o.first_byte_timeout = 150ms;
  HttpClient client(o);
  auto start = Clock::now();
  auto r = client.Fetch({"GET", "http://127.0.0.1:" + std::to_string(silent.port()) + "/", {}, ""});
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_LT(Clock::now() - start, 1500ms);
  // Same against a handler that never answers.
  auto held = client.Fetch({"GET", Url("/hold"), {}, ""});
  EXPECT_EQ(held.status().code(), StatusCode::kDeadlineExceeded);
}

TEST_F(ClientTest, ReadIdleTimeoutDuringAStream) {
  HttpClientOptions o;
  o.read_idle_timeout = 150ms;
  HttpClient client(o);
  Mailbox<Status> done;
  ClientCallbacks callbacks;
  callbacks.on_complete = [&](const Status& s) { done.Put(s); };
  client.Start({"GET", Url("/hold"), {}, ""}, callbacks);
  auto held = held_.Take();
  ASSERT_TRUE(held.has_value());
  Mailbox<bool> server_saw_close;
  held->writer->OnClose([&] { server_saw_close.Put(true); });
  held->writer->BeginStream(200, {});
  held->writer->Write("one");  // then silence
  auto status = done.Take();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(server_saw_close.Take().has_value());  // the client closed; the producer learns it
}

TEST_F(ClientTest, CancelMidStreamClosesTheConnection) {
  HttpClient client;
  Mailbox<Status> done;
  Mailbox<bool> got_piece;
  ClientCallbacks callbacks;
  callbacks.on_body = [&](std::string_view) {
    got_piece.Put(true);
    return true;
  };
  callbacks.on_complete = [&](const Status& s) { done.Put(s); };
  auto call = client.Start({"GET", Url("/hold"), {}, ""}, callbacks);
  auto held = held_.Take();
  ASSERT_TRUE(held.has_value());
  Mailbox<bool> server_saw_close;
  held->writer->OnClose([&] { server_saw_close.Put(true); });
  held->writer->BeginStream(200, {});
  held->writer->Write("tok");
  ASSERT_TRUE(got_piece.Take().has_value());
  call->Cancel();
  call->Cancel();  // idempotent
  auto status = done.Take();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code(), StatusCode::kCancelled);
  EXPECT_TRUE(server_saw_close.Take(1000ms).has_value());
  EXPECT_EQ(client.IdleConnections(), 0u);
  EXPECT_FALSE(done.Take(50ms).has_value());  // on_complete ran exactly once
}

TEST_F(ClientTest, BodyCallbackCanStopTheCall) {
  HttpClient client;
  auto r = client.FetchStreaming({"GET", Url("/sse"), {}, ""}, [](std::string_view) { return false; });
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
}

TEST_F(ClientTest, BufferedBodyLimit) {
  HttpClientOptions o;
  o.max_buffered_body_bytes = 3;
  HttpClient client(o);
  auto r = client.Fetch({"GET", Url("/hello"), {}, ""});
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
}

TEST_F(ClientTest, StalePooledConnectionIsNotUsed) {
  HttpServerOptions so = TestOptions();
  so.idle_timeout = 100ms;
  StartServer(so);
  HttpClient client;
  auto a = client.Fetch({"GET", Url("/hello"), {}, ""});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(client.IdleConnections(), 1u);
  ASSERT_TRUE(WaitFor([&] { return server_->Stats().active_connections == 0; }));  // server closed it
  for (const char* method : {"GET", "POST"}) {
    auto b = client.Fetch({method, Url(method == std::string("GET") ? "/hello" : "/echo"), {}, "x"});
    ASSERT_TRUE(b.ok()) << method << ": " << b.status().ToString();
    EXPECT_EQ(b->status, 200);
    ASSERT_TRUE(WaitFor([&] { return server_->Stats().active_connections == 0; }));
  }
}

TEST_F(ClientTest, ConcurrentCallsFromManyThreads) {
  HttpClientOptions o;
  o.io_threads = 2;
  HttpClient client(o);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string body = std::to_string(t) + ":" + std::to_string(i);
        auto r = client.Fetch({"POST", Url("/echo"), {}, body});
        if (r.ok() && r->body == body) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 100);
  EXPECT_LE(server_->Stats().connections_accepted, 4u + 1u);  // pooled, not one per request
}

TEST_F(ClientTest, DestroyingTheClientCancelsCalls) {
  Mailbox<Status> done;
  std::optional<HeldRequest> held;  // kept unanswered while the client goes away
  {
    HttpClient client;
    ClientCallbacks callbacks;
    callbacks.on_complete = [&](const Status& s) { done.Put(s); };
    client.Start({"GET", Url("/hold"), {}, ""}, callbacks);
    held = held_.Take();
    ASSERT_TRUE(held.has_value());
  }
  auto status = done.Take(0ms);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code(), StatusCode::kCancelled);
}

}  // namespace
}  // namespace meridian::http::testing
