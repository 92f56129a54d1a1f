// CPU kernels of the llama forward pass, with runtime dispatch between a scalar reference and
// SIMD variants (AVX2, AVX-512, AVX-512 VNNI). Every fast kernel is tested against the scalar one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/backend/cpu/kernels/thread_pool.h"
#include "engine/dtype/dtype.h"
#include "engine/model/weight_tensor.h"

namespace meridian::engine::cpu {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Vnni = 3 };
const char* IsaName(Isa isa);
//! The best ISA this CPU supports (cpuid + OS support for the registers).
Isa DetectIsa();
//! The ISA kernels use now: DetectIsa() unless overridden (tests, MERIDIAN_ISA=scalar|avx2|...).
Isa ActiveIsa();
//! Forces an ISA (clamped to what the CPU supports); returns the one in effect.
Isa SetActiveIsa(Isa isa);
//! "scalar", "avx2", "avx512", "avx512vnni" (the names MERIDIAN_ISA takes); nullopt otherwise.
std::optional<Isa> IsaFromName(std::string_view name);
//! Whether kernels of `isa` can run here (each ISA level includes the ones below it).
bool IsaSupported(Isa isa);

//! Y[m, n] = sum_k W[n, k] * X[m, k] for n in [0, w.rows), k in [0, w.cols).
//! X is f32 [m, w.cols] (row stride w.cols), Y is f32 [m, w.rows] (row stride ldy >= w.rows).
//! W may be F32, F16, BF16 or Q8_0; for Q8_0 the activations are quantized to Q8_0 blocks
//! (as GGML does) and the products use integer dot products. Reads each weight byte once per
//! call whatever m is. Splits the rows of W across the pool.
void MatMul(const WeightTensor& w, const float* x, int64_t m, float* y, int64_t ldy, ThreadPool& pool);

//! Q8_0 weights rearranged for the CPU kernels, built once (at model load) by PackQ8_0. Rows
//! come in groups of 8; for each group and block, the 8 rows' fp16 scales are followed by their
//! 32 values interleaved 4 bytes at a time (one 32-byte vector holds 4 values of each of the 8
//! rows). Same size as Q8_0, plus zero rows padding the last group. MatMul on it computes what
//! MatMul on the original computes, up to float summation order, with about a third less work
//! per weight byte for m = 1 on AVX2 (a 32-byte vector of weights serves 8 rows at once, and
//! scales are applied once per block for 8 rows), which keeps decode memory-bound.
class PackedQ8Weights {
 public:
  PackedQ8Weights() = default;
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  //! Bytes of packed data (what a matmul streams).
  size_t n_bytes() const { return bytes_.size(); }
  const uint8_t* data() const { return bytes_.data(); }

 private:
  friend PackedQ8Weights PackQ8_0(const WeightTensor& w, ThreadPool* pool);
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  std::vector<uint8_t> bytes_;
};

//! Packs a weight matrix for MatMul(PackedQ8Weights...). Q8_0 is rearranged losslessly; F32, F16
//! and BF16 are first quantized to Q8_0 (as QuantizeMatrixQ8_0). Parallel if a pool is given.
//! Returns an empty object (rows() == 0) when cols is not a positive multiple of 32.
PackedQ8Weights PackQ8_0(const WeightTensor& w, ThreadPool* pool = nullptr);
//! Y[m, w.rows()] = X[m, w.cols()] * W^T on packed weights; same contract as MatMul.
void MatMul(const PackedQ8Weights& w, const float* x, int64_t m, float* y, int64_t ldy, ThreadPool& pool);
//! Restores row r of packed weights as Q8_0 blocks (w.cols() / 32 of them), e.g. for tests.
void UnpackQ8_0Row(const PackedQ8Weights& w, int64_t r, BlockQ8_0* out);

//! Scalar reference of MatMul (single thread), for tests.
void MatMulReference(const WeightTensor& w, const float* x, int64_t m, float* y, int64_t ldy);

//! Reference Q8_0 quantization of one row (k a multiple of 32): d = max|x| / 127, q = round(x/d).
void QuantizeRowQ8_0(const float* x, BlockQ8_0* out, int64_t k);
//! Quantizes the rows of an F32/F16/BF16 matrix to Q8_0 (a Q8_0 matrix is copied), in parallel
//! when a pool is given; bit-identical to QuantizeRowQ8_0 on every ISA.
void QuantizeMatrixQ8_0(const WeightTensor& src, BlockQ8_0* out, ThreadPool* pool);
//! Converts one row of any supported dtype to f32.
void DequantizeRow(DType dtype, const void* src, float* dst, int64_t k);

//! y = x / sqrt(mean(x^2) + eps) * w, over n elements (y may alias x).
void RmsNorm(const float* x, const float* w, int64_t n, float eps, float* y);
//! out[i] = silu(gate[i]) * up[i].
void SiluMul(const float* gate, const float* up, int64_t n, float* out);
//! x[i] += y[i].
void AddInPlace(float* x, const float* y, int64_t n);
//! Numerically stable in-place softmax over n elements.
void Softmax(float* x, int64_t n);
//! Dot product of two f32 vectors.
float DotF32(const float* a, const float* b, int64_t n);
//! y[i] += a * x[i].
void Axpy(float a, const float* x, float* y, int64_t n);

//! The machine's memory read bandwidth in GB/s (1e9 bytes/s): all pool threads stream through a
//! `bytes` buffer (far bigger than the caches), claiming 1 MiB pieces as they go, with and
//! without software prefetch, best of 6 passes. The baseline that decode throughput is compared
//! to. Returns 0 if the buffer cannot be allocated.
double MeasureReadBandwidthGBs(ThreadPool& pool, size_t bytes = size_t{1} << 30);

}  // namespace meridian::engine::cpu
