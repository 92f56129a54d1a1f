// HTTP header fields: an ordered list of (name, value) pairs with case-insensitive lookup, and the
// small token helpers (Connection: close, Expect: 100-continue) that the server and client share.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meridian::http {

//! ASCII case-insensitive equality (header names and tokens are ASCII by RFC 9110).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

//! True if the comma-separated list `value` holds `token` (case-insensitive, spaces trimmed),
//! e.g. HeaderHasToken("keep-alive, Upgrade", "upgrade").
bool HeaderHasToken(std::string_view value, std::string_view token);

//! True if `name` is a valid field name (an RFC 9110 token).
bool IsValidHeaderName(std::string_view name);

//! True if `value` may be sent as a field value: no CR, LF or NUL (which would let a value
//! inject headers), and no other control character except horizontal tab.
bool IsValidHeaderValue(std::string_view value);

//! Header fields in the order they were added. Duplicates are kept (Set-Cookie, Vary lists).
//! Not thread-safe; a value type.
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  Headers() = default;
  Headers(std::initializer_list<Field> fields) : fields_(fields) {}

  //! Appends a field; an existing field with the same name stays.
  void Add(std::string name, std::string value);
  //! Replaces every field named `name` with a single one.
  void Set(std::string_view name, std::string value);
  //! Removes every field named `name`; returns how many were removed.
  size_t Remove(std::string_view name);
  //! The value of the first field named `name`.
  std::optional<std::string_view> Get(std::string_view name) const;
  //! The value of the first field named `name`, or `fallback`.
  std::string_view GetOr(std::string_view name, std::string_view fallback) const;
  //! Every value of `name`, in order.
  std::vector<std::string_view> GetAll(std::string_view name) const;
  bool Has(std::string_view name) const { return Get(name).has_value(); }
  //! How many fields are named `name`.
  size_t Count(std::string_view name) const;

  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  std::vector<Field>::const_iterator begin() const { return fields_.begin(); }
  std::vector<Field>::const_iterator end() const { return fields_.end(); }

 private:
  std::vector<Field> fields_;
};

}  // namespace meridian::http
