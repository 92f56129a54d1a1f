// `meridian wan`: the user-space WAN emulator. Starts one delaying TCP relay per link (from a
// topology file, or one link given by flags), prints one line per relay with its listen port,
// then runs until SIGINT/SIGTERM. docs/lab.md documents it.
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/flags.h"
#include "core/log.h"
#include "wan/relay_group.h"
#include "wan/topology.h"

namespace meridian::cli {

namespace {

//! "HOST:PORT" -> host, port (the host may be empty: 127.0.0.1).
bool SplitHostPort(const std::string& text, std::string* host, uint16_t* port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  *host = colon == 0 ? "127.0.0.1" : text.substr(0, colon);
  try {
    size_t used = 0;
    const int p = std::stoi(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1 || p <= 0 || p > 65535) return false;
    *port = static_cast<uint16_t>(p);
  } catch (...) {
    return false;
  }
  return true;
}

//! "NAME=HOST:PORT" -> name, host, port.
bool SplitAssignment(const std::string& text, std::string* name, std::string* host, uint16_t* port) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  *name = text.substr(0, eq);
  return SplitHostPort(text.substr(eq + 1), host, port);
}

}  // namespace

int RunWan(int argc, char** argv) {
  std::string topology_path;
  std::vector<std::string> targets, edges, links;
  std::string single_target;
  double rtt_ms = -1, forward_ms = -1, reverse_ms = -1, jitter_ms = -1, bandwidth_mbps = -1;
  int32_t listen_port = 0;
  std::string listen_host = "127.0.0.1";
  int64_t io_threads = 1;
  bool no_handshake = false;

  FlagSet flags(
      "meridian wan --topology FILE --target REGION=HOST:PORT... [--edge SITE=HOST:PORT...]\n"
      "       meridian wan --to HOST:PORT --rtt-ms MS [--forward-ms MS --reverse-ms MS]\n"
      "Starts delaying TCP relays and prints, one per line:\n"
      "  relay NAME listen HOST:PORT target HOST:PORT rtt_ms MS");
  flags.String("topology", &topology_path, "topology file (TOML; configs/topology.toml)");
  flags.StringList("target", &targets,
                   "REGION=HOST:PORT: a relay from every site of the topology to this region's server");
  flags.StringList("edge", &edges, "SITE=HOST:PORT: a relay from SITE's users to its edge gateway (edge_rtt_ms)");
  flags.StringList("link", &links, "FROM,TO=HOST:PORT: one relay with the topology's RTT between FROM and TO");
  flags.String("to", &single_target, "HOST:PORT: a single relay to this address (no topology)");
  flags.Double("rtt-ms", &rtt_ms, "single relay: round-trip time, half each way");
  flags.Double("forward-ms", &forward_ms, "single relay: one-way delay client -> target");
  flags.Double("reverse-ms", &reverse_ms, "single relay: one-way delay target -> client");
  flags.Double("jitter-ms", &jitter_ms, "extra delay per chunk, uniform in [0, MS] (default: the topology's)");
  flags.Double("bandwidth-mbps", &bandwidth_mbps, "cap per direction in Mbit/s, 0 = none (default: the topology's)");
  flags.Bool("no-handshake", &no_handshake, "do not delay a new connection's first bytes by one RTT");
  flags.String("listen-host", &listen_host, "address the relays listen on");
  flags.Int32("listen-port", &listen_port, "single relay: port to listen on (0: a free port)");
  flags.Int("io-threads", &io_threads, "threads running the relays");
  if (int rc = HandleFlags(flags, argc, argv); rc >= 0) return rc;

  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "meridian wan: %s\n", message.c_str());
    return 2;
  };
  if (io_threads < 1 || io_threads > 64) return fail("--io-threads must be between 1 and 64");
  if (listen_port < 0 || listen_port > 65535) return fail("--listen-port must be between 0 and 65535");
  // -1 is "not given"; any other negative value is a mistake, not a request for the default.
  for (auto [flag, value] : {std::pair{"--rtt-ms", rtt_ms}, {"--forward-ms", forward_ms}, {"--reverse-ms", reverse_ms},
                             {"--jitter-ms", jitter_ms}, {"--bandwidth-mbps", bandwidth_mbps}}) {
    if (value < 0 && value != -1) return fail(std::string(flag) + " must be 0 or more, got " + std::to_string(value));
  }

  wan::Topology topo;
  if (!topology_path.empty()) {
    auto loaded = wan::LoadTopology(topology_path);
    if (!loaded.ok()) return fail(loaded.status().message());
    topo = std::move(*loaded);
  }
  if (jitter_ms >= 0) topo.jitter_ms = jitter_ms;
  if (bandwidth_mbps >= 0) topo.bandwidth_mbps = bandwidth_mbps;

  std::vector<wan::RelayOptions> relays;
  auto add = [&](std::string name, double rtt, const std::string& host, uint16_t port) {
    wan::RelayOptions o;
    o.name = std::move(name);
    o.listen_host = listen_host;
    o.target_host = host;
    o.target_port = port;
    o.link = topo.Link(rtt);
    o.link.emulate_handshake = !no_handshake;
    relays.push_back(std::move(o));
  };

  if (!single_target.empty()) {
    if (!topology_path.empty() || !targets.empty() || !edges.empty() || !links.empty()) {
      return fail("--to (a single relay) does not combine with --topology, --target, --edge or --link");
    }
    std::string host;
    uint16_t port = 0;
    if (!SplitHostPort(single_target, &host, &port)) return fail("--to: expected HOST:PORT, got '" + single_target + "'");
    const bool one_way = forward_ms >= 0 || reverse_ms >= 0;
    if (one_way && (forward_ms < 0 || reverse_ms < 0)) return fail("--forward-ms and --reverse-ms go together");
    if (!one_way && rtt_ms < 0) return fail("--to needs --rtt-ms (or --forward-ms and --reverse-ms)");
    add("link", one_way ? forward_ms + reverse_ms : rtt_ms, host, port);
    if (one_way) {
      relays.back().link.forward_delay = std::chrono::microseconds(static_cast<int64_t>(forward_ms * 1000));
      relays.back().link.reverse_delay = std::chrono::microseconds(static_cast<int64_t>(reverse_ms * 1000));
    }
    relays.back().listen_port = static_cast<uint16_t>(listen_port);
  } else {
    if (topology_path.empty()) return fail("give --topology FILE (or --to HOST:PORT for a single relay)");
    if (targets.empty() && edges.empty() && links.empty()) {
      return fail("nothing to relay: give --target REGION=HOST:PORT, --edge SITE=HOST:PORT or --link");
    }
    for (const std::string& t : targets) {
      std::string region, host;
      uint16_t port = 0;
      if (!SplitAssignment(t, &region, &host, &port)) return fail("--target: expected REGION=HOST:PORT, got '" + t + "'");
      if (!topo.IsRegion(region)) return fail("--target: '" + region + "' is not a region of " + topology_path);
      for (const wan::Place& site : topo.sites) add(site.name + "->" + region, *topo.Rtt(site.name, region), host, port);
    }
    for (const std::string& e : edges) {
      std::string site, host;
      uint16_t port = 0;
      if (!SplitAssignment(e, &site, &host, &port)) return fail("--edge: expected SITE=HOST:PORT, got '" + e + "'");
      if (!topo.IsSite(site)) return fail("--edge: '" + site + "' is not a site of " + topology_path);
      add(site + "->edge", topo.edge_rtt_ms, host, port);
    }
    for (const std::string& l : links) {
      std::string pair, host;
      uint16_t port = 0;
      const size_t comma = l.find(',');
      if (!SplitAssignment(l, &pair, &host, &port) || comma == std::string::npos || comma > pair.size()) {
        return fail("--link: expected FROM,TO=HOST:PORT, got '" + l + "'");
      }
      const std::string from = pair.substr(0, comma), to = pair.substr(comma + 1);
      auto rtt = topo.Rtt(from, to);
      if (!rtt) return fail("--link: " + topology_path + " gives no RTT between '" + from + "' and '" + to + "'");
      add(from + "->" + to, *rtt, host, port);
    }
  }

  // Signals are taken synchronously by this thread; block them before the io threads start.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  wan::RelayGroup group(static_cast<size_t>(io_threads));
  for (wan::RelayOptions& o : relays) {
    const std::string name = o.name;
    const std::string target = o.target_host + ":" + std::to_string(o.target_port);
    const double rtt = std::chrono::duration<double, std::milli>(o.link.rtt()).count();
    auto index = group.Add(std::move(o));
    if (!index.ok()) return fail(index.status().message());
    std::printf("relay %s listen %s:%u target %s rtt_ms %.1f\n", name.c_str(), listen_host.c_str(),
                group.Relay(*index).port(), target.c_str(), rtt);
  }
  std::printf("meridian wan: %zu relays ready\n", group.size());
  std::fflush(stdout);
  log::Info("wan relays ready", {{"relays", static_cast<long long>(group.size())}});
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  log::Info("wan stopping", {{"signal", static_cast<long long>(signal_number)}});
  group.Stop();
  return 0;
}

}  // namespace meridian::cli
