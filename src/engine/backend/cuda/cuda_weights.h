// The model's weights on the GPU: Q8_0 matrices split into aligned int8 values and fp16 scales,
// F16 kept, F32/BF16 converted to F16; wq/wk/wv and w_gate/w_up fused into one matrix each so
// that a decode step streams them in one kernel. Norm vectors as f32.
// Thread-safety: immutable after Upload.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "engine/backend/cuda/device_buffer.h"
#include "engine/backend/cuda/kernels.h"
#include "engine/model/model.h"

namespace meridian::engine::cuda {

struct DeviceMatrix {
  GpuMatrix view;
  DeviceBuffer values;  //!< qs (Q8) or f16
  DeviceBuffer scales;  //!< Q8 only
};

struct DeviceLayer {
  DeviceMatrix qkv;      //!< rows [wq; wk; wv]
  DeviceMatrix wo;
  DeviceMatrix gate_up;  //!< rows [w_gate; w_up]
  DeviceMatrix down;
  DeviceBuffer attn_norm, ffn_norm;  //!< f32 [dim]
};

class DeviceWeights {
 public:
  //! Uploads every tensor. ResourceExhausted when the GPU runs out of memory; Unimplemented for a
  //! matrix whose input size is not a multiple of 32 (the GPU kernels' tile width).
  Status Upload(const Model& model);
  const std::vector<DeviceLayer>& layers() const { return layers_; }
  const GpuMatrix& token_embd() const { return token_embd_.view; }
  const GpuMatrix& output() const { return tied_ ? token_embd_.view : output_.view; }
  const float* output_norm() const { return output_norm_.as<float>(); }
  //! Bytes of device memory the weights take.
  uint64_t bytes() const { return bytes_; }

 private:
  Status UploadMatrix(std::vector<const WeightTensor*> parts, const char* what, DeviceMatrix* out);
  Status UploadVector(const WeightTensor& t, DeviceBuffer* out);

  std::vector<DeviceLayer> layers_;
  DeviceMatrix token_embd_, output_;
  DeviceBuffer output_norm_;
  bool tied_ = false;
  uint64_t bytes_ = 0;
};

}  // namespace meridian::engine::cuda
