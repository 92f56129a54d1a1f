// End to end: `meridian serve --tls-cert ... --tls-key ... --http2` (the real binary, the shipped
// model) answers a streaming chat completion over h2 to curl. Skipped when the binary is not built
// (it is in every full build, as in CI).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "test_util.h"

namespace meridian::http::testing {
namespace {

namespace fs = std::filesystem;

std::string Shell(const std::string& command, int* rc = nullptr) {
  std::string out;
  FILE* pipe = ::popen(("timeout 60 " + command + " 2>&1").c_str(), "r");
  if (!pipe) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int status = ::pclose(pipe);
  if (rc) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

TEST(ServeTlsEndToEnd, StreamingChatCompletionOverH2) {
  const std::string binary = std::string(MERIDIAN_BINARY_DIR) + "/bin/meridian";
  const std::string model = std::string(MERIDIAN_SOURCE_DIR) + "/models/meridian-brown-q8_0.gguf";
  if (!fs::exists(binary)) GTEST_SKIP() << "the meridian binary is not built: " << binary;
  fs::path dir = fs::temp_directory_path() / ("meridian_serve_tls_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  int rc = -1;
  std::string made = Shell(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
      "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -keyout " +
          key + " -out " + cert,
      &rc);
  ASSERT_EQ(rc, 0) << made;

  int out_pipe[2];
  ASSERT_EQ(::pipe(out_pipe), 0);
  std::vector<std::string> args = {binary,    "serve",       "--port", "0",         "--model",
                                   model,     "--tls-cert",  cert,     "--tls-key", key,
                                   "--http2", "--log-level", "error"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ASSERT_GT(pid, 0);
  auto stop = [&] {
    ::kill(pid, SIGTERM);
    for (int i = 0; i < 1000; ++i) {  // up to 10 s, then SIGKILL
      if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
      std::this_thread::sleep_for(10ms);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  };

  std::string out;
  std::smatch m;
  const std::regex listening("listening on https://127\\.0\\.0\\.1:([0-9]+)");
  auto deadline = Clock::now() + 60s;
  while (!std::regex_search(out, m, listening) && Clock::now() < deadline) {
    pollfd p{out_pipe[0], POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) continue;
    char buf[512];
    ssize_t n = ::read(out_pipe[0], buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(out_pipe[0]);
  if (!std::regex_search(out, m, listening)) {
    stop();
    FAIL() << "no 'listening on https://' line; stdout: " << out;
  }
  const std::string base = "https://127.0.0.1:" + std::string(m[1]);
  const std::string curl = "curl -sS --cacert " + cert + " --http2 ";
  std::string ready;
  while (Clock::now() < deadline) {
    ready = Shell(curl + "-o /dev/null -w '%{http_code} %{http_version}' " + base + "/ready");
    if (ready == "200 2") break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(ready, "200 2");
  std::string stream = Shell(curl + "-N -w '\\n%{http_code} %{http_version}' " + base +
                             "/v1/chat/completions -H 'Content-Type: application/json' -d "
                             "'{\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],\"max_tokens\":8,"
                             "\"stream\":true}'");
  stop();
  std::error_code ignored;
  fs::remove_all(dir, ignored);
  EXPECT_NE(stream.find("\"chat.completion.chunk\""), std::string::npos) << stream;
  EXPECT_NE(stream.find("data: [DONE]"), std::string::npos) << stream;
  EXPECT_NE(stream.find("\n200 2"), std::string::npos) << stream;
}

}  // namespace
}  // namespace meridian::http::testing
