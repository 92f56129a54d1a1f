// Test helpers: a tiny loopback TCP echo server that records when bytes arrive, and a blocking
// client connection with timeouts, to measure what a relay does to timing.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace meridian::wan::testing {

using Clock = std::chrono::steady_clock;

inline double MsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

//! Echoes every byte back (or only counts them with echo = false), recording arrival times.
class EchoServer {
 public:
  explicit EchoServer(bool echo = true) : echo_(echo) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(listen_fd_, 64);
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~EchoServer() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    acceptor_.join();
    for (auto& t : workers_) t.join();
  }
  uint16_t port() const { return port_; }
  //! Arrival time of every read, in order.
  std::vector<Clock::time_point> Arrivals() {
    std::lock_guard lock(mutex_);
    return arrivals_;
  }
  size_t BytesReceived() const { return bytes_.load(); }
  Clock::time_point LastArrival() {
    std::lock_guard lock(mutex_);
    return arrivals_.empty() ? Clock::time_point{} : arrivals_.back();
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      workers_.emplace_back([this, fd] { Serve(fd); });
    }
  }
  void Serve(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char buf[65536];
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      {
        std::lock_guard lock(mutex_);
        arrivals_.push_back(Clock::now());
      }
      bytes_ += static_cast<size_t>(n);
      if (echo_ && send(fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
    }
    close(fd);
  }

  bool echo_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> bytes_{0};
  std::thread acceptor_;
  std::vector<std::thread> workers_;  // joined in the destructor; only the acceptor appends
  std::mutex mutex_;
  std::vector<Clock::time_point> arrivals_;
};

//! A blocking client socket to 127.0.0.1:port.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~Client() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  bool Send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  //! Reads exactly `n` bytes within `timeout`; fewer on timeout, EOF or error (*eof set on the last two).
  std::string ReadExactly(size_t n, std::chrono::milliseconds timeout, bool* eof = nullptr) {
    std::string out;
    const auto deadline = Clock::now() + timeout;
    while (out.size() < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) break;
      char buf[65536];
      const ssize_t got = recv(fd_, buf, std::min(sizeof buf, n - out.size()), 0);
      if (got <= 0) {
        if (eof) *eof = true;
        break;
      }
      out.append(buf, static_cast<size_t>(got));
    }
    return out;
  }
  //! One byte out and back: the round trip in ms (negative on failure).
  double PingMs() {
    const auto start = Clock::now();
    if (!Send("x")) return -1;
    if (ReadExactly(1, std::chrono::seconds(10)).size() != 1) return -1;
    return MsBetween(start, Clock::now());
  }

 private:
  int fd_ = -1;
};

}  // namespace meridian::wan::testing
