// Cephes expf polynomial with Cody-Waite range reduction, and a NaN-skipping max, in scalar and
// SSE2 forms that perform the same float operations (so their results are identical).
#include "engine/sampling/fast_exp.h"

#include <bit>
#include <cstdint>
#include <limits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace meridian::engine {
namespace {
constexpr float kLowest = -87.0f;  // below this exp() is denormal: treated as 0
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f,
                kP3 = 4.1665795894e-2f, kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;
}  // namespace

float ExpOfScaledGapScalar(float logit, float max_logit, float inv_temperature) {
  float x = (logit - max_logit) * inv_temperature;
  if (!(x >= kLowest)) return 0.0f;                            // also NaN and -inf
  const int32_t k = static_cast<int32_t>(-x * kLog2e + 0.5f);  // round(-x / ln 2), x <= 0
  const float fk = static_cast<float>(k);
  const float r = (x + fk * kLn2Hi) + fk * kLn2Lo;
  const float z = r * r;
  const float poly = (((((kP0 * r + kP1) * r + kP2) * r + kP3) * r + kP4) * r + kP5) * z + r + 1.0f;
  return poly * std::bit_cast<float>(static_cast<uint32_t>(127 - k) << 23);  // * 2^-k
}

void ExpOfScaledGaps(const float* logits, size_t n, float max_logit, float inv_temperature, float* out) {
  size_t i = 0;
#if defined(__SSE2__)
  const __m128 max_v = _mm_set1_ps(max_logit), inv_t = _mm_set1_ps(inv_temperature);
  const __m128 lowest = _mm_set1_ps(kLowest), neg_log2e = _mm_set1_ps(-kLog2e), half = _mm_set1_ps(0.5f);
  const __m128 ln2_hi = _mm_set1_ps(kLn2Hi), ln2_lo = _mm_set1_ps(kLn2Lo), one = _mm_set1_ps(1.0f);
  const __m128i bias = _mm_set1_epi32(127);
  for (; i + 4 <= n; i += 4) {
    __m128 x = _mm_mul_ps(_mm_sub_ps(_mm_loadu_ps(logits + i), max_v), inv_t);
    const __m128 in_range = _mm_cmpge_ps(x, lowest);  // false for NaN and -inf
    x = _mm_and_ps(x, in_range);
    const __m128i k = _mm_cvttps_epi32(_mm_add_ps(_mm_mul_ps(x, neg_log2e), half));
    const __m128 fk = _mm_cvtepi32_ps(k);
    const __m128 r = _mm_add_ps(_mm_add_ps(x, _mm_mul_ps(fk, ln2_hi)), _mm_mul_ps(fk, ln2_lo));
    const __m128 z = _mm_mul_ps(r, r);
    __m128 p = _mm_set1_ps(kP0);
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(kP1));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(kP2));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(kP3));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(kP4));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(kP5));
    p = _mm_add_ps(_mm_add_ps(_mm_mul_ps(p, z), r), one);
    const __m128 scale = _mm_castsi128_ps(_mm_slli_epi32(_mm_sub_epi32(bias, k), 23));
    _mm_storeu_ps(out + i, _mm_and_ps(_mm_mul_ps(p, scale), in_range));
  }
#endif
  for (; i < n; ++i) out[i] = ExpOfScaledGapScalar(logits[i], max_logit, inv_temperature);
}

float MaxIgnoringNanScalar(const float* v, size_t n) {
  float best = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < n; ++i) best = v[i] > best ? v[i] : best;
  return best;
}

float MaxIgnoringNan(const float* v, size_t n) {
  size_t i = 0;
  float best = -std::numeric_limits<float>::infinity();
#if defined(__SSE2__)
  __m128 acc0 = _mm_set1_ps(best), acc1 = acc0;
  for (; i + 8 <= n; i += 8) {
    // maxps returns its second operand when either is NaN, so NaN inputs go first.
    acc0 = _mm_max_ps(_mm_loadu_ps(v + i), acc0);
    acc1 = _mm_max_ps(_mm_loadu_ps(v + i + 4), acc1);
  }
  alignas(16) float lanes[4];
  _mm_store_ps(lanes, _mm_max_ps(acc0, acc1));
  for (float lane : lanes) best = lane > best ? lane : best;
#endif
  for (; i < n; ++i) best = v[i] > best ? v[i] : best;
  return best;
}

}  // namespace meridian::engine
