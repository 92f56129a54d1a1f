// Gateway config parsing with toml++: typed reads that name file, line and key on error.
#include "gateway/config.h"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "gateway/cidr.h"

namespace meridian::gateway {
namespace {

//! Thrown inside the parser only; becomes an InvalidArgument at the boundary.
struct ConfigError {
  std::string message;
};

class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void Fail(const toml::node* node, const std::string& reason) const {
    int line = node ? static_cast<int>(node->source().begin.line) : 0;
    FailAt(line, reason);
  }
  [[noreturn]] void FailAt(int line, const std::string& reason) const {
    throw ConfigError{source_ + ":" + std::to_string(line) + ": " + reason};
  }

  //! Rejects keys of `table` not in `allowed`.
  void CheckKeys(const toml::table& table, const std::string& where, std::set<std::string> allowed) const {
    for (auto&& [key, node] : table) {
      std::string k(key.str());
      if (!allowed.count(k)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        throw ConfigError{source_ + ":" + std::to_string(key.source().begin.line) + ": unknown key '" + k +
                          "' in " + where + " (known: " + list + ")"};
      }
    }
  }

  const toml::table* Table(const toml::table& parent, const char* key, const std::string& where) const {
    const toml::node* n = parent.get(key);
    if (!n) return nullptr;
    if (!n->is_table()) Fail(n, "'" + std::string(key) + "' in " + where + " must be a table");
    return n->as_table();
  }

  std::string String(const toml::table& t, const char* key, const std::string& where, std::string fallback,
                     bool required = false) const {
    const toml::node* n = t.get(key);
    if (!n) {
      if (required) FailAt(static_cast<int>(t.source().begin.line), where + " needs '" + key + "'");
      return fallback;
    }
    if (!n->is_string()) Fail(n, where + "." + key + " must be a string");
    return std::string(*n->value<std::string>());
  }

  double Number(const toml::table& t, const char* key, const std::string& where, double fallback, double min,
                double max, bool required = false) const {
    const toml::node* n = t.get(key);
    if (!n) {
      if (required) FailAt(static_cast<int>(t.source().begin.line), where + " needs '" + key + "'");
      return fallback;
    }
    if (!n->is_number()) Fail(n, where + "." + key + " must be a number");
    double v = *n->value<double>();
    if (!(v >= min && v <= max)) {
      std::ostringstream s;
      s << where << "." << key << " is " << v << "; it must be between " << min << " and " << max;
      Fail(n, s.str());
    }
    return v;
  }

  int64_t Integer(const toml::table& t, const char* key, const std::string& where, int64_t fallback,
                  int64_t min, int64_t max) const {
    const toml::node* n = t.get(key);
    if (!n) return fallback;
    if (!n->is_integer()) Fail(n, where + "." + key + " must be an integer");
    int64_t v = *n->value<int64_t>();
    if (v < min || v > max) {
      Fail(n, where + "." + key + " is " + std::to_string(v) + "; it must be between " + std::to_string(min) +
                  " and " + std::to_string(max));
    }
    return v;
  }

  bool Bool(const toml::table& t, const char* key, const std::string& where, bool fallback) const {
    const toml::node* n = t.get(key);
    if (!n) return fallback;
    if (!n->is_boolean()) Fail(n, where + "." + key + " must be true or false");
    return *n->value<bool>();
  }

  //! A duration given in milliseconds under `key` (e.g. interval_ms).
  std::chrono::milliseconds Millis(const toml::table& t, const char* key, const std::string& where,
                                   std::chrono::milliseconds fallback, double min_ms = 1) const {
    double v = Number(t, key, where, static_cast<double>(fallback.count()), min_ms, 1e9);
    return std::chrono::milliseconds(static_cast<int64_t>(std::llround(v)));
  }

  LatLon Location(const toml::table& t, const std::string& where, bool required) const {
    LatLon p;
    p.lat = Number(t, "lat", where, 0.0, -90.0, 90.0, required);
    p.lon = Number(t, "lon", where, 0.0, -180.0, 180.0, required);
    return p;
  }

  const std::string& source() const { return source_; }

 private:
  std::string source_;
};

bool ValidHostPort(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= address.size()) return false;
  std::string port = address.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return false;
  long p = std::stol(port);
  if (p < 1 || p > 65535) return false;
  for (char c : address.substr(0, colon)) {
    if (c <= ' ' || c == '/' || c == '?' || c == '#' || c == '@') return false;
  }
  return true;
}

void ParseListeners(const Reader& r, const toml::table& root, GatewayConfig* out) {
  const toml::node* n = root.get("listener");
  if (!n) {
    out->listeners.push_back(ListenerConfig{});
    return;
  }
  const toml::array* arr = n->as_array();
  if (!arr || arr->empty()) r.Fail(n, "'listener' must be one or more [[listener]] tables");
  for (const toml::node& item : *arr) {
    const toml::table* t = item.as_table();
    if (!t) r.Fail(&item, "each [[listener]] must be a table");
    const std::string w = "[[listener]]";
    r.CheckKeys(*t, w,
                {"host", "port", "tls_cert", "tls_key", "http2", "tcp_fast_open", "io_threads", "max_header_bytes",
                 "max_body_bytes", "max_connections", "header_timeout_ms", "body_timeout_ms", "idle_timeout_ms"});
    ListenerConfig l;
    l.line = static_cast<int>(t->source().begin.line);
    l.host = r.String(*t, "host", w, l.host);
    l.port = static_cast<uint16_t>(r.Integer(*t, "port", w, 0, 0, 65535));
    l.tls_cert = r.String(*t, "tls_cert", w, "");
    l.tls_key = r.String(*t, "tls_key", w, "");
    if (l.tls_cert.empty() != l.tls_key.empty()) r.FailAt(l.line, "[[listener]] needs both tls_cert and tls_key");
    l.http2 = r.Bool(*t, "http2", w, l.http2);
    l.tcp_fast_open = r.Bool(*t, "tcp_fast_open", w, l.tcp_fast_open);
    l.io_threads = static_cast<size_t>(r.Integer(*t, "io_threads", w, 2, 1, 256));
    l.max_header_bytes = static_cast<size_t>(r.Integer(*t, "max_header_bytes", w, 16 * 1024, 1024, 1 << 20));
    l.max_body_bytes =
        static_cast<size_t>(r.Integer(*t, "max_body_bytes", w, 4 * 1024 * 1024, 1024, int64_t{1} << 30));
    l.max_connections = static_cast<size_t>(r.Integer(*t, "max_connections", w, 4096, 1, 1'000'000));
    l.header_timeout = r.Millis(*t, "header_timeout_ms", w, l.header_timeout);
    l.body_timeout = r.Millis(*t, "body_timeout_ms", w, l.body_timeout);
    l.idle_timeout = r.Millis(*t, "idle_timeout_ms", w, l.idle_timeout);
    out->listeners.push_back(std::move(l));
  }
}

void ParseRegions(const Reader& r, const toml::table& root, GatewayConfig* out) {
  const toml::node* n = root.get("region");
  if (!n) r.FailAt(1, "no [[region]] defined; the gateway needs at least one region with servers");
  const toml::array* arr = n->as_array();
  if (!arr || arr->empty()) r.Fail(n, "'region' must be one or more [[region]] tables");
  std::set<std::string> names;
  for (const toml::node& item : *arr) {
    const toml::table* t = item.as_table();
    if (!t) r.Fail(&item, "each [[region]] must be a table");
    RegionConfig region;
    region.line = static_cast<int>(t->source().begin.line);
    region.name = r.String(*t, "name", "[[region]]", "", /*required=*/true);
    const std::string w = "region '" + region.name + "'";
    r.CheckKeys(*t, w, {"name", "lat", "lon", "servers", "capacity"});
    if (region.name.empty() || region.name.find_first_of(" \t\r\n\",{}") != std::string::npos) {
      r.FailAt(region.line, "region name '" + region.name + "' must be non-empty, without spaces or quotes");
    }
    if (!names.insert(region.name).second) r.FailAt(region.line, "region '" + region.name + "' is defined twice");
    region.location = r.Location(*t, w, /*required=*/true);
    double region_capacity = r.Number(*t, "capacity", w, 1.0, 1e-6, 1e6);
    const toml::node* servers = t->get("servers");
    if (!servers) r.FailAt(region.line, w + " needs 'servers' (a list of \"host:port\")");
    const toml::array* list = servers->as_array();
    if (!list || list->empty()) r.Fail(servers, w + ".servers must be a non-empty list");
    for (const toml::node& s : *list) {
      ServerConfig server;
      server.capacity = region_capacity;
      if (s.is_string()) {
        server.address = *s.value<std::string>();
      } else if (const toml::table* st = s.as_table()) {
        r.CheckKeys(*st, w + " server", {"address", "capacity"});
        server.address = r.String(*st, "address", w + " server", "", true);
        server.capacity = r.Number(*st, "capacity", w + " server", region_capacity, 1e-6, 1e6);
      } else {
        r.Fail(&s, w + ".servers entries must be \"host:port\" or {address = \"host:port\", capacity = N}");
      }
      if (!ValidHostPort(server.address)) {
        r.Fail(&s, w + " server '" + server.address + "' is not host:port");
      }
      region.servers.push_back(std::move(server));
    }
    out->regions.push_back(std::move(region));
  }
}

void ParseLocation(const Reader& r, const toml::table& root, GatewayConfig* out) {
  const toml::table* t = r.Table(root, "location", "the file");
  LocationConfig& loc = out->location;
  if (!out->regions.empty()) loc.default_location = out->regions.front().location;
  if (!t) return;
  const std::string w = "[location]";
  r.CheckKeys(*t, w, {"default_lat", "default_lon", "default_region", "geoip_db", "trusted_sources", "cidr"});
  loc.default_region = r.String(*t, "default_region", w, "");
  if (!loc.default_region.empty()) {
    const RegionConfig* region = out->FindRegion(loc.default_region);
    if (!region) r.Fail(t->get("default_region"), "[location].default_region '" + loc.default_region + "' is no region");
    loc.default_location = region->location;
  }
  loc.default_location.lat = r.Number(*t, "default_lat", w, loc.default_location.lat, -90, 90);
  loc.default_location.lon = r.Number(*t, "default_lon", w, loc.default_location.lon, -180, 180);
  loc.geoip_db = r.String(*t, "geoip_db", w, "");
  if (const toml::node* n = t->get("trusted_sources")) {
    const toml::array* arr = n->as_array();
    if (!arr) r.Fail(n, "[location].trusted_sources must be a list of CIDRs");
    for (const toml::node& item : *arr) {
      if (!item.is_string()) r.Fail(&item, "[location].trusted_sources entries must be strings");
      std::string cidr = *item.value<std::string>();
      if (!ParseCidr(cidr).ok()) r.Fail(&item, "'" + cidr + "' in trusted_sources is not an address or CIDR");
      loc.trusted_sources.push_back(cidr);
    }
  }
  if (const toml::node* n = t->get("cidr")) {
    const toml::array* arr = n->as_array();
    if (!arr) r.Fail(n, "[[location.cidr]] must be an array of tables");
    for (const toml::node& item : *arr) {
      const toml::table* ct = item.as_table();
      if (!ct) r.Fail(&item, "each [[location.cidr]] must be a table");
      const std::string cw = "[[location.cidr]]";
      r.CheckKeys(*ct, cw, {"cidr", "lat", "lon", "region"});
      CidrEntry e;
      e.line = static_cast<int>(ct->source().begin.line);
      e.cidr = r.String(*ct, "cidr", cw, "", true);
      if (!ParseCidr(e.cidr).ok()) r.FailAt(e.line, "'" + e.cidr + "' is not a CIDR block");
      e.region = r.String(*ct, "region", cw, "");
      if (!e.region.empty()) {
        const RegionConfig* region = out->FindRegion(e.region);
        if (!region) r.FailAt(e.line, cw + " region '" + e.region + "' is no region");
        e.location = region->location;
        if (ct->get("lat") || ct->get("lon")) e.location = r.Location(*ct, cw, true);
      } else {
        e.location = r.Location(*ct, cw, /*required=*/true);
      }
      loc.cidrs.push_back(std::move(e));
    }
  }
}

void ParseRtt(const Reader& r, const toml::table& root, GatewayConfig* out) {
  const toml::table* t = r.Table(root, "rtt", "the file");
  if (!t) return;
  const std::string w = "[rtt]";
  RttConfig& rtt = out->rtt;
  r.CheckKeys(*t, w, {"fibre_km_per_ms", "route_factor", "base_ms", "ewma_alpha", "use_measured", "link"});
  rtt.fibre_km_per_ms = r.Number(*t, "fibre_km_per_ms", w, rtt.fibre_km_per_ms, 1, 300);
  rtt.route_factor = r.Number(*t, "route_factor", w, rtt.route_factor, 1, 10);
  rtt.base_ms = r.Number(*t, "base_ms", w, rtt.base_ms, 0, 10000);
  rtt.ewma_alpha = r.Number(*t, "ewma_alpha", w, rtt.ewma_alpha, 0.001, 1);
  rtt.use_measured = r.Bool(*t, "use_measured", w, rtt.use_measured);
  if (const toml::node* n = t->get("link")) {
    const toml::array* arr = n->as_array();
    if (!arr) r.Fail(n, "[[rtt.link]] must be an array of tables");
    for (const toml::node& item : *arr) {
      const toml::table* lt = item.as_table();
      if (!lt) r.Fail(&item, "each [[rtt.link]] must be a table");
      const std::string lw = "[[rtt.link]]";
      r.CheckKeys(*lt, lw, {"from", "to", "ms"});
      RttLink link;
      link.line = static_cast<int>(lt->source().begin.line);
      link.from = r.String(*lt, "from", lw, "", true);
      link.to = r.String(*lt, "to", lw, "", true);
      link.ms = r.Number(*lt, "ms", lw, 0, 0, 100000, true);
      for (const std::string& name : {link.from, link.to}) {
        if (!out->FindRegion(name)) r.FailAt(link.line, lw + " names '" + name + "', which is no region");
      }
      rtt.links.push_back(std::move(link));
    }
  }
}

void ParseRouting(const Reader& r, const toml::table& root, GatewayConfig* out) {
  const toml::table* t = r.Table(root, "routing", "the file");
  if (!t) return;
  const std::string w = "[routing]";
  RoutingConfig& c = out->routing;
  r.CheckKeys(*t, w,
              {"policy", "round_trips", "prompt_bytes_per_token", "default_prefill_tokens_per_second",
               "saturated_wait_ms", "outstanding_wait_ms", "switch_margin_ms"});
  c.policy = r.String(*t, "policy", w, c.policy);
  if (c.policy != "lowest-ttft" && c.policy != "nearest" && c.policy != "round-robin") {
    r.Fail(t->get("policy"), "[routing].policy '" + c.policy + "' is unknown (lowest-ttft, nearest, round-robin)");
  }
  c.round_trips = r.Number(*t, "round_trips", w, c.round_trips, 0, 100);
  c.prompt_bytes_per_token = r.Number(*t, "prompt_bytes_per_token", w, c.prompt_bytes_per_token, 0.1, 1000);
  c.default_prefill_tokens_per_second =
      r.Number(*t, "default_prefill_tokens_per_second", w, c.default_prefill_tokens_per_second, 1, 1e9);
  c.saturated_wait_ms = r.Number(*t, "saturated_wait_ms", w, c.saturated_wait_ms, 0, 1e9);
  c.outstanding_wait_ms = r.Number(*t, "outstanding_wait_ms", w, c.outstanding_wait_ms, 0, 1e9);
  c.switch_margin_ms = r.Number(*t, "switch_margin_ms", w, c.switch_margin_ms, 0, 1e6);
}

void ParseHealth(const Reader& r, const toml::table& root, GatewayConfig* out) {
  const toml::table* t = r.Table(root, "health", "the file");
  if (!t) return;
  const std::string w = "[health]";
  HealthConfig& h = out->health;
  r.CheckKeys(*t, w,
              {"path", "interval_ms", "timeout_ms", "unhealthy_after", "healthy_after", "eject_after",
               "eject_base_ms", "eject_max_ms"});
  h.path = r.String(*t, "path", w, h.path);
  if (h.path.empty() || h.path[0] != '/') r.Fail(t->get("path"), "[health].path must start with '/'");
  h.interval = r.Millis(*t, "interval_ms", w, h.interval, 10);
  h.timeout = r.Millis(*t, "timeout_ms", w, h.timeout, 1);
  h.unhealthy_after = static_cast<int>(r.Integer(*t, "unhealthy_after", w, h.unhealthy_after, 1, 1000));
  h.healthy_after = static_cast<int>(r.Integer(*t, "healthy_after", w, h.healthy_after, 1, 1000));
  h.eject_after = static_cast<int>(r.Integer(*t, "eject_after", w, h.eject_after, 1, 1000));
  h.eject_base = r.Millis(*t, "eject_base_ms", w, h.eject_base);
  h.eject_max = r.Millis(*t, "eject_max_ms", w, h.eject_max);
  if (h.eject_max < h.eject_base) r.FailAt(static_cast<int>(t->source().begin.line), "[health].eject_max_ms is below eject_base_ms");
}

void ParseUpstream(const Reader& r, const toml::table& root, GatewayConfig* out) {
  const toml::table* t = r.Table(root, "upstream", "the file");
  if (!t) return;
  const std::string w = "[upstream]";
  UpstreamConfig& u = out->upstream;
  r.CheckKeys(*t, w,
              {"connect_timeout_ms", "first_byte_timeout_ms", "idle_timeout_ms", "request_timeout_ms", "max_retries",
               "io_threads", "max_idle_per_server", "buffer_limit_bytes"});
  u.connect_timeout = r.Millis(*t, "connect_timeout_ms", w, u.connect_timeout);
  u.first_byte_timeout = r.Millis(*t, "first_byte_timeout_ms", w, u.first_byte_timeout);
  u.idle_timeout = r.Millis(*t, "idle_timeout_ms", w, u.idle_timeout);
  u.request_timeout = r.Millis(*t, "request_timeout_ms", w, u.request_timeout);
  u.max_retries = static_cast<int>(r.Integer(*t, "max_retries", w, u.max_retries, 0, 2));
  u.io_threads = static_cast<size_t>(r.Integer(*t, "io_threads", w, 2, 1, 256));
  u.max_idle_per_server = static_cast<size_t>(r.Integer(*t, "max_idle_per_server", w, 64, 0, 100000));
  u.buffer_limit_bytes = static_cast<size_t>(r.Integer(*t, "buffer_limit_bytes", w, 1 << 20, 0, 1 << 30));
}

}  // namespace

const RegionConfig* GatewayConfig::FindRegion(const std::string& name) const {
  for (const auto& r : regions) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

std::optional<double> GatewayConfig::LinkRtt(const std::string& a, const std::string& b) const {
  for (const auto& l : rtt.links) {
    if ((l.from == a && l.to == b) || (l.from == b && l.to == a)) return l.ms;
  }
  return std::nullopt;
}

Result<GatewayConfig> ParseGatewayConfig(std::string_view text, const std::string& source) {
  GatewayConfig config;
  config.source = source;
  try {
    toml::table root = toml::parse(text, source);
    Reader r(source);
    r.CheckKeys(root, "the file",
                {"listener", "region", "location", "rtt", "routing", "health", "upstream", "access_log", "log_level"});
    config.access_log = r.Bool(root, "access_log", "the file", false);
    config.log_level = r.String(root, "log_level", "the file", "info");
    if (config.log_level != "debug" && config.log_level != "info" && config.log_level != "warn" &&
        config.log_level != "error") {
      r.Fail(root.get("log_level"), "log_level must be debug, info, warn or error");
    }
    ParseListeners(r, root, &config);
    ParseRegions(r, root, &config);
    ParseLocation(r, root, &config);
    ParseRtt(r, root, &config);
    ParseRouting(r, root, &config);
    ParseHealth(r, root, &config);
    ParseUpstream(r, root, &config);
  } catch (const toml::parse_error& e) {
    return InvalidArgument(source + ":" + std::to_string(e.source().begin.line) + ": " +
                           std::string(e.description()));
  } catch (const ConfigError& e) {
    return InvalidArgument(e.message);
  }
  return config;
}

Result<GatewayConfig> LoadGatewayConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open the gateway config file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseGatewayConfig(buffer.str(), path);
}

}  // namespace meridian::gateway
