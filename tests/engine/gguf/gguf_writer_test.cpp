// GgufWriter: byte-exact output against a hand-built file, round trips of every metadata type and
// of f32/f16/bf16/q8_0 tensors through GgufFile, and the writer's own error handling.
#include "engine/gguf/gguf_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "engine/gguf/gguf_file.h"
#include "gguf_test_util.h"

namespace meridian::engine {
namespace {

using testing_util::Bytes;
using testing_util::ReadAll;
using testing_util::TempDir;

std::unique_ptr<GgufFile> OpenOrDie(const std::string& path) {
  auto f = GgufFile::Open(path);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return f.ok() ? std::move(f).value() : nullptr;
}

TEST(GgufWriter, WritesExactlyTheSpecLayout) {
  TempDir dir;
  const std::string path = dir.File("exact.gguf");
  const std::vector<float> values = {1.0f, -2.0f, 0.5f};
  GgufWriter w;
  w.SetString("general.architecture", "llama");
  w.SetUint32("llama.context_length", 4096);
  w.AddTensorBytes("a", DType::kF32, {3}, std::span(reinterpret_cast<const uint8_t*>(values.data()), 12));
  w.AddTensorBytes("b", DType::kF32, {2, 1}, std::span(reinterpret_cast<const uint8_t*>(values.data()), 8));
  ASSERT_TRUE(w.Write(path).ok());

  Bytes want;
  want.Header(3, 2, 2).KvStr("general.architecture", "llama").KvU32("llama.context_length", 4096);
  want.TensorInfo("a", {3}, 0, 0).TensorInfo("b", {2, 1}, 0, 32).PadTo(32);
  for (int k = 0; k < 3; ++k) want.Put(values[k]);
  want.PadTo(32);
  for (int k = 0; k < 2; ++k) want.Put(values[k]);
  want.PadTo(32);
  EXPECT_EQ(ReadAll(path), want.data);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(GgufWriter, RoundTripsEveryMetadataType) {
  TempDir dir;
  const std::string path = dir.File("meta.gguf");
  GgufWriter w;
  auto scalar = [&](const std::string& key, GgufType t, uint64_t u, int64_t i, double f) {
    GgufValue v;
    v.type = t;
    v.u = u;
    v.i = i;
    v.f = f;
    w.SetValue(key, v);
  };
  scalar("t.u8", GgufType::kUint8, 255, 0, 0);
  scalar("t.i8", GgufType::kInt8, 0, -128, 0);
  scalar("t.u16", GgufType::kUint16, 65535, 0, 0);
  scalar("t.i16", GgufType::kInt16, 0, -32768, 0);
  scalar("t.u64", GgufType::kUint64, std::numeric_limits<uint64_t>::max(), 0, 0);
  scalar("t.i64", GgufType::kInt64, 0, std::numeric_limits<int64_t>::min(), 0);
  scalar("t.f64", GgufType::kFloat64, 0, 0, 3.141592653589793);
  w.SetUint32("t.u32", 4000000000u);
  w.SetInt32("t.i32", -2000000000);
  w.SetUint64("t.u64b", 7);
  w.SetFloat32("t.f32", 0.25f);
  w.SetBool("t.bool", true);
  w.SetString("t.str", std::string("with\0nul and \xe2\x82\xac", 16));
  w.SetString("t.empty", "");
  w.SetStringArray("t.strs", {"a", "", "ccc"});
  w.SetFloat32Array("t.f32s", {1.5f, -0.0f, 1e30f});
  w.SetInt32Array("t.i32s", {-1, 0, 2147483647});
  GgufValue arr;
  arr.type = GgufType::kArray;
  arr.array_type = GgufType::kUint64;
  arr.int_array = {0, -1};  // uint64 elements are stored bit for bit
  w.SetValue("t.u64s", arr);
  arr.array_type = GgufType::kBool;
  arr.int_array = {1, 0, 1};
  w.SetValue("t.bools", arr);
  arr.array_type = GgufType::kUint8;
  arr.int_array = {0, 200, 255};
  w.SetValue("t.u8s", arr);
  arr.array_type = GgufType::kFloat64;
  arr.int_array.clear();
  arr.float_array = {0.1, -2.5};
  w.SetValue("t.f64s", arr);
  arr.array_type = GgufType::kInt16;
  arr.float_array.clear();
  w.SetValue("t.empty_arr", arr);
  ASSERT_TRUE(w.Write(path).ok());

  auto f = OpenOrDie(path);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->keys().front(), "t.u8");
  EXPECT_EQ(f->keys().size(), 22u);
  EXPECT_EQ(*f->GetUint("t.u8"), 255u);
  EXPECT_EQ(*f->GetInt("t.i8"), -128);
  EXPECT_EQ(*f->GetUint("t.u16"), 65535u);
  EXPECT_EQ(*f->GetInt("t.i16"), -32768);
  EXPECT_EQ(*f->GetUint("t.u32"), 4000000000u);
  EXPECT_EQ(*f->GetInt("t.i32"), -2000000000);
  EXPECT_EQ(*f->GetUint("t.u64"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(*f->GetInt("t.i64"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(*f->GetUint("t.u64b"), 7u);
  EXPECT_EQ(*f->GetFloat("t.f32"), 0.25);
  EXPECT_EQ(*f->GetFloat("t.f64"), 3.141592653589793);
  EXPECT_TRUE(*f->GetBool("t.bool"));
  EXPECT_EQ(*f->GetString("t.str"), std::string("with\0nul and \xe2\x82\xac", 16));
  EXPECT_EQ(*f->GetString("t.empty"), "");
  for (const char* key : {"t.u8", "t.i8", "t.u16", "t.i16", "t.u32", "t.i32", "t.u64", "t.i64"}) {
    EXPECT_TRUE(f->Find(key)->is_integer()) << key;
    EXPECT_FALSE(f->Find(key)->is_float()) << key;
  }
  EXPECT_TRUE(f->Find("t.f32")->is_float());
  EXPECT_EQ(f->Find("t.u8")->type, GgufType::kUint8);
  EXPECT_EQ(f->Find("t.i64")->type, GgufType::kInt64);

  const GgufValue* strs = f->Find("t.strs");
  ASSERT_NE(strs, nullptr);
  EXPECT_EQ(strs->array_type, GgufType::kString);
  EXPECT_EQ(strs->array_size, 3u);
  EXPECT_EQ(strs->str_array, (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(f->Find("t.f32s")->float_array, (std::vector<double>{1.5, -0.0, static_cast<double>(1e30f)}));
  EXPECT_TRUE(std::signbit(f->Find("t.f32s")->float_array[1]));
  EXPECT_EQ(f->Find("t.i32s")->int_array, (std::vector<int64_t>{-1, 0, 2147483647}));
  EXPECT_EQ(f->Find("t.u64s")->int_array, (std::vector<int64_t>{0, -1}));
  EXPECT_EQ(f->Find("t.bools")->array_type, GgufType::kBool);
  EXPECT_EQ(f->Find("t.bools")->int_array, (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(f->Find("t.u8s")->int_array, (std::vector<int64_t>{0, 200, 255}));
  EXPECT_EQ(f->Find("t.f64s")->float_array, (std::vector<double>{0.1, -2.5}));
  EXPECT_EQ(f->Find("t.empty_arr")->array_type, GgufType::kInt16);
  EXPECT_EQ(f->Find("t.empty_arr")->array_size, 0u);

  // Copying every value into a second writer reproduces the same file byte for byte.
  GgufWriter copy;
  for (const std::string& key : f->keys()) copy.SetValue(key, *f->Find(key));
  const std::string path2 = dir.File("meta2.gguf");
  ASSERT_TRUE(copy.Write(path2).ok());
  EXPECT_EQ(ReadAll(path), ReadAll(path2));
}

TEST(GgufWriter, TypedGettersConvertOnlyWhenTheValueFits) {
  TempDir dir;
  const std::string path = dir.File("getters.gguf");
  GgufWriter w;
  w.SetInt32("neg", -5);
  w.SetInt32("pos", 5);
  w.SetUint64("huge", std::numeric_limits<uint64_t>::max());
  w.SetString("s", "x");
  w.SetBool("b", false);
  w.SetFloat32("f", 1.5f);
  ASSERT_TRUE(w.Write(path).ok());
  auto f = OpenOrDie(path);
  ASSERT_NE(f, nullptr);

  EXPECT_EQ(*f->GetUint("pos"), 5u);  // a non-negative signed value is a valid uint
  EXPECT_EQ(f->GetUint("neg").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f->GetInt("huge").status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(*f->GetFloat("neg"), -5.0);  // integers are accepted as floats
  EXPECT_EQ(*f->GetFloat("huge"), 18446744073709551615.0);
  EXPECT_FALSE(*f->GetBool("b"));
  EXPECT_EQ(f->GetUint("missing").status().code(), StatusCode::kNotFound);
  EXPECT_NE(f->GetUint("missing").status().message().find("'missing'"), std::string::npos);
  const auto wrong = f->GetUint("s");
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("string"), std::string::npos) << wrong.status().message();
  EXPECT_EQ(f->GetString("pos").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f->GetBool("pos").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f->GetUint("b").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f->GetFloat("s").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f->GetInt("f").status().code(), StatusCode::kInvalidArgument);
}

TEST(GgufWriter, RoundTripsTensorsOfEveryType) {
  TempDir dir;
  const std::string path = dir.File("tensors.gguf");
  std::vector<float> f32(5 * 3);
  for (size_t k = 0; k < f32.size(); ++k) f32[k] = static_cast<float>(k) * 0.5f - 3.0f;
  std::vector<uint16_t> f16(7), bf16(7);
  for (size_t k = 0; k < 7; ++k) {
    f16[k] = Fp32ToFp16(static_cast<float>(k) - 2.25f);
    bf16[k] = Fp32ToBf16(static_cast<float>(k) * 100.0f);
  }
  std::vector<BlockQ8_0> q8(2 * 2);  // 64 x 2 elements
  for (size_t b = 0; b < q8.size(); ++b) {
    q8[b].d = Fp32ToFp16(0.125f * static_cast<float>(b + 1));
    for (int k = 0; k < kQ8BlockSize; ++k) q8[b].qs[k] = static_cast<int8_t>(k - 16 + static_cast<int>(b));
  }
  auto as_bytes = [](const auto& v) {
    return std::span(reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(v[0]));
  };
  GgufWriter w;
  w.SetString("general.architecture", "test");
  w.AddTensorBytes("t.f32", DType::kF32, {5, 3}, as_bytes(f32));
  w.AddTensorBytes("t.f16", DType::kF16, {7}, as_bytes(f16));
  w.AddTensorBytes("t.bf16", DType::kBF16, {7, 1, 1, 1}, as_bytes(bf16));
  int filler_calls = 0;
  w.AddTensor("t.q8_0", DType::kQ8_0, {64, 2}, [&](std::span<uint8_t> out) {
    ++filler_calls;
    EXPECT_EQ(out.size(), q8.size() * sizeof(BlockQ8_0));
    std::memcpy(out.data(), q8.data(), out.size());
    return Status::Ok();
  });
  ASSERT_TRUE(w.Write(path).ok());
  EXPECT_EQ(filler_calls, 1);

  auto f = OpenOrDie(path);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->tensors().size(), 4u);
  EXPECT_EQ(f->tensors()[0].name, "t.f32");  // file order is insertion order
  EXPECT_EQ(f->data_offset() % 32, 0u);
  struct Want {
    const char* name;
    DType dtype;
    std::vector<int64_t> dims;
    std::span<const uint8_t> bytes;
  };
  for (const Want& want :
       {Want{"t.f32", DType::kF32, {5, 3}, as_bytes(f32)}, Want{"t.f16", DType::kF16, {7}, as_bytes(f16)},
        Want{"t.bf16", DType::kBF16, {7, 1, 1, 1}, as_bytes(bf16)},
        Want{"t.q8_0", DType::kQ8_0, {64, 2}, as_bytes(q8)}}) {
    const GgufTensorInfo* info = f->FindTensor(want.name);
    ASSERT_NE(info, nullptr) << want.name;
    EXPECT_EQ(info->dtype, want.dtype) << want.name;
    EXPECT_EQ(info->dims, want.dims) << want.name;
    EXPECT_EQ(info->n_bytes, want.bytes.size()) << want.name;
    EXPECT_EQ(info->offset % 32, 0u) << want.name;
    auto data = f->TensorData(*info);
    ASSERT_EQ(data.size(), want.bytes.size());
    EXPECT_EQ(0, std::memcmp(data.data(), want.bytes.data(), data.size())) << want.name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(data.data()) % 32, 0u) << "mapping keeps the alignment";
  }
  EXPECT_EQ(f->FindTensor("t.f32")->n_elements(), 15);
  EXPECT_EQ(f->FindTensor("t.q8_0")->n_elements(), 128);
  EXPECT_EQ(f->FindTensor("nope"), nullptr);
  f->AdviseWillNeed();
}

TEST(GgufWriter, CustomAlignmentIsWrittenAndHonoured) {
  TempDir dir;
  const std::vector<uint8_t> bytes(4 * 3, 7);
  for (uint32_t alignment : {1u, 8u, 64u, 4096u}) {
    const std::string path = dir.File("align" + std::to_string(alignment) + ".gguf");
    GgufWriter w(alignment);
    w.AddTensorBytes("x", DType::kF32, {3}, bytes);
    w.AddTensorBytes("y", DType::kF32, {3}, bytes);
    ASSERT_TRUE(w.Write(path).ok());
    auto f = OpenOrDie(path);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->alignment(), alignment);
    EXPECT_EQ(f->data_offset() % alignment, 0u);
    EXPECT_EQ(f->FindTensor("y")->offset, (12 + alignment - 1) / alignment * alignment);
    EXPECT_EQ(f->file_size() % alignment, 0u);
    EXPECT_EQ(*f->GetUint("general.alignment"), alignment);
  }
  // The default alignment is not written.
  GgufWriter w;
  w.AddTensorBytes("x", DType::kF32, {3}, bytes);
  ASSERT_TRUE(w.Write(dir.File("default.gguf")).ok());
  auto f = OpenOrDie(dir.File("default.gguf"));
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->Find("general.alignment"), nullptr);
  EXPECT_EQ(f->alignment(), 32u);
}

TEST(GgufWriter, SettingAKeyTwiceReplacesItInPlace) {
  TempDir dir;
  GgufWriter w;
  w.SetUint32("a", 1);
  w.SetString("b", "x");
  w.SetString("a", "replaced");
  ASSERT_TRUE(w.Write(dir.File("r.gguf")).ok());
  auto f = OpenOrDie(dir.File("r.gguf"));
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->keys(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*f->GetString("a"), "replaced");
}

TEST(GgufWriter, RejectsBadInputWithoutLeavingAFile) {
  TempDir dir;
  const std::vector<uint8_t> twelve(12, 0);
  struct Case {
    const char* what;
    std::function<void(GgufWriter&)> setup;
    StatusCode code;
    const char* message_part;
  };
  const std::vector<Case> cases = {
      {"wrong byte count", [&](GgufWriter& w) { w.AddTensorBytes("t", DType::kF32, {4}, twelve); },
       StatusCode::kInvalidArgument, "given 12 bytes"},
      {"duplicate tensor",
       [&](GgufWriter& w) {
         w.AddTensorBytes("t", DType::kF32, {3}, twelve);
         w.AddTensorBytes("t", DType::kF32, {3}, twelve);
       },
       StatusCode::kInvalidArgument, "added twice"},
      {"zero dimension",
       [&](GgufWriter& w) {
         w.AddTensorBytes("t", DType::kF32, {3, 0}, twelve);
       },
       StatusCode::kInvalidArgument, "dimension 1"},
      {"five dimensions",
       [&](GgufWriter& w) {
         w.AddTensorBytes("t", DType::kF32, {1, 1, 1, 1, 3}, twelve);
       },
       StatusCode::kInvalidArgument, "5 dimensions"},
      {"q8_0 row not a block multiple",
       [&](GgufWriter& w) {
         w.AddTensor("t", DType::kQ8_0, {33}, [](std::span<uint8_t>) { return Status::Ok(); });
       },
       StatusCode::kInvalidArgument, "block size 32"},
      {"filler fails",
       [&](GgufWriter& w) {
         w.AddTensor("t", DType::kF32, {3}, [](std::span<uint8_t>) { return DataLoss("source truncated"); });
       },
       StatusCode::kDataLoss, "tensor 't': source truncated"},
      {"filler throws",
       [&](GgufWriter& w) {
         w.AddTensor("t", DType::kF32, {3},
                     [](std::span<uint8_t>) -> Status { throw std::runtime_error("boom"); });
       },
       StatusCode::kInternal, "boom"},
      {"invalid dtype", [&](GgufWriter& w) { w.AddTensorBytes("t", static_cast<DType>(5), {3}, twelve); },
       StatusCode::kInvalidArgument, "dtype 5"},
      {"uint8 out of range",
       [&](GgufWriter& w) {
         GgufValue v;
         v.type = GgufType::kUint8;
         v.u = 256;
         w.SetValue("k", v);
       },
       StatusCode::kInvalidArgument, "'k'"},
      {"nested array",
       [&](GgufWriter& w) {
         GgufValue v;
         v.type = GgufType::kArray;
         v.array_type = GgufType::kArray;
         w.SetValue("k", v);
       },
       StatusCode::kInvalidArgument, "'k'"},
      {"conflicting alignment", [&](GgufWriter& w) { w.SetUint32("general.alignment", 64); },
       StatusCode::kInvalidArgument, "general.alignment"},
      {"empty key", [&](GgufWriter& w) { w.SetUint32("", 1); }, StatusCode::kInvalidArgument, "empty"},
  };
  for (const Case& c : cases) {
    const std::string path = dir.File("bad.gguf");
    GgufWriter w;
    c.setup(w);
    Status s = w.Write(path);
    EXPECT_EQ(s.code(), c.code) << c.what << ": " << s.ToString();
    EXPECT_NE(s.message().find(c.message_part), std::string::npos) << c.what << ": " << s.message();
    EXPECT_FALSE(std::filesystem::exists(path)) << c.what;
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp")) << c.what;
  }
  EXPECT_EQ(GgufWriter(48).Write(dir.File("a.gguf")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(GgufWriter(0).Write(dir.File("a.gguf")).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(GgufWriter().Write(dir.File("no/such/dir/a.gguf")).ok());
}

TEST(GgufWriter, FailedWriteKeepsThePreviousFile) {
  TempDir dir;
  const std::string path = dir.File("keep.gguf");
  GgufWriter good;
  good.SetUint32("version", 1);
  ASSERT_TRUE(good.Write(path).ok());
  const auto before = ReadAll(path);
  GgufWriter bad;
  bad.SetUint32("version", 2);
  bad.AddTensor("t", DType::kF32, {1}, [](std::span<uint8_t>) { return Internal("fails"); });
  EXPECT_FALSE(bad.Write(path).ok());
  EXPECT_EQ(ReadAll(path), before);
}

}  // namespace
}  // namespace meridian::engine
