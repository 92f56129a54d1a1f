// GET /v1/models, POST /tokenize, POST /detokenize, GET /health, GET /ready, GET /metrics, the
// 404 fallback, and the checks every API handler shares (API key, model loaded, model name).
#include <cstdio>

#include "core/log.h"
#include "server/api_handlers.h"
#include "server/openai_response.h"

namespace meridian::server {

namespace {

using Writer = std::shared_ptr<http::ResponseWriter>;

void AppendNumber(std::string& out, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  out += buf;
}

void HandleModels(ServerContext& ctx, const http::Request& request, const Writer& writer) {
  RequestInfo info = RequestInfo::From(request, "models");
  if (!Authorize(ctx, info, request, *writer)) return;
  const ServingEngine* engine = RequireEngine(ctx, info, *writer);
  if (!engine) return;
  Answer(ctx, info, *writer, 200,
         ModelListJson(engine->model_id(), engine->created(), engine->context_length()));
}

// GET /v1/models/{id}: the one model, or 404.
void HandleModel(ServerContext& ctx, const http::Request& request, const Writer& writer,
                 std::string_view id) {
  RequestInfo info = RequestInfo::From(request, "models");
  if (!Authorize(ctx, info, request, *writer)) return;
  const ServingEngine* engine = RequireEngine(ctx, info, *writer);
  if (!engine) return;
  if (auto e = CheckModel(*engine, std::string(id.empty() ? "/" : id))) {
    AnswerError(ctx, info, *writer, *e);
    return;
  }
  std::string body = ModelListJson(engine->model_id(), engine->created(), engine->context_length());
  // The list's only entry: {"object":"list","data":[ENTRY]} -> ENTRY.
  const size_t begin = body.find('[') + 1;
  Answer(ctx, info, *writer, 200, body.substr(begin, body.size() - begin - 2));
}

void HandleTokenize(ServerContext& ctx, const http::Request& request, const Writer& writer) {
  RequestInfo info = RequestInfo::From(request, "tokenize");
  if (!Authorize(ctx, info, request, *writer)) return;
  const ServingEngine* engine = RequireEngine(ctx, info, *writer);
  if (!engine) return;
  TokenizeRequest t;
  if (auto e = ParseTokenizeRequest(request.body, engine->limits(), &t)) {
    AnswerError(ctx, info, *writer, *e);
    return;
  }
  if (auto e = CheckModel(*engine, t.model)) {
    AnswerError(ctx, info, *writer, *e);
    return;
  }
  auto tokens = t.chat ? engine->prompts().Chat(t.messages, t.add_generation_prompt)
                       : engine->prompts().Text(t.prompt, t.add_special_tokens);
  if (!tokens.ok()) {
    AnswerError(ctx, info, *writer, BadRequest(tokens.status().message(), t.chat ? "messages" : "prompt"));
    return;
  }
  std::string body = "{\"count\":" + std::to_string(tokens->size()) +
                     ",\"max_model_len\":" + std::to_string(engine->context_length()) + ",\"tokens\":[";
  for (size_t i = 0; i < tokens->size(); ++i) {
    if (i) body += ',';
    body += std::to_string((*tokens)[i]);
  }
  body += "]}";
  Answer(ctx, info, *writer, 200, std::move(body));
}

void HandleDetokenize(ServerContext& ctx, const http::Request& request, const Writer& writer) {
  RequestInfo info = RequestInfo::From(request, "detokenize");
  if (!Authorize(ctx, info, request, *writer)) return;
  const ServingEngine* engine = RequireEngine(ctx, info, *writer);
  if (!engine) return;
  DetokenizeRequest d;
  if (auto e = ParseDetokenizeRequest(request.body, engine->limits(), &d)) {
    AnswerError(ctx, info, *writer, *e);
    return;
  }
  if (auto e = CheckModel(*engine, d.model)) {
    AnswerError(ctx, info, *writer, *e);
    return;
  }
  // Decode may end inside a multi-byte character; IncrementalDetokenizer's Flush turns such
  // bytes into U+FFFD so the JSON stays valid UTF-8.
  engine::IncrementalDetokenizer detok(engine->model().tokenizer());
  std::string text;
  for (int32_t id : d.tokens) text += detok.Push(id);
  text += detok.Flush();
  std::string body = "{\"prompt\":";
  log::AppendJsonString(body, text);
  body += '}';
  Answer(ctx, info, *writer, 200, std::move(body));
}

void HandleHealth(ServerContext& ctx, const http::Request& request, const Writer& writer) {
  RequestInfo info = RequestInfo::From(request, "health");
  Answer(ctx, info, *writer, 200, "{\"status\":\"ok\"}");
}

// The load report: 200 only when the model is loaded, the server is not draining and its
// waiting queue has room. The gateway reads the body whatever the status.
void HandleReady(ServerContext& ctx, const http::Request& request, const Writer& writer) {
  RequestInfo info = RequestInfo::From(request, "ready");
  const ServingEngine* engine = ctx.engine();
  engine::LoadReport load;
  if (engine) load = engine->scheduler().Load();
  // The scheduler's own verdict: the next request would be refused (queue limit past free slots).
  const char* status = !engine ? "loading" : ctx.draining() ? "draining" : load.saturated ? "saturated" : "ready";
  const bool ready = std::string_view(status) == "ready";
  std::string body = "{\"ready\":";
  body += ready ? "true" : "false";
  body += ",\"status\":\"";
  body += status;
  body += "\",\"model\":";
  log::AppendJsonString(body, engine ? std::string_view(engine->model_id()) : std::string_view());
  body += ",\"running\":" + std::to_string(load.running);
  body += ",\"waiting\":" + std::to_string(load.waiting);
  body += ",\"max_running\":" + std::to_string(ctx.options().parallel);
  body += ",\"max_waiting\":" + std::to_string(ctx.options().queue);
  body += ",\"kv_blocks_free\":" + std::to_string(load.kv_blocks_free);
  body += ",\"kv_blocks_total\":" + std::to_string(load.kv_blocks_total);
  body += ",\"estimated_queue_wait_ms\":";
  AppendNumber(body, load.estimated_queue_wait_ms);
  body += ",\"prefill_tokens_per_second\":";
  AppendNumber(body, load.prefill_tok_s);
  body += ",\"decode_tokens_per_second\":";
  AppendNumber(body, load.decode_tok_s);
  body += '}';
  http::Headers headers{{"Cache-Control", "no-store"}};
  if (!ready) headers.Add("Retry-After", "1");
  Answer(ctx, info, *writer, ready ? 200 : 503, std::move(body), std::move(headers));
}

void HandleMetrics(ServerContext& ctx, const http::Request& request, const Writer& writer) {
  RequestInfo info = RequestInfo::From(request, "metrics");
  Answer(ctx, info, *writer, 200, ctx.registry().Expose(),
         {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}});
}

void HandleFallback(ServerContext& ctx, const http::Request& request, const Writer& writer) {
  constexpr std::string_view kModelPrefix = "/v1/models/";
  if (request.path.compare(0, kModelPrefix.size(), kModelPrefix) == 0 &&
      (request.method == "GET" || request.method == "HEAD")) {
    auto id = http::PercentDecode(std::string_view(request.path).substr(kModelPrefix.size()), false);
    HandleModel(ctx, request, writer, id ? std::string_view(*id) : std::string_view());
    return;
  }
  RequestInfo info = RequestInfo::From(request, "other");
  ApiError e;
  e.status = 404;
  e.code = "not_found";
  e.message =
      "no route for " + request.method + " " + request.path +
      "; see docs/server.md for the endpoints (/v1/chat/completions, /v1/completions, /v1/models, ...)";
  AnswerError(ctx, info, *writer, e);
}

}  // namespace

bool Authorize(ServerContext& ctx, const RequestInfo& info, const http::Request& request,
               http::ResponseWriter& writer) {
  if (!ctx.keys().enabled()) return true;
  const auto header = request.headers.Get("authorization");
  if (header && ctx.keys().Check(*header)) return true;
  ApiError e;
  e.status = 401;
  e.code = "invalid_api_key";
  e.message = header ? "Incorrect API key provided. Send a valid key as 'Authorization: Bearer <key>'."
                     : "Missing API key. Send it as 'Authorization: Bearer <key>'.";
  AnswerError(ctx, info, writer, e, {{"WWW-Authenticate", "Bearer"}});
  return false;
}

const ServingEngine* RequireEngine(ServerContext& ctx, const RequestInfo& info,
                                   http::ResponseWriter& writer) {
  if (const ServingEngine* engine = ctx.engine()) return engine;
  ApiError e{503, "the model is still loading; retry shortly", "server_error", {}, "model_loading"};
  AnswerError(ctx, info, writer, e, {{"Retry-After", "1"}});
  return nullptr;
}

std::optional<ApiError> CheckModel(const ServingEngine& engine, const std::string& model) {
  if (model.empty() || model == engine.model_id()) return std::nullopt;
  ApiError e;
  e.status = 404;
  e.param = "model";
  e.code = "model_not_found";
  std::string shown = model.size() > 128 ? model.substr(0, 128) + "..." : model;
  e.message = "The model `" + shown + "` does not exist. This server serves `" + engine.model_id() +
              "` (see GET /v1/models).";
  return e;
}

void RegisterInfoRoutes(http::Router& router, ServerContext& ctx) {
  auto bind = [&ctx](void (*fn)(ServerContext&, const http::Request&, const Writer&)) {
    return [&ctx, fn](http::Request r, Writer w) { fn(ctx, r, w); };
  };
  router.Get("/v1/models", bind(HandleModels));
  router.Post("/tokenize", bind(HandleTokenize));
  router.Post("/detokenize", bind(HandleDetokenize));
  router.Get("/health", bind(HandleHealth));
  router.Get("/ready", bind(HandleReady));
  router.Get("/metrics", bind(HandleMetrics));
  router.SetFallback(bind(HandleFallback));
}

void RegisterApiRoutes(http::Router& router, ServerContext& ctx) {
  RegisterCompletionRoutes(router, ctx);
  RegisterInfoRoutes(router, ctx);
}

}  // namespace meridian::server
