// AVX-512 Q8_0 matmul kernels: AVX-512BW (maddubs, as the AVX2 kernel) and AVX-512 VNNI
// (vpdpbusd). Compiled with the AVX-512 flags; see kernel_table.h for what this file may define.
// The BW functions use BW intrinsics only (`objdump -d` of this object shows vpdpbusd only in the
// Vnni instantiations and PackVnni).
//
// Activation slabs of 16 rows, two layouts (the same idea as the AVX2 file):
//  * wide (5 to 16 rows; lanes past the last row are zero): "lanes = rows". Block b occupies
//    kQBytes bytes: [t][row][4] for the 8 steps t of 4 bytes (64 bytes per step, a zmm), then for
//    VNNI 16 int32 corrections. d: [b][row]. The kernel broadcasts 4 weight bytes to all 16
//    lanes and accumulates whole blocks per lane in int32.
//    VNNI: vpdpbusd takes unsigned x signed bytes, so the weights are offset to u = w + 128 (an xor)
//    and the lane starts from -128 * (sum of the row's 32 activation bytes of the block), stored
//    by the packer: sum (w + 128) * x - 128 * sum x = sum w * x, exactly. One vpdpbusd per 64 MACs.
//    BW: sign trick with a mask (AVX-512 has no vpsignb): x is negated where the weight byte is.
//  * narrow (1 to 4 rows): one group, chunks of 2 blocks interleaved by row: qs[c][row][64],
//    d[c][row][2]; a zmm of weights holds blocks 2c and 2c+1 of one row (lanes 0-7 and 8-15 of
//    every product belong to the first and second block). VNNI offsets the activations instead
//    (u = x + 128) and starts from -128 * (lane sums of the weights).
#pragma GCC diagnostic ignored "-Wuninitialized"     // GCC 12 false positive on the
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // _mm*_undefined_* inside its intrinsics
#include <immintrin.h>

#include "engine/backend/cpu/kernels/kernel_table.h"

namespace meridian::engine::cpu::internal {
namespace {

constexpr int kSlabRows = 16;
constexpr int kWideMinRows = 5;
constexpr int kPanelRows = 12;  // divisible by every RN used below
constexpr int kWideQBytes = kSlabRows * kQ8BlockSize;  // x bytes of one block in a wide slab
constexpr int kVnniQBytes = kWideQBytes + 64;          // plus 16 int32 corrections

inline int32_t Load32(const void* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

inline void Store32(void* p, int32_t v) { __builtin_memcpy(p, &v, 4); }

// ---- narrow slabs ----

// 16 lanes: [a x 8, b x 8] from two consecutive floats at p.
inline __m512 PairScale(const float* p) {
  const __m128 two = _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(p)));
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                               _mm512_castps128_ps512(two));
}

inline __m512 PairScaleFp16(uint16_t a, uint16_t b) {
  const __m128 two = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(a | (static_cast<uint32_t>(b) << 16))));
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                               _mm512_castps128_ps512(two));
}

// The weight operands of one chunk (2 blocks) of one row, prepared once for all RM rows.
struct WeightChunk {
  __m512i q;      // signed weights (VNNI) / |weights| (BW)
  __m512i corr;   // VNNI: -128 * lane sums of q
  __mmask64 neg;  // BW: lanes where the weight is negative
  __m512 d;
};

template <bool kVnni>
inline WeightChunk LoadWeights(const BlockQ8_0* blk, bool pair) {
  WeightChunk c;
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[0].qs));
  const __m256i hi = pair ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[1].qs)) : _mm256_setzero_si256();
  const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
  c.d = PairScaleFp16(blk[0].d, pair ? blk[1].d : uint16_t{0});
  if constexpr (kVnni) {
    c.q = q;
    const __m512i sums = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(static_cast<char>(0x80)), q);
    c.corr = _mm512_sub_epi32(_mm512_setzero_si512(), sums);
    c.neg = 0;
  } else {
    c.q = _mm512_abs_epi8(q);
    c.corr = _mm512_setzero_si512();
    c.neg = _mm512_movepi8_mask(q);
  }
  return c;
}

// x: the activation chunk, already offset by 128 for VNNI. Returns 16 int32 lanes as floats.
template <bool kVnni>
inline __m512 ChunkDot(const WeightChunk& w, __m512i x) {
  if constexpr (kVnni) {
    return _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(w.corr, x, w.q));
  } else {
    const __m512i sx = _mm512_mask_sub_epi8(x, w.neg, _mm512_setzero_si512(), x);
    return _mm512_cvtepi32_ps(_mm512_madd_epi16(_mm512_maddubs_epi16(w.q, sx), _mm512_set1_epi16(1)));
  }
}

template <bool kVnni, int RM, int RN>
void NarrowTile(const BlockQ8_0* w, int64_t w_blocks, const int8_t* xq, const float* xd, float* y, int64_t ldy) {
  __m512 acc[RM][RN];
  for (int i = 0; i < RM; ++i)
    for (int j = 0; j < RN; ++j) acc[i][j] = _mm512_setzero_ps();
  const int64_t chunks = (w_blocks + 1) / 2;
  for (int64_t c = 0; c < chunks; ++c) {
    const bool pair = 2 * c + 1 < w_blocks;
    WeightChunk wc[RN];
#pragma GCC unroll 8
    for (int j = 0; j < RN; ++j) {
      const BlockQ8_0* blk = w + j * w_blocks + 2 * c;
      _mm_prefetch(reinterpret_cast<const char*>(blk) + 8 * sizeof(BlockQ8_0), _MM_HINT_T0);
      wc[j] = LoadWeights<kVnni>(blk, pair);
    }
    const int8_t* xc = xq + c * RM * 64;
    const float* dc = xd + c * RM * 2;
#pragma GCC unroll 4
    for (int i = 0; i < RM; ++i) {
      __m512i xv = _mm512_load_si512(xc + i * 64);
      if constexpr (kVnni) xv = _mm512_xor_si512(xv, _mm512_set1_epi8(static_cast<char>(0x80)));
      const __m512 dx = PairScale(dc + 2 * i);
#pragma GCC unroll 8
      for (int j = 0; j < RN; ++j) {
        acc[i][j] = _mm512_fmadd_ps(ChunkDot<kVnni>(wc[j], xv), _mm512_mul_ps(wc[j].d, dx), acc[i][j]);
      }
    }
  }
  for (int i = 0; i < RM; ++i) {
    for (int j = 0; j < RN; ++j) {
      const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(acc[i][j]), _mm512_extractf32x8_ps(acc[i][j], 1));
      __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
      s = _mm_add_ps(s, _mm_movehl_ps(s, s));
      y[i * ldy + j] = _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
    }
  }
}

template <bool kVnni, int RM, int RN>
void NarrowPanel(const BlockQ8_0* w, int64_t w_blocks, int64_t r0, int64_t r1, const int8_t* xq, const float* xd,
                 float* y, int64_t ldy) {
  int64_t r = r0;
  for (; r + RN <= r1; r += RN) NarrowTile<kVnni, RM, RN>(w + r * w_blocks, w_blocks, xq, xd, y + r, ldy);
  for (; r < r1; ++r) NarrowTile<kVnni, RM, 1>(w + r * w_blocks, w_blocks, xq, xd, y + r, ldy);
}

// ---- wide slabs: 16 rows in lanes, RN weight rows per tile ----

template <bool kVnni, int RN>
void WideTile(const BlockQ8_0* w, int64_t w_blocks, const int8_t* xq, const float* xd, int rows, float* y,
              int64_t ldy) {
  constexpr int64_t kQBytes = kVnni ? kVnniQBytes : kWideQBytes;
  __m512 acc[RN];
#pragma GCC unroll 8
  for (int j = 0; j < RN; ++j) acc[j] = _mm512_setzero_ps();
  for (int64_t b = 0; b < w_blocks; ++b) {
    const int8_t* xb = xq + b * kQBytes;
    __m512i dot[RN];
    const __m512i start = kVnni ? _mm512_load_si512(xb + kWideQBytes) : _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int j = 0; j < RN; ++j) dot[j] = start;
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) {
      const __m512i xv = _mm512_load_si512(xb + t * 64);
#pragma GCC unroll 8
      for (int j = 0; j < RN; ++j) {
        const __m512i wb = _mm512_set1_epi32(Load32(w[j * w_blocks + b].qs + 4 * t));
        if constexpr (kVnni) {
          dot[j] = _mm512_dpbusd_epi32(dot[j], _mm512_xor_si512(wb, _mm512_set1_epi8(static_cast<char>(0x80))), xv);
        } else {
          const __m512i sx = _mm512_mask_sub_epi8(xv, _mm512_movepi8_mask(wb), _mm512_setzero_si512(), xv);
          dot[j] = _mm512_add_epi32(
              dot[j], _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_abs_epi8(wb), sx), _mm512_set1_epi16(1)));
        }
      }
    }
    const __m512 dx = _mm512_load_ps(xd + b * kSlabRows);
#pragma GCC unroll 8
    for (int j = 0; j < RN; ++j) {
      const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(_cvtsh_ss(w[j * w_blocks + b].d)), dx);
      acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[j]), scale, acc[j]);
    }
  }
  alignas(64) float lanes[kSlabRows];
  for (int j = 0; j < RN; ++j) {
    _mm512_store_ps(lanes, acc[j]);
    for (int l = 0; l < rows; ++l) y[l * ldy + j] = lanes[l];
  }
}

template <bool kVnni, int RN>
void WidePanel(const BlockQ8_0* w, int64_t w_blocks, int64_t r0, int64_t r1, const int8_t* xq, const float* xd,
               int rows, float* y, int64_t ldy) {
  int64_t r = r0;
  for (; r + RN <= r1; r += RN) WideTile<kVnni, RN>(w + r * w_blocks, w_blocks, xq, xd, rows, y + r, ldy);
  for (; r < r1; ++r) WideTile<kVnni, 1>(w + r * w_blocks, w_blocks, xq, xd, rows, y + r, ldy);
}

template <bool kVnni>
void Q8MatMul(const BlockQ8_0* w, int64_t w_blocks, int64_t row_begin, int64_t row_end, const PackedActs& x,
              float* y, int64_t ldy) {
  const int64_t slabs = (x.m + kSlabRows - 1) / kSlabRows;
  for (int64_t p0 = row_begin; p0 < row_end; p0 += kPanelRows) {
    const int64_t p1 = p0 + kPanelRows < row_end ? p0 + kPanelRows : row_end;
    for (int64_t s = 0; s < slabs; ++s) {
      const int rows = static_cast<int>(x.m - s * kSlabRows < kSlabRows ? x.m - s * kSlabRows : kSlabRows);
      const int8_t* xq = x.qs + s * x.slab_q_bytes;
      const float* xd = x.d + s * x.slab_d_floats;
      float* ys = y + s * kSlabRows * ldy;
      switch (rows) {
        case 1: NarrowPanel<kVnni, 1, 6>(w, w_blocks, p0, p1, xq, xd, ys, ldy); break;
        case 2: NarrowPanel<kVnni, 2, 4>(w, w_blocks, p0, p1, xq, xd, ys, ldy); break;
        case 3: NarrowPanel<kVnni, 3, 4>(w, w_blocks, p0, p1, xq, xd, ys, ldy); break;
        case 4: NarrowPanel<kVnni, 4, 3>(w, w_blocks, p0, p1, xq, xd, ys, ldy); break;
        default: WidePanel<kVnni, 6>(w, w_blocks, p0, p1, xq, xd, rows, ys, ldy); break;
      }
    }
  }
}

template <bool kVnni>
void PackActSlab(const float* x, int64_t k, int rows, int64_t padded_blocks, int8_t* qs, float* d) {
  const int64_t blocks = k / kQ8BlockSize;
  if (rows >= kWideMinRows) {
    constexpr int64_t kQBytes = kVnni ? kVnniQBytes : kWideQBytes;
    __builtin_memset(qs, 0, static_cast<size_t>(padded_blocks * kQBytes));
    __builtin_memset(d, 0, static_cast<size_t>(padded_blocks * kSlabRows) * sizeof(float));
    alignas(32) int8_t block[kQ8BlockSize];
    for (int r = 0; r < rows; ++r) {
      for (int64_t b = 0; b < blocks; ++b) {
        d[b * kSlabRows + r] = _cvtsh_ss(QuantizeBlockAvx2(x + r * k + b * kQ8BlockSize, block));
        int8_t* dst = qs + b * kQBytes;
        for (int t = 0; t < 8; ++t) Store32(dst + t * 64 + r * 4, Load32(block + 4 * t));
        if constexpr (kVnni) {
          // sum of the signed bytes = sum of (byte ^ 0x80) - 32 * 128, via psadbw against zero.
          const __m256i u = _mm256_xor_si256(_mm256_load_si256(reinterpret_cast<const __m256i*>(block)),
                                             _mm256_set1_epi8(static_cast<char>(0x80)));
          const __m256i sad = _mm256_sad_epu8(u, _mm256_setzero_si256());
          const int64_t sum = _mm256_extract_epi64(sad, 0) + _mm256_extract_epi64(sad, 1) +
                              _mm256_extract_epi64(sad, 2) + _mm256_extract_epi64(sad, 3) - 32 * 128;
          Store32(dst + kWideQBytes + r * 4, static_cast<int32_t>(-128 * sum));
        }
      }
    }
    return;
  }
  // Narrow: one group of `rows` rows, chunks of 2 blocks interleaved by row.
  for (int r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < padded_blocks; ++b) {
      const int64_t c = b / 2, half = b % 2;
      int8_t* dst = qs + (c * rows + r) * 64 + half * kQ8BlockSize;
      float* dd = d + (c * rows + r) * 2 + half;
      if (b < blocks) {
        *dd = _cvtsh_ss(QuantizeBlockAvx2(x + r * k + b * kQ8BlockSize, dst));
      } else {
        __builtin_memset(dst, 0, kQ8BlockSize);
        *dd = 0.0f;
      }
    }
  }
}

}  // namespace

void FillAvx512Q8(KernelTable* t) {
  t->act_slab_rows = kSlabRows;
  t->act_block_align = 2;
  t->act_q_bytes_per_block = kWideQBytes;
  t->act_d_per_block = kSlabRows;
  t->pack_act_slab = PackActSlab<false>;
  t->q8_matmul = Q8MatMul<false>;
}

void FillAvx512VnniQ8(KernelTable* t) {
  t->act_slab_rows = kSlabRows;
  t->act_block_align = 2;
  t->act_q_bytes_per_block = kVnniQBytes;
  t->act_d_per_block = kSlabRows;
  t->pack_act_slab = PackActSlab<true>;
  t->q8_matmul = Q8MatMul<true>;
}

}  // namespace meridian::engine::cpu::internal
