// The little HTTP/1.1 the admin endpoint speaks: one GET request per connection, strict
// limits, a proper 4xx for anything else. Parsing is a pure function, so that it can be
// tested and fuzzed without sockets.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace parkway::proxy::http {

inline constexpr size_t kMaxRequestBytes = 8192;  // request line and headers together
inline constexpr size_t kMaxTargetBytes = 2048;

struct Request {
  std::string method;
  std::string target;   // the path, query string included
  std::string version;  // "HTTP/1.1" or "HTTP/1.0"
};

enum class Parse {
  complete,            // *out is set; `consumed` bytes made the request
  incomplete,          // need more bytes (and the buffer is not over the limit yet)
  bad_request,         // 400: not HTTP/1.x request syntax, bad header, or a body
  target_too_long,     // 414
  too_large,           // 431: request line and headers over kMaxRequestBytes
  version_unsupported  // 505
};

// Parses the request at the start of `buf`. A request may have headers but no body
// (Content-Length other than 0, or Transfer-Encoding, is bad_request: GET has no body).
Parse parse_request(std::string_view buf, Request* out, size_t* consumed);

// A complete response with Content-Length and "Connection: close".
std::string response(int status, std::string_view content_type, std::string_view body,
                     std::string_view extra_headers = {});
std::string_view reason_phrase(int status);

}  // namespace parkway::proxy::http
