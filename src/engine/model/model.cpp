// Model: format detection, shared weight post-processing (f32 norms, load-time quantization),
// and size accounting.
#include "engine/model/model.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "engine/backend/cpu/kernels/kernels.h"
#include "engine/model/model_storage.h"

namespace meridian::engine {

uint8_t* Model::Storage::Allocate(uint64_t bytes) {
  uint64_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
  if (p == nullptr) return nullptr;
  buffers.emplace_back(static_cast<uint8_t*>(p));
  return static_cast<uint8_t*>(p);
}

Model::Model() : storage_(std::make_unique<Storage>()) {}
Model::~Model() = default;

Result<std::unique_ptr<Model>> Model::Load(const std::string& path, const LoadOptions& options) {
  struct stat st{};
  if (stat(path.c_str(), &st) != 0) {
    return NotFound("model '" + path + "': " + std::strerror(errno));
  }
  auto model = std::make_unique<Model>();
  model->path_ = path;
  Status s = S_ISDIR(st.st_mode) ? LoadHfModel(path, options, *model) : LoadGgufModel(path, options, *model);
  if (!s.ok()) return s;
  return model;
}

namespace {

// Releases the pages of a read-only file mapping once its contents were converted, so that a
// load-time quantization keeps no full-precision copy resident.
void DropMappedPages(const void* data, uint64_t bytes) {
  const long page = sysconf(_SC_PAGESIZE);
  auto begin = reinterpret_cast<uintptr_t>(data);
  uintptr_t first = (begin + page - 1) / page * page;
  uintptr_t last = (begin + bytes) / page * page;
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

Status NormToF32(Model& model, WeightTensor& t, const char* what) {
  if (t.dtype == DType::kF32) return Status::Ok();
  if (t.rows != 1) return InvalidArgument(std::string(what) + ": expected a vector");
  auto* out = reinterpret_cast<float*>(model.storage_->Allocate(static_cast<uint64_t>(t.cols) * 4));
  if (out == nullptr) return ResourceExhausted("out of memory converting norm weights");
  cpu::DequantizeRow(t.dtype, t.data, out, t.cols);
  t.dtype = DType::kF32;
  t.data = out;
  return Status::Ok();
}

Status QuantizeMatrix(Model& model, WeightTensor& t, DType target, cpu::ThreadPool& pool) {
  if (t.dtype == target) return Status::Ok();
  if (target != DType::kQ8_0) {
    return Unimplemented(std::string("load-time conversion to ") + DTypeName(target) + " (only q8_0)");
  }
  // Rows that Q8_0 blocks cannot tile stay in their own type (llama.cpp's quantizer falls back
  // the same way).
  if (t.cols % kQ8BlockSize != 0) return Status::Ok();
  uint64_t bytes = *DTypeRowBytes(DType::kQ8_0, t.cols) * static_cast<uint64_t>(t.rows);
  auto* out = reinterpret_cast<BlockQ8_0*>(model.storage_->Allocate(bytes));
  if (out == nullptr) return ResourceExhausted("out of memory quantizing weights");
  cpu::QuantizeMatrixQ8_0(t, out, &pool);
  DropMappedPages(t.data, t.n_bytes());
  t.dtype = DType::kQ8_0;
  t.data = out;
  return Status::Ok();
}

}  // namespace

Status FinishWeights(const LoadOptions& options, Model& model) {
  ModelWeights& w = model.weights_;
  MERIDIAN_RETURN_IF_ERROR(NormToF32(model, w.output_norm, "output_norm.weight"));
  for (auto& layer : w.layers) {
    MERIDIAN_RETURN_IF_ERROR(NormToF32(model, layer.attn_norm, "attn_norm.weight"));
    MERIDIAN_RETURN_IF_ERROR(NormToF32(model, layer.ffn_norm, "ffn_norm.weight"));
  }
  if (options.quantize) {
    cpu::ThreadPool pool(static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN))));
    const bool tied = w.output.data == w.token_embd.data;
    MERIDIAN_RETURN_IF_ERROR(QuantizeMatrix(model, w.token_embd, *options.quantize, pool));
    if (tied) {
      w.output = w.token_embd;
    } else {
      MERIDIAN_RETURN_IF_ERROR(QuantizeMatrix(model, w.output, *options.quantize, pool));
    }
    for (auto& l : w.layers) {
      for (WeightTensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
        MERIDIAN_RETURN_IF_ERROR(QuantizeMatrix(model, *t, *options.quantize, pool));
      }
    }
  }
  return Status::Ok();
}

uint64_t Model::WeightBytesPerToken() const {
  const ModelWeights& w = weights_;
  uint64_t total = w.token_embd.row_bytes() + w.output.n_bytes() + w.output_norm.n_bytes();
  for (const auto& l : w.layers) {
    for (const WeightTensor* t : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_norm, &l.w_gate, &l.w_up,
                                  &l.w_down}) {
      total += t->n_bytes();
    }
  }
  return total;
}

uint64_t Model::WeightBytes() const {
  const ModelWeights& w = weights_;
  uint64_t total = WeightBytesPerToken() - w.token_embd.row_bytes() + w.token_embd.n_bytes();
  if (w.output.data == w.token_embd.data) total -= w.output.n_bytes();
  return total;
}

bool Model::IsFileMapped(const void* p, uint64_t n) const {
  return storage_->gguf != nullptr && storage_->gguf->Contains(p, n);
}

DType Model::main_dtype() const {
  return weights_.layers.empty() ? weights_.output.dtype : weights_.layers[0].w_gate.dtype;
}

}  // namespace meridian::engine
