// kernels_bench: throughput of the CPU matmul kernels on TinyLlama-1.1B shapes, as JSON on stdout,
// with the machine's read bandwidth measured in the same run as the baseline.
//
//   kernels_bench [--threads N] [--isa scalar|avx2|avx512|avx512vnni] [--dtype q8_0|f16|bf16|f32]
//                 [--layout plain|packed|both] [--min-time SECONDS] [--no-model] [--no-shapes]
//
// "shapes": one weight matrix per shape, m = 1, 8, 128 activation rows; weight GB/s, GFLOP/s
// (2 * m * n * k per call) and the ratio of weight GB/s to the read bandwidth.
// "model": the whole TinyLlama weight set (22 layers of q, k, v, o, gate, up, down, then the
// output matrix), each matrix its own buffer so nothing stays in cache between tokens, run as a
// forward pass would: m = 1 (one decode step), m = 8 (eight sequences decoding together),
// m = 128 (a 128-token prefill; the output matrix runs for the last row only, as in prefill).
// batch8_speedup: tokens/s of the m = 8 pass over those of the m = 1 pass.
// --layout: Q8_0 weights as stored (plain, MatMul(WeightTensor)) and/or repacked once with
// PackQ8_0 (packed, MatMul(PackedQ8Weights)); every entry says which. Other dtypes are plain.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "engine/backend/cpu/kernels/kernels.h"

namespace {

using meridian::engine::BlockQ8_0;
using meridian::engine::DType;
using meridian::engine::WeightTensor;
namespace cpu = meridian::engine::cpu;
using Clock = std::chrono::steady_clock;

struct Options {
  int threads = 2;
  std::string isa;
  DType dtype = DType::kQ8_0;
  double min_time = 0.5;
  bool model = true;
  bool shapes = true;
  bool plain = true;
  bool packed = true;
};

struct Rng {
  uint64_t s = 0x9e3779b97f4a7c15ull;
  uint64_t Next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  float Uniform() { return static_cast<float>(Next() >> 40) / static_cast<float>(1 << 24) * 2.0f - 1.0f; }
};

// A weight matrix with random contents in `dtype`, owning its bytes.
struct Matrix {
  std::vector<uint8_t> bytes;
  WeightTensor w;
  cpu::PackedQ8Weights packed;  // filled for Q8_0 when the packed layout is benchmarked
};

// Runs the matmul in the chosen layout.
void Run(const Matrix& w, bool packed, const float* x, int64_t m, float* y, int64_t ldy,
         cpu::ThreadPool& pool) {
  if (packed) {
    cpu::MatMul(w.packed, x, m, y, ldy, pool);
  } else {
    cpu::MatMul(w.w, x, m, y, ldy, pool);
  }
}

Matrix RandomMatrix(DType dtype, int64_t rows, int64_t cols, Rng& rng) {
  Matrix m;
  m.w.dtype = dtype;
  m.w.rows = rows;
  m.w.cols = cols;
  m.bytes.resize(m.w.n_bytes());
  if (dtype == DType::kQ8_0) {
    // Random int8 values and scales directly (quantizing a billion floats would dominate the run).
    auto* blocks = reinterpret_cast<BlockQ8_0*>(m.bytes.data());
    const int64_t n = rows * cols / meridian::engine::kQ8BlockSize;
    for (int64_t b = 0; b < n; ++b) {
      uint64_t r = rng.Next();
      blocks[b].d = meridian::engine::Fp32ToFp16(0.001f + static_cast<float>(r & 0xff) * 1e-5f);
      for (int j = 0; j < meridian::engine::kQ8BlockSize; j += 8) {
        r = rng.Next();
        for (int t = 0; t < 8; ++t)
          blocks[b].qs[j + t] = static_cast<int8_t>(static_cast<int>((r >> (8 * t)) & 0xff) % 255 - 127);
      }
    }
  } else {
    for (int64_t i = 0; i < rows * cols; ++i) {
      const float v = rng.Uniform() * 0.05f;
      if (dtype == DType::kF32) {
        std::memcpy(m.bytes.data() + 4 * i, &v, 4);
      } else {
        const uint16_t h =
            dtype == DType::kF16 ? meridian::engine::Fp32ToFp16(v) : meridian::engine::Fp32ToBf16(v);
        std::memcpy(m.bytes.data() + 2 * i, &h, 2);
      }
    }
  }
  m.w.data = m.bytes.data();
  return m;
}

// Runs fn repeatedly for at least min_time seconds (and 3 runs); returns the best time of one run.
template <typename Fn>
double BestTime(double min_time, Fn&& fn) {
  fn();  // warm-up
  double best = 1e30, total = 0.0;
  for (int runs = 0; runs < 3 || total < min_time; ++runs) {
    const auto start = Clock::now();
    fn();
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    best = std::min(best, secs);
    total += secs;
  }
  return best;
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--threads") {
      const char* v = value();
      if (v == nullptr || std::atoi(v) < 1) return false;
      o->threads = std::atoi(v);
    } else if (a == "--isa") {
      const char* v = value();
      if (v == nullptr || !cpu::IsaFromName(v)) return false;
      o->isa = v;
    } else if (a == "--dtype") {
      const char* v = value();
      auto dt = v ? meridian::engine::DTypeFromName(v) : std::nullopt;
      if (!dt) return false;
      o->dtype = *dt;
    } else if (a == "--layout") {
      const char* v = value();
      if (v == nullptr) return false;
      const std::string_view l = v;
      if (l != "plain" && l != "packed" && l != "both") return false;
      o->plain = l != "packed";
      o->packed = l != "plain";
    } else if (a == "--min-time") {
      const char* v = value();
      if (v == nullptr) return false;
      o->min_time = std::atof(v);
    } else if (a == "--no-model") {
      o->model = false;
    } else if (a == "--no-shapes") {
      o->shapes = false;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!ParseArgs(argc, argv, &opt)) {
    std::fprintf(stderr,
                 "usage: kernels_bench [--threads N] [--isa scalar|avx2|avx512|avx512vnni] "
                 "[--dtype q8_0|f16|bf16|f32] [--layout plain|packed|both] [--min-time SECONDS] [--no-model] "
                 "[--no-shapes]\n");
    return 2;
  }
  if (!opt.isa.empty()) cpu::SetActiveIsa(*cpu::IsaFromName(opt.isa));
  cpu::ThreadPool pool(opt.threads);
  const double bandwidth = cpu::MeasureReadBandwidthGBs(pool);
  std::printf("{\n  \"isa\": \"%s\", \"detected_isa\": \"%s\", \"threads\": %d, \"dtype\": \"%s\",\n",
              cpu::IsaName(cpu::ActiveIsa()), cpu::IsaName(cpu::DetectIsa()), opt.threads,
              meridian::engine::DTypeName(opt.dtype));
  std::printf("  \"read_bandwidth_gbs\": %.2f", bandwidth);
  Rng rng;
  const int64_t ms[] = {1, 8, 128};
  std::vector<bool> layouts;  // false = plain, true = packed
  if (opt.plain || opt.dtype != DType::kQ8_0) layouts.push_back(false);
  if (opt.packed && opt.dtype == DType::kQ8_0) layouts.push_back(true);

  if (opt.shapes) {
    const int64_t shapes[][2] = {{2048, 2048}, {256, 2048}, {5632, 2048}, {2048, 5632}, {32000, 2048}};
    std::printf(",\n  \"shapes\": [");
    bool first = true;
    for (const auto& s : shapes) {
      Matrix w = RandomMatrix(opt.dtype, s[0], s[1], rng);
      if (opt.packed && opt.dtype == DType::kQ8_0) w.packed = cpu::PackQ8_0(w.w, &pool);
      for (bool packed : layouts) {
        for (int64_t m : ms) {
          std::vector<float> x(static_cast<size_t>(m * s[1])), y(static_cast<size_t>(m * s[0]));
          for (float& v : x) v = rng.Uniform();
          const double t = BestTime(opt.min_time, [&] { Run(w, packed, x.data(), m, y.data(), s[0], pool); });
          const double gbs = static_cast<double>(w.w.n_bytes()) / t / 1e9;
          const double gflops = 2.0 * static_cast<double>(m * s[0] * s[1]) / t / 1e9;
          std::printf("%s\n    {\"layout\": \"%s\", \"n\": %" PRId64 ", \"k\": %" PRId64 ", \"m\": %" PRId64
                      ", \"us\": %.1f, \"weight_gbs\": %.2f, \"gflops\": %.1f, \"bandwidth_ratio\": %.3f}",
                      first ? "" : ",", packed ? "packed" : "plain", s[0], s[1], m, t * 1e6, gbs, gflops,
                      gbs / bandwidth);
          first = false;
        }
      }
    }
    std::printf("\n  ]");
  }

  if (opt.model) {
    // TinyLlama-1.1B: dim 2048, 22 layers, 32 heads of 64, 4 KV heads, FFN 5632, vocab 32000.
    const int64_t dim = 2048, kv = 256, ffn = 5632, vocab = 32000, layers = 22;
    const int64_t layer_shapes[][2] = {{dim, dim}, {kv, dim},  {kv, dim}, {dim, dim},
                                       {ffn, dim}, {ffn, dim}, {dim, ffn}};
    std::vector<Matrix> mats;
    for (int64_t l = 0; l < layers; ++l)
      for (const auto& s : layer_shapes) mats.push_back(RandomMatrix(opt.dtype, s[0], s[1], rng));
    Matrix output = RandomMatrix(opt.dtype, vocab, dim, rng);
    if (opt.packed && opt.dtype == DType::kQ8_0) {
      for (Matrix& m : mats) m.packed = cpu::PackQ8_0(m.w, &pool);
      output.packed = cpu::PackQ8_0(output.w, &pool);
    }
    uint64_t layer_bytes = 0;
    double layer_macs = 0.0;
    for (const Matrix& m : mats) {
      layer_bytes += m.w.n_bytes();
      layer_macs += static_cast<double>(m.w.rows * m.w.cols);
    }
    const uint64_t token_bytes = layer_bytes + output.w.n_bytes();
    const double token_macs = layer_macs + static_cast<double>(vocab * dim);
    std::printf(",\n  \"model\": {\"weight_bytes_per_token\": %" PRIu64
                ", \"macs_per_token\": %.4g, \"passes\": [",
                token_bytes, token_macs);
    std::vector<float> x(static_cast<size_t>(128 * ffn)), y(static_cast<size_t>(128 * vocab));
    for (float& v : x) v = rng.Uniform();
    bool first = true;
    std::string speedups;
    for (bool packed : layouts) {
      double tok_s_m1 = 0.0, tok_s_m8 = 0.0;
      for (int64_t m : ms) {
        const int64_t out_rows = m == 128 ? 1 : m;  // prefill needs logits of the last token only
        const double t = BestTime(opt.min_time, [&] {
          for (const Matrix& w : mats) Run(w, packed, x.data(), m, y.data(), w.w.rows, pool);
          Run(output, packed, x.data(), out_rows, y.data(), vocab, pool);
        });
        const double gbs = static_cast<double>(token_bytes) / t / 1e9;
        if (m == 1) tok_s_m1 = 1.0 / t;
        if (m == 8) tok_s_m8 = 8.0 / t;
        const double macs = static_cast<double>(m) * layer_macs + static_cast<double>(out_rows * vocab * dim);
        std::printf("%s\n    {\"layout\": \"%s\", \"m\": %" PRId64
                    ", \"ms_per_pass\": %.2f, \"tok_s\": %.2f"
                    ", \"weight_gbs\": %.2f, \"bandwidth_ratio\": %.3f, \"gmacs\": %.1f}",
                    first ? "" : ",", packed ? "packed" : "plain", m, t * 1e3, static_cast<double>(m) / t,
                    gbs, gbs / bandwidth, macs / t / 1e9);
        first = false;
      }
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%s\"%s\": %.2f", speedups.empty() ? "" : ", ",
                    packed ? "packed" : "plain", tok_s_m8 / tok_s_m1);
      speedups += buf;
    }
    std::printf("\n  ], \"batch8_speedup\": {%s}}", speedups.c_str());
  }
  std::printf("\n}\n");
  return 0;
}
