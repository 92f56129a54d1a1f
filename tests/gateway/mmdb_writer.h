// MmdbWriter: writes small MaxMind DB files (format v2.0, https://maxmind.github.io/MaxMind-DB/)
// for the GeoIP tests: Debian ships the reader (libmaxminddb) but no writer. Header-only because
// the test build compiles only *_test.cpp files of this folder.
//
// The file is: the binary search tree (node_count nodes of two 24-bit big-endian records; a
// record < node_count is a node, == node_count is "no data", > node_count points into the data
// section at record - node_count - 16), 16 zero bytes, the data section, then
// "\xAB\xCD\xEFMaxMind.com" and the metadata map. IPv4 networks in an IPv6 tree sit under
// ::/96 (where libmaxminddb looks IPv4 addresses up).
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstring>
#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace meridian::gateway::testing {

//! A value of the MMDB data section (the subset the tests need).
struct MmdbValue {
  enum class Kind { kString, kDouble, kUint16, kUint32, kUint64, kMap, kArray, kBool };
  Kind kind = Kind::kString;
  std::string text;
  double number = 0;
  uint64_t uint = 0;
  std::vector<std::string> keys;  //!< a map's keys, in order (std::pair needs a complete MmdbValue)
  std::vector<MmdbValue> items;   //!< a map's values, or an array's items

  static MmdbValue String(std::string s) { MmdbValue v; v.kind = Kind::kString; v.text = std::move(s); return v; }
  static MmdbValue Double(double d) { MmdbValue v; v.kind = Kind::kDouble; v.number = d; return v; }
  static MmdbValue Uint16(uint16_t u) { MmdbValue v; v.kind = Kind::kUint16; v.uint = u; return v; }
  static MmdbValue Uint32(uint32_t u) { MmdbValue v; v.kind = Kind::kUint32; v.uint = u; return v; }
  static MmdbValue Uint64(uint64_t u) { MmdbValue v; v.kind = Kind::kUint64; v.uint = u; return v; }
  static MmdbValue Bool(bool b) { MmdbValue v; v.kind = Kind::kBool; v.uint = b ? 1 : 0; return v; }
  static MmdbValue Map(std::initializer_list<std::pair<const char*, MmdbValue>> m);
  static MmdbValue Array(std::vector<MmdbValue> a) { MmdbValue v; v.kind = Kind::kArray; v.items = std::move(a); return v; }
};

inline MmdbValue MmdbValue::Map(std::initializer_list<std::pair<const char*, MmdbValue>> m) {
  MmdbValue v;
  v.kind = Kind::kMap;
  for (const auto& [key, value] : m) {
    v.keys.emplace_back(key);
    v.items.push_back(value);
  }
  return v;
}

//! A GeoLite2-City shaped record: {"country":{"iso_code":..},"location":{"latitude":..,"longitude":..}}.
inline MmdbValue CityRecord(const std::string& iso_code, double latitude, double longitude) {
  return MmdbValue::Map({{"country", MmdbValue::Map({{"iso_code", MmdbValue::String(iso_code)}})},
                         {"location", MmdbValue::Map({{"latitude", MmdbValue::Double(latitude)},
                                                      {"longitude", MmdbValue::Double(longitude)}})}});
}

//! Builds the tree in memory, then writes the file. Insert less specific networks before the
//! more specific ones inside them (a later insert overwrites the records it covers).
class MmdbWriter {
 public:
  //! ip_version 6 (IPv4 under ::/96) or 4.
  explicit MmdbWriter(int ip_version = 6, std::string database_type = "Meridian-Test-City")
      : ip_version_(ip_version), database_type_(std::move(database_type)) {
    nodes_.push_back({});
  }

  //! Inserts "a.b.c.d/n" or "x:y::/n"; throws std::invalid_argument on a bad network.
  void Insert(const std::string& network, MmdbValue value) {
    size_t slash = network.find('/');
    if (slash == std::string::npos) throw std::invalid_argument("network without /prefix: " + network);
    std::string host = network.substr(0, slash);
    int prefix = std::stoi(network.substr(slash + 1));
    std::array<uint8_t, 16> bytes{};
    int bits;
    if (host.find(':') == std::string::npos) {
      if (inet_pton(AF_INET, host.c_str(), bytes.data() + 12) != 1 || prefix < 0 || prefix > 32) {
        throw std::invalid_argument("bad IPv4 network: " + network);
      }
      bits = ip_version_ == 6 ? 96 + prefix : prefix;
    } else {
      if (ip_version_ != 6) throw std::invalid_argument("IPv6 network in an IPv4 database: " + network);
      if (inet_pton(AF_INET6, host.c_str(), bytes.data()) != 1 || prefix < 0 || prefix > 128) {
        throw std::invalid_argument("bad IPv6 network: " + network);
      }
      bits = prefix;
    }
    if (bits == 0) throw std::invalid_argument("a /0 network has no record to hold it: " + network);
    const int first_bit = ip_version_ == 6 ? 0 : 96;  // an IPv4 tree holds the last 32 bits only
    values_.push_back(std::move(value));
    const Record data{Record::kData, values_.size() - 1};
    size_t node = 0;
    for (int depth = 0; depth < bits; ++depth) {
      const int bit_index = first_bit + depth;
      const int bit = (bytes[bit_index / 8] >> (7 - bit_index % 8)) & 1;
      Record& record = nodes_[node][bit];
      if (depth + 1 == bits) {
        record = data;
        break;
      }
      if (record.kind != Record::kNode) {  // empty, or a shorter network's data: split it
        Record inherited = record;
        nodes_.push_back({inherited, inherited});
        nodes_[node][bit] = Record{Record::kNode, nodes_.size() - 1};
      }
      node = nodes_[node][bit].index;
    }
  }

  //! The whole file.
  std::string Build() const {
    const uint32_t node_count = static_cast<uint32_t>(nodes_.size());
    std::string data;
    std::vector<uint32_t> offsets;
    for (const auto& v : values_) {
      offsets.push_back(static_cast<uint32_t>(data.size()));
      Encode(v, data);
    }
    std::string out;
    auto put24 = [&out](uint32_t v) {
      if (v >= (1u << 24)) throw std::length_error("record does not fit 24 bits");
      out.push_back(static_cast<char>(v >> 16));
      out.push_back(static_cast<char>(v >> 8));
      out.push_back(static_cast<char>(v));
    };
    for (const auto& node : nodes_) {
      for (const Record& r : node) {
        switch (r.kind) {
          case Record::kEmpty: put24(node_count); break;
          case Record::kNode: put24(static_cast<uint32_t>(r.index)); break;
          case Record::kData: put24(node_count + 16 + offsets[r.index]); break;
        }
      }
    }
    out.append(16, '\0');
    out += data;
    out += "\xAB\xCD\xEFMaxMind.com";
    Encode(MmdbValue::Map({
               {"binary_format_major_version", MmdbValue::Uint16(2)},
               {"binary_format_minor_version", MmdbValue::Uint16(0)},
               {"build_epoch", MmdbValue::Uint64(1700000000)},
               {"database_type", MmdbValue::String(database_type_)},
               {"description", MmdbValue::Map({{"en", MmdbValue::String("Meridian gateway test database")}})},
               {"ip_version", MmdbValue::Uint16(static_cast<uint16_t>(ip_version_))},
               {"languages", MmdbValue::Array({MmdbValue::String("en")})},
               {"node_count", MmdbValue::Uint32(node_count)},
               {"record_size", MmdbValue::Uint16(24)},
           }),
           out);
    return out;
  }

  //! Writes Build() to `path`; false on an I/O error.
  bool WriteFile(const std::string& path) const {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    const std::string bytes = Build();
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return static_cast<bool>(f);
  }

  size_t node_count() const { return nodes_.size(); }

 private:
  struct Record {
    enum Kind { kEmpty, kNode, kData } kind = kEmpty;
    size_t index = 0;
  };

  // Control byte: type in the top 3 bits (0: extended, the type - 7 follows in the next byte),
  // payload size in the low 5 bits (29, 30, 31: 1, 2, 3 more size bytes).
  static void Control(int type, size_t size, std::string& out) {
    uint8_t first = 0;
    std::string extra;
    if (size < 29) {
      first = static_cast<uint8_t>(size);
    } else if (size < 29 + 256) {
      first = 29;
      extra.push_back(static_cast<char>(size - 29));
    } else if (size < 285 + 65536) {
      first = 30;
      size_t s = size - 285;
      extra.push_back(static_cast<char>(s >> 8));
      extra.push_back(static_cast<char>(s));
    } else {
      first = 31;
      size_t s = size - 65821;
      extra.push_back(static_cast<char>(s >> 16));
      extra.push_back(static_cast<char>(s >> 8));
      extra.push_back(static_cast<char>(s));
    }
    if (type <= 7) {
      out.push_back(static_cast<char>((type << 5) | first));
    } else {
      out.push_back(static_cast<char>(first));
      out.push_back(static_cast<char>(type - 7));
    }
    out += extra;
  }

  static void BigEndianUint(int type, uint64_t v, std::string& out) {
    std::string bytes;
    while (v != 0) {
      bytes.insert(bytes.begin(), static_cast<char>(v & 0xff));
      v >>= 8;
    }
    Control(type, bytes.size(), out);
    out += bytes;
  }

  static void Encode(const MmdbValue& v, std::string& out) {
    using K = MmdbValue::Kind;
    switch (v.kind) {
      case K::kString:
        Control(2, v.text.size(), out);
        out += v.text;
        return;
      case K::kDouble: {
        uint64_t bits;
        static_assert(sizeof bits == sizeof v.number);
        std::memcpy(&bits, &v.number, sizeof bits);
        Control(3, 8, out);
        for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(bits >> (8 * i)));
        return;
      }
      case K::kUint16: BigEndianUint(5, v.uint, out); return;
      case K::kUint32: BigEndianUint(6, v.uint, out); return;
      case K::kUint64: BigEndianUint(9, v.uint, out); return;
      case K::kBool: Control(14, v.uint, out); return;  // the value is the size field
      case K::kMap:
        Control(7, v.keys.size(), out);
        for (size_t i = 0; i < v.keys.size(); ++i) {
          Encode(MmdbValue::String(v.keys[i]), out);
          Encode(v.items[i], out);
        }
        return;
      case K::kArray:
        Control(11, v.items.size(), out);
        for (const auto& item : v.items) Encode(item, out);
        return;
    }
  }

  int ip_version_;
  std::string database_type_;
  std::vector<std::array<Record, 2>> nodes_;
  std::vector<MmdbValue> values_;
};

}  // namespace meridian::gateway::testing
