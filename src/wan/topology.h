// Topology: user sites, server regions and the round-trip times between them, read from a TOML
// file (configs/topology.toml is the shipped one; docs/lab.md describes the format).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "wan/link_config.h"

namespace meridian::wan {

struct Place {
  std::string name;      //!< an identifier: "london", "eu-central"
  std::string location;  //!< free text: "London", "Frankfurt (AWS eu-central-1)"
};

//! Immutable after parsing; safe to share between threads.
struct Topology {
  std::vector<Place> sites;    //!< where users are
  std::vector<Place> regions;  //!< where servers are
  //! RTT in ms between two places, keyed by the two names in sorted order (symmetric).
  std::map<std::pair<std::string, std::string>, double> rtt_ms;
  double edge_rtt_ms = 2.0;     //!< a user to the edge gateway of its own site (same metro)
  double jitter_ms = 0.0;       //!< applied to every link
  double bandwidth_mbps = 0.0;  //!< per direction, every link; 0 = unlimited

  //! The RTT between two places (either order); nullopt if the file gives none.
  std::optional<double> Rtt(std::string_view a, std::string_view b) const;
  //! The region with the smallest RTT to `site`; empty if none.
  std::string NearestRegion(std::string_view site) const;
  bool IsSite(std::string_view name) const;
  bool IsRegion(std::string_view name) const;
  //! The link of `rtt_ms` (symmetric) with this topology's jitter and bandwidth.
  LinkConfig Link(double rtt_ms) const;
};

//! Parses a topology; InvalidArgument naming the file and the problem when it is malformed: a
//! missing or duplicate name, an RTT that is not a positive number, an unknown place, or a site
//! without an RTT to some region.
Result<Topology> ParseTopology(std::string_view toml_text, std::string_view source_name);
//! Reads and parses a file (NotFound if unreadable).
Result<Topology> LoadTopology(const std::string& path);

}  // namespace meridian::wan
