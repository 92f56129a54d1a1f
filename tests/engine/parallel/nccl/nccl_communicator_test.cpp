// NcclCommunicator on the GPUs of this host: the in-place all-reduce sums every rank's values
// on every rank, and Barrier returns on all ranks. Needs 2 or more GPUs (skipped otherwise);
// built only where NCCL is found.
#include "engine/parallel/nccl/nccl_communicator.h"

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <numeric>
#include <thread>
#include <vector>

namespace meridian::engine::parallel {
namespace {

TEST(NcclCommunicatorTest, AllReduceSumsOnEveryGpu) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n < 2) GTEST_SKIP() << "needs 2 or more GPUs, found " << n;
  std::vector<int> devices(static_cast<size_t>(n));
  std::iota(devices.begin(), devices.end(), 0);
  auto comms = NcclCommunicator::CreateAll(devices);
  ASSERT_TRUE(comms.ok()) << comms.status().ToString();
  constexpr int64_t kCount = 4099;
  std::vector<std::vector<float>> got(static_cast<size_t>(n));
  std::vector<Status> statuses(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      NcclCommunicator& c = *(*comms)[static_cast<size_t>(r)];
      cudaSetDevice(c.device());
      std::vector<float> host(kCount);
      for (int64_t i = 0; i < kCount; ++i)
        host[static_cast<size_t>(i)] = static_cast<float>((r + 1) * (i % 7));
      float* dev = nullptr;
      if (cudaMalloc(reinterpret_cast<void**>(&dev), kCount * sizeof(float)) != cudaSuccess) {
        statuses[static_cast<size_t>(r)] = Internal("cudaMalloc");
        return;
      }
      cudaMemcpy(dev, host.data(), kCount * sizeof(float), cudaMemcpyHostToDevice);
      Status s = c.AllReduceSum(dev, kCount);
      if (s.ok()) s = c.Barrier();
      cudaMemcpy(host.data(), dev, kCount * sizeof(float), cudaMemcpyDeviceToHost);
      cudaFree(dev);
      statuses[static_cast<size_t>(r)] = s;
      got[static_cast<size_t>(r)] = std::move(host);
    });
  }
  for (auto& t : threads) t.join();
  const float ranks_sum = static_cast<float>(n * (n + 1) / 2);
  for (int r = 0; r < n; ++r) {
    ASSERT_TRUE(statuses[static_cast<size_t>(r)].ok()) << statuses[static_cast<size_t>(r)].ToString();
    for (int64_t i = 0; i < kCount; ++i) {
      ASSERT_EQ(got[static_cast<size_t>(r)][static_cast<size_t>(i)], ranks_sum * static_cast<float>(i % 7))
          << "rank " << r << " i " << i;
    }
  }
}

TEST(NcclCommunicatorTest, BadRankIsRejected) {
  auto id = NcclCommunicator::UniqueId{};
  auto c = NcclCommunicator::Create(id, 2, 2, 0, nullptr);
  EXPECT_FALSE(c.ok());
}

}  // namespace
}  // namespace meridian::engine::parallel
