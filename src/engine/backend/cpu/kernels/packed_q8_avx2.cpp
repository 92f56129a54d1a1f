// AVX2 kernel for packed Q8_0 weights (PackedQ8Weights: 8 rows interleaved 4 bytes at a time).
// Compiled with -mavx2 -mfma -mf16c; see kernel_table.h for what this file may define.
//
// "Lanes = weight rows": one 32-byte load holds 4 values of each of 8 weight rows; 4 activation
// bytes are broadcast to all lanes, so one maddubs + madd (sign trick, as in q8_matmul_avx2.cpp)
// advances 8 rows, and each lane sums a whole block in int32 before one convert and one FMA per
// 8 rows, with the 8 rows' scales converted by one vcvtph2ps. For m = 1 this costs about 5.4
// cycles per 34-byte row-block on Zen 1 against 8.2 for the unpacked layout, so decode stays
// memory-bound. Tiles: RM activation rows x NG groups of 8 weight rows.
#include <immintrin.h>

#include "engine/backend/cpu/kernels/kernel_table.h"

namespace meridian::engine::cpu::internal {
namespace {

constexpr int kGroupRows = 8;
constexpr int kPanelGroups = 2;     // weight groups kept hot while every activation quad passes
constexpr int kPrefetchBlocks = 2;  // 544 bytes ahead in each group's stream

inline int32_t Load32(const void* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

template <int RM, int NG>
void Tile(const PackedQ8Block* w, int64_t blocks, int64_t rows_left, const RowActs& x, int64_t i0, float* y,
          int64_t ldy) {
  __m256 acc[RM][NG];
#pragma GCC unroll 4
  for (int i = 0; i < RM; ++i)
#pragma GCC unroll 2
    for (int g = 0; g < NG; ++g) acc[i][g] = _mm256_setzero_ps();
  const int8_t* xq[RM];
#pragma GCC unroll 4
  for (int i = 0; i < RM; ++i) xq[i] = x.qs + (i0 + i) * x.row_stride;
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t b = 0; b < blocks; ++b) {
    __m256i dot[RM][NG];
#pragma GCC unroll 4
    for (int i = 0; i < RM; ++i)
#pragma GCC unroll 2
      for (int g = 0; g < NG; ++g) dot[i][g] = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int g = 0; g < NG; ++g) {  // the 272-byte block kPrefetchBlocks ahead: 5 lines at most
      const char* ahead = reinterpret_cast<const char*>(w + g * blocks + b + kPrefetchBlocks);
      for (int l = 0; l < 5; ++l) _mm_prefetch(ahead + 64 * l, _MM_HINT_T0);
    }
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) {
#pragma GCC unroll 2
      for (int g = 0; g < NG; ++g) {
        const __m256i wv =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[g * blocks + b].qs + 32 * t));
        const __m256i wa = _mm256_sign_epi8(wv, wv);
#pragma GCC unroll 4
        for (int i = 0; i < RM; ++i) {
          const __m256i xb = _mm256_set1_epi32(Load32(xq[i] + b * kQ8BlockSize + 4 * t));
          const __m256i pairs = _mm256_maddubs_epi16(wa, _mm256_sign_epi8(xb, wv));
          dot[i][g] = _mm256_add_epi32(dot[i][g], _mm256_madd_epi16(pairs, ones));
        }
      }
    }
#pragma GCC unroll 2
    for (int g = 0; g < NG; ++g) {
      const __m256 dw =
          _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[g * blocks + b].d)));
#pragma GCC unroll 4
      for (int i = 0; i < RM; ++i) {
        const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(x.d[(i0 + i) * blocks + b]));
        acc[i][g] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[i][g]), scale, acc[i][g]);
      }
    }
  }
  for (int g = 0; g < NG; ++g) {
    const int64_t valid = rows_left - g * kGroupRows;
    for (int i = 0; i < RM; ++i) {
      float* out = y + (i0 + i) * ldy + g * kGroupRows;
      if (valid >= kGroupRows) {
        _mm256_storeu_ps(out, acc[i][g]);
      } else {
        alignas(32) float lanes[kGroupRows];
        _mm256_store_ps(lanes, acc[i][g]);
        for (int64_t l = 0; l < valid; ++l) out[l] = lanes[l];
      }
    }
  }
}

// All activation rows against NG groups; tiles keep RM x NG <= 4 (16 ymm registers).
template <int NG>
void Rows(const PackedQ8Block* w, int64_t blocks, int64_t rows_left, const RowActs& x, float* y,
          int64_t ldy) {
  constexpr int kRm = NG == 1 ? 4 : 2;
  int64_t i = 0;
  for (; i + kRm <= x.m; i += kRm) Tile<kRm, NG>(w, blocks, rows_left, x, i, y, ldy);
  switch (x.m - i) {
    case 3: Tile<3, 1>(w, blocks, rows_left, x, i, y, ldy); break;
    case 2: Tile<2, 1>(w, blocks, rows_left, x, i, y, ldy); break;
    case 1: Tile<1, NG>(w, blocks, rows_left, x, i, y, ldy); break;
    default: break;
  }
}

void PackedQ8MatMulAvx2(const PackedQ8Block* w, int64_t blocks, int64_t group_begin, int64_t group_end,
                        int64_t rows, const RowActs& x, float* y, int64_t ldy) {
  int64_t g = group_begin;
  for (; g + kPanelGroups <= group_end; g += kPanelGroups) {
    Rows<2>(w + g * blocks, blocks, rows - g * kGroupRows, x, y + g * kGroupRows, ldy);
  }
  for (; g < group_end; ++g)
    Rows<1>(w + g * blocks, blocks, rows - g * kGroupRows, x, y + g * kGroupRows, ldy);
}

}  // namespace

void FillAvx2Packed(KernelTable* t) {
  t->packed_q8_matmul = PackedQ8MatMulAvx2;
}

}  // namespace meridian::engine::cpu::internal
