// PackedQ8Weights: packing Q8_0 weights into 8-row interleaved groups (see kernels.h), the
// matmul driver on them, and the scalar packed kernel.
#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/backend/cpu/kernels/kernel_table.h"
#include "engine/backend/cpu/kernels/kernels.h"

namespace meridian::engine::cpu {

using internal::PackedQ8Block;
using internal::RowActs;

namespace {

constexpr int64_t kGroupRows = 8;

// Packs rows [8 * g, 8 * g + 8) of Q8_0 rows `src` (row stride `blocks`) into group g.
void PackGroup(const BlockQ8_0* src, int64_t rows, int64_t blocks, int64_t g, PackedQ8Block* dst) {
  for (int64_t b = 0; b < blocks; ++b) {
    PackedQ8Block& out = dst[g * blocks + b];
    for (int64_t r = 0; r < kGroupRows; ++r) {
      const int64_t row = g * kGroupRows + r;
      if (row >= rows) {
        out.d[r] = 0;
        for (int t = 0; t < 8; ++t) std::memset(out.qs + t * 32 + r * 4, 0, 4);
        continue;
      }
      const BlockQ8_0& in = src[row * blocks + b];
      out.d[r] = in.d;
      for (int t = 0; t < 8; ++t) std::memcpy(out.qs + t * 32 + r * 4, in.qs + 4 * t, 4);
    }
  }
}

// Activation rows quantized for the packed kernels; per calling thread, grown as needed.
struct RowActsScratch {
  std::vector<int8_t> qs;
  std::vector<float> d;
  std::vector<int32_t> xsum;
};

}  // namespace

namespace internal {

void ScalarPackedQ8MatMul(const PackedQ8Block* w, int64_t blocks, int64_t group_begin, int64_t group_end,
                          int64_t rows, const RowActs& x, float* y, int64_t ldy) {
  for (int64_t g = group_begin; g < group_end; ++g) {
    for (int64_t r = 0; r < kGroupRows && g * kGroupRows + r < rows; ++r) {
      for (int64_t i = 0; i < x.m; ++i) {
        const int8_t* xq = x.qs + i * x.row_stride;
        float sum = 0.0f;
        for (int64_t b = 0; b < blocks; ++b) {
          const PackedQ8Block& pb = w[g * blocks + b];
          int32_t dot = 0;
          for (int j = 0; j < kQ8BlockSize; ++j) {
            dot += int32_t{pb.qs[(j / 4) * 32 + r * 4 + j % 4]} * int32_t{xq[b * kQ8BlockSize + j]};
          }
          sum += static_cast<float>(dot) * (Fp16ToFp32(pb.d[r]) * x.d[i * blocks + b]);
        }
        y[i * ldy + g * kGroupRows + r] = sum;
      }
    }
  }
}

}  // namespace internal

PackedQ8Weights PackQ8_0(const WeightTensor& w, ThreadPool* pool) {
  PackedQ8Weights out;
  if (w.rows <= 0 || w.cols <= 0 || w.cols % kQ8BlockSize != 0) return out;
  const int64_t blocks = w.cols / kQ8BlockSize;
  const int64_t groups = (w.rows + kGroupRows - 1) / kGroupRows;
  std::vector<BlockQ8_0> quantized;
  const BlockQ8_0* src = static_cast<const BlockQ8_0*>(w.data);
  if (w.dtype != DType::kQ8_0) {
    quantized.resize(static_cast<size_t>(w.rows * blocks));
    QuantizeMatrixQ8_0(w, quantized.data(), pool);
    src = quantized.data();
  }
  out.rows_ = w.rows;
  out.cols_ = w.cols;
  out.bytes_.resize(static_cast<size_t>(groups * blocks) * sizeof(PackedQ8Block));
  auto* dst = reinterpret_cast<PackedQ8Block*>(out.bytes_.data());
  auto work = [&](int, int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g) PackGroup(src, w.rows, blocks, g, dst);
  };
  if (pool != nullptr) {
    pool->ParallelForDynamic(groups, std::max<int64_t>(1, groups / (pool->size() * 8)), work);
  } else {
    work(0, 0, groups);
  }
  return out;
}

void UnpackQ8_0Row(const PackedQ8Weights& w, int64_t r, BlockQ8_0* out) {
  const int64_t blocks = w.cols() / kQ8BlockSize;
  const auto* groups = reinterpret_cast<const PackedQ8Block*>(w.data());
  const int64_t g = r / kGroupRows, lane = r % kGroupRows;
  for (int64_t b = 0; b < blocks; ++b) {
    const PackedQ8Block& pb = groups[g * blocks + b];
    out[b].d = pb.d[lane];
    for (int t = 0; t < 8; ++t) std::memcpy(out[b].qs + 4 * t, pb.qs + t * 32 + lane * 4, 4);
  }
}

void MatMul(const PackedQ8Weights& w, const float* x, int64_t m, float* y, int64_t ldy, ThreadPool& pool) {
  if (m <= 0 || w.rows() <= 0) return;
  const internal::KernelTable& t = internal::ActiveTable();
  const int64_t k = w.cols(), blocks = k / kQ8BlockSize;
  const int64_t row_stride = (blocks * kQ8BlockSize + 63) / 64 * 64;  // keeps rows 64-byte aligned
  thread_local RowActsScratch scratch;
  if (scratch.qs.size() < static_cast<size_t>(m * row_stride + 64)) {
    scratch.qs.resize(static_cast<size_t>(m * row_stride + 64));
  }
  if (scratch.d.size() < static_cast<size_t>(m * blocks)) {
    scratch.d.resize(static_cast<size_t>(m * blocks));
    scratch.xsum.resize(static_cast<size_t>(m * blocks));
  }
  auto* qs =
      reinterpret_cast<int8_t*>((reinterpret_cast<uintptr_t>(scratch.qs.data()) + 63) & ~uintptr_t{63});
  struct Job {
    const internal::KernelTable* t;
    const PackedQ8Weights* w;
    const float* x;
    int8_t* qs;
    float* d;
    int32_t* xsum;
    int64_t row_stride;
    RowActs acts;
    float* y;
    int64_t ldy;
  } job{&t, &w, x, qs, scratch.d.data(), scratch.xsum.data(), row_stride, RowActs{}, y, ldy};
  job.acts = RowActs{qs, scratch.d.data(), scratch.xsum.data(), m, blocks, row_stride};
  // Quantizes rows [i0, i1) with the ISA's quantizer (bit-identical to QuantizeRowQ8_0); the
  // lambdas capture one pointer, so std::function keeps them inline (no allocation).
  auto quantize = [jp = &job](int, int64_t i0, int64_t i1) {
    const int64_t k = jp->w->cols(), nb = k / kQ8BlockSize;
    thread_local std::vector<BlockQ8_0> row;
    row.resize(static_cast<size_t>(nb));
    for (int64_t i = i0; i < i1; ++i) {
      jp->t->quantize_row(jp->x + i * k, row.data(), k);
      for (int64_t b = 0; b < nb; ++b) {
        std::memcpy(jp->qs + i * jp->row_stride + b * kQ8BlockSize, row[static_cast<size_t>(b)].qs,
                    kQ8BlockSize);
        jp->d[i * nb + b] = Fp16ToFp32(row[static_cast<size_t>(b)].d);
        int32_t sum = 0;
        for (int j = 0; j < kQ8BlockSize; ++j) sum += row[static_cast<size_t>(b)].qs[j];
        jp->xsum[i * nb + b] = sum;
      }
    }
  };
  if (pool.size() > 1 && m * k >= (int64_t{1} << 16)) {
    pool.ParallelFor(m, 1, quantize);
  } else {
    quantize(0, 0, m);
  }
  const int64_t groups = (w.rows() + kGroupRows - 1) / kGroupRows;
  const int threads = pool.size();
  const int64_t chunk =
      threads <= 1 ? groups : std::max<int64_t>(2, groups / (static_cast<int64_t>(threads) * 8));
  pool.ParallelForDynamic(groups, chunk, [jp = &job](int, int64_t g0, int64_t g1) {
    const auto* wg = reinterpret_cast<const PackedQ8Block*>(jp->w->data());
    jp->t->packed_q8_matmul(wg, jp->acts.blocks, g0, g1, jp->w->rows(), jp->acts, jp->y, jp->ldy);
  });
}

}  // namespace meridian::engine::cpu
