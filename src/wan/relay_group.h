// RelayGroup: the io threads and the set of LinkRelays that `meridian wan` (and the tests) run.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "core/status.h"
#include "wan/link_relay.h"

namespace meridian::wan {

//! Thread-safety: every method may be called from any thread. The destructor stops every relay
//! and joins the io threads.
class RelayGroup {
 public:
  explicit RelayGroup(size_t io_threads = 1);
  ~RelayGroup();
  RelayGroup(const RelayGroup&) = delete;
  RelayGroup& operator=(const RelayGroup&) = delete;

  //! Starts a relay; returns its index (for Relay) once it accepts connections.
  Result<size_t> Add(RelayOptions options);
  //! The relay at `index` (from Add); valid until the group is destroyed.
  const LinkRelay& Relay(size_t index) const;
  size_t size() const;
  //! Stops every relay (listeners and connections closed) and the io threads. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::wan
