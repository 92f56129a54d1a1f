// Reason phrases (RFC 9110 section 15) and snake_case error codes for HTTP statuses.
#include "http/status_codes.h"

namespace meridian::http {
namespace {

struct StatusName {
  int status;
  std::string_view phrase;
  std::string_view code;
};

constexpr StatusName kStatusNames[] = {
    {100, "Continue", "continue"},
    {101, "Switching Protocols", "switching_protocols"},
    {200, "OK", "ok"},
    {201, "Created", "created"},
    {202, "Accepted", "accepted"},
    {204, "No Content", "no_content"},
    {206, "Partial Content", "partial_content"},
    {301, "Moved Permanently", "moved_permanently"},
    {302, "Found", "found"},
    {303, "See Other", "see_other"},
    {304, "Not Modified", "not_modified"},
    {307, "Temporary Redirect", "temporary_redirect"},
    {308, "Permanent Redirect", "permanent_redirect"},
    {400, "Bad Request", "bad_request"},
    {401, "Unauthorized", "unauthorized"},
    {403, "Forbidden", "forbidden"},
    {404, "Not Found", "not_found"},
    {405, "Method Not Allowed", "method_not_allowed"},
    {406, "Not Acceptable", "not_acceptable"},
    {408, "Request Timeout", "request_timeout"},
    {409, "Conflict", "conflict"},
    {410, "Gone", "gone"},
    {411, "Length Required", "length_required"},
    {412, "Precondition Failed", "precondition_failed"},
    {413, "Content Too Large", "payload_too_large"},
    {414, "URI Too Long", "uri_too_long"},
    {415, "Unsupported Media Type", "unsupported_media_type"},
    {416, "Range Not Satisfiable", "range_not_satisfiable"},
    {417, "Expectation Failed", "expectation_failed"},
    {422, "Unprocessable Content", "unprocessable_content"},
    {426, "Upgrade Required", "upgrade_required"},
    {429, "Too Many Requests", "too_many_requests"},
    {431, "Request Header Fields Too Large", "request_header_fields_too_large"},
    {499, "Client Closed Request", "client_closed_request"},
    {500, "Internal Server Error", "internal_server_error"},
    {501, "Not Implemented", "not_implemented"},
    {502, "Bad Gateway", "bad_gateway"},
    {503, "Service Unavailable", "service_unavailable"},
    {504, "Gateway Timeout", "gateway_timeout"},
    {505, "HTTP Version Not Supported", "http_version_not_supported"},
};

const StatusName* Find(int status) {
  for (const auto& s : kStatusNames) {
    if (s.status == status) return &s;
  }
  return nullptr;
}

}  // namespace

std::string_view ReasonPhrase(int status) {
  const StatusName* s = Find(status);
  return s ? s->phrase : std::string_view("Unknown");
}

std::string_view StatusErrorCode(int status) {
  const StatusName* s = Find(status);
  return s ? s->code : std::string_view("http_error");
}

}  // namespace meridian::http
