// Golden logits: the CPU backend against an independent PyTorch LLaMA (tools/golden/
// llama_reference.py) on deterministic random models. For each golden file the model is
// regenerated from its spec in both formats (GGUF and a Hugging Face directory), loaded with
// Model::Load, run over the prompt (logits of every position) and decoded greedily, one token per
// step, for 32 tokens. Also: GGUF and HF load to the same model, and Q8_0 stays close.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/backend/backend.h"
#include "engine/convert/random_model.h"
#include "engine/model/model.h"

namespace meridian::engine {
namespace {

namespace fs = std::filesystem;

// Tolerances, as max|logit - golden| / max|golden logit| over every prompt position.
//
// F32: both sides compute in f32 from the same f32 weights; only summation order (SIMD lanes,
// blocking) and libm's exp/sin/cos differ. Each dot product then carries a relative error of a
// few ulp x sqrt(K) (K <= 176), ~1e-6, amplified a little by the two layers and the softmax.
constexpr double kF32Tolerance = 1e-4;
// F16: the weights are exactly the f16 values the reference upcasts, so the arithmetic is the
// F32 case's. A backend may still round activations to fp16 for the f16 dot products, as GGML
// does: a relative error of up to 2^-11 (4.9e-4) per activation, which averages down over each
// dot product and is partly renormalized by RMSNorm; emulating exactly that in the PyTorch
// reference moves these models' logits by 4e-4 to 6e-4 of the largest logit, so 5e-3 allows it
// with margin while still catching any real mistake (a wrong norm, RoPE pair or head mapping
// moves logits by O(1)).
constexpr double kF16Tolerance = 5e-3;
// Q8_0: weights rounded to 8 bits per 32-value block (relative step 1/127 of the block maximum)
// and activations quantized the same way for the integer dot products. Emulated in PyTorch on
// these models (GGML's Q8_0 rounding of weights and activations) the logits move by 1.3% to 3.7%
// of the largest logit, and Meridian's CPU backend measures 1.8% to 4.3%; 8% bounds that with
// margin and still fails on any structural error.
constexpr double kQ8Tolerance = 8e-2;
// Q8_0 greedy criterion: with teacher forcing (the golden continuation fed in, so that one
// early flip does not change every later context), the Q8_0 model's argmax must equal the
// golden token at >= 28 of the 32 steps (the emulation and the backend get 30 to 32), and free-running greedy
// decoding must reproduce at least the first 4 golden tokens. Flips only happen where the golden
// top-2 margin is below the quantization noise, which these seeds keep rare.
constexpr int kQ8MinTeacherForcedAgreement = 28;
constexpr int kQ8MinGreedyPrefix = 4;
// GGUF vs HF: the same weights (Q/K permuted, F16 norms widened exactly) through the same
// backend: the logits should agree bit for bit; 1e-6 relative allows a different but equally
// exact memory layout.
constexpr double kFormatTolerance = 1e-6;

struct Golden {
  std::string file;
  RandomModelSpec spec;
  std::vector<int32_t> prompt;
  std::vector<int32_t> greedy;
  std::vector<float> logits;  //!< prompt.size() x n_vocab
  double max_abs_logit = 0;
};

std::vector<std::string> GoldenFiles() {
  std::vector<std::string> files;
  const fs::path dir = fs::path(MERIDIAN_SOURCE_DIR) / "tests/engine/model/golden";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

Golden LoadGolden(const std::string& path) {
  Golden g;
  g.file = fs::path(path).filename().string();
  nlohmann::json j;
  std::ifstream(path) >> j;
  const auto& gen = j.at("generator");
  auto spec = RandomModelPreset(gen.at("preset").get<std::string>());
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  g.spec = *spec;
  g.spec.seed = gen.at("seed").get<uint64_t>();
  g.spec.dtype = *DTypeFromName(gen.at("dtype").get<std::string>());
  g.spec.config.tied_embeddings = gen.at("tied").get<bool>();
  g.prompt = j.at("prompt").get<std::vector<int32_t>>();
  g.greedy = j.at("greedy").get<std::vector<int32_t>>();
  for (const auto& row : j.at("logits")) {
    for (float v : row.get<std::vector<float>>()) {
      g.logits.push_back(v);
      g.max_abs_logit = std::max(g.max_abs_logit, static_cast<double>(std::fabs(v)));
    }
  }
  EXPECT_EQ(g.logits.size(), g.prompt.size() * static_cast<size_t>(g.spec.config.n_vocab)) << path;
  return g;
}

int32_t Argmax(const float* x, int32_t n) {
  return static_cast<int32_t>(std::max_element(x, x + n) - x);
}

struct RunResult {
  std::vector<float> prompt_logits;     //!< every prompt position
  std::vector<int32_t> greedy;          //!< free-running greedy tokens
  std::vector<int32_t> teacher_forced;  //!< argmax after each golden token (when given)
};

//! Runs the prompt with logits for every position, then decodes `n` greedy tokens one step at a
//! time. With `forced`, a second sequence feeds those tokens instead and records each argmax.
RunResult RunModel(const Model& model, const std::vector<int32_t>& prompt, size_t n,
                   const std::vector<int32_t>* forced = nullptr) {
  RunResult out;
  BackendOptions options;
  options.n_threads = 2;
  options.kv_cache_tokens = 2 * 128;
  auto backend = MakeCpuBackend(model, options);
  EXPECT_TRUE(backend.ok()) << backend.status().ToString();
  if (!backend.ok()) return out;
  Backend& b = **backend;
  const int32_t n_vocab = model.config().n_vocab;
  const auto block = static_cast<size_t>(b.kv_block_tokens());
  const size_t blocks_per_seq = (prompt.size() + n + block - 1) / block;
  EXPECT_LE(2 * blocks_per_seq, static_cast<size_t>(b.kv_blocks_total()));
  std::vector<int32_t> table(2 * blocks_per_seq);
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(i);

  auto decode = [&](std::span<const int32_t> blocks, const std::vector<int32_t>* feed,
                    std::vector<int32_t>& got, std::vector<float>* prompt_logits) {
    std::vector<float> logits(prompt.size() * static_cast<size_t>(n_vocab));
    SequenceStep step{prompt, 0, blocks, LogitsMode::kAll};
    Status s = b.Forward(std::span<const SequenceStep>(&step, 1), logits.data());
    ASSERT_TRUE(s.ok()) << s.ToString();
    if (prompt_logits != nullptr) *prompt_logits = logits;
    int32_t token = Argmax(logits.data() + (prompt.size() - 1) * static_cast<size_t>(n_vocab), n_vocab);
    got.push_back(token);
    std::vector<float> last(static_cast<size_t>(n_vocab));
    for (size_t i = 1; i < n; ++i) {
      const int32_t input = feed != nullptr ? (*feed)[i - 1] : token;
      SequenceStep next{std::span<const int32_t>(&input, 1), static_cast<int32_t>(prompt.size() + i - 1),
                        blocks, LogitsMode::kLast};
      s = b.Forward(std::span<const SequenceStep>(&next, 1), last.data());
      ASSERT_TRUE(s.ok()) << s.ToString();
      token = Argmax(last.data(), n_vocab);
      got.push_back(token);
    }
  };
  decode(std::span<const int32_t>(table.data(), blocks_per_seq), nullptr, out.greedy, &out.prompt_logits);
  if (forced != nullptr) {
    decode(std::span<const int32_t>(table.data() + blocks_per_seq, blocks_per_seq), forced,
           out.teacher_forced, nullptr);
  }
  return out;
}

//! For RecordProperty (the measured errors land in --gtest_output=xml reports).
std::string FormatError(double err) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g", err);
  return buf;
}

//! max |a - golden| / max |golden|.
double RelativeError(const std::vector<float>& a, const std::vector<float>& golden, double max_abs) {
  if (a.size() != golden.size()) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - golden[i]));
  return worst / max_abs;
}

class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("meridian_golden_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::unique_ptr<Model> LoadOrFail(const std::string& path, const LoadOptions& options = {}) {
  auto m = Model::Load(path, options);
  EXPECT_TRUE(m.ok()) << path << ": " << m.status().ToString();
  return m.ok() ? std::move(m).value() : nullptr;
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST(GoldenFiles, AllPresent) {
  // tools/golden/regenerate.sh writes these five.
  std::vector<std::string> names;
  for (const auto& f : GoldenFiles()) names.push_back(fs::path(f).filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"tiny-f16.json", "tiny-f32-tied.json", "tiny-f32.json",
                                             "tiny-gqa-f16.json", "tiny-gqa-f32.json"}));
}

TEST_P(GoldenTest, BothFormatsMatchTheReference) {
  const Golden g = LoadGolden(GetParam());
  const double tolerance = g.spec.dtype == DType::kF32 ? kF32Tolerance : kF16Tolerance;
  TempDir dir;
  ASSERT_TRUE(WriteRandomGguf(g.spec, dir / "model.gguf").ok());
  ASSERT_TRUE(WriteRandomHfDir(g.spec, dir / "hf").ok());
  std::vector<float> per_format[2];
  int f = 0;
  for (const std::string& path : {dir / "model.gguf", dir / "hf"}) {
    SCOPED_TRACE(g.file + " loaded from " + path);
    auto model = LoadOrFail(path);
    ASSERT_NE(model, nullptr);
    ASSERT_EQ(model->config().n_vocab, g.spec.config.n_vocab);
    EXPECT_EQ(model->config().tied_embeddings, g.spec.config.tied_embeddings);
    RunResult r = RunModel(*model, g.prompt, g.greedy.size());
    const double err = RelativeError(r.prompt_logits, g.logits, g.max_abs_logit);
    EXPECT_LE(err, tolerance) << "max |logit error| / max |logit| over " << g.prompt.size() << " positions";
    RecordProperty(f == 0 ? "gguf_relative_error" : "hf_relative_error", FormatError(err));
    EXPECT_EQ(r.greedy, g.greedy) << "greedy continuation differs";
    per_format[f++] = std::move(r.prompt_logits);
  }
  double max_abs = 0;
  for (float v : per_format[0]) max_abs = std::max(max_abs, static_cast<double>(std::fabs(v)));
  EXPECT_LE(RelativeError(per_format[1], per_format[0], max_abs), kFormatTolerance)
      << "GGUF and HF logits differ";
}

TEST_P(GoldenTest, Q8_0StaysClose) {
  const Golden g = LoadGolden(GetParam());
  if (g.spec.dtype != DType::kF32) GTEST_SKIP() << "Q8_0 is checked against the F32 goldens";
  TempDir dir;
  ASSERT_TRUE(WriteRandomHfDir(g.spec, dir / "hf").ok());
  RandomModelSpec q8 = g.spec;
  q8.dtype = DType::kQ8_0;
  ASSERT_TRUE(WriteRandomGguf(q8, dir / "q8.gguf").ok());
  LoadOptions quantize;
  quantize.quantize = DType::kQ8_0;
  // Quantized at load time from the HF f32 weights, and quantized by the generator: both run
  // QuantizeRowQ8_0 over the same f32 rows. ffn_down (176 wide) cannot be tiled by 32-value
  // blocks and stays unquantized: f16 in the generated file, f32 when quantized at load.
  for (const auto& [path, options] :
       {std::pair{dir / "hf", quantize}, std::pair{dir / "q8.gguf", LoadOptions{}}}) {
    SCOPED_TRACE(g.file + " as Q8_0 from " + path);
    auto model = LoadOrFail(path, options);
    if (model == nullptr) continue;  // LoadOrFail reported why
    EXPECT_EQ(model->main_dtype(), DType::kQ8_0);
    RunResult r = RunModel(*model, g.prompt, g.greedy.size(), &g.greedy);
    const double err = RelativeError(r.prompt_logits, g.logits, g.max_abs_logit);
    EXPECT_LE(err, kQ8Tolerance);
    int agree = 0;
    for (size_t i = 0; i < g.greedy.size(); ++i) agree += r.teacher_forced[i] == g.greedy[i];
    const std::string source = options.quantize ? "q8_hf_" : "q8_gguf_";
    RecordProperty(source + "relative_error", FormatError(err));
    RecordProperty(source + "teacher_forced_agreement", agree);
    EXPECT_GE(agree, kQ8MinTeacherForcedAgreement) << "teacher-forced argmax agreement";
    size_t prefix = 0;
    while (prefix < g.greedy.size() && r.greedy[prefix] == g.greedy[prefix]) ++prefix;
    EXPECT_GE(prefix, static_cast<size_t>(kQ8MinGreedyPrefix)) << "free-running greedy prefix";
  }
}

INSTANTIATE_TEST_SUITE_P(Goldens, GoldenTest, ::testing::ValuesIn(GoldenFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = fs::path(info.param).stem().string();
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace meridian::engine
