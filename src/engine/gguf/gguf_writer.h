// GGUF v3 writer: metadata and tensors laid out exactly as the spec says (aligned data section,
// general.alignment honoured), streamed to disk so large models never sit in memory twice.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/dtype/dtype.h"
#include "engine/gguf/gguf_file.h"

namespace meridian::engine {

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t alignment = 32) : alignment_(alignment) {}

  // Metadata, written in the order added. Adding a key twice replaces the value.
  void SetString(const std::string& key, const std::string& value);
  void SetUint32(const std::string& key, uint32_t value);
  void SetInt32(const std::string& key, int32_t value);
  void SetUint64(const std::string& key, uint64_t value);
  void SetFloat32(const std::string& key, float value);
  void SetBool(const std::string& key, bool value);
  void SetStringArray(const std::string& key, const std::vector<std::string>& values);
  void SetFloat32Array(const std::string& key, const std::vector<float>& values);
  void SetInt32Array(const std::string& key, const std::vector<int32_t>& values);
  //! Copies a value read from another file (for conversions that keep metadata).
  void SetValue(const std::string& key, const GgufValue& value);

  //! Produces the bytes of one tensor on demand: called once, during Write(), with a buffer of
  //! exactly the tensor's byte size to fill. Lets quantizers stream without holding all tensors.
  using TensorFiller = std::function<Status(std::span<uint8_t> out)>;

  //! dims in GGUF order (innermost first).
  void AddTensor(const std::string& name, DType dtype, std::vector<int64_t> dims, TensorFiller fill);
  //! Convenience for a tensor whose bytes already exist (copied at Write()).
  void AddTensorBytes(const std::string& name, DType dtype, std::vector<int64_t> dims,
                      std::span<const uint8_t> bytes);

  //! Writes the file (to path + ".tmp", then renames), so a failure leaves no partial file.
  Status Write(const std::string& path);

 private:
  //! One tensor to write: its description and the callback that produces its bytes.
  struct TensorEntry {
    std::string name;
    DType dtype = DType::kF32;
    std::vector<int64_t> dims;
    TensorFiller fill;
    std::optional<uint64_t> expected_bytes;  //!< set by AddTensorBytes: the size of its span
  };
  //! Replaces the value of `key` in place, or appends it.
  void Set(const std::string& key, GgufValue value);

  uint32_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<TensorEntry> tensors_;
};

}  // namespace meridian::engine
