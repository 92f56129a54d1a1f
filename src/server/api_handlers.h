// The region server's routes: OpenAI completions (completion_handlers.cpp) and the model list,
// tokenizer, health, readiness and metrics endpoints (info_handlers.cpp).
#pragma once

#include "http/router.h"
#include "server/server_context.h"

namespace meridian::server {

//! Registers every route of `meridian serve` on `router`; the handlers keep a reference to `ctx`,
//! which must outlive the HTTP server.
void RegisterApiRoutes(http::Router& router, ServerContext& ctx);

// Route groups (called by RegisterApiRoutes).
void RegisterCompletionRoutes(http::Router& router, ServerContext& ctx);
void RegisterInfoRoutes(http::Router& router, ServerContext& ctx);

//! Answers 401 and returns false when API keys are on and the request has no valid one.
bool Authorize(ServerContext& ctx, const RequestInfo& info, const http::Request& request,
               http::ResponseWriter& writer);
//! Answers 503 (+ Retry-After) and returns nullptr while the model is loading.
const ServingEngine* RequireEngine(ServerContext& ctx, const RequestInfo& info, http::ResponseWriter& writer);
//! nullopt when `model` is empty or the served id; else the 404 to answer.
std::optional<ApiError> CheckModel(const ServingEngine& engine, const std::string& model);

}  // namespace meridian::server
