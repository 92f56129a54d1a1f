// Row encoding and the parallel row loop.
#include "engine/convert/row_convert.h"

#include <algorithm>
#include <cstring>
#include <system_error>
#include <thread>
#include <vector>

#include "engine/backend/cpu/kernels/kernels.h"

namespace meridian::engine::convert {

void EncodeRow(const float* src, int64_t n, DType dtype, uint8_t* out) {
  switch (dtype) {
    case DType::kF32: std::memcpy(out, src, static_cast<size_t>(n) * 4); return;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h = Fp32ToFp16(src[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h = Fp32ToBf16(src[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case DType::kQ8_0: cpu::QuantizeRowQ8_0(src, reinterpret_cast<BlockQ8_0*>(out), n); return;
  }
}

int ResolveThreads(int requested) {
  if (requested > 0) return requested;
  return std::max(1u, std::thread::hardware_concurrency());
}

Status ParallelRows(int64_t n, int n_threads, int64_t grain,
                    const std::function<Status(int64_t, int64_t)>& fn) {
  if (n <= 0) return Status::Ok();
  grain = std::max<int64_t>(1, grain);
  const int64_t units = (n + grain - 1) / grain;
  const int64_t threads = std::max<int64_t>(1, std::min<int64_t>(ResolveThreads(n_threads), units));
  if (threads == 1) return fn(0, n);
  std::vector<Status> results(static_cast<size_t>(threads));
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(threads - 1));
  auto range = [&](int64_t t) {
    const int64_t begin = std::min(n, units * t / threads * grain);
    const int64_t end = std::min(n, units * (t + 1) / threads * grain);
    if (begin < end) results[static_cast<size_t>(t)] = fn(begin, end);
  };
  for (int64_t t = 1; t < threads; ++t) {
    try {
      workers.emplace_back(range, t);
    } catch (const std::system_error&) {  // no thread available: do the range here
      range(t);
    }
  }
  range(0);
  for (auto& w : workers) w.join();
  for (const Status& s : results) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace meridian::engine::convert
