// MatMul: quantizes the activations once per call into the active ISA's packed layout (Q8_0
// weights), then splits the weight rows across the pool; each thread runs the ISA's kernel.
#include <algorithm>
#include <vector>

#include "engine/backend/cpu/kernels/kernel_table.h"
#include "engine/backend/cpu/kernels/kernels.h"

namespace meridian::engine::cpu {
namespace {

using internal::KernelTable;
using internal::PackedActs;

// A growable 64-byte-aligned scratch buffer; grows, never shrinks, so steady-state calls do not
// allocate.
template <typename T>
class Scratch {
 public:
  T* Get(size_t count) {
    const size_t need = count + 64 / sizeof(T);
    if (storage_.size() < need) storage_.resize(std::max(need, storage_.size() * 3 / 2));
    auto addr = reinterpret_cast<uintptr_t>(storage_.data());
    return reinterpret_cast<T*>((addr + 63) & ~uintptr_t{63});
  }

 private:
  std::vector<T> storage_;
};

// Rows of W per dynamically claimed chunk: several chunks per thread so that a thread slowed by
// another process does not hold the others back, but long enough runs for the prefetchers.
int64_t RowChunk(int64_t rows, int threads) {
  if (threads <= 1) return rows;
  int64_t chunk = rows / (static_cast<int64_t>(threads) * 8);
  chunk = std::max<int64_t>(16, (chunk + 15) / 16 * 16);
  return chunk;
}

}  // namespace

void MatMul(const WeightTensor& w, const float* x, int64_t m, float* y, int64_t ldy, ThreadPool& pool) {
  if (m <= 0 || w.rows <= 0) return;
  const KernelTable& t = internal::ActiveTable();
  const int64_t k = w.cols;
  const int threads = pool.size();
  if (w.dtype != DType::kQ8_0) {
    struct Job {
      const KernelTable* t;
      const WeightTensor* w;
      const float* x;
      int64_t m;
      float* y;
      int64_t ldy;
    } job{&t, &w, x, m, y, ldy};
    // Captures one pointer, so std::function keeps it inline (no allocation).
    pool.ParallelForDynamic(w.rows, RowChunk(w.rows, threads), [jp = &job](int, int64_t r0, int64_t r1) {
      jp->t->float_matmul(jp->w->dtype, jp->w->data, jp->w->cols, r0, r1, jp->x, jp->m, jp->y, jp->ldy);
    });
    return;
  }

  PackedActs acts{};
  acts.m = m;
  acts.slab_rows = t.act_slab_rows;
  acts.blocks = k / kQ8BlockSize;
  acts.padded_blocks = (acts.blocks + t.act_block_align - 1) / t.act_block_align * t.act_block_align;
  const int64_t slabs = (m + acts.slab_rows - 1) / acts.slab_rows;
  const int64_t slab_q = acts.padded_blocks * t.act_q_bytes_per_block;
  const int64_t slab_d = acts.padded_blocks * t.act_d_per_block;
  acts.slab_q_bytes = slab_q;
  acts.slab_d_floats = slab_d;
  // The packed activations belong to the calling thread; workers only read them.
  thread_local Scratch<int8_t> qs_scratch;
  thread_local Scratch<float> d_scratch;
  int8_t* qs = qs_scratch.Get(static_cast<size_t>(slabs * slab_q));
  float* d = d_scratch.Get(static_cast<size_t>(slabs * slab_d));
  acts.qs = qs;
  acts.d = d;
  struct Job {
    const KernelTable* t;
    const WeightTensor* w;
    const float* x;
    PackedActs* acts;
    int8_t* qs;
    float* d;
    float* y;
    int64_t ldy;
  } job{&t, &w, x, &acts, qs, d, y, ldy};
  // Lambdas capture one pointer, so std::function keeps them inline (no allocation).
  auto pack = [jp = &job](int, int64_t s0, int64_t s1) {
    const PackedActs& a = *jp->acts;
    const int64_t k = jp->w->cols;
    for (int64_t s = s0; s < s1; ++s) {
      const int rows = static_cast<int>(std::min<int64_t>(a.slab_rows, a.m - s * a.slab_rows));
      jp->t->pack_act_slab(jp->x + s * a.slab_rows * k, k, rows, a.padded_blocks, jp->qs + s * a.slab_q_bytes,
                           jp->d + s * a.slab_d_floats);
    }
  };
  if (threads > 1 && slabs > 1 && m * k >= (int64_t{1} << 16)) {
    pool.ParallelFor(slabs, 1, pack);
  } else {
    pack(0, 0, slabs);
  }
  pool.ParallelForDynamic(w.rows, RowChunk(w.rows, threads), [jp = &job](int, int64_t r0, int64_t r1) {
    const int64_t blocks = jp->w->cols / kQ8BlockSize;
    jp->t->q8_matmul(static_cast<const BlockQ8_0*>(jp->w->data), blocks, r0, r1, *jp->acts, jp->y, jp->ldy);
  });
}

}  // namespace meridian::engine::cpu
