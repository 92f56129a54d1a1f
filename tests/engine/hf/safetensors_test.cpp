// SafetensorsFile validation (hand-built headers with one defect each, truncation at every byte),
// the writer round trip, and the sharded SafetensorsModel view.
#include "engine/hf/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>

namespace meridian::engine {
namespace {

namespace fs = std::filesystem;

//! Header length + header text + data, as a safetensors file holds them.
std::vector<uint8_t> Build(const std::string& header, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out(8 + header.size() + data.size());
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, header.data(), header.size());
  if (!data.empty()) std::memcpy(out.data() + 8 + header.size(), data.data(), data.size());
  return out;
}

std::vector<uint8_t> Floats(std::initializer_list<float> values) {
  std::vector<uint8_t> out(values.size() * 4);
  std::memcpy(out.data(), std::data(values), out.size());
  return out;
}

//! Two tensors: "b" F32 [2, 2] at bytes 0..16 and "a" BF16 [3] at 16..22, plus metadata.
const char* kValidHeader =
    R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
    R"("a":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]}})";

std::vector<uint8_t> ValidData() {
  std::vector<uint8_t> d = Floats({1.0f, 2.0f, 3.0f, 4.0f});
  for (uint16_t v : {uint16_t{0x3f80}, uint16_t{0x4000}, uint16_t{0xc040}}) {  // 1, 2, -3 in bf16
    d.push_back(static_cast<uint8_t>(v));
    d.push_back(static_cast<uint8_t>(v >> 8));
  }
  return d;
}

void ExpectError(const std::string& header, const std::vector<uint8_t>& data, StatusCode code,
                 const char* part) {
  std::vector<uint8_t> bytes = Build(header, data);
  auto r = SafetensorsFile::Parse(bytes, "x.safetensors");
  ASSERT_FALSE(r.ok()) << "accepted: " << header;
  EXPECT_EQ(r.status().code(), code) << r.status().ToString();
  EXPECT_NE(r.status().message().find(part), std::string::npos) << r.status().message() << " lacks " << part;
  EXPECT_EQ(r.status().message().rfind("x.safetensors: ", 0), 0u) << r.status().message();
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("meridian_st_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

TEST(SafetensorsFile, ParsesTensorsAndMetadata) {
  std::vector<uint8_t> bytes = Build(kValidHeader, ValidData());
  auto r = SafetensorsFile::Parse(bytes, "x.safetensors");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const SafetensorsFile& f = **r;
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.tensors()[0].name, "b");  // ascending offsets
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const SafetensorsTensor* b = f.Find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, DType::kF32);
  EXPECT_EQ(b->shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(b->n_elements(), 4);
  float v[4];
  std::memcpy(v, b->data.data(), 16);
  EXPECT_EQ(v[3], 4.0f);
  auto a = f.Get("a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->dtype, DType::kBF16);
  uint16_t h;
  std::memcpy(&h, (*a)->data.data() + 4, 2);
  EXPECT_EQ(Bf16ToFp32(h), -3.0f);
  EXPECT_EQ(f.Find("c"), nullptr);
  EXPECT_EQ(f.Get("c").status().code(), StatusCode::kNotFound);
}

TEST(SafetensorsFile, EveryTruncationIsDataLoss) {
  std::vector<uint8_t> bytes = Build(kValidHeader, ValidData());
  for (size_t len = 0; len < bytes.size(); ++len) {
    auto r = SafetensorsFile::Parse(std::span<const uint8_t>(bytes.data(), len), "x.safetensors");
    ASSERT_FALSE(r.ok()) << "accepted a file truncated to " << len << " bytes";
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << len << ": " << r.status().ToString();
  }
}

TEST(SafetensorsFile, RejectsMalformedHeaders) {
  const std::vector<uint8_t> d = ValidData();
  ExpectError("{not json", d, StatusCode::kDataLoss, "not valid JSON");
  ExpectError("[1, 2]", d, StatusCode::kDataLoss, "not a JSON object");
  ExpectError(R"({"a": 5})", d, StatusCode::kDataLoss, "tensor 'a'");
  ExpectError(R"({"a": {"shape": [1], "data_offsets": [0, 4]}})", d, StatusCode::kDataLoss, "dtype");
  ExpectError(R"({"a": {"dtype": "F32", "data_offsets": [0, 4]}})", d, StatusCode::kDataLoss, "shape");
  ExpectError(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}})", d, StatusCode::kDataLoss,
              "data_offsets");
  ExpectError(R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", d, StatusCode::kDataLoss,
              "non-negative");
  ExpectError(R"({"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", d, StatusCode::kDataLoss,
              "non-negative");
  ExpectError(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}})", d, StatusCode::kDataLoss,
              "non-negative");
  ExpectError(R"({"__metadata__": {"k": 1}})", d, StatusCode::kDataLoss, "__metadata__");
  ExpectError(R"({"__metadata__": [1]})", d, StatusCode::kDataLoss, "__metadata__");
  ExpectError(
      R"({"a": {"dtype": "F32", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 4]}})", d,
      StatusCode::kDataLoss, "overflows");
}

TEST(SafetensorsFile, RejectsBadOffsets) {
  const std::vector<uint8_t> d = ValidData();  // 22 bytes
  ExpectError(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})", d, StatusCode::kDataLoss,
              "end before they begin");
  ExpectError(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]}})", d, StatusCode::kDataLoss,
              "past the 22-byte data section");
  ExpectError(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", d, StatusCode::kDataLoss,
              "which needs 12");
  ExpectError(R"({"a": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 16]}})", d,
              StatusCode::kDataLoss, "which needs 8");
  ExpectError(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
              R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
              d, StatusCode::kDataLoss, "overlap");
  ExpectError(R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},)"
              R"( "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
              d, StatusCode::kDataLoss, "overlap");
}

TEST(SafetensorsFile, HeaderLengthPastTheFileOrHuge) {
  std::vector<uint8_t> bytes = Build("{}", {});
  bytes[0] = 200;  // claims a 200-byte header in a 10-byte file
  auto r = SafetensorsFile::Parse(bytes, "x");
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("runs past the end"), std::string::npos);
  std::vector<uint8_t> huge(8, 0xff);
  r = SafetensorsFile::Parse(huge, "x");
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("100 MB"), std::string::npos);
}

TEST(SafetensorsFile, DTypes) {
  // A dtype outside the format cannot even be sized: the file is refused, naming tensor and dtype.
  ExpectError(R"({"w": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 1]}})", ValidData(),
              StatusCode::kUnimplemented, "tensor 'w' has dtype 'Q4'");
  // A known dtype that Meridian does not read parses, and only using it is an error.
  std::vector<uint8_t> bytes = Build(R"({"steps": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}})",
                                     std::vector<uint8_t>(8, 0));
  auto r = SafetensorsFile::Parse(bytes, "x");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE((*r)->Find("steps")->dtype.has_value());
  auto g = (*r)->Get("steps");
  EXPECT_EQ(g.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(g.status().message().find("'steps' has dtype I64"), std::string::npos) << g.status().message();
}

TEST(SafetensorsFile, EmptyTensorsAndScalars) {
  std::vector<uint8_t> bytes = Build(R"({"e": {"dtype": "F32", "shape": [0, 3], "data_offsets": [0, 0]},)"
                                     R"( "s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}})",
                                     Floats({7.0f}));
  auto r = SafetensorsFile::Parse(bytes, "x");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->Find("e")->n_elements(), 0);
  EXPECT_EQ((*r)->Find("s")->n_elements(), 1);
}

TEST(SafetensorsFile, OpenErrors) {
  TempDir dir;
  EXPECT_EQ(SafetensorsFile::Open(dir / "missing.safetensors").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(SafetensorsFile::Open(dir.str()).status().code(), StatusCode::kInvalidArgument);
  WriteBytes(dir / "empty.safetensors", {});
  EXPECT_EQ(SafetensorsFile::Open(dir / "empty.safetensors").status().code(), StatusCode::kDataLoss);
}

TEST(SafetensorsWriter, RoundTripsThroughTheReader) {
  TempDir dir;
  const std::vector<uint8_t> f32 = Floats({1.5f, -2.0f, 3.25f, 0.0f, 9.0f, 10.0f});
  const std::vector<uint8_t> f16 = {0x00, 0x3c, 0x00, 0xc0};  // 1, -2
  const std::vector<SafetensorsInput> inputs = {
      {"model.w", DType::kF32, {2, 3}, f32},
      {"model.h", DType::kF16, {2}, f16},
  };
  ASSERT_TRUE(WriteSafetensors(dir / "m.safetensors", inputs, {{"format", "pt"}}).ok());
  auto r = SafetensorsFile::Open(dir / "m.safetensors");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const SafetensorsTensor* w = (*r)->Find("model.w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::vector<uint8_t>(w->data.begin(), w->data.end()), f32);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w->data.data()) % 8, 0u) << "header is padded to 8 bytes";
  const SafetensorsTensor* h = (*r)->Find("model.h");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->dtype, DType::kF16);
  EXPECT_EQ(std::vector<uint8_t>(h->data.begin(), h->data.end()), f16);
  EXPECT_EQ((*r)->metadata().at("format"), "pt");
  EXPECT_FALSE(fs::exists(dir / "m.safetensors.tmp"));
}

TEST(SafetensorsWriter, RefusesWhatTheFormatCannotHold) {
  TempDir dir;
  std::vector<uint8_t> bytes(34);
  std::vector<SafetensorsInput> q8 = {{"q", DType::kQ8_0, {32}, bytes}};
  EXPECT_EQ(WriteSafetensors(dir / "a", q8).code(), StatusCode::kInvalidArgument);
  std::vector<SafetensorsInput> short_data = {
      {"w", DType::kF32, {4}, std::span<const uint8_t>(bytes.data(), 8)}};
  EXPECT_EQ(WriteSafetensors(dir / "b", short_data).code(), StatusCode::kInvalidArgument);
  std::vector<SafetensorsInput> twice = {{"w", DType::kF32, {1}, std::span<const uint8_t>(bytes.data(), 4)},
                                         {"w", DType::kF32, {1}, std::span<const uint8_t>(bytes.data(), 4)}};
  EXPECT_EQ(WriteSafetensors(dir / "c", twice).code(), StatusCode::kInvalidArgument);
  SafetensorsWriter failing;
  failing.AddTensor("w", DType::kF32, {1}, [](std::span<uint8_t>) { return Internal("generator failed"); });
  Status s = failing.Write(dir / "d");
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_FALSE(fs::exists(dir / "d"));
  EXPECT_FALSE(fs::exists(dir / "d.tmp"));
}

//! Writes a two-shard checkpoint: a and b in shard 1, c in shard 2, with the given index text.
void WriteShards(const TempDir& dir, const std::string& index) {
  const std::vector<uint8_t> one = Floats({1.0f}), two = Floats({2.0f, 2.5f}), three = Floats({3.0f});
  std::vector<SafetensorsInput> s1 = {{"a", DType::kF32, {1}, one}, {"b", DType::kF32, {2}, two}};
  std::vector<SafetensorsInput> s2 = {{"c", DType::kF32, {1}, three}};
  ASSERT_TRUE(WriteSafetensors(dir / "model-00001-of-00002.safetensors", s1).ok());
  ASSERT_TRUE(WriteSafetensors(dir / "model-00002-of-00002.safetensors", s2).ok());
  std::ofstream(dir / "model.safetensors.index.json") << index;
}

const char* kIndex = R"({"metadata": {"total_size": 16}, "weight_map": {
  "a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
  "c": "model-00002-of-00002.safetensors"}})";

TEST(SafetensorsModel, FindsTensorsAcrossShards) {
  TempDir dir;
  WriteShards(dir, kIndex);
  auto m = SafetensorsModel::Open(dir.str());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ((*m)->shards().size(), 2u);
  EXPECT_EQ((*m)->tensor_names(), (std::vector<std::string>{"a", "b", "c"}));
  auto c = (*m)->Get("c");
  ASSERT_TRUE(c.ok());
  float v;
  std::memcpy(&v, (*c)->data.data(), 4);
  EXPECT_EQ(v, 3.0f);
  EXPECT_EQ((*m)->Get("d").status().code(), StatusCode::kNotFound);
}

TEST(SafetensorsModel, SingleFile) {
  TempDir dir;
  const std::vector<uint8_t> one = Floats({1.0f});
  std::vector<SafetensorsInput> t = {{"x", DType::kF32, {1}, one}};
  ASSERT_TRUE(WriteSafetensors(dir / "model.safetensors", t).ok());
  auto m = SafetensorsModel::Open(dir.str());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_NE((*m)->Find("x"), nullptr);
}

TEST(SafetensorsModel, RejectsInconsistentIndexes) {
  {
    TempDir dir;  // nothing there
    auto m = SafetensorsModel::Open(dir.str());
    EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
    EXPECT_NE(m.status().message().find(".bin"), std::string::npos) << m.status().message();
  }
  {
    TempDir dir;  // the index puts "c" in the wrong shard
    WriteShards(dir, R"({"weight_map": {"a": "model-00001-of-00002.safetensors",
                                        "c": "model-00001-of-00002.safetensors"}})");
    auto m = SafetensorsModel::Open(dir.str());
    EXPECT_EQ(m.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(m.status().message().find("'c'"), std::string::npos) << m.status().message();
  }
  {
    TempDir dir;  // a shard outside the directory
    WriteShards(dir, R"({"weight_map": {"a": "../model-00001-of-00002.safetensors"}})");
    EXPECT_EQ(SafetensorsModel::Open(dir.str()).status().code(), StatusCode::kDataLoss);
  }
  {
    TempDir dir;  // a missing shard file
    WriteShards(dir, R"({"weight_map": {"a": "model-00003-of-00003.safetensors"}})");
    EXPECT_EQ(SafetensorsModel::Open(dir.str()).status().code(), StatusCode::kNotFound);
  }
  {
    TempDir dir;  // not JSON / no weight_map
    WriteShards(dir, "{");
    EXPECT_EQ(SafetensorsModel::Open(dir.str()).status().code(), StatusCode::kDataLoss);
    std::ofstream(dir / "model.safetensors.index.json") << R"({"metadata": {}})";
    EXPECT_EQ(SafetensorsModel::Open(dir.str()).status().code(), StatusCode::kDataLoss);
  }
  {
    TempDir dir;  // the same tensor in two shards
    WriteShards(dir, kIndex);
    const std::vector<uint8_t> one = Floats({1.0f});
    std::vector<SafetensorsInput> dup = {{"a", DType::kF32, {1}, one}};
    ASSERT_TRUE(WriteSafetensors(dir / "model-00002-of-00002.safetensors", dup).ok());
    auto m = SafetensorsModel::Open(dir.str());
    EXPECT_EQ(m.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(m.status().message().find("two shards"), std::string::npos) << m.status().message();
  }
}

}  // namespace
}  // namespace meridian::engine
