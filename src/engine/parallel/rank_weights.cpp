// SliceModelWeights: row-slice views and column-slice copies of one rank's weights.
#include "engine/parallel/rank_weights.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace meridian::engine::parallel {
namespace {

// Rows [r.begin, r.end()) of `t`, as a view.
WeightTensor RowSlice(const WeightTensor& t, Range r) {
  WeightTensor s = t;
  s.rows = r.size;
  s.data = static_cast<const uint8_t*>(t.data) + t.row_bytes() * static_cast<uint64_t>(r.begin);
  return s;
}

}  // namespace

void RankWeights::ReleaseOwned(const WeightTensor& t) {
  auto it = owned_.find(t.data);
  if (it == owned_.end()) return;
  owned_.erase(it);
  // Clear every tensor that pointed at the buffer, so nothing reads freed memory.
  for (auto& l : weights_.layers) {
    for (WeightTensor* w : {&l.wo, &l.w_down}) {
      if (w->data == t.data) w->data = nullptr;
    }
  }
}

ColumnBlocks ColumnBlocksOf(const Model& model) {
  ColumnBlocks b;
  for (const auto& l : model.weights().layers) {
    b.attn_output = std::max(b.attn_output, DTypeBlockElems(l.wo.dtype));
    b.ffn_down = std::max(b.ffn_down, DTypeBlockElems(l.w_down.dtype));
  }
  return b;
}

Result<std::unique_ptr<RankWeights>> SliceModelWeights(const Model& model, const ShardPlan& plan) {
  auto out = std::unique_ptr<RankWeights>(new RankWeights());
  const ModelWeights& full = model.weights();
  ModelWeights& w = out->weights_;
  if (plan.whole()) {
    w = full;
    out->bytes_ = model.WeightBytes();
    return out;
  }
  // Columns [c.begin, c.end()) of every row of `t`, copied into an owned buffer.
  auto column_slice = [&out](const WeightTensor& t, Range c, const char* what) -> Result<WeightTensor> {
    const int64_t block = DTypeBlockElems(t.dtype);
    if (c.begin % block != 0 || c.size % block != 0) {
      return InvalidArgument(std::string(what) + ": columns [" + std::to_string(c.begin) + ", " +
                             std::to_string(c.end()) + ") cut a " + std::to_string(block) +
                             "-element quantization block");
    }
    const uint64_t src_row = t.row_bytes();
    const uint64_t offset = *DTypeRowBytes(t.dtype, c.begin);
    const uint64_t dst_row = *DTypeRowBytes(t.dtype, c.size);
    const uint64_t bytes = dst_row * static_cast<uint64_t>(t.rows);
    auto* buf = static_cast<uint8_t*>(std::aligned_alloc(64, std::max<uint64_t>(64, (bytes + 63) / 64 * 64)));
    if (buf == nullptr) return ResourceExhausted(std::string("out of memory slicing ") + what);
    const auto* src = static_cast<const uint8_t*>(t.data);
    for (int64_t r = 0; r < t.rows; ++r) {
      std::memcpy(buf + dst_row * static_cast<uint64_t>(r), src + src_row * static_cast<uint64_t>(r) + offset,
                  dst_row);
    }
    out->owned_.emplace(buf, AlignedBuffer(buf));
    WeightTensor s = t;
    s.cols = c.size;
    s.data = buf;
    return s;
  };

  w.token_embd = full.token_embd;
  w.output_norm = full.output_norm;
  w.output = RowSlice(full.output, plan.vocab);
  out->bytes_ = full.token_embd.n_bytes() + full.output_norm.n_bytes() + w.output.n_bytes();
  w.layers.resize(full.layers.size());
  for (size_t i = 0; i < full.layers.size(); ++i) {
    const LayerWeights& f = full.layers[i];
    LayerWeights& l = w.layers[i];
    l.attn_norm = f.attn_norm;
    l.ffn_norm = f.ffn_norm;
    l.wq = RowSlice(f.wq, plan.q_cols());
    l.wk = RowSlice(f.wk, plan.kv_rows());
    l.wv = RowSlice(f.wv, plan.kv_rows());
    l.w_gate = RowSlice(f.w_gate, plan.ffn);
    l.w_up = RowSlice(f.w_up, plan.ffn);
    MERIDIAN_ASSIGN_OR_RETURN(l.wo, column_slice(f.wo, plan.q_cols(), "attn_output"));
    MERIDIAN_ASSIGN_OR_RETURN(l.w_down, column_slice(f.w_down, plan.ffn, "ffn_down"));
    for (const WeightTensor* t :
         {&l.attn_norm, &l.ffn_norm, &l.wq, &l.wk, &l.wv, &l.w_gate, &l.w_up, &l.wo, &l.w_down}) {
      out->bytes_ += t->n_bytes();
    }
  }
  return out;
}

}  // namespace meridian::engine::parallel
