// Topology: the TOML reader and lookups.
#include "wan/topology.h"

#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

namespace meridian::wan {

namespace {

std::pair<std::string, std::string> Key(std::string_view a, std::string_view b) {
  std::string x(a), y(b);
  if (y < x) std::swap(x, y);
  return {x, y};
}

Status ReadPlaces(const toml::table& root, const char* key, std::vector<Place>* out, std::set<std::string>* names,
                  const std::string& where) {
  const toml::array* list = root[key].as_array();
  if (!list || list->empty()) return InvalidArgument(where + ": needs at least one [[" + key + "]] entry");
  for (const toml::node& node : *list) {
    const toml::table* t = node.as_table();
    if (!t) return InvalidArgument(where + ": every [[" + key + "]] entry must be a table");
    auto name = (*t)["name"].value<std::string>();
    if (!name || name->empty()) return InvalidArgument(where + ": a [[" + key + "]] entry has no name");
    if (!names->insert(*name).second) return InvalidArgument(where + ": the name '" + *name + "' appears twice");
    out->push_back(Place{*name, (*t)["location"].value_or<std::string>("")});
  }
  return Status::Ok();
}

Status ReadNumber(const toml::table& table, const char* key, double min, double max, double* out,
                  const std::string& where) {
  const toml::node* node = table.get(key);
  if (!node) return Status::Ok();
  auto v = node->value<double>();
  if (!v || !(*v >= min && *v <= max)) {
    return InvalidArgument(where + ": '" + key + "' must be a number between " + std::to_string(min) + " and " +
                           std::to_string(max));
  }
  *out = *v;
  return Status::Ok();
}

}  // namespace

std::optional<double> Topology::Rtt(std::string_view a, std::string_view b) const {
  auto it = rtt_ms.find(Key(a, b));
  if (it == rtt_ms.end()) return std::nullopt;
  return it->second;
}

std::string Topology::NearestRegion(std::string_view site) const {
  std::string best;
  double best_rtt = 0;
  for (const Place& r : regions) {
    auto rtt = Rtt(site, r.name);
    if (rtt && (best.empty() || *rtt < best_rtt)) {
      best = r.name;
      best_rtt = *rtt;
    }
  }
  return best;
}

bool Topology::IsSite(std::string_view name) const {
  for (const Place& p : sites)
    if (p.name == name) return true;
  return false;
}

bool Topology::IsRegion(std::string_view name) const {
  for (const Place& p : regions)
    if (p.name == name) return true;
  return false;
}

LinkConfig Topology::Link(double rtt) const {
  LinkConfig c = LinkConfig::Symmetric(std::chrono::microseconds(static_cast<int64_t>(rtt * 1000.0)));
  c.jitter = std::chrono::microseconds(static_cast<int64_t>(jitter_ms * 1000.0));
  c.bandwidth_bytes_per_s = bandwidth_mbps * 1e6 / 8.0;
  return c;
}

Result<Topology> ParseTopology(std::string_view text, std::string_view source_name) {
  const std::string where(source_name);
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << where << ":" << e.source().begin.line << ":" << e.source().begin.column << ": " << e.description();
    return InvalidArgument(msg.str());
  }
  Topology topo;
  std::set<std::string> names;
  if (Status s = ReadPlaces(root, "site", &topo.sites, &names, where); !s.ok()) return s;
  if (Status s = ReadPlaces(root, "region", &topo.regions, &names, where); !s.ok()) return s;
  if (const toml::table* link = root["link"].as_table()) {
    if (Status s = ReadNumber(*link, "edge_rtt_ms", 0, 10'000, &topo.edge_rtt_ms, where + " [link]"); !s.ok()) return s;
    if (Status s = ReadNumber(*link, "jitter_ms", 0, 10'000, &topo.jitter_ms, where + " [link]"); !s.ok()) return s;
    if (Status s = ReadNumber(*link, "bandwidth_mbps", 0, 1e6, &topo.bandwidth_mbps, where + " [link]"); !s.ok())
      return s;
  }
  const toml::table* rtts = root["rtt_ms"].as_table();
  if (!rtts) return InvalidArgument(where + ": needs an [rtt_ms] table");
  for (const auto& [from_key, from_node] : *rtts) {
    const std::string from(from_key.str());
    if (!names.count(from)) return InvalidArgument(where + ": [rtt_ms." + from + "] names an unknown place");
    const toml::table* row = from_node.as_table();
    if (!row) return InvalidArgument(where + ": [rtt_ms." + from + "] must be a table of place = milliseconds");
    for (const auto& [to_key, to_node] : *row) {
      const std::string to(to_key.str());
      if (!names.count(to)) return InvalidArgument(where + ": rtt_ms." + from + "." + to + " names an unknown place");
      if (to == from) return InvalidArgument(where + ": rtt_ms." + from + "." + to + " links a place to itself");
      auto ms = to_node.value<double>();
      if (!ms || !(*ms > 0 && *ms < 10'000)) {
        return InvalidArgument(where + ": rtt_ms." + from + "." + to + " must be a number of milliseconds in (0, 10000)");
      }
      auto [it, inserted] = topo.rtt_ms.emplace(Key(from, to), *ms);
      if (!inserted && it->second != *ms) {
        return InvalidArgument(where + ": the RTT between " + from + " and " + to + " is given twice, differently");
      }
    }
  }
  for (const Place& s : topo.sites) {
    for (const Place& r : topo.regions) {
      if (!topo.Rtt(s.name, r.name)) {
        return InvalidArgument(where + ": no RTT between site " + s.name + " and region " + r.name);
      }
    }
  }
  return topo;
}

Result<Topology> LoadTopology(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot read the topology file " + path);
  std::stringstream text;
  text << in.rdbuf();
  return ParseTopology(text.str(), path);
}

}  // namespace meridian::wan
