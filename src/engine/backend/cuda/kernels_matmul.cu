// Matrix-product kernels of the CUDA backend: activation quantization, the Q8_0 and F16
// matrix-vector kernels for decode batches, the tensor-core (WMMA) GEMM for prefill and large
// batches, and the scalar reference they are tested against.
#include <cuda_fp16.h>
#include <mma.h>

#include <algorithm>

#include "engine/backend/cuda/kernels.h"

namespace meridian::engine::cuda {
namespace {

constexpr int kWarp = 32;

__device__ __forceinline__ float WarpSum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float HalfBits(uint16_t bits) { return __half2float(__ushort_as_half(bits)); }

// One warp per 32-value block; identical arithmetic to GGML's quantize_row_q8_0_ref.
__global__ void QuantizeQ8Kernel(const float* __restrict__ x, int64_t n_blocks, int8_t* __restrict__ xq,
                                 float* __restrict__ xd) {
  const int64_t block = blockIdx.x * (int64_t)(blockDim.x / kWarp) + threadIdx.x / kWarp;
  if (block >= n_blocks) return;
  const int lane = threadIdx.x % kWarp;
  const float v = x[block * 32 + lane];
  float amax = fabsf(v);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  xq[block * 32 + lane] = static_cast<int8_t>(roundf(v * id));
  if (lane == 0) xd[block] = __half2float(__float2half_rn(d));
}

__global__ void ToHalfKernel(const float* __restrict__ x, int64_t n, __half* __restrict__ y) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    y[i] = __float2half_rn(x[i]);
  }
}

constexpr int kMvWarps = 4;  // rows per block: one warp per weight row

template <int M>
__device__ __forceinline__ void StoreRows(float (&acc)[M], int m, int lane, float* y, int64_t n_rows, int64_t row,
                                          bool accumulate) {
#pragma unroll
  for (int i = 0; i < M; ++i) {
    if (i >= m) break;
    const float s = WarpSum(acc[i]);
    if (lane == 0) {
      float* out = y + i * n_rows + row;
      *out = accumulate ? *out + s : s;
    }
  }
}

// Each lane takes 16 weights (one uint4) per step; adjacent lanes read adjacent bytes, and the
// M activation rows are read from L1/L2, so the weights are streamed from memory once.
template <int M>
__global__ void __launch_bounds__(kMvWarps * kWarp)
    MatVecQ8Kernel(const int8_t* __restrict__ qs, const __half* __restrict__ scales, const int8_t* __restrict__ xq,
                   const float* __restrict__ xd, float* __restrict__ y, int m, int64_t n_rows, int64_t k,
                   bool accumulate) {
  const int lane = threadIdx.x % kWarp;
  const int64_t row = blockIdx.x * (int64_t)kMvWarps + threadIdx.x / kWarp;
  if (row >= n_rows) return;
  const int64_t chunks = k / 16, kb = k / 32;
  const int8_t* wrow = qs + row * k;
  const __half* srow = scales + row * kb;
  float acc[M];
#pragma unroll
  for (int i = 0; i < M; ++i) acc[i] = 0.0f;
#pragma unroll 4
  for (int64_t c = lane; c < chunks; c += kWarp) {
    const int4 w = __ldg(reinterpret_cast<const int4*>(wrow + c * 16));
    const float dw = __half2float(srow[c >> 1]);
#pragma unroll
    for (int i = 0; i < M; ++i) {
      if (i >= m) break;
      const int4 a = __ldg(reinterpret_cast<const int4*>(xq + i * k + c * 16));
      int s = __dp4a(w.x, a.x, 0);
      s = __dp4a(w.y, a.y, s);
      s = __dp4a(w.z, a.z, s);
      s = __dp4a(w.w, a.w, s);
      acc[i] += dw * __ldg(xd + i * kb + (c >> 1)) * static_cast<float>(s);
    }
  }
  StoreRows<M>(acc, m, lane, y, n_rows, row, accumulate);
}

template <int M>
__global__ void __launch_bounds__(kMvWarps * kWarp)
    MatVecF16Kernel(const __half* __restrict__ w, const float* __restrict__ x, float* __restrict__ y, int m,
                    int64_t n_rows, int64_t k, bool accumulate) {
  const int lane = threadIdx.x % kWarp;
  const int64_t row = blockIdx.x * (int64_t)kMvWarps + threadIdx.x / kWarp;
  if (row >= n_rows) return;
  const int64_t chunks = k / 8;
  const __half* wrow = w + row * k;
  float acc[M];
#pragma unroll
  for (int i = 0; i < M; ++i) acc[i] = 0.0f;
#pragma unroll 4
  for (int64_t c = lane; c < chunks; c += kWarp) {
    const uint4 raw = __ldg(reinterpret_cast<const uint4*>(wrow + c * 8));
    const __half2* h = reinterpret_cast<const __half2*>(&raw);
    float wf[8];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const float2 f = __half22float2(h[j]);
      wf[2 * j] = f.x;
      wf[2 * j + 1] = f.y;
    }
#pragma unroll
    for (int i = 0; i < M; ++i) {
      if (i >= m) break;
      const float4 a0 = __ldg(reinterpret_cast<const float4*>(x + i * k + c * 8));
      const float4 a1 = __ldg(reinterpret_cast<const float4*>(x + i * k + c * 8 + 4));
      acc[i] += wf[0] * a0.x + wf[1] * a0.y + wf[2] * a0.z + wf[3] * a0.w + wf[4] * a1.x + wf[5] * a1.y +
                wf[6] * a1.z + wf[7] * a1.w;
    }
  }
  StoreRows<M>(acc, m, lane, y, n_rows, row, accumulate);
}

// ---- tensor-core GEMM: y[m][n] (+)= x[m][k] . W[n][k]^T ----
constexpr int kBm = 64, kBn = 64, kBk = 32, kPad = 8, kGemmThreads = 128;

template <bool kQ8>
__global__ void __launch_bounds__(kGemmThreads)
    GemmWmmaKernel(const int8_t* __restrict__ qs, const __half* __restrict__ scales, const __half* __restrict__ wf,
                   const __half* __restrict__ x, float* __restrict__ y, int64_t m, int64_t n, int64_t k,
                   int64_t k_per_split, bool accumulate, bool atomic) {
  using namespace nvcuda;
  __shared__ __align__(32) __half as[kBm][kBk + kPad];
  __shared__ __align__(32) __half bs[kBn][kBk + kPad];
  __shared__ __align__(32) float cs[kBm][kBn + 4];
  const int tid = threadIdx.x, warp = tid / kWarp;
  const int64_t m0 = blockIdx.y * (int64_t)kBm, n0 = blockIdx.x * (int64_t)kBn;
  const int64_t k_begin = blockIdx.z * k_per_split, k_end = min(k, k_begin + k_per_split);
  const int wm = (warp / 2) * 32, wn = (warp % 2) * 32;

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

  const int lr = tid / 2, lc = (tid % 2) * 16;  // each thread loads 16 values of one tile row
  for (int64_t k0 = k_begin; k0 < k_end; k0 += kBk) {
    {
      uint4 v0 = make_uint4(0, 0, 0, 0), v1 = v0;
      if (m0 + lr < m) {
        const __half* src = x + (m0 + lr) * k + k0 + lc;
        v0 = *reinterpret_cast<const uint4*>(src);
        v1 = *reinterpret_cast<const uint4*>(src + 8);
      }
      *reinterpret_cast<uint4*>(&as[lr][lc]) = v0;
      *reinterpret_cast<uint4*>(&as[lr][lc + 8]) = v1;
    }
    {
      uint4 v0 = make_uint4(0, 0, 0, 0), v1 = v0;
      if (n0 + lr < n) {
        if constexpr (kQ8) {
          const int4 q = __ldg(reinterpret_cast<const int4*>(qs + (n0 + lr) * k + k0 + lc));
          const float d = __half2float(scales[(n0 + lr) * (k / 32) + k0 / 32]);
          const int8_t* qb = reinterpret_cast<const int8_t*>(&q);
          __half2* h0 = reinterpret_cast<__half2*>(&v0);
          __half2* h1 = reinterpret_cast<__half2*>(&v1);
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            h0[j] = __floats2half2_rn(d * qb[2 * j], d * qb[2 * j + 1]);
            h1[j] = __floats2half2_rn(d * qb[8 + 2 * j], d * qb[8 + 2 * j + 1]);
          }
        } else {
          const __half* src = wf + (n0 + lr) * k + k0 + lc;
          v0 = __ldg(reinterpret_cast<const uint4*>(src));
          v1 = __ldg(reinterpret_cast<const uint4*>(src + 8));
        }
      }
      *reinterpret_cast<uint4*>(&bs[lr][lc]) = v0;
      *reinterpret_cast<uint4*>(&bs[lr][lc + 8]) = v1;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBk; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> b[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a[i], &as[wm + 16 * i][kk], kBk + kPad);
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], &bs[wn + 16 * j][kk], kBk + kPad);
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(&cs[wm + 16 * i][wn + 16 * j], acc[i][j], kBn + 4, wmma::mem_row_major);
  __syncthreads();
  for (int e = tid; e < kBm * kBn; e += kGemmThreads) {
    const int r = e / kBn, c = e % kBn;
    if (m0 + r >= m || n0 + c >= n) continue;
    float* out = y + (m0 + r) * n + n0 + c;
    if (atomic) {
      atomicAdd(out, cs[r][c]);
    } else {
      *out = accumulate ? *out + cs[r][c] : cs[r][c];
    }
  }
}

__global__ void GemmReferenceKernel(GpuMatrix w, const float* __restrict__ x, int64_t m, float* __restrict__ y,
                                    bool accumulate) {
  const int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (idx >= m * w.rows) return;
  const int64_t i = idx / w.rows, r = idx % w.rows;
  float sum = 0.0f;
  for (int64_t c = 0; c < w.cols; ++c) {
    const float wv = w.type == GpuWeightType::kQ8 ? HalfBits(w.scales[r * (w.cols / 32) + c / 32]) * w.qs[r * w.cols + c]
                                                  : HalfBits(w.f16[r * w.cols + c]);
    sum += wv * x[i * w.cols + c];
  }
  y[idx] = accumulate ? y[idx] + sum : sum;
}

int64_t Blocks(int64_t n, int64_t per) { return (n + per - 1) / per; }

}  // namespace

void QuantizeRowsQ8(const float* x, int64_t m, int64_t k, int8_t* xq, float* xd, cudaStream_t stream) {
  const int64_t n_blocks = m * k / 32;
  if (n_blocks == 0) return;
  QuantizeQ8Kernel<<<Blocks(n_blocks, 8), 256, 0, stream>>>(x, n_blocks, xq, xd);
}

void ConvertToHalf(const float* x, int64_t n, uint16_t* y, cudaStream_t stream) {
  if (n == 0) return;
  const int64_t blocks = std::min<int64_t>(Blocks(n, 256), 65535);
  ToHalfKernel<<<blocks, 256, 0, stream>>>(x, n, reinterpret_cast<__half*>(y));
}

void MatVecQ8(const GpuMatrix& w, const int8_t* xq, const float* xd, int m, float* y, bool accumulate,
              cudaStream_t stream) {
  const auto* sc = reinterpret_cast<const __half*>(w.scales);
  const dim3 grid(static_cast<unsigned>(Blocks(w.rows, kMvWarps))), block(kMvWarps * kWarp);
  if (m == 1) {
    MatVecQ8Kernel<1><<<grid, block, 0, stream>>>(w.qs, sc, xq, xd, y, m, w.rows, w.cols, accumulate);
  } else if (m == 2) {
    MatVecQ8Kernel<2><<<grid, block, 0, stream>>>(w.qs, sc, xq, xd, y, m, w.rows, w.cols, accumulate);
  } else if (m <= 4) {
    MatVecQ8Kernel<4><<<grid, block, 0, stream>>>(w.qs, sc, xq, xd, y, m, w.rows, w.cols, accumulate);
  } else {
    MatVecQ8Kernel<kMaxMatVecRows><<<grid, block, 0, stream>>>(w.qs, sc, xq, xd, y, m, w.rows, w.cols, accumulate);
  }
}

void MatVecF16(const GpuMatrix& w, const float* x, int m, float* y, bool accumulate, cudaStream_t stream) {
  const auto* wf = reinterpret_cast<const __half*>(w.f16);
  const dim3 grid(static_cast<unsigned>(Blocks(w.rows, kMvWarps))), block(kMvWarps * kWarp);
  if (m == 1) {
    MatVecF16Kernel<1><<<grid, block, 0, stream>>>(wf, x, y, m, w.rows, w.cols, accumulate);
  } else if (m == 2) {
    MatVecF16Kernel<2><<<grid, block, 0, stream>>>(wf, x, y, m, w.rows, w.cols, accumulate);
  } else if (m <= 4) {
    MatVecF16Kernel<4><<<grid, block, 0, stream>>>(wf, x, y, m, w.rows, w.cols, accumulate);
  } else {
    MatVecF16Kernel<kMaxMatVecRows><<<grid, block, 0, stream>>>(wf, x, y, m, w.rows, w.cols, accumulate);
  }
}

void GemmTensorCore(const GpuMatrix& w, const uint16_t* x_half, int64_t m, float* y, bool accumulate, int n_sms,
                    cudaStream_t stream) {
  if (m == 0) return;
  const int64_t tiles = Blocks(m, kBm) * Blocks(w.rows, kBn);
  // Split K so that small grids (decode batches) still put two blocks on every SM.
  int64_t splits = 1;
  const int64_t want = 2 * static_cast<int64_t>(std::max(n_sms, 1));
  if (tiles < want) splits = std::min<int64_t>(Blocks(want, tiles), w.cols / 256);
  splits = std::max<int64_t>(splits, 1);
  const int64_t k_per_split = Blocks(w.cols / kBk, splits) * kBk;
  splits = Blocks(w.cols, k_per_split);
  const bool atomic = splits > 1;
  if (atomic && !accumulate) cudaMemsetAsync(y, 0, static_cast<size_t>(m * w.rows) * sizeof(float), stream);
  const dim3 grid(static_cast<unsigned>(Blocks(w.rows, kBn)), static_cast<unsigned>(Blocks(m, kBm)),
                  static_cast<unsigned>(splits));
  const auto* xh = reinterpret_cast<const __half*>(x_half);
  if (w.type == GpuWeightType::kQ8) {
    GemmWmmaKernel<true><<<grid, kGemmThreads, 0, stream>>>(w.qs, reinterpret_cast<const __half*>(w.scales), nullptr,
                                                            xh, y, m, w.rows, w.cols, k_per_split, accumulate, atomic);
  } else {
    GemmWmmaKernel<false><<<grid, kGemmThreads, 0, stream>>>(nullptr, nullptr, reinterpret_cast<const __half*>(w.f16),
                                                             xh, y, m, w.rows, w.cols, k_per_split, accumulate, atomic);
  }
}

void GemmReference(const GpuMatrix& w, const float* x, int64_t m, float* y, bool accumulate, cudaStream_t stream) {
  const int64_t total = m * w.rows;
  if (total == 0) return;
  GemmReferenceKernel<<<Blocks(total, 128), 128, 0, stream>>>(w, x, m, y, accumulate);
}

}  // namespace meridian::engine::cuda
