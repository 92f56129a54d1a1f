// Safetensors reader (header validation, sharded directory view) and streaming writer.
#include "engine/hf/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace meridian::engine {
namespace {

using nlohmann::json;

//! The reference implementation refuses headers above 100 MB; so do we (a header that large
//! would only be an attempt to make the reader allocate).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr size_t kMaxRank = 8;
//! Index files are small (a few hundred kB for the largest models).
constexpr uint64_t kMaxIndexBytes = 64ull << 20;

//! Bytes per element of every dtype the safetensors format defines; 0 for an unknown name.
uint64_t ElementBytes(const std::string& dtype) {
  static const std::map<std::string, uint64_t, std::less<>> kSizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},     {"U32", 4},
      {"F32", 4},  {"I64", 8}, {"U64", 8}, {"F64", 8},
  };
  auto it = kSizes.find(dtype);
  return it == kSizes.end() ? 0 : it->second;
}

std::optional<DType> ReadableDType(const std::string& dtype) {
  if (dtype == "F32") return DType::kF32;
  if (dtype == "F16") return DType::kF16;
  if (dtype == "BF16") return DType::kBF16;
  return std::nullopt;
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

//! A non-negative JSON integer, or nullopt.
std::optional<uint64_t> JsonUint(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) {
    int64_t x = v.get<int64_t>();
    if (x >= 0) return static_cast<uint64_t>(x);
  }
  return std::nullopt;
}

Result<std::string> ReadSmallFile(const std::string& path, uint64_t limit) {
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return NotFound(path + ": " + ec.message());
  if (size > limit)
    return DataLoss(path + ": " + std::to_string(size) + " bytes is too large for an index file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in.good() && !in.eof()) return DataLoss(path + ": read error");
  return ss.str();
}

}  // namespace

int64_t SafetensorsTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_base_ != nullptr) munmap(map_base_, map_size_);
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return Status(err == ENOENT ? StatusCode::kNotFound : StatusCode::kInvalidArgument,
                  path + ": cannot open: " + std::strerror(err));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument(path + ": not a regular file");
  }
  auto file = std::unique_ptr<SafetensorsFile>(new SafetensorsFile());
  file->name_ = path;
  if (st.st_size > 0) {
    void* base = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (base == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return Internal(path + ": mmap failed: " + std::strerror(err));
    }
    file->map_base_ = base;
    file->map_size_ = static_cast<size_t>(st.st_size);
    file->bytes_ = {static_cast<const uint8_t*>(base), file->map_size_};
  }
  ::close(fd);
  MERIDIAN_RETURN_IF_ERROR(file->ParseAll());
  return file;
}

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Parse(std::span<const uint8_t> bytes,
                                                                std::string name) {
  auto file = std::unique_ptr<SafetensorsFile>(new SafetensorsFile());
  file->name_ = std::move(name);
  file->bytes_ = bytes;
  MERIDIAN_RETURN_IF_ERROR(file->ParseAll());
  return file;
}

Status SafetensorsFile::ParseAll() {
  const std::string where = name_ + ": ";
  if (bytes_.size() < 8) {
    return DataLoss(where + "file is " + std::to_string(bytes_.size()) +
                    " bytes, shorter than the 8-byte header length (truncated or not a safetensors file)");
  }
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes_[static_cast<size_t>(i)];
  if (header_len > kMaxHeaderBytes) {
    return DataLoss(where + "header length " + std::to_string(header_len) + " exceeds the 100 MB limit");
  }
  if (header_len > bytes_.size() - 8) {
    return DataLoss(where + "header length " + std::to_string(header_len) + " runs past the end of the " +
                    std::to_string(bytes_.size()) + "-byte file (truncated?)");
  }
  const auto* header_begin = reinterpret_cast<const char*>(bytes_.data() + 8);
  const uint64_t data_begin = 8 + header_len;
  const uint64_t data_size = bytes_.size() - data_begin;

  json header;
  try {
    header = json::parse(header_begin, header_begin + header_len, nullptr, /*allow_exceptions=*/false);
  } catch (const std::exception& e) {
    return DataLoss(where + "header is not valid JSON: " + e.what());
  }
  if (header.is_discarded()) return DataLoss(where + "header is not valid JSON");
  if (!header.is_object()) return DataLoss(where + "header is not a JSON object");

  try {
    for (const auto& [key, value] : header.items()) {
      if (key == "__metadata__") {
        if (!value.is_object()) return DataLoss(where + "__metadata__ is not an object");
        for (const auto& [mk, mv] : value.items()) {
          if (!mv.is_string()) return DataLoss(where + "__metadata__ value '" + mk + "' is not a string");
          metadata_[mk] = mv.get<std::string>();
        }
        continue;
      }
      const std::string what = where + "tensor '" + key + "'";
      if (!value.is_object()) return DataLoss(what + ": entry is not an object");
      auto dt = value.find("dtype");
      auto sh = value.find("shape");
      auto off = value.find("data_offsets");
      if (dt == value.end() || !dt->is_string()) return DataLoss(what + ": missing string 'dtype'");
      if (sh == value.end() || !sh->is_array()) return DataLoss(what + ": missing array 'shape'");
      if (off == value.end() || !off->is_array() || off->size() != 2) {
        return DataLoss(what + ": 'data_offsets' must be an array [begin, end]");
      }
      SafetensorsTensor t;
      t.name = key;
      t.dtype_name = dt->get<std::string>();
      const uint64_t elem = ElementBytes(t.dtype_name);
      if (elem == 0) {
        return Unimplemented(what + " has dtype '" + t.dtype_name +
                             "', which is not a safetensors dtype this reader knows");
      }
      t.dtype = ReadableDType(t.dtype_name);
      if (sh->size() > kMaxRank) return DataLoss(what + ": shape has more than 8 dimensions");
      uint64_t n = 1;
      for (const json& d : *sh) {
        std::optional<uint64_t> v = JsonUint(d);
        if (!v || *v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return DataLoss(what + ": shape entries must be non-negative integers");
        }
        t.shape.push_back(static_cast<int64_t>(*v));
        if (*v != 0 && n > std::numeric_limits<uint64_t>::max() / 8 / *v) {
          return DataLoss(what + ": shape " + ShapeText(t.shape) + " overflows");
        }
        n *= *v;
      }
      std::optional<uint64_t> begin = JsonUint((*off)[0]);
      std::optional<uint64_t> end = JsonUint((*off)[1]);
      if (!begin || !end) return DataLoss(what + ": data_offsets must be non-negative integers");
      if (*begin > *end) {
        return DataLoss(what + ": data_offsets [" + std::to_string(*begin) + ", " + std::to_string(*end) +
                        "] end before they begin");
      }
      if (*end > data_size) {
        return DataLoss(what + ": data_offsets end " + std::to_string(*end) + " is past the " +
                        std::to_string(data_size) + "-byte data section (truncated file?)");
      }
      if (*end - *begin != n * elem) {
        return DataLoss(what + ": " + std::to_string(*end - *begin) + " bytes for shape " +
                        ShapeText(t.shape) + " of " + t.dtype_name + ", which needs " +
                        std::to_string(n * elem));
      }
      t.data = bytes_.subspan(data_begin + *begin, *end - *begin);
      tensors_.push_back(std::move(t));
    }
  } catch (const std::exception& e) {
    return DataLoss(where + "malformed header: " + e.what());
  }

  std::sort(tensors_.begin(), tensors_.end(), [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
    if (a.data.data() != b.data.data()) return a.data.data() < b.data.data();
    return a.data.size() < b.data.size();
  });
  for (size_t i = 1; i < tensors_.size(); ++i) {
    const SafetensorsTensor& prev = tensors_[i - 1];
    const SafetensorsTensor& cur = tensors_[i];
    if (cur.data.data() < prev.data.data() + prev.data.size()) {
      return DataLoss(where + "tensors '" + prev.name + "' and '" + cur.name +
                      "' overlap in the data section");
    }
  }
  for (size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].name, i);
  return Status::Ok();
}

const SafetensorsTensor* SafetensorsFile::Find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

Result<const SafetensorsTensor*> CheckReadable(const SafetensorsTensor* t, std::string_view name,
                                               const std::string& where) {
  if (t == nullptr) return NotFound(where + ": tensor '" + std::string(name) + "' is missing");
  if (!t->dtype) {
    return Unimplemented(where + ": tensor '" + t->name + "' has dtype " + t->dtype_name +
                         "; Meridian reads F32, F16 and BF16 weights");
  }
  return t;
}

}  // namespace

Result<const SafetensorsTensor*> SafetensorsFile::Get(std::string_view name) const {
  return CheckReadable(Find(name), name, name_);
}

Result<std::unique_ptr<SafetensorsModel>> SafetensorsModel::Open(const std::string& dir) {
  namespace fs = std::filesystem;
  auto model = std::unique_ptr<SafetensorsModel>(new SafetensorsModel());
  model->dir_ = dir;
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  const fs::path single_path = fs::path(dir) / "model.safetensors";
  std::error_code ec;

  // tensor name -> shard file, from the index (empty for a single file).
  std::map<std::string, std::string> weight_map;
  std::vector<std::string> shard_names;
  if (fs::exists(index_path, ec)) {
    MERIDIAN_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(index_path.string(), kMaxIndexBytes));
    const std::string where = index_path.string() + ": ";
    json index = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (index.is_discarded() || !index.is_object()) return DataLoss(where + "not a JSON object");
    auto wm = index.find("weight_map");
    if (wm == index.end() || !wm->is_object()) return DataLoss(where + "missing object 'weight_map'");
    std::set<std::string> unique;
    for (const auto& [tensor, file] : wm->items()) {
      if (!file.is_string()) return DataLoss(where + "weight_map entry '" + tensor + "' is not a string");
      std::string f = file.get<std::string>();
      if (f.empty() || f.find('/') != std::string::npos || f.find('\\') != std::string::npos || f == "." ||
          f == ".." || f.find('\0') != std::string::npos) {
        return DataLoss(where + "weight_map entry '" + tensor + "' names '" + f +
                        "', which is not a file name inside the model directory");
      }
      weight_map[tensor] = f;
      unique.insert(f);
    }
    if (unique.empty()) return DataLoss(where + "weight_map is empty");
    shard_names.assign(unique.begin(), unique.end());
  } else if (fs::exists(single_path, ec)) {
    shard_names.push_back("model.safetensors");
  } else {
    return NotFound(dir +
                    ": no model.safetensors or model.safetensors.index.json (Meridian reads safetensors "
                    "checkpoints; PyTorch .bin files must be converted first)");
  }

  std::map<std::string, const SafetensorsFile*> by_name;
  for (const std::string& shard : shard_names) {
    MERIDIAN_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open((fs::path(dir) / shard).string()));
    by_name[shard] = file.get();
    model->shards_.push_back(std::move(file));
  }
  for (const auto& shard : model->shards_) {
    for (const SafetensorsTensor& t : shard->tensors()) {
      auto [it, inserted] = model->index_.emplace(t.name, &t);
      if (!inserted) {
        return DataLoss(dir + ": tensor '" + t.name + "' appears in two shards (" + it->second->name +
                        " and " + shard->name() + ")");
      }
    }
  }
  for (const auto& [tensor, file] : weight_map) {
    if (by_name.at(file)->Find(tensor) == nullptr) {
      return DataLoss(index_path.string() + ": says tensor '" + tensor + "' is in " + file +
                      ", which does not hold it");
    }
  }
  return model;
}

const SafetensorsTensor* SafetensorsModel::Find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

Result<const SafetensorsTensor*> SafetensorsModel::Get(std::string_view name) const {
  return CheckReadable(Find(name), name, dir_);
}

std::vector<std::string> SafetensorsModel::tensor_names() const {
  std::vector<std::string> names;
  names.reserve(index_.size());
  for (const auto& [name, t] : index_) names.emplace_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

// ---- writer ----

const char* SafetensorsDTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kQ8_0: return nullptr;
  }
  return nullptr;
}

void SafetensorsWriter::AddTensor(const std::string& name, DType dtype, std::vector<int64_t> shape,
                                  Filler fill) {
  entries_.push_back({name, dtype, std::move(shape), std::move(fill), std::nullopt});
}

void SafetensorsWriter::AddTensorBytes(const std::string& name, DType dtype, std::vector<int64_t> shape,
                                       std::span<const uint8_t> bytes) {
  Filler fill = [bytes](std::span<uint8_t> out) {
    std::memcpy(out.data(), bytes.data(), out.size());
    return Status::Ok();
  };
  entries_.push_back({name, dtype, std::move(shape), std::move(fill), bytes.size()});
}

Status SafetensorsWriter::Write(const std::string& path) {
  const std::string where = path + ": ";
  json header = json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::vector<uint64_t> sizes;
  uint64_t offset = 0;
  for (const Entry& e : entries_) {
    const std::string what = where + "tensor '" + e.name + "'";
    if (e.name == "__metadata__" || header.contains(e.name)) {
      return InvalidArgument(what + " is added twice or uses a reserved name");
    }
    const char* dt = SafetensorsDTypeName(e.dtype);
    if (dt == nullptr) {
      return InvalidArgument(what + ": safetensors has no " + DTypeName(e.dtype) +
                             " dtype (use f32, f16 or bf16)");
    }
    uint64_t n = 1;
    for (int64_t d : e.shape) {
      if (d < 0 || (d != 0 && n > (uint64_t{1} << 60) / static_cast<uint64_t>(d))) {
        return InvalidArgument(what + ": bad shape " + ShapeText(e.shape));
      }
      n *= static_cast<uint64_t>(d);
    }
    const uint64_t bytes = n * static_cast<uint64_t>(DTypeBlockBytes(e.dtype));
    if (e.given_bytes && *e.given_bytes != bytes) {
      return InvalidArgument(what + ": given " + std::to_string(*e.given_bytes) + " bytes, shape " +
                             ShapeText(e.shape) + " needs " + std::to_string(bytes));
    }
    if (!e.fill) return InvalidArgument(what + " has no filler");
    header[e.name] = {{"dtype", dt}, {"shape", e.shape}, {"data_offsets", {offset, offset + bytes}}};
    sizes.push_back(bytes);
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return InvalidArgument(where + "cannot create " + tmp + ": " + std::strerror(errno));
  auto fail = [&](Status s) {
    std::fclose(f);
    std::remove(tmp.c_str());
    return s;
  };
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  if (std::fwrite(len, 1, 8, f) != 8 || std::fwrite(text.data(), 1, text.size(), f) != text.size()) {
    return fail(Internal(where + "write failed: " + std::strerror(errno)));
  }
  std::vector<uint8_t> buffer;
  for (size_t i = 0; i < entries_.size(); ++i) {
    buffer.assign(sizes[i], 0);
    Status s = entries_[i].fill(std::span<uint8_t>(buffer));
    if (!s.ok()) return fail(s.WithContext(where + "tensor '" + entries_[i].name + "'"));
    if (std::fwrite(buffer.data(), 1, buffer.size(), f) != buffer.size()) {
      return fail(Internal(where + "write failed: " + std::strerror(errno)));
    }
  }
  if (std::fflush(f) != 0) return fail(Internal(where + "write failed: " + std::strerror(errno)));
  if (std::fclose(f) != 0) {
    std::remove(tmp.c_str());
    return Internal(where + "close failed: " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Internal(where + "rename failed: " + std::strerror(errno));
  }
  return Status::Ok();
}

Status WriteSafetensors(const std::string& path, std::span<const SafetensorsInput> tensors,
                        const std::map<std::string, std::string>& metadata) {
  SafetensorsWriter w;
  for (const auto& [k, v] : metadata) w.SetMetadata(k, v);
  for (const SafetensorsInput& t : tensors) w.AddTensorBytes(t.name, t.dtype, t.shape, t.bytes);
  return w.Write(path);
}

}  // namespace meridian::engine
