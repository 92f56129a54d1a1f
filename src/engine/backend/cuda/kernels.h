// Host-callable launchers of the CUDA backend's kernels (kernels_matmul.cu, kernels_ops.cu).
// Every launcher enqueues work on `stream` and returns at once; pointers are device pointers.
// Each fast kernel has a scalar reference launcher (…Reference) that the tests compare it with.
// Thread-safety: stateless; callers serialize work on a stream.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace meridian::engine::cuda {

//! How a weight matrix [rows, cols] is stored on the GPU.
enum class GpuWeightType : int32_t { kQ8 = 0, kF16 = 1 };

//! A weight matrix on the device. Q8: `qs` int8 [rows][cols] and `scales` fp16 bits
//! [rows][cols / 32] (Q8_0 split into two aligned arrays); F16: `f16` [rows][cols].
struct GpuMatrix {
  GpuWeightType type = GpuWeightType::kF16;
  int64_t rows = 0;
  int64_t cols = 0;
  const int8_t* qs = nullptr;
  const uint16_t* scales = nullptr;
  const uint16_t* f16 = nullptr;
};

//! Shape of the paged KV cache: [block][layer][K|V][slot][kv_dim] fp16.
struct KvGeometry {
  int32_t n_layers = 0;
  int32_t block_tokens = 0;
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;
  int32_t head_dim = 0;
#ifdef __CUDACC__
  __host__ __device__
#endif
  int32_t kv_dim() const { return n_kv_heads * head_dim; }
};

//! Per-token step metadata on the device (n tokens): absolute position, and the offset of the
//! token's sequence block table inside `tables`.
struct TokenMeta {
  const int32_t* pos = nullptr;
  const int32_t* table_offset = nullptr;
  const int32_t* tables = nullptr;
};

//! Largest batch the matrix-vector kernels take; larger batches go through the tensor-core GEMM.
inline constexpr int kMaxMatVecRows = 8;

// ---- matrix products (kernels_matmul.cu); y [m][w.rows] f32, y += when accumulate ----
//! Quantizes rows of x [m][k] to Q8_0 blocks exactly as the CPU backend (GGML's reference):
//! int8 values `xq` [m][k] and scales `xd` [m][k / 32] (rounded through fp16).
void QuantizeRowsQ8(const float* x, int64_t m, int64_t k, int8_t* xq, float* xd, cudaStream_t stream);
//! Converts n floats to fp16 bits.
void ConvertToHalf(const float* x, int64_t n, uint16_t* y, cudaStream_t stream);
//! Q8 weights x Q8-quantized activations, m <= kMaxMatVecRows; reads each weight byte once.
void MatVecQ8(const GpuMatrix& w, const int8_t* xq, const float* xd, int m, float* y, bool accumulate,
              cudaStream_t stream);
//! F16 weights x f32 activations, m <= kMaxMatVecRows; reads each weight byte once.
void MatVecF16(const GpuMatrix& w, const float* x, int m, float* y, bool accumulate, cudaStream_t stream);
//! Tensor-core GEMM (fp16 inputs, f32 accumulation) for any m: weights are dequantized to fp16
//! tiles in shared memory. `x_half` [m][w.cols]. Split-K over `n_sms` when the grid is small.
void GemmTensorCore(const GpuMatrix& w, const uint16_t* x_half, int64_t m, float* y, bool accumulate, int n_sms,
                    cudaStream_t stream);
//! Reference: one thread per output, f32 activations, weights dequantized exactly.
void GemmReference(const GpuMatrix& w, const float* x, int64_t m, float* y, bool accumulate, cudaStream_t stream);

// ---- element-wise, normalization, RoPE, attention (kernels_ops.cu) ----
//! x[t] = dequantized row tokens[t] of `table`.
void EmbedTokens(const GpuMatrix& table, const int32_t* tokens, int64_t n, float* x, cudaStream_t stream);
//! y[i] = rmsnorm(x[rows ? rows[i] : i]) * w for i < n (dim floats each).
void RmsNormRows(const float* x, const float* w, const int32_t* rows, int64_t n, int32_t dim, float eps, float* y,
                 cudaStream_t stream);
//! Rotates q and k of each token (adjacent pairs, GGUF row order) in `qkv` [n][ld] (q at 0, k at
//! q_dim, v at q_dim + kv_dim) and stores k, v as fp16 into the cache for `layer`.
void RopeAndStoreKv(float* qkv, int64_t ld, int64_t n, const TokenMeta& meta, const float* inv_freq,
                    const KvGeometry& g, int32_t layer, uint16_t* kv_cache, cudaStream_t stream);
//! RmsNormRows (all n rows) then QuantizeRowsQ8 of the result in one kernel, bit-identical to the
//! two; dim a multiple of 32.
void RmsNormQuantizeQ8(const float* x, const float* w, int64_t n, int32_t dim, float eps, int8_t* xq, float* xd,
                       cudaStream_t stream);
//! SiluMulRows then QuantizeRowsQ8 of the result in one kernel; ffn a multiple of 32.
void SiluMulQuantizeQ8(const float* gu, int64_t n, int64_t ffn, int8_t* xq, float* xd, cudaStream_t stream);
//! out[t][i] = silu(gu[t][i]) * gu[t][ffn + i]; gu is [n][2 * ffn], out [n][ffn].
void SiluMulRows(const float* gu, int64_t n, int64_t ffn, float* out, cudaStream_t stream);
//! Causal attention of each token's q (in qkv rows, stride ld) over positions [0, pos] of its
//! sequence: out [n][n_heads * head_dim]. Split-K ("flash-decoding") over the context when there
//! are few (token, head) pairs; `partials` holds AttentionPartialFloats(...) floats.
void Attention(const float* qkv, int64_t ld, int64_t n, int32_t max_ctx, const TokenMeta& meta, const KvGeometry& g,
               int32_t layer, const uint16_t* kv_cache, float* partials, int n_sms, float* out, cudaStream_t stream);
//! How Attention splits the context: the only way its launch depends on the step besides n (a
//! captured decode step can be replayed while this stays the same).
struct AttentionShape {
  int32_t split_len = 0;
  int32_t splits = 0;
};
AttentionShape AttentionShapeFor(int64_t n, int32_t max_ctx, const KvGeometry& g, int n_sms);
//! Scratch floats Attention needs for n tokens.
int64_t AttentionPartialFloats(int64_t n, const KvGeometry& g, int n_sms);
//! Reference: one thread per (token, head), two passes, no splitting.
void AttentionReference(const float* qkv, int64_t ld, int64_t n, const TokenMeta& meta, const KvGeometry& g,
                        int32_t layer, const uint16_t* kv_cache, float* out, cudaStream_t stream);

}  // namespace meridian::engine::cuda
