// Element types of weights and their storage: ids match GGML/GGUF type numbers so files round-trip.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace meridian::engine {

enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ8_0 = 8,
  kBF16 = 30,
};

//! Q8_0: 32 int8 values sharing one fp16 scale (value = d * qs[i]); the GGUF layout, 34 bytes.
inline constexpr int kQ8BlockSize = 32;
struct BlockQ8_0 {
  uint16_t d;  //!< fp16 bits of the scale
  int8_t qs[kQ8BlockSize];
};
static_assert(sizeof(BlockQ8_0) == 34);

const char* DTypeName(DType t);
std::optional<DType> DTypeFromName(std::string_view name);  //!< "f32", "f16", "bf16", "q8_0"
std::optional<DType> DTypeFromGgmlId(uint32_t id);             //!< only the types Meridian reads

//! Elements per block (32 for Q8_0, 1 otherwise) and bytes per block.
int64_t DTypeBlockElems(DType t);
int64_t DTypeBlockBytes(DType t);
//! Bytes for `n` elements; nullopt if `n` is not a multiple of the block size or overflows.
std::optional<uint64_t> DTypeRowBytes(DType t, int64_t n);

// fp16 / bf16 conversions (IEEE round-to-nearest-even), usable from any translation unit.
float Fp16ToFp32(uint16_t h);
uint16_t Fp32ToFp16(float f);
inline float Bf16ToFp32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
uint16_t Fp32ToBf16(float f);

}  // namespace meridian::engine
