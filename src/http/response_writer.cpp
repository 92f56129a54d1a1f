// ResponseWriter: the producer-facing handle over a ResponseStream.
#include "http/response_writer.h"

#include "http/response_stream.h"
#include "http/sse.h"

namespace meridian::http {

ResponseWriter::ResponseWriter(std::shared_ptr<ResponseStream> stream, std::string request_id)
    : stream_(std::move(stream)), request_id_(std::move(request_id)) {}

ResponseWriter::~ResponseWriter() {
  if (stream_) stream_->ProducerGone();
}

bool ResponseWriter::Send(int status, Headers headers, std::string body) {
  return stream_->Send(status, std::move(headers), std::move(body));
}

bool ResponseWriter::SendJson(int status, std::string json) {
  return stream_->Send(status, {{"Content-Type", "application/json"}}, std::move(json));
}

bool ResponseWriter::SendError(int status, std::string_view message) {
  return SendJson(status, ErrorBodyJson(status, message));
}

bool ResponseWriter::BeginStream(int status, Headers headers) {
  return stream_->BeginStream(status, std::move(headers));
}

bool ResponseWriter::BeginEventStream(Headers headers) {
  if (!headers.Has("content-type")) headers.Add("Content-Type", "text/event-stream");
  if (!headers.Has("cache-control")) headers.Add("Cache-Control", "no-cache");
  if (!headers.Has("x-accel-buffering")) headers.Add("X-Accel-Buffering", "no");
  return stream_->BeginStream(200, std::move(headers));
}

bool ResponseWriter::Write(std::string_view chunk) {
  return stream_->Write(chunk);
}

bool ResponseWriter::WriteEvent(std::string_view data, std::string_view event) {
  return stream_->Write(FormatSseEvent(data, event));
}

bool ResponseWriter::End() {
  return stream_->End();
}

void ResponseWriter::Abort() {
  stream_->Abort("the producer aborted the response");
}

bool ResponseWriter::IsClosed() const {
  return stream_->IsClosed();
}

bool ResponseWriter::HasStarted() const {
  return stream_->HasStarted();
}

size_t ResponseWriter::QueuedBytes() const {
  return stream_->QueuedBytes();
}

void ResponseWriter::OnClose(std::function<void()> callback) {
  stream_->OnClose(std::move(callback));
}

}  // namespace meridian::http
