// GPU gauges for the region server's /metrics when it serves with --backend cuda: utilization,
// memory, temperature and power of every GPU, read through NVML. NVML (libnvidia-ml.so.1, part
// of the NVIDIA driver) is opened with dlopen at run time, so the binary runs where it is absent;
// then the gauges are simply not exported.
// Thread-safety: Nvml and GpuMetrics may be used from any thread (GpuMetrics::Refresh is
// serialized by a mutex; NVML itself is thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "core/status.h"

namespace meridian::server {

//! One GPU's readings; a reading the GPU does not support is left empty.
struct GpuSample {
  uint32_t index = 0;                          //!< NVML's index (all GPUs, not CUDA_VISIBLE_DEVICES)
  std::optional<double> utilization_ratio;     //!< share of the last sample period a kernel ran (0..1)
  std::optional<uint64_t> memory_used_bytes;
  std::optional<uint64_t> memory_total_bytes;
  std::optional<double> temperature_celsius;
  std::optional<double> power_watts;
};

//! The NVIDIA Management Library, loaded at run time and initialized (nvmlInit_v2); shut down
//! and unloaded on destruction.
class Nvml {
 public:
  //! Loads `library` (default: the driver's libnvidia-ml.so.1). Unavailable with the reason when
  //! it cannot be loaded, lacks a needed symbol, or nvmlInit_v2 fails (no driver, no GPU).
  static Result<std::unique_ptr<Nvml>> Open(const std::string& library = "libnvidia-ml.so.1");
  ~Nvml();
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  //! Reads every GPU; an error only when the GPUs cannot even be counted.
  Result<std::vector<GpuSample>> Sample() const;

  struct Api;  //!< the resolved entry points (gpu_metrics.cpp)

 private:
  Nvml(void* handle, std::unique_ptr<Api> api);
  void* handle_;
  std::unique_ptr<Api> api_;
};

//! The meridian:gpu_* gauge families, labelled gpu="<index>".
class GpuMetrics {
 public:
  explicit GpuMetrics(metrics::Registry& registry);
  //! Copies samples into the gauges (readings left empty are not touched).
  void Update(std::span<const GpuSample> samples);
  //! Samples `nvml` and updates the gauges; a failed read keeps the last values.
  void Refresh(const Nvml& nvml);

 private:
  std::mutex mu_;
  metrics::GaugeFamily& utilization_;
  metrics::GaugeFamily& memory_used_;
  metrics::GaugeFamily& memory_total_;
  metrics::GaugeFamily& temperature_;
  metrics::GaugeFamily& power_;
};

//! Opens NVML and registers a collector that refreshes the GPU gauges on every scrape. Returns
//! false (after logging why, once) where NVML is unavailable; the server then runs without them.
bool EnableGpuMetrics(metrics::Registry& registry);

}  // namespace meridian::server
