// Scalar kernels: the references every SIMD kernel is tested against (MatMulReference,
// QuantizeRowQ8_0, DequantizeRow) and the table used when no SIMD ISA is available or
// MERIDIAN_ISA=scalar. Plain C++, baseline x86-64 (or any other target).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/backend/cpu/kernels/kernel_table.h"
#include "engine/backend/cpu/kernels/kernels.h"

namespace meridian::engine::cpu {

void QuantizeRowQ8_0(const float* x, BlockQ8_0* out, int64_t k) {
  // Exactly GGML's quantize_row_q8_0_ref.
  const int64_t nb = k / kQ8BlockSize;
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * kQ8BlockSize;
    float amax = 0.0f;
    for (int j = 0; j < kQ8BlockSize; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[b].d = Fp32ToFp16(d);
    for (int j = 0; j < kQ8BlockSize; ++j) {
      const float x0 = xb[j] * id;
      out[b].qs[j] = static_cast<int8_t>(std::roundf(x0));
    }
  }
}

namespace internal {

void DequantizeRowReference(DType dtype, const void* src, float* dst, int64_t k) {
  switch (dtype) {
    case DType::kF32: std::memcpy(dst, src, static_cast<size_t>(k) * sizeof(float)); return;
    case DType::kF16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < k; ++i) dst[i] = Fp16ToFp32(h[i]);
      return;
    }
    case DType::kBF16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < k; ++i) dst[i] = Bf16ToFp32(h[i]);
      return;
    }
    case DType::kQ8_0: {
      const auto* blocks = static_cast<const BlockQ8_0*>(src);
      for (int64_t b = 0; b < k / kQ8BlockSize; ++b) {
        const float d = Fp16ToFp32(blocks[b].d);
        for (int j = 0; j < kQ8BlockSize; ++j) dst[b * kQ8BlockSize + j] = d * blocks[b].qs[j];
      }
      return;
    }
  }
}

}  // namespace internal

void MatMulReference(const WeightTensor& w, const float* x, int64_t m, float* y, int64_t ldy) {
  const int64_t k = w.cols;
  if (w.dtype == DType::kQ8_0) {
    const int64_t nb = k / kQ8BlockSize;
    std::vector<BlockQ8_0> xq(static_cast<size_t>(nb));
    const auto* wb = static_cast<const BlockQ8_0*>(w.data);
    for (int64_t i = 0; i < m; ++i) {
      QuantizeRowQ8_0(x + i * k, xq.data(), k);
      for (int64_t r = 0; r < w.rows; ++r) {
        double sum = 0.0;
        for (int64_t b = 0; b < nb; ++b) {
          const BlockQ8_0& bw = wb[r * nb + b];
          int32_t dot = 0;
          for (int j = 0; j < kQ8BlockSize; ++j) dot += int32_t{bw.qs[j]} * int32_t{xq[b].qs[j]};
          sum += static_cast<double>(dot) * (Fp16ToFp32(bw.d) * Fp16ToFp32(xq[b].d));
        }
        y[i * ldy + r] = static_cast<float>(sum);
      }
    }
    return;
  }
  std::vector<float> row(static_cast<size_t>(k));
  const auto* base = static_cast<const uint8_t*>(w.data);
  for (int64_t r = 0; r < w.rows; ++r) {
    internal::DequantizeRowReference(w.dtype, base + r * w.row_bytes(), row.data(), k);
    for (int64_t i = 0; i < m; ++i) {
      double sum = 0.0;
      for (int64_t c = 0; c < k; ++c) sum += static_cast<double>(row[c]) * x[i * k + c];
      y[i * ldy + r] = static_cast<float>(sum);
    }
  }
}

namespace internal {
namespace {

// ---- The scalar table: plain loops, float accumulation as the SIMD kernels do. ----

// Slabs of 8 rows, each row contiguous: qs[row][padded_blocks * 32], d[row][padded_blocks].
constexpr int kScalarSlabRows = 8;

void ScalarPackActSlab(const float* x, int64_t k, int rows, int64_t padded_blocks, int8_t* qs, float* d) {
  const int64_t blocks = k / kQ8BlockSize;
  BlockQ8_0 block;
  for (int r = 0; r < rows; ++r) {
    int8_t* rq = qs + r * padded_blocks * kQ8BlockSize;
    float* rd = d + r * padded_blocks;
    for (int64_t b = 0; b < blocks; ++b) {
      QuantizeRowQ8_0(x + r * k + b * kQ8BlockSize, &block, kQ8BlockSize);
      std::memcpy(rq + b * kQ8BlockSize, block.qs, kQ8BlockSize);
      rd[b] = Fp16ToFp32(block.d);
    }
    std::memset(rq + blocks * kQ8BlockSize, 0, static_cast<size_t>((padded_blocks - blocks) * kQ8BlockSize));
    std::fill(rd + blocks, rd + padded_blocks, 0.0f);
  }
}

void ScalarQ8MatMul(const BlockQ8_0* w, int64_t w_blocks, int64_t row_begin, int64_t row_end,
                    const PackedActs& x, float* y, int64_t ldy) {
  for (int64_t i = 0; i < x.m; ++i) {
    // Row i is (i % 8) rows into slab i / 8.
    const int64_t slab = i / kScalarSlabRows, r = i % kScalarSlabRows;
    const int8_t* q = x.qs + slab * x.slab_q_bytes + r * x.padded_blocks * kQ8BlockSize;
    const float* dx = x.d + slab * x.slab_d_floats + r * x.padded_blocks;
    for (int64_t r = row_begin; r < row_end; ++r) {
      float sum = 0.0f;
      for (int64_t b = 0; b < w_blocks; ++b) {
        const BlockQ8_0& bw = w[r * w_blocks + b];
        int32_t dot = 0;
        for (int j = 0; j < kQ8BlockSize; ++j) dot += int32_t{bw.qs[j]} * int32_t{q[b * kQ8BlockSize + j]};
        sum += static_cast<float>(dot) * (Fp16ToFp32(bw.d) * dx[b]);
      }
      y[i * ldy + r] = sum;
    }
  }
}

void ScalarFloatMatMul(DType dtype, const void* w, int64_t k, int64_t row_begin, int64_t row_end,
                       const float* x, int64_t m, float* y, int64_t ldy) {
  thread_local std::vector<float> row;
  row.resize(static_cast<size_t>(k));
  const uint64_t row_bytes = *DTypeRowBytes(dtype, k);
  for (int64_t r = row_begin; r < row_end; ++r) {
    DequantizeRowReference(dtype, static_cast<const uint8_t*>(w) + r * row_bytes, row.data(), k);
    for (int64_t i = 0; i < m; ++i) {
      float acc[8] = {};
      int64_t c = 0;
      for (; c + 8 <= k; c += 8)
        for (int l = 0; l < 8; ++l) acc[l] += row[c + l] * x[i * k + c + l];
      float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      for (; c < k; ++c) sum += row[c] * x[i * k + c];
      y[i * ldy + r] = sum;
    }
  }
}

uint64_t ScalarReadBytes(const void* data, int64_t bytes, int64_t /*prefetch_bytes*/) {
  const auto* p = static_cast<const uint64_t*>(data);
  uint64_t a = 0, b = 0, c = 0, d = 0;
  for (int64_t i = 0; i < bytes / 8; i += 4) {
    a += p[i];
    b ^= p[i + 1];
    c += p[i + 2];
    d ^= p[i + 3];
  }
  return a + b + c + d;
}

void ScalarRmsNorm(const float* x, const float* w, int64_t n, float eps, float* y) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float scale = 1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(n)) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
}

void ScalarSiluMul(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void ScalarAddInPlace(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void ScalarSoftmax(float* x, int64_t n) {
  if (n <= 0) return;
  float mx = x[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

float ScalarDot(const float* a, const float* b, int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(sum);
}

void ScalarAxpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace

void FillScalar(KernelTable* t) {
  t->act_slab_rows = kScalarSlabRows;
  t->act_block_align = 1;
  t->act_q_bytes_per_block = kScalarSlabRows * kQ8BlockSize;
  t->act_d_per_block = kScalarSlabRows;
  t->pack_act_slab = ScalarPackActSlab;
  t->q8_matmul = ScalarQ8MatMul;
  t->packed_q8_matmul = ScalarPackedQ8MatMul;
  t->float_matmul = ScalarFloatMatMul;
  t->quantize_row = QuantizeRowQ8_0;
  t->read_bytes = ScalarReadBytes;
  t->rms_norm = ScalarRmsNorm;
  t->silu_mul = ScalarSiluMul;
  t->add_in_place = ScalarAddInPlace;
  t->softmax = ScalarSoftmax;
  t->dot_f32 = ScalarDot;
  t->axpy = ScalarAxpy;
  t->dequantize_row = DequantizeRowReference;
}

}  // namespace internal
}  // namespace meridian::engine::cpu
