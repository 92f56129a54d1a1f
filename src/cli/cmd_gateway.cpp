// `meridian gateway`: the global gateway in front of the regions' `meridian serve` nodes.
// Prints "listening on http://HOST:PORT" on stdout per listener once bound, then serves until
// SIGTERM/SIGINT; SIGHUP reloads the config file. docs/gateway.md documents the config file.
#include <cstdio>
#include <string>

#include "cli/cli_common.h"
#include "core/flags.h"
#include "core/log.h"
#include "gateway/gateway.h"

namespace meridian::cli {

int RunGateway(int argc, char** argv) {
  std::string config_path;
  std::string log_level;
  double shutdown_grace_s = 30;
  bool check_only = false;
  FlagSet flags("meridian gateway --config FILE [flags]");
  flags.String("config", &config_path, "the gateway config file (TOML; see docs/gateway.md)");
  flags.String("log-level", &log_level, "debug, info, warn or error (default: the config's log_level)");
  flags.Double("shutdown-grace", &shutdown_grace_s, "seconds in-flight requests may finish after SIGTERM");
  flags.Bool("check", &check_only, "only check the config file and exit (0: valid)");
  if (int rc = HandleFlags(flags, argc, argv); rc >= 0) return rc;

  auto fail = [](const std::string& message, int rc) {
    std::fprintf(stderr, "meridian gateway: %s\n", message.c_str());
    return rc;
  };
  if (config_path.empty()) return fail("--config FILE is required (see configs/gateway.example.toml)", 2);
  if (!(shutdown_grace_s >= 0 && shutdown_grace_s < 1e7)) return fail("--shutdown-grace must be >= 0", 2);
  auto config = gateway::LoadGatewayConfig(config_path);
  if (!config.ok()) return fail(config.status().message(), 2);
  log::Level level;
  const std::string level_name = log_level.empty() ? config->log_level : log_level;
  if (!log::ParseLevel(level_name, &level)) return fail("--log-level must be debug, info, warn or error", 2);
  log::SetLevel(level);

  std::vector<gateway::ListenerConfig> listeners = config->listeners;
  auto gw = gateway::Gateway::Create(std::move(config).value());
  if (!gw.ok()) return fail(gw.status().message(), 2);
  if (check_only) {
    std::printf("meridian gateway: %s is valid\n", config_path.c_str());
    return 0;
  }
  if (Status s = (*gw)->Start(); !s.ok()) return fail(s.message(), 1);
  std::vector<uint16_t> ports = (*gw)->ports();
  for (size_t i = 0; i < ports.size(); ++i) {
    const std::string& host = listeners[i].host;
    const bool ipv6 = host.find(':') != std::string::npos;
    std::printf("meridian gateway: listening on %s://%s%s%s:%u\n", listeners[i].tls_cert.empty() ? "http" : "https",
                ipv6 ? "[" : "", host.c_str(), ipv6 ? "]" : "", static_cast<unsigned>(ports[i]));
  }
  std::fflush(stdout);
  const auto grace = std::chrono::milliseconds(static_cast<int64_t>(shutdown_grace_s * 1000));
  if (Status s = (*gw)->InstallSignalHandlers(grace, config_path); !s.ok()) return fail(s.message(), 1);
  (*gw)->Wait();
  log::Info("gateway stopped", {});
  return 0;
}

}  // namespace meridian::cli
