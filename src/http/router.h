// Router: exact (method, path) -> handler, with 404, 405 + Allow, HEAD served by GET handlers, and
// an optional fallback handler for paths without a route (the gateway's proxy).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "http/request.h"
#include "http/response_writer.h"

namespace meridian::http {

//! A request handler. It runs on an io thread and must not block: parse and validate the request,
//! hand slow work to a bounded queue (the engine), and return; respond through `writer` now or
//! later from any thread. The request is the handler's to keep or move from. An exception that
//! escapes is caught by the server and answered with 500 (or cuts off a started stream).
using Handler = std::function<void(Request request, std::shared_ptr<ResponseWriter> writer)>;

//! Thread-safety: register every route before the server starts; Dispatch is const and safe to
//! call from many threads at once.
class Router {
 public:
  //! Routes `method` (case-sensitive, e.g. "POST") on exactly `path` (no trailing-slash or
  //! percent-decoding equivalence) to `handler`; a later registration of the same pair replaces it.
  void Handle(std::string method, std::string path, Handler handler);
  void Get(std::string path, Handler handler) { Handle("GET", std::move(path), std::move(handler)); }
  void Post(std::string path, Handler handler) { Handle("POST", std::move(path), std::move(handler)); }
  //! Handles every request whose path has no route (instead of answering 404).
  void SetFallback(Handler handler) { fallback_ = std::move(handler); }

  //! Calls the matching handler; otherwise answers 404, or 405 with an Allow header listing the
  //! path's methods. HEAD falls back to the GET handler (the body is dropped on the way out).
  void Dispatch(Request request, std::shared_ptr<ResponseWriter> writer) const;

 private:
  struct Route {
    std::string method;
    Handler handler;
  };
  std::unordered_map<std::string, std::vector<Route>> routes_;  //!< by path
  Handler fallback_;
};

}  // namespace meridian::http
