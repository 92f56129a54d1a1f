// CPU kernels of the llama forward pass, with runtime dispatch between a scalar reference and
// SIMD variants (AVX2, AVX-512, AVX-512 VNNI). Every fast kernel is tested against the scalar one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

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

//! Scalar reference of MatMul (single thread), for tests.
void MatMulReference(const WeightTensor& w, const float* x, int64_t m, float* y, int64_t ldy);

//! Reference Q8_0 quantization of one row (k a multiple of 32): d = max|x| / 127, q = round(x/d).
void QuantizeRowQ8_0(const float* x, BlockQ8_0* out, int64_t k);
//! Quantizes `rows` rows of an F32/F16/BF16 matrix to Q8_0, in parallel.
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

//! The machine's memory read bandwidth in GB/s (1e9 bytes/s): every pool thread streams through
//! its share of a `bytes` buffer (far bigger than the caches), best of a few passes. The baseline
//! that decode throughput is compared to. Returns 0 if the buffer cannot be allocated.
double MeasureReadBandwidthGBs(ThreadPool& pool, size_t bytes = size_t{1} << 30);

}  // namespace meridian::engine::cpu
