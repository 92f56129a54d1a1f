// TLS and HTTP/2 at the gateway's listener, with curl as the client: a certificate made by
// `openssl req -x509` for this run, chat completions and an SSE stream over h2 (ALPN) and over
// HTTP/1.1 on TLS, and a client that does not trust the certificate being refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "../server/server_process.h"
#include "gateway_test_util.h"

namespace meridian::gateway::testing {
namespace {

namespace fs = std::filesystem;
using server::testing::RunCommand;
using server::testing::ShellQuote;

class GatewayTls : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("meridian_gateway_tls_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    int rc = 0;
    const std::string out = RunCommand(
        "timeout 60 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
            ShellQuote(Key()) + " -out " + ShellQuote(Cert()) + " 2>&1",
        &rc);
    ASSERT_EQ(rc, 0) << out;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::string Cert() const { return (dir_ / "cert.pem").string(); }
  std::string Key() const { return (dir_ / "key.pem").string(); }
  std::string Listener() const {
    return "[[listener]]\nport = 0\nhttp2 = true\ntls_cert = \"" + Cert() + "\"\ntls_key = \"" + Key() + "\"\n";
  }

  struct CurlResult {
    int rc = -1;
    std::string http_version;  //!< curl's %{http_version}: "2", "1.1"
    std::string headers;
    std::string body;
  };
  //! POSTs `body` with curl; `protocol` is "--http2" or "--http1.1".
  CurlResult Curl(const std::string& url, const std::string& protocol, const std::string& body, bool trust = true) {
    const fs::path head = dir_ / "head.txt", out = dir_ / "body.txt";
    fs::remove(head);
    fs::remove(out);
    CurlResult r;
    r.http_version = RunCommand("timeout 60 curl -sS -N " + protocol + (trust ? " --cacert " + ShellQuote(Cert()) : "") +
                                    " -D " + ShellQuote(head.string()) + " -o " + ShellQuote(out.string()) +
                                    " -w '%{http_version}' -H 'Content-Type: application/json' --data-binary " +
                                    ShellQuote(body) + " " + ShellQuote(url) + " 2>/dev/null",
                                &r.rc);
    std::ifstream h(head), b(out);
    r.headers.assign(std::istreambuf_iterator<char>(h), {});
    r.body.assign(std::istreambuf_iterator<char>(b), {});
    return r;
  }

  fs::path dir_;
};

const std::string kChat = R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":4})";

TEST_F(GatewayTls, CurlOverHttp2AndHttp11OnTls) {
  if (RunCommand("curl --version 2>/dev/null").find("nghttp2") == std::string::npos) {
    GTEST_SKIP() << "this curl has no HTTP/2 support";
  }
  FakeRegion eu("eu");
  auto gw = TestGateway::Start(Listener() + RegionToml("eu", 50.11, 8.68, {eu.address()}) +
                               "[health]\ninterval_ms = 200\ntimeout_ms = 5000\n"
                               "[upstream]\nfirst_byte_timeout_ms = 10000\n");
  ASSERT_TRUE(gw);
  const std::string url = "https://127.0.0.1:" + std::to_string(gw->gateway->ports()[0]) + "/v1/chat/completions";

  CurlResult h2 = Curl(url, "--http2", kChat);
  ASSERT_EQ(h2.rc, 0) << h2.headers;
  EXPECT_EQ(h2.http_version, "2");
  EXPECT_NE(h2.headers.find("HTTP/2 200"), std::string::npos) << h2.headers;
  EXPECT_NE(h2.headers.find("x-meridian-region: eu"), std::string::npos) << h2.headers;
  EXPECT_EQ(h2.body, "{\"region\":\"eu\"}");

  CurlResult h1 = Curl(url, "--http1.1", kChat);
  ASSERT_EQ(h1.rc, 0) << h1.headers;
  EXPECT_EQ(h1.http_version, "1.1");
  EXPECT_EQ(h1.body, "{\"region\":\"eu\"}");

  // An SSE stream relayed over h2, every event and the end marker in order.
  eu.mode = FakeRegion::Mode::kStream;
  eu.stream_events = 20;
  eu.stream_gap_ms = 2;
  CurlResult stream = Curl(url, "--http2", kChat);
  ASSERT_EQ(stream.rc, 0) << stream.headers;
  EXPECT_EQ(stream.http_version, "2");
  EXPECT_NE(stream.headers.find("content-type: text/event-stream"), std::string::npos) << stream.headers;
  size_t at = 0;
  for (int i = 0; i < 20; ++i) {
    at = stream.body.find("data: {\"i\":" + std::to_string(i) + "}\n\n", at);
    ASSERT_NE(at, std::string::npos) << "event " << i << " missing: " << stream.body;
  }
  EXPECT_NE(stream.body.find("data: [DONE]\n\n", at), std::string::npos) << stream.body;

  // A client that does not trust the certificate does not get through (curl: 60, peer certificate).
  CurlResult untrusted = Curl(url, "--http2", kChat, /*trust=*/false);
  EXPECT_EQ(untrusted.rc, 60);
  EXPECT_EQ(eu.requests.load(), 3);
}

TEST_F(GatewayTls, AnUnreadableCertificateFailsStart) {
  auto config = ParseGatewayConfig("[[listener]]\nport = 0\ntls_cert = \"" + (dir_ / "missing.pem").string() +
                                       "\"\ntls_key = \"" + Key() + "\"\n" +
                                       RegionToml("eu", 50.11, 8.68, {"127.0.0.1:1"}),
                                   "tls.toml");
  ASSERT_TRUE(config.ok()) << config.status().message();
  auto gw = Gateway::Create(std::move(config).value());
  ASSERT_TRUE(gw.ok()) << gw.status().message();
  Status s = (*gw)->Start();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("missing.pem"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace meridian::gateway::testing
