// Engine events -> HTTP response for one completion request (see generation_call.h).
#include "server/generation_call.h"

#include "http/sse.h"

namespace meridian::server {

namespace {
double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

constexpr std::string_view kDone = "data: [DONE]\n\n";
}  // namespace

std::string_view FinishLabel(engine::FinishReason reason) {
  switch (reason) {
    case engine::FinishReason::kStop: return "stop";
    case engine::FinishReason::kLength: return "length";
    case engine::FinishReason::kCancelled: return "abort";
    case engine::FinishReason::kDeadline: return "timeout";
    case engine::FinishReason::kError: return "error";
    case engine::FinishReason::kNone: return "";
  }
  return "";
}

GenerationCall::GenerationCall(ServerContext& ctx, const ServingEngine& engine, RequestInfo info,
                               std::shared_ptr<http::ResponseWriter> writer, Spec spec,
                               ResponseFormatter formatter)
    : ctx_(ctx),
      engine_(engine),
      info_(std::move(info)),
      writer_(std::move(writer)),
      spec_(spec),
      formatter_(std::move(formatter)) {}

void GenerationCall::Start(ServerContext& ctx, const ServingEngine& engine, RequestInfo info,
                           std::shared_ptr<http::ResponseWriter> writer, Spec spec,
                           ResponseFormatter formatter, engine::GenerationRequest request) {
  std::shared_ptr<GenerationCall> call(
      new GenerationCall(ctx, engine, std::move(info), std::move(writer), spec, std::move(formatter)));
  std::weak_ptr<GenerationCall> weak = call;
  // Runs on an io thread when the client disconnects (or reads too slowly): only posts a cancel.
  call->writer_->OnClose([weak] {
    if (auto c = weak.lock()) {
      c->client_gone_.store(true);
      c->RequestCancel();
    }
  });
  // Engine thread: hand the event to the pump and return at once.
  request.on_event = [call, pump = &ctx.pump()](const engine::GenerationEvent& ev) {
    const auto at = std::chrono::steady_clock::now();
    const bool final = ev.finish != engine::FinishReason::kNone;
    if (!pump->Post([call, ev, at] { call->OnEvent(ev, at); }, final)) {
      // The pump fell too far behind: this request cannot stream correctly any more.
      call->overflowed_.store(true);
      call->RequestCancel();
    }
  };

  Result<uint64_t> id = engine.scheduler().Submit(std::move(request));
  if (id.ok()) {
    call->id_.store(*id);
    if (call->cancel_requested_.load()) engine.scheduler().Cancel(*id);
    return;
  }
  // Not submitted: no event will ever come, so answer here (the handler's thread).
  ApiError error;
  http::Headers headers;
  switch (id.status().code()) {
    case StatusCode::kResourceExhausted:
      error.status = 429;
      error.type = "rate_limit_error";
      error.code = "queue_full";
      error.message = "the server is at capacity: " + id.status().message();
      headers.Add("Retry-After", std::to_string(RetryAfterSeconds(&engine)));
      break;
    case StatusCode::kInvalidArgument: error = BadRequest(id.status().message(), "max_tokens"); break;
    case StatusCode::kUnavailable:
      error.status = 503;
      error.type = "server_error";
      error.code = "shutting_down";
      error.message = id.status().message();
      headers.Add("Retry-After", "1");
      break;
    default:
      error.status = 500;
      error.type = "server_error";
      error.message = "the engine refused the request: " + id.status().message();
      break;
  }
  AnswerError(ctx, call->info_, *call->writer_, error, std::move(headers));
  call->writer_.reset();
}

void GenerationCall::RequestCancel() {
  cancel_requested_.store(true);
  if (const uint64_t id = id_.load(); id != 0) engine_.scheduler().Cancel(id);
}

void GenerationCall::OnEvent(const engine::GenerationEvent& ev, std::chrono::steady_clock::time_point now) {
  if (ev.completion_tokens > tokens_seen_) {
    if (tokens_seen_ == 0) {
      ttft_s_ = Seconds(now - info_.received_at);
    } else {
      ctx_.metrics().ObserveInterTokenLatency(Seconds(now - last_token_at_));
    }
    tokens_seen_ = ev.completion_tokens;
    last_token_at_ = now;
  }
  if (ev.finish != engine::FinishReason::kNone) {
    OnFinal(ev);
    return;
  }
  if (!writer_ || cancel_requested_.load()) return;  // the cancel lands on the next engine step
  if (spec_.stream) {
    OnStreamEvent(ev);
  } else {
    text_ += ev.text;
  }
}

void GenerationCall::OnStreamEvent(const engine::GenerationEvent& ev) {
  bool first_chunk = false;
  if (!started_) {
    // Headers go out with the first token, so that a request that dies in the queue can still be
    // answered with a status (and retried by a gateway before any byte reached the client).
    if (!writer_->BeginEventStream()) {
      RequestCancel();
      return;
    }
    started_ = true;
    first_chunk = true;
  }
  if (ev.text.empty() && !(first_chunk && spec_.chat)) return;
  std::string event;
  formatter_.AppendChunkEvent(event, ev.text, first_chunk, {}, spec_.include_usage);
  if (!writer_->Write(event)) RequestCancel();
}

// Every outcome is recorded (metrics, log line) before the last byte goes out, so a client that
// reads /metrics right after its response ends sees its own request counted.
void GenerationCall::OnFinal(const engine::GenerationEvent& ev) {
  const std::string_view finish = FinishLabel(ev.finish);
  const Usage usage{ev.prompt_tokens, ev.completion_tokens};
  if (!writer_) return;  // already answered
  const bool gone = client_gone_.load() || writer_->IsClosed();
  switch (ev.finish) {
    case engine::FinishReason::kStop:
    case engine::FinishReason::kLength: {
      if (gone) {
        Record(499, ev, "abort", {});
        break;
      }
      if (!spec_.stream) {
        text_ += ev.text;
        Record(200, ev, finish, {});
        writer_->SendJson(200, formatter_.Complete(text_, finish, usage));
        break;
      }
      const bool first_chunk = !started_;
      if (!started_) started_ = writer_->BeginEventStream();
      std::string out;
      formatter_.AppendChunkEvent(out, ev.text, first_chunk, finish, spec_.include_usage);
      if (spec_.include_usage) out += http::FormatSseEvent(formatter_.UsageChunk(usage));
      out += kDone;
      Record(200, ev, finish, {});
      writer_->Write(out);
      writer_->End();
      break;
    }
    case engine::FinishReason::kCancelled:
      if (overflowed_.load() && !gone) {
        ApiError e{503,
                   "the server is overloaded and could not deliver this response; retry later",
                   "server_error",
                   {},
                   "overloaded"};
        Record(started_ ? 200 : 503, ev, "error", e.code);
        FailWith(e, RetryAfterSeconds(&engine_));
      } else if (gone || cancel_requested_.load()) {
        Record(499, ev, finish, {});
      } else {
        ApiError e{
            503, "the server is shutting down; retry on another server", "server_error", {}, "shutting_down"};
        Record(started_ ? 200 : 503, ev, finish, e.code);
        FailWith(e, 1);
      }
      break;
    case engine::FinishReason::kDeadline: {
      const std::string timeout = std::to_string(static_cast<long long>(ctx_.options().request_timeout_s));
      ApiError e;
      e.type = "server_error";
      int retry_after = 0;
      if (ev.completion_tokens == 0 && !started_) {
        e.status = 503;
        e.code = "queue_timeout";
        e.message =
            "the request waited past its deadline (" + timeout + " s) before generation started; retry later";
        retry_after = RetryAfterSeconds(&engine_);
      } else {
        e.status = 504;
        e.code = "timeout";
        e.message =
            "the request passed its deadline of " + timeout + " s (--request-timeout) while generating";
      }
      if (gone) {
        Record(499, ev, finish, e.code);
      } else {
        Record(started_ ? 200 : e.status, ev, finish, e.code);
        FailWith(e, retry_after);
      }
      break;
    }
    case engine::FinishReason::kError:
    case engine::FinishReason::kNone: {
      ApiError e{500, "generation failed: " + ev.error.message(), "server_error", {}, "engine_error"};
      if (gone) {
        Record(499, ev, "error", e.code);
      } else {
        Record(started_ ? 200 : 500, ev, "error", e.code);
        FailWith(e, 0);
      }
      break;
    }
  }
  writer_.reset();
}

void GenerationCall::FailWith(const ApiError& error, int retry_after) {
  if (!started_) {
    http::Headers headers{{"Content-Type", "application/json"}};
    if (retry_after > 0) headers.Add("Retry-After", std::to_string(retry_after));
    writer_->Send(error.status, std::move(headers), ApiErrorJson(error));
    return;
  }
  // Mid-stream: OpenAI clients raise an APIError on an error event; [DONE] ends the stream cleanly.
  std::string out = http::FormatSseEvent(ApiErrorJson(error));
  out += kDone;
  writer_->Write(out);
  writer_->End();
}

void GenerationCall::Record(int status, const engine::GenerationEvent& ev, std::string_view finish,
                            std::string_view error_code) {
  RequestRecord rec = info_.Record(status);
  rec.generation = true;
  rec.stream = spec_.stream;
  rec.prompt_tokens = ev.prompt_tokens;
  rec.completion_tokens = ev.completion_tokens;
  rec.finish_reason = finish;
  rec.error_code = error_code;
  rec.queue_seconds = ev.queue_seconds;
  rec.ttft_seconds = ttft_s_;
  ctx_.metrics().RecordRequest(rec);
  LogRequest(rec);
}

}  // namespace meridian::server
