// Tests of the small socket-free pieces: headers, query strings, request ids, URLs, SSE.
#include <gtest/gtest.h>

#include <set>

#include "http/headers.h"
#include "http/request.h"
#include "http/request_parser.h"
#include "http/sse.h"
#include "http/status_codes.h"
#include "http/url.h"

namespace meridian::http {
namespace {

TEST(HeadersTest, LookupIsCaseInsensitiveAndKeepsOrderAndDuplicates) {
  Headers h;
  h.Add("Content-Type", "text/plain");
  h.Add("Set-Cookie", "a=1");
  h.Add("set-cookie", "b=2");
  EXPECT_EQ(h.Get("content-type"), "text/plain");
  EXPECT_EQ(h.Get("CONTENT-TYPE"), "text/plain");
  EXPECT_FALSE(h.Get("content-length").has_value());
  EXPECT_EQ(h.Count("SET-COOKIE"), 2u);
  auto all = h.GetAll("Set-Cookie");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], "a=1");
  EXPECT_EQ(all[1], "b=2");
  h.Set("SET-COOKIE", "c=3");
  EXPECT_EQ(h.Count("set-cookie"), 1u);
  EXPECT_EQ(h.GetOr("set-cookie", ""), "c=3");
  EXPECT_EQ(h.Remove("Content-Type"), 1u);
  EXPECT_EQ(h.GetOr("content-type", "none"), "none");
}

TEST(HeadersTest, TokenListsAndValidation) {
  EXPECT_TRUE(HeaderHasToken("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(HeaderHasToken(" close ", "close"));
  EXPECT_FALSE(HeaderHasToken("closed", "close"));
  EXPECT_FALSE(HeaderHasToken("", "close"));
  EXPECT_TRUE(IsValidHeaderName("X-Request-Id"));
  EXPECT_FALSE(IsValidHeaderName("Bad Name"));
  EXPECT_FALSE(IsValidHeaderName(""));
  EXPECT_FALSE(IsValidHeaderName("a:b"));
  EXPECT_TRUE(IsValidHeaderValue("text/plain; charset=utf-8\twith tab"));
  EXPECT_FALSE(IsValidHeaderValue("x\r\nInjected: 1"));
  EXPECT_FALSE(IsValidHeaderValue(std::string("a\0b", 3)));
}

TEST(RequestTest, QueryParamsArePercentDecoded) {
  Request r;
  r.query = "a=1&name=hello+world%21&empty=&flag&bad=%zz";
  EXPECT_EQ(r.QueryParam("a"), "1");
  EXPECT_EQ(r.QueryParam("name"), "hello world!");
  EXPECT_EQ(r.QueryParam("empty"), "");
  EXPECT_EQ(r.QueryParam("flag"), "");
  EXPECT_FALSE(r.QueryParam("missing").has_value());
  EXPECT_FALSE(r.QueryParam("bad").has_value());
  EXPECT_FALSE(PercentDecode("%4", false).has_value());
  EXPECT_FALSE(PercentDecode("%", false).has_value());
  EXPECT_EQ(PercentDecode("a+b%2B", false), "a+b+");
}

TEST(RequestTest, RequestIds) {
  EXPECT_TRUE(IsSaneRequestId("abc-123_x.y:z"));
  EXPECT_FALSE(IsSaneRequestId(""));
  EXPECT_FALSE(IsSaneRequestId("has space"));
  EXPECT_FALSE(IsSaneRequestId("quote\""));
  EXPECT_FALSE(IsSaneRequestId(std::string(129, 'a')));
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewRequestId();
    EXPECT_EQ(id.size(), 32u);
    EXPECT_TRUE(IsSaneRequestId(id));
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(RequestTest, SplitTargetForms) {
  std::string path, query;
  ASSERT_TRUE(SplitTarget("/v1/models?limit=2", &path, &query));
  EXPECT_EQ(path, "/v1/models");
  EXPECT_EQ(query, "limit=2");
  ASSERT_TRUE(SplitTarget("http://example.com:8080/a/b?c", &path, &query));
  EXPECT_EQ(path, "/a/b");
  EXPECT_EQ(query, "c");
  ASSERT_TRUE(SplitTarget("http://example.com", &path, &query));
  EXPECT_EQ(path, "/");
  ASSERT_TRUE(SplitTarget("*", &path, &query));
  EXPECT_EQ(path, "*");
  EXPECT_FALSE(SplitTarget("relative/path", &path, &query));
  EXPECT_FALSE(SplitTarget("", &path, &query));
}

TEST(StatusCodesTest, ReasonsAndCodes) {
  EXPECT_EQ(ReasonPhrase(404), "Not Found");
  EXPECT_EQ(ReasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(ReasonPhrase(799), "Unknown");
  EXPECT_EQ(StatusErrorCode(413), "payload_too_large");
  EXPECT_TRUE(StatusForbidsBody(204));
  EXPECT_TRUE(StatusForbidsBody(100));
  EXPECT_FALSE(StatusForbidsBody(200));
}

TEST(UrlTest, ParsesHostsPortsAndTargets) {
  auto u = ParseUrl("http://127.0.0.1:8080/v1/chat?x=1#frag");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/v1/chat?x=1");
  EXPECT_EQ(u->HostHeader(), "127.0.0.1:8080");
  auto v6 = ParseUrl("http://[::1]:9000");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->target, "/");
  EXPECT_EQ(v6->Authority(), "[::1]:9000");
  auto plain = ParseUrl("HTTP://example.com?q");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->port, 80);
  EXPECT_EQ(plain->target, "/?q");
  EXPECT_EQ(plain->HostHeader(), "example.com");

  EXPECT_EQ(ParseUrl("https://x/").status().code(), StatusCode::kUnimplemented);
  for (const char* bad : {"example.com/x", "ftp://x/", "http://", "http://:80/", "http://x:0/",
                          "http://x:65536/", "http://x:8o/", "http://u@x/", "http://x/a b", "http://[::1/"}) {
    EXPECT_EQ(ParseUrl(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(SseTest, FormatSplitsLinesSoDataCannotEndTheEvent) {
  EXPECT_EQ(FormatSseEvent("hello"), "data: hello\n\n");
  EXPECT_EQ(FormatSseEvent(""), "data: \n\n");
  EXPECT_EQ(FormatSseEvent("a\nb\r\nc\rd"), "data: a\ndata: b\ndata: c\ndata: d\n\n");
  EXPECT_EQ(FormatSseEvent("x", "done\n", "7"), "event: done\nid: 7\ndata: x\n\n");
  EXPECT_EQ(FormatSseEvent("[DONE]"), "data: [DONE]\n\n");
}

TEST(SseTest, ParserRoundTripsAcrossEverySplitPoint) {
  std::string stream = ": comment\n\n" + FormatSseEvent("{\"a\":1}") +
                       FormatSseEvent("two\nlines", "update", "9") + "data:no-space\r\n\r\n" +
                       "event: ignored-without-data\n\n" + "data: last\r\r";
  for (size_t split = 0; split <= stream.size(); ++split) {
    std::vector<SseEvent> events;
    SseParser parser([&](const SseEvent& e) { events.push_back(e); });
    ASSERT_TRUE(parser.Feed(std::string_view(stream).substr(0, split)));
    ASSERT_TRUE(parser.Feed(std::string_view(stream).substr(split)));
    ASSERT_EQ(events.size(), 4u) << "split " << split;
    EXPECT_EQ(events[0].data, "{\"a\":1}");
    EXPECT_EQ(events[0].event, "");
    EXPECT_EQ(events[1].data, "two\nlines");
    EXPECT_EQ(events[1].event, "update");
    EXPECT_EQ(events[1].id, "9");
    EXPECT_EQ(events[2].data, "no-space");
    EXPECT_EQ(events[3].data, "last");
  }
}

TEST(SseTest, ParserBoundsLineLength) {
  SseParser parser([](const SseEvent&) {}, 16);
  EXPECT_TRUE(parser.Feed("data: short\n"));
  EXPECT_FALSE(parser.Feed("data: " + std::string(64, 'x')));
}

}  // namespace
}  // namespace meridian::http
