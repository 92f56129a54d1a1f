// DeviceWeights: host-side conversion of each weight tensor to the GPU layouts, and the copies.
#include "engine/backend/cuda/cuda_weights.h"

#include <cstring>

namespace meridian::engine::cuda {
namespace {

// One row of `t` as floats (any dtype Meridian loads).
void RowToFloat(const WeightTensor& t, int64_t r, float* out) {
  const auto* row = static_cast<const uint8_t*>(t.data) + static_cast<uint64_t>(r) * t.row_bytes();
  switch (t.dtype) {
    case DType::kF32:
      std::memcpy(out, row, static_cast<size_t>(t.cols) * sizeof(float));
      break;
    case DType::kF16:
      for (int64_t c = 0; c < t.cols; ++c) {
        uint16_t h;
        std::memcpy(&h, row + 2 * c, 2);
        out[c] = Fp16ToFp32(h);
      }
      break;
    case DType::kBF16:
      for (int64_t c = 0; c < t.cols; ++c) {
        uint16_t h;
        std::memcpy(&h, row + 2 * c, 2);
        out[c] = Bf16ToFp32(h);
      }
      break;
    case DType::kQ8_0: {
      const auto* blocks = reinterpret_cast<const BlockQ8_0*>(row);
      for (int64_t c = 0; c < t.cols; ++c) {
        const BlockQ8_0& b = blocks[c / kQ8BlockSize];
        out[c] = Fp16ToFp32(b.d) * static_cast<float>(b.qs[c % kQ8BlockSize]);
      }
      break;
    }
  }
}

}  // namespace

Status DeviceWeights::UploadMatrix(std::vector<const WeightTensor*> parts, const char* what, DeviceMatrix* out) {
  const int64_t cols = parts[0]->cols;
  int64_t rows = 0;
  bool all_q8 = true;
  for (const WeightTensor* p : parts) {
    if (p->cols != cols || p->data == nullptr) return InvalidArgument(std::string("malformed weight ") + what);
    rows += p->rows;
    all_q8 = all_q8 && p->dtype == DType::kQ8_0;
  }
  if (cols % 32 != 0) {
    return Unimplemented(std::string("the CUDA backend needs matrix input sizes that are multiples of 32; ") + what +
                         " has " + std::to_string(cols));
  }
  GpuMatrix& v = out->view;
  v.rows = rows;
  v.cols = cols;
  if (all_q8) {
    v.type = GpuWeightType::kQ8;
    const int64_t kb = cols / kQ8BlockSize;
    std::vector<int8_t> qs(static_cast<size_t>(rows * cols));
    std::vector<uint16_t> sc(static_cast<size_t>(rows * kb));
    int64_t r0 = 0;
    for (const WeightTensor* p : parts) {
      const auto* blocks = static_cast<const BlockQ8_0*>(p->data);
      for (int64_t r = 0; r < p->rows; ++r) {
        for (int64_t b = 0; b < kb; ++b) {
          const BlockQ8_0& blk = blocks[r * kb + b];
          sc[static_cast<size_t>((r0 + r) * kb + b)] = blk.d;
          std::memcpy(&qs[static_cast<size_t>((r0 + r) * cols + b * kQ8BlockSize)], blk.qs, kQ8BlockSize);
        }
      }
      r0 += p->rows;
    }
    MERIDIAN_RETURN_IF_ERROR(out->values.Allocate(qs.size(), what));
    MERIDIAN_RETURN_IF_ERROR(out->scales.Allocate(sc.size() * 2, what));
    MERIDIAN_RETURN_IF_ERROR(CudaStatus(cudaMemcpy(out->values.as<void>(), qs.data(), qs.size(), cudaMemcpyHostToDevice),
                                        "copying weights to the GPU"));
    MERIDIAN_RETURN_IF_ERROR(CudaStatus(
        cudaMemcpy(out->scales.as<void>(), sc.data(), sc.size() * 2, cudaMemcpyHostToDevice), "copying weights to the GPU"));
    v.qs = out->values.as<int8_t>();
    v.scales = out->scales.as<uint16_t>();
    bytes_ += qs.size() + sc.size() * 2;
    return Status::Ok();
  }
  v.type = GpuWeightType::kF16;
  std::vector<uint16_t> h(static_cast<size_t>(rows * cols));
  std::vector<float> row(static_cast<size_t>(cols));
  int64_t r0 = 0;
  for (const WeightTensor* p : parts) {
    for (int64_t r = 0; r < p->rows; ++r) {
      uint16_t* dst = &h[static_cast<size_t>((r0 + r) * cols)];
      if (p->dtype == DType::kF16) {
        std::memcpy(dst, static_cast<const uint8_t*>(p->data) + static_cast<uint64_t>(r) * p->row_bytes(),
                    static_cast<size_t>(cols) * 2);
        continue;
      }
      RowToFloat(*p, r, row.data());
      for (int64_t c = 0; c < cols; ++c) dst[c] = Fp32ToFp16(row[static_cast<size_t>(c)]);
    }
    r0 += p->rows;
  }
  MERIDIAN_RETURN_IF_ERROR(out->values.Allocate(h.size() * 2, what));
  MERIDIAN_RETURN_IF_ERROR(CudaStatus(cudaMemcpy(out->values.as<void>(), h.data(), h.size() * 2, cudaMemcpyHostToDevice),
                                      "copying weights to the GPU"));
  v.f16 = out->values.as<uint16_t>();
  bytes_ += h.size() * 2;
  return Status::Ok();
}

Status DeviceWeights::UploadVector(const WeightTensor& t, DeviceBuffer* out) {
  const int64_t n = t.rows * t.cols;
  std::vector<float> v(static_cast<size_t>(n));
  WeightTensor flat = t;
  flat.rows = 1;
  flat.cols = n;
  RowToFloat(flat, 0, v.data());
  MERIDIAN_RETURN_IF_ERROR(out->Allocate(v.size() * sizeof(float), "norm weights"));
  bytes_ += v.size() * sizeof(float);
  return CudaStatus(cudaMemcpy(out->as<void>(), v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice),
                    "copying weights to the GPU");
}

Status DeviceWeights::Upload(const Model& model) {
  const ModelWeights& w = model.weights();
  layers_.resize(w.layers.size());
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const LayerWeights& l = w.layers[i];
    DeviceLayer& d = layers_[i];
    MERIDIAN_RETURN_IF_ERROR(UploadMatrix({&l.wq, &l.wk, &l.wv}, "attention q/k/v", &d.qkv));
    MERIDIAN_RETURN_IF_ERROR(UploadMatrix({&l.wo}, "attention output", &d.wo));
    MERIDIAN_RETURN_IF_ERROR(UploadMatrix({&l.w_gate, &l.w_up}, "feed-forward gate/up", &d.gate_up));
    MERIDIAN_RETURN_IF_ERROR(UploadMatrix({&l.w_down}, "feed-forward down", &d.down));
    MERIDIAN_RETURN_IF_ERROR(UploadVector(l.attn_norm, &d.attn_norm));
    MERIDIAN_RETURN_IF_ERROR(UploadVector(l.ffn_norm, &d.ffn_norm));
  }
  MERIDIAN_RETURN_IF_ERROR(UploadMatrix({&w.token_embd}, "token embedding", &token_embd_));
  tied_ = w.output.data == w.token_embd.data && w.output.dtype == w.token_embd.dtype;
  if (!tied_) MERIDIAN_RETURN_IF_ERROR(UploadMatrix({&w.output}, "output projection", &output_));
  return UploadVector(w.output_norm, &output_norm_);
}

}  // namespace meridian::engine::cuda
