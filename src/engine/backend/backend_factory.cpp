// MakeBackend: picks the CPU or the CUDA backend by BackendOptions::kind. In a build without
// CUDA (MERIDIAN_CUDA=OFF or no nvcc) MakeCudaBackend is defined here and says so. Tensor
// parallelism is refused with the CUDA backend (CPU-only, docs/tensor-parallel.md).
#include "engine/backend/backend.h"

namespace meridian::engine {

Result<BackendKind> BackendKindFromName(std::string_view name) {
  if (name == "cpu") return BackendKind::kCpu;
  if (name == "cuda") return BackendKind::kCuda;
  return InvalidArgument("unknown backend '" + std::string(name) + "' (expected cpu or cuda)");
}

#ifndef MERIDIAN_HAVE_CUDA
Result<std::unique_ptr<Backend>> MakeCudaBackend(const Model&, const BackendOptions&) {
  return Unavailable("this meridian was built without the CUDA backend (configure with nvcc on the PATH, "
                     "or -DMERIDIAN_CUDA=ON)");
}
bool CudaBackendBuilt() { return false; }
Result<double> MeasureGpuCopyBandwidthGBs() { return Unavailable("this meridian was built without CUDA"); }
#else
bool CudaBackendBuilt() { return true; }
#endif

Result<std::unique_ptr<Backend>> MakeBackend(const Model& model, const BackendOptions& options) {
  if (options.kind == BackendKind::kCuda) {
    // Tensor parallelism splits layers over CPU ranks (engine/parallel); the CUDA backend runs the
    // whole model on one GPU and would silently ignore the setting.
    if (options.tensor_parallel != 1) {
      return InvalidArgument("--tensor-parallel " + std::to_string(options.tensor_parallel) +
                             " is not supported with --backend cuda: tensor parallelism is CPU-only for now "
                             "(docs/tensor-parallel.md); use --tensor-parallel 1 with cuda");
    }
    return MakeCudaBackend(model, options);
  }
  return MakeCpuBackend(model, options);
}

}  // namespace meridian::engine
