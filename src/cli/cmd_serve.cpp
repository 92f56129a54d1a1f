// `meridian serve`: the region server (OpenAI-compatible HTTP API over the engine scheduler).
// Prints "listening on http://HOST:PORT" on stdout once bound (port 0 picks a free port), then
// loads the model; logs are JSON lines on stderr. docs/server.md documents every flag.
#include <cstdio>
#include <string>

#include "cli/cli_common.h"
#include "core/flags.h"
#include "core/log.h"
#include "server/region_server.h"

namespace meridian::cli {

int RunServe(int argc, char** argv) {
  server::ServeOptions o;
  o.model_path = DefaultModelPath();
  int32_t port = 0;
  int64_t io_threads = static_cast<int64_t>(o.http.io_threads);
  int64_t max_header_bytes = static_cast<int64_t>(o.http.max_header_bytes);
  int64_t max_body_bytes = static_cast<int64_t>(o.http.max_body_bytes);
  int64_t max_connections = static_cast<int64_t>(o.http.max_connections);
  double header_timeout_s = o.http.header_read_timeout.count() / 1000.0;
  double body_timeout_s = o.http.body_read_timeout.count() / 1000.0;
  double idle_timeout_s = o.http.idle_timeout.count() / 1000.0;
  double write_timeout_s = o.http.write_timeout.count() / 1000.0;
  std::string log_level = "info";

  FlagSet flags("meridian serve [flags]");
  flags.String("model", &o.model_path, "GGUF file or Hugging Face model directory");
  flags.String("model-name", &o.model_name, "model id clients send as `model` (default: the file name)");
  flags.String("chat-template", &o.chat_template,
               "chat template: llama2, llama3, chatml or a Jinja file (default: the model's own)");
  flags.String("quantize", &o.quantize, "quantize F32/F16 weights at load time (q8_0)");
  flags.String("host", &o.http.host, "address to listen on");
  flags.Int32("port", &port, "port to listen on (0: a free port, printed on stdout)");
  flags.Int32("threads", &o.threads, "engine CPU threads (0: all cores, less two with 8 or more)");
  flags.Int32("tensor-parallel", &o.tensor_parallel, "ranks splitting every layer (docs/tensor-parallel.md)");
  flags.String("backend", &o.backend, "cpu or cuda (an NVIDIA GPU; see docs/cuda.md)");
  flags.Double("gpu-memory-fraction", &o.gpu_memory_fraction, "cuda: share of GPU memory for weights, KV and scratch");
  flags.Int("io-threads", &io_threads, "threads for sockets and request handlers");
  flags.Int32("parallel", &o.parallel, "sequences decoding at once (continuous batching)");
  flags.Int32("queue", &o.queue, "requests that may wait beyond the free slots (0: only what can start at once); past it: 429 with Retry-After");
  flags.Int32("max-batch-tokens", &o.max_batch_tokens, "tokens per engine step (decode + prefill chunks)");
  flags.Int("kv-cache-tokens", &o.kv_cache_tokens,
            "KV cache capacity in tokens (0: parallel x context length)");
  flags.Int32("kv-block-tokens", &o.kv_block_tokens, "tokens per KV cache block");
  flags.Int32("default-max-tokens", &o.default_max_tokens,
              "max_tokens for requests that set none (0: the rest of the context)");
  flags.Double("request-timeout", &o.request_timeout_s,
               "deadline of every request in seconds, from its arrival");
  flags.Double("header-timeout", &header_timeout_s,
               "seconds to receive a request header (slow clients get 408)");
  flags.Double("body-timeout", &body_timeout_s, "seconds to receive a request body after its header");
  flags.Double("idle-timeout", &idle_timeout_s, "seconds a kept-alive connection may stay idle");
  flags.Double("write-timeout", &write_timeout_s, "seconds one write to a client may take");
  flags.Int("max-header-bytes", &max_header_bytes, "request line + headers; past it: 431");
  flags.Int("max-body-bytes", &max_body_bytes, "request body; past it: 413");
  flags.Int("max-connections", &max_connections, "open connections; past it: 503");
  flags.Double("shutdown-grace", &o.shutdown_grace_s, "seconds in-flight requests may finish after SIGTERM");
  flags.String("api-key-file", &o.api_key_file,
               "file of API keys, one per line (default: no authentication)");
  flags.Bool("access-log", &o.access_log, "also write the HTTP layer's access line per request");
  flags.String("tls-cert", &o.http.tls_cert_file, "PEM certificate chain: serve HTTPS (TLS 1.2+, 1.3 preferred)");
  flags.String("tls-key", &o.http.tls_key_file, "PEM private key of --tls-cert");
  flags.Bool("http2", &o.http.http2, "HTTP/2: h2 over TLS (ALPN) and h2c with prior knowledge");
  flags.String("log-level", &log_level, "debug, info, warn or error");
  if (int rc = HandleFlags(flags, argc, argv); rc >= 0) return rc;

  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "meridian serve: %s\n", message.c_str());
    return 2;
  };
  log::Level level;
  if (!log::ParseLevel(log_level, &level)) return fail("--log-level must be debug, info, warn or error");
  log::SetLevel(level);
  if (port < 0 || port > 65535) return fail("--port must be between 0 and 65535");
  if (io_threads < 1 || io_threads > 256) return fail("--io-threads must be between 1 and 256");
  if (max_header_bytes < 1024) return fail("--max-header-bytes must be at least 1024");
  if (max_body_bytes < 1024) return fail("--max-body-bytes must be at least 1024");
  if (max_connections < 1) return fail("--max-connections must be at least 1");
  for (auto [name, value] : {std::pair{"--request-timeout", o.request_timeout_s},
                             {"--header-timeout", header_timeout_s},
                             {"--body-timeout", body_timeout_s},
                             {"--idle-timeout", idle_timeout_s},
                             {"--write-timeout", write_timeout_s}}) {
    if (!(value > 0 && value < 1e7)) return fail(std::string(name) + " must be a positive number of seconds");
  }
  if (!(o.shutdown_grace_s >= 0 && o.shutdown_grace_s < 1e7))
    return fail("--shutdown-grace must be >= 0 seconds");
  auto ms = [](double s) { return std::chrono::milliseconds(static_cast<int64_t>(s * 1000.0 + 0.5)); };
  o.http.port = static_cast<uint16_t>(port);
  o.http.io_threads = static_cast<size_t>(io_threads);
  o.http.max_header_bytes = static_cast<size_t>(max_header_bytes);
  o.http.max_body_bytes = static_cast<size_t>(max_body_bytes);
  o.http.max_connections = static_cast<size_t>(max_connections);
  o.http.header_read_timeout = ms(header_timeout_s);
  o.http.body_read_timeout = ms(body_timeout_s);
  o.http.idle_timeout = ms(idle_timeout_s);
  o.http.write_timeout = ms(write_timeout_s);

  if (Status s = o.Validate(); !s.ok()) return fail(s.message());

  const std::string host = o.http.host;
  const char* scheme = o.http.tls_cert_file.empty() ? "http" : "https";
  server::RegionServer server(std::move(o));
  if (Status s = server.Start(); !s.ok()) {
    std::fprintf(stderr, "meridian serve: %s\n", s.message().c_str());
    return 1;
  }
  const bool ipv6 = host.find(':') != std::string::npos;
  std::printf("meridian serve: listening on %s://%s%s%s:%u\n", scheme, ipv6 ? "[" : "", host.c_str(),
              ipv6 ? "]" : "", static_cast<unsigned>(server.port()));
  std::fflush(stdout);
  if (Status s = server.InstallSignalHandlers(); !s.ok()) {
    std::fprintf(stderr, "meridian serve: %s\n", s.message().c_str());
    return 1;
  }
  if (Status s = server.LoadModel(); !s.ok()) {
    std::fprintf(stderr, "meridian serve: %s\n", s.message().c_str());
    server.Shutdown(std::chrono::milliseconds(0));
    server.Wait();
    return 1;
  }
  server.Wait();
  return 0;
}

}  // namespace meridian::cli
