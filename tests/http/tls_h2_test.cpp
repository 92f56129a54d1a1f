// TLS and HTTP/2 of HttpServer with real clients: curl (--http2 over TLS, --http2-prior-knowledge),
// nghttp (several streams on one connection), and a small nghttp2 client for stream resets and
// GOAWAY. Certificates are made by `openssl req -x509` in a temporary directory.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/log.h"
#include "h2_test_client.h"
#include "http/http_server.h"
#include "test_util.h"

namespace meridian::http::testing {
namespace {

namespace fs = std::filesystem;

struct CommandResult {
  int rc = -1;
  std::string output;  //!< stdout and stderr
};

//! Runs `command` through the shell (bounded by `timeout`), capturing stdout and stderr.
CommandResult RunCommand(const std::string& command, int timeout_s = 30) {
  CommandResult result;
  std::string full = "timeout " + std::to_string(timeout_s) + " " + command + " 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (!pipe) return result;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) result.output.append(buf, n);
  int status = ::pclose(pipe);
  result.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

size_t CountOf(const std::string& haystack, const std::string& needle) {
  size_t count = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1))
    ++count;
  return count;
}

//! Writers parked by handlers, in arrival order, for the test thread to drive.
class WriterQueue {
 public:
  void Put(std::shared_ptr<ResponseWriter> writer) {
    std::lock_guard lock(mutex_);
    writers_.push_back(std::move(writer));
    cv_.notify_all();
  }
  std::shared_ptr<ResponseWriter> Take(std::chrono::milliseconds timeout = 5000ms) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, timeout, [&] { return !writers_.empty(); })) return nullptr;
    auto writer = std::move(writers_.front());
    writers_.pop_front();
    return writer;
  }
  size_t size() {
    std::lock_guard lock(mutex_);
    return writers_.size();
  }
  void Clear() {
    std::lock_guard lock(mutex_);
    writers_.clear();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<ResponseWriter>> writers_;
};

class ProtocolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("meridian_tls_test_" + std::to_string(::getpid()) + "_" +
                                                     std::to_string(std::rand())));
    fs::create_directories(*dir_);
    auto make = [](const std::string& name) {
      std::string cmd =
          "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
          "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
          (*dir_ / (name + "_key.pem")).string() + " -out " + (*dir_ / (name + "_cert.pem")).string();
      return RunCommand(cmd);
    };
    auto a = make("server");
    auto b = make("other");
    ASSERT_EQ(a.rc, 0) << a.output;
    ASSERT_EQ(b.rc, 0) << b.output;
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(*dir_, ignored);
    delete dir_;
  }

  static std::string Cert() { return (*dir_ / "server_cert.pem").string(); }
  static std::string Key() { return (*dir_ / "server_key.pem").string(); }

  static HttpServerOptions Options(bool tls, bool http2) {
    HttpServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.io_threads = 2;
    o.max_header_bytes = 4096;
    o.max_body_bytes = 64 * 1024;
    o.header_read_timeout = 5000ms;
    o.idle_timeout = 5000ms;
    o.access_log = false;
    o.http2 = http2;
    if (tls) {
      o.tls_cert_file = Cert();
      o.tls_key_file = Key();
    }
    return o;
  }

  Router MakeRouter() {
    Router router;
    router.Get("/hello", [](Request r, std::shared_ptr<ResponseWriter> w) {
      w->Send(200, {{"Content-Type", "text/plain"}, {"X-Version", std::to_string(r.version)}}, "hello");
    });
    router.Post("/echo", [](Request r, std::shared_ptr<ResponseWriter> w) {
      w->Send(200, {{"Content-Type", "application/octet-stream"}}, std::move(r.body));
    });
    router.Get("/sse", [](Request, std::shared_ptr<ResponseWriter> w) {
      w->BeginEventStream();
      for (int i = 0; i < 3; ++i) w->WriteEvent("{\"n\":" + std::to_string(i) + "}");
      w->End();
    });
    router.Get("/hold", [this](Request, std::shared_ptr<ResponseWriter> w) { held_.Put(std::move(w)); });
    // Answers only once three requests are in flight together: proves concurrent streams.
    router.Get("/barrier", [this](Request, std::shared_ptr<ResponseWriter> w) {
      std::vector<std::shared_ptr<ResponseWriter>> release;
      {
        std::lock_guard lock(barrier_mutex_);
        barrier_.push_back(std::move(w));
        if (barrier_.size() == 3) release.swap(barrier_);
      }
      for (auto& writer : release) writer->Send(200, {{"Content-Type", "text/plain"}}, "released\n");
    });
    return router;
  }

  void StartServer(HttpServerOptions options) {
    log::SetLevel(log::Level::kError);
    server_ = std::make_unique<HttpServer>(options, MakeRouter());
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  void TearDown() override {
    held_.Clear();
    {
      std::lock_guard lock(barrier_mutex_);
      barrier_.clear();
    }
    server_.reset();
  }

  std::string Https(std::string_view path) const {
    return "https://127.0.0.1:" + std::to_string(server_->port()) + std::string(path);
  }
  std::string Http(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + std::string(path);
  }
  //! curl with the test CA, silent but for errors, output then "\n<code> <http version>".
  std::string Curl(const std::string& args) const {
    return "curl -sS --cacert " + Cert() + " -w '\\n%{http_code} %{http_version}' " + args;
  }

  static inline fs::path* dir_ = nullptr;
  std::unique_ptr<HttpServer> server_;
  WriterQueue held_;
  std::mutex barrier_mutex_;
  std::vector<std::shared_ptr<ResponseWriter>> barrier_;
};

TEST_F(ProtocolTest, CurlHttp2OverTlsNegotiatesH2ByAlpn) {
  StartServer(Options(/*tls=*/true, /*http2=*/true));
  auto r = RunCommand(Curl("--http2 " + Https("/hello")));
  EXPECT_EQ(r.rc, 0) << r.output;
  EXPECT_EQ(r.output, "hello\n200 2") << r.output;
  auto verbose = RunCommand("curl -sS -v -o /dev/null --cacert " + Cert() + " --http2 " + Https("/hello"));
  EXPECT_NE(verbose.output.find("TLSv1.3"), std::string::npos) << verbose.output;
  EXPECT_NE(verbose.output.find("ALPN: server accepted h2"), std::string::npos) << verbose.output;
  // The handler saw an HTTP/2 request.
  auto headers = RunCommand("curl -sS -D - -o /dev/null --cacert " + Cert() + " --http2 " + Https("/hello"));
  EXPECT_NE(headers.output.find("x-version: 20"), std::string::npos) << headers.output;
}

TEST_F(ProtocolTest, Http11OverTlsStillWorks) {
  StartServer(Options(/*tls=*/true, /*http2=*/true));
  auto r = RunCommand(Curl("--http1.1 " + Https("/hello")));
  EXPECT_EQ(r.output, "hello\n200 1.1") << r.output;
  auto post = RunCommand(Curl("--http1.1 --data-binary 'some body' " + Https("/echo")));
  EXPECT_EQ(post.output, "some body\n200 1.1") << post.output;
  // A TLS listener without HTTP/2 answers h2-capable clients with HTTP/1.1.
  server_.reset();
  StartServer(Options(/*tls=*/true, /*http2=*/false));
  auto fallback = RunCommand(Curl("--http2 " + Https("/hello")));
  EXPECT_EQ(fallback.output, "hello\n200 1.1") << fallback.output;
}

TEST_F(ProtocolTest, H2cPriorKnowledgeAndHttp11ShareTheCleartextListener) {
  StartServer(Options(/*tls=*/false, /*http2=*/true));
  auto h2 = RunCommand(Curl("--http2-prior-knowledge " + Http("/hello")));
  EXPECT_EQ(h2.output, "hello\n200 2") << h2.output;
  auto h1 = RunCommand(Curl("--http1.1 " + Http("/hello")));
  EXPECT_EQ(h1.output, "hello\n200 1.1") << h1.output;
  auto post = RunCommand(Curl("--http2-prior-knowledge --data-binary 'h2 body' " + Http("/echo")));
  EXPECT_EQ(post.output, "h2 body\n200 2") << post.output;
  auto missing = RunCommand(Curl("--http2-prior-knowledge " + Http("/nope")));
  EXPECT_NE(missing.output.find("404 2"), std::string::npos) << missing.output;
}

TEST_F(ProtocolTest, NghttpRunsConcurrentStreamsOnOneConnection) {
  StartServer(Options(/*tls=*/true, /*http2=*/true));
  // The barrier answers only when all three requests are open at once on the one connection.
  auto r =
      RunCommand("nghttp " + Https("/barrier?a") + " " + Https("/barrier?b") + " " + Https("/barrier?c"), 20);
  EXPECT_EQ(r.rc, 0) << r.output;
  EXPECT_EQ(CountOf(r.output, "released"), 3u) << r.output;
  EXPECT_EQ(server_->Stats().connections_accepted, 1u);
  auto sse = RunCommand("nghttp " + Https("/sse"), 20);
  EXPECT_NE(sse.output.find("data: {\"n\":0}\n\ndata: {\"n\":1}\n\ndata: {\"n\":2}\n\n"), std::string::npos)
      << sse.output;
}

TEST_F(ProtocolTest, SseOverH2ArrivesEventByEvent) {
  StartServer(Options(/*tls=*/true, /*http2=*/true));
  std::string command = "timeout 20 curl -sS -N --http2 --cacert " + Cert() + " " + Https("/hold") + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::mutex mutex;
  std::string seen;
  std::atomic<bool> eof{false};
  Clock::time_point first_seen_at{};
  std::thread reader([&] {
    char line[1024];
    while (std::fgets(line, sizeof line, pipe)) {
      std::lock_guard lock(mutex);
      if (seen.empty()) first_seen_at = Clock::now();
      seen += line;
    }
    eof = true;
  });
  auto writer = held_.Take();
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->BeginEventStream());
  ASSERT_TRUE(writer->WriteEvent("first"));
  // The first event reaches the client while the stream is still open: it is not buffered.
  bool first_arrived = WaitFor(
      [&] {
        std::lock_guard lock(mutex);
        return seen.find("data: first") != std::string::npos;
      },
      10000ms);
  auto end_at = Clock::now();
  EXPECT_TRUE(first_arrived);
  ASSERT_TRUE(writer->WriteEvent("second"));
  ASSERT_TRUE(writer->End());
  writer.reset();
  EXPECT_TRUE(WaitFor([&] { return eof.load(); }, 20000ms));
  reader.join();
  ::pclose(pipe);
  EXPECT_EQ(seen, "data: first\n\ndata: second\n\n");
  EXPECT_LT(first_seen_at, end_at);
}

TEST_F(ProtocolTest, StreamResetMidSseIsClientGone) {
  StartServer(Options(/*tls=*/false, /*http2=*/true));
  H2TestClient client(server_->port());
  ASSERT_TRUE(client.connected());
  int32_t id = client.Get("/hold");
  ASSERT_TRUE(client.RunUntil([&] { return held_.size() == 1; }));
  auto writer = held_.Take();
  ASSERT_NE(writer, nullptr);
  std::atomic<bool> gone{false};
  writer->OnClose([&] { gone = true; });
  ASSERT_TRUE(writer->BeginEventStream());
  ASSERT_TRUE(writer->WriteEvent("token"));
  ASSERT_TRUE(
      client.RunUntil([&] { return client.stream(id).body.find("data: token") != std::string::npos; }));
  client.Reset(id);
  ASSERT_TRUE(client.SendPending());
  EXPECT_TRUE(WaitFor([&] { return gone.load(); }, 5000ms));
  EXPECT_TRUE(WaitFor([&] { return !writer->WriteEvent("more"); }, 5000ms));
  // Only the stream went away: the connection serves the next request.
  int32_t next = client.Get("/hello");
  ASSERT_TRUE(client.RunUntil([&] { return client.stream(next).closed; }));
  EXPECT_EQ(client.stream(next).status, 200);
  EXPECT_EQ(client.stream(next).body, "hello");
  EXPECT_EQ(server_->Stats().connections_accepted, 1u);
}

TEST_F(ProtocolTest, ConnectionLossClosesEveryStream) {
  StartServer(Options(/*tls=*/false, /*http2=*/true));
  std::atomic<int> gone{0};
  {
    H2TestClient client(server_->port());
    client.Get("/hold");
    client.Get("/hold");
    ASSERT_TRUE(client.RunUntil([&] { return held_.size() == 2; }));
    for (int i = 0; i < 2; ++i) {
      auto writer = held_.Take();
      ASSERT_NE(writer, nullptr);
      writer->OnClose([&] { ++gone; });
      ASSERT_TRUE(writer->BeginEventStream());
    }
  }  // the client disconnects
  EXPECT_TRUE(WaitFor([&] { return gone.load() == 2; }, 5000ms));
}

TEST_F(ProtocolTest, ConcurrentStreamCapIsAdvertisedAndHeld) {
  auto options = Options(/*tls=*/false, /*http2=*/true);
  options.http2_max_concurrent_streams = 2;
  StartServer(options);
  H2TestClient client(server_->port());
  // All three go out with the preface, before the client has seen the server's SETTINGS: the
  // server refuses the stream past its cap.
  int32_t a = client.Get("/hold");
  client.Get("/hold");
  int32_t c = client.Get("/hold");
  ASSERT_TRUE(client.RunUntil([&] { return held_.size() == 2 && client.stream(c).closed; }));
  EXPECT_EQ(client.stream(c).error_code, static_cast<uint32_t>(NGHTTP2_REFUSED_STREAM));
  client.RunUntil([] { return false; }, 200ms);
  EXPECT_EQ(held_.size(), 2u);
  auto first = held_.Take();
  ASSERT_TRUE(first->Send(200, {}, "one"));
  ASSERT_TRUE(client.RunUntil([&] { return client.stream(a).closed; }));
  EXPECT_EQ(client.stream(a).body, "one");
  // A freed slot takes a new stream.
  client.Get("/hold");
  EXPECT_TRUE(client.RunUntil([&] { return held_.size() == 2; }));
}

TEST_F(ProtocolTest, LimitsAnswer431And413OverH2) {
  StartServer(Options(/*tls=*/false, /*http2=*/true));
  std::string big(5000, 'x');
  auto headers =
      RunCommand(Curl("--http2-prior-knowledge -o /dev/null -H 'X-Big: " + big + "' " + Http("/hello")));
  EXPECT_NE(headers.output.find("431 2"), std::string::npos) << headers.output;
  std::string body_file = (*dir_ / "big_body").string();
  RunCommand("head -c 100000 /dev/zero > " + body_file);
  auto body = RunCommand(
      Curl("--http2-prior-knowledge -o /dev/null --data-binary @" + body_file + " " + Http("/echo")));
  EXPECT_NE(body.output.find("413 2"), std::string::npos) << body.output;
  // The connection-level limits did not break the server.
  auto ok = RunCommand(Curl("--http2-prior-knowledge " + Http("/hello")));
  EXPECT_EQ(ok.output, "hello\n200 2") << ok.output;
}

TEST_F(ProtocolTest, GracefulShutdownSendsGoawayAndFinishesStreams) {
  StartServer(Options(/*tls=*/false, /*http2=*/true));
  H2TestClient client(server_->port());
  int32_t id = client.Get("/hold");
  ASSERT_TRUE(client.RunUntil([&] { return held_.size() == 1; }));
  auto writer = held_.Take();
  ASSERT_TRUE(writer->BeginEventStream());
  server_->Shutdown(5000ms);
  ASSERT_TRUE(client.RunUntil([&] { return client.goaway_received(); }));
  ASSERT_TRUE(writer->WriteEvent("after goaway"));
  ASSERT_TRUE(writer->End());
  ASSERT_TRUE(client.RunUntil([&] { return client.stream(id).closed; }));
  EXPECT_EQ(client.stream(id).error_code, 0u);
  EXPECT_EQ(client.stream(id).body, "data: after goaway\n\n");
  EXPECT_TRUE(WaitFor([&] { return server_->Stats().active_connections == 0; }, 5000ms));
}

TEST_F(ProtocolTest, BadCertificateFilesFailAtStartWithTheirName) {
  auto options = Options(/*tls=*/true, /*http2=*/true);
  options.tls_cert_file = (*dir_ / "missing_cert.pem").string();
  HttpServer missing(options, MakeRouter());
  Status s = missing.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("missing_cert.pem"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("No such file"), std::string::npos) << s.message();

  options = Options(/*tls=*/true, /*http2=*/true);
  options.tls_key_file = (*dir_ / "other_key.pem").string();
  HttpServer mismatched(options, MakeRouter());
  s = mismatched.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("does not match"), std::string::npos) << s.message();

  options = Options(/*tls=*/true, /*http2=*/true);
  options.tls_cert_file = (*dir_ / "server_key.pem").string();  // a key is not a certificate
  HttpServer not_a_cert(options, MakeRouter());
  s = not_a_cert.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("certificate chain"), std::string::npos) << s.message();

  options = Options(/*tls=*/false, /*http2=*/true);
  options.tls_cert_file = Cert();  // a certificate without a key
  HttpServer half(options, MakeRouter());
  EXPECT_FALSE(half.Start().ok());
}

TEST_F(ProtocolTest, StalledHandshakeIsDropped) {
  auto options = Options(/*tls=*/true, /*http2=*/true);
  options.tls_handshake_timeout = 300ms;
  StartServer(options);
  RawConnection silent(server_->port());
  RawConnection partial(server_->port());
  ASSERT_TRUE(silent.connected());
  ASSERT_TRUE(partial.connected());
  ASSERT_TRUE(partial.Send(std::string("\x16\x03\x01\x02\x00\x01", 6)));  // a ClientHello that never ends
  auto start = Clock::now();
  silent.ReadUntilClosed(10000ms);
  partial.ReadUntilClosed(10000ms);
  EXPECT_TRUE(silent.peer_closed());
  EXPECT_TRUE(partial.peer_closed());
  EXPECT_LT(Clock::now() - start, 9000ms);
  EXPECT_TRUE(WaitFor([&] { return server_->Stats().active_connections == 0; }, 5000ms));
  // The server still completes handshakes with well-behaved clients.
  auto r = RunCommand(Curl("--http2 " + Https("/hello")));
  EXPECT_EQ(r.output, "hello\n200 2") << r.output;
}

}  // namespace
}  // namespace meridian::http::testing
