// CUDA backend tests: every fast kernel against its scalar reference on random data, and the
// whole backend against the reference kernels and against the CPU backend on random-weight
// models (greedy tokens identical, logits close). Skipped, saying so, where no GPU is present.
// MERIDIAN_CUDA_MODEL=path also runs the 64-step CPU-vs-CUDA comparison on that model, and
// MERIDIAN_CUDA_DUMP=file writes the CUDA greedy run as JSON (tools/cuda/compare_hf.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backend/cuda/cuda_backend.h"
#include "engine/backend/cuda/device_buffer.h"
#include "engine/backend/cuda/kernels.h"
#include "engine/convert/random_model.h"
#include "engine/kv/kv_block_allocator.h"
#include "engine/model/model.h"

namespace meridian::engine {
namespace {

bool HaveGpu() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return n > 0;
}

#define REQUIRE_GPU()                                                                    \
  if (!HaveGpu()) GTEST_SKIP() << "no CUDA GPU on this machine: the CUDA tests run only where one is present"

template <typename T>
cuda::DeviceBuffer Upload(const std::vector<T>& v) {
  cuda::DeviceBuffer b;
  EXPECT_TRUE(b.Allocate(v.size() * sizeof(T), "test").ok());
  cudaMemcpy(b.as<void>(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice);
  return b;
}

std::vector<float> Download(const cuda::DeviceBuffer& b, size_t n) {
  std::vector<float> v(n);
  cudaMemcpy(v.data(), b.as<void>(), n * sizeof(float), cudaMemcpyDeviceToHost);
  return v;
}

struct TestMatrix {
  cuda::GpuMatrix view;
  cuda::DeviceBuffer values, scales;
};

TestMatrix RandomMatrix(cuda::GpuWeightType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  TestMatrix m;
  m.view.type = type;
  m.view.rows = rows;
  m.view.cols = cols;
  if (type == cuda::GpuWeightType::kQ8) {
    std::vector<int8_t> qs(static_cast<size_t>(rows * cols));
    std::vector<uint16_t> sc(static_cast<size_t>(rows * cols / 32));
    for (auto& q : qs) q = static_cast<int8_t>(std::clamp<int>(static_cast<int>(nd(rng) * 40), -127, 127));
    for (auto& s : sc) s = Fp32ToFp16(0.01f * (1.0f + std::fabs(nd(rng))));
    m.values = Upload(qs);
    m.scales = Upload(sc);
    m.view.qs = m.values.as<int8_t>();
    m.view.scales = m.scales.as<uint16_t>();
  } else {
    std::vector<uint16_t> h(static_cast<size_t>(rows * cols));
    for (auto& v : h) v = Fp32ToFp16(nd(rng) * 0.05f);
    m.values = Upload(h);
    m.view.f16 = m.values.as<uint16_t>();
  }
  return m;
}

// Max |a - b| relative to max |b|.
double RelError(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0.0, scale = 1e-12;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, static_cast<double>(std::fabs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::fabs(b[i])));
  }
  return diff / scale;
}

void CheckMatmul(cuda::GpuWeightType type, int64_t m, int64_t rows, int64_t cols, bool accumulate) {
  std::mt19937 rng(static_cast<uint32_t>(m * 131 + rows + cols));
  TestMatrix w = RandomMatrix(type, rows, cols, rng);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(m * cols)), y0(static_cast<size_t>(m * rows));
  for (auto& v : x) v = nd(rng);
  for (auto& v : y0) v = nd(rng);
  auto dx = Upload(x);
  auto ref = Upload(y0), fast = Upload(y0);
  cuda::GemmReference(w.view, dx.as<float>(), m, ref.as<float>(), accumulate, nullptr);
  if (m <= cuda::kMaxMatVecRows) {
    if (type == cuda::GpuWeightType::kQ8) {
      cuda::DeviceBuffer xq, xd;
      ASSERT_TRUE(xq.Allocate(static_cast<size_t>(m * cols), "t").ok());
      ASSERT_TRUE(xd.Allocate(static_cast<size_t>(m * cols / 32 * 4), "t").ok());
      cuda::QuantizeRowsQ8(dx.as<float>(), m, cols, xq.as<int8_t>(), xd.as<float>(), nullptr);
      cuda::MatVecQ8(w.view, xq.as<int8_t>(), xd.as<float>(), static_cast<int>(m), fast.as<float>(), accumulate, nullptr);
    } else {
      cuda::MatVecF16(w.view, dx.as<float>(), static_cast<int>(m), fast.as<float>(), accumulate, nullptr);
    }
  } else {
    cuda::DeviceBuffer xh;
    ASSERT_TRUE(xh.Allocate(static_cast<size_t>(m * cols * 2), "t").ok());
    cuda::ConvertToHalf(dx.as<float>(), m * cols, xh.as<uint16_t>(), nullptr);
    cuda::GemmTensorCore(w.view, xh.as<uint16_t>(), m, fast.as<float>(), accumulate, 132, nullptr);
  }
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const auto r = Download(ref, y0.size()), f = Download(fast, y0.size());
  // Q8 activations (matvec) and fp16 inputs (GEMM) each cost well under 1% of the output scale.
  EXPECT_LT(RelError(f, r), 0.01) << "m=" << m << " rows=" << rows << " cols=" << cols;
}

TEST(CudaKernels, MatVecQ8MatchesReference) {
  REQUIRE_GPU();
  for (int64_t m : {1, 2, 3, 8}) CheckMatmul(cuda::GpuWeightType::kQ8, m, 300, 1024, m % 2 == 0);
}

TEST(CudaKernels, MatVecF16MatchesReference) {
  REQUIRE_GPU();
  for (int64_t m : {1, 4, 7}) CheckMatmul(cuda::GpuWeightType::kF16, m, 257, 512, m == 4);
}

TEST(CudaKernels, TensorCoreGemmMatchesReference) {
  REQUIRE_GPU();
  for (int64_t m : {9, 64, 130}) {
    CheckMatmul(cuda::GpuWeightType::kQ8, m, 200, 2048, m == 64);  // small grid: split-K
    CheckMatmul(cuda::GpuWeightType::kF16, m, 1000, 96, m == 130);
  }
}

// ---- whole-backend tests on random models ----

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("meridian_cuda_test_" + std::to_string(getpid()) + "_" + name))
      .string();
}

std::unique_ptr<Model> MakeModel(const std::string& preset, DType dtype, uint64_t seed, int32_t context = 0) {
  auto spec = RandomModelPreset(preset);
  EXPECT_TRUE(spec.ok());
  spec->config.ffn_dim = 192;  // the GPU kernels need input sizes that are multiples of 32
  if (context > 0) spec->config.context_length = context;
  spec->dtype = dtype;
  spec->seed = seed;
  const std::string path = TempPath(preset + ".gguf");
  EXPECT_TRUE(WriteRandomGguf(*spec, path).ok());
  auto model = Model::Load(path);
  std::filesystem::remove(path);
  EXPECT_TRUE(model.ok()) << model.status().message();
  return model.ok() ? std::move(*model) : nullptr;
}

struct GreedyRun {
  std::vector<int32_t> tokens;
  std::vector<std::vector<float>> logits;  //!< per step
};

// Prefills `prompt` in one step, then decodes `steps` tokens: greedily, or feeding `forced` (the
// other backend's greedy tokens) so that both backends see the same inputs at every step.
GreedyRun RunGreedy(Backend& backend, const Model& model, const std::vector<int32_t>& prompt, int steps,
                    const std::vector<int32_t>* forced = nullptr) {
  const int32_t n_vocab = model.config().n_vocab;
  KvBlockAllocator alloc(backend.kv_blocks_total(), backend.kv_block_tokens());
  std::vector<int32_t> table;
  EXPECT_TRUE(alloc.Reserve(table, static_cast<int64_t>(prompt.size()) + steps + 1).ok());
  GreedyRun run;
  std::vector<float> logits(static_cast<size_t>(n_vocab));
  std::vector<int32_t> tokens = prompt;
  int32_t n_past = 0;
  for (int s = 0; s <= steps; ++s) {
    SequenceStep step;
    step.tokens = std::span<const int32_t>(tokens).subspan(static_cast<size_t>(n_past));
    step.n_past = n_past;
    step.kv_blocks = table;
    Status st = backend.Forward({&step, 1}, logits.data());
    EXPECT_TRUE(st.ok()) << st.message();
    if (!st.ok()) break;
    n_past = static_cast<int32_t>(tokens.size());
    run.logits.push_back(logits);
    const auto next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    run.tokens.push_back(next);
    tokens.push_back(forced != nullptr ? (*forced)[static_cast<size_t>(s)] : next);
  }
  alloc.Release(table);
  return run;
}

double MaxLogitDiff(const GreedyRun& a, const GreedyRun& b) {
  double d = 0.0;
  for (size_t s = 0; s < std::min(a.logits.size(), b.logits.size()); ++s)
    for (size_t i = 0; i < a.logits[s].size(); ++i) d = std::max(d, static_cast<double>(std::fabs(a.logits[s][i] - b.logits[s][i])));
  return d;
}

double MaxLogitAbs(const GreedyRun& a) {
  double m = 0.0;
  for (const auto& l : a.logits)
    for (float v : l) m = std::max(m, static_cast<double>(std::fabs(v)));
  return m;
}

std::vector<int32_t> Prompt(int n, int32_t n_vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> p(static_cast<size_t>(n));
  for (auto& t : p) t = 3 + static_cast<int32_t>(rng() % static_cast<uint32_t>(n_vocab - 3));
  return p;
}

// `b` ran on `a`'s tokens. Logits must agree within rel_bound of the largest logit, and greedy
// choices must be identical except at near-ties of `a` (top-2 gap within twice the logit error).
void ExpectSameGreedy(const GreedyRun& a, const GreedyRun& b, double rel_bound, const char* what) {
  const double diff = MaxLogitDiff(a, b), scale = MaxLogitAbs(a);
  int same = 0, near_ties = 0;
  for (size_t s = 0; s < a.tokens.size() && s < b.tokens.size(); ++s) {
    if (a.tokens[s] == b.tokens[s]) {
      ++same;
      continue;
    }
    const double gap = a.logits[s][static_cast<size_t>(a.tokens[s])] - a.logits[s][static_cast<size_t>(b.tokens[s])];
    EXPECT_LE(gap, 2 * diff) << what << ": step " << s << " chose differently without a near-tie (gap " << gap << ")";
    ++near_ties;
  }
  std::printf("[ %s ] %zu steps (same inputs): greedy identical at %d, near-tie flips %d; max |logit diff| %.5f "
              "(max |logit| %.3f)\n", what, a.tokens.size(), same, near_ties, diff, scale);
  EXPECT_LT(diff, rel_bound * scale) << what;
}

void CompareWithCpu(const Model& model, int prompt_len, int steps, double rel_bound) {
  BackendOptions o;
  o.kv_cache_tokens = 4096;
  o.n_threads = 2;
  auto cpu = MakeCpuBackend(model, o);
  ASSERT_TRUE(cpu.ok());
  o.kind = BackendKind::kCuda;
  auto gpu = MakeBackend(model, o);
  ASSERT_TRUE(gpu.ok()) << gpu.status().message();
  const auto prompt = Prompt(prompt_len, model.config().n_vocab, 5);
  GreedyRun a = RunGreedy(**cpu, model, prompt, steps);
  GreedyRun b = RunGreedy(**gpu, model, prompt, steps, &a.tokens);
  ExpectSameGreedy(a, b, rel_bound, "cuda vs cpu");
  // Free-running CUDA greedy: how many steps match the CPU before the first near-tie flip.
  GreedyRun free_run = RunGreedy(**gpu, model, prompt, steps);
  size_t first = 0;
  while (first < a.tokens.size() && a.tokens[first] == free_run.tokens[first]) ++first;
  std::printf("[ cuda vs cpu ] %s: free-running greedy identical for the first %zu of %zu tokens\n",
              model.path().c_str(), first, a.tokens.size());
}

TEST(CudaBackend, MatchesCpuBackendQ8) {
  REQUIRE_GPU();
  auto model = MakeModel("tiny", DType::kQ8_0, 3);
  ASSERT_TRUE(model);
  CompareWithCpu(*model, 20, 64, 0.02);
}

TEST(CudaBackend, MatchesCpuBackendF16Gqa) {
  REQUIRE_GPU();
  auto model = MakeModel("tiny-gqa", DType::kF16, 2);
  ASSERT_TRUE(model);
  CompareWithCpu(*model, 20, 64, 0.02);
}

TEST(CudaBackend, FastKernelsMatchReferenceKernels) {
  REQUIRE_GPU();
  auto model = MakeModel("tiny", DType::kQ8_0, 4);
  ASSERT_TRUE(model);
  BackendOptions o;
  o.kv_cache_tokens = 1024;
  auto fast = cuda::CudaBackend::Create(*model, o, false);
  auto ref = cuda::CudaBackend::Create(*model, o, true);
  ASSERT_TRUE(fast.ok() && ref.ok());
  // A 40-token prompt takes the tensor-core path, the decode steps the matrix-vector kernels.
  const auto prompt = Prompt(40, model->config().n_vocab, 9);
  GreedyRun b = RunGreedy(**ref, *model, prompt, 32);
  GreedyRun a = RunGreedy(**fast, *model, prompt, 32, &b.tokens);
  ExpectSameGreedy(b, a, 0.02, "fast vs reference kernels");
}

TEST(CudaBackend, BatchedStepEqualsSeparateSteps) {
  REQUIRE_GPU();
  auto model = MakeModel("tiny-gqa", DType::kQ8_0, 5);
  ASSERT_TRUE(model);
  BackendOptions o;
  o.kind = BackendKind::kCuda;
  o.kv_cache_tokens = 2048;
  auto gpu = MakeBackend(*model, o);
  ASSERT_TRUE(gpu.ok());
  Backend& b = **gpu;
  const int32_t n_vocab = model->config().n_vocab;
  KvBlockAllocator alloc(b.kv_blocks_total(), b.kv_block_tokens());
  // Three sequences at different positions: prefill each alone, then one mixed step.
  std::vector<std::vector<int32_t>> prompts = {Prompt(5, n_vocab, 1), Prompt(17, n_vocab, 2), Prompt(33, n_vocab, 3)};
  std::vector<std::vector<int32_t>> tables(3);
  std::vector<float> logits(static_cast<size_t>(n_vocab) * 3);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(alloc.Reserve(tables[i], 64).ok());
    SequenceStep s{prompts[i], 0, tables[i], LogitsMode::kLast};
    ASSERT_TRUE(b.Forward({&s, 1}, logits.data()).ok());
  }
  std::vector<int32_t> next = {7, 8, 9};
  std::vector<SequenceStep> steps;
  for (int i = 0; i < 3; ++i) {
    steps.push_back({std::span<const int32_t>(&next[i], 1), static_cast<int32_t>(prompts[i].size()), tables[i],
                     LogitsMode::kLast});
  }
  ASSERT_TRUE(b.Forward(steps, logits.data()).ok());
  // Each alone (rewriting the same KV slot with the same values).
  for (int i = 0; i < 3; ++i) {
    std::vector<float> one(static_cast<size_t>(n_vocab));
    ASSERT_TRUE(b.Forward({&steps[i], 1}, one.data()).ok());
    for (int32_t v = 0; v < n_vocab; ++v) EXPECT_NEAR(one[v], logits[i * n_vocab + v], 1e-3) << "sequence " << i;
  }
  // A malformed step is an error, not a crash.
  SequenceStep bad{std::span<const int32_t>(&next[0], 1), 1000, tables[0], LogitsMode::kLast};
  EXPECT_FALSE(b.Forward({&bad, 1}, logits.data()).ok());
}

TEST(CudaBackend, TooLargeKvCacheIsAClearError) {
  REQUIRE_GPU();
  auto model = MakeModel("tiny", DType::kQ8_0, 3);
  ASSERT_TRUE(model);
  BackendOptions o;
  o.kind = BackendKind::kCuda;
  o.gpu_memory_fraction = 0.05;
  o.kv_cache_tokens = int64_t{1} << 40;
  auto gpu = MakeBackend(*model, o);
  ASSERT_FALSE(gpu.ok());
  EXPECT_EQ(gpu.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(gpu.status().message().find("--gpu-memory-fraction"), std::string::npos) << gpu.status().message();
}

// Runs without a GPU: the CUDA backend must refuse tensor parallelism rather than ignore it.
TEST(CudaBackend, RefusesTensorParallel) {
  auto model = MakeModel("tiny", DType::kQ8_0, 3);
  ASSERT_TRUE(model);
  BackendOptions o;
  o.kind = BackendKind::kCuda;
  o.tensor_parallel = 2;
  auto gpu = MakeBackend(*model, o);
  ASSERT_FALSE(gpu.ok());
  EXPECT_EQ(gpu.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(gpu.status().message().find("--tensor-parallel 2"), std::string::npos) << gpu.status().message();
  EXPECT_NE(gpu.status().message().find("CPU-only"), std::string::npos) << gpu.status().message();
}

// Decode through CUDA graphs (batches of 1..3 sequences, contexts crossing an attention split
// boundary so that new graphs are captured) gives the logits of the same steps launched directly.
TEST(CudaBackend, GraphedDecodeEqualsDirectLaunches) {
  REQUIRE_GPU();
  auto model = MakeModel("tiny-gqa", DType::kQ8_0, 6, 512);
  ASSERT_TRUE(model);
  BackendOptions o;
  o.kv_cache_tokens = 4096;
  setenv("MERIDIAN_CUDA_GRAPHS", "0", 1);
  auto direct = cuda::CudaBackend::Create(*model, o, false);
  unsetenv("MERIDIAN_CUDA_GRAPHS");
  auto graphed = cuda::CudaBackend::Create(*model, o, false);
  ASSERT_TRUE(direct.ok() && graphed.ok());
  ASSERT_FALSE((*direct)->graphs_enabled());
  ASSERT_TRUE((*graphed)->graphs_enabled());
  const int32_t n_vocab = model->config().n_vocab;
  for (int n_seqs : {1, 3}) {
    std::vector<std::vector<float>> out(2);
    int b = 0;
    for (cuda::CudaBackend* backend : {direct->get(), graphed->get()}) {
      KvBlockAllocator alloc(backend->kv_blocks_total(), backend->kv_block_tokens());
      std::vector<std::vector<int32_t>> tokens(static_cast<size_t>(n_seqs)), tables(static_cast<size_t>(n_seqs));
      std::vector<float> logits(static_cast<size_t>(n_vocab) * n_seqs);
      for (int i = 0; i < n_seqs; ++i) {
        tokens[i] = Prompt(240 + 7 * i, n_vocab, 20 + i);
        ASSERT_TRUE(alloc.Reserve(tables[i], 400).ok());
        SequenceStep s{tokens[i], 0, tables[i], LogitsMode::kLast};
        ASSERT_TRUE(backend->Forward({&s, 1}, logits.data()).ok());
      }
      for (int step = 0; step < 40; ++step) {  // contexts 240..294: past 256 keys
        std::vector<SequenceStep> steps;
        for (int i = 0; i < n_seqs; ++i) {
          tokens[i].push_back(3 + (step * 31 + i * 17) % (n_vocab - 3));
          steps.push_back({std::span<const int32_t>(&tokens[i].back(), 1), static_cast<int32_t>(tokens[i].size() - 1),
                           tables[i], LogitsMode::kLast});
        }
        Status st = backend->Forward(steps, logits.data());
        ASSERT_TRUE(st.ok()) << st.message();
        out[b].insert(out[b].end(), logits.begin(), logits.end());
      }
      ++b;
    }
    ASSERT_EQ(out[0].size(), out[1].size());
    double diff = 0.0;
    for (size_t i = 0; i < out[0].size(); ++i) diff = std::max(diff, static_cast<double>(std::fabs(out[0][i] - out[1][i])));
    EXPECT_LT(diff, 1e-3) << n_seqs << " sequences";
  }
  EXPECT_EQ((*direct)->graphs_captured(), 0);
  EXPECT_GE((*graphed)->graphs_captured(), 2) << "a new attention split should have needed a new graph";
  EXPECT_TRUE((*graphed)->graphs_enabled()) << "graph capture failed and fell back to direct launches";
}

TEST(CudaKernels, FusedNormQuantizeIsBitIdentical) {
  REQUIRE_GPU();
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t n = 5, dim = 4096, ffn = 1024;
  std::vector<float> x(static_cast<size_t>(n * dim)), w(static_cast<size_t>(dim)), gu(static_cast<size_t>(n * 2 * ffn));
  for (auto& v : x) v = nd(rng);
  for (auto& v : w) v = 1.0f + 0.1f * nd(rng);
  for (auto& v : gu) v = 2.0f * nd(rng);
  auto dx = Upload(x), dw = Upload(w), dgu = Upload(gu);
  cuda::DeviceBuffer xn, h, q1, s1, q2, s2;
  const int64_t k = std::max(dim, ffn);
  ASSERT_TRUE(xn.Allocate(n * dim * 4, "t").ok() && h.Allocate(n * ffn * 4, "t").ok());
  ASSERT_TRUE(q1.Allocate(n * k, "t").ok() && s1.Allocate(n * k / 32 * 4, "t").ok());
  ASSERT_TRUE(q2.Allocate(n * k, "t").ok() && s2.Allocate(n * k / 32 * 4, "t").ok());
  auto bytes = [](const cuda::DeviceBuffer& b, size_t len) {
    std::vector<uint8_t> v(len);
    cudaMemcpy(v.data(), b.as<void>(), len, cudaMemcpyDeviceToHost);
    return v;
  };
  cuda::RmsNormRows(dx.as<float>(), dw.as<float>(), nullptr, n, dim, 1e-5f, xn.as<float>(), nullptr);
  cuda::QuantizeRowsQ8(xn.as<float>(), n, dim, q1.as<int8_t>(), s1.as<float>(), nullptr);
  cuda::RmsNormQuantizeQ8(dx.as<float>(), dw.as<float>(), n, dim, 1e-5f, q2.as<int8_t>(), s2.as<float>(), nullptr);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(bytes(q1, n * dim), bytes(q2, n * dim));
  EXPECT_EQ(bytes(s1, n * dim / 32 * 4), bytes(s2, n * dim / 32 * 4));
  cuda::SiluMulRows(dgu.as<float>(), n, ffn, h.as<float>(), nullptr);
  cuda::QuantizeRowsQ8(h.as<float>(), n, ffn, q1.as<int8_t>(), s1.as<float>(), nullptr);
  cuda::SiluMulQuantizeQ8(dgu.as<float>(), n, ffn, q2.as<int8_t>(), s2.as<float>(), nullptr);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(bytes(q1, n * ffn), bytes(q2, n * ffn));
  EXPECT_EQ(bytes(s1, n * ffn / 32 * 4), bytes(s2, n * ffn / 32 * 4));
}

// Micro-benchmark (MERIDIAN_CUDA_BENCH=1): GB/s of the Q8 matvec on LLaMA-2-7B's FFN shapes,
// against the device-to-device copy bandwidth measured in the same process.
TEST(CudaKernels, MatVecQ8Bandwidth) {
  REQUIRE_GPU();
  if (std::getenv("MERIDIAN_CUDA_BENCH") == nullptr) GTEST_SKIP() << "set MERIDIAN_CUDA_BENCH=1 to measure";
  auto copy = MeasureGpuCopyBandwidthGBs();
  ASSERT_TRUE(copy.ok());
  std::mt19937 rng(3);
  struct Shape { int64_t rows, cols; };
  for (Shape sh : {Shape{11008, 4096}, Shape{4096, 11008}}) {
    TestMatrix w = RandomMatrix(cuda::GpuWeightType::kQ8, sh.rows, sh.cols, rng);
    cuda::DeviceBuffer xq, xd, y;
    ASSERT_TRUE(xq.Allocate(8 * sh.cols, "t").ok() && xd.Allocate(8 * sh.cols / 32 * 4, "t").ok() &&
                y.Allocate(8 * sh.rows * 4, "t").ok());
    cudaMemset(xq.as<void>(), 1, 8 * sh.cols);
    cudaMemset(xd.as<void>(), 0, 8 * sh.cols / 32 * 4);
    const double bytes = static_cast<double>(sh.rows * sh.cols + sh.rows * sh.cols / 32 * 2);
    for (int m : {1, 8}) {
      cudaEvent_t a, b;
      cudaEventCreate(&a);
      cudaEventCreate(&b);
      for (int i = 0; i < 5; ++i) cuda::MatVecQ8(w.view, xq.as<int8_t>(), xd.as<float>(), m, y.as<float>(), false, nullptr);
      constexpr int kIters = 50;
      cudaEventRecord(a);
      for (int i = 0; i < kIters; ++i) cuda::MatVecQ8(w.view, xq.as<int8_t>(), xd.as<float>(), m, y.as<float>(), false, nullptr);
      cudaEventRecord(b);
      ASSERT_EQ(cudaEventSynchronize(b), cudaSuccess);
      float ms = 0.0f;
      cudaEventElapsedTime(&ms, a, b);
      const double gbs = bytes * kIters / (ms * 1e-3) / 1e9;
      std::printf("[ matvec q8 ] %lld x %lld, m=%d: %.1f us, %.0f GB/s = %.2f of the copy bandwidth (%.0f GB/s)\n",
                  static_cast<long long>(sh.rows), static_cast<long long>(sh.cols), m, ms * 1e3 / kIters, gbs,
                  gbs / *copy, *copy);
      EXPECT_GT(gbs, 0.0);
      cudaEventDestroy(a);
      cudaEventDestroy(b);
    }
  }
}

// Device-side runs on a model given by path (tools/cuda/device_check.sh).
TEST(CudaBackend, EnvModelMatchesCpu) {
  REQUIRE_GPU();
  const char* path = std::getenv("MERIDIAN_CUDA_MODEL");
  if (path == nullptr) GTEST_SKIP() << "set MERIDIAN_CUDA_MODEL=path to compare a model's CPU and CUDA runs";
  auto model = Model::Load(path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  CompareWithCpu(**model, 16, 64, 0.02);
}

TEST(CudaBackend, EnvDumpGreedyRun) {
  REQUIRE_GPU();
  const char* path = std::getenv("MERIDIAN_CUDA_DUMP_MODEL");
  const char* out = std::getenv("MERIDIAN_CUDA_DUMP");
  if (path == nullptr || out == nullptr) GTEST_SKIP() << "set MERIDIAN_CUDA_DUMP_MODEL and MERIDIAN_CUDA_DUMP";
  auto model = Model::Load(path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  BackendOptions o;
  o.kind = BackendKind::kCuda;
  o.kv_cache_tokens = 1024;
  auto gpu = MakeBackend(**model, o);
  ASSERT_TRUE(gpu.ok());
  const std::vector<int32_t> prompt = {1, 300, 400, 17, 290, 320, 35, 411};
  GreedyRun run = RunGreedy(**gpu, **model, prompt, 32);
  std::ofstream f(out);
  f << "{\"prompt\":[";
  for (size_t i = 0; i < prompt.size(); ++i) f << (i ? "," : "") << prompt[i];
  f << "],\"tokens\":[";
  for (size_t i = 0; i < run.tokens.size(); ++i) f << (i ? "," : "") << run.tokens[i];
  f << "],\"logits\":[";
  for (size_t s = 0; s < run.logits.size(); ++s) {
    f << (s ? ",[" : "[");
    for (size_t i = 0; i < run.logits[s].size(); ++i) f << (i ? "," : "") << run.logits[s][i];
    f << "]";
  }
  f << "]}\n";
  ASSERT_TRUE(f.good());
}

}  // namespace
}  // namespace meridian::engine
