// Token sampling for one sequence: repetition/presence/frequency penalties, temperature, top-k,
// top-p, min-p and a seeded draw. See docs/sampling.md for the exact semantics.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"
#include "engine/sampling/rng.h"

namespace meridian::engine {

//! How to pick the next token. Defaults turn every filter and penalty off (plain sampling at
//! temperature 1). Call Validate() on anything that came from a request.
struct SamplingParams {
  float temperature = 1.0f;         //!< 0: greedy (argmax, ties -> lowest id)
  int32_t top_k = 0;                //!< 0 (or -1): off; 1: greedy
  float top_p = 1.0f;               //!< 1: off; keeps the smallest top set with mass >= top_p
  float min_p = 0.0f;               //!< 0: off; drops tokens with p < min_p * p(top token)
  float repetition_penalty = 1.0f;  //!< 1: off; CTRL-style over prompt + output tokens
  float presence_penalty = 0.0f;    //!< OpenAI: logit -= presence if the token was generated
  float frequency_penalty = 0.0f;   //!< OpenAI: logit -= frequency * times it was generated
  //! Window for all penalties: only the last n tokens of prompt + output count (presence and
  //! frequency still count only generated tokens inside that window). 0: whole history.
  int32_t penalty_last_n = 0;
  uint64_t seed = 0;  //!< same seed + same logits -> same choices

  //! InvalidArgument naming the first field out of range (temperature 0..2, top_k >= -1,
  //! top_p (0,1], min_p [0,1], repetition_penalty (0,10], presence/frequency -2..2,
  //! penalty_last_n >= 0; NaN and infinities are rejected).
  Status Validate() const;
  //! True when Sample() is a plain argmax (after penalties).
  bool IsGreedy() const { return temperature == 0.0f || top_k == 1; }
  //! True when any penalty changes logits.
  bool HasPenalties() const {
    return repetition_penalty != 1.0f || presence_penalty != 0.0f || frequency_penalty != 0.0f;
  }
};

//! Chooses tokens for one sequence. Not thread-safe: one Sampler per sequence, used by the
//! thread that owns that sequence.
class Sampler {
 public:
  //! `params` should have passed Validate(); out-of-range values are clamped to the nearest
  //! meaningful setting rather than trusted. `n_vocab` bounds the token ids recorded.
  Sampler(const SamplingParams& params, int32_t n_vocab);

  //! Replaces the token history with the prompt (it counts for the repetition penalty only).
  //! Call before the first Sample().
  void SetPrompt(std::span<const int32_t> prompt_tokens);
  //! Picks a token from `logits` (one entry per vocabulary id); may modify logits in place.
  //! NaN logits are never chosen; returns -1 only when `logits` is empty. When no logit is
  //! finite the lowest id is returned.
  int32_t Sample(std::span<float> logits);
  //! Records a generated token (for the penalties). Ids outside [0, n_vocab) are ignored.
  void Accept(int32_t token);

  const SamplingParams& params() const { return params_; }

 private:
  //! How often a token occurs in the penalty window.
  struct TokenCounts {
    int32_t all = 0;        //!< prompt + generated occurrences (repetition penalty)
    int32_t generated = 0;  //!< generated occurrences (presence and frequency penalties)
  };
  //! A token still in the running.
  struct Candidate {
    float logit;
    int32_t id;
    float prob;          //!< exp((logit - max) / temperature): unnormalized, the top token has 1
    int32_t bucket = 0;  //!< top-p: the candidate's band of logit distance to the top token
  };

  void Record(int32_t token, bool generated);
  void ApplyPenalties(std::span<float> logits) const;
  //! top_k off: works on the whole vocabulary without sorting it.
  int32_t SampleFullVocabulary(std::span<const float> logits);
  //! top_k on: selects the k best, then filters and draws among them.
  int32_t SampleTopK(std::span<const float> logits, size_t k);
  //! Draws from candidates_ in proportion to their prob.
  int32_t Draw();

  SamplingParams params_;
  int32_t n_vocab_;
  Xoshiro256 rng_;
  bool track_history_;
  std::unordered_map<int32_t, TokenCounts> counts_;
  std::deque<std::pair<int32_t, bool>> window_;  //!< (token, generated) when penalty_last_n > 0
  std::vector<Candidate> candidates_;            //!< reused between calls
  std::vector<Candidate> edge_;                  //!< top-p boundary bucket, reused
  std::vector<float> probs_;                     //!< reused between calls
};

}  // namespace meridian::engine
