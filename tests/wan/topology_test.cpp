// Topology: the shipped configs/topology.toml, and clear errors for malformed files.
#include <gtest/gtest.h>

#include "wan/topology.h"

namespace meridian::wan {
namespace {

const char* kMinimal = R"(
[[site]]
name = "a"
[[region]]
name = "r1"
[[region]]
name = "r2"
[rtt_ms.a]
r1 = 10
r2 = 30.5
)";

TEST(TopologyTest, ShippedTopologyCoversEverySiteAndRegion) {
  auto topo = LoadTopology(std::string(MERIDIAN_SOURCE_DIR) + "/configs/topology.toml");
  ASSERT_TRUE(topo.ok()) << topo.status().ToString();
  EXPECT_EQ(topo->sites.size(), 5u);
  EXPECT_EQ(topo->regions.size(), 3u);
  EXPECT_EQ(topo->NearestRegion("london"), "eu-central");
  EXPECT_EQ(topo->NearestRegion("new-york"), "us-east");
  EXPECT_EQ(topo->NearestRegion("singapore"), "ap-southeast");
  EXPECT_EQ(topo->NearestRegion("sydney"), "ap-southeast");
  EXPECT_EQ(topo->NearestRegion("sao-paulo"), "us-east");
  // The figures the issue quotes.
  EXPECT_EQ(topo->Rtt("eu-central", "us-east"), 91);
  EXPECT_EQ(topo->Rtt("ap-southeast", "eu-central"), 158);
  EXPECT_EQ(topo->Rtt("us-east", "ap-southeast"), 211);
}

TEST(TopologyTest, ParsesAndLooksUpBothWays) {
  auto topo = ParseTopology(kMinimal, "mini.toml");
  ASSERT_TRUE(topo.ok()) << topo.status().ToString();
  EXPECT_EQ(topo->Rtt("a", "r2"), 30.5);
  EXPECT_EQ(topo->Rtt("r2", "a"), 30.5);
  EXPECT_FALSE(topo->Rtt("r1", "r2").has_value());
  EXPECT_EQ(topo->NearestRegion("a"), "r1");
  EXPECT_TRUE(topo->IsSite("a"));
  EXPECT_TRUE(topo->IsRegion("r1"));
  LinkConfig link = topo->Link(30.5);
  EXPECT_EQ(link.rtt(), std::chrono::microseconds(30'500));
  EXPECT_EQ(topo->edge_rtt_ms, 2.0);
}

void ExpectError(const std::string& text, const std::string& fragment) {
  auto topo = ParseTopology(text, "bad.toml");
  ASSERT_FALSE(topo.ok()) << "accepted:\n" << text;
  EXPECT_EQ(topo.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(topo.status().message().find(fragment), std::string::npos) << topo.status().message();
}

TEST(TopologyTest, MalformedFilesAreExplained) {
  ExpectError("[[site]\nname=", "bad.toml:1");
  ExpectError("[[region]]\nname = \"r\"\n[rtt_ms]\n", "[[site]]");
  ExpectError(std::string(kMinimal) + "[[site]]\nname = \"a\"\n", "appears twice");
  ExpectError(std::string(kMinimal) + "[rtt_ms.zz]\nr1 = 3\n", "unknown place");
  ExpectError(std::string(kMinimal) + "[[site]]\nname = \"b\"\n", "no RTT between site b and region r1");
  std::string negative = kMinimal;
  negative.replace(negative.find("r1 = 10"), 7, "r1 = -4");
  ExpectError(negative, "rtt_ms.a.r1");
  ExpectError(std::string(kMinimal) + "[link]\njitter_ms = \"x\"\n", "jitter_ms");
  EXPECT_EQ(LoadTopology("/nonexistent/topology.toml").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace meridian::wan
