// Element-wise and attention kernels of the CUDA backend: embedding lookup, RMSNorm, RoPE with
// the KV-cache store, SwiGLU, and causal attention over the paged fp16 KV cache (split-K
// "flash-decoding" with an online softmax, plus the combine pass), with a scalar reference.
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>

#include "engine/backend/cuda/kernels.h"

namespace meridian::engine::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kAttnThreads = 128;
constexpr int kAttnWarps = kAttnThreads / kWarp;
constexpr int kAttnChunk = 256;   // keys scored per pass inside a block
constexpr int kMaxHeadDim = 256;  // q row kept in shared memory; 2 output values per thread

__device__ __forceinline__ float HalfBits(uint16_t bits) { return __half2float(__ushort_as_half(bits)); }

__device__ __forceinline__ float WarpSum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float WarpMax(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Block-wide sum or max over blockDim.x threads (a multiple of 32, at most 1024).
template <bool kMax>
__device__ float BlockReduce(float v, float* red) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, n_warps = blockDim.x / kWarp;
  v = kMax ? WarpMax(v) : WarpSum(v);
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float r = red[0];
  for (int i = 1; i < n_warps; ++i) r = kMax ? fmaxf(r, red[i]) : r + red[i];
  return r;
}

__global__ void EmbedKernel(GpuMatrix t, const int32_t* __restrict__ tokens, float* __restrict__ x) {
  const int64_t row = tokens[blockIdx.x];
  float* out = x + blockIdx.x * t.cols;
  for (int64_t c = threadIdx.x; c < t.cols; c += blockDim.x) {
    out[c] = t.type == GpuWeightType::kQ8 ? HalfBits(t.scales[row * (t.cols / 32) + c / 32]) * t.qs[row * t.cols + c]
                                          : HalfBits(t.f16[row * t.cols + c]);
  }
}

// Sum of squares in double as the CPU reference does, so that the scale matches it closely.
__global__ void RmsNormKernel(const float* __restrict__ x, const float* __restrict__ w,
                              const int32_t* __restrict__ rows, int32_t dim, float eps, float* __restrict__ y) {
  __shared__ double red[32];
  const int64_t src = rows ? rows[blockIdx.x] : blockIdx.x;
  const float* xr = x + src * dim;
  double sum = 0.0;
  for (int c = threadIdx.x; c < dim; c += blockDim.x) sum += static_cast<double>(xr[c]) * xr[c];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  if (threadIdx.x % kWarp == 0) red[threadIdx.x / kWarp] = sum;
  __syncthreads();
  double total = 0.0;
  for (int i = 0; i < static_cast<int>(blockDim.x / kWarp); ++i) total += red[i];
  const float scale = 1.0f / sqrtf(static_cast<float>(total / dim) + eps);
  float* yr = y + static_cast<int64_t>(blockIdx.x) * dim;
  for (int c = threadIdx.x; c < dim; c += blockDim.x) yr[c] = xr[c] * scale * w[c];
}

// Q8_0 quantization of one 32-value block held one value per lane, the arithmetic of
// QuantizeQ8Kernel (kernels_matmul.cu) and GGML's quantize_row_q8_0_ref.
__device__ __forceinline__ void QuantizeLaneQ8(float v, int lane, int8_t* xq, float* xd) {
  const float amax = WarpMax(fabsf(v));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  xq[lane] = static_cast<int8_t>(roundf(v * id));
  if (lane == 0) *xd = __half2float(__float2half_rn(d));
}

// RmsNormKernel followed by Q8 quantization of the normalized row, in one pass: the same
// reduction (256 threads) and the same float products, so the result is bit-identical to
// RmsNormRows + QuantizeRowsQ8.
__global__ void __launch_bounds__(256) RmsNormQuantizeKernel(const float* __restrict__ x, const float* __restrict__ w,
                                                             int32_t dim, float eps, int8_t* __restrict__ xq,
                                                             float* __restrict__ xd) {
  __shared__ double red[32];
  const float* xr = x + static_cast<int64_t>(blockIdx.x) * dim;
  double sum = 0.0;
  for (int c = threadIdx.x; c < dim; c += blockDim.x) sum += static_cast<double>(xr[c]) * xr[c];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  if (threadIdx.x % kWarp == 0) red[threadIdx.x / kWarp] = sum;
  __syncthreads();
  double total = 0.0;
  for (int i = 0; i < static_cast<int>(blockDim.x / kWarp); ++i) total += red[i];
  const float scale = 1.0f / sqrtf(static_cast<float>(total / dim) + eps);
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, n_warps = blockDim.x / kWarp;
  const int64_t row_blocks = dim / 32;
  for (int64_t b = warp; b < row_blocks; b += n_warps) {
    const int64_t c = b * 32 + lane;
    const float v = xr[c] * scale * w[c];
    QuantizeLaneQ8(v, lane, xq + static_cast<int64_t>(blockIdx.x) * dim + b * 32,
                   xd + static_cast<int64_t>(blockIdx.x) * row_blocks + b);
  }
}

// SiluMulKernel followed by Q8 quantization: one warp per 32-value block of out.
__global__ void SiluMulQuantizeKernel(const float* __restrict__ gu, int64_t n, int64_t ffn, int8_t* __restrict__ xq,
                                      float* __restrict__ xd) {
  const int64_t block = blockIdx.x * (int64_t)(blockDim.x / kWarp) + threadIdx.x / kWarp;
  const int64_t row_blocks = ffn / 32;
  if (block >= n * row_blocks) return;
  const int lane = threadIdx.x % kWarp;
  const int64_t t = block / row_blocks, c = (block % row_blocks) * 32 + lane;
  const float g = gu[t * 2 * ffn + c];
  const float v = g / (1.0f + expf(-g)) * gu[t * 2 * ffn + ffn + c];
  QuantizeLaneQ8(v, lane, xq + block * 32, xd + block);
}

__global__ void RopeStoreKernel(float* __restrict__ qkv, int64_t ld, TokenMeta meta, const float* __restrict__ inv_freq,
                                KvGeometry g, int32_t layer, __half* __restrict__ kv) {
  const int64_t t = blockIdx.x;
  const int32_t pos = meta.pos[t];
  const int half = g.head_dim / 2;
  const int q_pairs = g.n_heads * half, k_pairs = g.n_kv_heads * half;
  const int kv_dim = g.kv_dim(), q_dim = g.n_heads * g.head_dim;
  float* row = qkv + t * ld;
  const int32_t block = meta.tables[meta.table_offset[t] + pos / g.block_tokens];
  const int64_t slot = pos % g.block_tokens;
  __half* k_dst = kv + ((static_cast<int64_t>(block) * g.n_layers + layer) * 2 * g.block_tokens + slot) * kv_dim;
  __half* v_dst = k_dst + static_cast<int64_t>(g.block_tokens) * kv_dim;
  for (int p = threadIdx.x; p < q_pairs + k_pairs; p += blockDim.x) {
    const bool is_q = p < q_pairs;
    const int pp = is_q ? p : p - q_pairs;
    const int i = pp % half;
    const float angle = static_cast<float>(pos) * inv_freq[i];
    const float c = cosf(angle), s = sinf(angle);
    float* v = row + (is_q ? 0 : q_dim) + 2 * pp;
    const float x0 = v[0], x1 = v[1];
    const float r0 = x0 * c - x1 * s, r1 = x0 * s + x1 * c;
    if (is_q) {
      v[0] = r0;
      v[1] = r1;
    } else {
      k_dst[2 * pp] = __float2half_rn(r0);
      k_dst[2 * pp + 1] = __float2half_rn(r1);
    }
  }
  const float* vsrc = row + q_dim + kv_dim;
  for (int c = threadIdx.x; c < kv_dim; c += blockDim.x) v_dst[c] = __float2half_rn(vsrc[c]);
}

__global__ void SiluMulKernel(const float* __restrict__ gu, int64_t n, int64_t ffn, float* __restrict__ out) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n * ffn; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t t = i / ffn, c = i % ffn;
    const float g = gu[t * 2 * ffn + c];
    out[i] = g / (1.0f + expf(-g)) * gu[t * 2 * ffn + ffn + c];
  }
}

__device__ __forceinline__ const __half* KvRow(const __half* kv, const KvGeometry& g, const int32_t* table, int32_t j,
                                               int32_t layer, int which, int kvh) {
  const int32_t block = table[j / g.block_tokens];
  const int64_t slot = j % g.block_tokens;
  return kv + (((static_cast<int64_t>(block) * g.n_layers + layer) * 2 + which) * g.block_tokens + slot) * g.kv_dim() +
         static_cast<int64_t>(kvh) * g.head_dim;
}

// Grid (token, head, split). Each block runs an online softmax over its slice of the context,
// kAttnChunk keys at a time, and writes an unnormalized output with its (max, sum).
__global__ void __launch_bounds__(kAttnThreads)
    AttentionSplitKernel(const float* __restrict__ qkv, int64_t ld, TokenMeta meta, KvGeometry g, int32_t layer,
                         const __half* __restrict__ kv, int32_t split_len, float* __restrict__ part_out,
                         float* __restrict__ part_ml, float* __restrict__ out) {
  __shared__ float sq[kMaxHeadDim];
  __shared__ float sc[kAttnChunk];
  __shared__ float red[kAttnWarps];
  const int64_t t = blockIdx.x;
  const int h = blockIdx.y, split = blockIdx.z, n_splits = gridDim.z;
  const int tid = threadIdx.x, lane = tid % kWarp, warp = tid / kWarp;
  const int hd = g.head_dim, kvh = h / (g.n_heads / g.n_kv_heads);
  const int32_t n_ctx = meta.pos[t] + 1;
  const int32_t begin = split * split_len, end = min(n_ctx, begin + split_len);
  if (begin >= n_ctx) return;  // the combine pass skips this split
  const int32_t* table = meta.tables + meta.table_offset[t];
  const float scale = 1.0f / sqrtf(static_cast<float>(hd));
  for (int d = tid; d < hd; d += kAttnThreads) sq[d] = qkv[t * ld + static_cast<int64_t>(h) * hd + d];
  float m = -INFINITY, l = 0.0f, acc0 = 0.0f, acc1 = 0.0f;
  for (int32_t c0 = begin; c0 < end; c0 += kAttnChunk) {
    const int len = min(kAttnChunk, end - c0);
    __syncthreads();
    for (int j = warp; j < len; j += kAttnWarps) {
      const __half* k = KvRow(kv, g, table, c0 + j, layer, 0, kvh);
      float s = 0.0f;
      for (int d = lane; d < hd; d += kWarp) s += sq[d] * __half2float(k[d]);
      s = WarpSum(s);
      if (lane == 0) sc[j] = s * scale;
    }
    __syncthreads();
    float cmax = -INFINITY;
    for (int j = tid; j < len; j += kAttnThreads) cmax = fmaxf(cmax, sc[j]);
    cmax = BlockReduce<true>(cmax, red);
    const float new_m = fmaxf(m, cmax);
    const float rescale = expf(m - new_m);  // 0 on the first chunk (m = -inf)
    __syncthreads();
    float psum = 0.0f;
    for (int j = tid; j < len; j += kAttnThreads) {
      const float p = expf(sc[j] - new_m);
      sc[j] = p;
      psum += p;
    }
    psum = BlockReduce<false>(psum, red);
    l = l * rescale + psum;
    m = new_m;
    acc0 *= rescale;
    acc1 *= rescale;
    for (int j = 0; j < len; ++j) {
      const __half* v = KvRow(kv, g, table, c0 + j, layer, 1, kvh);
      const float p = sc[j];
      if (tid < hd) acc0 += p * __half2float(v[tid]);
      if (tid + kAttnThreads < hd) acc1 += p * __half2float(v[tid + kAttnThreads]);
    }
  }
  if (n_splits == 1) {  // normalize and write the result directly
    float* o = out + t * static_cast<int64_t>(g.n_heads) * hd + static_cast<int64_t>(h) * hd;
    if (tid < hd) o[tid] = acc0 / l;
    if (tid + kAttnThreads < hd) o[tid + kAttnThreads] = acc1 / l;
    return;
  }
  const int64_t part = (t * g.n_heads + h) * n_splits + split;
  float* o = part_out + part * hd;
  if (tid < hd) o[tid] = acc0;
  if (tid + kAttnThreads < hd) o[tid + kAttnThreads] = acc1;
  if (tid == 0) {
    part_ml[2 * part] = m;
    part_ml[2 * part + 1] = l;
  }
}

__global__ void AttentionCombineKernel(TokenMeta meta, KvGeometry g, int32_t split_len, int total_splits,
                                       const float* __restrict__ part_out, const float* __restrict__ part_ml,
                                       float* __restrict__ out) {
  const int64_t t = blockIdx.x;
  const int h = blockIdx.y, hd = g.head_dim;
  const int n_splits = (meta.pos[t] + 1 + split_len - 1) / split_len;  // splits that saw keys
  const int64_t base = (t * g.n_heads + h) * total_splits;
  float mx = -INFINITY;
  for (int s = 0; s < n_splits; ++s) mx = fmaxf(mx, part_ml[2 * (base + s)]);
  float denom = 0.0f;
  for (int s = 0; s < n_splits; ++s) denom += expf(part_ml[2 * (base + s)] - mx) * part_ml[2 * (base + s) + 1];
  float* o = out + t * static_cast<int64_t>(g.n_heads) * hd + static_cast<int64_t>(h) * hd;
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float v = 0.0f;
    for (int s = 0; s < n_splits; ++s) v += expf(part_ml[2 * (base + s)] - mx) * part_out[(base + s) * hd + d];
    o[d] = v / denom;
  }
}

__global__ void AttentionReferenceKernel(const float* __restrict__ qkv, int64_t ld, int64_t n, TokenMeta meta,
                                         KvGeometry g, int32_t layer, const __half* __restrict__ kv,
                                         float* __restrict__ out) {
  const int64_t item = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (item >= n * g.n_heads) return;
  const int64_t t = item / g.n_heads;
  const int h = static_cast<int>(item % g.n_heads), hd = g.head_dim, kvh = h / (g.n_heads / g.n_kv_heads);
  const int32_t n_ctx = meta.pos[t] + 1;
  const int32_t* table = meta.tables + meta.table_offset[t];
  const float* q = qkv + t * ld + static_cast<int64_t>(h) * hd;
  const float scale = 1.0f / sqrtf(static_cast<float>(hd));
  float mx = -INFINITY;
  for (int32_t j = 0; j < n_ctx; ++j) {
    const __half* k = KvRow(kv, g, table, j, layer, 0, kvh);
    float s = 0.0f;
    for (int d = 0; d < hd; ++d) s += q[d] * __half2float(k[d]);
    mx = fmaxf(mx, s * scale);
  }
  float* o = out + t * static_cast<int64_t>(g.n_heads) * hd + static_cast<int64_t>(h) * hd;
  for (int d = 0; d < hd; ++d) o[d] = 0.0f;
  float sum = 0.0f;
  for (int32_t j = 0; j < n_ctx; ++j) {
    const __half* k = KvRow(kv, g, table, j, layer, 0, kvh);
    const __half* v = KvRow(kv, g, table, j, layer, 1, kvh);
    float s = 0.0f;
    for (int d = 0; d < hd; ++d) s += q[d] * __half2float(k[d]);
    const float p = expf(s * scale - mx);
    sum += p;
    for (int d = 0; d < hd; ++d) o[d] += p * __half2float(v[d]);
  }
  for (int d = 0; d < hd; ++d) o[d] /= sum;
}

int64_t Blocks(int64_t n, int64_t per) { return (n + per - 1) / per; }

// Splits per (token, head): enough blocks for two per SM, each split at least kAttnChunk keys.
int SplitsFor(int64_t n, int32_t max_ctx, const KvGeometry& g, int n_sms) {
  const int64_t pairs = n * g.n_heads;
  const int64_t want = 2 * static_cast<int64_t>(std::max(n_sms, 1));
  if (pairs >= want) return 1;
  const int64_t by_len = Blocks(max_ctx, kAttnChunk);
  return static_cast<int>(std::max<int64_t>(1, std::min(by_len, Blocks(want, pairs))));
}

}  // namespace

void EmbedTokens(const GpuMatrix& table, const int32_t* tokens, int64_t n, float* x, cudaStream_t stream) {
  if (n > 0) EmbedKernel<<<static_cast<unsigned>(n), 256, 0, stream>>>(table, tokens, x);
}

void RmsNormRows(const float* x, const float* w, const int32_t* rows, int64_t n, int32_t dim, float eps, float* y,
                 cudaStream_t stream) {
  if (n > 0) RmsNormKernel<<<static_cast<unsigned>(n), 256, 0, stream>>>(x, w, rows, dim, eps, y);
}

void RopeAndStoreKv(float* qkv, int64_t ld, int64_t n, const TokenMeta& meta, const float* inv_freq,
                    const KvGeometry& g, int32_t layer, uint16_t* kv_cache, cudaStream_t stream) {
  if (n > 0) {
    RopeStoreKernel<<<static_cast<unsigned>(n), 128, 0, stream>>>(qkv, ld, meta, inv_freq, g, layer,
                                                                  reinterpret_cast<__half*>(kv_cache));
  }
}

void RmsNormQuantizeQ8(const float* x, const float* w, int64_t n, int32_t dim, float eps, int8_t* xq, float* xd,
                       cudaStream_t stream) {
  if (n > 0) RmsNormQuantizeKernel<<<static_cast<unsigned>(n), 256, 0, stream>>>(x, w, dim, eps, xq, xd);
}

void SiluMulQuantizeQ8(const float* gu, int64_t n, int64_t ffn, int8_t* xq, float* xd, cudaStream_t stream) {
  const int64_t blocks = n * (ffn / 32);
  if (blocks > 0) SiluMulQuantizeKernel<<<static_cast<unsigned>(Blocks(blocks, 8)), 256, 0, stream>>>(gu, n, ffn, xq, xd);
}

void SiluMulRows(const float* gu, int64_t n, int64_t ffn, float* out, cudaStream_t stream) {
  const int64_t total = n * ffn;
  if (total > 0) SiluMulKernel<<<std::min<int64_t>(Blocks(total, 256), 65535), 256, 0, stream>>>(gu, n, ffn, out);
}

int64_t AttentionPartialFloats(int64_t n, const KvGeometry& g, int n_sms) {
  // Splits are only used while n * n_heads < 2 * n_sms, with at most 2 * n_sms blocks beyond that.
  const int64_t blocks = 4 * static_cast<int64_t>(std::max(n_sms, 1)) + 64;
  return blocks * (g.head_dim + 2);
}

AttentionShape AttentionShapeFor(int64_t n, int32_t max_ctx, const KvGeometry& g, int n_sms) {
  const int splits = SplitsFor(n, max_ctx, g, n_sms);
  const int32_t split_len = static_cast<int32_t>(Blocks(Blocks(max_ctx, splits), kAttnChunk) * kAttnChunk);
  return {split_len, static_cast<int32_t>(Blocks(max_ctx, split_len))};
}

void Attention(const float* qkv, int64_t ld, int64_t n, int32_t max_ctx, const TokenMeta& meta, const KvGeometry& g,
               int32_t layer, const uint16_t* kv_cache, float* partials, int n_sms, float* out, cudaStream_t stream) {
  if (n == 0) return;
  const AttentionShape shape = AttentionShapeFor(n, max_ctx, g, n_sms);
  const int32_t split_len = shape.split_len;
  const int used_splits = shape.splits;
  const dim3 grid(static_cast<unsigned>(n), static_cast<unsigned>(g.n_heads), static_cast<unsigned>(used_splits));
  const int64_t parts = n * g.n_heads * used_splits;
  float* part_out = partials;
  float* part_ml = partials + parts * g.head_dim;
  const auto* kv = reinterpret_cast<const __half*>(kv_cache);
  AttentionSplitKernel<<<grid, kAttnThreads, 0, stream>>>(qkv, ld, meta, g, layer, kv, split_len, part_out, part_ml, out);
  if (used_splits > 1) {
    const dim3 combine_grid(static_cast<unsigned>(n), static_cast<unsigned>(g.n_heads));
    AttentionCombineKernel<<<combine_grid, 128, 0, stream>>>(meta, g, split_len, used_splits, part_out, part_ml, out);
  }
}

void AttentionReference(const float* qkv, int64_t ld, int64_t n, const TokenMeta& meta, const KvGeometry& g,
                        int32_t layer, const uint16_t* kv_cache, float* out, cudaStream_t stream) {
  const int64_t items = n * g.n_heads;
  if (items > 0) {
    AttentionReferenceKernel<<<Blocks(items, 64), 64, 0, stream>>>(qkv, ld, n, meta, g, layer,
                                                                   reinterpret_cast<const __half*>(kv_cache), out);
  }
}

}  // namespace meridian::engine::cuda
