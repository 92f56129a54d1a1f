// CpuBackend: validation, the per-layer llama forward pass (whole or one tensor-parallel rank's
// share), and the factory.
#include "engine/backend/cpu/cpu_backend.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "engine/backend/step_validation.h"
#include "engine/backend/cpu/kernels/kernels.h"
#include "engine/parallel/tensor_parallel_backend.h"

namespace meridian::engine::cpu {
namespace {

parallel::ShardPlan WholePlan(const LlamaConfig& c) {
  parallel::ShardPlan p;
  p.head_dim = c.head_dim;
  p.heads = {0, c.n_heads};
  p.kv_heads = {0, c.n_kv_heads};
  p.ffn = {0, c.ffn_dim};
  p.vocab = {0, c.n_vocab};
  return p;
}

}  // namespace

CpuBackend::CpuBackend(const Model& model, const BackendOptions& options, int32_t n_blocks, RankShard shard)
    : model_(model),
      config_(model.config()),
      rank_weights_(std::move(shard.weights)),
      weights_(rank_weights_ != nullptr ? rank_weights_->weights() : model.weights()),
      plan_(rank_weights_ != nullptr ? shard.plan : WholePlan(config_)),
      comm_(rank_weights_ != nullptr ? shard.comm : nullptr),
      n_heads_(static_cast<int32_t>(plan_.heads.size)),
      n_kv_heads_(static_cast<int32_t>(plan_.kv_heads.size)),
      q_dim_(plan_.heads.size * config_.head_dim),
      kv_dim_(plan_.kv_heads.size * config_.head_dim),
      ffn_dim_(plan_.ffn.size),
      pool_(options.n_threads),
      block_tokens_(options.kv_block_tokens),
      n_blocks_(n_blocks),
      kv_floats_(static_cast<uint64_t>(n_blocks) * config_.n_layers * 2 * options.kv_block_tokens * kv_dim_) {
  // aligned_alloc leaves pages untouched: the cache costs resident memory only as it fills.
  kv_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, (kv_floats_ * sizeof(float) + 63) / 64 * 64)));
  const int32_t half = config_.head_dim / 2;
  inv_freq_.resize(static_cast<size_t>(half));
  for (int32_t i = 0; i < half; ++i) {
    // As Hugging Face computes it: 1 / base^(2i/d) in float32.
    float f = 1.0f / std::pow(config_.rope_theta, static_cast<float>(2 * i) / static_cast<float>(config_.head_dim));
    if (!config_.rope_freq_factors.empty()) f /= config_.rope_freq_factors[static_cast<size_t>(i)];
    if (config_.rope_scaling == RopeScalingType::kLinear) f /= config_.rope_factor;
    inv_freq_[static_cast<size_t>(i)] = f;
  }
  PackWeights();
}

void CpuBackend::PackWeights() {
  const ModelWeights& w = weights_;
  std::vector<const WeightTensor*> matrices = {&w.output};
  for (const auto& l : w.layers) {
    for (const WeightTensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) matrices.push_back(t);
  }
  const long page = sysconf(_SC_PAGESIZE);
  for (const WeightTensor* t : matrices) {
    if (t->dtype != DType::kQ8_0 || packed_.count(t)) continue;
    PackedQ8Weights packed = PackQ8_0(*t, &pool_);
    if (packed.rows() == 0) continue;
    packed_.emplace(t, std::move(packed));
    // A rank's column slice is a copy of its own: the packed one replaces it.
    if (rank_weights_ != nullptr && rank_weights_->Owns(*t)) {
      rank_weights_->ReleaseOwned(*t);
      continue;
    }
    // The original stays readable (file-backed pages fault back in if read, e.g. embedding rows),
    // but is no longer resident twice. Owned (anonymous) buffers are left alone.
    if (model_.IsFileMapped(t->data, t->n_bytes())) {
      auto begin = reinterpret_cast<uintptr_t>(t->data);
      uintptr_t first = (begin + page - 1) / page * page;
      uintptr_t last = (begin + t->n_bytes()) / page * page;
      if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
    }
  }
}

void CpuBackend::Project(const WeightTensor& w, const float* x, int64_t m, float* y, int64_t ldy) {
  if (auto it = packed_.find(&w); it != packed_.end()) {
    MatMul(it->second, x, m, y, ldy, pool_);
  } else {
    MatMul(w, x, m, y, ldy, pool_);
  }
}


void CpuBackend::EnsureScratch(int64_t n) {
  if (n <= scratch_tokens_) return;
  auto grow = [n](std::vector<float>& v, int64_t width) { v.resize(static_cast<size_t>(n * width)); };
  grow(x_, config_.dim);
  grow(xn_, config_.dim);
  grow(q_, q_dim_);
  grow(k_, kv_dim_);
  grow(v_, kv_dim_);
  grow(attn_, q_dim_);
  grow(gate_, ffn_dim_);
  grow(up_, ffn_dim_);
  token_pos_.resize(static_cast<size_t>(n));
  token_step_.resize(static_cast<size_t>(n));
  scratch_tokens_ = n;
}

void CpuBackend::ApplyRope(float* vec, int32_t n_heads, int32_t pos) const {
  const int32_t half = config_.head_dim / 2;
  // Rotates adjacent pairs (x[2i], x[2i+1]): the GGUF row order of wq/wk makes this equal to
  // Hugging Face's rotate_half on the unpermuted weights.
  float cos_sin[2 * 512];
  for (int32_t i = 0; i < half; ++i) {
    const float angle = static_cast<float>(pos) * inv_freq_[static_cast<size_t>(i)];
    cos_sin[2 * i] = std::cos(angle);
    cos_sin[2 * i + 1] = std::sin(angle);
  }
  for (int32_t h = 0; h < n_heads; ++h) {
    float* v = vec + static_cast<int64_t>(h) * config_.head_dim;
    for (int32_t i = 0; i < half; ++i) {
      const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
      const float x0 = v[2 * i], x1 = v[2 * i + 1];
      v[2 * i] = x0 * c - x1 * s;
      v[2 * i + 1] = x0 * s + x1 * c;
    }
  }
}

void CpuBackend::Attention(int32_t layer, std::span<const SequenceStep> steps) {
  const int32_t n_heads = n_heads_, hd = config_.head_dim;
  const int32_t group = config_.n_heads / config_.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t work = current_tokens_ * n_heads;
  pool_.ParallelFor(work, 1, [&](int, int64_t begin, int64_t end) {
    thread_local std::vector<float> scores;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / n_heads;
      const int32_t h = static_cast<int32_t>(item % n_heads);
      const int32_t kvh = h / group;
      const int32_t pos = token_pos_[static_cast<size_t>(t)];
      const SequenceStep& st = steps[static_cast<size_t>(token_step_[static_cast<size_t>(t)])];
      const float* q = q_.data() + t * q_dim_ + static_cast<int64_t>(h) * hd;
      const int32_t n_ctx = pos + 1;
      if (scores.size() < static_cast<size_t>(n_ctx)) scores.resize(static_cast<size_t>(n_ctx));
      for (int32_t j = 0; j < n_ctx; ++j) {
        const float* k = KvRow(st.kv_blocks, j, layer, 0) + static_cast<int64_t>(kvh) * hd;
        scores[static_cast<size_t>(j)] = DotF32(q, k, hd) * scale;
      }
      Softmax(scores.data(), n_ctx);
      float* out = attn_.data() + t * q_dim_ + static_cast<int64_t>(h) * hd;
      std::fill(out, out + hd, 0.0f);
      for (int32_t j = 0; j < n_ctx; ++j) {
        const float* v = KvRow(st.kv_blocks, j, layer, 1) + static_cast<int64_t>(kvh) * hd;
        Axpy(scores[static_cast<size_t>(j)], v, out, hd);
      }
    }
  });
}

Status CpuBackend::Forward(std::span<const SequenceStep> steps, float* logits) {
  MERIDIAN_RETURN_IF_ERROR(ValidateSteps(steps, config_, block_tokens_, n_blocks_));
  int64_t n = 0;
  for (const auto& st : steps) n += static_cast<int64_t>(st.tokens.size());
  EnsureScratch(n);
  current_tokens_ = n;

  const ModelWeights& w = weights_;
  const int64_t dim = config_.dim, q_dim = q_dim_, kv_dim = kv_dim_, ffn = ffn_dim_;

  // Embeddings and per-token positions.
  int64_t t = 0;
  for (size_t s = 0; s < steps.size(); ++s) {
    for (size_t i = 0; i < steps[s].tokens.size(); ++i, ++t) {
      token_pos_[static_cast<size_t>(t)] = steps[s].n_past + static_cast<int32_t>(i);
      token_step_[static_cast<size_t>(t)] = static_cast<int32_t>(s);
      const auto* row = static_cast<const uint8_t*>(w.token_embd.data) +
                        static_cast<uint64_t>(steps[s].tokens[i]) * w.token_embd.row_bytes();
      DequantizeRow(w.token_embd.dtype, row, x_.data() + t * dim, dim);
    }
  }

  for (int32_t layer = 0; layer < config_.n_layers; ++layer) {
    const LayerWeights& l = w.layers[static_cast<size_t>(layer)];
    const auto* attn_norm = static_cast<const float*>(l.attn_norm.data);
    for (int64_t i = 0; i < n; ++i) RmsNorm(x_.data() + i * dim, attn_norm, dim, config_.rms_eps, xn_.data() + i * dim);
    Project(l.wq, xn_.data(), n, q_.data(), q_dim);
    Project(l.wk, xn_.data(), n, k_.data(), kv_dim);
    Project(l.wv, xn_.data(), n, v_.data(), kv_dim);
    for (int64_t i = 0; i < n; ++i) {
      const int32_t pos = token_pos_[static_cast<size_t>(i)];
      ApplyRope(q_.data() + i * q_dim, n_heads_, pos);
      ApplyRope(k_.data() + i * kv_dim, n_kv_heads_, pos);
      const SequenceStep& st = steps[static_cast<size_t>(token_step_[static_cast<size_t>(i)])];
      std::copy_n(k_.data() + i * kv_dim, kv_dim, KvRow(st.kv_blocks, pos, layer, 0));
      std::copy_n(v_.data() + i * kv_dim, kv_dim, KvRow(st.kv_blocks, pos, layer, 1));
    }
    Attention(layer, steps);
    Project(l.wo, attn_.data(), n, xn_.data(), dim);
    // Row-parallel: each rank holds a partial sum over its heads.
    if (comm_ != nullptr) MERIDIAN_RETURN_IF_ERROR(comm_->AllReduceSum(xn_.data(), n * dim));
    AddInPlace(x_.data(), xn_.data(), n * dim);

    const auto* ffn_norm = static_cast<const float*>(l.ffn_norm.data);
    for (int64_t i = 0; i < n; ++i) RmsNorm(x_.data() + i * dim, ffn_norm, dim, config_.rms_eps, xn_.data() + i * dim);
    Project(l.w_gate, xn_.data(), n, gate_.data(), ffn);
    Project(l.w_up, xn_.data(), n, up_.data(), ffn);
    SiluMul(gate_.data(), up_.data(), n * ffn, gate_.data());
    Project(l.w_down, gate_.data(), n, xn_.data(), dim);
    if (comm_ != nullptr) MERIDIAN_RETURN_IF_ERROR(comm_->AllReduceSum(xn_.data(), n * dim));
    AddInPlace(x_.data(), xn_.data(), n * dim);
  }

  // Final norm and output projection, only for the rows that want logits (gathered into xn_).
  int64_t rows = 0;
  t = 0;
  const auto* out_norm = static_cast<const float*>(w.output_norm.data);
  for (const auto& st : steps) {
    const auto len = static_cast<int64_t>(st.tokens.size());
    int64_t first = st.logits == LogitsMode::kAll ? 0 : (st.logits == LogitsMode::kLast ? len - 1 : len);
    for (int64_t i = first; i < len; ++i, ++rows) {
      RmsNorm(x_.data() + (t + i) * dim, out_norm, dim, config_.rms_eps, xn_.data() + rows * dim);
    }
    t += len;
  }
  // A rank writes its vocabulary slice of each logits row; the ranks' slices tile the row.
  if (rows > 0) Project(w.output, xn_.data(), rows, logits + plan_.vocab.begin, config_.n_vocab);
  return Status::Ok();
}

}  // namespace meridian::engine::cpu

namespace meridian::engine {

Result<std::unique_ptr<Backend>> MakeCpuBackend(const Model& model, const BackendOptions& options) {
  BackendOptions o = options;
  if (o.n_threads <= 0) o.n_threads = static_cast<int32_t>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  if (o.n_threads > 1024) return InvalidArgument("thread count " + std::to_string(o.n_threads) + " is too large");
  if (o.kv_block_tokens <= 0 || o.kv_block_tokens > 4096) {
    return InvalidArgument("KV block size must be in [1, 4096] tokens, got " + std::to_string(o.kv_block_tokens));
  }
  const LlamaConfig& c = model.config();
  int64_t tokens = o.kv_cache_tokens > 0 ? o.kv_cache_tokens : c.context_length;
  int64_t n_blocks = (tokens + o.kv_block_tokens - 1) / o.kv_block_tokens;
  if (n_blocks > (1 << 24)) return InvalidArgument("KV cache of " + std::to_string(tokens) + " tokens is too large");
  if (o.tensor_parallel != 1) {
    if (o.tensor_parallel < 1 || o.tensor_parallel > parallel::kMaxTensorParallel) {
      return InvalidArgument("--tensor-parallel " + std::to_string(o.tensor_parallel) + " must be in [1, " +
                             std::to_string(parallel::kMaxTensorParallel) + "]");
    }
    return parallel::MakeTensorParallelCpuBackend(model, o, static_cast<int32_t>(n_blocks));
  }
  auto backend = std::make_unique<cpu::CpuBackend>(model, o, static_cast<int32_t>(n_blocks));
  if (!backend->allocated()) {
    return ResourceExhausted("cannot allocate " + std::to_string(backend->kv_bytes() >> 20) +
                             " MiB for the KV cache; lower --kv-cache-tokens");
  }
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace meridian::engine
