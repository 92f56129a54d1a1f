// GgufFile validation: hand-built files with one corrupt field each, truncation at every byte,
// Open() on odd paths, and the shared llama SPM vocab file.
#include "engine/gguf/gguf_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "gguf_test_util.h"

namespace meridian::engine {
namespace {

using testing_util::Bytes;
using testing_util::TempDir;

constexpr uint32_t kF32 = 0;
constexpr uint32_t kQ8_0 = 8;

//! A small valid v3 file: a few metadata types (string, uint32, string array, float array, bool)
//! and two f32 tensors, the second in a 2-D shape.
Bytes SmallValidFile(uint32_t version = 3) {
  Bytes b;
  b.Header(version, 2, 5);
  b.KvStr("general.architecture", "llama");
  b.KvU32("llama.block_count", 2);
  b.Str("tokenizer.ggml.tokens").U32(9).U32(8).U64(3).Str("<s>").Str("a").Str("bc");
  b.Str("tokenizer.ggml.scores").U32(9).U32(6).U64(2).Put(0.5f).Put(-1.0f);
  b.Str("general.flag").U32(7).U8(1);
  b.TensorInfo("tok_embd.weight", {4}, kF32, 0);
  b.TensorInfo("output.weight", {2, 2}, kF32, 32);
  b.PadTo(32);
  b.Fill(16, 0x11).PadTo(32).Fill(16, 0x22);
  return b;
}

Result<std::unique_ptr<GgufFile>> ParseBytes(const std::vector<uint8_t>& bytes) {
  return GgufFile::Parse(bytes, "model.gguf");
}

//! Expects a parse failure with `code` whose message contains every part.
void ExpectError(const Bytes& b, StatusCode code, std::initializer_list<const char*> parts) {
  auto r = ParseBytes(b.data);
  ASSERT_FALSE(r.ok()) << "parsed a corrupt file";
  EXPECT_EQ(r.status().code(), code) << r.status().ToString();
  for (const char* part : parts) {
    EXPECT_NE(r.status().message().find(part), std::string::npos)
        << "message '" << r.status().message() << "' lacks '" << part << "'";
  }
  EXPECT_EQ(r.status().message().rfind("model.gguf: ", 0), 0u) << r.status().message();
}

TEST(GgufFile, ParsesASmallValidFile) {
  for (uint32_t version : {2u, 3u}) {
    Bytes b = SmallValidFile(version);
    auto r = ParseBytes(b.data);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const GgufFile& f = **r;
    EXPECT_EQ(f.version(), version);
    EXPECT_EQ(f.alignment(), 32u);
    EXPECT_EQ(f.name(), "model.gguf");
    EXPECT_EQ(f.keys(),
              (std::vector<std::string>{"general.architecture", "llama.block_count", "tokenizer.ggml.tokens",
                                        "tokenizer.ggml.scores", "general.flag"}));
    EXPECT_EQ(*f.GetString("general.architecture"), "llama");
    EXPECT_EQ(*f.GetUint("llama.block_count"), 2u);
    EXPECT_EQ(f.Find("tokenizer.ggml.tokens")->str_array, (std::vector<std::string>{"<s>", "a", "bc"}));
    EXPECT_EQ(f.Find("tokenizer.ggml.scores")->float_array, (std::vector<double>{0.5, -1.0}));
    EXPECT_TRUE(*f.GetBool("general.flag"));
    ASSERT_EQ(f.tensors().size(), 2u);
    const GgufTensorInfo* out = f.FindTensor("output.weight");
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(out->dims, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(out->n_bytes, 16u);
    auto data = f.TensorData(*out);
    ASSERT_EQ(data.size(), 16u);
    EXPECT_EQ(data[0], 0x22);
    EXPECT_EQ(data.data(), b.data.data() + f.data_offset() + 32);
    EXPECT_EQ(f.TensorData(*f.FindTensor("tok_embd.weight"))[15], 0x11);
  }
}

TEST(GgufFile, ForeignTensorInfoNeverReadsOutside) {
  Bytes b = SmallValidFile();
  auto r = ParseBytes(b.data);
  ASSERT_TRUE(r.ok());
  GgufTensorInfo fake;
  fake.offset = 32;
  fake.n_bytes = 1 << 20;
  EXPECT_TRUE((*r)->TensorData(fake).empty());
  fake.offset = ~uint64_t{0};
  fake.n_bytes = 2;
  EXPECT_TRUE((*r)->TensorData(fake).empty());
}

TEST(GgufFile, TruncationAtEveryByteIsAnErrorNeverACrash) {
  const Bytes b = SmallValidFile();
  for (size_t n = 0; n < b.data.size(); ++n) {
    // A fresh allocation of exactly n bytes, so ASan catches any read past the end.
    std::vector<uint8_t> cut(b.data.begin(), b.data.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = GgufFile::Parse(std::span<const uint8_t>(cut.data(), cut.size()), "cut.gguf");
    EXPECT_FALSE(r.ok()) << "a file cut at " << n << " of " << b.data.size() << " bytes parsed";
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << n << ": " << r.status().ToString();
    }
  }
  EXPECT_TRUE(ParseBytes(b.data).ok());
}

TEST(GgufFile, TruncatedTensorDataNamesTheTensorAndSizes) {
  Bytes b = SmallValidFile();
  b.data.resize(b.data.size() - 1);
  ExpectError(b, StatusCode::kDataLoss,
              {"tensor 'output.weight' data [offset ", ", 16 bytes] runs past the end of the file (size "});
}

TEST(GgufFile, RejectsBadHeaders) {
  Bytes magic = SmallValidFile();
  magic.data[0] = 'X';
  ExpectError(magic, StatusCode::kDataLoss, {"not a GGUF file", "'XGUF'"});
  ExpectError(Bytes().U8('G'), StatusCode::kDataLoss, {"not a GGUF file"});

  Bytes v1;
  v1.Header(1, 0, 0);
  ExpectError(v1, StatusCode::kUnimplemented, {"version 1"});
  Bytes v4;
  v4.Header(4, 0, 0);
  ExpectError(v4, StatusCode::kUnimplemented, {"version 4"});
  Bytes big_endian;
  big_endian.Header(0x03000000u, 0, 0);
  ExpectError(big_endian, StatusCode::kUnimplemented, {"big-endian"});

  Bytes many_kv;
  many_kv.Header(3, 0, uint64_t{1} << 60);
  ExpectError(many_kv, StatusCode::kDataLoss, {"1152921504606846976 metadata entries"});
  Bytes many_tensors;
  many_tensors.Header(3, ~uint64_t{0}, 0);
  ExpectError(many_tensors, StatusCode::kDataLoss, {"18446744073709551615 tensors"});
  Bytes both;  // each count alone fits, together they do not
  both.Header(3, 1, 2).Fill(40, 0);
  ExpectError(both, StatusCode::kDataLoss, {"2 metadata entries and 1 tensors"});

  Bytes empty_ok;
  empty_ok.Header(2, 0, 0);
  EXPECT_TRUE(ParseBytes(empty_ok.data).ok());
}

TEST(GgufFile, RejectsBadMetadata) {
  Bytes long_key;
  long_key.Header(3, 0, 1).U64(uint64_t{1} << 62).Fill(16, 'k');
  ExpectError(long_key, StatusCode::kDataLoss, {"length of metadata key #0", "4611686018427387904 bytes"});

  Bytes long_value;
  long_value.Header(3, 0, 1).Str("k").U32(8).U64(100).Fill(10, 'v');
  ExpectError(long_value, StatusCode::kDataLoss, {"the value of key 'k'", "100 bytes"});

  Bytes huge_array;  // 2^60 uint8 elements: rejected before any allocation
  huge_array.Header(3, 0, 1).Str("k").U32(9).U32(0).U64(uint64_t{1} << 60).Fill(64, 0);
  ExpectError(huge_array, StatusCode::kDataLoss, {"array 'k'", "1152921504606846976 elements"});

  Bytes huge_string_array;  // count fits the bytes as uint8 would, but strings need 8 bytes each
  huge_string_array.Header(3, 0, 1).Str("k").U32(9).U32(8).U64(64).Fill(64, 0);
  ExpectError(huge_string_array, StatusCode::kDataLoss, {"array 'k'", "64 elements of string"});

  Bytes nested;
  nested.Header(3, 0, 1).Str("k").U32(9).U32(9).U64(1).U32(0).U64(0);
  ExpectError(nested, StatusCode::kUnimplemented, {"'k'", "array of arrays"});

  Bytes bad_type;
  bad_type.Header(3, 0, 1).Str("k").U32(13).U64(0);
  ExpectError(bad_type, StatusCode::kDataLoss, {"key 'k' has value type 13"});
  Bytes bad_elem_type;
  bad_elem_type.Header(3, 0, 1).Str("k").U32(9).U32(99).U64(0);
  ExpectError(bad_elem_type, StatusCode::kDataLoss, {"array 'k' has element type 99"});

  Bytes bad_bool;
  bad_bool.Header(3, 0, 1).Str("k").U32(7).U8(2);
  ExpectError(bad_bool, StatusCode::kDataLoss, {"'k'", "bool must be 0 or 1"});
  Bytes bad_bool_elem;
  bad_bool_elem.Header(3, 0, 1).Str("k").U32(9).U32(7).U64(2).U8(0).U8(5);
  ExpectError(bad_bool_elem, StatusCode::kDataLoss, {"element 1 of bool array 'k'"});

  Bytes duplicate;
  duplicate.Header(3, 0, 2).KvU32("a.b", 1).KvU32("a.b", 2);
  ExpectError(duplicate, StatusCode::kDataLoss, {"'a.b' appears twice"});
  Bytes empty_key;
  empty_key.Header(3, 0, 1).KvU32("", 1);
  ExpectError(empty_key, StatusCode::kDataLoss, {"is empty"});
}

TEST(GgufFile, EnforcesCountLimitsEvenWhenTheBytesExist) {
  Bytes many_kv;  // 2^20 + 1 entries of at least 13 bytes each really fit in this buffer
  many_kv.Header(3, 0, (uint64_t{1} << 20) + 1).Fill(((uint64_t{1} << 20) + 1) * 13, 0);
  ExpectError(many_kv, StatusCode::kOutOfRange, {"1048577 metadata entries", "limit"});
  Bytes big_array;
  big_array.Header(3, 0, 1)
      .Str("k")
      .U32(9)
      .U32(0)
      .U64((uint64_t{1} << 24) + 1)
      .Fill((uint64_t{1} << 24) + 1, 0);
  ExpectError(big_array, StatusCode::kOutOfRange, {"array 'k' has 16777217 elements", "limit"});
}

TEST(GgufFile, ValidatesAlignment) {
  for (uint32_t bad : {0u, 3u, 48u, 0x80000000u}) {
    Bytes b;
    b.Header(3, 0, 1).KvU32("general.alignment", bad);
    ExpectError(b, StatusCode::kDataLoss, {"general.alignment is", "power of two"});
  }
  Bytes wrong_type;
  wrong_type.Header(3, 0, 1).KvStr("general.alignment", "32");
  ExpectError(wrong_type, StatusCode::kDataLoss, {"general.alignment has type string"});

  // A 64-byte alignment moves the data section and requires 64-aligned offsets.
  Bytes ok;
  ok.Header(3, 1, 1).KvU32("general.alignment", 64).TensorInfo("t", {4}, kF32, 0).PadTo(64).Fill(16, 1);
  auto r = ParseBytes(ok.data);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->alignment(), 64u);
  EXPECT_EQ((*r)->data_offset(), 128u);
  Bytes misaligned_for_64;
  misaligned_for_64.Header(3, 2, 1).KvU32("general.alignment", 64);
  misaligned_for_64.TensorInfo("a", {4}, kF32, 0).TensorInfo("b", {4}, kF32, 32).PadTo(64).Fill(96, 0);
  ExpectError(misaligned_for_64, StatusCode::kDataLoss, {"tensor 'b' has data offset 32", "alignment 64"});
}

TEST(GgufFile, RejectsBadTensorInfos) {
  auto one_tensor = [](const std::vector<uint64_t>& dims, uint32_t type, uint64_t offset, size_t data = 64) {
    Bytes b;
    b.Header(3, 1, 0).TensorInfo("blk.0.attn_q.weight", dims, type, offset).PadTo(32).Fill(data, 0);
    return b;
  };
  ExpectError(one_tensor({}, kF32, 0), StatusCode::kDataLoss, {"'blk.0.attn_q.weight' has 0 dimensions"});
  ExpectError(one_tensor({1, 1, 1, 1, 1}, kF32, 0), StatusCode::kDataLoss, {"has 5 dimensions"});
  ExpectError(one_tensor({4, 0}, kF32, 0), StatusCode::kDataLoss, {"dimension 1 = 0"});
  ExpectError(one_tensor({uint64_t{1} << 63}, kF32, 0), StatusCode::kDataLoss, {"dimension 0 ="});
  ExpectError(one_tensor({uint64_t{1} << 32, uint64_t{1} << 32}, kF32, 0), StatusCode::kDataLoss,
              {"more than 2^63 elements"});
  ExpectError(one_tensor({uint64_t{1} << 62}, kF32, 0), StatusCode::kDataLoss, {"larger than 2^64 bytes"});
  ExpectError(one_tensor({16}, kQ8_0, 0), StatusCode::kDataLoss, {"16 elements per row", "block size 32"});
  ExpectError(one_tensor({4}, 12, 0), StatusCode::kUnimplemented,
              {"tensor 'blk.0.attn_q.weight' has GGML type 12 (q4_K)", "f32, f16, bf16 and q8_0"});
  ExpectError(one_tensor({4}, 4000, 0), StatusCode::kUnimplemented,
              {"'blk.0.attn_q.weight'", "GGML type 4000"});
  ExpectError(one_tensor({4}, kF32, 16), StatusCode::kDataLoss,
              {"data offset 16", "not a multiple of the alignment 32"});
  ExpectError(one_tensor({4}, kF32, 64), StatusCode::kDataLoss,
              {"tensor 'blk.0.attn_q.weight' data [offset ", "runs past the end of the file (size "});
  ExpectError(one_tensor({4}, kF32, ~uint64_t{0} / 32 * 32), StatusCode::kDataLoss, {"runs past the end"});
  ExpectError(one_tensor({4}, kF32, 0, 0), StatusCode::kDataLoss, {"past the end of the file"});

  Bytes q8_ok = one_tensor({64, 2}, kQ8_0, 0, 4 * 34);
  auto r = ParseBytes(q8_ok.data);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->tensors()[0].n_bytes, 4u * 34u);
  EXPECT_EQ((*r)->tensors()[0].dtype, DType::kQ8_0);
}

TEST(GgufFile, RejectsOverlappingAndDuplicateTensors) {
  Bytes overlap;
  overlap.Header(3, 3, 0);
  overlap.TensorInfo("c", {8}, kF32, 64).TensorInfo("a", {16}, kF32, 0).TensorInfo("b", {8}, kF32, 32);
  overlap.PadTo(32).Fill(96, 0);
  ExpectError(overlap, StatusCode::kDataLoss,
              {"tensors 'a' [offset ", "64 bytes] and 'b' [offset ", "overlap"});

  Bytes same_offset;
  same_offset.Header(3, 2, 0)
      .TensorInfo("a", {1}, kF32, 0)
      .TensorInfo("b", {1}, kF32, 0)
      .PadTo(32)
      .Fill(32, 0);
  ExpectError(same_offset, StatusCode::kDataLoss, {"overlap"});

  Bytes duplicate;
  duplicate.Header(3, 2, 0)
      .TensorInfo("a", {1}, kF32, 0)
      .TensorInfo("a", {1}, kF32, 32)
      .PadTo(32)
      .Fill(64, 0);
  ExpectError(duplicate, StatusCode::kDataLoss, {"tensor name 'a' appears twice"});

  Bytes gap;  // gaps between tensors are allowed
  gap.Header(3, 2, 0).TensorInfo("a", {1}, kF32, 0).TensorInfo("b", {1}, kF32, 96).PadTo(32).Fill(128, 0);
  EXPECT_TRUE(ParseBytes(gap.data).ok());
}

TEST(GgufFile, OpenReportsFileProblems) {
  TempDir dir;
  auto missing = GgufFile::Open(dir.File("missing.gguf"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("missing.gguf"), std::string::npos);

  testing_util::WriteAll(dir.File("empty.gguf"), {});
  EXPECT_EQ(GgufFile::Open(dir.File("empty.gguf")).status().code(), StatusCode::kDataLoss);

  std::filesystem::create_directories(dir.File("a_dir"));
  EXPECT_EQ(GgufFile::Open(dir.File("a_dir")).status().code(), StatusCode::kInvalidArgument);

  const Bytes b = SmallValidFile();
  testing_util::WriteAll(dir.File("ok.gguf"), b.data);
  auto ok = GgufFile::Open(dir.File("ok.gguf"));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)->file_size(), b.data.size());
  EXPECT_EQ((*ok)->TensorData(*(*ok)->FindTensor("output.weight"))[3], 0x22);

  std::vector<uint8_t> bad = b.data;
  bad[4] = 1;
  testing_util::WriteAll(dir.File("v1.gguf"), bad);
  auto v1 = GgufFile::Open(dir.File("v1.gguf"));
  EXPECT_EQ(v1.status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(v1.status().message().rfind(dir.File("v1.gguf") + ": ", 0), 0u) << v1.status().message();
}

TEST(GgufFile, ParsesTheSharedLlamaVocab) {
  const std::string path = MERIDIAN_SOURCE_DIR "/../shared/testdata/vocab/ggml-vocab-llama-spm.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "shared test data not present: " << path;
  auto r = GgufFile::Open(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const GgufFile& f = **r;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_EQ(*f.GetString("general.architecture"), "llama");
  EXPECT_EQ(*f.GetString("tokenizer.ggml.model"), "llama");
  const GgufValue* tokens = f.Find("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->type, GgufType::kArray);
  EXPECT_EQ(tokens->array_type, GgufType::kString);
  ASSERT_EQ(tokens->str_array.size(), 32000u);
  EXPECT_EQ(tokens->array_size, 32000u);
  EXPECT_EQ(tokens->str_array[1], "<s>");
  EXPECT_EQ(tokens->str_array[2], "</s>");
  EXPECT_EQ(f.Find("tokenizer.ggml.scores")->float_array.size(), 32000u);
  EXPECT_EQ(f.Find("tokenizer.ggml.token_type")->int_array.size(), 32000u);
  EXPECT_EQ(*f.GetUint("tokenizer.ggml.bos_token_id"), 1u);
}

}  // namespace
}  // namespace meridian::engine
