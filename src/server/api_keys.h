// Optional API keys (`--api-key-file`): loading the key file and checking
// `Authorization: Bearer <key>` in constant time.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace meridian::server {

//! Immutable after loading: Check may run on many threads at once.
class ApiKeys {
 public:
  //! No keys: every request is allowed.
  ApiKeys() = default;
  explicit ApiKeys(std::vector<std::string> keys) : keys_(std::move(keys)) {}

  //! Reads one key per line; blank lines and lines starting with '#' are skipped, surrounding
  //! whitespace is trimmed. InvalidArgument if the file cannot be read, holds no key, or a key
  //! has characters outside printable ASCII (keys travel in an HTTP header).
  static Result<ApiKeys> LoadFile(const std::string& path);

  bool enabled() const { return !keys_.empty(); }
  size_t size() const { return keys_.size(); }

  //! True when keys are off, or `authorization` is "Bearer <key>" (scheme case-insensitive) for
  //! one of the keys. Every key is compared, each in time independent of where it differs.
  bool Check(std::string_view authorization) const;

 private:
  std::vector<std::string> keys_;
};

//! Equality whose running time depends only on the lengths, never on where the bytes differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace meridian::server
