// AVX-512 VNNI Q8_0 matmul (vpdpbusd). Compiled with the AVX-512 flags; see kernel_table.h for
// what this file may define. AVX-512 without VNNI keeps the AVX2 int8 kernels: a zmm vpmaddubsw
// has no more throughput than two ymm ones on the cores measured (Xeon, 2 threads, TinyLlama
// prefill: 64 tok/s with a zmm maddubs kernel, 72 with the AVX2 one), and costs more per step.
//
// Activation slabs of 16 rows, three layouts (the same ideas as the AVX2 file):
//  * wide (9 to 16 rows; lanes past the last row are zero): "lanes = rows". Block b occupies
//    kVnniQBytes bytes: [t][row][4] for the 8 steps t of 4 bytes (64 bytes per step, a zmm), then
//    16 int32 corrections. d: [b][16]. The kernel broadcasts 4 weight bytes to all 16 lanes and
//    accumulates whole blocks per lane in int32.
//  * wide8 (5 to 8 rows): the same with 8 lanes (ymm, AVX-512VL): [t][row][4] in 256 bytes, 8
//    corrections at +256; d: [b][16] with the first 8 used. Batched decode of up to 8 sequences
//    would waste half of every zmm.
//    vpdpbusd takes unsigned x signed bytes, so the weights are offset to u = w + 128 (an xor) and
//    the lane starts from -128 * (sum of the row's 32 activation bytes of the block), stored by
//    the packer: sum (w + 128) * x - 128 * sum x = sum w * x, exactly. One vpdpbusd per 64 MACs.
//  * narrow (1 to 4 rows): one group, chunks of 2 blocks interleaved by row: qs[c][row][64],
//    d[c][row][2]; a zmm of weights holds blocks 2c and 2c+1 of one row (lanes 0-7 and 8-15 of
//    every product belong to the first and second block). Here the activations are offset
//    (u = x + 128) and each lane starts from -128 * (sum of its 4 weight bytes).

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

constexpr int kSlabRows = 16;
constexpr int kWideMinRows = 5;
constexpr int kWide16MinRows = 9;
constexpr int kPanelRows = 12;                         // divisible by every RN used below
constexpr int kWideQBytes = kSlabRows * kQ8BlockSize;  // x bytes of one block in a wide slab
constexpr int kVnniQBytes = kWideQBytes + 64;          // plus 16 int32 corrections

inline int32_t Load32(const void* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

inline void Store32(void* p, int32_t v) {
  __builtin_memcpy(p, &v, 4);
}

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
  __m512i q;     // signed weights
  __m512i corr;  // -128 * (sum of the 4 weight bytes of each lane)
  __m512 d;
};

inline WeightChunk LoadWeights(const BlockQ8_0* blk, bool pair) {
  WeightChunk c;
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[0].qs));
  const __m256i hi =
      pair ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[1].qs)) : _mm256_setzero_si256();
  c.q = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
  c.d = PairScaleFp16(blk[0].d, pair ? blk[1].d : uint16_t{0});
  const __m512i sums =
      _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(static_cast<char>(0x80)), c.q);
  c.corr = _mm512_sub_epi32(_mm512_setzero_si512(), sums);
  return c;
}

template <int RM, int RN>
void NarrowTile(const BlockQ8_0* w, int64_t w_blocks, const int8_t* xq, const float* xd, float* y,
                int64_t ldy) {
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
      wc[j] = LoadWeights(blk, pair);
    }
    const int8_t* xc = xq + c * RM * 64;
    const float* dc = xd + c * RM * 2;
#pragma GCC unroll 4
    for (int i = 0; i < RM; ++i) {
      const __m512i xv =
          _mm512_xor_si512(_mm512_load_si512(xc + i * 64), _mm512_set1_epi8(static_cast<char>(0x80)));
      const __m512 dx = PairScale(dc + 2 * i);
#pragma GCC unroll 8
      for (int j = 0; j < RN; ++j) {
        const __m512 dot = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(wc[j].corr, xv, wc[j].q));
        acc[i][j] = _mm512_fmadd_ps(dot, _mm512_mul_ps(wc[j].d, dx), acc[i][j]);
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

template <int RM, int RN>
void NarrowPanel(const BlockQ8_0* w, int64_t w_blocks, int64_t r0, int64_t r1, const int8_t* xq,
                 const float* xd, float* y, int64_t ldy) {
  int64_t r = r0;
  for (; r + RN <= r1; r += RN) NarrowTile<RM, RN>(w + r * w_blocks, w_blocks, xq, xd, y + r, ldy);
  for (; r < r1; ++r) NarrowTile<RM, 1>(w + r * w_blocks, w_blocks, xq, xd, y + r, ldy);
}

// ---- wide slabs: 16 rows in lanes, RN weight rows per tile ----

template <int RN>
void WideTile(const BlockQ8_0* w, int64_t w_blocks, const int8_t* xq, const float* xd, int rows, float* y,
              int64_t ldy) {
  constexpr int64_t kQBytes = kVnniQBytes;
  __m512 acc[RN];
#pragma GCC unroll 8
  for (int j = 0; j < RN; ++j) acc[j] = _mm512_setzero_ps();
  for (int64_t b = 0; b < w_blocks; ++b) {
    const int8_t* xb = xq + b * kQBytes;
    __m512i dot[RN];
    const __m512i start = _mm512_load_si512(xb + kWideQBytes);
#pragma GCC unroll 8
    for (int j = 0; j < RN; ++j) dot[j] = start;
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) {
      const __m512i xv = _mm512_load_si512(xb + t * 64);
#pragma GCC unroll 8
      for (int j = 0; j < RN; ++j) {
        const __m512i wb = _mm512_set1_epi32(Load32(w[j * w_blocks + b].qs + 4 * t));
        dot[j] =
            _mm512_dpbusd_epi32(dot[j], _mm512_xor_si512(wb, _mm512_set1_epi8(static_cast<char>(0x80))), xv);
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

template <int RN>
void WidePanel(const BlockQ8_0* w, int64_t w_blocks, int64_t r0, int64_t r1, const int8_t* xq,
               const float* xd, int rows, float* y, int64_t ldy) {
  int64_t r = r0;
  for (; r + RN <= r1; r += RN) WideTile<RN>(w + r * w_blocks, w_blocks, xq, xd, rows, y + r, ldy);
  for (; r < r1; ++r) WideTile<1>(w + r * w_blocks, w_blocks, xq, xd, rows, y + r, ldy);
}

template <int RN>
void Wide8Tile(const BlockQ8_0* w, int64_t w_blocks, const int8_t* xq, const float* xd, int rows, float* y,
               int64_t ldy) {
  __m256 acc[RN];
#pragma GCC unroll 8
  for (int j = 0; j < RN; ++j) acc[j] = _mm256_setzero_ps();
  for (int64_t b = 0; b < w_blocks; ++b) {
    const int8_t* xb = xq + b * kVnniQBytes;
    __m256i dot[RN];
    const __m256i start = _mm256_load_si256(reinterpret_cast<const __m256i*>(xb + 8 * kQ8BlockSize));
#pragma GCC unroll 8
    for (int j = 0; j < RN; ++j) dot[j] = start;
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) {
      const __m256i xv = _mm256_load_si256(reinterpret_cast<const __m256i*>(xb + t * 32));
#pragma GCC unroll 8
      for (int j = 0; j < RN; ++j) {
        const __m256i wb = _mm256_set1_epi32(Load32(w[j * w_blocks + b].qs + 4 * t));
        dot[j] =
            _mm256_dpbusd_epi32(dot[j], _mm256_xor_si256(wb, _mm256_set1_epi8(static_cast<char>(0x80))), xv);
      }
    }
    const __m256 dx = _mm256_load_ps(xd + b * kSlabRows);
#pragma GCC unroll 8
    for (int j = 0; j < RN; ++j) {
      const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(w[j * w_blocks + b].d)), dx);
      acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[j]), scale, acc[j]);
    }
  }
  alignas(32) float lanes[8];
  for (int j = 0; j < RN; ++j) {
    _mm256_store_ps(lanes, acc[j]);
    for (int l = 0; l < rows; ++l) y[l * ldy + j] = lanes[l];
  }
}

template <int RN>
void Wide8Panel(const BlockQ8_0* w, int64_t w_blocks, int64_t r0, int64_t r1, const int8_t* xq,
                const float* xd, int rows, float* y, int64_t ldy) {
  int64_t r = r0;
  for (; r + RN <= r1; r += RN) Wide8Tile<RN>(w + r * w_blocks, w_blocks, xq, xd, rows, y + r, ldy);
  for (; r < r1; ++r) Wide8Tile<1>(w + r * w_blocks, w_blocks, xq, xd, rows, y + r, ldy);
}

void Q8MatMulVnni(const BlockQ8_0* w, int64_t w_blocks, int64_t row_begin, int64_t row_end,
                  const PackedActs& x, float* y, int64_t ldy) {
  const int64_t slabs = (x.m + kSlabRows - 1) / kSlabRows;
  for (int64_t p0 = row_begin; p0 < row_end; p0 += kPanelRows) {
    const int64_t p1 = p0 + kPanelRows < row_end ? p0 + kPanelRows : row_end;
    for (int64_t s = 0; s < slabs; ++s) {
      const int rows = static_cast<int>(x.m - s * kSlabRows < kSlabRows ? x.m - s * kSlabRows : kSlabRows);
      const int8_t* xq = x.qs + s * x.slab_q_bytes;
      const float* xd = x.d + s * x.slab_d_floats;
      float* ys = y + s * kSlabRows * ldy;
      switch (rows) {
        case 1: NarrowPanel<1, 6>(w, w_blocks, p0, p1, xq, xd, ys, ldy); break;
        case 2: NarrowPanel<2, 4>(w, w_blocks, p0, p1, xq, xd, ys, ldy); break;
        case 3: NarrowPanel<3, 4>(w, w_blocks, p0, p1, xq, xd, ys, ldy); break;
        case 4: NarrowPanel<4, 3>(w, w_blocks, p0, p1, xq, xd, ys, ldy); break;
        default:
          if (rows < kWide16MinRows) {
            Wide8Panel<6>(w, w_blocks, p0, p1, xq, xd, rows, ys, ldy);
          } else {
            WidePanel<6>(w, w_blocks, p0, p1, xq, xd, rows, ys, ldy);
          }
          break;
      }
    }
  }
}

void PackActSlabVnni(const float* x, int64_t k, int rows, int64_t padded_blocks, int8_t* qs, float* d) {
  const int64_t blocks = k / kQ8BlockSize;
  if (rows >= kWideMinRows) {
    // Wide slabs: lanes = rows (16 lanes, or 8 for wide8), then one int32 correction per lane.
    const int lanes = rows < kWide16MinRows ? 8 : kSlabRows;
    __builtin_memset(qs, 0, static_cast<size_t>(padded_blocks * kVnniQBytes));
    __builtin_memset(d, 0, static_cast<size_t>(padded_blocks * kSlabRows) * sizeof(float));
    alignas(32) int8_t block[kQ8BlockSize];
    for (int r = 0; r < rows; ++r) {
      for (int64_t b = 0; b < blocks; ++b) {
        d[b * kSlabRows + r] = _cvtsh_ss(QuantizeBlockAvx2(x + r * k + b * kQ8BlockSize, block));
        int8_t* dst = qs + b * kVnniQBytes;
        for (int t = 0; t < 8; ++t) Store32(dst + (t * lanes + r) * 4, Load32(block + 4 * t));
        // sum of the signed bytes = sum of (byte ^ 0x80) - 32 * 128, via psadbw against zero.
        const __m256i u = _mm256_xor_si256(_mm256_load_si256(reinterpret_cast<const __m256i*>(block)),
                                           _mm256_set1_epi8(static_cast<char>(0x80)));
        const __m256i sad = _mm256_sad_epu8(u, _mm256_setzero_si256());
        const int64_t sum = _mm256_extract_epi64(sad, 0) + _mm256_extract_epi64(sad, 1) +
                            _mm256_extract_epi64(sad, 2) + _mm256_extract_epi64(sad, 3) - 32 * 128;
        Store32(dst + lanes * kQ8BlockSize + r * 4, static_cast<int32_t>(-128 * sum));
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

void FillAvx512VnniQ8(KernelTable* t) {
  t->act_slab_rows = kSlabRows;
  t->act_block_align = 2;
  t->act_q_bytes_per_block = kVnniQBytes;
  t->act_d_per_block = kSlabRows;
  t->pack_act_slab = PackActSlabVnni;
  t->q8_matmul = Q8MatMulVnni;
}

}  // namespace meridian::engine::cpu::internal
