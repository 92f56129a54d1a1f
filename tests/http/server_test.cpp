// HttpServer over real loopback sockets: routing, keep-alive, limits, timeouts, malformed input,
// HTTP/1.0, HEAD, Expect: 100-continue, request ids and the connection limit.
#include <gtest/gtest.h>

#include <cstdio>

#include "server_fixture.h"

namespace meridian::http::testing {
namespace {

TEST_F(ServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  RawConnection c(port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string first = c.ReadResponse();
  EXPECT_EQ(StatusOf(first), 200);
  EXPECT_EQ(BodyOf(first), "hello");
  EXPECT_EQ(HeaderOf(first, "content-length"), "5");
  EXPECT_EQ(HeaderOf(first, "server"), "meridian");
  ASSERT_TRUE(c.Send("POST /echo?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nping"));
  std::string second = c.ReadResponse();
  EXPECT_EQ(StatusOf(second), 200);
  EXPECT_EQ(BodyOf(second), "ping");
  EXPECT_EQ(HeaderOf(second, "x-query"), "x=1");
  EXPECT_FALSE(c.peer_closed());
  EXPECT_EQ(server_->Stats().connections_accepted, 1u);
  EXPECT_EQ(server_->Stats().requests, 2u);
}

TEST_F(ServerTest, ClientReusesPooledConnection) {
  HttpClient client;
  auto a = client.Fetch({"GET", Url("/hello"), {}, ""});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->body, "hello");
  EXPECT_FALSE(a->reused_connection);
  auto b = client.Fetch({"POST", Url("/echo"), {}, "body"});
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->body, "body");
  EXPECT_TRUE(b->reused_connection);
  EXPECT_EQ(server_->Stats().connections_accepted, 1u);
  EXPECT_EQ(client.IdleConnections(), 1u);
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  RawConnection c(port());
  ASSERT_TRUE(c.Send(
      "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n"
      "abcGET /nope HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string r1 = c.ReadResponse();
  std::string r2 = c.ReadResponse();
  std::string r3 = c.ReadResponse();
  EXPECT_EQ(BodyOf(r1), "hello");
  EXPECT_EQ(BodyOf(r2), "abc");
  EXPECT_EQ(StatusOf(r3), 404);
}

TEST_F(ServerTest, NotFoundAndMethodNotAllowed) {
  HttpClient client;
  auto missing = client.Fetch({"GET", Url("/nope"), {}, ""});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("\"code\":\"not_found\""), std::string::npos);
  EXPECT_EQ(missing->headers.Get("content-type"), "application/json");
  auto wrong = client.Fetch({"DELETE", Url("/echo"), {}, ""});
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->headers.Get("allow"), "POST, PUT");
  auto get_only = client.Fetch({"POST", Url("/hello"), {}, "x"});
  ASSERT_TRUE(get_only.ok());
  EXPECT_EQ(get_only->status, 405);
  EXPECT_EQ(get_only->headers.Get("allow"), "GET, HEAD");
}

TEST_F(ServerTest, HeadUsesTheGetHandlerWithoutBody) {
  RawConnection c(port());
  ASSERT_TRUE(c.Send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string head = c.ReadUntilContains("\r\n\r\n");
  EXPECT_EQ(StatusOf(head), 200);
  EXPECT_EQ(HeaderOf(head, "content-length"), "5");
  // The next bytes are the GET's response, not a body of the HEAD response.
  std::string rest = c.ReadUntilContains("hello");
  size_t second = rest.find("HTTP/1.1 200", 4);
  ASSERT_NE(second, std::string::npos);
  EXPECT_EQ(rest.substr(0, second).find("hello"), std::string::npos);
}

TEST_F(ServerTest, OversizedBodyGets413AndServerKeepsServing) {
  HttpClient client;
  auto big = client.Fetch({"POST", Url("/echo"), {}, std::string(200 * 1024, 'x')});
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->status, 413);
  EXPECT_NE(big->body.find("65536"), std::string::npos);
  EXPECT_EQ(big->headers.Get("connection"), "close");
  // Chunked bodies are counted as they arrive.
  RawConnection c(port());
  std::string chunk(40 * 1024, 'y');
  char size_line[32];
  std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
  ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  c.Send(std::string(size_line) + chunk + "\r\n" + size_line + chunk + "\r\n0\r\n\r\n");
  std::string chunked = c.ReadUntilClosed();
  EXPECT_EQ(StatusOf(chunked), 413);
  EXPECT_TRUE(c.peer_closed());
  auto ok = client.Fetch({"GET", Url("/hello"), {}, ""});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(server_->Stats().requests_rejected, 2u);
}

TEST_F(ServerTest, HugeHeaderGets431) {
  RawConnection c(port());
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'h') + "\r\n\r\n"));
  std::string r = c.ReadUntilClosed();
  EXPECT_EQ(StatusOf(r), 431);
  EXPECT_TRUE(c.peer_closed());
  RawConnection d(port());
  ASSERT_TRUE(d.Send("GET /" + std::string(8000, 'p') + " HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(StatusOf(d.ReadUntilClosed()), 414);
}

TEST_F(ServerTest, MalformedRequestLinesGet400) {
  for (const char* bad :
       {"GARBAGE\r\n\r\n", "GET /x HTTP/1.1 junk\r\nHost: x\r\n\r\n", "GET x HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /x HTTP/1.1\r\n\r\n", "\x01\x02\x03\r\n\r\n"}) {
    RawConnection c(port());
    ASSERT_TRUE(c.Send(bad));
    std::string r = c.ReadUntilClosed();
    EXPECT_EQ(StatusOf(r), 400) << bad;
    EXPECT_TRUE(c.peer_closed()) << bad;
    EXPECT_NE(BodyOf(r).find("\"message\""), std::string::npos);
  }
  RawConnection h2(port());
  ASSERT_TRUE(h2.Send("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
  EXPECT_EQ(StatusOf(h2.ReadUntilClosed()), 505);
}

TEST_F(ServerTest, SlowlorisIsCutOffWith408) {
  HttpServerOptions o = TestOptions();
  o.header_read_timeout = 300ms;
  StartServer(o);
  RawConnection c(port());
  std::string request = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: 0123456789\r\n\r\n";
  auto start = Clock::now();
  for (char ch : request) {
    if (!c.Send(std::string_view(&ch, 1))) break;
    c.ReadUntil([](const std::string& b) { return !b.empty(); }, 50ms);  // one byte per ~50 ms
    if (c.peer_closed() || !c.buffer().empty()) break;
    ASSERT_LT(Clock::now() - start, 2s);
  }
  std::string r = c.ReadUntilClosed(2000ms);
  auto elapsed = Clock::now() - start;
  EXPECT_EQ(StatusOf(r), 408);
  EXPECT_TRUE(c.peer_closed());
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 1500ms);
}

TEST_F(ServerTest, SilentConnectionIsClosedWithoutAResponse) {
  HttpServerOptions o = TestOptions();
  o.header_read_timeout = 150ms;
  StartServer(o);
  RawConnection c(port());
  auto start = Clock::now();
  std::string r = c.ReadUntilClosed(2000ms);
  EXPECT_TRUE(c.peer_closed());
  EXPECT_EQ(r, "");
  EXPECT_LT(Clock::now() - start, 1500ms);
}

TEST_F(ServerTest, SlowBodyGets408) {
  HttpServerOptions o = TestOptions();
  o.body_read_timeout = 200ms;
  StartServer(o);
  RawConnection c(port());
  ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part"));
  std::string r = c.ReadUntilClosed(2000ms);
  EXPECT_EQ(StatusOf(r), 408);
  EXPECT_TRUE(c.peer_closed());
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosed) {
  HttpServerOptions o = TestOptions();
  o.idle_timeout = 200ms;
  StartServer(o);
  RawConnection c(port());
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(StatusOf(c.ReadResponse()), 200);
  auto start = Clock::now();
  std::string rest = c.ReadUntilClosed(2000ms);
  auto elapsed = Clock::now() - start;
  EXPECT_TRUE(c.peer_closed());
  EXPECT_EQ(rest, "");
  EXPECT_GE(elapsed, 150ms);
  EXPECT_LT(elapsed, 1500ms);
  EXPECT_TRUE(WaitFor([&] { return server_->Stats().active_connections == 0; }));
}

TEST_F(ServerTest, ConnectionCloseAndHttp10) {
  RawConnection c(port());
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string r = c.ReadUntilClosed();
  EXPECT_EQ(HeaderOf(r, "connection"), "close");
  EXPECT_EQ(BodyOf(r), "hello");
  EXPECT_TRUE(c.peer_closed());

  RawConnection old(port());
  ASSERT_TRUE(old.Send("GET /hello HTTP/1.0\r\n\r\n"));  // no Host needed in 1.0
  std::string r10 = old.ReadUntilClosed();
  EXPECT_EQ(StatusOf(r10), 200);
  EXPECT_EQ(HeaderOf(r10, "content-length"), "5");
  EXPECT_TRUE(old.peer_closed());

  RawConnection kept(port());
  ASSERT_TRUE(kept.Send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  std::string k = kept.ReadResponse();
  EXPECT_EQ(HeaderOf(k, "connection"), "keep-alive");
  ASSERT_TRUE(kept.Send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_EQ(StatusOf(kept.ReadResponse()), 200);
}

TEST_F(ServerTest, ExpectContinue) {
  RawConnection c(port());
  ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  std::string interim = c.ReadUntilContains("\r\n\r\n");
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  c.ClearBuffer();
  ASSERT_TRUE(c.Send("12345"));
  std::string r = c.ReadResponse();
  EXPECT_EQ(StatusOf(r), 200);
  EXPECT_EQ(BodyOf(r), "12345");
  // Too large: refused before the body is sent, without 100 Continue.
  RawConnection d(port());
  ASSERT_TRUE(
      d.Send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 999999\r\n\r\n"));
  EXPECT_EQ(StatusOf(d.ReadUntilClosed()), 413);
}

TEST_F(ServerTest, RequestIdIsEchoedWhenSaneElseGenerated) {
  HttpClient client;
  auto echoed = client.Fetch({"GET", Url("/hello"), {{"X-Request-Id", "trace-42.a_b:c"}}, ""});
  ASSERT_TRUE(echoed.ok());
  EXPECT_EQ(echoed->headers.Get("x-request-id"), "trace-42.a_b:c");
  auto replaced = client.Fetch({"GET", Url("/hello"), {{"X-Request-Id", "has spaces \"quoted\""}}, ""});
  ASSERT_TRUE(replaced.ok());
  std::string id(replaced->headers.GetOr("x-request-id", ""));
  EXPECT_EQ(id.size(), 32u);
  EXPECT_TRUE(IsSaneRequestId(id));
  auto generated = client.Fetch({"GET", Url("/hello"), {}, ""});
  ASSERT_TRUE(generated.ok());
  EXPECT_NE(generated->headers.GetOr("x-request-id", ""), id);
}

TEST_F(ServerTest, HandlerRequestSeesPeerAndId) {
  RawConnection c(port());
  ASSERT_TRUE(c.Send("GET /hold?a=b%20c HTTP/1.1\r\nHost: x\r\nX-Request-Id: mine\r\n\r\n"));
  auto held = held_.Take();
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->request.request_id, "mine");
  EXPECT_EQ(held->request.QueryParam("a"), "b c");
  EXPECT_EQ(held->request.remote_address.rfind("127.0.0.1:", 0), 0u);
  EXPECT_EQ(held->writer->request_id(), "mine");
  held->writer->Send(200, {}, "done");
  EXPECT_EQ(BodyOf(c.ReadResponse()), "done");
}

TEST_F(ServerTest, HandlerExceptionsAndSilentHandlersGet500) {
  HttpClient client;
  auto thrown = client.Fetch({"GET", Url("/throw"), {}, ""});
  ASSERT_TRUE(thrown.ok());
  EXPECT_EQ(thrown->status, 500);
  auto silent = client.Fetch({"GET", Url("/silent"), {}, ""});
  ASSERT_TRUE(silent.ok());
  EXPECT_EQ(silent->status, 500);
  auto fine = client.Fetch({"GET", Url("/hello"), {}, ""});
  ASSERT_TRUE(fine.ok());
  EXPECT_EQ(fine->status, 200);
}

TEST_F(ServerTest, WriterUsedFromAnotherThread) {
  HttpClient client;
  auto r = client.Fetch({"GET", Url("/later"), {}, ""});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "from another thread");
}

TEST_F(ServerTest, ConnectionLimitAnswers503) {
  HttpServerOptions o = TestOptions();
  o.max_connections = 1;
  StartServer(o);
  RawConnection first(port());
  ASSERT_TRUE(first.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_EQ(StatusOf(first.ReadResponse()), 200);  // first is now an open keep-alive connection
  RawConnection second(port());
  std::string r = second.ReadUntilClosed();
  EXPECT_EQ(StatusOf(r), 503);
  EXPECT_EQ(HeaderOf(r, "retry-after"), "1");
  EXPECT_EQ(server_->Stats().connections_rejected, 1u);
  first.Close();
  ASSERT_TRUE(WaitFor([&] { return server_->Stats().active_connections == 0; }));
  RawConnection third(port());
  ASSERT_TRUE(third.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(StatusOf(third.ReadResponse()), 200);
}

TEST_F(ServerTest, BadOptionsAndBusyPortAreReported) {
  HttpServerOptions o = TestOptions();
  o.io_threads = 0;
  HttpServer bad(o, Router());
  EXPECT_EQ(bad.Start().code(), StatusCode::kInvalidArgument);
  HttpServerOptions busy = TestOptions();
  busy.port = port();
  HttpServer second(busy, Router());
  Status s = second.Start();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find(std::to_string(port())), std::string::npos);
}

TEST_F(ServerTest, CurlInterop) {
  if (std::system("curl --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "curl is not installed";
  // Two transfers in one curl run: the second must reuse the connection (num_connects 0).
  std::string cmd = "curl -s -D - --max-time 5 -w '[%{num_connects}]' " + Url("/hello") + " " + Url("/hello");
  FILE* pipe = ::popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  ASSERT_EQ(::pclose(pipe), 0) << out;
  EXPECT_NE(out.find("hello[1]"), std::string::npos) << out;
  EXPECT_NE(out.find("hello[0]"), std::string::npos) << out;
  EXPECT_NE(out.find("Server: meridian"), std::string::npos) << out;
}

}  // namespace
}  // namespace meridian::http::testing
