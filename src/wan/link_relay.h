// LinkRelay: one emulated WAN link as a TCP relay. It accepts connections on a local port, opens
// one to the target for each, and forwards bytes both ways, each chunk held back until the time
// it would arrive over the link: timestamped chunks in a queue per direction, released by a timer
// (never a sleep per read), after the one-way delay, optional jitter and the serialization time of
// a bandwidth cap; the first bytes of a connection also wait one extra RTT (its TCP handshake).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "core/status.h"
#include "wan/link_config.h"

namespace meridian::wan {

struct RelayOptions {
  std::string name;  //!< e.g. "london->eu-central", for logs and listings
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;  //!< 0 picks a free port; see LinkRelay::port()
  std::string target_host = "127.0.0.1";
  uint16_t target_port = 0;
  LinkConfig link;
  //! Bytes queued per direction past which the relay stops reading that side (backpressure, so a
  //! slow reader cannot make the relay buffer without bound).
  size_t max_buffered_bytes = 4u << 20;
};

//! Counters since Start; safe to read from any thread.
struct RelayStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_open = 0;
  uint64_t upstream_connect_failures = 0;  //!< the target refused: the client gets a reset
  uint64_t bytes_forward = 0;              //!< client -> target, delivered
  uint64_t bytes_reverse = 0;              //!< target -> client, delivered
};

namespace detail {
struct RelayShared;
}  // namespace detail

//! Thread-safety: Start, port, Stats and Stop may be called from any thread. Connections run on
//! the io_context's threads (each connection on its own strand). Stop (also run by the
//! destructor) closes the listener and every connection; the io_context must outlive the relay.
class LinkRelay {
 public:
  //! Resolves the target and binds the listener; fails with InvalidArgument (bad options) or
  //! Unavailable (cannot bind or resolve). Accepting starts at once on `io`'s threads.
  static Result<std::unique_ptr<LinkRelay>> Start(boost::asio::io_context& io, RelayOptions options);
  ~LinkRelay();
  LinkRelay(const LinkRelay&) = delete;
  LinkRelay& operator=(const LinkRelay&) = delete;

  uint16_t port() const;
  const RelayOptions& options() const;
  RelayStats Stats() const;
  void Stop();

 private:
  explicit LinkRelay(std::shared_ptr<detail::RelayShared> shared) : shared_(std::move(shared)) {}
  std::shared_ptr<detail::RelayShared> shared_;
};

}  // namespace meridian::wan
