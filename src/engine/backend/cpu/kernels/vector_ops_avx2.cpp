// AVX2 (+FMA, F16C) kernels other than Q8_0: the F32/F16/BF16 matmul, the vector ops of the
// forward pass, row dequantization and the streaming read of the bandwidth probe. Compiled with -mavx2 -mfma
// -mf16c; see kernel_table.h for what this file may define.
#include <immintrin.h>

#include "engine/backend/cpu/kernels/kernel_table.h"

namespace meridian::engine::cpu::internal {
namespace {

inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline double HorizontalSum(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}

inline float Bf16Scalar(uint16_t h) {
  return _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(static_cast<int>(static_cast<uint32_t>(h) << 16))));
}

// exp(x) for 8 floats (Cephes polynomial, ~2 ulp on [-87, 88]); inputs are clamped to that range.
inline __m256 Exp(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3365447505f)), _mm256_set1_ps(88.3762626647949f));
  const __m256 fx =
      _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  const __m256i pow2 =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(pow2));
}

// 8 weights of row `w` (dtype F32, F16 or BF16) from element c, widened to f32.
template <DType D>
inline __m256 LoadW(const void* w, int64_t c) {
  if constexpr (D == DType::kF32) {
    return _mm256_loadu_ps(static_cast<const float*>(w) + c);
  } else if constexpr (D == DType::kF16) {
    return _mm256_cvtph_ps(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + c)));
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + c));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

template <DType D>
inline float LoadW1(const void* w, int64_t c) {
  if constexpr (D == DType::kF32) {
    return static_cast<const float*>(w)[c];
  } else if constexpr (D == DType::kF16) {
    return _cvtsh_ss(static_cast<const uint16_t*>(w)[c]);
  } else {
    return Bf16Scalar(static_cast<const uint16_t*>(w)[c]);
  }
}

// Y[i, j] for RM activation rows and RN weight rows (`w_row_bytes` apart).
template <DType D, int RM, int RN>
void FloatTile(const uint8_t* w, int64_t w_row_bytes, int64_t k, const float* x, float* y, int64_t ldy) {
  __m256 acc[RM][RN];
  for (int i = 0; i < RM; ++i)
    for (int j = 0; j < RN; ++j) acc[i][j] = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c + 8 <= k; c += 8) {
    __m256 wv[RN];
    for (int j = 0; j < RN; ++j) wv[j] = LoadW<D>(w + j * w_row_bytes, c);
    for (int i = 0; i < RM; ++i) {
      const __m256 xv = _mm256_loadu_ps(x + i * k + c);
      for (int j = 0; j < RN; ++j) acc[i][j] = _mm256_fmadd_ps(wv[j], xv, acc[i][j]);
    }
  }
  for (int i = 0; i < RM; ++i) {
    for (int j = 0; j < RN; ++j) {
      float sum = HorizontalSum(acc[i][j]);
      for (int64_t t = c; t < k; ++t) sum += LoadW1<D>(w + j * w_row_bytes, t) * x[i * k + t];
      y[i * ldy + j] = sum;
    }
  }
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
  constexpr int64_t kPanel = 16;  // weight rows kept hot in cache while all activation rows pass
  for (int64_t p0 = row_begin; p0 < row_end; p0 += kPanel) {
    const int64_t p1 = p0 + kPanel < row_end ? p0 + kPanel : row_end;
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) FloatRows<D, 4, 2>(wb, row_bytes, k, p0, p1, x + i * k, y + i * ldy, ldy);
    switch (m - i) {
      case 3: FloatRows<D, 3, 2>(wb, row_bytes, k, p0, p1, x + i * k, y + i * ldy, ldy); break;
      case 2: FloatRows<D, 2, 4>(wb, row_bytes, k, p0, p1, x + i * k, y + i * ldy, ldy); break;
      case 1: FloatRows<D, 1, 4>(wb, row_bytes, k, p0, p1, x + i * k, y + i * ldy, ldy); break;
      default: break;
    }
  }
}

void FloatMatMulAvx2(DType dtype, const void* w, int64_t k, int64_t row_begin, int64_t row_end,
                     const float* x, int64_t m, float* y, int64_t ldy) {
  switch (dtype) {
    case DType::kF32: FloatMatMulTyped<DType::kF32>(w, k, row_begin, row_end, x, m, y, ldy); return;
    case DType::kF16: FloatMatMulTyped<DType::kF16>(w, k, row_begin, row_end, x, m, y, ldy); return;
    case DType::kBF16: FloatMatMulTyped<DType::kBF16>(w, k, row_begin, row_end, x, m, y, ldy); return;
    case DType::kQ8_0: return;  // MatMul routes Q8_0 to the integer kernel
  }
}

void DequantizeRowAvx2(DType dtype, const void* src, float* dst, int64_t k) {
  int64_t i = 0;
  switch (dtype) {
    case DType::kF32: {
      const auto* s = static_cast<const float*>(src);
      for (; i + 8 <= k; i += 8) _mm256_storeu_ps(dst + i, _mm256_loadu_ps(s + i));
      for (; i < k; ++i) dst[i] = s[i];
      return;
    }
    case DType::kF16:
      for (; i + 8 <= k; i += 8) _mm256_storeu_ps(dst + i, LoadW<DType::kF16>(src, i));
      for (; i < k; ++i) dst[i] = LoadW1<DType::kF16>(src, i);
      return;
    case DType::kBF16:
      for (; i + 8 <= k; i += 8) _mm256_storeu_ps(dst + i, LoadW<DType::kBF16>(src, i));
      for (; i < k; ++i) dst[i] = LoadW1<DType::kBF16>(src, i);
      return;
    case DType::kQ8_0: {
      const auto* blocks = static_cast<const BlockQ8_0*>(src);
      for (int64_t b = 0; b < k / kQ8BlockSize; ++b) {
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(blocks[b].d));
        for (int t = 0; t < 4; ++t) {
          const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blocks[b].qs + 8 * t));
          _mm256_storeu_ps(dst + b * kQ8BlockSize + 8 * t,
                           _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q))));
        }
      }
      return;
    }
  }
}

uint64_t ReadBytesAvx2(const void* data, int64_t bytes, int64_t prefetch_bytes) {
  const auto* p = static_cast<const __m256i*>(data);
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i < bytes / 32; i += 8) {
    if (prefetch_bytes > 0) {  // 256 bytes per iteration: 4 lines
      const char* ahead = reinterpret_cast<const char*>(p + i) + prefetch_bytes;
      for (int l = 0; l < 4; ++l) _mm_prefetch(ahead + 64 * l, _MM_HINT_T0);
    }
    a0 = _mm256_add_epi64(a0, _mm256_add_epi64(_mm256_load_si256(p + i), _mm256_load_si256(p + i + 4)));
    a1 = _mm256_add_epi64(a1, _mm256_add_epi64(_mm256_load_si256(p + i + 1), _mm256_load_si256(p + i + 5)));
    a2 = _mm256_add_epi64(a2, _mm256_add_epi64(_mm256_load_si256(p + i + 2), _mm256_load_si256(p + i + 6)));
    a3 = _mm256_add_epi64(a3, _mm256_add_epi64(_mm256_load_si256(p + i + 3), _mm256_load_si256(p + i + 7)));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  // Wrapping sums: unsigned, since the lanes are arbitrary bit patterns.
  return static_cast<uint64_t>(_mm256_extract_epi64(s, 0)) +
         static_cast<uint64_t>(_mm256_extract_epi64(s, 1)) +
         static_cast<uint64_t>(_mm256_extract_epi64(s, 2)) +
         static_cast<uint64_t>(_mm256_extract_epi64(s, 3));
}

void RmsNormAvx2(const float* x, const float* w, int64_t n, float eps, float* y) {
  __m256d s0 = _mm256_setzero_pd(), s1 = s0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    s0 = _mm256_fmadd_pd(lo, lo, s0);
    s1 = _mm256_fmadd_pd(hi, hi, s1);
  }
  double sum = HorizontalSum(_mm256_add_pd(s0, s1));
  for (; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(mean + eps)));
  const __m256 vs = _mm256_set1_ps(scale);
  for (i = 0; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _mm256_loadu_ps(w + i)));
  }
  for (; i < n; ++i) y[i] = x[i] * scale * w[i];
}

void SiluMulAvx2(const float* gate, const float* up, int64_t n, float* out) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = Exp(_mm256_sub_ps(_mm256_setzero_ps(), g));
    _mm256_storeu_ps(out + i,
                     _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
  }
  if (i < n) {  // the tail through the same vector code, via a padded copy
    alignas(32) float g[8] = {}, u[8] = {}, o[8];
    for (int64_t t = i; t < n; ++t) g[t - i] = gate[t], u[t - i] = up[t];
    const __m256 gv = _mm256_load_ps(g);
    const __m256 e = Exp(_mm256_sub_ps(_mm256_setzero_ps(), gv));
    _mm256_store_ps(o, _mm256_mul_ps(_mm256_div_ps(gv, _mm256_add_ps(one, e)), _mm256_load_ps(u)));
    for (int64_t t = i; t < n; ++t) out[t] = o[t - i];
  }
}

void AddInPlaceAvx2(float* x, const float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(x + i, _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) x[i] += y[i];
}

void SoftmaxAvx2(float* x, int64_t n) {
  __m256 vmax = _mm256_set1_ps(x[0]);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  float mx = _mm_cvtss_f32(m4);
  for (; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  const __m256 vm = _mm256_set1_ps(mx);
  __m256 vsum = _mm256_setzero_ps();
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 e = Exp(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    _mm256_storeu_ps(x + i, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  float sum = HorizontalSum(vsum);
  if (i < n) {
    alignas(32) float t[8];
    for (int l = 0; l < 8; ++l) t[l] = i + l < n ? x[i + l] : mx;
    _mm256_store_ps(t, Exp(_mm256_sub_ps(_mm256_load_ps(t), vm)));
    for (int64_t l = i; l < n; ++l) {
      x[l] = t[l - i];
      sum += x[l];
    }
  }
  const float inv = 1.0f / sum;
  const __m256 vinv = _mm256_set1_ps(inv);
  for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv));
  for (; i < n; ++i) x[i] *= inv;
}

float DotAvx2(const float* a, const float* b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float sum = HorizontalSum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void AxpyAvx2(float a, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

}  // namespace

void FillAvx2Vector(KernelTable* t) {
  t->float_matmul = FloatMatMulAvx2;
  t->read_bytes = ReadBytesAvx2;
  t->rms_norm = RmsNormAvx2;
  t->silu_mul = SiluMulAvx2;
  t->add_in_place = AddInPlaceAvx2;
  t->softmax = SoftmaxAvx2;
  t->dot_f32 = DotAvx2;
  t->axpy = AxpyAvx2;
  t->dequantize_row = DequantizeRowAvx2;
}

}  // namespace meridian::engine::cpu::internal
