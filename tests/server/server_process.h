// Test helpers: run the real `meridian serve` binary on a free port with the shipped model, wait
// for /health and /ready, run commands (curl, node) with timeouts, and talk raw TCP for clients
// that misbehave on purpose.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http/http_client.h"

namespace meridian::server::testing {

inline std::string MeridianBinary() {
  return std::string(MERIDIAN_BINARY_DIR) + "/bin/meridian";
}
inline std::string ShippedModel() {
  return std::string(MERIDIAN_SOURCE_DIR) + "/models/meridian-brown-q8_0.gguf";
}

//! A `meridian serve` child process. The destructor stops it (SIGTERM, then SIGKILL after 10 s).
class ServerProcess {
 public:
  //! Starts the binary with `args` after `serve --port 0 --model <shipped>`; waits (up to
  //! `timeout`) for the "listening on" line, /health and /ready. Null with *error set on failure.
  static std::unique_ptr<ServerProcess> Start(const std::vector<std::string>& args, std::string* error,
                                              std::chrono::seconds timeout = std::chrono::seconds(60)) {
    auto p = std::unique_ptr<ServerProcess>(new ServerProcess());
    if (!std::filesystem::exists(MeridianBinary())) {
      *error = "the meridian binary is not built: " + MeridianBinary();
      return nullptr;
    }
    char log_template[] = "/tmp/meridian_serve_log_XXXXXX";
    const int log_fd = mkstemp(log_template);
    if (log_fd < 0) {
      *error = "mkstemp failed";
      return nullptr;
    }
    p->log_path_ = log_template;
    int out_pipe[2];
    if (pipe(out_pipe) != 0) {
      *error = "pipe failed";
      return nullptr;
    }
    std::vector<std::string> argv_s = {MeridianBinary(), "serve", "--port", "0", "--model", ShippedModel()};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
      dup2(out_pipe[1], STDOUT_FILENO);
      dup2(log_fd, STDERR_FILENO);
      close(out_pipe[0]);
      close(out_pipe[1]);
      close(log_fd);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out_pipe[1]);
    close(log_fd);
    if (pid < 0) {
      close(out_pipe[0]);
      *error = "fork failed";
      return nullptr;
    }
    p->pid_ = pid;
    p->stdout_fd_ = out_pipe[0];
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string out;
    std::smatch m;
    const std::regex listening("listening on (http://[^\\s]+:([0-9]+))");
    while (!std::regex_search(out, m, listening)) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd pfd{p->stdout_fd_, POLLIN, 0};
      if (left.count() <= 0 || poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
        *error = "no 'listening on' line in time; log:\n" + p->Logs();
        return nullptr;
      }
      char buf[512];
      const ssize_t n = read(p->stdout_fd_, buf, sizeof buf);
      if (n <= 0) {
        *error = "the server exited before listening; log:\n" + p->Logs();
        return nullptr;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    p->base_url_ = m[1];
    p->port_ = static_cast<uint16_t>(std::stoi(m[2]));
    for (const char* path : {"/health", "/ready"}) {
      while (true) {
        auto r = p->client_.Fetch({"GET", p->base_url_ + path, {}, {}});
        if (r.ok() && r->status == 200) break;
        if (std::chrono::steady_clock::now() > deadline) {
          *error = std::string("the server did not answer ") + path + " with 200 in time; log:\n" + p->Logs();
          return nullptr;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    return p;
  }

  ~ServerProcess() {
    if (pid_ > 0) Terminate(std::chrono::seconds(10));
    if (stdout_fd_ >= 0) close(stdout_fd_);
    if (!log_path_.empty() && std::getenv("MERIDIAN_KEEP_SERVER_LOGS") == nullptr)
      std::remove(log_path_.c_str());
  }

  //! SIGTERM, then waits; SIGKILL past `timeout`. The exit status (-1 if it had to be killed).
  int Terminate(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return exit_status_;
    kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (true) {
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        exit_status_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
    return exit_status_;
  }

  const std::string& base_url() const { return base_url_; }
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  //! The server's stderr (JSON log lines) so far.
  std::string Logs() const {
    std::ifstream in(log_path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  ServerProcess() = default;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int exit_status_ = -1;
  std::string log_path_;
  std::string base_url_;
  uint16_t port_ = 0;
  http::HttpClient client_;
};

//! Runs a shell command (give it its own `timeout`), returns stdout; *exit_code gets the status.
inline std::string RunCommand(const std::string& command, int* exit_code = nullptr) {
  std::string out;
  FILE* f = popen(command.c_str(), "r");
  if (!f) {
    if (exit_code) *exit_code = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  const int status = pclose(f);
  if (exit_code) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

//! Single-quotes `s` for /bin/sh.
inline std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

//! A blocking loopback TCP connection with receive timeouts, for deliberately bad clients.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~RawConnection() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  bool Send(std::string_view bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  //! Reads what arrives within `timeout` (stops early at EOF). Sets *eof when the peer closed.
  std::string Read(std::chrono::milliseconds timeout, bool* eof = nullptr) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd pfd{fd_, POLLIN, 0};
      if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        if (eof) *eof = true;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

}  // namespace meridian::server::testing
