// The llama tensor table and the Q/K row permutation between Hugging Face and GGUF order.
#include "engine/convert/llama_tensors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "engine/convert/row_convert.h"

namespace meridian::engine {
namespace {

LlamaConfig SmallConfig() {
  LlamaConfig c;
  c.n_vocab = 300;
  c.dim = 64;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 16;
  c.ffn_dim = 96;
  c.context_length = 128;
  return c;
}

TEST(LlamaTensors, TableHasEveryTensorWithItsShape) {
  LlamaConfig c = SmallConfig();
  std::vector<LlamaTensorSpec> all = LlamaTensors(c);
  ASSERT_EQ(all.size(), 3u + 9u * 2u);
  EXPECT_EQ(all.front().gguf_name, "token_embd.weight");
  EXPECT_EQ(all.front().hf_name, "model.embed_tokens.weight");
  EXPECT_EQ(all.back().gguf_name, "output.weight");
  EXPECT_EQ(all.back().hf_name, "lm_head.weight");
  std::set<std::string> names;
  for (const auto& t : all) {
    EXPECT_TRUE(names.insert(t.gguf_name).second) << t.gguf_name;
    auto found = FindLlamaTensor(c, t.gguf_name);
    ASSERT_TRUE(found.has_value()) << t.gguf_name;
    EXPECT_EQ(found->hf_name, t.hf_name);
    EXPECT_EQ(found->rows, t.rows);
    EXPECT_EQ(found->cols, t.cols);
  }
  auto k = FindLlamaTensor(c, "blk.1.attn_k.weight");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->hf_name, "model.layers.1.self_attn.k_proj.weight");
  EXPECT_EQ(k->rows, 32);  // kv_dim
  EXPECT_TRUE(k->is_rope_permuted());
  auto down = FindLlamaTensor(c, "blk.0.ffn_down.weight");
  EXPECT_EQ(down->rows, 64);
  EXPECT_EQ(down->cols, 96);
  auto norm = FindLlamaTensor(c, "blk.0.ffn_norm.weight");
  EXPECT_TRUE(norm->is_norm());
  EXPECT_EQ(norm->hf_name, "model.layers.0.post_attention_layernorm.weight");
}

TEST(LlamaTensors, RejectsNamesOutsideTheModel) {
  LlamaConfig c = SmallConfig();
  for (const char* bad :
       {"blk.2.attn_q.weight", "blk.01.attn_q.weight", "blk.-1.attn_q.weight", "blk..attn_q.weight",
        "blk.0.attn_qkv.weight", "blk.0", "output", "rope_freqs.weight", ""}) {
    EXPECT_FALSE(FindLlamaTensor(c, bad).has_value()) << bad;
  }
  c.tied_embeddings = true;
  EXPECT_FALSE(FindLlamaTensor(c, "output.weight").has_value());
  EXPECT_EQ(LlamaTensors(c).size(), 2u + 9u * 2u);
}

TEST(QkPermutation, MatchesLlamaCppConvertScript) {
  // convert_hf_to_gguf.py: w.reshape(n_head, 2, hd // 2, in).swapaxes(1, 2).reshape(out, in).
  // For hd = 8 the rows of one head come out as HF rows 0, 4, 1, 5, 2, 6, 3, 7.
  const int64_t hd = 8, n_head = 3;
  std::vector<int64_t> expected;
  for (int64_t h = 0; h < n_head; ++h) {
    for (int64_t i = 0; i < hd / 2; ++i) {
      for (int64_t j = 0; j < 2; ++j) expected.push_back(h * hd + j * (hd / 2) + i);
    }
  }
  EXPECT_EQ(std::vector<int64_t>(expected.begin(), expected.begin() + 8),
            (std::vector<int64_t>{0, 4, 1, 5, 2, 6, 3, 7}));
  for (int64_t g = 0; g < n_head * hd; ++g) {
    EXPECT_EQ(convert::HfRowForGgufRow(g, hd), expected[static_cast<size_t>(g)]) << g;
    EXPECT_EQ(convert::GgufRowForHfRow(expected[static_cast<size_t>(g)], hd), g) << g;
  }
  for (int64_t head_dim : {2, 64, 128}) {
    for (int64_t r = 0; r < 4 * head_dim; ++r) {
      EXPECT_EQ(convert::GgufRowForHfRow(convert::HfRowForGgufRow(r, head_dim), head_dim), r);
    }
  }
}

TEST(ParallelRows, CoversEveryRowOnceAndReportsErrors) {
  for (int threads : {1, 3, 8}) {
    std::vector<int> hits(1000, 0);
    Status s = convert::ParallelRows(1000, threads, 7, [&](int64_t b, int64_t e) {
      EXPECT_EQ(b % 7, 0);
      for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok());
    EXPECT_EQ(std::accumulate(hits.begin(), hits.end(), 0), 1000);
    EXPECT_EQ(*std::max_element(hits.begin(), hits.end()), 1);
  }
  Status s = convert::ParallelRows(
      100, 4, 1, [](int64_t b, int64_t) { return b == 0 ? Status::Ok() : Internal("range failed"); });
  EXPECT_EQ(s.code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace meridian::engine
