// WeightTensor: a non-owning view of one weight matrix or vector, as the backends consume it.
#pragma once

#include <cstdint>

#include "engine/dtype/dtype.h"

namespace meridian::engine {

//! A row-major matrix [rows, cols]: rows are output features, cols input features (the
//! contiguous dimension, which Q8_0 blocks run along). A vector has rows == 1.
struct WeightTensor {
  DType dtype = DType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* data = nullptr;
  uint64_t row_bytes() const { return *DTypeRowBytes(dtype, cols); }
  uint64_t n_bytes() const { return row_bytes() * static_cast<uint64_t>(rows); }
};

}  // namespace meridian::engine
