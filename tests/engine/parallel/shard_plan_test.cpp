// MakeShardPlan: the ranks' ranges tile heads, KV heads, FFN columns and the vocabulary; GQA
// groups stay whole; indivisible head counts and quantization blocks fail with a clear message.
#include "engine/parallel/shard_plan.h"

#include <gtest/gtest.h>

#include "engine/convert/random_model.h"

namespace meridian::engine::parallel {
namespace {

LlamaConfig Config(int32_t heads, int32_t kv_heads, int32_t head_dim, int32_t ffn, int32_t vocab) {
  LlamaConfig c;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.head_dim = head_dim;
  c.dim = heads * head_dim;
  c.ffn_dim = ffn;
  c.n_vocab = vocab;
  c.n_layers = 1;
  c.context_length = 64;
  return c;
}

// Checks that the ranks' ranges of one kind cover [0, total) in order without overlap.
void ExpectTiles(const std::vector<Range>& ranges, int64_t total, const char* what) {
  int64_t next = 0;
  for (const Range& r : ranges) {
    EXPECT_EQ(r.begin, next) << what;
    EXPECT_GT(r.size, 0) << what;
    next = r.end();
  }
  EXPECT_EQ(next, total) << what;
}

TEST(ShardPlanTest, RangesTileTheModel) {
  // LLaMA-2-70B-like proportions, scaled down: 64 heads, 8 KV heads, Q8_0 blocks.
  const LlamaConfig c = Config(64, 8, 128, 28672, 32003);
  for (int32_t n : {1, 2, 4, 8}) {
    std::vector<Range> heads, kv, ffn, vocab;
    for (int32_t r = 0; r < n; ++r) {
      auto p = MakeShardPlan(c, n, r, {32, 32});
      ASSERT_TRUE(p.ok()) << p.status().ToString();
      EXPECT_EQ(p->rank, r);
      EXPECT_EQ(p->size, n);
      EXPECT_EQ(p->whole(), n == 1);
      // Query heads [h0, h1) use exactly KV heads [h0/g, h1/g).
      const int64_t group = c.n_heads / c.n_kv_heads;
      EXPECT_EQ(p->heads.begin, p->kv_heads.begin * group);
      EXPECT_EQ(p->heads.size, p->kv_heads.size * group);
      EXPECT_EQ(p->ffn.begin % 32, 0);
      EXPECT_EQ(p->q_cols().begin, p->heads.begin * 128);
      EXPECT_EQ(p->kv_rows().size, p->kv_heads.size * 128);
      heads.push_back(p->heads);
      kv.push_back(p->kv_heads);
      ffn.push_back(p->ffn);
      vocab.push_back(p->vocab);
    }
    ExpectTiles(heads, c.n_heads, "heads");
    ExpectTiles(kv, c.n_kv_heads, "kv heads");
    ExpectTiles(ffn, c.ffn_dim, "ffn");
    ExpectTiles(vocab, c.n_vocab, "vocab");
  }
}

TEST(ShardPlanTest, UnevenFfnSplitsInWholeBlocks) {
  // 11008 = 344 blocks of 32: over 3 ranks, 114/115/115 blocks.
  const LlamaConfig c = Config(6, 3, 64, 11008, 1000);
  std::vector<Range> ffn;
  for (int32_t r = 0; r < 3; ++r) {
    auto p = MakeShardPlan(c, 3, r, {32, 32});
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(p->ffn.size % 32, 0);
    EXPECT_GE(p->ffn.size, 114 * 32);
    EXPECT_LE(p->ffn.size, 115 * 32);
    ffn.push_back(p->ffn);
  }
  ExpectTiles(ffn, c.ffn_dim, "ffn");
}

TEST(ShardPlanTest, IndivisibleHeadsFailClearly) {
  // tiny-gqa: 4 heads, 2 KV heads. 4 ranks cannot split 2 KV heads; 3 cannot split 4 heads.
  auto spec = RandomModelPreset("tiny-gqa");
  ASSERT_TRUE(spec.ok());
  for (int32_t n : {3, 4}) {
    auto p = MakeShardPlan(spec->config, n, 0);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find("4 attention heads and 2 KV heads"), std::string::npos)
        << p.status().message();
    EXPECT_NE(p.status().message().find("divisible"), std::string::npos) << p.status().message();
  }
  EXPECT_TRUE(MakeShardPlan(spec->config, 2, 1).ok());
}

TEST(ShardPlanTest, QuantizationBlocksLimitTheSplit) {
  // 4 heads of 16: one head per rank is 16 columns of attn_output, half a Q8_0 block.
  const LlamaConfig c = Config(4, 4, 16, 256, 300);
  EXPECT_TRUE(MakeShardPlan(c, 4, 0, {1, 32}).ok());
  auto p = MakeShardPlan(c, 4, 0, {32, 32});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("attn_output"), std::string::npos) << p.status().message();
  EXPECT_TRUE(MakeShardPlan(c, 2, 0, {32, 32}).ok());
  // An FFN of 176 columns is not whole Q8_0 blocks; unquantized it splits anywhere.
  const LlamaConfig odd = Config(4, 4, 16, 176, 300);
  EXPECT_FALSE(MakeShardPlan(odd, 2, 0, {1, 32}).ok());
  EXPECT_TRUE(MakeShardPlan(odd, 2, 0, {1, 1}).ok());
}

TEST(ShardPlanTest, BadDegreeOrRank) {
  const LlamaConfig c = Config(8, 8, 16, 256, 300);
  EXPECT_FALSE(MakeShardPlan(c, 0, 0).ok());
  EXPECT_FALSE(MakeShardPlan(c, kMaxTensorParallel + 1, 0).ok());
  EXPECT_FALSE(MakeShardPlan(c, 2, 2).ok());
  EXPECT_FALSE(MakeShardPlan(c, 2, -1).ok());
}

}  // namespace
}  // namespace meridian::engine::parallel
