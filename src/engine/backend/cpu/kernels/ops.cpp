// Public entry points of the vector kernels, matrix quantization and the read-bandwidth probe:
// each dispatches through the active ISA's table.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/backend/cpu/kernels/kernel_table.h"
#include "engine/backend/cpu/kernels/kernels.h"

namespace meridian::engine::cpu {

using internal::ActiveTable;

void RmsNorm(const float* x, const float* w, int64_t n, float eps, float* y) {
  if (n > 0) ActiveTable().rms_norm(x, w, n, eps, y);
}
void SiluMul(const float* gate, const float* up, int64_t n, float* out) {
  if (n > 0) ActiveTable().silu_mul(gate, up, n, out);
}
void AddInPlace(float* x, const float* y, int64_t n) {
  if (n > 0) ActiveTable().add_in_place(x, y, n);
}
void Softmax(float* x, int64_t n) {
  if (n > 0) ActiveTable().softmax(x, n);
}
float DotF32(const float* a, const float* b, int64_t n) {
  return n > 0 ? ActiveTable().dot_f32(a, b, n) : 0.0f;
}
void Axpy(float a, const float* x, float* y, int64_t n) {
  if (n > 0) ActiveTable().axpy(a, x, y, n);
}
void DequantizeRow(DType dtype, const void* src, float* dst, int64_t k) {
  if (k > 0) ActiveTable().dequantize_row(dtype, src, dst, k);
}

void QuantizeMatrixQ8_0(const WeightTensor& src, BlockQ8_0* out, ThreadPool* pool) {
  const int64_t k = src.cols;
  const int64_t nb = k / kQ8BlockSize;
  if (src.rows <= 0 || nb <= 0) return;
  const auto* base = static_cast<const uint8_t*>(src.data);
  const uint64_t row_bytes = src.row_bytes();
  auto work = [&](int, int64_t r0, int64_t r1) {
    const internal::KernelTable& t = ActiveTable();
    if (src.dtype == DType::kQ8_0) {
      std::memcpy(out + r0 * nb, base + r0 * row_bytes, static_cast<size_t>((r1 - r0) * row_bytes));
      return;
    }
    std::vector<float> row(src.dtype == DType::kF32 ? 0 : static_cast<size_t>(k));
    for (int64_t r = r0; r < r1; ++r) {
      const void* in = base + r * row_bytes;
      const float* f = static_cast<const float*>(in);
      if (src.dtype != DType::kF32) {
        t.dequantize_row(src.dtype, in, row.data(), k);
        f = row.data();
      }
      t.quantize_row(f, out + r * nb, k);
    }
  };
  if (pool == nullptr) {
    work(0, 0, src.rows);
  } else {
    pool->ParallelForDynamic(src.rows, std::max<int64_t>(1, src.rows / (pool->size() * 8)), work);
  }
}

double MeasureReadBandwidthGBs(ThreadPool& pool, size_t bytes) {
  constexpr size_t kAlign = 4096;
  constexpr int64_t kUnit = 1 << 16;  // bytes per split unit: a multiple of what read_bytes needs
  constexpr int64_t kUnitsPerClaim = 16;
  bytes = std::max<size_t>(bytes / kUnit * kUnit, kUnit);
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> buffer(static_cast<uint8_t*>(std::aligned_alloc(kAlign, bytes)));
  if (!buffer) return 0.0;
  uint8_t* data = buffer.get();
  const int64_t units = static_cast<int64_t>(bytes) / kUnit;
  // The pool touches the pages first, spread over its threads (and their NUMA nodes).
  pool.ParallelFor(units, 1, [data](int, int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) std::memset(data + u * kUnit, static_cast<int>(u & 0x7f), kUnit);
  });
  const internal::KernelTable& t = ActiveTable();
  std::vector<uint64_t> sinks(static_cast<size_t>(pool.size()) * 8, 0);  // a cache line per thread
  // Plain loads (what the hardware prefetchers alone give) and loads with software prefetch 1 and
  // 4 KiB ahead (more misses in flight per core, which some CPUs need to reach full bandwidth):
  // the best pass of any variant is the baseline, so kernels are never flattered by a weak probe.
  const int64_t kPrefetch[] = {0, 1024, 4096};
  double best = 0.0;
  for (int pass = 0; pass < 6; ++pass) {
    const int64_t prefetch = kPrefetch[pass % 3];
    const auto start = std::chrono::steady_clock::now();
    // Claimed 1 MiB at a time, so a thread slowed by another process does not hold the pass back.
    pool.ParallelForDynamic(units, kUnitsPerClaim, [&](int tid, int64_t u0, int64_t u1) {
      sinks[static_cast<size_t>(tid) * 8] += t.read_bytes(data + u0 * kUnit, (u1 - u0) * kUnit, prefetch);
    });
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (secs > 0) best = std::max(best, static_cast<double>(bytes) / secs / 1e9);
  }
  // Keeps the sums observable so that the reads cannot be optimized away.
  volatile uint64_t sink = 0;
  for (uint64_t s : sinks) sink = sink + s;
  return best;
}

}  // namespace meridian::engine::cpu
