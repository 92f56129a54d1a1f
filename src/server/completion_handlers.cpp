// POST /v1/chat/completions and POST /v1/completions: validate, build the prompt, check it
// against the context, and hand the request to the scheduler through a GenerationCall.
#include <algorithm>
#include <chrono>

#include "server/api_handlers.h"
#include "server/generation_call.h"

namespace meridian::server {

namespace {

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ApiError ContextExceeded(int32_t context, size_t prompt_tokens, int64_t max_tokens, bool chat) {
  const char* where = chat ? "messages" : "prompt";
  ApiError e = BadRequest({}, chat ? "messages" : "prompt", "context_length_exceeded");
  if (max_tokens <= 0) {
    e.message = "This model's maximum context length is " + std::to_string(context) +
                " tokens. However, your " + where + " resulted in " + std::to_string(prompt_tokens) +
                " tokens. Please reduce the length of the " + where + ".";
  } else {
    e.message = "This model's maximum context length is " + std::to_string(context) +
                " tokens. However, you requested " +
                std::to_string(static_cast<int64_t>(prompt_tokens) + max_tokens) + " tokens (" +
                std::to_string(prompt_tokens) + " in the " + where + ", " + std::to_string(max_tokens) +
                " in the completion). Please reduce the length of the " + where + " or completion.";
    e.param = "max_tokens";
  }
  return e;
}

// Everything the two endpoints share once the prompt is known.
void Submit(ServerContext& ctx, const ServingEngine& engine, RequestInfo info,
            std::shared_ptr<http::ResponseWriter> writer, const GenerationOptions& opts,
            std::vector<int32_t> prompt, bool chat) {
  const int32_t context = engine.context_length();
  if (prompt.empty()) {
    AnswerError(ctx, info, *writer,
                BadRequest("the prompt is empty after tokenization", chat ? "messages" : "prompt"));
    return;
  }
  if (prompt.size() >= static_cast<size_t>(context)) {
    AnswerError(ctx, info, *writer, ContextExceeded(context, prompt.size(), 0, chat));
    return;
  }
  const int32_t room = context - static_cast<int32_t>(prompt.size());
  int32_t max_tokens;
  if (opts.max_tokens) {
    if (*opts.max_tokens > room) {
      AnswerError(ctx, info, *writer, ContextExceeded(context, prompt.size(), *opts.max_tokens, chat));
      return;
    }
    max_tokens = *opts.max_tokens;
  } else {
    max_tokens = engine.default_max_tokens() > 0 ? std::min(engine.default_max_tokens(), room) : room;
  }

  engine::GenerationRequest request;
  request.prompt = std::move(prompt);
  request.sampling = opts.sampling;
  request.sampling.seed = opts.seed ? *opts.seed : ctx.NextSeed();
  request.max_tokens = max_tokens;
  request.stop = opts.stop;
  const auto timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(std::clamp(ctx.options().request_timeout_s, 0.001, 1e7)));
  request.deadline = info.received_at + timeout;

  GenerationCall::Spec spec{chat, opts.stream, opts.include_usage};
  ResponseFormatter formatter(chat, info.request_id, engine.model_id(), UnixNow());
  GenerationCall::Start(ctx, engine, std::move(info), std::move(writer), spec, std::move(formatter),
                        std::move(request));
}

ApiError PromptError(const Status& status, const char* param) {
  ApiError e = BadRequest(status.message(), param);
  if (status.code() == StatusCode::kResourceExhausted) e.code = "template_limit";
  return e;
}

void HandleChat(ServerContext& ctx, http::Request request, std::shared_ptr<http::ResponseWriter> writer) {
  RequestInfo info = RequestInfo::From(request, "chat");
  if (!Authorize(ctx, info, request, *writer)) return;
  const ServingEngine* engine = RequireEngine(ctx, info, *writer);
  if (!engine) return;
  ChatCompletionRequest chat;
  if (auto e = ParseChatCompletionRequest(request.body, engine->limits(), &chat)) {
    AnswerError(ctx, info, *writer, *e);
    return;
  }
  if (auto e = CheckModel(*engine, chat.options.model)) {
    AnswerError(ctx, info, *writer, *e);
    return;
  }
  size_t content_bytes = 0;
  for (const auto& m : chat.messages) content_bytes += m.content.size();
  if (content_bytes > engine->max_prompt_bytes()) {
    AnswerError(ctx, info, *writer,
                BadRequest("the messages are far longer than the model's context of " +
                               std::to_string(engine->context_length()) + " tokens",
                           "messages", "context_length_exceeded"));
    return;
  }
  auto tokens = engine->prompts().Chat(chat.messages, /*add_generation_prompt=*/true);
  if (!tokens.ok()) {
    AnswerError(ctx, info, *writer, PromptError(tokens.status(), "messages"));
    return;
  }
  Submit(ctx, *engine, std::move(info), std::move(writer), chat.options, std::move(*tokens), /*chat=*/true);
}

void HandleCompletion(ServerContext& ctx, http::Request request,
                      std::shared_ptr<http::ResponseWriter> writer) {
  RequestInfo info = RequestInfo::From(request, "completions");
  if (!Authorize(ctx, info, request, *writer)) return;
  const ServingEngine* engine = RequireEngine(ctx, info, *writer);
  if (!engine) return;
  CompletionRequest completion;
  if (auto e = ParseCompletionRequest(request.body, engine->limits(), &completion)) {
    AnswerError(ctx, info, *writer, *e);
    return;
  }
  if (auto e = CheckModel(*engine, completion.options.model)) {
    AnswerError(ctx, info, *writer, *e);
    return;
  }
  std::vector<int32_t> tokens;
  if (completion.token_prompt) {
    tokens = std::move(completion.prompt_tokens);
  } else {
    if (completion.prompt.size() > engine->max_prompt_bytes()) {
      AnswerError(ctx, info, *writer,
                  BadRequest("the prompt is far longer than the model's context of " +
                                 std::to_string(engine->context_length()) + " tokens",
                             "prompt", "context_length_exceeded"));
      return;
    }
    auto encoded = engine->prompts().Text(completion.prompt, /*add_special=*/true);
    if (!encoded.ok()) {
      AnswerError(ctx, info, *writer, PromptError(encoded.status(), "prompt"));
      return;
    }
    tokens = std::move(*encoded);
  }
  Submit(ctx, *engine, std::move(info), std::move(writer), completion.options, std::move(tokens),
         /*chat=*/false);
}

}  // namespace

void RegisterCompletionRoutes(http::Router& router, ServerContext& ctx) {
  router.Post("/v1/chat/completions", [&ctx](http::Request r, std::shared_ptr<http::ResponseWriter> w) {
    HandleChat(ctx, std::move(r), std::move(w));
  });
  router.Post("/v1/completions", [&ctx](http::Request r, std::shared_ptr<http::ResponseWriter> w) {
    HandleCompletion(ctx, std::move(r), std::move(w));
  });
}

}  // namespace meridian::server
