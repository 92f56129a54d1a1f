// Sampler: greedy, determinism, top-k/top-p/min-p filtering against straightforward references,
// exact penalty arithmetic, the distribution of draws, and parameter validation.
#include "engine/sampling/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <numeric>
#include <set>
#include <vector>

#include "engine/sampling/fast_exp.h"

namespace meridian::engine {
namespace {

std::vector<float> RandomLogits(size_t n, uint64_t seed, float scale = 3.0f) {
  Xoshiro256 rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>((rng.NextDouble() * 2.0 - 1.0) * scale);
  return v;
}

std::vector<float> LogitsOf(const std::vector<double>& probs) {
  std::vector<float> v;
  for (double p : probs) v.push_back(static_cast<float>(std::log(p)));
  return v;
}

//! Counts how often each token is drawn over `draws` samples of the same logits.
std::map<int32_t, int> Histogram(const SamplingParams& params, const std::vector<float>& logits, int draws) {
  Sampler sampler(params, static_cast<int32_t>(logits.size()));
  std::map<int32_t, int> counts;
  for (int i = 0; i < draws; ++i) {
    std::vector<float> copy = logits;
    ++counts[sampler.Sample(copy)];
  }
  return counts;
}

TEST(FastExp, MatchesTheScalarReferenceAndStdExp) {
  const float max = 60.0f;
  std::vector<float> logits = RandomLogits(4099, 3, 60.0f);  // all <= max
  logits[5] = NAN;
  logits[6] = -INFINITY;
  logits[7] = max;     // exp(0) = 1
  logits[8] = -27.0f;  // (x - max) = -87: the lowest kept argument
  logits[9] = -27.5f;
  std::vector<float> out(logits.size());
  ExpOfScaledGaps(logits.data(), logits.size(), max, 1.0f, out.data());
  for (size_t i = 0; i < logits.size(); ++i) {
    const float scalar = ExpOfScaledGapScalar(logits[i], max, 1.0f);
    EXPECT_EQ(std::memcmp(&out[i], &scalar, sizeof(float)), 0) << i << ": " << out[i] << " vs " << scalar;
    const float x = (logits[i] - max) * 1.0f;  // the argument as the kernel rounds it
    if (!(x >= -87.0f)) {
      EXPECT_EQ(out[i], 0.0f) << i;
    } else {
      EXPECT_NEAR(out[i] / std::exp(static_cast<double>(x)), 1.0, 3e-7) << i << ": x = " << x;
    }
  }
  EXPECT_EQ(out[7], 1.0f);
  EXPECT_GT(out[8], 0.0f);
  EXPECT_EQ(out[9], 0.0f);
  std::vector<float> in_place = logits;
  ExpOfScaledGaps(in_place.data(), in_place.size(), max, 1.0f, in_place.data());
  EXPECT_EQ(std::memcmp(in_place.data(), out.data(), out.size() * sizeof(float)), 0);
}

TEST(FastExp, MaxIgnoresNan) {
  std::vector<float> v = RandomLogits(1001, 8);
  v[3] = NAN;
  v[500] = 100.0f;
  v[1000] = NAN;
  EXPECT_EQ(MaxIgnoringNan(v.data(), v.size()), 100.0f);
  EXPECT_EQ(MaxIgnoringNanScalar(v.data(), v.size()), 100.0f);
  std::vector<float> nans(13, NAN);
  EXPECT_EQ(MaxIgnoringNan(nans.data(), nans.size()), -INFINITY);
  v[0] = INFINITY;
  EXPECT_EQ(MaxIgnoringNan(v.data(), v.size()), INFINITY);
}

TEST(Sampler, GreedyIsArgmaxWithLowestIdOnTies) {
  SamplingParams params;
  params.temperature = 0.0f;
  std::vector<float> logits = RandomLogits(1000, 7);
  const auto max_it = std::max_element(logits.begin(), logits.end());
  Sampler sampler(params, 1000);
  std::vector<float> copy = logits;
  EXPECT_EQ(sampler.Sample(copy), max_it - logits.begin());

  std::vector<float> ties = {1.0f, 5.0f, 2.0f, 5.0f, 5.0f};
  EXPECT_EQ(sampler.Sample(ties), 1);
  std::vector<float> with_nan = {NAN, 1.0f, NAN, 3.0f};
  EXPECT_EQ(sampler.Sample(with_nan), 3);
  std::vector<float> empty;
  EXPECT_EQ(sampler.Sample(empty), -1);
}

TEST(Sampler, TopKOneEqualsGreedy) {
  SamplingParams params;
  params.temperature = 1.5f;
  params.top_k = 1;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::vector<float> logits = RandomLogits(500, seed);
    const int32_t argmax =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    params.seed = seed;
    Sampler sampler(params, 500);
    EXPECT_EQ(sampler.Sample(logits), argmax);
  }
}

TEST(Sampler, SameSeedSameChoices) {
  SamplingParams params;
  params.temperature = 1.0f;
  params.top_p = 0.95f;
  params.seed = 1234;
  Sampler a(params, 256), b(params, 256);
  params.seed = 1235;
  Sampler c(params, 256);
  int differ = 0;
  for (int step = 0; step < 200; ++step) {
    std::vector<float> logits = RandomLogits(256, 100 + step, 1.0f);
    std::vector<float> l1 = logits, l2 = logits, l3 = logits;
    const int32_t ta = a.Sample(l1);
    EXPECT_EQ(ta, b.Sample(l2));
    differ += ta != c.Sample(l3);
  }
  EXPECT_GT(differ, 100);  // a different seed gives a different stream
}

TEST(Sampler, TinyTopPKeepsOnlyTheTopToken) {
  SamplingParams params;
  params.top_p = 1e-6f;
  std::vector<float> logits = LogitsOf({0.3, 0.25, 0.25, 0.2});
  auto counts = Histogram(params, logits, 1000);
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts.begin()->first, 0);
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingTheMass) {
  SamplingParams params;
  params.top_p = 0.75f;
  params.seed = 3;
  auto counts = Histogram(params, LogitsOf({0.5, 0.3, 0.15, 0.05}), 20000);
  EXPECT_EQ(counts.count(2), 0u);
  EXPECT_EQ(counts.count(3), 0u);
  EXPECT_NEAR(counts[0] / 20000.0, 0.5 / 0.8, 0.02);
  EXPECT_NEAR(counts[1] / 20000.0, 0.3 / 0.8, 0.02);
}

TEST(Sampler, TopKKeepsTheKBest) {
  SamplingParams params;
  params.top_k = 2;
  auto counts = Histogram(params, LogitsOf({0.1, 0.4, 0.2, 0.3}), 5000);
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_GT(counts[1], 0);
  EXPECT_GT(counts[3], 0);
}

TEST(Sampler, MinPDropsTokensBelowAFractionOfTheTop) {
  SamplingParams params;
  params.min_p = 0.2f;  // threshold: 0.2 * 0.5 = 0.1
  params.seed = 9;
  auto counts = Histogram(params, LogitsOf({0.5, 0.3, 0.15, 0.05}), 20000);
  EXPECT_EQ(counts.count(3), 0u);
  EXPECT_GT(counts[2], 0);
  EXPECT_NEAR(counts[2] / 20000.0, 0.15 / 0.95, 0.02);
}

//! Reference nucleus: full sort, then the shortest prefix whose mass reaches top_p.
std::set<int32_t> ReferenceNucleus(const std::vector<float>& logits, float top_p) {
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::sort(ids.begin(), ids.end(),
            [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  const float max = logits[ids[0]];
  double total = 0;
  for (float l : logits) total += std::exp(static_cast<double>(l - max));
  std::set<int32_t> kept;
  double acc = 0;
  for (int32_t id : ids) {
    kept.insert(id);
    acc += std::exp(static_cast<double>(logits[id] - max));
    if (acc >= top_p * total) break;
  }
  return kept;
}

TEST(Sampler, LargeVocabularyTopPMatchesAFullSort) {
  // 32000 tokens: ten strong candidates over a long tail, so the nucleus boundary falls among
  // tokens that are drawn often enough to see.
  std::vector<float> logits = RandomLogits(32000, 42, 2.5f);
  for (int i = 0; i < 10; ++i) logits[static_cast<size_t>(i * 3001)] = 14.0f + 0.2f * static_cast<float>(i);
  SamplingParams params;
  params.top_p = 0.7f;
  params.seed = 5;
  const std::set<int32_t> nucleus = ReferenceNucleus(logits, params.top_p);
  ASSERT_GT(nucleus.size(), 3u);
  ASSERT_LE(nucleus.size(), 10u);
  auto counts = Histogram(params, logits, 150);  // every nucleus token has p > 5%
  std::set<int32_t> drawn;
  for (const auto& [id, n] : counts) drawn.insert(id);
  EXPECT_EQ(drawn, nucleus);
}

TEST(Sampler, TemperatureOneMatchesTheDistribution) {
  const std::vector<double> probs = {0.1, 0.2, 0.3, 0.4};
  SamplingParams params;
  params.seed = 20240601;
  const int draws = 20000;
  auto counts = Histogram(params, LogitsOf(probs), draws);
  for (int32_t i = 0; i < 4; ++i) {
    // 4.5 standard deviations of a binomial frequency at n = 20000 is under 0.016.
    EXPECT_NEAR(counts[i] / static_cast<double>(draws), probs[static_cast<size_t>(i)], 0.016)
        << "token " << i;
  }
}

TEST(Sampler, TemperatureSharpensTheDistribution) {
  SamplingParams params;
  params.temperature = 0.5f;  // p_i^2 renormalized: 1, 4, 9, 16 over 30
  params.seed = 77;
  auto counts = Histogram(params, LogitsOf({0.1, 0.2, 0.3, 0.4}), 20000);
  EXPECT_NEAR(counts[3] / 20000.0, 16.0 / 30.0, 0.02);
  EXPECT_NEAR(counts[0] / 20000.0, 1.0 / 30.0, 0.01);
}

//! The straightforward penalty rules, applied to a copy.
std::vector<float> ReferencePenalties(std::vector<float> logits, const std::vector<int32_t>& prompt,
                                      const std::vector<int32_t>& output, const SamplingParams& p) {
  std::map<int32_t, int> seen, generated;
  for (int32_t t : prompt) ++seen[t];
  for (int32_t t : output) ++seen[t], ++generated[t];
  for (const auto& [t, n] : seen) {
    float& l = logits[static_cast<size_t>(t)];
    l = l > 0.0f ? l / p.repetition_penalty : l * p.repetition_penalty;
  }
  for (const auto& [t, n] : generated) {
    logits[static_cast<size_t>(t)] -= static_cast<float>(n) * p.frequency_penalty + p.presence_penalty;
  }
  return logits;
}

TEST(Sampler, PenaltiesChangeLogitsExactly) {
  SamplingParams params;
  params.temperature = 0.0f;
  params.repetition_penalty = 1.3f;
  params.presence_penalty = 0.5f;
  params.frequency_penalty = 0.25f;
  const std::vector<int32_t> prompt = {1, 2, 3, 3, 7};
  const std::vector<int32_t> output = {3, 4, 4, 4, 9};
  Sampler sampler(params, 16);
  sampler.SetPrompt(prompt);
  for (int32_t t : output) sampler.Accept(t);
  std::vector<float> logits = RandomLogits(16, 11);
  const std::vector<float> expected = ReferencePenalties(logits, prompt, output, params);
  sampler.Sample(logits);
  for (size_t i = 0; i < logits.size(); ++i) EXPECT_EQ(logits[i], expected[i]) << "token " << i;
  // Tokens 1 and 2 were only in the prompt: repetition applies, presence/frequency do not.
  EXPECT_NE(expected[1], RandomLogits(16, 11)[1]);
}

TEST(Sampler, PenaltyWindowCountsOnlyRecentTokens) {
  SamplingParams params;
  params.temperature = 0.0f;
  params.frequency_penalty = 1.0f;
  params.penalty_last_n = 3;
  Sampler sampler(params, 8);
  sampler.SetPrompt(std::vector<int32_t>{5, 5});
  for (int32_t t : {2, 2, 6, 6}) sampler.Accept(t);  // window: [2, 6, 6]
  std::vector<float> logits(8, 1.0f);
  sampler.Sample(logits);
  EXPECT_EQ(logits[2], 0.0f);
  EXPECT_EQ(logits[6], -1.0f);
  EXPECT_EQ(logits[5], 1.0f);
}

TEST(Sampler, PenaltiesSteerGreedyAwayFromRepeats) {
  SamplingParams params;
  params.temperature = 0.0f;
  params.presence_penalty = 2.0f;
  Sampler sampler(params, 3);
  std::vector<float> logits = {1.0f, 2.0f, 1.5f};
  EXPECT_EQ(sampler.Sample(logits), 1);
  sampler.Accept(1);
  logits = {1.0f, 2.0f, 1.5f};
  EXPECT_EQ(sampler.Sample(logits), 2);
  sampler.Accept(99);  // out of the vocabulary: ignored
  sampler.Accept(-1);
}

TEST(Sampler, ValidateNamesTheBadField) {
  EXPECT_TRUE(SamplingParams{}.Validate().ok());
  auto error_of = [](auto mutate) {
    SamplingParams p;
    mutate(p);
    return p.Validate();
  };
  struct Case {
    const char* field;
    Status status;
  } cases[] = {
      {"temperature", error_of([](SamplingParams& p) { p.temperature = 2.5f; })},
      {"temperature", error_of([](SamplingParams& p) { p.temperature = NAN; })},
      {"temperature", error_of([](SamplingParams& p) { p.temperature = -0.1f; })},
      {"top_k", error_of([](SamplingParams& p) { p.top_k = -2; })},
      {"top_p", error_of([](SamplingParams& p) { p.top_p = 0.0f; })},
      {"top_p", error_of([](SamplingParams& p) { p.top_p = 1.5f; })},
      {"min_p", error_of([](SamplingParams& p) { p.min_p = -0.5f; })},
      {"repetition_penalty", error_of([](SamplingParams& p) { p.repetition_penalty = 0.0f; })},
      {"presence_penalty", error_of([](SamplingParams& p) { p.presence_penalty = 2.5f; })},
      {"frequency_penalty", error_of([](SamplingParams& p) { p.frequency_penalty = -3.0f; })},
      {"frequency_penalty", error_of([](SamplingParams& p) { p.frequency_penalty = INFINITY; })},
      {"penalty_last_n", error_of([](SamplingParams& p) { p.penalty_last_n = -1; })},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.code(), StatusCode::kInvalidArgument) << c.field;
    EXPECT_NE(c.status.message().find(c.field), std::string::npos) << c.status.message();
  }
  SamplingParams edge;
  edge.temperature = 2.0f;
  edge.top_k = -1;
  edge.top_p = 1.0f;
  edge.presence_penalty = -2.0f;
  EXPECT_TRUE(edge.Validate().ok());
}

TEST(Sampler, UnvalidatedParamsAreClampedNotTrusted) {
  SamplingParams params;
  params.temperature = NAN;
  params.top_p = NAN;
  params.repetition_penalty = -1.0f;
  Sampler sampler(params, 4);
  std::vector<float> logits = {0.0f, 3.0f, 1.0f, 2.0f};
  EXPECT_EQ(sampler.Sample(logits), 1);  // NaN temperature falls back to greedy
}

TEST(Sampler, InfiniteLogitsShareTheMass) {
  SamplingParams params;
  std::vector<float> logits = {1.0f, INFINITY, -INFINITY, INFINITY};
  auto counts = Histogram(params, logits, 2000);
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_GT(counts[1], 800);
  EXPECT_GT(counts[3], 800);
}

TEST(Sampler, CostPerTokenAtVocab32000) {
  std::vector<float> base = RandomLogits(32000, 99, 8.0f);
  SamplingParams params;
  params.temperature = 0.8f;
  params.top_p = 0.95f;
  params.min_p = 0.01f;
  params.repetition_penalty = 1.1f;
  Sampler sampler(params, 32000);
  sampler.SetPrompt(std::vector<int32_t>(512, 17));
  const int iterations = 20;
  std::vector<float> logits;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) {
    logits = base;
    sampler.Accept(sampler.Sample(logits));
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
      iterations;
  RecordProperty("ms_per_token", std::to_string(ms));
  std::printf("sampling at vocab 32000: %.3f ms per token\n", ms);
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(ms, 5.0);  // 10x headroom over the 0.5 ms target for noisy shared machines
#endif
}

}  // namespace
}  // namespace meridian::engine
