// The admin endpoint's HTTP request parser: what it accepts, what it refuses and why.
#include "proxy/ops/http.h"

#include <catch2/catch.hpp>

using namespace parkway::proxy;

namespace {

http::Parse parse(std::string_view s, http::Request* r = nullptr) {
  http::Request scratch;
  size_t consumed = 0;
  return http::parse_request(s, r ? r : &scratch, &consumed);
}

}  // namespace

TEST_CASE("a complete GET is parsed", "[http]") {
  http::Request r;
  size_t consumed = 0;
  const std::string req = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\nextra";
  REQUIRE(http::parse_request(req, &r, &consumed) == http::Parse::complete);
  CHECK(r.method == "GET");
  CHECK(r.target == "/metrics?x=1");
  CHECK(r.version == "HTTP/1.1");
  CHECK(consumed == req.size() - 5);
  CHECK(parse("GET / HTTP/1.0\r\n\r\n") == http::Parse::complete);
  CHECK(parse("POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n") == http::Parse::complete);
}

TEST_CASE("partial requests ask for more, up to the limit", "[http]") {
  CHECK(parse("") == http::Parse::incomplete);
  CHECK(parse("GET /metrics HTTP/1.1\r\nHost: a\r\n") == http::Parse::incomplete);
  CHECK(parse("GET /" + std::string(http::kMaxRequestBytes, 'a')) == http::Parse::target_too_long);
  CHECK(parse("GET / HTTP/1.1\r\nX: " + std::string(http::kMaxRequestBytes, 'a')) ==
        http::Parse::too_large);
  CHECK(parse("GET / HTTP/1.1\r\nX: " + std::string(http::kMaxRequestBytes, 'a') + "\r\n\r\n") ==
        http::Parse::too_large);
}

TEST_CASE("malformed requests are refused with the right status", "[http]") {
  for (const char* bad :
       {"\r\n\r\n", "GET\r\n\r\n", "GET /\r\n\r\n", " / HTTP/1.1\r\n\r\n", "GET  HTTP/1.1\r\n\r\n",
        "GET x HTTP/1.1\r\n\r\n", "G(T / HTTP/1.1\r\n\r\n", "GET / HTTP/x.y\r\n\r\n",
        "GET / FTP/1.1\r\n\r\n", "GET /\x01 HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET / HTTP/1.1\r\n: empty\r\n\r\n", "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", "GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
        "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"}) {
    INFO(bad);
    CHECK(parse(bad) == http::Parse::bad_request);
  }
  CHECK(parse("GET / HTTP/2.0\r\n\r\n") == http::Parse::version_unsupported);
  CHECK(parse("GET / HTTP/0.9\r\n\r\n") == http::Parse::version_unsupported);
}

TEST_CASE("responses carry length, type and close", "[http]") {
  const std::string r = http::response(405, "text/plain", "no\n", "Allow: GET\r\n");
  CHECK(r.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0) == 0);
  CHECK(r.find("Content-Length: 3\r\n") != std::string::npos);
  CHECK(r.find("Connection: close\r\n") != std::string::npos);
  CHECK(r.find("Allow: GET\r\n") != std::string::npos);
  CHECK(r.substr(r.size() - 7) == "\r\n\r\nno\n");
}
