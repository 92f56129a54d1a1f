// libFuzzer target for the GGUF reader: parses the input, then touches every metadata value and
// every byte of every tensor, and checks the invariants a successful parse promises (tensor data
// inside the file, aligned, not overlapping; lookups consistent). A broken invariant aborts.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "engine/gguf/gguf_file.h"

namespace {

using meridian::engine::GgufFile;
using meridian::engine::GgufTensorInfo;
using meridian::engine::GgufValue;

volatile uint64_t g_sink = 0;

void Check(bool ok) {
  if (!ok) std::abort();
}

void TouchValue(const GgufFile& file, const std::string& key, const GgufValue& v) {
  uint64_t h = static_cast<uint64_t>(v.type) + v.u + static_cast<uint64_t>(v.i) + v.str.size() + v.array_size;
  for (const std::string& s : v.str_array) h += s.size() + (s.empty() ? 0 : static_cast<uint8_t>(s.back()));
  for (int64_t x : v.int_array) h += static_cast<uint64_t>(x);
  for (double d : v.float_array) h += d == d ? 1 : 2;
  if (v.type == meridian::engine::GgufType::kArray) {
    Check(v.array_size == v.str_array.size() + v.int_array.size() + v.float_array.size());
  }
  h += v.is_integer() + v.is_float();
  // Every getter on every key: each returns a value or an error, never crashes.
  h += file.GetString(key).ok() + file.GetUint(key).ok() + file.GetInt(key).ok() + file.GetFloat(key).ok() +
       file.GetBool(key).ok();
  g_sink = g_sink + h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = GgufFile::Parse(std::span<const uint8_t>(data, size), "fuzz.gguf");
  if (!parsed.ok()) {
    Check(!parsed.status().message().empty());
    return 0;
  }
  const GgufFile& file = **parsed;
  Check(file.version() == 2 || file.version() == 3);
  Check(file.alignment() != 0 && (file.alignment() & (file.alignment() - 1)) == 0);
  Check(file.data_offset() % file.alignment() == 0);

  for (const std::string& key : file.keys()) {
    const GgufValue* v = file.Find(key);
    Check(v != nullptr);
    TouchValue(file, key, *v);
  }

  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const GgufTensorInfo& info : file.tensors()) {
    Check(file.FindTensor(info.name) == &info);
    Check(!info.dims.empty() && info.dims.size() <= 4 && info.n_elements() > 0);
    Check(info.offset % file.alignment() == 0);
    std::span<const uint8_t> bytes = file.TensorData(info);
    Check(bytes.size() == info.n_bytes);
    if (!bytes.empty()) {
      Check(bytes.data() >= data && bytes.data() + bytes.size() <= data + size);
    }
    uint64_t sum = 0;
    for (uint8_t b : bytes) sum += b;
    g_sink = g_sink + sum;
    ranges.emplace_back(info.offset, info.n_bytes);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t k = 1; k < ranges.size(); ++k)
    Check(ranges[k].first >= ranges[k - 1].first + ranges[k - 1].second);
  return 0;
}
