// Streaming over real sockets: chunks reach the client before End, SSE framing, disconnects
// noticed within 100 ms, slow clients, and graceful shutdown (drain, grace expiry, SIGTERM).
#include <gtest/gtest.h>

#include <csignal>

#include "http/sse.h"
#include "server_fixture.h"

namespace meridian::http::testing {
namespace {

using StreamTest = ServerTest;

TEST_F(StreamTest, ChunksArriveBeforeEnd) {
  HttpClient client;
  Mailbox<std::string> first_piece;
  Mailbox<Status> done;
  std::string body;
  std::atomic<bool> ended{false};
  std::atomic<bool> piece_before_end{false};
  ClientCallbacks callbacks;
  callbacks.on_headers = [](const ClientResponse& head) { EXPECT_EQ(head.status, 200); };
  callbacks.on_body = [&](std::string_view piece) {
    if (body.empty()) {
      piece_before_end = !ended.load();
      first_piece.Put(std::string(piece));
    }
    body.append(piece);
    return true;
  };
  callbacks.on_complete = [&](const Status& s) { done.Put(s); };
  auto call = client.Start({"GET", Url("/hold"), {}, ""}, callbacks);
  auto held = held_.Take();
  ASSERT_TRUE(held.has_value());
  ASSERT_TRUE(held->writer->BeginStream(200, {{"Content-Type", "text/plain"}}));
  ASSERT_TRUE(held->writer->Write("first"));
  auto piece = first_piece.Take();  // arrives while the stream is still open
  ASSERT_TRUE(piece.has_value());
  EXPECT_EQ(*piece, "first");
  EXPECT_TRUE(piece_before_end.load());
  ASSERT_TRUE(held->writer->Write("second"));
  ended = true;
  ASSERT_TRUE(held->writer->End());
  auto status = done.Take();
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->ok()) << status->ToString();
  EXPECT_EQ(body, "firstsecond");
  EXPECT_FALSE(held->writer->Write("after end"));
}

TEST_F(StreamTest, SseEventsAreFramedAndChunked) {
  RawConnection c(port());
  ASSERT_TRUE(c.Send("GET /sse HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string wire = c.ReadUntilContains("\r\n0\r\n\r\n");
  EXPECT_EQ(HeaderOf(wire, "content-type"), "text/event-stream");
  EXPECT_EQ(HeaderOf(wire, "transfer-encoding"), "chunked");
  EXPECT_NE(wire.find("\r\ndata: {\"n\":1}\n\n\r\n"), std::string::npos);
  EXPECT_NE(wire.find("event: update\ndata: two\ndata: lines\n\n"), std::string::npos);

  HttpClient client;
  std::vector<SseEvent> events;
  SseParser parser([&](const SseEvent& e) { events.push_back(e); });
  auto r = client.FetchStreaming({"GET", Url("/sse"), {}, ""},
                                 [&](std::string_view piece) { return parser.Feed(piece); });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].data, "{\"n\":1}");
  EXPECT_EQ(events[1].event, "update");
  EXPECT_EQ(events[1].data, "two\nlines");
  EXPECT_EQ(events[2].data, "[DONE]");
}

TEST_F(StreamTest, ClientDisconnectDuringStreamFiresCloseWithin100ms) {
  RawConnection c(port());
  ASSERT_TRUE(c.Send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto held = held_.Take();
  ASSERT_TRUE(held.has_value());
  Mailbox<Clock::time_point> closed_at;
  held->writer->OnClose([&] { closed_at.Put(Clock::now()); });
  ASSERT_TRUE(held->writer->BeginEventStream());
  ASSERT_TRUE(held->writer->WriteEvent("token"));
  c.ReadUntilContains("data: token");
  auto disconnected = Clock::now();
  c.Close();
  auto fired = closed_at.Take(1000ms);
  ASSERT_TRUE(fired.has_value()) << "close callback did not run";
  EXPECT_LT(*fired - disconnected, 100ms);
  EXPECT_TRUE(held->writer->IsClosed());
  EXPECT_FALSE(held->writer->WriteEvent("more"));
  EXPECT_TRUE(WaitFor([&] { return server_->Stats().active_connections == 0; }));
}

TEST_F(StreamTest, ClientDisconnectBeforeAnyResponseFiresClose) {
  RawConnection c(port());
  ASSERT_TRUE(c.Send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto held = held_.Take();
  ASSERT_TRUE(held.has_value());
  Mailbox<bool> closed;
  held->writer->OnClose([&] { closed.Put(true); });
  auto disconnected = Clock::now();
  c.Close();
  ASSERT_TRUE(closed.Take(1000ms).has_value());
  EXPECT_LT(Clock::now() - disconnected, 100ms);
  EXPECT_FALSE(held->writer->Send(200, {}, "too late"));
  // Registering after the close runs the callback at once.
  bool late = false;
  held->writer->OnClose([&] { late = true; });
  EXPECT_TRUE(late);
}

TEST_F(StreamTest, SlowClientIsDisconnectedAndWriteReturnsFalse) {
  HttpServerOptions o = TestOptions();
  o.max_queued_bytes_per_response = 64 * 1024;
  StartServer(o);
  RawConnection c(port());
  c.SetSmallReceiveBuffer();
  ASSERT_TRUE(c.Send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto held = held_.Take();
  ASSERT_TRUE(held.has_value());
  Mailbox<bool> closed;
  held->writer->OnClose([&] { closed.Put(true); });
  ASSERT_TRUE(held->writer->BeginStream(200, {}));
  std::string chunk(16 * 1024, 'x');
  bool refused = false;
  for (int i = 0; i < 20000 && !refused; ++i) {  // at most ~320 MB: far past any socket buffer
    refused = !held->writer->Write(chunk);
    if (i % 64 == 0) std::this_thread::yield();
  }
  EXPECT_TRUE(refused);
  EXPECT_TRUE(closed.Take(2000ms).has_value());
  EXPECT_TRUE(held->writer->IsClosed());
}

TEST_F(StreamTest, ProducerAbortCutsTheStream) {
  HttpClient client;
  Mailbox<Status> done;
  ClientCallbacks callbacks;
  callbacks.on_complete = [&](const Status& s) { done.Put(s); };
  client.Start({"GET", Url("/hold"), {}, ""}, callbacks);
  auto held = held_.Take();
  ASSERT_TRUE(held.has_value());
  held->writer->BeginStream(200, {});
  held->writer->Write("partial");
  held->writer->Abort();
  auto status = done.Take();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->code(), StatusCode::kUnavailable);  // truncated, never a clean end
}

TEST_F(StreamTest, Http10StreamEndsWithClose) {
  RawConnection c(port());
  ASSERT_TRUE(c.Send("GET /sse HTTP/1.0\r\n\r\n"));
  std::string wire = c.ReadUntilClosed();
  EXPECT_TRUE(c.peer_closed());
  EXPECT_EQ(HeaderOf(wire, "transfer-encoding"), "");
  EXPECT_EQ(BodyOf(wire),
            FormatSseEvent("{\"n\":1}") + FormatSseEvent("two\nlines", "update") + FormatSseEvent("[DONE]"));
}

TEST_F(StreamTest, GracefulShutdownFinishesInFlightStreamAndRefusesNewConnections) {
  RawConnection idle(port());  // an idle keep-alive connection is closed at once
  ASSERT_TRUE(idle.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_EQ(StatusOf(idle.ReadResponse()), 200);

  RawConnection c(port());
  ASSERT_TRUE(c.Send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto held = held_.Take();
  ASSERT_TRUE(held.has_value());
  bool aborted = false;
  held->writer->OnClose([&] { aborted = true; });
  ASSERT_TRUE(held->writer->BeginStream(200, {}));
  ASSERT_TRUE(held->writer->Write("before"));
  c.ReadUntilContains("before");

  auto start = Clock::now();
  server_->Shutdown(5000ms);
  EXPECT_TRUE(server_->draining());
  idle.ReadUntilClosed(1000ms);
  EXPECT_TRUE(idle.peer_closed());
  EXPECT_TRUE(WaitFor([&] { return RawConnection(port()).connect_errno() == ECONNREFUSED; }, 1000ms));

  ASSERT_TRUE(held->writer->Write("during"));
  ASSERT_TRUE(held->writer->End());
  std::string wire = c.ReadUntilClosed();
  EXPECT_TRUE(c.peer_closed());
  EXPECT_NE(wire.find("during"), std::string::npos);
  EXPECT_NE(wire.find("\r\n0\r\n\r\n"), std::string::npos);  // the stream ended cleanly
  server_->Wait();
  EXPECT_LT(Clock::now() - start, 3000ms);  // well before the grace period: nothing was left
  EXPECT_FALSE(aborted);
}

TEST_F(StreamTest, ShutdownGraceExpiryClosesWhatIsLeft) {
  RawConnection c(port());
  ASSERT_TRUE(c.Send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto held = held_.Take();
  ASSERT_TRUE(held.has_value());
  Mailbox<bool> closed;
  held->writer->OnClose([&] { closed.Put(true); });
  ASSERT_TRUE(held->writer->BeginStream(200, {}));
  auto start = Clock::now();
  server_->Shutdown(200ms);
  server_->Wait();
  auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 150ms);
  EXPECT_LT(elapsed, 2000ms);
  EXPECT_TRUE(closed.Take(100ms).has_value());
  std::string wire = c.ReadUntilClosed();
  EXPECT_TRUE(c.peer_closed());
  EXPECT_EQ(wire.find("\r\n0\r\n\r\n"), std::string::npos);  // cut off, not a clean end
  EXPECT_FALSE(held->writer->Write("late"));
}

TEST_F(StreamTest, SigtermStopsTheServer) {
  ASSERT_TRUE(server_->InstallSignalHandlers(1000ms).ok());
  RawConnection c(port());
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_EQ(StatusOf(c.ReadResponse()), 200);
  auto start = Clock::now();
  ASSERT_EQ(std::raise(SIGTERM), 0);
  server_->Wait();
  EXPECT_TRUE(server_->draining());
  EXPECT_LT(Clock::now() - start, 2000ms);
  c.ReadUntilClosed(1000ms);
  EXPECT_TRUE(c.peer_closed());
}

}  // namespace
}  // namespace meridian::http::testing
