// Tests of the client's ResponseParser: body framings split at every byte, interim responses,
// HEAD, keep-alive and malformed input.
#include "http/response_parser.h"

#include <gtest/gtest.h>

namespace meridian::http {
namespace {

struct Outcome {
  ResponseParser::State state = ResponseParser::State::kNeedMore;
  int status = 0;
  std::string body;
  int pieces = 0;
  bool keep_alive = false;
  std::string error;
  Headers headers;
};

Outcome Parse(std::string_view input, size_t piece, bool head = false, bool eof = false) {
  ResponseParser parser(64 * 1024, head);
  Outcome out;
  std::string buffer;
  size_t offset = 0;
  auto on_body = [&](std::string_view p) {
    EXPECT_FALSE(p.empty());
    out.body.append(p);
    ++out.pieces;
  };
  while (true) {
    size_t used = parser.Feed(buffer, on_body);
    buffer.erase(0, used);
    auto state = parser.state();
    if (state == ResponseParser::State::kHeaderDone) {
      out.status = parser.status();
      out.headers = parser.headers();
      continue;
    }
    if (state != ResponseParser::State::kNeedMore) break;
    if (offset >= input.size()) {
      if (eof) parser.FeedEof();
      break;
    }
    size_t n = std::min(piece, input.size() - offset);
    buffer.append(input.substr(offset, n));
    offset += n;
  }
  out.state = parser.state();
  out.keep_alive = parser.keep_alive();
  out.error = parser.error();
  if (out.status == 0) out.status = parser.status();
  return out;
}

TEST(ResponseParserTest, ContentLengthBodyAtEveryPieceSize) {
  std::string input = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: b\r\n\r\nhello world";
  for (size_t piece = 1; piece <= input.size(); ++piece) {
    Outcome o = Parse(input, piece);
    ASSERT_EQ(o.state, ResponseParser::State::kComplete) << piece << " " << o.error;
    EXPECT_EQ(o.status, 200);
    EXPECT_EQ(o.body, "hello world");
    EXPECT_TRUE(o.keep_alive);
    EXPECT_EQ(o.headers.Get("x-a"), "b");
  }
}

TEST(ResponseParserTest, ChunkedBodyArrivesPieceByPiece) {
  std::string input =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;x=y\r\n "
      "\r\n5\r\nworld\r\n0\r\nT: 1\r\n\r\n";
  for (size_t piece = 1; piece <= input.size(); ++piece) {
    Outcome o = Parse(input, piece);
    ASSERT_EQ(o.state, ResponseParser::State::kComplete) << piece << " " << o.error;
    EXPECT_EQ(o.body, "hello world");
    EXPECT_TRUE(o.keep_alive);
  }
  // Fed a byte at a time, every body byte is handed over as soon as it arrives.
  Outcome bytewise = Parse(input, 1);
  EXPECT_EQ(bytewise.pieces, 11);
}

TEST(ResponseParserTest, LargeBodyIsNeverBufferedWhole) {
  std::string body(200 * 1024, 'z');
  std::string input = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  Outcome o = Parse(input, input.size());
  ASSERT_EQ(o.state, ResponseParser::State::kComplete);
  EXPECT_EQ(o.body.size(), body.size());
  EXPECT_GT(o.pieces, 1);
}

TEST(ResponseParserTest, BodyUntilCloseNeedsEof) {
  std::string input = "HTTP/1.0 200 OK\r\n\r\nuntil the end";
  Outcome open = Parse(input, 4);
  EXPECT_EQ(open.state, ResponseParser::State::kNeedMore);
  Outcome closed = Parse(input, 4, false, /*eof=*/true);
  ASSERT_EQ(closed.state, ResponseParser::State::kComplete) << closed.error;
  EXPECT_EQ(closed.body, "until the end");
  EXPECT_FALSE(closed.keep_alive);
}

TEST(ResponseParserTest, TruncatedBodyIsAnError) {
  Outcome o = Parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 100, false, true);
  EXPECT_EQ(o.state, ResponseParser::State::kError);
  EXPECT_NE(o.error.find("closed"), std::string::npos);
  Outcome h = Parse("HTTP/1.1 200 OK\r\nContent-Le", 100, false, true);
  EXPECT_EQ(h.state, ResponseParser::State::kError);
}

TEST(ResponseParserTest, InterimResponsesAreSkipped) {
  std::string input =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
  for (size_t piece : {size_t{1}, size_t{10}, input.size()}) {
    Outcome o = Parse(input, piece);
    ASSERT_EQ(o.state, ResponseParser::State::kComplete) << piece << " " << o.error;
    EXPECT_EQ(o.status, 201);
    EXPECT_EQ(o.body, "ok");
  }
}

TEST(ResponseParserTest, HeadResponseHasNoBody) {
  Outcome o = Parse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 7, /*head=*/true);
  ASSERT_EQ(o.state, ResponseParser::State::kComplete);
  EXPECT_EQ(o.body, "");
  EXPECT_TRUE(o.keep_alive);
}

TEST(ResponseParserTest, NoContentAndConnectionClose) {
  Outcome o = Parse("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", 100);
  ASSERT_EQ(o.state, ResponseParser::State::kComplete);
  EXPECT_EQ(o.status, 204);
  EXPECT_FALSE(o.keep_alive);
}

TEST(ResponseParserTest, MalformedResponses) {
  for (const char* bad : {"HTTP/1.1 2000 OK\r\n\r\n", "NOTHTTP 200 OK\r\n\r\n",
                          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
                          "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"}) {
    Outcome o = Parse(bad, 100);
    EXPECT_EQ(o.state, ResponseParser::State::kError) << bad;
    EXPECT_FALSE(o.error.empty());
  }
  ResponseParser small(64, false);
  std::string huge = "HTTP/1.1 200 OK\r\nX: " + std::string(200, 'a') + "\r\n\r\n";
  small.Feed(huge, nullptr);
  EXPECT_EQ(small.state(), ResponseParser::State::kError);
}

}  // namespace
}  // namespace meridian::http

namespace meridian::http {
namespace {

TEST(ResponseParserTest, EndlessChunkExtensionIsBounded) {
  ResponseParser parser(1024, false);
  std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string buffer = head + "5;x=";
  for (int i = 0; i < 100 && parser.state() != ResponseParser::State::kError; ++i) {
    size_t used = parser.Feed(buffer, nullptr);
    buffer.erase(0, used);
    if (parser.state() == ResponseParser::State::kHeaderDone) continue;
    buffer += std::string(100, 'e');
  }
  EXPECT_EQ(parser.state(), ResponseParser::State::kError);
  EXPECT_LT(buffer.size(), 1024u + 200u);
}

}  // namespace
}  // namespace meridian::http

namespace meridian::http {
namespace {

TEST(ResponseParserTest, EmptyChunkedBodyByteByByte) {
  for (const char* body : {"0\r\n\r\n", "0\r\nTrailer: x\r\n\r\n"}) {
    std::string input = std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") + body;
    for (size_t piece = 1; piece <= 6; ++piece) {
      Outcome o = Parse(input, piece);
      ASSERT_EQ(o.state, ResponseParser::State::kComplete) << body << " " << piece << ": " << o.error;
      EXPECT_EQ(o.body, "");
    }
  }
}

}  // namespace
}  // namespace meridian::http
