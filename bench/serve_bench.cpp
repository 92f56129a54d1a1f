// serve_bench: the region server under load, as JSON on stdout. For each model and each
// concurrency level, the same requests (greedy, token-id prompts, fixed max_tokens) run twice in
// one process: through the engine scheduler directly ("engine") and through the HTTP API of an
// in-process RegionServer with streaming completions ("http"). Each reports aggregate generated
// tokens/s, TTFT and inter-token latency p50/p99; "http_over_engine" is the ratio of their
// tokens/s (the cost of the HTTP path), "scaling_over_c1" the aggregate tokens/s over that at
// concurrency 1. The machine is shared and noisy: compare ratios, not absolute figures.
//
//   serve_bench [--model PATH]... [--concurrency 1,4,16,64] [--max-tokens 64] [--prompt-tokens 32]
//               [--requests-per-level N (default: max(4, 2 x concurrency))] [--threads N] [--repeat 1]
//
// --threads: engine threads for both paths (default: what `meridian serve` uses, all cores less two
// on machines of 8 or more). --repeat: runs per level and path; the best tokens/s of each is kept.
//
// Each --model is benchmarked in turn (default: the shipped model). A TinyLlama-shaped model:
//   meridian make-model --preset tinyllama --dtype q8_0 --out /tmp/tinyllama.gguf
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/log.h"
#include "engine/backend/backend.h"
#include "engine/model/model.h"
#include "engine/scheduler/scheduler.h"
#include "http/http_client.h"
#include "loadgen/summary.h"
#include "http/sse.h"
#include "server/region_server.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
namespace engine = meridian::engine;
namespace http = meridian::http;
namespace server = meridian::server;

struct Options {
  std::vector<std::string> models;
  std::vector<int> concurrency = {1, 4, 16, 64};
  int max_tokens = 64;
  int prompt_tokens = 32;
  int requests_per_level = 0;
  int threads = 0;
  int repeat = 1;
};

// Latencies of one request, in seconds.
struct RequestTiming {
  double ttft = -1;
  std::vector<double> itl;
  int tokens = 0;
  bool ok = false;
};

struct LevelResult {
  double wall_s = 0;
  std::vector<RequestTiming> requests;
};

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

json Summarize(const LevelResult& r) {
  std::vector<double> ttft, itl;
  int64_t tokens = 0;
  int errors = 0;
  for (const RequestTiming& t : r.requests) {
    if (!t.ok) ++errors;
    if (t.ttft >= 0) ttft.push_back(t.ttft);
    itl.insert(itl.end(), t.itl.begin(), t.itl.end());
    tokens += t.tokens;
  }
  return {{"requests", r.requests.size()},
          {"errors", errors},
          {"wall_s", r.wall_s},
          {"generated_tokens", tokens},
          {"tokens_per_s", r.wall_s > 0 ? static_cast<double>(tokens) / r.wall_s : 0.0},
          {"ttft_ms_p50", meridian::loadgen::Percentile(ttft, 50) * 1e3},
          {"ttft_ms_p99", meridian::loadgen::Percentile(ttft, 99) * 1e3},
          {"itl_ms_p50", meridian::loadgen::Percentile(itl, 50) * 1e3},
          {"itl_ms_p99", meridian::loadgen::Percentile(itl, 99) * 1e3}};
}

// Runs `n` requests keeping `c` in flight; `start(i, done)` launches request i and must call
// done() once when it finished (from any thread).
template <typename StartFn>
double ClosedLoop(int n, int c, StartFn start) {
  std::mutex mu;
  std::condition_variable cv;
  int next = 0, finished = 0, in_flight = 0;
  const auto t0 = Clock::now();
  std::unique_lock<std::mutex> lock(mu);
  while (finished < n) {
    while (in_flight < c && next < n) {
      const int i = next++;
      ++in_flight;
      lock.unlock();
      start(i, [&] {
        std::lock_guard<std::mutex> g(mu);
        --in_flight;
        ++finished;
        cv.notify_all();
      });
      lock.lock();
    }
    cv.wait(lock, [&] { return finished == n || (in_flight < c && next < n); });
  }
  return Seconds(Clock::now() - t0);
}

LevelResult RunEngine(engine::Scheduler& scheduler, const std::vector<std::vector<int32_t>>& prompts, int c,
                      int n, int max_tokens) {
  LevelResult result;
  result.requests.resize(static_cast<size_t>(n));
  struct State {
    Clock::time_point submitted, last;
  };
  std::vector<State> states(static_cast<size_t>(n));
  result.wall_s = ClosedLoop(n, c, [&](int i, std::function<void()> done) {
    RequestTiming& t = result.requests[static_cast<size_t>(i)];
    State& st = states[static_cast<size_t>(i)];
    engine::GenerationRequest req;
    req.prompt = prompts[static_cast<size_t>(i) % prompts.size()];
    req.sampling.temperature = 0;
    req.max_tokens = max_tokens;
    req.on_event = [&t, &st, done](const engine::GenerationEvent& ev) {
      const auto now = Clock::now();
      if (ev.completion_tokens > t.tokens) {
        if (t.tokens == 0) {
          t.ttft = Seconds(now - st.submitted);
        } else {
          t.itl.push_back(Seconds(now - st.last));
        }
        st.last = now;
        t.tokens = ev.completion_tokens;
      }
      if (ev.finish != engine::FinishReason::kNone) {
        t.ok = ev.finish == engine::FinishReason::kStop || ev.finish == engine::FinishReason::kLength;
        done();
      }
    };
    st.submitted = Clock::now();
    if (!scheduler.Submit(std::move(req)).ok()) done();
  });
  return result;
}

LevelResult RunHttp(http::HttpClient& client, const std::string& url,
                    const std::vector<std::vector<int32_t>>& prompts, int c, int n, int max_tokens) {
  LevelResult result;
  result.requests.resize(static_cast<size_t>(n));
  std::vector<std::string> bodies;
  for (const auto& p : prompts) {
    bodies.push_back(json{{"prompt", p},
                          {"max_tokens", max_tokens},
                          {"temperature", 0},
                          {"stream", true},
                          {"stream_options", {{"include_usage", true}}}}
                         .dump());
  }
  struct State {
    Clock::time_point started, last;
    std::unique_ptr<http::SseParser> parser;
    std::shared_ptr<http::ClientCall> call;
  };
  std::vector<State> states(static_cast<size_t>(n));
  std::mutex calls_mu;
  result.wall_s = ClosedLoop(n, c, [&](int i, std::function<void()> done) {
    RequestTiming& t = result.requests[static_cast<size_t>(i)];
    State& st = states[static_cast<size_t>(i)];
    st.parser = std::make_unique<http::SseParser>([&t, &st](const http::SseEvent& ev) {
      if (ev.data == "[DONE]") {
        t.ok = true;
        return;
      }
      const auto now = Clock::now();
      // The load generator shares the machine with the server: read the usage chunk as JSON and
      // only look at the others, so that the client's parsing does not count as server cost.
      if (ev.data.find("\"choices\":[]") != std::string::npos) {
        json j = json::parse(ev.data, nullptr, false);
        if (!j.is_discarded() && j.contains("usage") && j["usage"].is_object()) {
          t.tokens = j["usage"]["completion_tokens"].get<int>();
        }
        return;
      }
      if (ev.data.find("\"choices\":[{") == std::string::npos) return;
      if (t.ttft < 0) {
        t.ttft = Seconds(now - st.started);
      } else {
        t.itl.push_back(Seconds(now - st.last));
      }
      st.last = now;
    });
    http::ClientCallbacks cb;
    cb.on_body = [&st](std::string_view piece) { return st.parser->Feed(piece); };
    cb.on_complete = [done](const meridian::Status&) { done(); };
    st.started = Clock::now();
    auto call = client.Start(
        {"POST", url, {{"Content-Type", "application/json"}}, bodies[static_cast<size_t>(i) % bodies.size()]},
        std::move(cb));
    std::lock_guard<std::mutex> lock(calls_mu);
    st.call = std::move(call);
  });
  return result;
}

// Distinct prompts of `n_tokens` tokens from the model's own tokenizer.
std::vector<std::vector<int32_t>> MakePrompts(const engine::Model& model, int n_tokens) {
  static const char* kTexts[] = {
      "The committee met on Tuesday to discuss the new school building and the budget for the coming year.",
      "It was a long journey by train across the country, and the snow had not stopped for three days.",
      "The game ended late in the evening when the home team scored twice in the final minutes of play.",
      "In the small church on the hill the old bells rang every Sunday morning for as long as anyone knew.",
      "The government announced a plan to help the farmers of the state after a very dry summer season.",
      "She opened the letter slowly, read it twice, and then walked to the window without saying a word.",
      "Scientists at the university reported that the new method could measure the change more precisely.",
      "The city council voted to build a new bridge across the river to carry traffic from the north side.",
  };
  std::vector<std::vector<int32_t>> prompts;
  for (const char* text : kTexts) {
    std::string repeated;
    std::vector<int32_t> ids;
    while (static_cast<int>(ids.size()) < n_tokens) {
      repeated += std::string(text) + " ";
      auto r = model.tokenizer().Encode(repeated, true, false);
      if (!r.ok()) break;
      ids = std::move(*r);
    }
    ids.resize(std::min(ids.size(), static_cast<size_t>(n_tokens)));
    prompts.push_back(std::move(ids));
  }
  return prompts;
}

json BenchModel(const Options& o, const std::string& path) {
  const int max_c = *std::max_element(o.concurrency.begin(), o.concurrency.end());
  server::ServeOptions so;
  so.model_path = path;
  so.threads = o.threads > 0 ? o.threads : server::DefaultEngineThreads();  // the same in both paths
  so.parallel = max_c;
  so.queue = 4 * max_c + 16;
  so.max_batch_tokens = std::max(512, max_c + 1);
  so.kv_cache_tokens = static_cast<int64_t>(max_c) * (o.prompt_tokens + o.max_tokens + 16);
  so.request_timeout_s = 3600;
  so.http.io_threads = 2;

  auto model = engine::Model::Load(path);
  if (!model.ok()) return {{"model", path}, {"error", model.status().message()}};
  engine::BackendOptions bo;
  bo.n_threads = so.threads;
  bo.kv_cache_tokens = so.kv_cache_tokens;
  auto backend = engine::MakeCpuBackend(**model, bo);
  if (!backend.ok()) return {{"model", path}, {"error", backend.status().message()}};
  engine::SchedulerOptions sched_options{so.parallel, so.queue, so.max_batch_tokens};
  engine::Scheduler scheduler(**model, **backend, sched_options);
  scheduler.Start();
  const auto prompts = MakePrompts(**model, o.prompt_tokens);

  server::RegionServer region(so);
  if (auto s = region.Start(); !s.ok()) return {{"model", path}, {"error", s.message()}};
  if (auto s = region.LoadModel(); !s.ok()) return {{"model", path}, {"error", s.message()}};
  const std::string url = "http://127.0.0.1:" + std::to_string(region.port()) + "/v1/completions";
  http::HttpClientOptions co;
  co.max_idle_per_host = static_cast<size_t>(max_c) + 8;
  co.io_threads = 1;
  // Stream headers come with the first token, after the queue wait: wait as long as the server may.
  co.first_byte_timeout = std::chrono::milliseconds(static_cast<int64_t>(so.request_timeout_s * 1000));
  co.read_idle_timeout = co.first_byte_timeout;
  http::HttpClient client(co);

  // Warm-up: page the weights in and settle the thread pools.
  RunEngine(scheduler, prompts, 1, 1, 8);
  RunHttp(client, url, prompts, 1, 1, 8);

  json levels = json::array();
  double engine_c1 = 0, http_c1 = 0;
  for (int c : o.concurrency) {
    const int n = o.requests_per_level > 0 ? o.requests_per_level : std::max(4, 2 * c);
    json best_engine, best_http;
    for (int rep = 0; rep < std::max(1, o.repeat); ++rep) {
      json e = Summarize(RunEngine(scheduler, prompts, c, n, o.max_tokens));
      json h = Summarize(RunHttp(client, url, prompts, c, n, o.max_tokens));
      if (best_engine.is_null() || e["tokens_per_s"] > best_engine["tokens_per_s"]) best_engine = e;
      if (best_http.is_null() || h["tokens_per_s"] > best_http["tokens_per_s"]) best_http = h;
    }
    const double et = best_engine["tokens_per_s"], ht = best_http["tokens_per_s"];
    if (c == 1) {
      engine_c1 = et;
      http_c1 = ht;
    }
    json level = {{"concurrency", c},
                  {"engine", best_engine},
                  {"http", best_http},
                  {"http_over_engine", et > 0 ? ht / et : 0.0}};
    if (engine_c1 > 0) level["engine_scaling_over_c1"] = et / engine_c1;
    if (http_c1 > 0) level["http_scaling_over_c1"] = ht / http_c1;
    levels.push_back(level);
    std::fprintf(stderr, "serve_bench: %s c=%d engine %s\nserve_bench: %s c=%d http %s\n", path.c_str(), c,
                 best_engine.dump().c_str(), path.c_str(), c, best_http.dump().c_str());
  }
  region.Shutdown(std::chrono::milliseconds(0));
  region.Wait();
  scheduler.Stop();
  return {{"model", path},
          {"dtype", engine::DTypeName((*model)->main_dtype())},
          {"weights_mib", static_cast<double>((*model)->WeightBytes()) / (1 << 20)},
          {"context_length", (*model)->config().context_length},
          {"parallel", so.parallel},
          {"engine_threads", so.threads},
          {"levels", levels}};
}

// $MERIDIAN_MODEL, else models/meridian-brown-q8_0.gguf in a folder above the executable.
std::string ShippedModel() {
  if (const char* env = std::getenv("MERIDIAN_MODEL"); env != nullptr && *env != '\0') return env;
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  for (auto dir = exe.parent_path(); !ec && !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
    const auto candidate = dir / "models/meridian-brown-q8_0.gguf";
    if (std::filesystem::exists(candidate, ec)) return candidate.string();
  }
  return "models/meridian-brown-q8_0.gguf";
}

std::vector<int> ParseList(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::max(1, std::atoi(item.c_str())));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "serve_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--model") {
      o.models.push_back(value());
    } else if (a == "--concurrency") {
      o.concurrency = ParseList(value());
    } else if (a == "--max-tokens") {
      o.max_tokens = std::max(1, std::atoi(value().c_str()));
    } else if (a == "--prompt-tokens") {
      o.prompt_tokens = std::max(1, std::atoi(value().c_str()));
    } else if (a == "--requests-per-level") {
      o.requests_per_level = std::atoi(value().c_str());
    } else if (a == "--threads") {
      o.threads = std::atoi(value().c_str());
    } else if (a == "--repeat") {
      o.repeat = std::atoi(value().c_str());
    } else {
      std::fprintf(stderr,
                   "usage: serve_bench [--model PATH]... [--concurrency 1,4,16,64] [--max-tokens N] "
                   "[--prompt-tokens N] [--requests-per-level N] [--threads N] [--repeat N]\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (o.concurrency.empty()) o.concurrency = {1};
  if (o.models.empty()) o.models.push_back(ShippedModel());
  meridian::log::SetLevel(meridian::log::Level::kWarn);
  json models = json::array();
  for (const std::string& m : o.models) models.push_back(BenchModel(o, m));
  json out = {{"bench", "serve"},
              {"hardware_threads", std::thread::hardware_concurrency()},
              {"max_tokens", o.max_tokens},
              {"prompt_tokens", o.prompt_tokens},
              {"models", models}};
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
