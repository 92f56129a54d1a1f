// NVML through dlopen (declarations written from NVML's public API documentation: only the few
// entry points used, with the C ABI types they take), and the GPU gauge families.
#include "server/gpu_metrics.h"

#include <dlfcn.h>

#include <type_traits>

#include "core/log.h"

namespace meridian::server {

namespace {
using NvmlReturn = int;  // nvmlReturn_t: 0 is NVML_SUCCESS
using NvmlDevice = struct NvmlDeviceOpaque*;
struct NvmlUtilization {
  unsigned int gpu;     //!< percent of time a kernel ran over the sample period
  unsigned int memory;  //!< percent of time device memory was read or written
};
struct NvmlMemory {
  unsigned long long total, free, used;  // NOLINT(google-runtime-int): NVML's own types
};
constexpr int kNvmlTemperatureGpu = 0;  // NVML_TEMPERATURE_GPU
}  // namespace

struct Nvml::Api {
  NvmlReturn (*init)();
  NvmlReturn (*shutdown)();
  const char* (*error_string)(NvmlReturn);
  NvmlReturn (*device_count)(unsigned int*);
  NvmlReturn (*handle_by_index)(unsigned int, NvmlDevice*);
  NvmlReturn (*utilization)(NvmlDevice, NvmlUtilization*);
  NvmlReturn (*memory)(NvmlDevice, NvmlMemory*);
  NvmlReturn (*temperature)(NvmlDevice, int, unsigned int*);
  NvmlReturn (*power_mw)(NvmlDevice, unsigned int*);
};

Result<std::unique_ptr<Nvml>> Nvml::Open(const std::string& library) {
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return Unavailable("cannot load " + library + " (NVML, part of the NVIDIA driver): " +
                       (why != nullptr ? why : "unknown error"));
  }
  auto api = std::make_unique<Api>();
  std::string missing;
  auto bind = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, name));
    if (fn == nullptr) missing += std::string(missing.empty() ? "" : ", ") + name;
  };
  bind(api->init, "nvmlInit_v2");
  bind(api->shutdown, "nvmlShutdown");
  bind(api->error_string, "nvmlErrorString");
  bind(api->device_count, "nvmlDeviceGetCount_v2");
  bind(api->handle_by_index, "nvmlDeviceGetHandleByIndex_v2");
  bind(api->utilization, "nvmlDeviceGetUtilizationRates");
  bind(api->memory, "nvmlDeviceGetMemoryInfo");
  bind(api->temperature, "nvmlDeviceGetTemperature");
  bind(api->power_mw, "nvmlDeviceGetPowerUsage");
  if (!missing.empty()) {
    dlclose(handle);
    return Unavailable(library + " lacks " + missing);
  }
  if (NvmlReturn r = api->init(); r != 0) {
    const std::string why = api->error_string(r);
    dlclose(handle);
    return Unavailable("nvmlInit_v2 failed: " + why);
  }
  return std::unique_ptr<Nvml>(new Nvml(handle, std::move(api)));
}

Nvml::Nvml(void* handle, std::unique_ptr<Api> api) : handle_(handle), api_(std::move(api)) {}

Nvml::~Nvml() {
  api_->shutdown();
  dlclose(handle_);
}

Result<std::vector<GpuSample>> Nvml::Sample() const {
  unsigned int count = 0;
  if (NvmlReturn r = api_->device_count(&count); r != 0) {
    return Unavailable(std::string("nvmlDeviceGetCount_v2 failed: ") + api_->error_string(r));
  }
  std::vector<GpuSample> samples;
  for (unsigned int i = 0; i < count; ++i) {
    NvmlDevice dev = nullptr;
    if (api_->handle_by_index(i, &dev) != 0) continue;  // e.g. a GPU the driver marks lost
    GpuSample s;
    s.index = i;
    NvmlUtilization u{};
    if (api_->utilization(dev, &u) == 0) s.utilization_ratio = u.gpu / 100.0;
    NvmlMemory m{};
    if (api_->memory(dev, &m) == 0) {
      s.memory_used_bytes = m.used;
      s.memory_total_bytes = m.total;
    }
    unsigned int celsius = 0;
    if (api_->temperature(dev, kNvmlTemperatureGpu, &celsius) == 0) s.temperature_celsius = celsius;
    unsigned int milliwatts = 0;
    if (api_->power_mw(dev, &milliwatts) == 0) s.power_watts = milliwatts / 1000.0;
    samples.push_back(s);
  }
  return samples;
}

GpuMetrics::GpuMetrics(metrics::Registry& r)
    : utilization_(r.AddGauge("meridian:gpu_utilization_ratio",
                              "Share of the last sample period in which a kernel ran on the GPU (NVML).", {"gpu"})),
      memory_used_(r.AddGauge("meridian:gpu_memory_used_bytes", "GPU memory in use (NVML).", {"gpu"})),
      memory_total_(r.AddGauge("meridian:gpu_memory_total_bytes", "GPU memory in all (NVML).", {"gpu"})),
      temperature_(r.AddGauge("meridian:gpu_temperature_celsius", "GPU core temperature (NVML).", {"gpu"})),
      power_(r.AddGauge("meridian:gpu_power_watts", "GPU board power draw (NVML).", {"gpu"})) {}

void GpuMetrics::Update(std::span<const GpuSample> samples) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const GpuSample& s : samples) {
    const std::string gpu = std::to_string(s.index);
    if (s.utilization_ratio) utilization_.WithLabels({gpu}).Set(*s.utilization_ratio);
    if (s.memory_used_bytes) memory_used_.WithLabels({gpu}).Set(static_cast<double>(*s.memory_used_bytes));
    if (s.memory_total_bytes) memory_total_.WithLabels({gpu}).Set(static_cast<double>(*s.memory_total_bytes));
    if (s.temperature_celsius) temperature_.WithLabels({gpu}).Set(*s.temperature_celsius);
    if (s.power_watts) power_.WithLabels({gpu}).Set(*s.power_watts);
  }
}

void GpuMetrics::Refresh(const Nvml& nvml) {
  auto samples = nvml.Sample();
  if (samples.ok()) Update(*samples);
}

bool EnableGpuMetrics(metrics::Registry& registry) {
  auto nvml = Nvml::Open();
  if (!nvml.ok()) {
    log::Warn("GPU metrics unavailable", {{"reason", std::string_view(nvml.status().message())}});
    return false;
  }
  // Shared with the collector (std::function must be copyable); they live as long as the registry.
  std::shared_ptr<Nvml> lib = std::move(*nvml);
  auto gauges = std::make_shared<GpuMetrics>(registry);
  gauges->Refresh(*lib);
  registry.AddCollector([lib, gauges] { gauges->Refresh(*lib); });
  log::Info("GPU metrics from NVML", {});
  return true;
}

}  // namespace meridian::server
