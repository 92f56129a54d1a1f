// GGUF reader (v2 and v3): memory-maps a file, validates every offset, size and alignment, and
// exposes metadata and tensor views. Immutable after Open(): safe to share across threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "engine/dtype/dtype.h"

namespace meridian::engine {

//! GGUF metadata value types (numbers as in the spec).
enum class GgufType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6,
  kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};

//! One metadata value. Scalars are widened into the matching field (`u` for unsigned integers
//! and bool, `i` for signed integers, `f` for floats); the reader also fills `u` for a
//! non-negative signed value and `i` for an unsigned value <= INT64_MAX, so either field can be
//! read when the value fits. Arrays keep their element type and are stored decoded (strings
//! copied, numbers widened; uint64 elements are stored bit for bit in `int_array`).
struct GgufValue {
  GgufType type = GgufType::kUint32;
  GgufType array_type = GgufType::kUint32;  //!< element type when type == kArray
  uint64_t u = 0;                           //!< unsigned integers and bool
  int64_t i = 0;                            //!< signed integers
  double f = 0.0;                           //!< float32 / float64
  std::string str;
  std::vector<std::string> str_array;
  std::vector<int64_t> int_array;   //!< any integer/bool array, widened
  std::vector<double> float_array;  //!< float32/float64 arrays
  uint64_t array_size = 0;

  bool is_integer() const;  //!< any integer type or bool
  bool is_float() const;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> dims;  //!< GGUF order: dims[0] is the innermost (contiguous) dimension
  DType dtype = DType::kF32;
  uint64_t offset = 0;  //!< relative to the start of the data section
  uint64_t n_bytes = 0;
  int64_t n_elements() const;
};

class GgufFile {
 public:
  //! Maps and parses `path`. Every structural problem becomes a kDataLoss status naming the file,
  //! the field and the offset; unsupported tensor types are kUnimplemented.
  static Result<std::unique_ptr<GgufFile>> Open(const std::string& path);
  //! Parses a buffer that the caller keeps alive (used by the fuzzer and tests).
  static Result<std::unique_ptr<GgufFile>> Parse(std::span<const uint8_t> bytes, std::string name = "<memory>");

  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  const std::string& name() const { return name_; }
  uint64_t file_size() const { return bytes_.size(); }
  //! True if [p, p + n) lies inside this file's read-only mapping.
  bool Contains(const void* p, uint64_t n) const {
    auto b = reinterpret_cast<uintptr_t>(bytes_.data()), q = reinterpret_cast<uintptr_t>(p);
    return map_base_ != nullptr && q >= b && q - b <= bytes_.size() && n <= bytes_.size() - (q - b);
  }
  //! Absolute file offset of the tensor data section (a multiple of alignment()).
  uint64_t data_offset() const { return data_offset_; }

  //! Metadata keys in file order, and lookup by key (nullptr if absent).
  const std::vector<std::string>& keys() const { return keys_; }
  const GgufValue* Find(std::string_view key) const;

  // Typed getters: NotFound if absent, InvalidArgument if of the wrong type.
  Result<std::string> GetString(std::string_view key) const;
  Result<uint64_t> GetUint(std::string_view key) const;  //!< any non-negative integer type
  Result<int64_t> GetInt(std::string_view key) const;
  Result<double> GetFloat(std::string_view key) const;   //!< float32/float64 (and integers)
  Result<bool> GetBool(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(std::string_view name) const;
  //! The bytes of a tensor inside the mapping (validated at Parse time).
  std::span<const uint8_t> TensorData(const GgufTensorInfo& info) const;

  //! Hints the kernel about upcoming reads of the whole data section (MADV_WILLNEED).
  void AdviseWillNeed() const;

 private:
  GgufFile() = default;
  Status ParseAll();

  std::string name_;
  std::span<const uint8_t> bytes_;
  void* map_base_ = nullptr;  //!< non-null when we own an mmap
  size_t map_size_ = 0;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::string> keys_;
  //! Hash that lets the maps be searched with a string_view without building a string.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, GgufValue, NameHash, std::equal_to<>> values_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string, size_t, NameHash, std::equal_to<>> tensor_index_;
};

}  // namespace meridian::engine
