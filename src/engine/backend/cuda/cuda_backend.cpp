// CudaBackend: start-up (device check, weight upload, KV pool sized from --gpu-memory-fraction),
// step validation, and the per-layer forward pass as a sequence of kernel launches on one stream.
#include "engine/backend/cuda/cuda_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "engine/backend/step_validation.h"
#include "core/log.h"

namespace meridian::engine::cuda {
namespace {
constexpr int64_t kInitialStepTokens = 2048;
constexpr int64_t kInitialLogitRows = 256;
constexpr size_t kMaxGraphs = 256;  // step shapes kept; a decode step has few (attention splits grow slowly)

bool GraphsWanted() {
  const char* v = std::getenv("MERIDIAN_CUDA_GRAPHS");
  return v == nullptr || std::strcmp(v, "0") != 0;
}
}  // namespace

CudaBackend::CudaBackend(const Model& model, bool reference)
    : model_(model), config_(model.config()), reference_(reference) {}

CudaBackend::~CudaBackend() {
  if (stream_ != nullptr) {
    cudaStreamSynchronize(stream_);
    ClearGraphs();
    cudaStreamDestroy(stream_);
  }
}

Result<std::unique_ptr<CudaBackend>> CudaBackend::Create(const Model& model, const BackendOptions& options,
                                                         bool reference) {
  if (!(options.gpu_memory_fraction > 0.0 && options.gpu_memory_fraction <= 1.0)) {
    return InvalidArgument("--gpu-memory-fraction must be in (0, 1], got " + std::to_string(options.gpu_memory_fraction));
  }
  if (options.kv_block_tokens <= 0 || options.kv_block_tokens > 4096) {
    return InvalidArgument("KV block size must be in [1, 4096] tokens, got " + std::to_string(options.kv_block_tokens));
  }
  const LlamaConfig& c = model.config();
  if (c.head_dim > 256) return Unimplemented("the CUDA backend supports head_dim up to 256");
  int devices = 0;
  if (cudaError_t err = cudaGetDeviceCount(&devices); err != cudaSuccess || devices == 0) {
    cudaGetLastError();
    return Unavailable(std::string("no usable CUDA GPU: ") +
                       (err != cudaSuccess ? cudaGetErrorString(err) : "no device found"));
  }
  std::unique_ptr<CudaBackend> b(new CudaBackend(model, reference));
  MERIDIAN_RETURN_IF_ERROR(CudaStatus(cudaSetDevice(0), "selecting GPU 0"));
  cudaDeviceProp prop{};
  MERIDIAN_RETURN_IF_ERROR(CudaStatus(cudaGetDeviceProperties(&prop, 0), "reading the GPU's properties"));
  if (prop.major < 7) {
    return Unimplemented(std::string("GPU ") + prop.name + " (compute capability " + std::to_string(prop.major) + "." +
                         std::to_string(prop.minor) + ") is too old; the CUDA backend needs sm_70 or newer");
  }
  b->n_sms_ = prop.multiProcessorCount;
  b->use_graphs_ = !reference && GraphsWanted();
  MERIDIAN_RETURN_IF_ERROR(
      CudaStatus(cudaStreamCreateWithFlags(&b->stream_, cudaStreamNonBlocking), "creating a CUDA stream"));
  b->geom_ = {c.n_layers, options.kv_block_tokens, c.n_heads, c.n_kv_heads, c.head_dim};

  size_t free_bytes = 0, total_bytes = 0;
  MERIDIAN_RETURN_IF_ERROR(CudaStatus(cudaMemGetInfo(&free_bytes, &total_bytes), "reading GPU memory"));
  const double budget = options.gpu_memory_fraction * static_cast<double>(total_bytes);
  uint64_t need = 0;
  const ModelWeights& mw = model.weights();
  for (const WeightTensor* t : {&mw.token_embd, &mw.output, &mw.output_norm}) need += t->n_bytes();
  for (const LayerWeights& l : mw.layers) {
    for (const WeightTensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) need += t->n_bytes();
  }
  if (static_cast<double>(need) > budget) {
    return ResourceExhausted("the model's weights (" + std::to_string(need >> 20) + " MiB) do not fit in " +
                             std::to_string(static_cast<uint64_t>(budget) >> 20) + " MiB (--gpu-memory-fraction " +
                             std::to_string(options.gpu_memory_fraction) + " of " + prop.name + ")");
  }
  MERIDIAN_RETURN_IF_ERROR(b->weights_.Upload(model));

  // inv_freq as the CPU backend computes it (float32, scaling applied).
  const int32_t half = c.head_dim / 2;
  std::vector<float> inv(static_cast<size_t>(half));
  for (int32_t i = 0; i < half; ++i) {
    float f = 1.0f / std::pow(c.rope_theta, static_cast<float>(2 * i) / static_cast<float>(c.head_dim));
    if (!c.rope_freq_factors.empty()) f /= c.rope_freq_factors[static_cast<size_t>(i)];
    if (c.rope_scaling == RopeScalingType::kLinear) f /= c.rope_factor;
    inv[static_cast<size_t>(i)] = f;
  }
  MERIDIAN_RETURN_IF_ERROR(b->inv_freq_.Allocate(inv.size() * sizeof(float), "RoPE frequencies"));
  MERIDIAN_RETURN_IF_ERROR(CudaStatus(
      cudaMemcpy(b->inv_freq_.as<void>(), inv.data(), inv.size() * sizeof(float), cudaMemcpyHostToDevice), "copy"));
  MERIDIAN_RETURN_IF_ERROR(b->EnsureScratch(std::min<int64_t>(kInitialStepTokens, c.context_length), kInitialLogitRows));

  // The KV pool: what the fraction leaves after everything else on the GPU, or the tokens asked for.
  MERIDIAN_RETURN_IF_ERROR(CudaStatus(cudaMemGetInfo(&free_bytes, &total_bytes), "reading GPU memory"));
  const double used = static_cast<double>(total_bytes - free_bytes);
  const double left = budget - used - 64.0 * (1 << 20);  // headroom for the runtime's own allocations
  const uint64_t block_bytes = static_cast<uint64_t>(c.n_layers) * 2 * options.kv_block_tokens * b->geom_.kv_dim() * 2;
  int64_t n_blocks;
  if (options.kv_cache_tokens > 0) {
    n_blocks = (options.kv_cache_tokens + options.kv_block_tokens - 1) / options.kv_block_tokens;
    if (static_cast<double>(n_blocks) * static_cast<double>(block_bytes) > left) {
      return ResourceExhausted("a KV cache of " + std::to_string(options.kv_cache_tokens) + " tokens needs " +
                               std::to_string((n_blocks * block_bytes) >> 20) + " MiB but only " +
                               std::to_string(static_cast<int64_t>(std::max(0.0, left)) >> 20) +
                               " MiB are left under --gpu-memory-fraction " +
                               std::to_string(options.gpu_memory_fraction) + "; lower --kv-cache-tokens");
    }
  } else {
    n_blocks = left > 0 ? static_cast<int64_t>(left / static_cast<double>(block_bytes)) : 0;
    // More than 256 full contexts is never useful and only slows the block allocator down.
    const int64_t useful = 256 * ((static_cast<int64_t>(c.context_length) + options.kv_block_tokens - 1) /
                                  options.kv_block_tokens);
    n_blocks = std::min(n_blocks, useful);
    if (n_blocks < 1) {
      return ResourceExhausted("no GPU memory is left for the KV cache under --gpu-memory-fraction " +
                               std::to_string(options.gpu_memory_fraction) + " (weights " +
                               std::to_string(b->weights_.bytes() >> 20) + " MiB); raise it");
    }
  }
  if (n_blocks > (1 << 24)) return InvalidArgument("KV cache is too large");
  b->n_blocks_ = static_cast<int32_t>(n_blocks);
  MERIDIAN_RETURN_IF_ERROR(b->kv_.Allocate(static_cast<size_t>(n_blocks) * block_bytes, "the KV cache"));
  log::Info("cuda backend ready", {{"gpu", std::string_view(prop.name)},
                                   {"sms", static_cast<long long>(b->n_sms_)},
                                   {"weights_mib", static_cast<double>(b->weights_.bytes()) / (1 << 20)},
                                   {"kv_blocks", static_cast<long long>(n_blocks)},
                                   {"kv_mib", static_cast<double>(b->kv_.bytes()) / (1 << 20)},
                                   {"reference_kernels", reference},
                                   {"cuda_graphs", b->use_graphs_}});
  return b;
}

Status CudaBackend::EnsureScratch(int64_t tokens, int64_t logit_rows) {
  const LlamaConfig& c = config_;
  if (tokens > scratch_tokens_ || logit_rows > logit_rows_) ClearGraphs();
  if (tokens > scratch_tokens_) {
    const int64_t t = std::max(tokens, scratch_tokens_ * 2);
    const int64_t q_dim = c.q_dim(), kv_dim = c.kv_dim();
    const int64_t max_k = std::max<int64_t>({c.dim, q_dim, c.ffn_dim});
    auto f32 = [&](DeviceBuffer& b, int64_t width, const char* what) { return b.Allocate(t * width * 4, what); };
    MERIDIAN_RETURN_IF_ERROR(f32(x_, c.dim, "activations"));
    MERIDIAN_RETURN_IF_ERROR(f32(xn_, std::max<int64_t>(c.dim, q_dim), "activations"));
    MERIDIAN_RETURN_IF_ERROR(f32(qkv_, q_dim + 2 * kv_dim, "activations"));
    MERIDIAN_RETURN_IF_ERROR(f32(attn_, q_dim, "activations"));
    MERIDIAN_RETURN_IF_ERROR(f32(gu_, 2 * static_cast<int64_t>(c.ffn_dim), "activations"));
    MERIDIAN_RETURN_IF_ERROR(f32(h_, c.ffn_dim, "activations"));
    MERIDIAN_RETURN_IF_ERROR(xq_.Allocate(static_cast<size_t>(kMaxMatVecRows * max_k), "activations"));
    MERIDIAN_RETURN_IF_ERROR(xd_.Allocate(static_cast<size_t>(kMaxMatVecRows * max_k / 32 * 4), "activations"));
    MERIDIAN_RETURN_IF_ERROR(xh_.Allocate(static_cast<size_t>(t * max_k * 2), "activations"));
    MERIDIAN_RETURN_IF_ERROR(partials_.Allocate(
        static_cast<size_t>(AttentionPartialFloats(t, geom_, n_sms_)) * 4, "attention scratch"));
    scratch_tokens_ = t;
  }
  if (logit_rows > logit_rows_) {
    const int64_t r = std::max(logit_rows, logit_rows_ * 2);
    MERIDIAN_RETURN_IF_ERROR(logits_.Allocate(static_cast<size_t>(r * c.n_vocab * 4), "logits"));
    logit_rows_ = r;
  }
  return Status::Ok();
}

Status CudaBackend::EnsureMeta(int64_t ints) {
  if (ints <= meta_ints_) return Status::Ok();
  ClearGraphs();
  const int64_t n = std::max(ints, meta_ints_ * 2);
  MERIDIAN_RETURN_IF_ERROR(meta_.Allocate(static_cast<size_t>(n) * 4, "step metadata"));
  MERIDIAN_RETURN_IF_ERROR(meta_host_.Allocate(static_cast<size_t>(n) * 4));
  meta_ints_ = n;
  return Status::Ok();
}


void CudaBackend::Project(const GpuMatrix& w, const float* x, int64_t m, float* y, bool accumulate) {
  if (reference_) {
    GemmReference(w, x, m, y, accumulate, stream_);
  } else if (m <= kMaxMatVecRows && w.type == GpuWeightType::kQ8) {
    QuantizeRowsQ8(x, m, w.cols, xq_.as<int8_t>(), xd_.as<float>(), stream_);
    MatVecQ8(w, xq_.as<int8_t>(), xd_.as<float>(), static_cast<int>(m), y, accumulate, stream_);
  } else if (m <= kMaxMatVecRows) {
    MatVecF16(w, x, static_cast<int>(m), y, accumulate, stream_);
  } else {
    ConvertToHalf(x, m * w.cols, xh_.as<uint16_t>(), stream_);
    GemmTensorCore(w, xh_.as<uint16_t>(), m, y, accumulate, n_sms_, stream_);
  }
}

Status CudaBackend::Forward(std::span<const SequenceStep> steps, float* logits) {
  MERIDIAN_RETURN_IF_ERROR(ValidateSteps(steps, config_, geom_.block_tokens, n_blocks_));
  int64_t n = 0, rows = 0, table_ints = 0;
  for (const auto& st : steps) {
    const auto len = static_cast<int64_t>(st.tokens.size());
    n += len;
    rows += st.logits == LogitsMode::kAll ? len : (st.logits == LogitsMode::kLast ? 1 : 0);
    table_ints += static_cast<int64_t>(st.kv_blocks.size());
  }
  MERIDIAN_RETURN_IF_ERROR(EnsureScratch(n, std::max<int64_t>(rows, 1)));
  MERIDIAN_RETURN_IF_ERROR(EnsureMeta(4 * n + table_ints));

  // Host metadata, one copy: tokens | pos | table_offset | logit rows | block tables.
  int32_t* h = meta_host_.as<int32_t>();
  int32_t *h_tok = h, *h_pos = h + n, *h_off = h + 2 * n, *h_rows = h + 3 * n, *h_tab = h + 4 * n;
  int64_t t = 0, r = 0, tab = 0;
  int32_t max_ctx = 0;
  for (const auto& st : steps) {
    const auto len = static_cast<int64_t>(st.tokens.size());
    std::copy(st.kv_blocks.begin(), st.kv_blocks.end(), h_tab + tab);
    const int64_t first = st.logits == LogitsMode::kAll ? 0 : (st.logits == LogitsMode::kLast ? len - 1 : len);
    for (int64_t i = 0; i < len; ++i, ++t) {
      h_tok[t] = st.tokens[static_cast<size_t>(i)];
      h_pos[t] = st.n_past + static_cast<int32_t>(i);
      h_off[t] = static_cast<int32_t>(tab);
      if (i >= first) h_rows[r++] = static_cast<int32_t>(t);
    }
    max_ctx = std::max(max_ctx, st.n_past + static_cast<int32_t>(len));
    tab += static_cast<int64_t>(st.kv_blocks.size());
  }
  int32_t* d = meta_.as<int32_t>();
  MERIDIAN_RETURN_IF_ERROR(CudaStatus(
      cudaMemcpyAsync(d, h, static_cast<size_t>(4 * n + table_ints) * 4, cudaMemcpyHostToDevice, stream_),
      "copying the step to the GPU"));
  // Decode-sized steps replay a CUDA graph; anything else (and a failed capture) launches directly.
  const bool graphed = use_graphs_ && n <= kMaxMatVecRows && LaunchGraph(d, n, rows, max_ctx);
  if (!graphed) EnqueueForward(d, n, rows, max_ctx);
  if (rows > 0) {
    MERIDIAN_RETURN_IF_ERROR(CudaStatus(cudaMemcpyAsync(logits, logits_.as<float>(),
                                                        static_cast<size_t>(rows * config_.n_vocab) * sizeof(float),
                                                        cudaMemcpyDeviceToHost, stream_),
                                        "copying logits from the GPU"));
  }
  MERIDIAN_RETURN_IF_ERROR(CudaStatus(cudaGetLastError(), "launching a CUDA kernel"));
  return CudaStatus(cudaStreamSynchronize(stream_), "running the forward step on the GPU");
}

void CudaBackend::ClearGraphs() {
  for (auto& [key, exec] : graphs_) cudaGraphExecDestroy(exec);
  graphs_.clear();
}

bool CudaBackend::LaunchGraph(const int32_t* d, int64_t n, int64_t rows, int32_t max_ctx) {
  const AttentionShape shape = AttentionShapeFor(n, max_ctx, geom_, n_sms_);
  const GraphKey key{n, rows, shape.split_len, shape.splits};
  auto it = graphs_.find(key);
  if (it == graphs_.end()) {
    if (graphs_.size() >= kMaxGraphs) ClearGraphs();
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    cudaError_t err = cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal);
    if (err == cudaSuccess) {
      EnqueueForward(d, n, rows, max_ctx);
      err = cudaStreamEndCapture(stream_, &graph);
    }
    if (err == cudaSuccess) err = cudaGraphInstantiate(&exec, graph, 0);
    if (graph != nullptr) cudaGraphDestroy(graph);
    if (err != cudaSuccess) {
      cudaGetLastError();
      log::Warn("CUDA graph capture failed; running decode steps without graphs",
                {{"error", std::string_view(cudaGetErrorString(err))}});
      use_graphs_ = false;
      ClearGraphs();
      return false;
    }
    it = graphs_.emplace(key, exec).first;
    ++graphs_captured_;
  }
  if (cudaError_t err = cudaGraphLaunch(it->second, stream_); err != cudaSuccess) {
    cudaGetLastError();
    log::Warn("CUDA graph launch failed; running decode steps without graphs",
              {{"error", std::string_view(cudaGetErrorString(err))}});
    use_graphs_ = false;
    ClearGraphs();
    return false;
  }
  return true;
}

void CudaBackend::NormProject(const float* x, const float* norm, int64_t n, const GpuMatrix& w, float* y) {
  const LlamaConfig& c = config_;
  if (!reference_ && n <= kMaxMatVecRows && w.type == GpuWeightType::kQ8) {
    RmsNormQuantizeQ8(x, norm, n, c.dim, c.rms_eps, xq_.as<int8_t>(), xd_.as<float>(), stream_);
    MatVecQ8(w, xq_.as<int8_t>(), xd_.as<float>(), static_cast<int>(n), y, false, stream_);
  } else {
    RmsNormRows(x, norm, nullptr, n, c.dim, c.rms_eps, xn_.as<float>(), stream_);
    Project(w, xn_.as<float>(), n, y, false);
  }
}

void CudaBackend::EnqueueForward(const int32_t* d, int64_t n, int64_t rows, int32_t max_ctx) {
  const TokenMeta meta{d + n, d + 2 * n, d + 4 * n};
  const LlamaConfig& c = config_;
  const int64_t q_dim = c.q_dim(), qkv_ld = q_dim + 2 * static_cast<int64_t>(c.kv_dim());
  float* x = x_.as<float>();
  float* xn = xn_.as<float>();
  EmbedTokens(weights_.token_embd(), d, n, x, stream_);
  for (int32_t layer = 0; layer < c.n_layers; ++layer) {
    const DeviceLayer& l = weights_.layers()[static_cast<size_t>(layer)];
    NormProject(x, l.attn_norm.as<float>(), n, l.qkv.view, qkv_.as<float>());
    RopeAndStoreKv(qkv_.as<float>(), qkv_ld, n, meta, inv_freq_.as<float>(), geom_, layer, kv_.as<uint16_t>(), stream_);
    if (reference_) {
      AttentionReference(qkv_.as<float>(), qkv_ld, n, meta, geom_, layer, kv_.as<uint16_t>(), attn_.as<float>(),
                         stream_);
    } else {
      Attention(qkv_.as<float>(), qkv_ld, n, max_ctx, meta, geom_, layer, kv_.as<uint16_t>(), partials_.as<float>(),
                n_sms_, attn_.as<float>(), stream_);
    }
    Project(l.wo.view, attn_.as<float>(), n, x, true);
    NormProject(x, l.ffn_norm.as<float>(), n, l.gate_up.view, gu_.as<float>());
    if (!reference_ && n <= kMaxMatVecRows && l.down.view.type == GpuWeightType::kQ8) {
      SiluMulQuantizeQ8(gu_.as<float>(), n, c.ffn_dim, xq_.as<int8_t>(), xd_.as<float>(), stream_);
      MatVecQ8(l.down.view, xq_.as<int8_t>(), xd_.as<float>(), static_cast<int>(n), x, true, stream_);
    } else {
      SiluMulRows(gu_.as<float>(), n, c.ffn_dim, h_.as<float>(), stream_);
      Project(l.down.view, h_.as<float>(), n, x, true);
    }
  }
  if (rows > 0) {
    RmsNormRows(x, weights_.output_norm(), d + 3 * n, rows, c.dim, c.rms_eps, xn, stream_);
    Project(weights_.output(), xn, rows, logits_.as<float>(), false);
  }
}

}  // namespace meridian::engine::cuda

namespace meridian::engine {

Result<std::unique_ptr<Backend>> MakeCudaBackend(const Model& model, const BackendOptions& options) {
  auto b = cuda::CudaBackend::Create(model, options, /*reference=*/false);
  if (!b.ok()) return b.status();
  return std::unique_ptr<Backend>(std::move(*b));
}

}  // namespace meridian::engine
