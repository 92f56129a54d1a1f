// GgufWriter: serializes metadata and tensor descriptions as GGUF v3, then streams each tensor's
// bytes from its filler into an aligned data section. Everything is checked before the first byte
// is written, and the file appears under its final name only once it is complete (tmp + rename).
#include "engine/gguf/gguf_writer.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <unordered_set>

#include "engine/gguf/gguf_format.h"

namespace meridian::engine {

namespace {

constexpr uint32_t kVersion = 3;

//! Appends little-endian encodings to a byte buffer (the host is little-endian, as GGUF is).
class Encoder {
 public:
  template <typename T>
  void Put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  void PutString(const std::string& s) {
    Put<uint64_t>(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  void PadTo(uint64_t alignment) {
    while (bytes_.size() % alignment != 0) bytes_.push_back(0);
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

static_assert(std::endian::native == std::endian::little, "GGUF files are written little-endian");

//! Checks that an integer held in a GgufValue fits the declared type.
bool FitsUnsigned(GgufType t, uint64_t v) {
  switch (t) {
    case GgufType::kUint8: return v <= UINT8_MAX;
    case GgufType::kUint16: return v <= UINT16_MAX;
    case GgufType::kUint32: return v <= UINT32_MAX;
    case GgufType::kBool: return v <= 1;
    default: return true;
  }
}

bool FitsSigned(GgufType t, int64_t v) {
  switch (t) {
    case GgufType::kInt8: return v >= INT8_MIN && v <= INT8_MAX;
    case GgufType::kInt16: return v >= INT16_MIN && v <= INT16_MAX;
    case GgufType::kInt32: return v >= INT32_MIN && v <= INT32_MAX;
    default: return true;
  }
}

//! Encodes one scalar of type `t` from an unsigned, signed or float source.
void PutScalar(Encoder& e, GgufType t, uint64_t u, int64_t i, double f) {
  switch (t) {
    case GgufType::kUint8: e.Put<uint8_t>(static_cast<uint8_t>(u)); break;
    case GgufType::kBool: e.Put<uint8_t>(static_cast<uint8_t>(u != 0)); break;
    case GgufType::kInt8: e.Put<int8_t>(static_cast<int8_t>(i)); break;
    case GgufType::kUint16: e.Put<uint16_t>(static_cast<uint16_t>(u)); break;
    case GgufType::kInt16: e.Put<int16_t>(static_cast<int16_t>(i)); break;
    case GgufType::kUint32: e.Put<uint32_t>(static_cast<uint32_t>(u)); break;
    case GgufType::kInt32: e.Put<int32_t>(static_cast<int32_t>(i)); break;
    case GgufType::kUint64: e.Put<uint64_t>(u); break;
    case GgufType::kInt64: e.Put<int64_t>(i); break;
    case GgufType::kFloat32: e.Put<float>(static_cast<float>(f)); break;
    case GgufType::kFloat64: e.Put<double>(f); break;
    case GgufType::kString:
    case GgufType::kArray: break;
  }
}

//! Validates and encodes the value of `key`; errors name the key.
Status EncodeValue(Encoder& e, const std::string& key, const GgufValue& v) {
  const uint32_t type_id = static_cast<uint32_t>(v.type);
  if (!gguf_format::IsValidType(type_id)) {
    return InvalidArgument("metadata key '" + key + "' has type " + std::to_string(type_id) +
                           ", not a GGUF type");
  }
  e.Put<uint32_t>(type_id);
  if (v.type == GgufType::kString) {
    e.PutString(v.str);
    return Status::Ok();
  }
  if (v.type != GgufType::kArray) {
    if ((gguf_format::IsUnsigned(v.type) || v.type == GgufType::kBool) && !FitsUnsigned(v.type, v.u)) {
      return InvalidArgument("metadata key '" + key + "': " + std::to_string(v.u) + " does not fit in a " +
                             gguf_format::TypeName(v.type));
    }
    if (gguf_format::IsSigned(v.type) && !FitsSigned(v.type, v.i)) {
      return InvalidArgument("metadata key '" + key + "': " + std::to_string(v.i) + " does not fit in a " +
                             gguf_format::TypeName(v.type));
    }
    PutScalar(e, v.type, v.u, v.i, v.f);
    return Status::Ok();
  }
  const uint32_t elem_id = static_cast<uint32_t>(v.array_type);
  if (!gguf_format::IsValidType(elem_id) || v.array_type == GgufType::kArray) {
    return InvalidArgument("metadata key '" + key + "': arrays may hold scalars or strings, not type " +
                           std::to_string(elem_id));
  }
  e.Put<uint32_t>(elem_id);
  if (v.array_type == GgufType::kString) {
    e.Put<uint64_t>(v.str_array.size());
    for (const std::string& s : v.str_array) e.PutString(s);
    return Status::Ok();
  }
  if (v.array_type == GgufType::kFloat32 || v.array_type == GgufType::kFloat64) {
    e.Put<uint64_t>(v.float_array.size());
    for (double f : v.float_array) PutScalar(e, v.array_type, 0, 0, f);
    return Status::Ok();
  }
  e.Put<uint64_t>(v.int_array.size());
  for (size_t k = 0; k < v.int_array.size(); ++k) {
    const int64_t x = v.int_array[k];
    // int_array holds every integer type widened (uint64 bit for bit), as the reader stores it.
    const bool fits = gguf_format::IsSigned(v.array_type) ? FitsSigned(v.array_type, x)
                      : v.array_type == GgufType::kUint64
                          ? true
                          : x >= 0 && FitsUnsigned(v.array_type, static_cast<uint64_t>(x));
    if (!fits) {
      return InvalidArgument("metadata key '" + key + "': element " + std::to_string(k) + " (" +
                             std::to_string(x) + ") does not fit in a " +
                             gguf_format::TypeName(v.array_type));
    }
    PutScalar(e, v.array_type, static_cast<uint64_t>(x), x, 0.0);
  }
  return Status::Ok();
}

//! Owns the temporary output file; removes it unless Commit() succeeded.
class TmpFile {
 public:
  TmpFile(std::string tmp, std::string final_path) : tmp_(std::move(tmp)), final_(std::move(final_path)) {}
  ~TmpFile() {
    if (f_ != nullptr) std::fclose(f_);
    if (!committed_) std::remove(tmp_.c_str());
  }
  TmpFile(const TmpFile&) = delete;
  TmpFile& operator=(const TmpFile&) = delete;

  Status Open() {
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (f_ == nullptr) return Errno("cannot create " + tmp_);
    std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
    return Status::Ok();
  }
  Status Write(const void* p, size_t n) {
    if (n != 0 && std::fwrite(p, 1, n, f_) != n) return Errno("cannot write " + tmp_);
    return Status::Ok();
  }
  Status Commit() {
    if (std::fflush(f_) != 0) return Errno("cannot write " + tmp_);
    if (fsync(fileno(f_)) != 0) return Errno("cannot sync " + tmp_);
    const int rc = std::fclose(f_);
    f_ = nullptr;
    if (rc != 0) return Errno("cannot close " + tmp_);
    if (std::rename(tmp_.c_str(), final_.c_str()) != 0)
      return Errno("cannot rename " + tmp_ + " to " + final_);
    committed_ = true;
    return Status::Ok();
  }

 private:
  static Status Errno(const std::string& what) {
    const int err = errno;
    return err == ENOSPC ? ResourceExhausted(what + ": " + std::strerror(err))
                         : InvalidArgument(what + ": " + std::strerror(err));
  }
  std::string tmp_;
  std::string final_;
  FILE* f_ = nullptr;
  bool committed_ = false;
};

}  // namespace

void GgufWriter::Set(const std::string& key, GgufValue value) {
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::SetString(const std::string& key, const std::string& value) {
  GgufValue v;
  v.type = GgufType::kString;
  v.str = value;
  Set(key, std::move(v));
}

void GgufWriter::SetUint32(const std::string& key, uint32_t value) {
  GgufValue v;
  v.type = GgufType::kUint32;
  v.u = value;
  v.i = value;
  Set(key, std::move(v));
}

void GgufWriter::SetInt32(const std::string& key, int32_t value) {
  GgufValue v;
  v.type = GgufType::kInt32;
  v.i = value;
  if (value >= 0) v.u = static_cast<uint64_t>(value);
  Set(key, std::move(v));
}

void GgufWriter::SetUint64(const std::string& key, uint64_t value) {
  GgufValue v;
  v.type = GgufType::kUint64;
  v.u = value;
  if (value <= static_cast<uint64_t>(INT64_MAX)) v.i = static_cast<int64_t>(value);
  Set(key, std::move(v));
}

void GgufWriter::SetFloat32(const std::string& key, float value) {
  GgufValue v;
  v.type = GgufType::kFloat32;
  v.f = value;
  Set(key, std::move(v));
}

void GgufWriter::SetBool(const std::string& key, bool value) {
  GgufValue v;
  v.type = GgufType::kBool;
  v.u = value ? 1 : 0;
  v.i = value ? 1 : 0;
  Set(key, std::move(v));
}

void GgufWriter::SetStringArray(const std::string& key, const std::vector<std::string>& values) {
  GgufValue v;
  v.type = GgufType::kArray;
  v.array_type = GgufType::kString;
  v.str_array = values;
  v.array_size = values.size();
  Set(key, std::move(v));
}

void GgufWriter::SetFloat32Array(const std::string& key, const std::vector<float>& values) {
  GgufValue v;
  v.type = GgufType::kArray;
  v.array_type = GgufType::kFloat32;
  v.float_array.assign(values.begin(), values.end());
  v.array_size = values.size();
  Set(key, std::move(v));
}

void GgufWriter::SetInt32Array(const std::string& key, const std::vector<int32_t>& values) {
  GgufValue v;
  v.type = GgufType::kArray;
  v.array_type = GgufType::kInt32;
  v.int_array.assign(values.begin(), values.end());
  v.array_size = values.size();
  Set(key, std::move(v));
}

void GgufWriter::SetValue(const std::string& key, const GgufValue& value) {
  Set(key, value);
}

void GgufWriter::AddTensor(const std::string& name, DType dtype, std::vector<int64_t> dims,
                           TensorFiller fill) {
  tensors_.push_back(TensorEntry{name, dtype, std::move(dims), std::move(fill), std::nullopt});
}

void GgufWriter::AddTensorBytes(const std::string& name, DType dtype, std::vector<int64_t> dims,
                                std::span<const uint8_t> bytes) {
  TensorFiller fill = [bytes](std::span<uint8_t> out) {
    std::memcpy(out.data(), bytes.data(), out.size());  // sizes were checked equal before the call
    return Status::Ok();
  };
  tensors_.push_back(TensorEntry{name, dtype, std::move(dims), std::move(fill), bytes.size()});
}

Status GgufWriter::Write(const std::string& path) {
  const std::string where = path + ": ";
  if (alignment_ == 0 || alignment_ > gguf_format::kMaxAlignment || !std::has_single_bit(alignment_)) {
    return InvalidArgument(where + "alignment " + std::to_string(alignment_) +
                           " is not a power of two between 1 and " +
                           std::to_string(gguf_format::kMaxAlignment));
  }

  // Metadata, with general.alignment added when it differs from the default.
  const GgufValue* explicit_alignment = nullptr;
  for (const auto& [key, value] : metadata_) {
    if (key == "general.alignment") explicit_alignment = &value;
  }
  if (explicit_alignment != nullptr) {
    const GgufValue& a = *explicit_alignment;
    if (a.type != GgufType::kUint32 || a.u != alignment_) {
      return InvalidArgument(where + "general.alignment is set in the metadata but is not the uint32 " +
                             std::to_string(alignment_) +
                             " this writer aligns to; pass the alignment to the "
                             "GgufWriter constructor instead");
    }
  }
  const bool add_alignment = explicit_alignment == nullptr && alignment_ != gguf_format::kDefaultAlignment;

  // Tensor layout: every tensor starts at a multiple of the alignment inside the data section.
  std::vector<uint64_t> sizes(tensors_.size());
  std::vector<uint64_t> offsets(tensors_.size());
  std::unordered_set<std::string_view> names;
  uint64_t data_size = 0;
  for (size_t t = 0; t < tensors_.size(); ++t) {
    const TensorEntry& te = tensors_[t];
    const std::string label = where + "tensor '" + te.name + "'";
    if (!names.insert(te.name).second) return InvalidArgument(label + " is added twice");
    if (te.dims.empty() || te.dims.size() > gguf_format::kMaxDims) {
      return InvalidArgument(label + " has " + std::to_string(te.dims.size()) +
                             " dimensions; GGUF allows 1 to 4");
    }
    uint64_t rows = 1;
    for (size_t d = 0; d < te.dims.size(); ++d) {
      if (te.dims[d] <= 0) {
        return InvalidArgument(label + " has dimension " + std::to_string(d) + " = " +
                               std::to_string(te.dims[d]) + "; dimensions must be positive");
      }
      if (d > 0) {
        if (rows > static_cast<uint64_t>(INT64_MAX) / static_cast<uint64_t>(te.dims[d])) {
          return InvalidArgument(label + " has more than 2^63 elements");
        }
        rows *= static_cast<uint64_t>(te.dims[d]);
      }
    }
    if (!DTypeFromGgmlId(static_cast<uint32_t>(te.dtype))) {
      return InvalidArgument(label + " has dtype " + std::to_string(static_cast<uint32_t>(te.dtype)) +
                             ", which is not a type Meridian writes (f32, f16, bf16, q8_0)");
    }
    if (te.dims[0] % DTypeBlockElems(te.dtype) != 0) {
      return InvalidArgument(label + " has " + std::to_string(te.dims[0]) +
                             " elements per row, not a multiple of the " + DTypeName(te.dtype) +
                             " block size " + std::to_string(DTypeBlockElems(te.dtype)));
    }
    const std::optional<uint64_t> row_bytes = DTypeRowBytes(te.dtype, te.dims[0]);
    if (!row_bytes || rows > static_cast<uint64_t>(INT64_MAX) / static_cast<uint64_t>(te.dims[0]) ||
        (*row_bytes != 0 && rows > (UINT64_MAX / 2) / *row_bytes)) {
      return InvalidArgument(label + " is too large");
    }
    sizes[t] = *row_bytes * rows;
    if (te.expected_bytes && *te.expected_bytes != sizes[t]) {
      return InvalidArgument(label + " was given " + std::to_string(*te.expected_bytes) +
                             " bytes, but its shape and " + DTypeName(te.dtype) + " type need " +
                             std::to_string(sizes[t]));
    }
    if (!te.fill) return InvalidArgument(label + " has no filler");
    offsets[t] = data_size;
    const uint64_t padded = (sizes[t] + alignment_ - 1) / alignment_ * alignment_;
    if (padded > UINT64_MAX / 2 - data_size)
      return InvalidArgument(where + "the tensors add up to more than 2^63 bytes");
    data_size += padded;
  }

  // Header, metadata and tensor infos, encoded in memory first so every error comes before I/O.
  Encoder e;
  e.Put<uint32_t>(0x46554747u);  // "GGUF"
  e.Put<uint32_t>(kVersion);
  e.Put<uint64_t>(tensors_.size());
  e.Put<uint64_t>(metadata_.size() + (add_alignment ? 1 : 0));
  for (const auto& [key, value] : metadata_) {
    if (key.empty()) return InvalidArgument(where + "a metadata key is empty");
    e.PutString(key);
    Status s = EncodeValue(e, key, value);
    if (!s.ok()) return s.WithContext(path);
  }
  if (add_alignment) {
    e.PutString("general.alignment");
    e.Put<uint32_t>(static_cast<uint32_t>(GgufType::kUint32));
    e.Put<uint32_t>(alignment_);
  }
  for (size_t t = 0; t < tensors_.size(); ++t) {
    const TensorEntry& te = tensors_[t];
    e.PutString(te.name);
    e.Put<uint32_t>(static_cast<uint32_t>(te.dims.size()));
    for (int64_t d : te.dims) e.Put<uint64_t>(static_cast<uint64_t>(d));
    e.Put<uint32_t>(static_cast<uint32_t>(te.dtype));  // DType values are the GGML type ids
    e.Put<uint64_t>(offsets[t]);
  }
  e.PadTo(alignment_);

  TmpFile out(path + ".tmp", path);
  MERIDIAN_RETURN_IF_ERROR(out.Open());
  MERIDIAN_RETURN_IF_ERROR(out.Write(e.bytes().data(), e.bytes().size()));
  std::vector<uint8_t>().swap(e.bytes());

  // Tensor data: one buffer, refilled per tensor, zeroed so an incomplete filler writes zeros.
  std::vector<uint8_t> buffer;
  const std::vector<uint8_t> zeros(std::min<uint64_t>(alignment_, 1 << 16), 0);
  for (size_t t = 0; t < tensors_.size(); ++t) {
    const TensorEntry& te = tensors_[t];
    const std::string label = "tensor '" + te.name + "'";
    Status filled;
    try {
      buffer.assign(static_cast<size_t>(sizes[t]), 0);
      filled = te.fill(std::span<uint8_t>(buffer.data(), buffer.size()));
    } catch (const std::bad_alloc&) {
      return ResourceExhausted(where + "out of memory for the " + std::to_string(sizes[t]) + " bytes of " +
                               label);
    } catch (const std::exception& ex) {
      return Internal(where + "the filler of " + label + " threw: " + ex.what());
    }
    if (!filled.ok()) return filled.WithContext(where + label);
    MERIDIAN_RETURN_IF_ERROR(out.Write(buffer.data(), buffer.size()));
    for (uint64_t pad = (alignment_ - sizes[t] % alignment_) % alignment_; pad > 0;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(pad, zeros.size()));
      MERIDIAN_RETURN_IF_ERROR(out.Write(zeros.data(), n));
      pad -= n;
    }
  }
  return out.Commit();
}

}  // namespace meridian::engine
