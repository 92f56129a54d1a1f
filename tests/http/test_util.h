// Helpers for the http tests: a blocking raw TCP client on loopback (to send exactly the bytes a
// test needs, including malformed and slow ones) and small waiting utilities.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace meridian::http::testing {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

//! A blocking TCP connection to 127.0.0.1 with bounded reads.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      connect_errno_ = errno;
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawConnection() { Close(); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  int connect_errno() const { return connect_errno_; }
  //! True once a read saw the peer's FIN or a reset.
  bool peer_closed() const { return peer_closed_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  //! Reads whatever arrives within `timeout` until `done(buffer)` holds or the peer closes.
  std::string ReadUntil(const std::function<bool(const std::string&)>& done,
                        std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (!done(buffer_) && !peer_closed_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buf[16384];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        peer_closed_ = true;
        break;
      }
      buffer_.append(buf, static_cast<size_t>(n));
    }
    return buffer_;
  }
  std::string ReadUntilContains(std::string_view marker, std::chrono::milliseconds timeout = 2000ms) {
    return ReadUntil([&](const std::string& b) { return b.find(marker) != std::string::npos; }, timeout);
  }
  std::string ReadUntilClosed(std::chrono::milliseconds timeout = 2000ms) {
    return ReadUntil([](const std::string&) { return false; }, timeout);
  }
  //! Reads one complete response with a Content-Length body (or none) and removes it from the
  //! buffer; empty if none arrived in time.
  std::string ReadResponse(std::chrono::milliseconds timeout = 2000ms) {
    size_t total = 0;
    ReadUntil(
        [&](const std::string& b) {
          size_t end = b.find("\r\n\r\n");
          if (end == std::string::npos) return false;
          size_t length = 0;
          std::string head = b.substr(0, end);
          for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          size_t cl = head.find("\r\ncontent-length:");
          if (cl != std::string::npos) length = std::stoul(head.substr(cl + 17));
          total = end + 4 + length;
          return b.size() >= total;
        },
        timeout);
    if (total == 0 || buffer_.size() < total) return {};
    std::string response = buffer_.substr(0, total);
    buffer_.erase(0, total);
    return response;
  }
  const std::string& buffer() const { return buffer_; }
  void ClearBuffer() { buffer_.clear(); }

  //! Shrinks the receive buffer so that a non-reading client fills up quickly.
  void SetSmallReceiveBuffer() {
    int size = 4096;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  int connect_errno_ = 0;
  bool peer_closed_ = false;
  std::string buffer_;
};

//! A value handed from one thread to another, with a bounded wait.
template <typename T>
class Mailbox {
 public:
  void Put(T value) {
    std::lock_guard lock(mutex_);
    value_ = std::move(value);
    cv_.notify_all();
  }
  std::optional<T> Take(std::chrono::milliseconds timeout = 2000ms) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, timeout, [&] { return value_.has_value(); })) return std::nullopt;
    std::optional<T> out = std::move(value_);
    value_.reset();
    return out;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<T> value_;
};

//! Polls `condition` every 2 ms until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 2000ms) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return condition();
}

//! The status code of a raw response ("HTTP/1.1 404 Not Found..." -> 404), or 0.
inline int StatusOf(std::string_view response) {
  if (response.size() < 12 || response.substr(0, 5) != "HTTP/") return 0;
  return std::atoi(std::string(response.substr(9, 3)).c_str());
}

//! The value of header `name` (lowercase) in a raw response head, or "".
inline std::string HeaderOf(std::string_view response, std::string_view name) {
  std::string lower(response.substr(0, response.find("\r\n\r\n")));
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string key = "\r\n" + std::string(name) + ":";
  size_t at = lower.find(key);
  if (at == std::string::npos) return "";
  size_t start = at + key.size();
  size_t end = response.find("\r\n", start);
  std::string value(response.substr(start, end - start));
  while (!value.empty() && value.front() == ' ') value.erase(0, 1);
  return value;
}

inline std::string BodyOf(std::string_view response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string_view::npos ? std::string() : std::string(response.substr(end + 4));
}

}  // namespace meridian::http::testing
