// LinkConfig: what one emulated WAN link does to the bytes crossing it, per direction.
#pragma once

#include <chrono>

namespace meridian::wan {

//! "forward" is client -> server (the direction of the connection's opener), "reverse" the answer.
struct LinkConfig {
  std::chrono::microseconds forward_delay{0};  //!< one-way delay client -> server
  std::chrono::microseconds reverse_delay{0};  //!< one-way delay server -> client
  //! Extra delay per chunk, uniform in [0, jitter]. Order is kept (TCP delivers in order), so a
  //! late chunk holds back those behind it, as head-of-line blocking does.
  std::chrono::microseconds jitter{0};
  double bandwidth_bytes_per_s = 0;  //!< per direction; 0 = unlimited
  //! Delay the first bytes of each new connection by one extra RTT: the TCP handshake a cold
  //! connection pays (SYN, SYN-ACK) before its first data can leave.
  bool emulate_handshake = true;

  std::chrono::microseconds rtt() const { return forward_delay + reverse_delay; }
  //! A symmetric link: half the RTT each way.
  static LinkConfig Symmetric(std::chrono::microseconds rtt) {
    LinkConfig c;
    c.forward_delay = rtt / 2;
    c.reverse_delay = rtt - rtt / 2;
    return c;
  }
};

}  // namespace meridian::wan
