#include "proxy/ops/http.h"

#include <algorithm>
#include <cctype>

namespace parkway::proxy::http {
namespace {

bool is_token_char(unsigned char c) {
  // RFC 9110 tchar.
  return std::isalnum(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

// Whether the head has a line ending other than CRLF: a bare LF or a bare CR. Lenient
// servers take a bare LF as a line end; this strict one rejects either at once (RFC 9112
// 2.2 allows both), instead of waiting for a CRLF CRLF that will never come and answering
// 408 after the request timeout.
bool has_bare_line_ending(std::string_view head) {
  for (size_t i = 0; i < head.size(); i++) {
    if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')) return true;
    if (head[i] == '\r' && i + 1 < head.size() && head[i + 1] != '\n') return true;
  }
  return false;
}

Parse parse_request(std::string_view buf, Request* out, size_t* consumed) {
  const size_t end = buf.find("\r\n\r\n");
  if (has_bare_line_ending(buf.substr(0, std::min(end, kMaxRequestBytes + 4)))) {
    return Parse::bad_request;
  }
  if (end == std::string_view::npos) {
    // A request line alone may already be hopeless.
    const size_t line_end = buf.find("\r\n");
    const size_t first_space = buf.find(' ');
    if (first_space != std::string_view::npos) {
      const size_t second_space = buf.find(' ', first_space + 1);
      const size_t target_end = std::min(second_space, line_end);
      if (target_end == std::string_view::npos && buf.size() - first_space - 1 > kMaxTargetBytes) {
        return Parse::target_too_long;
      }
    }
    return buf.size() > kMaxRequestBytes ? Parse::too_large : Parse::incomplete;
  }
  if (end + 4 > kMaxRequestBytes) return Parse::too_large;

  std::string_view head = buf.substr(0, end);
  const size_t line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  std::string_view headers =
      line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);
  // request-line = method SP request-target SP HTTP-version
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return Parse::bad_request;
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return Parse::bad_request;
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  for (unsigned char c : method) {
    if (!is_token_char(c)) return Parse::bad_request;
  }
  if (target.size() > kMaxTargetBytes) return Parse::target_too_long;
  for (unsigned char c : target) {
    if (c <= 0x20 || c >= 0x7f) return Parse::bad_request;
  }
  if (target.front() != '/' && target != "*") return Parse::bad_request;
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" ||
      !std::isdigit(static_cast<unsigned char>(version[5])) || version[6] != '.' ||
      !std::isdigit(static_cast<unsigned char>(version[7]))) {
    return Parse::bad_request;
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return Parse::version_unsupported;

  // Header fields: name ":" OWS value OWS. No obsolete line folding.
  while (!headers.empty()) {
    const size_t e = headers.find("\r\n");
    std::string_view field = headers.substr(0, e);
    headers = e == std::string_view::npos ? std::string_view{} : headers.substr(e + 2);
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) return Parse::bad_request;
    const std::string_view name = field.substr(0, colon);
    for (unsigned char c : name) {
      if (!is_token_char(c)) return Parse::bad_request;
    }
    const std::string_view value = trim(field.substr(colon + 1));
    for (unsigned char c : value) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) return Parse::bad_request;
    }
    if (iequals(name, "Transfer-Encoding")) return Parse::bad_request;
    if (iequals(name, "Content-Length") && value != "0") return Parse::bad_request;
  }
  out->method = std::string(method);
  out->target = std::string(target);
  out->version = std::string(version);
  *consumed = end + 4;
  return Parse::complete;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
  }
  return "Unknown";
}

std::string response(int status, std::string_view content_type, std::string_view body,
                     std::string_view extra_headers) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) +
                  "\r\nContent-Type: " + std::string(content_type) +
                  "\r\nContent-Length: " + std::to_string(body.size()) +
                  "\r\nConnection: close\r\nCache-Control: no-store\r\n";
  r += extra_headers;
  r += "\r\n";
  r += body;
  return r;
}

}  // namespace parkway::proxy::http
