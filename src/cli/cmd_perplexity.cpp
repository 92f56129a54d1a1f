// `meridian perplexity`: per-token perplexity over non-overlapping windows of --ctx tokens,
// scoring the second half of each window (llama.cpp's perplexity convention; docs/perplexity.md).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/flags.h"
#include "core/log.h"
#include "engine/backend/backend.h"
#include "engine/runtime/single_sequence.h"

namespace meridian::cli {

int RunPerplexity(int argc, char** argv) {
  std::string model_path = DefaultModelPath();
  std::string file;
  std::string quantize;
  int32_t ctx = 512;
  int32_t threads = 0;
  int32_t tensor_parallel = 1;
  int32_t max_chunks = 0;
  bool json = false;
  FlagSet flags("meridian perplexity --file TEXT [flags]");
  flags.String("model", &model_path, "GGUF file or Hugging Face model directory");
  flags.String("file", &file, "UTF-8 text file to score");
  flags.Int32("ctx", &ctx, "window length in tokens");
  flags.Int32("chunks", &max_chunks, "score at most this many windows (0: all)");
  flags.Int32("threads", &threads, "CPU threads (0: all cores)");
  flags.Int32("tensor-parallel", &tensor_parallel, "ranks splitting every layer (docs/tensor-parallel.md)");
  flags.String("quantize", &quantize, "quantize weights at load time (q8_0)");
  flags.Bool("json", &json, "print the result as JSON");
  BackendFlags backend_flags;
  AddBackendFlags(flags, &backend_flags);
  if (int rc = HandleFlags(flags, argc, argv); rc >= 0) return rc;
  if (file.empty()) {
    std::fprintf(stderr, "meridian perplexity: --file is required\n");
    return 2;
  }
  if (ctx < 4) {
    std::fprintf(stderr, "meridian perplexity: --ctx must be at least 4\n");
    return 2;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "meridian perplexity: cannot read '%s'\n", file.c_str());
    return 1;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();

  auto model = LoadModelOrExplain(model_path, quantize);
  if (!model) return 1;
  if (ctx > model->config().context_length) {
    std::fprintf(stderr, "meridian perplexity: --ctx %d exceeds the model's context length %d\n", ctx,
                 model->config().context_length);
    return 2;
  }
  const auto& tok = model->tokenizer();
  auto ids = tok.Encode(text, /*add_bos=*/true, /*parse_special=*/false);
  if (!ids.ok()) {
    std::fprintf(stderr, "meridian perplexity: %s: %s\n", file.c_str(), ids.status().message().c_str());
    return 1;
  }
  const std::vector<int32_t>& tokens = *ids;
  int64_t n_chunks = static_cast<int64_t>(tokens.size()) / ctx;
  if (max_chunks > 0) n_chunks = std::min<int64_t>(n_chunks, max_chunks);
  if (n_chunks == 0) {
    std::fprintf(stderr, "meridian perplexity: the text has %zu tokens, fewer than one window of %d\n", tokens.size(),
                 ctx);
    return 1;
  }

  engine::BackendOptions bo;
  bo.n_threads = threads;
  bo.tensor_parallel = tensor_parallel;
  bo.kv_cache_tokens = ctx;
  if (!ApplyBackendFlags(backend_flags, &bo, "meridian perplexity")) return 2;
  auto backend = engine::MakeBackend(*model, bo);
  if (!backend.ok()) {
    std::fprintf(stderr, "meridian perplexity: %s\n", backend.status().message().c_str());
    return 1;
  }
  engine::KvBlockAllocator blocks((*backend)->kv_blocks_total(), (*backend)->kv_block_tokens());
  const int32_t first = ctx / 2;
  double nll = 0.0;
  int64_t count = 0;
  const double t0 = NowSeconds();
  std::vector<int32_t> window(static_cast<size_t>(ctx));
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::copy_n(tokens.begin() + c * ctx, ctx, window.begin());
    if (tok.bos_id() >= 0 && tok.vocab().add_bos) window[0] = tok.bos_id();
    Status s = engine::ScoreTokens(*model, **backend, blocks, window, ctx,
                                   [&](int32_t pos, std::span<const float> logits) {
                                     if (pos < first || pos >= ctx - 1) return;
                                     float max_logit = logits[0];
                                     for (float l : logits) max_logit = std::max(max_logit, l);
                                     double sum = 0.0;
                                     for (float l : logits) sum += std::exp(static_cast<double>(l - max_logit));
                                     const int32_t next = window[static_cast<size_t>(pos) + 1];
                                     nll += std::log(sum) - (logits[static_cast<size_t>(next)] - max_logit);
                                     ++count;
                                   });
    if (!s.ok()) {
      std::fprintf(stderr, "meridian perplexity: %s\n", s.message().c_str());
      return 1;
    }
    if (!json) std::fprintf(stderr, "[%lld/%lld] running perplexity %.4f\n", static_cast<long long>(c + 1),
                            static_cast<long long>(n_chunks), std::exp(nll / static_cast<double>(count)));
  }
  const double ppl = std::exp(nll / static_cast<double>(count));
  const double seconds = NowSeconds() - t0;
  if (json) {
    std::string out = "{\"model\":";
    log::AppendJsonString(out, model_path);
    out += ",\"file\":";
    log::AppendJsonString(out, file);
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  ",\"ctx\":%d,\"chunks\":%lld,\"scored_tokens\":%lld,\"text_tokens\":%zu,\"perplexity\":%.6f,"
                  "\"mean_nll\":%.6f,\"seconds\":%.2f}",
                  ctx, static_cast<long long>(n_chunks), static_cast<long long>(count), tokens.size(), ppl,
                  nll / static_cast<double>(count), seconds);
    out += buf;
    std::printf("%s\n", out.c_str());
  } else {
    std::printf("perplexity: %.4f (%lld windows of %d tokens, %lld tokens scored, %.1f s)\n", ppl,
                static_cast<long long>(n_chunks), ctx, static_cast<long long>(count), seconds);
  }
  return 0;
}

}  // namespace meridian::cli
