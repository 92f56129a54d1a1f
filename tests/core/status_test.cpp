// Status/Result behaviour and the JSON string escaping used by the logger.
#include "core/status.h"

#include <gtest/gtest.h>

#include "core/log.h"

namespace meridian {
namespace {

Result<int> Half(int x) {
  if (x % 2) return InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Status UseHalf(int x, int* out) {
  MERIDIAN_ASSIGN_OR_RETURN(*out, Half(x));
  return Status::Ok();
}

TEST(Status, ResultCarriesValueOrError) {
  int v = 0;
  EXPECT_TRUE(UseHalf(4, &v).ok());
  EXPECT_EQ(v, 2);
  Status s = UseHalf(3, &v);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.ToString(), "invalid_argument: odd: 3");
  EXPECT_EQ(s.WithContext("model.gguf").message(), "model.gguf: odd: 3");
}

TEST(Log, JsonEscaping) {
  std::string out;
  log::AppendJsonString(out, "a\"b\\c\n\x01");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\"");
}

}  // namespace
}  // namespace meridian
