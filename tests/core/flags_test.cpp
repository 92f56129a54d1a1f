// FlagSet: typed parsing and the errors users see.
#include "core/flags.h"

#include <gtest/gtest.h>

namespace meridian {
namespace {

Status ParseArgs(FlagSet& f, std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return f.Parse(static_cast<int>(argv.size()), argv.data());
}

TEST(Flags, ParsesTypesAndPositionals) {
  FlagSet f("meridian test");
  std::string model = "default.gguf";
  int64_t n = 4;
  float t = 0.5f;
  bool json = false, color = true;
  f.String("model", &model, "model path");
  f.Int("max-tokens", &n, "tokens");
  f.Float("temperature", &t, "temperature");
  f.Bool("json", &json, "json output");
  f.Bool("color", &color, "color");
  ASSERT_TRUE(ParseArgs(f, {"test", "in.gguf", "--model", "m.gguf", "--max-tokens=7", "--temperature", "0.25",
                            "--json", "--no-color", "out.gguf"})
                  .ok());
  EXPECT_EQ(model, "m.gguf");
  EXPECT_EQ(n, 7);
  EXPECT_FLOAT_EQ(t, 0.25f);
  EXPECT_TRUE(json);
  EXPECT_FALSE(color);
  EXPECT_TRUE(f.WasSet("model"));
  ASSERT_EQ(f.positional().size(), 2u);
  EXPECT_EQ(f.positional()[1], "out.gguf");
}

TEST(Flags, ClearErrors) {
  FlagSet f("meridian test");
  int64_t n = 0;
  f.Int("threads", &n, "threads");
  EXPECT_EQ(ParseArgs(f, {"test", "--threads", "x"}).message(), "--threads: expected an integer, got 'x'");
  EXPECT_EQ(ParseArgs(f, {"test", "--bogus"}).message(), "unknown flag '--bogus'");
  EXPECT_EQ(ParseArgs(f, {"test", "--threads"}).message(), "--threads: missing value");
}

}  // namespace
}  // namespace meridian
