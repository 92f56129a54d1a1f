// Safetensors: a memory-mapped reader that validates the header (offsets inside the data, sizes
// matching shape x dtype, no overlapping ranges), a sharded view over a Hugging Face model
// directory (model.safetensors or model.safetensors.index.json), and a streaming writer.
// Readers are immutable after Open(): safe to share across threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "engine/dtype/dtype.h"

namespace meridian::engine {

//! One tensor of a safetensors file.
struct SafetensorsTensor {
  std::string name;
  std::string dtype_name;         //!< as in the header: "F32", "BF16", "I64", ...
  std::optional<DType> dtype;     //!< set for the dtypes Meridian reads (F32, F16, BF16)
  std::vector<int64_t> shape;     //!< outermost first (PyTorch order): [out_features, in_features]
  std::span<const uint8_t> data;  //!< the tensor's bytes inside the mapping
  int64_t n_elements() const;
};

class SafetensorsFile {
 public:
  //! Maps and parses `path`. Structural problems are kDataLoss naming the file and the tensor.
  static Result<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  //! Parses bytes that the caller keeps alive (tests, fuzzing).
  static Result<std::unique_ptr<SafetensorsFile>> Parse(std::span<const uint8_t> bytes,
                                                        std::string name = "<memory>");

  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& name() const { return name_; }
  //! Tensors in ascending data-offset order.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  //! nullptr if absent.
  const SafetensorsTensor* Find(std::string_view name) const;
  //! The tensor if present and of a dtype Meridian reads: NotFound / Unimplemented otherwise.
  Result<const SafetensorsTensor*> Get(std::string_view name) const;
  //! The string map "__metadata__" (empty if absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  SafetensorsFile() = default;
  Status ParseAll();

  std::string name_;
  std::span<const uint8_t> bytes_;
  void* map_base_ = nullptr;  //!< non-null when this object owns an mmap
  size_t map_size_ = 0;
  std::vector<SafetensorsTensor> tensors_;
  std::unordered_map<std::string_view, size_t> index_;  //!< keys view tensors_[i].name
  std::map<std::string, std::string> metadata_;
};

//! All safetensors shards of a Hugging Face model directory, searched by tensor name.
class SafetensorsModel {
 public:
  //! Opens `dir`/model.safetensors.index.json (every shard its weight_map names) or, failing
  //! that, `dir`/model.safetensors. NotFound if neither exists; DataLoss if the index names a
  //! tensor its shard lacks, or two shards hold the same tensor.
  static Result<std::unique_ptr<SafetensorsModel>> Open(const std::string& dir);

  //! nullptr if absent.
  const SafetensorsTensor* Find(std::string_view name) const;
  //! The tensor if present and readable (see SafetensorsFile::Get).
  Result<const SafetensorsTensor*> Get(std::string_view name) const;
  //! Every tensor name, sorted.
  std::vector<std::string> tensor_names() const;
  const std::vector<std::unique_ptr<SafetensorsFile>>& shards() const { return shards_; }

 private:
  SafetensorsModel() = default;
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::unordered_map<std::string_view, const SafetensorsTensor*> index_;
};

//! Builds a safetensors file tensor by tensor, streaming each one to disk: a large checkpoint is
//! never in memory at once. The header is padded to a multiple of 8 bytes (as the reference
//! writer does) so tensors whose offsets are multiples of their element size stay aligned.
class SafetensorsWriter {
 public:
  //! Produces one tensor's bytes into a buffer of exactly its size; called once, during Write().
  using Filler = std::function<Status(std::span<uint8_t> out)>;

  void SetMetadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  //! shape outermost first. Tensors are laid out in the order added.
  void AddTensor(const std::string& name, DType dtype, std::vector<int64_t> shape, Filler fill);
  void AddTensorBytes(const std::string& name, DType dtype, std::vector<int64_t> shape,
                      std::span<const uint8_t> bytes);
  //! Writes `path` + ".tmp" and renames it, so a failure leaves no partial file.
  Status Write(const std::string& path);

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    Filler fill;
    std::optional<uint64_t> given_bytes;
  };
  std::map<std::string, std::string> metadata_;
  std::vector<Entry> entries_;
};

//! One tensor for WriteSafetensors.
struct SafetensorsInput {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::span<const uint8_t> bytes;
};

//! Writes tensors whose bytes exist in memory (F32, F16, BF16; Q8_0 has no safetensors dtype).
Status WriteSafetensors(const std::string& path, std::span<const SafetensorsInput> tensors,
                        const std::map<std::string, std::string>& metadata = {});

//! The safetensors dtype name of a Meridian dtype ("F32", "F16", "BF16"), or nullptr (Q8_0).
const char* SafetensorsDTypeName(DType dtype);

}  // namespace meridian::engine
