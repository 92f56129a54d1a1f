// Sampler: penalties, then temperature, top-k, top-p, min-p, then a seeded draw (vLLM and
// llama.cpp order). Nothing sorts the vocabulary: top-k keeps a k-element heap, top-p buckets
// tokens by logit and sorts only the bucket where the nucleus ends, so a token costs O(n_vocab).
#include "engine/sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "engine/sampling/fast_exp.h"

namespace meridian::engine {
namespace {

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

Status RangeError(const char* field, double value, const char* range) {
  return InvalidArgument(std::string(field) + " must be " + range + " (got " + Num(value) + ")");
}

//! Index of the largest logit, lowest id on ties; NaN never wins; 0 when nothing is finite.
int32_t Argmax(std::span<const float> logits) {
  const float best = MaxIgnoringNan(logits.data(), logits.size());
  if (!(best > -std::numeric_limits<float>::infinity())) return 0;
  return static_cast<int32_t>(std::find(logits.begin(), logits.end(), best) - logits.begin());
}

}  // namespace

Status SamplingParams::Validate() const {
  if (!(temperature >= 0.0f && temperature <= 2.0f)) {
    return RangeError("temperature", temperature, "between 0 and 2 (0 means greedy)");
  }
  if (top_k < -1) return RangeError("top_k", top_k, ">= 0 (0 or -1 turns it off)");
  if (!(top_p > 0.0f && top_p <= 1.0f)) {
    return RangeError("top_p", top_p, "greater than 0 and at most 1 (1 turns it off)");
  }
  if (!(min_p >= 0.0f && min_p <= 1.0f)) {
    return RangeError("min_p", min_p, "between 0 and 1 (0 turns it off)");
  }
  if (!(repetition_penalty > 0.0f && repetition_penalty <= 10.0f)) {
    return RangeError("repetition_penalty", repetition_penalty,
                      "greater than 0 and at most 10 (1 turns it off)");
  }
  if (!(presence_penalty >= -2.0f && presence_penalty <= 2.0f)) {
    return RangeError("presence_penalty", presence_penalty, "between -2 and 2");
  }
  if (!(frequency_penalty >= -2.0f && frequency_penalty <= 2.0f)) {
    return RangeError("frequency_penalty", frequency_penalty, "between -2 and 2");
  }
  if (penalty_last_n < 0) {
    return RangeError("penalty_last_n", penalty_last_n, ">= 0 (0 means the whole history)");
  }
  return Status::Ok();
}

Sampler::Sampler(const SamplingParams& params, int32_t n_vocab)
    : params_(params), n_vocab_(n_vocab), rng_(params.seed) {
  // Clamp whatever Validate() would reject so that a missed validation cannot produce NaNs.
  SamplingParams& p = params_;
  if (!(p.temperature > 0.0f)) p.temperature = 0.0f;
  if (!std::isfinite(p.temperature)) p.temperature = 1.0f;
  if (p.top_k < 0) p.top_k = 0;
  if (!(p.top_p < 1.0f)) p.top_p = 1.0f;
  if (!(p.top_p > 0.0f)) p.top_p = 0.0f;  // keeps only the top token
  if (!(p.min_p > 0.0f)) p.min_p = 0.0f;
  if (p.min_p > 1.0f) p.min_p = 1.0f;
  if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty)) {
    p.repetition_penalty = 1.0f;
  }
  if (!std::isfinite(p.presence_penalty)) p.presence_penalty = 0.0f;
  if (!std::isfinite(p.frequency_penalty)) p.frequency_penalty = 0.0f;
  if (p.penalty_last_n < 0) p.penalty_last_n = 0;
  track_history_ = p.HasPenalties();
}

void Sampler::SetPrompt(std::span<const int32_t> prompt_tokens) {
  counts_.clear();
  window_.clear();
  if (!track_history_) return;
  size_t start = 0;
  const size_t window = static_cast<size_t>(params_.penalty_last_n);
  if (window > 0 && prompt_tokens.size() > window) start = prompt_tokens.size() - window;
  for (size_t i = start; i < prompt_tokens.size(); ++i) Record(prompt_tokens[i], false);
}

void Sampler::Accept(int32_t token) {
  Record(token, true);
}

void Sampler::Record(int32_t token, bool generated) {
  if (!track_history_) return;
  if (token < 0 || (n_vocab_ > 0 && token >= n_vocab_)) return;
  TokenCounts& c = counts_[token];
  ++c.all;
  if (generated) ++c.generated;
  if (params_.penalty_last_n <= 0) return;
  window_.emplace_back(token, generated);
  if (window_.size() <= static_cast<size_t>(params_.penalty_last_n)) return;
  const auto [old_token, old_generated] = window_.front();
  window_.pop_front();
  auto it = counts_.find(old_token);
  if (it == counts_.end()) return;
  --it->second.all;
  if (old_generated) --it->second.generated;
  if (it->second.all <= 0) counts_.erase(it);
}

void Sampler::ApplyPenalties(std::span<float> logits) const {
  const float rep = params_.repetition_penalty;
  const float presence = params_.presence_penalty;
  const float frequency = params_.frequency_penalty;
  for (const auto& [token, c] : counts_) {
    if (static_cast<size_t>(token) >= logits.size()) continue;
    float& logit = logits[static_cast<size_t>(token)];
    if (rep != 1.0f && c.all > 0) logit = logit > 0.0f ? logit / rep : logit * rep;
    if (c.generated > 0) logit -= static_cast<float>(c.generated) * frequency + presence;
  }
}

namespace {

//! Sum in double with four independent accumulators (exact enough and fast without -ffast-math).
double SumOf(const float* v, size_t n) {
  double a = 0, b = 0, c = 0, d = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a += v[i];
    b += v[i + 1];
    c += v[i + 2];
    d += v[i + 3];
  }
  for (; i < n; ++i) a += v[i];
  return (a + b) + (c + d);
}

//! Candidate order: higher logit first, then lower id.
bool Better(float logit_a, int32_t id_a, float logit_b, int32_t id_b) {
  return logit_a > logit_b || (logit_a == logit_b && id_a < id_b);
}

// top-p buckets: candidates are grouped by their scaled logit gap to the top token, 16 buckets
// per unit, so the nucleus boundary needs a sort of one bucket instead of the vocabulary.
constexpr int kBucketsPerUnit = 16;
constexpr int kBuckets = 32 * kBucketsPerUnit + 1;  // the last one holds every gap >= 32

int BucketOf(float logit, float max_logit, float inv_temperature) {
  const float gap = (max_logit - logit) * inv_temperature;
  return gap < 32.0f ? static_cast<int>(gap * kBucketsPerUnit) : kBuckets - 1;
}

}  // namespace

int32_t Sampler::Sample(std::span<float> logits) {
  if (logits.empty()) return -1;
  if (track_history_ && !counts_.empty()) ApplyPenalties(logits);
  // A temperature so small that 1/T overflows is greedy in all but name.
  if (params_.IsGreedy() || !(1.0f / params_.temperature < 1e30f)) return Argmax(logits);
  const size_t k = static_cast<size_t>(params_.top_k);
  if (k > 0 && k < logits.size()) return SampleTopK(logits, k);
  return SampleFullVocabulary(logits);
}

int32_t Sampler::SampleFullVocabulary(std::span<const float> logits) {
  const size_t n = logits.size();
  const float max_logit = MaxIgnoringNan(logits.data(), n);
  candidates_.clear();
  if (std::isinf(max_logit)) {  // nothing finite, or +inf logits that share all the mass
    if (max_logit < 0) return Argmax(logits);
    for (size_t i = 0; i < n; ++i) {
      if (logits[i] == max_logit) candidates_.push_back({max_logit, static_cast<int32_t>(i), 1.0f, 0});
    }
    return Draw();
  }
  const float inv_t = 1.0f / params_.temperature;
  probs_.resize(n);
  float* probs = probs_.data();
  ExpOfScaledGaps(logits.data(), n, max_logit, inv_t, probs);

  const bool use_top_p = params_.top_p < 1.0f;
  if (!use_top_p && params_.min_p <= 0.0f) {  // plain sampling: draw straight from probs_
    const double target = rng_.NextDouble() * SumOf(probs, n);
    double acc = 0.0;
    int32_t last = 0;
    for (size_t i = 0; i < n; ++i) {
      if (probs[i] <= 0.0f) continue;
      acc += probs[i];
      last = static_cast<int32_t>(i);
      if (target < acc) return last;
    }
    return last;
  }

  // top-p and min-p each keep a prefix of the tokens ranked by logit, so the result is the
  // shorter prefix. min-p's threshold (relative to the top token's prob of 1) filters while
  // collecting; top-p's mass is measured against the whole distribution (what top-k left).
  const double total = use_top_p ? SumOf(probs, n) : 0.0;
  const float threshold = std::max(params_.min_p, std::numeric_limits<float>::min());
  candidates_.resize(n);
  Candidate* out = candidates_.data();
  size_t m = 0;
  for (size_t i = 0; i < n; ++i) {  // branch-free compaction: the keep test is unpredictable
    out[m] = {logits[i], static_cast<int32_t>(i), probs[i], 0};
    m += probs[i] >= threshold ? 1 : 0;
  }
  candidates_.resize(m);
  if (!use_top_p) return Draw();

  double bucket_mass[kBuckets] = {};
  for (Candidate& c : candidates_) {
    c.bucket = BucketOf(c.logit, max_logit, inv_t);
    bucket_mass[c.bucket] += c.prob;
  }
  double need = static_cast<double>(params_.top_p) * total;
  int boundary = kBuckets;  // buckets below it are kept whole; past it, nothing is kept
  for (int b = 0; b < kBuckets; ++b) {
    if (bucket_mass[b] >= need) {
      boundary = b;
      break;
    }
    need -= bucket_mass[b];
  }
  if (boundary == kBuckets) return Draw();  // rounding left the survivors short: keep them all
  edge_.clear();
  m = 0;
  for (const Candidate& c : candidates_) {
    if (c.bucket == boundary) edge_.push_back(c);
    candidates_[m] = c;
    m += c.bucket < boundary ? 1 : 0;
  }
  candidates_.resize(m);
  std::sort(edge_.begin(), edge_.end(),
            [](const Candidate& a, const Candidate& b) { return Better(a.logit, a.id, b.logit, b.id); });
  for (const Candidate& c : edge_) {  // the boundary bucket contributes until the mass is reached
    candidates_.push_back(c);
    need -= c.prob;
    if (need <= 0.0) break;
  }
  return Draw();
}

int32_t Sampler::SampleTopK(std::span<const float> logits, size_t k) {
  // Worst-first heap of the k best so far: the common case costs one compare per token.
  auto worse_first = [](const Candidate& a, const Candidate& b) {
    return Better(a.logit, a.id, b.logit, b.id);
  };
  candidates_.clear();
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < logits.size(); ++i) {
    const float x = logits[i];
    if (!(x > neg_inf)) continue;  // -inf and NaN are never candidates
    if (candidates_.size() < k) {
      candidates_.push_back({x, static_cast<int32_t>(i), 0.0f, 0});
      std::push_heap(candidates_.begin(), candidates_.end(), worse_first);
    } else if (x > candidates_.front().logit) {  // ids only grow: a tie never displaces
      std::pop_heap(candidates_.begin(), candidates_.end(), worse_first);
      candidates_.back() = {x, static_cast<int32_t>(i), 0.0f, 0};
      std::push_heap(candidates_.begin(), candidates_.end(), worse_first);
    }
  }
  if (candidates_.empty()) return Argmax(logits);
  std::sort(candidates_.begin(), candidates_.end(), worse_first);  // best first
  const float max_logit = candidates_.front().logit;
  if (std::isinf(max_logit)) {
    std::erase_if(candidates_, [&](const Candidate& c) { return c.logit != max_logit; });
    for (Candidate& c : candidates_) c.prob = 1.0f;
    return Draw();
  }
  const size_t m = candidates_.size();
  probs_.resize(m);
  for (size_t i = 0; i < m; ++i) probs_[i] = candidates_[i].logit;
  ExpOfScaledGaps(probs_.data(), m, max_logit, 1.0f / params_.temperature, probs_.data());
  double total = 0.0;
  for (size_t i = 0; i < m; ++i) {
    candidates_[i].prob = probs_[i];
    total += probs_[i];
  }
  // Sorted best first, so min-p and top-p each cut a prefix.
  double need = params_.top_p < 1.0f ? static_cast<double>(params_.top_p) * total : 2.0 * total;
  size_t keep = 0;
  while (keep < m && candidates_[keep].prob >= params_.min_p && candidates_[keep].prob > 0.0f) {
    need -= candidates_[keep].prob;
    ++keep;
    if (need <= 0.0) break;
  }
  candidates_.resize(std::max<size_t>(keep, 1));
  return Draw();
}

int32_t Sampler::Draw() {
  if (candidates_.empty()) return 0;
  double total = 0.0;
  for (const Candidate& c : candidates_) total += c.prob;
  const double target = rng_.NextDouble() * total;
  double acc = 0.0;
  for (const Candidate& c : candidates_) {
    acc += c.prob;
    if (target < acc) return c.id;
  }
  return candidates_.back().id;
}

}  // namespace meridian::engine
