// `meridian bench`: the load generator. Sends an OpenAI workload to a URL (closed or open loop,
// warm or cold connections), then prints a table of TTFT, inter-token and end-to-end latency,
// throughput, errors by kind and goodput, and writes the same as JSON. docs/lab.md documents it.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "core/flags.h"
#include "core/log.h"
#include "loadgen/report.h"
#include "loadgen/runner.h"

namespace meridian::cli {

int RunBench(int argc, char** argv) {
  loadgen::RunOptions o;
  std::string api = "chat";
  std::string prompt_tokens = "32", output_tokens = "32", prompts_file, slo_text, json_path, site;
  bool no_stream = false, no_progress = false, quiet = false;
  int64_t seed = 1;
  int32_t concurrency = 0;
  double temperature = 0;
  std::string log_level = "warn";

  FlagSet flags("meridian bench --url http://HOST:PORT [flags]");
  flags.String("url", &o.base_url, "server or gateway base URL, e.g. http://127.0.0.1:8080");
  flags.String("api", &api, "chat (/v1/chat/completions) or completions (/v1/completions)");
  flags.Bool("no-stream", &no_stream, "ask for whole responses instead of SSE streams (TTFT = end-to-end)");
  flags.String("model", &o.workload.model, "the model field to send (default: none, the server's own)");
  flags.String("api-key", &o.call.api_key, "bearer token to send");
  flags.String("prompt-tokens", &prompt_tokens, "prompt length in words (~tokens): N or MIN:MAX (uniform)");
  flags.String("output-tokens", &output_tokens, "max_tokens per request: N or MIN:MAX (uniform)");
  flags.String("prompts-file", &prompts_file, "prompts, one per line (replaces --prompt-tokens)");
  flags.Double("temperature", &temperature, "sampling temperature sent with every request");
  flags.Int32("concurrency", &concurrency, "closed loop: requests in flight (default 1); with --rate: a cap (default 256)");
  flags.Double("rate", &o.rate, "open loop: Poisson arrivals per second (0: closed loop)");
  flags.Int("requests", &o.requests, "requests to send (0: no count bound; then --duration is needed)");
  flags.Double("duration", &o.duration_s, "stop starting requests after this many seconds (0: no time bound)");
  flags.Int("warmup", &o.warmup, "requests sent first and not recorded (warm connections, caches)");
  flags.Bool("cold", &o.call.cold, "a new connection per request (each pays its handshake); default keep-alive");
  flags.Double("timeout", &o.request_timeout_s, "seconds a request may wait for its first byte, or between bytes");
  flags.String("slo", &slo_text, "goodput objectives, e.g. ttft=500ms,itl=100ms[,e2e=5s]");
  flags.String("site", &site, "label the results with the user site they were measured from");
  flags.String("json", &json_path, "write the results as JSON to this file ('-': stdout, instead of the table)");
  flags.Int("seed", &seed, "seed of prompts and arrivals");
  flags.Bool("no-progress", &no_progress, "no progress bar even on a terminal");
  flags.Bool("quiet", &quiet, "no table on stdout");
  flags.String("log-level", &log_level, "debug, info, warn or error");
  if (int rc = HandleFlags(flags, argc, argv); rc >= 0) return rc;

  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "meridian bench: %s\n", message.c_str());
    return 2;
  };
  log::Level level;
  if (!log::ParseLevel(log_level, &level)) return fail("--log-level must be debug, info, warn or error");
  log::SetLevel(level);
  if (o.base_url.empty()) return fail("--url is required (e.g. --url http://127.0.0.1:8080)");
  if (api == "chat") {
    o.workload.api = loadgen::Api::kChat;
  } else if (api == "completions") {
    o.workload.api = loadgen::Api::kCompletions;
  } else {
    return fail("--api must be chat or completions");
  }
  o.workload.stream = !no_stream;
  o.workload.temperature = temperature;
  o.workload.seed = static_cast<uint64_t>(seed);
  o.seed = static_cast<uint64_t>(seed);
  if (!(temperature >= 0 && temperature <= 2)) return fail("--temperature must be between 0 and 2");
  if (!(o.request_timeout_s > 0 && o.request_timeout_s < 1e6)) return fail("--timeout must be a positive number");
  if (!(o.duration_s >= 0 && o.duration_s < 1e7)) return fail("--duration must be a non-negative number");
  if (concurrency < 0 || concurrency > 100000) return fail("--concurrency must be between 1 and 100000");
  o.concurrency = concurrency > 0 ? concurrency : (o.rate > 0 ? 256 : 1);
  if (!flags.WasSet("requests") && o.duration_s > 0) o.requests = 0;
  auto prompt_range = loadgen::ParseLengthRange(prompt_tokens, "--prompt-tokens", 1 << 20);
  if (!prompt_range.ok()) return fail(prompt_range.status().message());
  o.workload.prompt_words = *prompt_range;
  auto output_range = loadgen::ParseLengthRange(output_tokens, "--output-tokens", 1 << 20);
  if (!output_range.ok()) return fail(output_range.status().message());
  o.workload.output_tokens = *output_range;
  if (!prompts_file.empty()) {
    auto prompts = loadgen::LoadPrompts(prompts_file);
    if (!prompts.ok()) return fail(prompts.status().message());
    o.workload.prompts = std::move(*prompts);
  }
  auto slo = loadgen::ParseSlo(slo_text);
  if (!slo.ok()) return fail(slo.status().message());

  const bool tty = isatty(STDOUT_FILENO) && !no_progress && json_path != "-";
  auto progress = [&](const loadgen::RunProgress& p) {
    double fraction = 0;
    if (p.target > 0) fraction = static_cast<double>(p.finished) / static_cast<double>(p.target);
    if (p.duration_s > 0) fraction = std::max(fraction, std::min(1.0, p.elapsed_s / p.duration_s));
    const int width = 30, filled = static_cast<int>(fraction * width);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(width, '.');
    std::printf("\r[%s] %lld done, %lld in flight, %lld failed, %.1f s ", bar.c_str(),
                static_cast<long long>(p.finished), static_cast<long long>(p.started - p.finished),
                static_cast<long long>(p.failed), p.elapsed_s);
    std::fflush(stdout);
  };
  auto result = tty ? loadgen::Run(o, progress) : loadgen::Run(o);
  if (!result.ok()) return fail(result.status().message());
  if (tty) std::printf("\r%80s\r", "");

  loadgen::RunLabel label;
  label.site = site;
  label.url = o.base_url;
  label.api = api;
  label.stream = o.workload.stream;
  label.cold = o.call.cold;
  label.mode = o.rate > 0 ? "open" : "closed";
  label.concurrency = o.concurrency;
  label.rate = o.rate;
  const auto summary = loadgen::Summary::Of(result->records, result->duration_s, *slo);
  const std::string json = loadgen::FormatJson(label, summary);
  if (json_path == "-") {
    std::printf("%s\n", json.c_str());
  } else {
    if (!quiet) std::printf("%s", loadgen::FormatTable(label, summary).c_str());
    if (!json_path.empty()) {
      std::ofstream out(json_path);
      out << json << "\n";
      if (!out) return fail("cannot write " + json_path);
    }
  }
  // Exit 1 when nothing succeeded: a script notices a run that measured nothing.
  return summary.requests > 0 && summary.ok == 0 ? 1 : 0;
}

}  // namespace meridian::cli
