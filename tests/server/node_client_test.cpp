// Integration: the official `openai` npm client drives the real server (tests/node/
// openai_client_test.mjs). Skipped, saying why, when node or the package is not installed
// (scripts/install-test-clients.sh installs it).
#include <gtest/gtest.h>

#include <filesystem>

#include "server_process.h"

namespace meridian::server::testing {
namespace {

TEST(NodeOpenAiClient, ChatAndCompletionsStreamedAndNot) {
  const std::string node_dir = std::string(MERIDIAN_SOURCE_DIR) + "/tests/node";
  int rc = 0;
  const std::string version = RunCommand("node --version 2>/dev/null", &rc);
  if (rc != 0 || version.empty())
    GTEST_SKIP() << "node is not installed; the openai client test needs Node.js";
  if (!std::filesystem::exists(node_dir + "/node_modules/openai/package.json")) {
    GTEST_SKIP() << "the openai npm package is missing; run scripts/install-test-clients.sh";
  }
  std::string error;
  auto server = ServerProcess::Start({}, &error);
  ASSERT_TRUE(server) << error;
  const std::string out =
      RunCommand("cd " + ShellQuote(node_dir) + " && timeout 120 node openai_client_test.mjs " +
                     ShellQuote(server->base_url()) + " 2>&1",
                 &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\"failed\":0"), std::string::npos) << out;
}

}  // namespace
}  // namespace meridian::server::testing
