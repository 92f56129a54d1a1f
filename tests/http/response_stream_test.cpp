// Tests of ResponseStream/ResponseWriter framing and the producer/connection contract, without
// sockets: a fake sink stands in for the connection.
#include "http/response_stream.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "http/response_writer.h"
#include "test_util.h"

namespace meridian::http {
namespace {

using testing::BodyOf;
using testing::HeaderOf;
using testing::StatusOf;

class FakeSink : public ResponseSink {
 public:
  void Wake() override { wakes.fetch_add(1); }
  std::atomic<int> wakes{0};
};

struct Fixture {
  explicit Fixture(ResponseContext context = DefaultContext()) {
    sink = std::make_shared<FakeSink>();
    stream = std::make_shared<ResponseStream>(std::move(context), sink);
  }
  static ResponseContext DefaultContext() {
    ResponseContext c;
    c.request_id = "rid-1";
    return c;
  }
  //! Everything queued so far, as the connection would write it.
  std::string Drain(bool* last = nullptr, bool* abort = nullptr) {
    auto out = stream->TakeOutput();
    std::string bytes;
    for (auto& c : out.chunks) bytes += c;
    stream->OnWritten(bytes.size());
    if (last) *last = out.last;
    if (abort) *abort = out.abort;
    return bytes;
  }
  std::shared_ptr<FakeSink> sink;
  std::shared_ptr<ResponseStream> stream;
};

TEST(ResponseStreamTest, SendAddsFramingAndServerHeaders) {
  Fixture f;
  ASSERT_TRUE(f.stream->Send(200,
                             {{"Content-Type", "text/plain"},
                              {"Content-Length", "999"},
                              {"Transfer-Encoding", "chunked"},
                              {"X-Request-Id", "spoofed"},
                              {"Bad Name", "x"},
                              {"X-Injected", "a\r\nEvil: 1"}},
                             "hello"));
  bool last = false;
  std::string wire = f.Drain(&last);
  EXPECT_TRUE(last);
  EXPECT_EQ(StatusOf(wire), 200);
  EXPECT_EQ(wire.substr(0, 17), "HTTP/1.1 200 OK\r\n");
  EXPECT_EQ(HeaderOf(wire, "content-length"), "5");
  EXPECT_EQ(HeaderOf(wire, "transfer-encoding"), "");
  EXPECT_EQ(HeaderOf(wire, "server"), "meridian");
  EXPECT_EQ(HeaderOf(wire, "x-request-id"), "rid-1");
  EXPECT_FALSE(HeaderOf(wire, "date").empty());
  EXPECT_EQ(wire.find("Evil"), std::string::npos);
  EXPECT_EQ(wire.find("Bad Name"), std::string::npos);
  EXPECT_EQ(BodyOf(wire), "hello");
  EXPECT_FALSE(f.stream->close_after_response());
  EXPECT_GE(f.sink->wakes.load(), 1);
  // A second answer is refused.
  EXPECT_FALSE(f.stream->Send(500, {}, "again"));
  EXPECT_FALSE(f.stream->BeginStream(200, {}));
  EXPECT_TRUE(f.stream->IsClosed());
}

TEST(ResponseStreamTest, HeadAndNoContentHaveNoBody) {
  ResponseContext head = Fixture::DefaultContext();
  head.head_request = true;
  Fixture f(head);
  ASSERT_TRUE(f.stream->Send(200, {}, "twelve bytes"));
  std::string wire = f.Drain();
  EXPECT_EQ(HeaderOf(wire, "content-length"), "12");
  EXPECT_EQ(BodyOf(wire), "");

  Fixture g;
  ASSERT_TRUE(g.stream->Send(204, {}, "ignored"));
  std::string no_content = g.Drain();
  EXPECT_EQ(HeaderOf(no_content, "content-length"), "");
  EXPECT_EQ(BodyOf(no_content), "");
}

TEST(ResponseStreamTest, ChunkedStreamingFraming) {
  Fixture f;
  ASSERT_TRUE(f.stream->BeginStream(200, {{"Content-Type", "text/plain"}}));
  std::string head = f.Drain();
  EXPECT_EQ(HeaderOf(head, "transfer-encoding"), "chunked");
  EXPECT_EQ(HeaderOf(head, "content-length"), "");
  EXPECT_TRUE(f.stream->Write("hello"));
  EXPECT_TRUE(f.stream->Write(""));  // skipped: an empty chunk would end the body
  EXPECT_TRUE(f.stream->Write(std::string(26, 'x')));
  bool last = true;
  EXPECT_EQ(f.Drain(&last), "5\r\nhello\r\n1a\r\n" + std::string(26, 'x') + "\r\n");
  EXPECT_FALSE(last);
  EXPECT_FALSE(f.stream->IsClosed());
  EXPECT_TRUE(f.stream->End());
  EXPECT_EQ(f.Drain(&last), "0\r\n\r\n");
  EXPECT_TRUE(last);
  EXPECT_FALSE(f.stream->Write("late"));
  EXPECT_FALSE(f.stream->End());
  EXPECT_EQ(f.stream->body_bytes(), 31u);
}

TEST(ResponseStreamTest, Http10StreamsRawAndCloses) {
  ResponseContext old = Fixture::DefaultContext();
  old.version = 10;
  old.keep_alive = true;
  Fixture f(old);
  ASSERT_TRUE(f.stream->BeginStream(200, {}));
  ASSERT_TRUE(f.stream->Write("raw"));
  ASSERT_TRUE(f.stream->End());
  bool last = false;
  std::string wire = f.Drain(&last);
  EXPECT_TRUE(last);
  EXPECT_EQ(HeaderOf(wire, "transfer-encoding"), "");
  EXPECT_EQ(HeaderOf(wire, "connection"), "close");
  EXPECT_EQ(BodyOf(wire), "raw");
  EXPECT_TRUE(f.stream->close_after_response());

  Fixture g(old);
  ASSERT_TRUE(g.stream->Send(200, {}, "x"));
  EXPECT_EQ(HeaderOf(g.Drain(), "connection"), "keep-alive");
}

TEST(ResponseStreamTest, ConnectionCloseFromHandlerOrDrainingIsHonoured) {
  Fixture f;
  ASSERT_TRUE(f.stream->Send(200, {{"Connection", "close"}}, ""));
  EXPECT_EQ(HeaderOf(f.Drain(), "connection"), "close");
  EXPECT_TRUE(f.stream->close_after_response());

  Fixture g;
  g.stream->RequestCloseAfterResponse();
  ASSERT_TRUE(g.stream->Send(200, {}, ""));
  EXPECT_EQ(HeaderOf(g.Drain(), "connection"), "close");
}

TEST(ResponseStreamTest, SlowClientOverflowAbortsAndNotifies) {
  ResponseContext c = Fixture::DefaultContext();
  c.max_queued_bytes = 1024;
  Fixture f(c);
  std::atomic<int> closed{0};
  f.stream->OnClose([&] { closed.fetch_add(1); });
  ASSERT_TRUE(f.stream->BeginStream(200, {}));
  f.Drain();                                             // the head went out
  ASSERT_TRUE(f.stream->Write(std::string(4000, 'a')));  // one chunk is always accepted
  EXPECT_FALSE(f.stream->Write(std::string(10, 'b')));   // nothing was written meanwhile
  EXPECT_TRUE(f.stream->IsClosed());
  bool abort = false;
  f.Drain(nullptr, &abort);
  EXPECT_TRUE(abort);
  EXPECT_NE(f.stream->abort_reason().find("too slowly"), std::string::npos);
  EXPECT_EQ(closed.load(), 0);  // callbacks run when the connection closes, not under the lock
  for (auto& cb : f.stream->MarkClosed(false)) cb();
  EXPECT_EQ(closed.load(), 1);
  for (auto& cb : f.stream->MarkClosed(false)) cb();
  EXPECT_EQ(closed.load(), 1);
  // Registered after the abnormal close: runs at once.
  f.stream->OnClose([&] { closed.fetch_add(1); });
  EXPECT_EQ(closed.load(), 2);
}

TEST(ResponseStreamTest, QueueDrainsAsTheConnectionWrites) {
  ResponseContext c = Fixture::DefaultContext();
  c.max_queued_bytes = 1024;
  Fixture f(c);
  ASSERT_TRUE(f.stream->BeginStream(200, {}));
  f.Drain();
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(f.stream->Write(std::string(500, 'a'))) << i;
    EXPECT_GT(f.stream->QueuedBytes(), 0u);
    f.Drain();  // the client keeps up
    EXPECT_EQ(f.stream->QueuedBytes(), 0u);
  }
}

TEST(ResponseStreamTest, CloseCallbacksDoNotRunAfterNormalCompletion) {
  Fixture f;
  int closed = 0;
  f.stream->OnClose([&] { ++closed; });
  ASSERT_TRUE(f.stream->Send(200, {}, "ok"));
  f.Drain();
  EXPECT_TRUE(f.stream->MarkClosed(true).empty());
  f.stream->OnClose([&] { ++closed; });
  EXPECT_EQ(closed, 0);
}

TEST(ResponseWriterTest, DroppedWriterSends500OrCutsTheStream) {
  Fixture f;
  { ResponseWriter writer(f.stream, "rid-1"); }
  std::string wire = f.Drain();
  EXPECT_EQ(StatusOf(wire), 500);
  EXPECT_NE(BodyOf(wire).find("\"code\":\"internal_server_error\""), std::string::npos);

  Fixture g;
  {
    ResponseWriter writer(g.stream, "rid-2");
    ASSERT_TRUE(writer.BeginEventStream());
    ASSERT_TRUE(writer.WriteEvent("tok"));
  }
  bool abort = false;
  g.Drain(nullptr, &abort);
  EXPECT_TRUE(abort);  // never a clean end the producer did not give
}

TEST(ResponseWriterTest, EventStreamHeadersAndEvents) {
  Fixture f;
  ResponseWriter writer(f.stream, "rid-1");
  ASSERT_TRUE(writer.BeginEventStream());
  ASSERT_TRUE(writer.WriteEvent("{\"x\":1}"));
  ASSERT_TRUE(writer.WriteEvent("[DONE]", "end"));
  ASSERT_TRUE(writer.End());
  std::string wire = f.Drain();
  EXPECT_EQ(HeaderOf(wire, "content-type"), "text/event-stream");
  EXPECT_EQ(HeaderOf(wire, "cache-control"), "no-cache");
  std::string first = "data: {\"x\":1}\n\n";
  std::string second = "event: end\ndata: [DONE]\n\n";
  char size_line[16];
  std::snprintf(size_line, sizeof size_line, "%zx\r\n", first.size());
  EXPECT_NE(wire.find(size_line + first + "\r\n"), std::string::npos);
  EXPECT_NE(wire.find(second), std::string::npos);
  EXPECT_EQ(wire.substr(wire.size() - 5), "0\r\n\r\n");
  EXPECT_EQ(writer.request_id(), "rid-1");
}

TEST(ResponseWriterTest, ConcurrentWritersKeepChunksWhole) {
  Fixture f;
  ResponseWriter writer(f.stream, "rid-1");
  ASSERT_TRUE(writer.BeginStream(200, {}));
  f.Drain();
  std::atomic<bool> stop{false};
  std::string collected;
  std::thread drainer([&] {
    while (!stop.load()) collected += f.Drain();
  });
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&writer, t] {
      for (int i = 0; i < 200; ++i) writer.Write(std::string(10, static_cast<char>('a' + t)));
    });
  }
  for (auto& p : producers) p.join();
  ASSERT_TRUE(writer.End());
  stop = true;
  drainer.join();
  collected += f.Drain();
  // 800 chunks "a\r\n<10 same letters>\r\n" then the terminator.
  std::string expected_end = "0\r\n\r\n";
  ASSERT_GE(collected.size(), expected_end.size());
  EXPECT_EQ(collected.substr(collected.size() - 5), expected_end);
  size_t pos = 0;
  int chunks = 0;
  while (collected.compare(pos, 5, expected_end) != 0) {
    ASSERT_EQ(collected.compare(pos, 3, "a\r\n"), 0) << pos;
    std::string payload = collected.substr(pos + 3, 10);
    EXPECT_EQ(payload, std::string(10, payload[0]));
    ASSERT_EQ(collected.compare(pos + 13, 2, "\r\n"), 0);
    pos += 15;
    ++chunks;
  }
  EXPECT_EQ(chunks, 800);
}

}  // namespace
}  // namespace meridian::http
