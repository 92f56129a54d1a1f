// `meridian bench-engine`: engine throughput (decode, prefill, batched decode) against the
// machine's memory read bandwidth measured in the same run; JSON with --json.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/flags.h"
#include "engine/backend/backend.h"
#include "engine/backend/cpu/kernels/kernels.h"
#include "engine/kv/kv_block_allocator.h"

namespace meridian::cli {
namespace {

double ResidentMiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0.0;
}

int32_t Argmax(const float* x, int32_t n) { return static_cast<int32_t>(std::max_element(x, x + n) - x); }

// Deterministic prompt ids that avoid the special tokens at the start of the vocabulary.
std::vector<int32_t> PromptIds(int32_t n, int32_t n_vocab, int32_t salt) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  uint64_t s = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(salt + 1);
  for (auto& id : ids) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    id = 3 + static_cast<int32_t>((s >> 33) % static_cast<uint64_t>(std::max(1, n_vocab - 3)));
  }
  return ids;
}

struct Sequence {
  std::vector<int32_t> tokens;
  std::vector<int32_t> blocks;
  int32_t n_past = 0;
};

// Prefills one sequence in a single step; returns seconds.
Result<double> Prefill(engine::Backend& backend, engine::KvBlockAllocator& alloc, Sequence& seq,
                       std::vector<float>& logits) {
  MERIDIAN_RETURN_IF_ERROR(alloc.Reserve(seq.blocks, static_cast<int64_t>(seq.tokens.size()) + 256));
  engine::SequenceStep step;
  step.tokens = seq.tokens;
  step.n_past = 0;
  step.kv_blocks = seq.blocks;
  const double t0 = NowSeconds();
  MERIDIAN_RETURN_IF_ERROR(backend.Forward({&step, 1}, logits.data()));
  seq.n_past = static_cast<int32_t>(seq.tokens.size());
  return NowSeconds() - t0;
}

// Decodes `steps` tokens for every sequence together (greedy); returns seconds.
Result<double> DecodeTogether(engine::Backend& backend, std::vector<Sequence>& seqs, int32_t steps, int32_t n_vocab,
                              std::vector<float>& logits) {
  std::vector<int32_t> next(seqs.size());
  for (size_t i = 0; i < seqs.size(); ++i) next[i] = seqs[i].tokens.back();
  std::vector<engine::SequenceStep> batch(seqs.size());
  const double t0 = NowSeconds();
  for (int32_t s = 0; s < steps; ++s) {
    for (size_t i = 0; i < seqs.size(); ++i) {
      batch[i].tokens = {&next[i], 1};
      batch[i].n_past = seqs[i].n_past;
      batch[i].kv_blocks = seqs[i].blocks;
      batch[i].logits = engine::LogitsMode::kLast;
    }
    MERIDIAN_RETURN_IF_ERROR(backend.Forward(batch, logits.data()));
    for (size_t i = 0; i < seqs.size(); ++i) {
      next[i] = Argmax(logits.data() + i * static_cast<size_t>(n_vocab), n_vocab);
      ++seqs[i].n_past;
    }
  }
  return NowSeconds() - t0;
}

}  // namespace

int RunBenchEngine(int argc, char** argv) {
  std::string model_path = DefaultModelPath();
  std::string quantize;
  int32_t threads = 0;
  int32_t tensor_parallel = 1;
  int32_t decode_steps = 64;
  int32_t repeats = 3;
  bool json = false;
  FlagSet flags("meridian bench-engine [flags]");
  flags.String("model", &model_path, "GGUF file or Hugging Face model directory");
  flags.String("quantize", &quantize, "quantize weights at load time (q8_0)");
  flags.Int32("threads", &threads, "CPU threads (0: all cores)");
  flags.Int32("tensor-parallel", &tensor_parallel, "ranks splitting every layer (docs/tensor-parallel.md)");
  flags.Int32("decode-steps", &decode_steps, "tokens decoded per measurement");
  flags.Int32("repeats", &repeats, "measurements per figure (the best is reported)");
  flags.Bool("json", &json, "print JSON");
  std::string batch_list;
  int32_t batch_prompt = 512, batch_new = 128;
  flags.String("batches", &batch_list, "also measure these sequence counts together, e.g. 16,64 (each "
               "--batch-prompt tokens of prompt, then --batch-new tokens decoded together)");
  flags.Int32("batch-prompt", &batch_prompt, "prompt tokens per sequence for --batches");
  flags.Int32("batch-new", &batch_new, "tokens decoded per sequence for --batches");
  BackendFlags backend_flags;
  AddBackendFlags(flags, &backend_flags);
  if (int rc = HandleFlags(flags, argc, argv); rc >= 0) return rc;
  std::vector<int32_t> batches;
  for (size_t at = 0; at < batch_list.size();) {
    size_t comma = batch_list.find(',', at);
    if (comma == std::string::npos) comma = batch_list.size();
    const int32_t b = std::atoi(batch_list.substr(at, comma - at).c_str());
    if (b < 1 || b > 4096) {
      std::fprintf(stderr, "meridian bench-engine: --batches: bad count in '%s'\n", batch_list.c_str());
      return 2;
    }
    batches.push_back(b);
    at = comma + 1;
  }
  if (decode_steps < 1 || repeats < 1) {
    std::fprintf(stderr, "meridian bench-engine: --decode-steps and --repeats must be positive\n");
    return 2;
  }

  const double rss_before = ResidentMiB();
  auto model = LoadModelOrExplain(model_path, quantize);
  if (!model) return 1;
  const engine::LlamaConfig& c = model->config();
  engine::BackendOptions bo;
  bo.n_threads = threads;
  bo.tensor_parallel = tensor_parallel;
  const int32_t kBatch = 8;
  bo.kv_cache_tokens = std::min<int64_t>(c.context_length, 1024) * kBatch + 1024;
  const int32_t max_batch = batches.empty() ? 0 : *std::max_element(batches.begin(), batches.end());
  bo.kv_cache_tokens = std::max<int64_t>(bo.kv_cache_tokens, int64_t{max_batch} * (batch_prompt + batch_new + 272));
  if (!ApplyBackendFlags(backend_flags, &bo, "meridian bench-engine")) return 2;
  auto backend_or = engine::MakeBackend(*model, bo);
  if (!backend_or.ok()) {
    std::fprintf(stderr, "meridian bench-engine: %s\n", backend_or.status().message().c_str());
    return 1;
  }
  engine::Backend& backend = **backend_or;
  // Touch every weight page once so that the load figure counts the whole model resident.
  engine::KvBlockAllocator alloc(backend.kv_blocks_total(), backend.kv_block_tokens());
  std::vector<float> logits(static_cast<size_t>(c.n_vocab) * std::max(kBatch, max_batch));
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "meridian bench-engine: %s\n", s.message().c_str());
    return 1;
  };

  // Warm-up: one short generation faults in every weight page.
  {
    Sequence warm{PromptIds(8, c.n_vocab, 99), {}, 0};
    auto t = Prefill(backend, alloc, warm, logits);
    if (!t.ok()) return fail(t.status());
    std::vector<Sequence> one{warm};
    auto d = DecodeTogether(backend, one, 2, c.n_vocab, logits);
    if (!d.ok()) return fail(d.status());
    alloc.Release(one[0].blocks);
  }
  const double rss_loaded = ResidentMiB();

  engine::cpu::ThreadPool bw_pool(threads > 0 ? threads : static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
  double bandwidth = 0.0;
  if (bo.kind == engine::BackendKind::kCuda) {
    auto gpu_bw = engine::MeasureGpuCopyBandwidthGBs();
    if (!gpu_bw.ok()) return fail(gpu_bw.status());
    bandwidth = *gpu_bw;
  } else {
    bandwidth = engine::cpu::MeasureReadBandwidthGBs(bw_pool);
  }

  // Prefill throughput for 128- and 512-token prompts (best of `repeats`).
  auto prefill_rate = [&](int32_t n) -> Result<double> {
    double best = 0.0;
    for (int32_t r = 0; r < repeats; ++r) {
      Sequence seq{PromptIds(n, c.n_vocab, r), {}, 0};
      auto t = Prefill(backend, alloc, seq, logits);
      alloc.Release(seq.blocks);
      if (!t.ok()) return t.status();
      best = std::max(best, n / *t);
    }
    return best;
  };
  auto p128 = prefill_rate(std::min(128, c.context_length / 2));
  if (!p128.ok()) return fail(p128.status());
  const int32_t long_prompt = std::min(512, c.context_length - decode_steps - 1);
  auto p512 = prefill_rate(long_prompt);
  if (!p512.ok()) return fail(p512.status());

  // Decode: batch 1 and batch 8, after a 16-token prompt each.
  auto decode_rate = [&](int32_t batch) -> Result<double> {
    double best = 0.0;
    for (int32_t r = 0; r < repeats; ++r) {
      std::vector<Sequence> seqs;
      for (int32_t b = 0; b < batch; ++b) {
        seqs.push_back({PromptIds(16, c.n_vocab, 100 + b), {}, 0});
        auto t = Prefill(backend, alloc, seqs.back(), logits);
        if (!t.ok()) return t.status();
      }
      auto t = DecodeTogether(backend, seqs, decode_steps, c.n_vocab, logits);
      for (auto& s : seqs) alloc.Release(s.blocks);
      if (!t.ok()) return t.status();
      best = std::max(best, static_cast<double>(batch) * decode_steps / *t);
    }
    return best;
  };
  auto d1 = decode_rate(1);
  if (!d1.ok()) return fail(d1.status());
  auto d8 = decode_rate(kBatch);
  if (!d8.ok()) return fail(d8.status());

  // Many sequences together: each prefilled alone, then decoded in one batch (greedy).
  std::string batch_json;
  for (int32_t b : batches) {
    std::vector<Sequence> seqs;
    double prefill_s = 0.0;
    for (int32_t i = 0; i < b; ++i) {
      seqs.push_back({PromptIds(batch_prompt, c.n_vocab, 1000 + i), {}, 0});
      auto t = Prefill(backend, alloc, seqs.back(), logits);
      if (!t.ok()) return fail(t.status());
      prefill_s += *t;
    }
    auto t = DecodeTogether(backend, seqs, batch_new, c.n_vocab, logits);
    for (auto& sq : seqs) alloc.Release(sq.blocks);
    if (!t.ok()) return fail(t.status());
    char item[256];
    std::snprintf(item, sizeof item, "%s{\"sequences\":%d,\"prompt\":%d,\"new\":%d,\"decode_tok_s\":%.1f,"
                  "\"prefill_s\":%.3f,\"total_tok_s\":%.1f}", batch_json.empty() ? "" : ",", b, batch_prompt,
                  batch_new, static_cast<double>(b) * batch_new / *t, prefill_s,
                  static_cast<double>(b) * (batch_prompt + batch_new) / (prefill_s + *t));
    batch_json += item;
    if (!json) {
      std::printf("%d sequences: decode %.1f tok/s together (prefill %.3f s)\n", b,
                  static_cast<double>(b) * batch_new / *t, prefill_s);
    }
  }

  struct stat st{};
  const double file_mib = stat(model_path.c_str(), &st) == 0 && S_ISREG(st.st_mode) ? st.st_size / 1048576.0 : 0.0;
  const double bytes_per_token = static_cast<double>(model->WeightBytesPerToken());
  const double fraction = bytes_per_token * *d1 / (bandwidth * 1e9);
  char out[4096];
  std::snprintf(out, sizeof out,
                "{\"model\":\"%s\",\"dtype\":\"%s\",\"backend\":\"%s\",\"isa\":\"%s\",\"threads\":%d,"
                "\"weight_bytes_per_token\":%.0f,\"bandwidth_gb_s\":%.2f,"
                "\"decode_tok_s\":%.2f,\"decode_bandwidth_fraction\":%.3f,"
                "\"prefill_tok_s\":{\"128\":%.1f,\"%d\":%.1f},\"prefill_128_tok_s\":%.1f,\"prefill_512_tok_s\":%.1f,"
                "\"batch8_decode_tok_s\":%.2f,\"batch8_speedup\":%.2f,"
                "\"rss_before_load_mib\":%.1f,\"rss_after_load_mib\":%.1f,\"file_mib\":%.1f,\"kv_cache_mib\":%.1f,"
                "\"ttft_%d_ms\":%.2f,\"decode_bound_tok_s\":%.1f,\"batches\":[%s]}",
                model_path.c_str(), engine::DTypeName(model->main_dtype()), backend.name().c_str(),
                engine::cpu::IsaName(engine::cpu::ActiveIsa()), static_cast<int>(bw_pool.size()), bytes_per_token,
                bandwidth, *d1, fraction, *p128, long_prompt, *p512, *p128, *p512, *d8, *d8 / *d1, rss_before,
                rss_loaded, file_mib, backend.kv_bytes() / 1048576.0, long_prompt, 1000.0 * long_prompt / *p512,
                bandwidth * 1e9 / bytes_per_token, batch_json.c_str());
  if (json) {
    std::printf("%s\n", out);
  } else {
    std::printf("decode %.2f tok/s (%.0f%% of the %.1f GB/s bandwidth bound) | prefill-128 %.1f tok/s | "
                "prefill-%d %.1f tok/s | batch-8 decode %.2f tok/s (%.2fx)\n",
                *d1, fraction * 100, bandwidth, *p128, long_prompt, *p512, *d8, *d8 / *d1);
  }
  return 0;
}

}  // namespace meridian::cli
