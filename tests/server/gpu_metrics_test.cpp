// The GPU gauges: names, labels and values as exported, and NVML's absence handled as a clear
// Unavailable error (CI has no NVIDIA driver; the device run checks a real GPU through /metrics).
#include "server/gpu_metrics.h"

#include <gtest/gtest.h>

namespace meridian::server {
namespace {

TEST(GpuMetrics, ExportsLabelledGauges) {
  metrics::Registry registry;
  GpuMetrics m(registry);
  GpuSample a;
  a.index = 0;
  a.utilization_ratio = 0.75;
  a.memory_used_bytes = uint64_t{1} << 30;
  a.memory_total_bytes = uint64_t{80} << 30;
  a.temperature_celsius = 41;
  a.power_watts = 123.5;
  GpuSample b;  // a GPU without power readings: that gauge stays absent
  b.index = 1;
  b.utilization_ratio = 0.0;
  b.temperature_celsius = 30;
  const std::vector<GpuSample> samples = {a, b};
  m.Update(samples);
  const std::string text = registry.Expose();
  for (const char* line : {
           "# TYPE meridian:gpu_utilization_ratio gauge\n",
           "meridian:gpu_utilization_ratio{gpu=\"0\"} 0.75\n",
           "meridian:gpu_utilization_ratio{gpu=\"1\"} 0\n",
           "meridian:gpu_memory_used_bytes{gpu=\"0\"} 1073741824\n",
           "meridian:gpu_memory_total_bytes{gpu=\"0\"} 85899345920\n",
           "meridian:gpu_temperature_celsius{gpu=\"0\"} 41\n",
           "meridian:gpu_temperature_celsius{gpu=\"1\"} 30\n",
           "meridian:gpu_power_watts{gpu=\"0\"} 123.5\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << "in:\n" << text;
  }
  EXPECT_EQ(text.find("meridian:gpu_power_watts{gpu=\"1\"}"), std::string::npos);
  EXPECT_EQ(text.find("meridian:gpu_memory_used_bytes{gpu=\"1\"}"), std::string::npos);

  // A later sample overwrites the values.
  a.utilization_ratio = 0.5;
  m.Update(std::span<const GpuSample>(&a, 1));
  EXPECT_NE(registry.Expose().find("meridian:gpu_utilization_ratio{gpu=\"0\"} 0.5\n"), std::string::npos);
}

TEST(GpuMetrics, MissingLibraryIsUnavailable) {
  auto nvml = Nvml::Open("libmeridian-no-such-nvml.so.1");
  ASSERT_FALSE(nvml.ok());
  EXPECT_EQ(nvml.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(nvml.status().message().find("libmeridian-no-such-nvml.so.1"), std::string::npos)
      << nvml.status().message();
}

TEST(GpuMetrics, LibraryWithoutNvmlSymbolsIsUnavailable) {
  // libc loads everywhere but has none of NVML's entry points.
  auto nvml = Nvml::Open("libc.so.6");
  ASSERT_FALSE(nvml.ok());
  EXPECT_EQ(nvml.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(nvml.status().message().find("nvmlInit_v2"), std::string::npos) << nvml.status().message();
}

TEST(GpuMetrics, EnableWithoutDriverLeavesNoGauges) {
  metrics::Registry registry;
  if (EnableGpuMetrics(registry)) GTEST_SKIP() << "this machine has NVML: the no-driver path is not exercised";
  EXPECT_EQ(registry.Expose().find("meridian:gpu_"), std::string::npos);
}

}  // namespace
}  // namespace meridian::server
