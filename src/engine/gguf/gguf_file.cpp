// GgufFile: maps a GGUF v2/v3 file and validates every field before exposing it. The bytes are
// untrusted: every read is bounds-checked, every count is checked against the bytes that are
// left before anything is allocated, and every failure is a Status naming file, field and offset.
#include "engine/gguf/gguf_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>

#include "engine/gguf/gguf_format.h"

namespace meridian::engine {

namespace {

//! Bounds-checked little-endian cursor over the file bytes; errors carry the file name.
class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  //! "file: message", the prefix of every error about this file.
  std::string Msg(const std::string& message) const { return name_ + ": " + message; }
  Status Error(const std::string& message) const { return DataLoss(Msg(message)); }

  //! Fails with a truncation error unless `n` more bytes are available.
  Status Need(uint64_t n, const std::string& what) const {
    return remaining() < n ? Truncated(n, what) : Status::Ok();
  }

  //! Reads a fixed-size little-endian scalar; `what` names the field for the error message.
  template <typename T>
  Status Read(T* out, const std::string& what) {
    MERIDIAN_RETURN_IF_ERROR(Need(sizeof(T), what));
    std::memcpy(out, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }

  //! Reads a gguf_string (uint64 length, then that many bytes).
  Status ReadString(std::string* out, const std::string& what) {
    uint64_t start = pos_;
    uint64_t len = 0;
    MERIDIAN_RETURN_IF_ERROR(Read(&len, "the length of " + what));
    if (len > remaining()) {
      pos_ = start;
      return Error("the length of " + what + " at offset " + std::to_string(start) + " is " +
                   std::to_string(len) + " bytes, but only " + std::to_string(remaining() - 8) +
                   " bytes follow in the file (size " + std::to_string(bytes_.size()) + ")");
    }
    out->assign(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<size_t>(len));
    pos_ += len;
    return Status::Ok();
  }

  //! Returns `n` raw bytes (already bounds-checked by the caller via remaining()).
  const uint8_t* Take(uint64_t n) {
    const uint8_t* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }

 private:
  Status Truncated(uint64_t need, const std::string& what) const {
    return Error("file is truncated: " + what + " at offset " + std::to_string(pos_) + " needs " +
                 std::to_string(need) + " bytes, but the file ends at " + std::to_string(bytes_.size()));
  }

  std::span<const uint8_t> bytes_;
  const std::string& name_;
  uint64_t pos_ = 0;
};

template <typename T>
T LoadLe(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

//! Decodes one scalar of `type` at `p` (the caller checked the size) into `v`.
Status DecodeScalar(GgufType type, const uint8_t* p, GgufValue* v) {
  switch (type) {
    case GgufType::kUint8: v->u = p[0]; break;
    case GgufType::kInt8: v->i = static_cast<int8_t>(p[0]); break;
    case GgufType::kUint16: v->u = LoadLe<uint16_t>(p); break;
    case GgufType::kInt16: v->i = LoadLe<int16_t>(p); break;
    case GgufType::kUint32: v->u = LoadLe<uint32_t>(p); break;
    case GgufType::kInt32: v->i = LoadLe<int32_t>(p); break;
    case GgufType::kUint64: v->u = LoadLe<uint64_t>(p); break;
    case GgufType::kInt64: v->i = LoadLe<int64_t>(p); break;
    case GgufType::kFloat32: v->f = LoadLe<float>(p); break;
    case GgufType::kFloat64: v->f = LoadLe<double>(p); break;
    case GgufType::kBool:
      if (p[0] > 1) return InvalidArgument("a bool must be 0 or 1, found " + std::to_string(p[0]));
      v->u = p[0];
      break;
    default: return Internal("not a scalar type");
  }
  // Mirror integers into the other field when the value fits, so callers may read either.
  if (gguf_format::IsUnsigned(type) && v->u <= static_cast<uint64_t>(INT64_MAX)) {
    v->i = static_cast<int64_t>(v->u);
  } else if (gguf_format::IsSigned(type) && v->i >= 0) {
    v->u = static_cast<uint64_t>(v->i);
  }
  return Status::Ok();
}

//! Widens one array element of integer/bool `type` at `p` into an int64 (uint64 bit for bit).
int64_t DecodeIntElement(GgufType type, const uint8_t* p) {
  switch (type) {
    case GgufType::kUint8: return p[0];
    case GgufType::kInt8: return static_cast<int8_t>(p[0]);
    case GgufType::kUint16: return LoadLe<uint16_t>(p);
    case GgufType::kInt16: return LoadLe<int16_t>(p);
    case GgufType::kUint32: return LoadLe<uint32_t>(p);
    case GgufType::kInt32: return LoadLe<int32_t>(p);
    case GgufType::kUint64: return static_cast<int64_t>(LoadLe<uint64_t>(p));
    case GgufType::kInt64: return LoadLe<int64_t>(p);
    case GgufType::kBool: return p[0];
    default: return 0;
  }
}

//! Parses the value of metadata entry `key` (type id already read) at the reader's position.
Status ParseValue(Reader& r, const std::string& key, uint32_t type_id, GgufValue* v) {
  const std::string what = "the value of key '" + key + "'";
  if (!gguf_format::IsValidType(type_id)) {
    return r.Error("key '" + key + "' has value type " + std::to_string(type_id) +
                   ", which is not a GGUF type (0..12); the file is corrupt");
  }
  const auto type = static_cast<GgufType>(type_id);
  v->type = type;
  if (type == GgufType::kString) return r.ReadString(&v->str, what);
  if (type != GgufType::kArray) {
    const uint64_t size = gguf_format::ScalarSize(type);
    const uint64_t at = r.pos();
    MERIDIAN_RETURN_IF_ERROR(r.Need(size, what));
    Status s = DecodeScalar(type, r.Take(size), v);
    if (!s.ok()) return r.Error(what + " at offset " + std::to_string(at) + ": " + s.message());
    return Status::Ok();
  }

  // Array: element type, element count, elements.
  uint32_t elem_id = 0;
  MERIDIAN_RETURN_IF_ERROR(r.Read(&elem_id, "the element type of array '" + key + "'"));
  if (elem_id == static_cast<uint32_t>(GgufType::kArray)) {
    return Unimplemented(r.Msg("key '" + key + "' is an array of arrays; nested arrays are not supported"));
  }
  if (!gguf_format::IsValidType(elem_id)) {
    return r.Error("array '" + key + "' has element type " + std::to_string(elem_id) +
                   ", which is not a GGUF type (0..12); the file is corrupt");
  }
  const auto elem = static_cast<GgufType>(elem_id);
  v->array_type = elem;
  uint64_t count = 0;
  const uint64_t count_at = r.pos();
  MERIDIAN_RETURN_IF_ERROR(r.Read(&count, "the length of array '" + key + "'"));
  const uint64_t min_elem = gguf_format::MinEncodedSize(elem);
  if (count > r.remaining() / min_elem) {
    return r.Error("array '" + key + "' at offset " + std::to_string(count_at) + " claims " +
                   std::to_string(count) + " elements of " + gguf_format::TypeName(elem) +
                   ", which needs at least " +
                   (count > UINT64_MAX / min_elem ? std::string("2^64") : std::to_string(count * min_elem)) +
                   " bytes, but only " + std::to_string(r.remaining()) + " bytes are left in the file");
  }
  if (count > gguf_format::kMaxArrayElements) {
    return OutOfRange(r.Msg("array '" + key + "' has " + std::to_string(count) +
                            " elements, more than Meridian's limit of " +
                            std::to_string(gguf_format::kMaxArrayElements)));
  }
  v->array_size = count;
  if (elem == GgufType::kString) {
    // Each element is checked as it is read; the reservation is capped so that a large count
    // never allocates ahead of the bytes that back it.
    v->str_array.reserve(static_cast<size_t>(std::min(count, gguf_format::kMaxReserve)));
    for (uint64_t k = 0; k < count; ++k) {
      std::string s;
      MERIDIAN_RETURN_IF_ERROR(r.ReadString(&s, "element " + std::to_string(k) + " of array '" + key + "'"));
      v->str_array.push_back(std::move(s));
    }
    return Status::Ok();
  }
  // Fixed-size elements: the size check above is exact here.
  const uint64_t data_at = r.pos();
  const uint8_t* p = r.Take(count * min_elem);
  if (elem == GgufType::kFloat32 || elem == GgufType::kFloat64) {
    v->float_array.resize(static_cast<size_t>(count));
    for (uint64_t k = 0; k < count; ++k) {
      v->float_array[k] = elem == GgufType::kFloat32 ? static_cast<double>(LoadLe<float>(p + 4 * k))
                                                     : LoadLe<double>(p + 8 * k);
    }
    return Status::Ok();
  }
  v->int_array.resize(static_cast<size_t>(count));
  for (uint64_t k = 0; k < count; ++k) {
    const uint8_t* e = p + k * min_elem;
    if (elem == GgufType::kBool && e[0] > 1) {
      return r.Error("element " + std::to_string(k) + " of bool array '" + key + "' at offset " +
                     std::to_string(data_at + k) + " is " + std::to_string(e[0]) + "; a bool must be 0 or 1");
    }
    v->int_array[k] = DecodeIntElement(elem, e);
  }
  return Status::Ok();
}

std::string Range(uint64_t offset, uint64_t n_bytes) {
  return "[offset " + std::to_string(offset) + ", " + std::to_string(n_bytes) + " bytes]";
}

}  // namespace

bool GgufValue::is_integer() const {
  return gguf_format::IsUnsigned(type) || gguf_format::IsSigned(type) || type == GgufType::kBool;
}

bool GgufValue::is_float() const {
  return type == GgufType::kFloat32 || type == GgufType::kFloat64;
}

int64_t GgufTensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d <= 0 || n > INT64_MAX / d) return -1;  // never for a tensor that passed validation
    n *= d;
  }
  return n;
}

GgufFile::~GgufFile() {
  if (map_base_ != nullptr) munmap(map_base_, map_size_);
}

Result<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    std::string msg = path + ": cannot open: " + std::strerror(err);
    return err == ENOENT ? NotFound(msg) : InvalidArgument(msg);
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return InvalidArgument(path + ": cannot stat: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument(path + ": not a regular file");
  }
  if (st.st_size == 0) {
    ::close(fd);
    return DataLoss(path + ": file is empty; expected a GGUF file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* base = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_err = errno;
  ::close(fd);  // the mapping keeps its own reference to the file
  if (base == MAP_FAILED) {
    return ResourceExhausted(path + ": cannot map " + std::to_string(size) +
                             " bytes: " + std::strerror(map_err));
  }
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->name_ = path;
  file->map_base_ = base;
  file->map_size_ = size;
  file->bytes_ = std::span<const uint8_t>(static_cast<const uint8_t*>(base), size);
  MERIDIAN_RETURN_IF_ERROR(file->ParseAll());
  return file;
}

Result<std::unique_ptr<GgufFile>> GgufFile::Parse(std::span<const uint8_t> bytes, std::string name) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->name_ = std::move(name);
  file->bytes_ = bytes;
  MERIDIAN_RETURN_IF_ERROR(file->ParseAll());
  return file;
}

Status GgufFile::ParseAll() {
  Reader r(bytes_, name_);
  const uint64_t size = bytes_.size();

  // Header: magic, version, tensor count, metadata count.
  if (size < 4 || std::memcmp(bytes_.data(), "GGUF", 4) != 0) {
    std::string seen;
    for (size_t k = 0; k < std::min<uint64_t>(size, 4); ++k) {
      const char c = static_cast<char>(bytes_[k]);
      seen += (c >= 0x20 && c < 0x7f) ? std::string(1, c) : "\\x" + gguf_format::Hex2(bytes_[k]);
    }
    return DataLoss(name_ + ": not a GGUF file: it starts with '" + seen + "', expected the magic 'GGUF'");
  }
  r.Take(4);
  MERIDIAN_RETURN_IF_ERROR(r.Read(&version_, "the GGUF version"));
  if (version_ == 1) {
    return Unimplemented(name_ +
                         ": GGUF version 1 is not supported (it was replaced by v2 in 2023); "
                         "convert the model again with a current converter");
  }
  if (version_ != 2 && version_ != 3) {
    if (__builtin_bswap32(version_) == 2 || __builtin_bswap32(version_) == 3) {
      return Unimplemented(name_ +
                           ": this is a big-endian GGUF file; Meridian reads little-endian files only");
    }
    return Unimplemented(name_ + ": GGUF version " + std::to_string(version_) +
                         " is not supported (Meridian reads versions 2 and 3)");
  }
  uint64_t n_tensors = 0;
  uint64_t n_kv = 0;
  MERIDIAN_RETURN_IF_ERROR(r.Read(&n_tensors, "the tensor count"));
  MERIDIAN_RETURN_IF_ERROR(r.Read(&n_kv, "the metadata entry count"));
  // Each metadata entry needs at least a key length, a type and a one-byte value; each tensor
  // info at least a name length, n_dims, one dimension, a type and an offset.
  constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
  constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;
  if (n_kv > r.remaining() / kMinKvBytes) {
    return r.Error("the header claims " + std::to_string(n_kv) + " metadata entries, but the file (size " +
                   std::to_string(size) + ") is too small to hold them");
  }
  if (n_tensors > r.remaining() / kMinTensorInfoBytes) {
    return r.Error("the header claims " + std::to_string(n_tensors) + " tensors, but the file (size " +
                   std::to_string(size) + ") is too small to hold their descriptions");
  }
  if (n_kv * kMinKvBytes + n_tensors * kMinTensorInfoBytes > r.remaining()) {  // each term <= remaining
    return r.Error("the header claims " + std::to_string(n_kv) + " metadata entries and " +
                   std::to_string(n_tensors) + " tensors, more than the file (size " + std::to_string(size) +
                   ") can hold");
  }

  if (n_kv > gguf_format::kMaxMetadataEntries) {
    return OutOfRange(r.Msg("the header claims " + std::to_string(n_kv) +
                            " metadata entries, more than Meridian's limit of " +
                            std::to_string(gguf_format::kMaxMetadataEntries)));
  }
  if (n_tensors > gguf_format::kMaxTensors) {
    return OutOfRange(r.Msg("the header claims " + std::to_string(n_tensors) +
                            " tensors, more than Meridian's limit of " +
                            std::to_string(gguf_format::kMaxTensors)));
  }

  // Metadata.
  keys_.reserve(static_cast<size_t>(std::min(n_kv, gguf_format::kMaxReserve)));
  values_.reserve(static_cast<size_t>(std::min(n_kv, gguf_format::kMaxReserve)));
  for (uint64_t k = 0; k < n_kv; ++k) {
    const uint64_t entry_at = r.pos();
    std::string key;
    MERIDIAN_RETURN_IF_ERROR(r.ReadString(&key, "metadata key #" + std::to_string(k)));
    if (key.empty()) {
      return r.Error("metadata key #" + std::to_string(k) + " at offset " + std::to_string(entry_at) +
                     " is empty");
    }
    if (values_.count(key) != 0) {
      return r.Error("metadata key '" + key + "' appears twice (second at offset " +
                     std::to_string(entry_at) + ")");
    }
    uint32_t type_id = 0;
    MERIDIAN_RETURN_IF_ERROR(r.Read(&type_id, "the value type of key '" + key + "'"));
    GgufValue value;
    MERIDIAN_RETURN_IF_ERROR(ParseValue(r, key, type_id, &value));
    keys_.push_back(key);
    values_.emplace(std::move(key), std::move(value));
  }

  // Alignment of the data section and of every tensor.
  alignment_ = gguf_format::kDefaultAlignment;
  if (const GgufValue* a = Find("general.alignment")) {
    if (!a->is_integer() || a->type == GgufType::kBool) {
      return r.Error("general.alignment has type " + std::string(gguf_format::TypeName(a->type)) +
                     "; expected uint32");
    }
    const bool negative = gguf_format::IsSigned(a->type) && a->i < 0;
    if (negative || a->u == 0 || a->u > gguf_format::kMaxAlignment || !std::has_single_bit(a->u)) {
      return r.Error("general.alignment is " + (negative ? std::to_string(a->i) : std::to_string(a->u)) +
                     "; it must be a power of two between 1 and " +
                     std::to_string(gguf_format::kMaxAlignment));
    }
    alignment_ = static_cast<uint32_t>(a->u);
  }

  // Tensor infos.
  tensors_.reserve(static_cast<size_t>(std::min(n_tensors, gguf_format::kMaxReserve)));
  tensor_index_.reserve(static_cast<size_t>(std::min(n_tensors, gguf_format::kMaxReserve)));
  for (uint64_t t = 0; t < n_tensors; ++t) {
    const uint64_t info_at = r.pos();
    GgufTensorInfo info;
    MERIDIAN_RETURN_IF_ERROR(r.ReadString(&info.name, "the name of tensor #" + std::to_string(t)));
    const std::string label = "tensor '" + info.name + "'";
    if (tensor_index_.count(info.name) != 0) {
      return r.Error("tensor name '" + info.name + "' appears twice (second at offset " +
                     std::to_string(info_at) + ")");
    }
    uint32_t n_dims = 0;
    MERIDIAN_RETURN_IF_ERROR(r.Read(&n_dims, "the dimension count of " + label));
    if (n_dims < 1 || n_dims > gguf_format::kMaxDims) {
      return r.Error(label + " has " + std::to_string(n_dims) + " dimensions; GGUF tensors have 1 to " +
                     std::to_string(gguf_format::kMaxDims));
    }
    int64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t dim = 0;
      MERIDIAN_RETURN_IF_ERROR(r.Read(&dim, "dimension " + std::to_string(d) + " of " + label));
      if (dim == 0 || dim > static_cast<uint64_t>(INT64_MAX)) {
        return r.Error(label + " has dimension " + std::to_string(d) + " = " + std::to_string(dim) +
                       "; every dimension must be between 1 and 2^63-1");
      }
      const auto sdim = static_cast<int64_t>(dim);
      if (n_elements > INT64_MAX / sdim) {
        return r.Error(label + " has more than 2^63 elements; its dimensions are corrupt");
      }
      n_elements *= sdim;
      info.dims.push_back(sdim);
    }
    uint32_t type_id = 0;
    MERIDIAN_RETURN_IF_ERROR(r.Read(&type_id, "the type of " + label));
    const std::optional<DType> dtype = DTypeFromGgmlId(type_id);
    if (!dtype) {
      const char* ggml_name = gguf_format::GgmlTypeName(type_id);
      return Unimplemented(
          name_ + ": " + label + " has GGML type " + std::to_string(type_id) +
          (ggml_name ? std::string(" (") + ggml_name + ")" : std::string(" (unknown to Meridian)")) +
          ", which Meridian does not support; supported types are f32, f16, bf16 and q8_0");
    }
    info.dtype = *dtype;
    const std::optional<uint64_t> row_bytes = DTypeRowBytes(info.dtype, info.dims[0]);
    if (info.dims[0] % DTypeBlockElems(info.dtype) != 0) {
      return r.Error(label + " has " + std::to_string(info.dims[0]) +
                     " elements per row, which is not a multiple of the " + DTypeName(info.dtype) +
                     " block size " + std::to_string(DTypeBlockElems(info.dtype)));
    }
    const uint64_t rows = static_cast<uint64_t>(n_elements / info.dims[0]);
    if (!row_bytes || (*row_bytes != 0 && rows > UINT64_MAX / *row_bytes)) {
      return r.Error(label + " is larger than 2^64 bytes; its dimensions are corrupt");
    }
    info.n_bytes = *row_bytes * rows;
    MERIDIAN_RETURN_IF_ERROR(r.Read(&info.offset, "the data offset of " + label));
    if (info.offset % alignment_ != 0) {
      return r.Error(label + " has data offset " + std::to_string(info.offset) +
                     ", which is not a multiple of the alignment " + std::to_string(alignment_));
    }
    tensor_index_.emplace(info.name, tensors_.size());
    tensors_.push_back(std::move(info));
  }

  // Data section: starts at the next multiple of the alignment after the tensor infos.
  data_offset_ = (r.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (!tensors_.empty() && data_offset_ > size) {
    return r.Error("the tensor data section would start at offset " + std::to_string(data_offset_) +
                   ", past the end of the file (size " + std::to_string(size) + ")");
  }
  const uint64_t data_size = data_offset_ <= size ? size - data_offset_ : 0;
  for (const GgufTensorInfo& info : tensors_) {
    if (info.offset > data_size || info.n_bytes > data_size - info.offset) {
      const bool fits = info.offset <= UINT64_MAX - data_offset_;
      return r.Error("tensor '" + info.name + "' data " +
                     (fits ? Range(data_offset_ + info.offset, info.n_bytes)
                           : "[data-section offset " + std::to_string(info.offset) + ", " +
                                 std::to_string(info.n_bytes) + " bytes]") +
                     " runs past the end of the file (size " + std::to_string(size) + ")");
    }
  }
  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const GgufTensorInfo& info : tensors_) by_offset.push_back(&info);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const GgufTensorInfo& prev = *by_offset[k - 1];
    const GgufTensorInfo& cur = *by_offset[k];
    if (cur.offset < prev.offset + prev.n_bytes) {  // no overflow: both ranges lie inside the file
      return r.Error("tensors '" + prev.name + "' " + Range(data_offset_ + prev.offset, prev.n_bytes) +
                     " and '" + cur.name + "' " + Range(data_offset_ + cur.offset, cur.n_bytes) + " overlap");
    }
  }
  return Status::Ok();
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

namespace {

Status Missing(const std::string& file, std::string_view key) {
  return NotFound(file + ": metadata key '" + std::string(key) + "' is missing");
}

Status WrongType(const std::string& file, std::string_view key, const GgufValue& v, const char* wanted) {
  std::string type = gguf_format::TypeName(v.type);
  if (v.type == GgufType::kArray) type += std::string(" of ") + gguf_format::TypeName(v.array_type);
  return InvalidArgument(file + ": metadata key '" + std::string(key) + "' is a " + type + "; expected " +
                         wanted);
}

bool IsPlainInteger(const GgufValue& v) {
  return v.is_integer() && v.type != GgufType::kBool;
}

}  // namespace

Result<std::string> GgufFile::GetString(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(name_, key);
  if (v->type != GgufType::kString) return WrongType(name_, key, *v, "a string");
  return v->str;
}

Result<uint64_t> GgufFile::GetUint(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(name_, key);
  if (!IsPlainInteger(*v)) return WrongType(name_, key, *v, "an unsigned integer");
  if (gguf_format::IsSigned(v->type)) {
    if (v->i < 0) {
      return InvalidArgument(name_ + ": metadata key '" + std::string(key) + "' is " + std::to_string(v->i) +
                             "; expected a non-negative integer");
    }
    return static_cast<uint64_t>(v->i);
  }
  return v->u;
}

Result<int64_t> GgufFile::GetInt(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(name_, key);
  if (!IsPlainInteger(*v)) return WrongType(name_, key, *v, "an integer");
  if (gguf_format::IsUnsigned(v->type)) {
    if (v->u > static_cast<uint64_t>(INT64_MAX)) {
      return OutOfRange(name_ + ": metadata key '" + std::string(key) + "' is " + std::to_string(v->u) +
                        ", too large for a signed 64-bit integer");
    }
    return static_cast<int64_t>(v->u);
  }
  return v->i;
}

Result<double> GgufFile::GetFloat(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(name_, key);
  if (v->is_float()) return v->f;
  if (IsPlainInteger(*v)) {
    return gguf_format::IsSigned(v->type) ? static_cast<double>(v->i) : static_cast<double>(v->u);
  }
  return WrongType(name_, key, *v, "a number");
}

Result<bool> GgufFile::GetBool(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(name_, key);
  if (v->type != GgufType::kBool) return WrongType(name_, key, *v, "a bool");
  return v->u != 0;
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> GgufFile::TensorData(const GgufTensorInfo& info) const {
  // Infos from this file were validated; anything else is checked so a foreign info can never
  // produce a span outside the mapping.
  const uint64_t data_size = data_offset_ <= bytes_.size() ? bytes_.size() - data_offset_ : 0;
  if (info.offset > data_size || info.n_bytes > data_size - info.offset) return {};
  return bytes_.subspan(static_cast<size_t>(data_offset_ + info.offset), static_cast<size_t>(info.n_bytes));
}

void GgufFile::AdviseWillNeed() const {
  if (map_base_ == nullptr || data_offset_ >= map_size_) return;
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t start = data_offset_ / page * page;
  // Advice only: a failure changes nothing that matters, so the result is not reported.
  (void)madvise(static_cast<uint8_t*>(map_base_) + start, map_size_ - start, MADV_WILLNEED);
}

}  // namespace meridian::engine
