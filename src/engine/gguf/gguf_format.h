// Constants and type tables of the GGUF format shared by the reader and the writer (internal to
// src/engine/gguf; other code uses gguf_file.h and gguf_writer.h).
#pragma once

#include <cstdint>
#include <string>

#include "engine/gguf/gguf_file.h"

namespace meridian::engine::gguf_format {

inline constexpr uint32_t kDefaultAlignment = 32;
//! Largest general.alignment accepted; real files use 32 (a few use 64 or 4096).
inline constexpr uint64_t kMaxAlignment = uint64_t{1} << 30;
//! GGML_MAX_DIMS.
inline constexpr uint32_t kMaxDims = 4;
//! Largest metadata array accepted (vocabularies and merge lists stay far below this); bounds the
//! memory a file can make the reader allocate to a small multiple of the bytes it really holds.
inline constexpr uint64_t kMaxArrayElements = uint64_t{1} << 24;
//! Largest metadata entry and tensor counts accepted (real models: hundreds of keys, at most tens
//! of thousands of tensors). With the array cap these bound what parsing a huge file can allocate.
inline constexpr uint64_t kMaxMetadataEntries = uint64_t{1} << 20;
inline constexpr uint64_t kMaxTensors = uint64_t{1} << 22;
//! Containers are reserved up to this many entries; beyond it they grow as entries are parsed,
//! so a count that the file's bytes do not back never allocates ahead of them.
inline constexpr uint64_t kMaxReserve = uint64_t{1} << 12;

inline bool IsValidType(uint32_t id) {
  return id <= static_cast<uint32_t>(GgufType::kFloat64);
}

inline bool IsUnsigned(GgufType t) {
  return t == GgufType::kUint8 || t == GgufType::kUint16 || t == GgufType::kUint32 || t == GgufType::kUint64;
}

inline bool IsSigned(GgufType t) {
  return t == GgufType::kInt8 || t == GgufType::kInt16 || t == GgufType::kInt32 || t == GgufType::kInt64;
}

//! Encoded size of a scalar type (0 for string and array).
inline uint64_t ScalarSize(GgufType t) {
  switch (t) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kBool: return 1;
    case GgufType::kUint16:
    case GgufType::kInt16: return 2;
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kFloat32: return 4;
    case GgufType::kUint64:
    case GgufType::kInt64:
    case GgufType::kFloat64: return 8;
    case GgufType::kString:
    case GgufType::kArray: return 0;
  }
  return 0;
}

//! Fewest bytes one value of `t` can occupy in a file (a string is at least its 8-byte length,
//! an array at least its element type and count).
inline uint64_t MinEncodedSize(GgufType t) {
  if (t == GgufType::kString) return 8;
  if (t == GgufType::kArray) return 12;
  return ScalarSize(t);
}

inline const char* TypeName(GgufType t) {
  switch (t) {
    case GgufType::kUint8: return "uint8";
    case GgufType::kInt8: return "int8";
    case GgufType::kUint16: return "uint16";
    case GgufType::kInt16: return "int16";
    case GgufType::kUint32: return "uint32";
    case GgufType::kInt32: return "int32";
    case GgufType::kFloat32: return "float32";
    case GgufType::kBool: return "bool";
    case GgufType::kString: return "string";
    case GgufType::kArray: return "array";
    case GgufType::kUint64: return "uint64";
    case GgufType::kInt64: return "int64";
    case GgufType::kFloat64: return "float64";
  }
  return "unknown";
}

//! Name of a GGML tensor type id, for error messages about types Meridian does not read;
//! nullptr for ids that GGML does not define.
inline const char* GgmlTypeName(uint32_t id) {
  // clang-format off
  static constexpr const char* kNames[] = {
      "f32",     "f16",    "q4_0",    "q4_1",    nullptr,  nullptr, "q5_0",    "q5_1",   "q8_0",   "q8_1",
      "q2_K",    "q3_K",   "q4_K",    "q5_K",    "q6_K",   "q8_K",  "iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s",
      "iq4_nl",  "iq3_s",  "iq2_s",   "iq4_xs",  "i8",     "i16",   "i32",     "i64",    "f64",    "iq1_m",
      "bf16",    nullptr,  nullptr,   nullptr,   "tq1_0",  "tq2_0", nullptr,   nullptr,  nullptr,  "mxfp4",
  };
  // clang-format on
  return id < sizeof(kNames) / sizeof(kNames[0]) ? kNames[id] : nullptr;
}

inline std::string Hex2(uint8_t b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  return std::string{kDigits[b >> 4], kDigits[b & 15]};
}

}  // namespace meridian::engine::gguf_format
