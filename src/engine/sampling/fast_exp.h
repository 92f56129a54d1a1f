// The per-logit kernels of the sampler: a vectorized Cephes-style expf and a NaN-skipping max
// (SSE2 on x86-64), each with the scalar reference it must match bit for bit. Internal to the
// sampler; in a header so that tests can hold the two against each other.
#pragma once

#include <cstddef>

namespace meridian::engine {

//! exp((logit - max_logit) * inv_temperature) for one logit <= max_logit, within ~2 ulp of
//! std::exp; 0 when the argument is below -87, -inf or NaN.
float ExpOfScaledGapScalar(float logit, float max_logit, float inv_temperature);

//! The same for n logits into `out` (which may be `logits`); SIMD where available, with
//! results identical to ExpOfScaledGapScalar.
void ExpOfScaledGaps(const float* logits, size_t n, float max_logit, float inv_temperature, float* out);

//! Largest value, ignoring NaN; -inf when there is none.
float MaxIgnoringNanScalar(const float* v, size_t n);
float MaxIgnoringNan(const float* v, size_t n);

}  // namespace meridian::engine
