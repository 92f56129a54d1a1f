// Router dispatch.
#include "http/router.h"

#include "http/status_codes.h"

namespace meridian::http {

void Router::Handle(std::string method, std::string path, Handler handler) {
  auto& routes = routes_[std::move(path)];
  for (auto& route : routes) {
    if (route.method == method) {
      route.handler = std::move(handler);
      return;
    }
  }
  routes.push_back({std::move(method), std::move(handler)});
}

void Router::Dispatch(Request request, std::shared_ptr<ResponseWriter> writer) const {
  auto it = routes_.find(request.path);
  if (it == routes_.end()) {
    if (fallback_) {
      fallback_(std::move(request), std::move(writer));
      return;
    }
    writer->SendError(status::kNotFound, "no route for " + request.path);
    return;
  }
  const Handler* get_handler = nullptr;
  for (const auto& route : it->second) {
    if (route.method == request.method) {
      route.handler(std::move(request), std::move(writer));
      return;
    }
    if (route.method == "GET") get_handler = &route.handler;
  }
  if (request.method == "HEAD" && get_handler) {
    (*get_handler)(std::move(request), std::move(writer));
    return;
  }
  std::string allow;
  bool has_head = false;
  for (const auto& route : it->second) {
    if (!allow.empty()) allow += ", ";
    allow += route.method;
    has_head = has_head || route.method == "HEAD";
  }
  if (get_handler && !has_head) allow += ", HEAD";
  std::string message =
      "method " + request.method + " is not allowed on " + request.path + "; allowed: " + allow;
  writer->Send(status::kMethodNotAllowed, {{"Allow", allow}, {"Content-Type", "application/json"}},
               ErrorBodyJson(status::kMethodNotAllowed, message));
}

}  // namespace meridian::http
