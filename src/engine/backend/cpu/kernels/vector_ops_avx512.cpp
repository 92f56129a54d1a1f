// AVX-512 F32/F16/BF16 matmul and streaming read. The vector ops of the forward pass stay on
// their AVX2 versions (they are memory-bound and a small share of the time). Compiled with the
// AVX-512 flags; see kernel_table.h for what this file may define.
// GCC 12 warns that the _mm*_undefined_* pass-through operands inside its own AVX-512 intrinsics
// are uninitialized (GCC bug 105593, a false positive); silence only that, before the include.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "engine/backend/cpu/kernels/kernel_table.h"

namespace meridian::engine::cpu::internal {
namespace {

// Up to 16 weights of a row from element c (n valid lanes, the others 0), widened to f32.
template <DType D>
inline __m512 LoadW(const void* w, int64_t c, __mmask16 mask) {
  if constexpr (D == DType::kF32) {
    return _mm512_maskz_loadu_ps(mask, static_cast<const float*>(w) + c);
  } else if constexpr (D == DType::kF16) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(w) + c));
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(w) + c);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

template <DType D, int RM, int RN>
void FloatTile(const uint8_t* w, int64_t w_row_bytes, int64_t k, const float* x, float* y, int64_t ldy) {
  __m512 acc[RM][RN];
  for (int i = 0; i < RM; ++i)
    for (int j = 0; j < RN; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t c = 0; c < k; c += 16) {
    const __mmask16 mask = k - c >= 16 ? __mmask16{0xffff} : static_cast<__mmask16>((1u << (k - c)) - 1);
    __m512 wv[RN];
    for (int j = 0; j < RN; ++j) wv[j] = LoadW<D>(w + j * w_row_bytes, c, mask);
    for (int i = 0; i < RM; ++i) {
      const __m512 xv = _mm512_maskz_loadu_ps(mask, x + i * k + c);
      for (int j = 0; j < RN; ++j) acc[i][j] = _mm512_fmadd_ps(wv[j], xv, acc[i][j]);
    }
  }
  for (int i = 0; i < RM; ++i)
    for (int j = 0; j < RN; ++j) y[i * ldy + j] = _mm512_reduce_add_ps(acc[i][j]);
}

template <DType D, int RM, int RN>
void FloatRows(const uint8_t* w, int64_t w_row_bytes, int64_t k, int64_t r0, int64_t r1, const float* x,
               float* y, int64_t ldy) {
  int64_t r = r0;
  for (; r + RN <= r1; r += RN) FloatTile<D, RM, RN>(w + r * w_row_bytes, w_row_bytes, k, x, y + r, ldy);
  for (; r < r1; ++r) FloatTile<D, RM, 1>(w + r * w_row_bytes, w_row_bytes, k, x, y + r, ldy);
}

template <DType D>
void FloatMatMulTyped(const void* w, int64_t k, int64_t row_begin, int64_t row_end, const float* x, int64_t m,
                      float* y, int64_t ldy) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const int64_t row_bytes = k * static_cast<int64_t>(D == DType::kF32 ? 4 : 2);
  constexpr int64_t kPanel = 16;
  for (int64_t p0 = row_begin; p0 < row_end; p0 += kPanel) {
    const int64_t p1 = p0 + kPanel < row_end ? p0 + kPanel : row_end;
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) FloatRows<D, 4, 4>(wb, row_bytes, k, p0, p1, x + i * k, y + i * ldy, ldy);
    switch (m - i) {
      case 3: FloatRows<D, 3, 4>(wb, row_bytes, k, p0, p1, x + i * k, y + i * ldy, ldy); break;
      case 2: FloatRows<D, 2, 8>(wb, row_bytes, k, p0, p1, x + i * k, y + i * ldy, ldy); break;
      case 1: FloatRows<D, 1, 8>(wb, row_bytes, k, p0, p1, x + i * k, y + i * ldy, ldy); break;
      default: break;
    }
  }
}

void FloatMatMulAvx512(DType dtype, const void* w, int64_t k, int64_t row_begin, int64_t row_end,
                       const float* x, int64_t m, float* y, int64_t ldy) {
  switch (dtype) {
    case DType::kF32: FloatMatMulTyped<DType::kF32>(w, k, row_begin, row_end, x, m, y, ldy); return;
    case DType::kF16: FloatMatMulTyped<DType::kF16>(w, k, row_begin, row_end, x, m, y, ldy); return;
    case DType::kBF16: FloatMatMulTyped<DType::kBF16>(w, k, row_begin, row_end, x, m, y, ldy); return;
    case DType::kQ8_0: return;  // MatMul routes Q8_0 to the integer kernel
  }
}

uint64_t ReadBytesAvx512(const void* data, int64_t bytes, int64_t prefetch_bytes) {
  const auto* p = static_cast<const uint8_t*>(data);
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i < bytes; i += 256) {
    if (prefetch_bytes > 0) {
      for (int l = 0; l < 4; ++l)
        _mm_prefetch(reinterpret_cast<const char*>(p + i + prefetch_bytes) + 64 * l, _MM_HINT_T0);
    }
    a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_load_si512(p + i + 64));
    a2 = _mm512_add_epi64(a2, _mm512_load_si512(p + i + 128));
    a3 = _mm512_add_epi64(a3, _mm512_load_si512(p + i + 192));
  }
  return static_cast<uint64_t>(
      _mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3))));
}

}  // namespace

void FillAvx512Vector(KernelTable* t) {
  t->float_matmul = FloatMatMulAvx512;
  t->read_bytes = ReadBytesAvx512;
}

}  // namespace meridian::engine::cpu::internal
