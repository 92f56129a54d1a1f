// End-to-end tests of the `meridian` binary: generate, quantize, perplexity and make-model with
// the shipped model and generated ones, and the errors users see for bad input.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/gguf/gguf_file.h"

namespace {

const std::string kBinary = std::string(MERIDIAN_BINARY_DIR) + "/bin/meridian";
const std::string kShippedModel = std::string(MERIDIAN_SOURCE_DIR) + "/models/meridian-brown-q8_0.gguf";

struct CliRun {
  int exit_code = -1;
  std::string out;  //!< stdout
  std::string err;  //!< stderr
};

// Runs the binary with `args` (shell-quoted by the caller), capturing stdout and stderr.
CliRun Meridian(const std::string& args) {
  const std::string err_path = std::filesystem::temp_directory_path() / ("meridian_cli_err_" + std::to_string(getpid()));
  const std::string cmd = kBinary + " " + args + " 2>" + err_path;
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  r.err.assign(std::istreambuf_iterator<char>(err), {});
  std::filesystem::remove(err_path);
  return r;
}

std::string TempPath(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("meridian_cli_" + std::to_string(getpid()) + "_" + name);
}

TEST(Cli, GenerateWithTheShippedModelIsDeterministic) {
  ASSERT_TRUE(std::filesystem::exists(kShippedModel)) << kShippedModel;
  const std::string args = "generate --prompt 'The jury said' --max-tokens 24 --temperature 0.8 --seed 3 --threads 2";
  CliRun a = Meridian(args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_GT(a.out.size(), 20u);
  EXPECT_NE(a.err.find("tok/s"), std::string::npos) << a.err;
  CliRun b = Meridian(args);
  EXPECT_EQ(a.out, b.out);
  CliRun c = Meridian("generate --prompt 'The jury said' --max-tokens 24 --temperature 0.8 --seed 4 --threads 2");
  EXPECT_NE(a.out, c.out);
}

TEST(Cli, PerplexityOfTheShippedModelOnValidationText) {
  const std::string valid = std::string(MERIDIAN_SOURCE_DIR) + "/data/brown-valid.txt";
  CliRun r = Meridian("perplexity --file " + valid + " --ctx 256 --chunks 3 --json --threads 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  const double ppl = j["perplexity"].get<double>();
  // The full-text figure is about 105 (ctx 512); a unigram model scores about 1130.
  EXPECT_GT(ppl, 30.0);
  EXPECT_LT(ppl, 300.0);
  EXPECT_EQ(j["scored_tokens"].get<int>(), 3 * (256 - 1 - 128));
}

TEST(Cli, QuantizeRoundTripAndMakeModel) {
  const std::string f32 = TempPath("f32.gguf"), q8 = TempPath("q8.gguf"), hf = TempPath("hf");
  CliRun m = Meridian("make-model --preset tiny --dtype f32 --out " + f32);
  ASSERT_EQ(m.exit_code, 0) << m.err;
  CliRun h = Meridian("make-model --preset tiny --dtype f16 --format hf --out " + hf);
  ASSERT_EQ(h.exit_code, 0) << h.err;
  CliRun q = Meridian("quantize " + hf + " " + q8 + " --type q8_0");
  ASSERT_EQ(q.exit_code, 0) << q.err;
  auto file = meridian::engine::GgufFile::Open(q8);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(*(*file)->GetUint("general.file_type"), 7u);
  EXPECT_EQ((*file)->FindTensor("blk.0.attn_q.weight")->dtype, meridian::engine::DType::kQ8_0);
  CliRun g = Meridian("generate --model " + q8 + " --prompt hello --max-tokens 5 --temperature 0");
  EXPECT_EQ(g.exit_code, 0) << g.err;
  CliRun gf = Meridian("generate --model " + f32 + " --prompt hello --max-tokens 5 --temperature 0 --quantize q8_0");
  EXPECT_EQ(gf.exit_code, 0) << gf.err;
  std::filesystem::remove(f32);
  std::filesystem::remove(q8);
  std::filesystem::remove_all(hf);
}

TEST(Cli, BadInputGetsAClearError) {
  CliRun r = Meridian("generate --prompt hi --max-tokens lots");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--max-tokens: expected an integer, got 'lots'"), std::string::npos) << r.err;
  r = Meridian("generate --prompt hi --temperature 7");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("temperature"), std::string::npos) << r.err;
  r = Meridian("generate --model /nonexistent/model.gguf --prompt hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/model.gguf"), std::string::npos) << r.err;
  r = Meridian("frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos) << r.err;
  r = Meridian("quantize only-one-argument");
  EXPECT_EQ(r.exit_code, 2);
  r = Meridian("wan --to 127.0.0.1:9 --rtt-ms -5");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--rtt-ms must be 0 or more"), std::string::npos) << r.err;
  r = Meridian("bench --url ftp://example");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--url must start with http://"), std::string::npos) << r.err;
  r = Meridian("serve --queue -1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--queue must not be negative"), std::string::npos) << r.err;
  r = Meridian("serve --backend tpu");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--backend must be cpu or cuda"), std::string::npos) << r.err;

  // A truncated model file: a clear error, never a crash.
  const std::string cut = TempPath("cut.gguf");
  {
    std::ifstream in(kShippedModel, std::ios::binary);
    std::string head(100000, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    std::ofstream(cut, std::ios::binary).write(head.data(), static_cast<std::streamsize>(head.size()));
  }
  r = Meridian("generate --model " + cut + " --prompt hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot load model"), std::string::npos) << r.err;
  std::filesystem::remove(cut);
}

}  // namespace
