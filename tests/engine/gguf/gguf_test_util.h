// Test helpers for GGUF: a byte builder that writes the format by hand (independently of
// GgufWriter, so reader and writer are each checked against the spec) and temp-file utilities.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace meridian::engine::testing_util {

//! Appends GGUF primitives in little-endian order.
class Bytes {
 public:
  template <typename T>
  Bytes& Put(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    data.insert(data.end(), b, b + sizeof(T));
    return *this;
  }
  Bytes& U8(uint8_t v) { return Put(v); }
  Bytes& U32(uint32_t v) { return Put(v); }
  Bytes& U64(uint64_t v) { return Put(v); }
  Bytes& Str(const std::string& s) {
    U64(s.size());
    data.insert(data.end(), s.begin(), s.end());
    return *this;
  }
  //! GGUF header: magic, version, tensor count, KV count.
  Bytes& Header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    data.insert(data.end(), {'G', 'G', 'U', 'F'});
    return U32(version).U64(n_tensors).U64(n_kv);
  }
  //! A key with a uint32 value.
  Bytes& KvU32(const std::string& key, uint32_t v) { return Str(key).U32(4).U32(v); }
  Bytes& KvStr(const std::string& key, const std::string& v) { return Str(key).U32(8).Str(v); }
  //! A tensor info: name, dims, GGML type, data-section offset.
  Bytes& TensorInfo(const std::string& name, const std::vector<uint64_t>& dims, uint32_t type,
                    uint64_t offset) {
    Str(name).U32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) U64(d);
    return U32(type).U64(offset);
  }
  Bytes& PadTo(size_t alignment) {
    while (data.size() % alignment != 0) data.push_back(0);
    return *this;
  }
  Bytes& Fill(size_t n, uint8_t v) {
    data.insert(data.end(), n, v);
    return *this;
  }

  std::vector<uint8_t> data;
};

//! A fresh empty directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("meridian_gguf_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteAll(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace meridian::engine::testing_util
