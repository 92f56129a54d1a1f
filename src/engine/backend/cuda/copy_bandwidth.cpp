// MeasureGpuCopyBandwidthGBs: the device-to-device copy rate that bounds memory-bound decode.
#include <algorithm>

#include "engine/backend/backend.h"
#include "engine/backend/cuda/device_buffer.h"

namespace meridian::engine {

Result<double> MeasureGpuCopyBandwidthGBs() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    cudaGetLastError();
    return Unavailable("no usable CUDA GPU");
  }
  constexpr size_t kBytes = size_t{1} << 30;
  cuda::DeviceBuffer a, b;
  MERIDIAN_RETURN_IF_ERROR(a.Allocate(kBytes, "the bandwidth test"));
  MERIDIAN_RETURN_IF_ERROR(b.Allocate(kBytes, "the bandwidth test"));
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  double best = 0.0;
  Status status = cuda::CudaStatus(cudaMemset(a.as<void>(), 1, kBytes), "bandwidth test");
  for (int i = 0; i < 6 && status.ok(); ++i) {
    cudaEventRecord(start);
    cudaMemcpyAsync(b.as<void>(), a.as<void>(), kBytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(stop);
    status = cuda::CudaStatus(cudaEventSynchronize(stop), "bandwidth test");
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, start, stop);
    if (i > 0 && ms > 0.0f) best = std::max(best, 2.0 * kBytes / (ms * 1e-3) / 1e9);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  if (!status.ok()) return status;
  return best;
}

}  // namespace meridian::engine
