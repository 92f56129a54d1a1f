// AVX2 (+FMA, F16C) Q8_0 kernels: activation quantization (bit-identical to QuantizeRowQ8_0) and
// the register-blocked int8 matmul. Compiled with -mavx2 -mfma -mf16c; see kernel_table.h for
// what this file may define.
//
// Arithmetic (GGML's): y = sum over blocks b of d_w[b] * d_x[b] * dot(q_w[b], q_x[b]). Int8 dot
// products use the sign trick: maddubs(|q_w| as u8, q_x * sign(q_w)) gives exact int16 pair sums
// (|q_x| <= 127, so 2 * 128 * 127 fits), madd with ones widens them to int32.
//
// Activation slabs (8 rows) come in two layouts:
//  * wide (7 or 8 rows; lanes past the last row are zero): "lanes = rows". For block b, step t
//    (bytes 4t..4t+3), the 8 rows' 4 bytes form one 32-byte vector: qs[b][t][row][4], d[b][row].
//    The kernel broadcasts 4 weight bytes to all lanes, so one maddubs/madd serves 8 rows, and
//    each lane accumulates a whole block in int32 before one convert and one FMA per 8 rows: the
//    per-block float work that costs as much as the integer work in the per-row layout is
//    amortized 8 times. Used for prefill and batched decode.
//  * narrow (1 to 6 rows): groups of up to 4 rows (rows 0-3, then 4-5), interleaved by block:
//    qs[b][row][32], d[b][row]; the second group starts 4 rows into the slab. Tiles of RM rows x
//    RN weight rows, one convert and FMA per block and pair. Used for m = 1 decode (memory-bound).
// Weight rows are walked in panels of kPanelRows; each panel meets every slab while it stays in
// L1/L2, so the weights are read from memory once per call whatever m is.
#include <immintrin.h>

#include "engine/backend/cpu/kernels/kernel_table.h"

namespace meridian::engine::cpu::internal {
namespace {

constexpr int kSlabRows = 8;
constexpr int kWideMinRows = 7;  // below this, padding a wide slab wastes more than it saves
constexpr int kPanelRows = 12;   // divisible by every RN used below
// Software prefetch distance along each weight row (~550 bytes): measured best among 0, 12, 16,
// 20, 24 and 48 blocks for m = 1 decode on a Xeon (2 threads); 0 and 48 were 10-15% slower.
constexpr int kPrefetchBlocks = 16;

inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float HorizontalMax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// roundf (half away from zero) of floats in int8 range, exactly: trunc, then add sign(v) when the
// dropped fraction is >= 0.5 (v - trunc(v) is exact).
inline __m256i RoundToInt32(__m256 v) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 frac = _mm256_andnot_ps(sign_mask, _mm256_sub_ps(v, t));
  const __m256 away = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  const __m256 step = _mm256_or_ps(_mm256_and_ps(v, sign_mask), _mm256_set1_ps(1.0f));
  return _mm256_cvttps_epi32(_mm256_add_ps(t, _mm256_and_ps(away, step)));
}

inline int32_t Load32(const void* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

inline void Store32(void* p, int32_t v) {
  __builtin_memcpy(p, &v, 4);
}

// Dot products of 8 weight rows' blocks live in lanes; lane l of a wide-slab tile is row l.
inline __m256i SignedDot(__m256i w_abs, __m256i w, __m256i x) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(w_abs, _mm256_sign_epi8(x, w)), _mm256_set1_epi16(1));
}

// ---- narrow slabs: tiles of RM activation rows x RN weight rows ----

template <int RM, int RN>
void NarrowTile(const BlockQ8_0* w, int64_t w_blocks, const int8_t* xq, const float* xd, float* y,
                int64_t ldy) {
  __m256 acc[RM][RN];
#pragma GCC unroll 4
  for (int i = 0; i < RM; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < RN; ++j) acc[i][j] = _mm256_setzero_ps();
  for (int64_t b = 0; b < w_blocks; ++b) {
    __m256i wq[RN], wa[RN];
    float dw[RN];
#pragma GCC unroll 4
    for (int j = 0; j < RN; ++j) {
      const BlockQ8_0* blk = w + j * w_blocks + b;
      _mm_prefetch(reinterpret_cast<const char*>(blk) + kPrefetchBlocks * sizeof(BlockQ8_0), _MM_HINT_T0);
      wq[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->qs));
      wa[j] = _mm256_sign_epi8(wq[j], wq[j]);
      dw[j] = _cvtsh_ss(blk->d);
    }
    const int8_t* xb = xq + b * RM * kQ8BlockSize;
    const float* dxb = xd + b * RM;
#pragma GCC unroll 4
    for (int i = 0; i < RM; ++i) {
      const __m256i xv = _mm256_load_si256(reinterpret_cast<const __m256i*>(xb + i * kQ8BlockSize));
#pragma GCC unroll 4
      for (int j = 0; j < RN; ++j) {
        const __m256 dot = _mm256_cvtepi32_ps(SignedDot(wa[j], wq[j], xv));
        acc[i][j] = _mm256_fmadd_ps(dot, _mm256_set1_ps(dw[j] * dxb[i]), acc[i][j]);
      }
    }
  }
  for (int i = 0; i < RM; ++i)
    for (int j = 0; j < RN; ++j) y[i * ldy + j] = HorizontalSum(acc[i][j]);
}

template <int RM, int RN>
void NarrowPanel(const BlockQ8_0* w, int64_t w_blocks, int64_t r0, int64_t r1, const int8_t* xq,
                 const float* xd, float* y, int64_t ldy) {
  int64_t r = r0;
  for (; r + RN <= r1; r += RN) NarrowTile<RM, RN>(w + r * w_blocks, w_blocks, xq, xd, y + r, ldy);
  for (; r < r1; ++r) NarrowTile<RM, 1>(w + r * w_blocks, w_blocks, xq, xd, y + r, ldy);
}

void NarrowGroup(const BlockQ8_0* w, int64_t w_blocks, int64_t r0, int64_t r1, int rows, const int8_t* xq,
                 const float* xd, float* y, int64_t ldy) {
  switch (rows) {
    case 1: NarrowPanel<1, 4>(w, w_blocks, r0, r1, xq, xd, y, ldy); break;  // RN 1, 2, 3: slower
    case 2: NarrowPanel<2, 3>(w, w_blocks, r0, r1, xq, xd, y, ldy); break;
    case 3: NarrowPanel<3, 2>(w, w_blocks, r0, r1, xq, xd, y, ldy); break;
    default: NarrowPanel<4, 2>(w, w_blocks, r0, r1, xq, xd, y, ldy); break;
  }
}

// ---- wide slabs: NS slabs (8 rows each, in lanes) x RN weight rows ----

struct WideSlab {
  const int8_t* qs;
  const float* d;
  float* y;  // row 0 of the slab
  int rows;
};

template <int NS, int RN>
void WideTile(const BlockQ8_0* w, int64_t w_blocks, const WideSlab* slabs, int64_t col, int64_t ldy) {
  __m256 acc[NS][RN];
#pragma GCC unroll 4
  for (int s = 0; s < NS; ++s)
#pragma GCC unroll 4
    for (int j = 0; j < RN; ++j) acc[s][j] = _mm256_setzero_ps();
  const int8_t* xq[NS];
  const float* xd[NS];
#pragma GCC unroll 4
  for (int s = 0; s < NS; ++s) xq[s] = slabs[s].qs, xd[s] = slabs[s].d;
  for (int64_t b = 0; b < w_blocks; ++b) {
    __m256i dot[NS][RN];
#pragma GCC unroll 4
    for (int s = 0; s < NS; ++s)
#pragma GCC unroll 4
      for (int j = 0; j < RN; ++j) dot[s][j] = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) {
#pragma GCC unroll 4
      for (int j = 0; j < RN; ++j) {
        const __m256i wb = _mm256_set1_epi32(Load32(w[j * w_blocks + b].qs + 4 * t));
        const __m256i wa = _mm256_sign_epi8(wb, wb);
#pragma GCC unroll 4
        for (int s = 0; s < NS; ++s) {
          const __m256i xv = _mm256_load_si256(reinterpret_cast<const __m256i*>(xq[s] + b * 256 + t * 32));
          dot[s][j] = _mm256_add_epi32(dot[s][j], SignedDot(wa, wb, xv));
        }
      }
    }
#pragma GCC unroll 4
    for (int j = 0; j < RN; ++j) {
      const __m256 dw = _mm256_set1_ps(_cvtsh_ss(w[j * w_blocks + b].d));
#pragma GCC unroll 4
      for (int s = 0; s < NS; ++s) {
        const __m256 scale = _mm256_mul_ps(dw, _mm256_load_ps(xd[s] + b * kSlabRows));
        acc[s][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[s][j]), scale, acc[s][j]);
      }
    }
  }
  for (int s = 0; s < NS; ++s) {
    alignas(32) float lanes[kSlabRows];
    for (int j = 0; j < RN; ++j) {
      _mm256_store_ps(lanes, acc[s][j]);
      for (int l = 0; l < slabs[s].rows; ++l) slabs[s].y[l * ldy + col + j] = lanes[l];
    }
  }
}

template <int NS, int RN>
void WidePanel(const BlockQ8_0* w, int64_t w_blocks, int64_t r0, int64_t r1, const WideSlab* slabs,
               int64_t ldy) {
  int64_t r = r0;
  for (; r + RN <= r1; r += RN) WideTile<NS, RN>(w + r * w_blocks, w_blocks, slabs, r, ldy);
  for (; r < r1; ++r) WideTile<NS, 1>(w + r * w_blocks, w_blocks, slabs, r, ldy);
}

void Q8MatMulAvx2(const BlockQ8_0* w, int64_t w_blocks, int64_t row_begin, int64_t row_end,
                  const PackedActs& x, float* y, int64_t ldy) {
  const int64_t slab_q = x.slab_q_bytes;
  const int64_t slab_d = x.slab_d_floats;
  const int64_t slabs = (x.m + kSlabRows - 1) / kSlabRows;
  for (int64_t p0 = row_begin; p0 < row_end; p0 += kPanelRows) {
    const int64_t p1 = p0 + kPanelRows < row_end ? p0 + kPanelRows : row_end;
    WideSlab pending{};  // a wide slab waiting for a partner, to run two at a time
    bool have_pending = false;
    for (int64_t s = 0; s < slabs; ++s) {
      const int rows = static_cast<int>(x.m - s * kSlabRows < kSlabRows ? x.m - s * kSlabRows : kSlabRows);
      const int8_t* qs = x.qs + s * slab_q;
      const float* d = x.d + s * slab_d;
      float* ys = y + s * kSlabRows * ldy;
      if (rows >= kWideMinRows) {
        const WideSlab slab{qs, d, ys, rows};
        if (!have_pending) {
          pending = slab;
          have_pending = true;
          continue;
        }
        const WideSlab pair[2] = {pending, slab};
        WidePanel<2, 2>(w, w_blocks, p0, p1, pair, ldy);
        have_pending = false;
        continue;
      }
      const int first = rows < 4 ? rows : 4;
      NarrowGroup(w, w_blocks, p0, p1, first, qs, d, ys, ldy);
      if (rows > 4) {
        NarrowGroup(w, w_blocks, p0, p1, rows - 4, qs + 4 * x.padded_blocks * kQ8BlockSize,
                    d + 4 * x.padded_blocks, ys + 4 * ldy, ldy);
      }
    }
    if (have_pending) WidePanel<1, 4>(w, w_blocks, p0, p1, &pending, ldy);
  }
}

}  // namespace

uint16_t QuantizeBlockAvx2(const float* x, int8_t* qs) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  __m256 v[4];
  for (int t = 0; t < 4; ++t) v[t] = _mm256_loadu_ps(x + 8 * t);
  const __m256 m01 = _mm256_max_ps(_mm256_andnot_ps(sign_mask, v[0]), _mm256_andnot_ps(sign_mask, v[1]));
  const __m256 m23 = _mm256_max_ps(_mm256_andnot_ps(sign_mask, v[2]), _mm256_andnot_ps(sign_mask, v[3]));
  const float amax = HorizontalMax(_mm256_max_ps(m01, m23));
  const float d = amax / ((1 << 7) - 1);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  const __m256 vid = _mm256_set1_ps(id);
  __m256i q[4];
  for (int t = 0; t < 4; ++t) q[t] = RoundToInt32(_mm256_mul_ps(v[t], vid));
  // int32 -> int8; packs interleave 128-bit lanes, the permute restores the order.
  const __m256i q8 = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs),
                      _mm256_permutevar8x32_epi32(q8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  return _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

namespace {

void QuantizeRowAvx2(const float* x, BlockQ8_0* out, int64_t k) {
  for (int64_t b = 0; b < k / kQ8BlockSize; ++b)
    out[b].d = QuantizeBlockAvx2(x + b * kQ8BlockSize, out[b].qs);
}

void PackActSlabAvx2(const float* x, int64_t k, int rows, int64_t padded_blocks, int8_t* qs, float* d) {
  const int64_t blocks = k / kQ8BlockSize;
  if (rows >= kWideMinRows) {
    // Zero everything first: lanes past the last row, and the padding blocks.
    __builtin_memset(qs, 0, static_cast<size_t>(padded_blocks * kSlabRows * kQ8BlockSize));
    __builtin_memset(d, 0, static_cast<size_t>(padded_blocks * kSlabRows) * sizeof(float));
    alignas(32) int8_t block[kQ8BlockSize];
    for (int r = 0; r < rows; ++r) {
      for (int64_t b = 0; b < blocks; ++b) {
        d[b * kSlabRows + r] = _cvtsh_ss(QuantizeBlockAvx2(x + r * k + b * kQ8BlockSize, block));
        int8_t* dst = qs + b * kSlabRows * kQ8BlockSize + r * 4;
        for (int t = 0; t < 8; ++t) Store32(dst + t * kSlabRows * 4, Load32(block + 4 * t));
      }
    }
    return;
  }
  for (int g0 = 0; g0 < rows; g0 += 4) {
    const int group = rows - g0 < 4 ? rows - g0 : 4;
    int8_t* gq = qs + g0 * padded_blocks * kQ8BlockSize;
    float* gd = d + g0 * padded_blocks;
    for (int r = 0; r < group; ++r) {
      const float* xr = x + (g0 + r) * k;
      for (int64_t b = 0; b < blocks; ++b) {
        gd[b * group + r] =
            _cvtsh_ss(QuantizeBlockAvx2(xr + b * kQ8BlockSize, gq + (b * group + r) * kQ8BlockSize));
      }
    }
    const int64_t pad = padded_blocks - blocks;
    __builtin_memset(gq + blocks * group * kQ8BlockSize, 0, static_cast<size_t>(pad * group * kQ8BlockSize));
    __builtin_memset(gd + blocks * group, 0, static_cast<size_t>(pad * group) * sizeof(float));
  }
}

}  // namespace

void FillAvx2Q8(KernelTable* t) {
  t->act_slab_rows = kSlabRows;
  t->act_block_align = 1;
  t->act_q_bytes_per_block = kSlabRows * kQ8BlockSize;
  t->act_d_per_block = kSlabRows;
  t->pack_act_slab = PackActSlabAvx2;
  t->q8_matmul = Q8MatMulAvx2;
  t->quantize_row = QuantizeRowAvx2;
}

}  // namespace meridian::engine::cpu::internal
