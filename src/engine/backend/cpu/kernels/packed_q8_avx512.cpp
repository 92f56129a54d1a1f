// AVX-512 VNNI kernel for packed Q8_0 weights (PackedQ8Weights): a 32-byte load holds 4 values
// of each of 8 weight rows, two groups side by side fill a zmm (16 rows), 4 activation bytes are
// broadcast to every lane, and one vpdpbusd advances 16 rows for one activation row; tiles of up
// to 8 activation rows share each weight load. A last odd group runs on ymm (AVX-512VL). vpdpbusd multiplies
// unsigned by signed bytes, so the weights are offset to u = w + 128 (an xor shared by all activation rows of
// the tile) and each lane starts from -128 * (sum of the activation block), which the driver computes when it
// quantizes: sum (w + 128) * x - 128 * sum x = sum w * x, exactly.
// Compiled with the AVX-512 flags; see kernel_table.h for what this file may define.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"        // GCC 12 false positive (bug 105593) on the
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // _mm*_undefined_* inside its intrinsics
#endif
#include <immintrin.h>

#include "engine/backend/cpu/kernels/kernel_table.h"

namespace meridian::engine::cpu::internal {
namespace {

constexpr int kGroupRows = 8;
constexpr int kPanelGroups = 2;
constexpr int kPrefetchBlocks = 2;

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
  const __m256i offset = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t b = 0; b < blocks; ++b) {
    __m256i dot[RM][NG];
#pragma GCC unroll 4
    for (int i = 0; i < RM; ++i) {
      const __m256i start = _mm256_set1_epi32(-128 * x.xsum[(i0 + i) * blocks + b]);
#pragma GCC unroll 2
      for (int g = 0; g < NG; ++g) dot[i][g] = start;
    }
#pragma GCC unroll 2
    for (int g = 0; g < NG; ++g) {
      const char* ahead = reinterpret_cast<const char*>(w + g * blocks + b + kPrefetchBlocks);
      for (int l = 0; l < 5; ++l) _mm_prefetch(ahead + 64 * l, _MM_HINT_T0);
    }
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) {
#pragma GCC unroll 2
      for (int g = 0; g < NG; ++g) {
        const __m256i wu = _mm256_xor_si256(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[g * blocks + b].qs + 32 * t)), offset);
#pragma GCC unroll 4
        for (int i = 0; i < RM; ++i) {
          const __m256i xb = _mm256_set1_epi32(Load32(xq[i] + b * kQ8BlockSize + 4 * t));
          dot[i][g] = _mm256_dpbusd_epi32(dot[i][g], wu, xb);
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
        _mm256_mask_storeu_ps(out, static_cast<__mmask8>((1u << valid) - 1), acc[i][g]);
      }
    }
  }
}

// Groups g and g + 1 (16 weight rows, lanes 0-7 and 8-15) against activation rows [i0, i0 + RM).
template <int RM>
void ZTile(const PackedQ8Block* w, int64_t blocks, int64_t rows_left, const RowActs& x, int64_t i0, float* y,
           int64_t ldy) {
  const PackedQ8Block* w1 = w + blocks;
  __m512 acc[RM];
#pragma GCC unroll 8
  for (int i = 0; i < RM; ++i) acc[i] = _mm512_setzero_ps();
  const int8_t* xq[RM];
#pragma GCC unroll 8
  for (int i = 0; i < RM; ++i) xq[i] = x.qs + (i0 + i) * x.row_stride;
  const __m512i offset = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t b = 0; b < blocks; ++b) {
    __m512i dot[RM];
#pragma GCC unroll 8
    for (int i = 0; i < RM; ++i) dot[i] = _mm512_set1_epi32(-128 * x.xsum[(i0 + i) * blocks + b]);
    for (const PackedQ8Block* g : {w, w1}) {
      const char* ahead = reinterpret_cast<const char*>(g + b + kPrefetchBlocks);
      for (int l = 0; l < 5; ++l) _mm_prefetch(ahead + 64 * l, _MM_HINT_T0);
    }
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) {
      const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs + 32 * t));
      const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w1[b].qs + 32 * t));
      const __m512i wu = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), offset);
#pragma GCC unroll 8
      for (int i = 0; i < RM; ++i) {
        dot[i] = _mm512_dpbusd_epi32(dot[i], wu, _mm512_set1_epi32(Load32(xq[i] + b * kQ8BlockSize + 4 * t)));
      }
    }
    const __m256i d16 = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].d))),
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(w1[b].d)), 1);
    const __m512 dw = _mm512_cvtph_ps(d16);
#pragma GCC unroll 8
    for (int i = 0; i < RM; ++i) {
      const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(x.d[(i0 + i) * blocks + b]));
      acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[i]), scale, acc[i]);
    }
  }
  const int64_t valid = rows_left < 2 * kGroupRows ? rows_left : 2 * kGroupRows;
  const __mmask16 mask = static_cast<__mmask16>((1u << valid) - 1);
  for (int i = 0; i < RM; ++i) _mm512_mask_storeu_ps(y + (i0 + i) * ldy, mask, acc[i]);
}

void PairRows(const PackedQ8Block* w, int64_t blocks, int64_t rows_left, const RowActs& x, float* y,
              int64_t ldy) {
  int64_t i = 0;
  for (; i + 8 <= x.m; i += 8) ZTile<8>(w, blocks, rows_left, x, i, y, ldy);
  switch (x.m - i) {
    case 7: ZTile<7>(w, blocks, rows_left, x, i, y, ldy); break;
    case 6: ZTile<6>(w, blocks, rows_left, x, i, y, ldy); break;
    case 5: ZTile<5>(w, blocks, rows_left, x, i, y, ldy); break;
    case 4: ZTile<4>(w, blocks, rows_left, x, i, y, ldy); break;
    case 3: ZTile<3>(w, blocks, rows_left, x, i, y, ldy); break;
    case 2: ZTile<2>(w, blocks, rows_left, x, i, y, ldy); break;
    case 1: ZTile<1>(w, blocks, rows_left, x, i, y, ldy); break;
    default: break;
  }
}

// One group (8 weight rows, ymm) against every activation row.
void GroupRows(const PackedQ8Block* w, int64_t blocks, int64_t rows_left, const RowActs& x, float* y,
               int64_t ldy) {
  int64_t i = 0;
  for (; i + 4 <= x.m; i += 4) Tile<4, 1>(w, blocks, rows_left, x, i, y, ldy);
  switch (x.m - i) {
    case 3: Tile<3, 1>(w, blocks, rows_left, x, i, y, ldy); break;
    case 2: Tile<2, 1>(w, blocks, rows_left, x, i, y, ldy); break;
    case 1: Tile<1, 1>(w, blocks, rows_left, x, i, y, ldy); break;
    default: break;
  }
}

void PackedQ8MatMulVnni(const PackedQ8Block* w, int64_t blocks, int64_t group_begin, int64_t group_end,
                        int64_t rows, const RowActs& x, float* y, int64_t ldy) {
  int64_t g = group_begin;
  for (; g + kPanelGroups <= group_end; g += kPanelGroups) {
    PairRows(w + g * blocks, blocks, rows - g * kGroupRows, x, y + g * kGroupRows, ldy);
  }
  for (; g < group_end; ++g)
    GroupRows(w + g * blocks, blocks, rows - g * kGroupRows, x, y + g * kGroupRows, ldy);
}

}  // namespace

void FillAvx512VnniPacked(KernelTable* t) {
  t->packed_q8_matmul = PackedQ8MatMulVnni;
}

}  // namespace meridian::engine::cpu::internal
