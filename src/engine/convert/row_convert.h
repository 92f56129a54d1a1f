// Row-level helpers shared by the GGUF exporter, the Hugging Face checkpoint reader and the
// random-model generator: dtype encoding of one row, the LLaMA Q/K row permutation between
// Hugging Face and GGUF order, and a small parallel loop over rows.
#pragma once

#include <cstdint>
#include <functional>

#include "core/status.h"
#include "engine/dtype/dtype.h"

namespace meridian::engine::convert {

//! Encodes n f32 values as `dtype` into `out` (DTypeRowBytes(dtype, n) bytes): F32 copied,
//! F16/BF16 rounded to nearest even, Q8_0 through cpu::QuantizeRowQ8_0 (n a multiple of 32).
void EncodeRow(const float* src, int64_t n, DType dtype, uint8_t* out);

//! Hugging Face stores Q and K projection rows per head as [first halves | second halves]
//! (rotate_half RoPE); GGUF interleaves them (pairs x[2i], x[2i+1]), as llama.cpp's
//! convert_hf_to_gguf.py permutes: w.reshape(n_head, 2, hd/2, in).swapaxes(1, 2). Within head h,
//! GGUF row h*hd + 2i + j holds Hugging Face row h*hd + j*hd/2 + i.
inline int64_t HfRowForGgufRow(int64_t gguf_row, int64_t head_dim) {
  const int64_t h = gguf_row / head_dim, r = gguf_row % head_dim;
  return h * head_dim + (r % 2) * (head_dim / 2) + r / 2;
}
//! The inverse of HfRowForGgufRow.
inline int64_t GgufRowForHfRow(int64_t hf_row, int64_t head_dim) {
  const int64_t h = hf_row / head_dim, r = hf_row % head_dim, half = head_dim / 2;
  return h * head_dim + 2 * (r % half) + r / half;
}

//! Threads to use for `requested` (0: all hardware threads).
int ResolveThreads(int requested);

//! Calls fn(begin, end) over [0, n) split into contiguous ranges on up to `n_threads` threads
//! (the caller's thread included); returns the first error any range reported. Ranges are
//! multiples of `grain` long except the last. Results must not depend on the split.
Status ParallelRows(int64_t n, int n_threads, int64_t grain,
                    const std::function<Status(int64_t, int64_t)>& fn);

}  // namespace meridian::engine::convert
