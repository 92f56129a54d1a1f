// RAII owners of CUDA memory (device and pinned host) and a CUDA-error-to-Status helper.
// Thread-safety: none; each buffer belongs to one backend.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <utility>

#include "core/status.h"

namespace meridian::engine::cuda {

//! Status for a CUDA call: Ok, or Internal("`what`: <CUDA's message>").
inline Status CudaStatus(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return Status::Ok();
  return Internal(std::string(what) + ": " + cudaGetErrorString(err));
}

//! Device memory from cudaMalloc; empty when default-constructed or moved from.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      Reset();
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  ~DeviceBuffer() { Reset(); }

  //! Replaces the buffer with `bytes` of new device memory; ResourceExhausted when it fails.
  Status Allocate(size_t bytes, const char* what) {
    Reset();
    if (bytes == 0) return Status::Ok();
    void* p = nullptr;
    if (cudaError_t err = cudaMalloc(&p, bytes); err != cudaSuccess) {
      cudaGetLastError();  // clear the (non-sticky) allocation error
      return ResourceExhausted(std::string("out of GPU memory allocating ") + std::to_string(bytes >> 20) +
                               " MiB for " + what + " (" + cudaGetErrorString(err) + ")");
    }
    ptr_ = p;
    bytes_ = bytes;
    return Status::Ok();
  }
  void Reset() {
    if (ptr_ != nullptr) cudaFree(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
  }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

//! Page-locked host memory from cudaMallocHost (fast, asynchronous copies).
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() { Reset(); }
  Status Allocate(size_t bytes) {
    Reset();
    if (cudaError_t err = cudaMallocHost(&ptr_, bytes); err != cudaSuccess) {
      ptr_ = nullptr;
      cudaGetLastError();
      return ResourceExhausted(std::string("cannot allocate pinned host memory: ") + cudaGetErrorString(err));
    }
    bytes_ = bytes;
    return Status::Ok();
  }
  void Reset() {
    if (ptr_ != nullptr) cudaFreeHost(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
  }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace meridian::engine::cuda
