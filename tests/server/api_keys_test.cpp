// API keys: file format, bearer parsing, constant-time comparison.
#include "server/api_keys.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace meridian::server {
namespace {

std::string WriteFile(const std::string& text) {
  std::string path = std::filesystem::temp_directory_path() / ("meridian_keys_" + std::to_string(getpid()));
  std::ofstream(path) << text;
  return path;
}

TEST(ApiKeys, DisabledAllowsEverything) {
  ApiKeys keys;
  EXPECT_FALSE(keys.enabled());
  EXPECT_TRUE(keys.Check(""));
}

TEST(ApiKeys, LoadsFileAndChecksBearer) {
  const std::string path = WriteFile("# comment\n\n  sk-one  \nsk-two\r\n");
  auto keys = ApiKeys::LoadFile(path);
  std::remove(path.c_str());
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->size(), 2u);
  EXPECT_TRUE(keys->Check("Bearer sk-one"));
  EXPECT_TRUE(keys->Check("bearer   sk-two "));
  EXPECT_FALSE(keys->Check("Bearer sk-on"));
  EXPECT_FALSE(keys->Check("Bearer sk-one1"));
  EXPECT_FALSE(keys->Check("sk-one"));
  EXPECT_FALSE(keys->Check("Basic sk-one"));
  EXPECT_FALSE(keys->Check("Bearer"));
  EXPECT_FALSE(keys->Check("Bearersk-one"));
  EXPECT_FALSE(keys->Check(""));
}

TEST(ApiKeys, BadFiles) {
  EXPECT_FALSE(ApiKeys::LoadFile("/nonexistent/keys").ok());
  std::string path = WriteFile("# only a comment\n");
  auto empty = ApiKeys::LoadFile(path);
  EXPECT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("holds no key"), std::string::npos);
  std::remove(path.c_str());
  path = WriteFile("good\nbad key\n");
  auto spaced = ApiKeys::LoadFile(path);
  EXPECT_FALSE(spaced.ok());
  EXPECT_NE(spaced.status().message().find("line 2"), std::string::npos);
  std::remove(path.c_str());
}

TEST(ApiKeys, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_FALSE(ConstantTimeEquals(std::string_view("a\0", 2), "a"));
}

}  // namespace
}  // namespace meridian::server
