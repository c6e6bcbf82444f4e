// ClientHello inspection (proxy/wire/client_hello.h): real ClientHellos from OpenSSL and
// curl, split at every byte and re-framed into records of every size; synthetic ones for
// each rule; the bound.
#include "proxy/wire/client_hello.h"

#include <catch2/catch.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/proxy/wire_test_data.h"

using namespace parkway::proxy::wire;
using parkway::test::as_bytes;
using parkway::test::load_hex;
using parkway::test::operator""_b;
using namespace std::string_literals;

namespace {

ClientHelloResult inspect(std::string_view s) { return inspect_client_hello(as_bytes(s)); }

std::string be16(std::size_t v) {
  return std::string{static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}
std::string be24(std::size_t v) { return static_cast<char>((v >> 16) & 0xff) + be16(v & 0xffff); }

std::string ext(std::uint16_t type, const std::string& data) {
  return be16(type) + be16(data.size()) + data;
}
std::string sni(const std::string& name) {
  return ext(0, be16(name.size() + 3) + "\x00"_b + be16(name.size()) + name);
}

struct Hello {
  std::string version = "\x03\x03"_b;
  std::string random = std::string(32, 'r');
  std::string session_id = std::string(32, 's');
  std::string suites = "\x13\x01\x13\x02\x00\xff"_b;
  std::string compression = "\x00"_b;
  std::optional<std::string> extensions = ext(0x000a, "\x00\x02\x00\x1d"_b) + sni("example.com");

  std::string body() const {
    std::string b = version + random + static_cast<char>(session_id.size()) + session_id +
                    be16(suites.size()) + suites + static_cast<char>(compression.size()) +
                    compression;
    if (extensions) b += be16(extensions->size()) + *extensions;
    return b;
  }
  std::string message() const { return "\x01"_b + be24(body().size()) + body(); }
};

// `handshake` in records of at most `size` bytes each.
std::string framed(const std::string& handshake, std::size_t size = 16384,
                   const std::string& version = "\x03\x01"_b) {
  std::string out;
  for (std::size_t i = 0; i < handshake.size(); i += size) {
    const std::string part = handshake.substr(i, size);
    out += "\x16"_b + version + be16(part.size()) + part;
  }
  return out;
}

std::string record(std::uint8_t type, const std::string& payload) {
  return static_cast<char>(type) + "\x03\x03"_b + be16(payload.size()) + payload;
}

// The handshake message of a ClientHello in records, and how many records carried it.
std::string handshake_of(const std::string& bytes, std::size_t end, std::size_t* records) {
  std::string hs;
  *records = 0;
  for (std::size_t pos = 0; pos < end;) {
    const std::size_t length =
        (std::size_t(std::uint8_t(bytes[pos + 3])) << 8) | std::uint8_t(bytes[pos + 4]);
    hs += bytes.substr(pos + 5, length);
    pos += 5 + length;
    ++*records;
  }
  const std::size_t message = 4 + ((std::size_t(std::uint8_t(hs[1])) << 16) |
                                   (std::size_t(std::uint8_t(hs[2])) << 8) | std::uint8_t(hs[3]));
  return hs.substr(0, message);
}

// Every prefix answers need_more or what the whole answers, and prefixes from `end` on (the
// ClientHello's last byte) answer what the whole answers.
void check_every_split(const std::string& bytes, const ClientHelloResult& whole) {
  bool decided = false;
  for (std::size_t n = 0; n <= bytes.size(); ++n) {
    const ClientHelloResult r = inspect(std::string_view(bytes).substr(0, n));
    INFO("prefix of " << n << " bytes: " << to_string(r.status) << " " << to_string(r.error));
    if (r.status == HelloStatus::need_more) {
      REQUIRE_FALSE(decided);
      continue;
    }
    decided = true;
    REQUIRE(r == whole);
    if (whole.hello_end != 0) REQUIRE(n >= whole.hello_end);
  }
  REQUIRE(decided == (whole.status != HelloStatus::need_more));
}

std::string name_of(const ClientHelloResult& r) { return std::string(r.server_name.view()); }

}  // namespace

TEST_CASE("real ClientHellos from openssl and curl give their server names",
          "[client_hello][interop]") {
  struct Capture {
    const char* file;
    HelloStatus status;
    const char* name;
  };
  for (const Capture& c : std::vector<Capture>{
           {"hello_openssl_sni.hex", HelloStatus::found, "api.example.com"},
           {"hello_openssl_mixed_case.hex", HelloStatus::found, "mixed.example.com"},
           {"hello_openssl_no_sni.hex", HelloStatus::no_sni, ""},
           {"hello_openssl_tls12.hex", HelloStatus::found, "legacy.example.com"},
           {"hello_openssl_fragmented.hex", HelloStatus::found, "frag.example.com"},
           {"hello_curl_resolve.hex", HelloStatus::found, "www.example.org"},
           {"hello_curl_tls12.hex", HelloStatus::found, "legacy.example.org"}}) {
    INFO(c.file);
    const std::string bytes = load_hex(c.file).bytes;
    const ClientHelloResult r = inspect(bytes);
    CHECK(to_string(r.status) == to_string(c.status));
    CHECK(r.error == HelloError::none);
    CHECK(name_of(r) == c.name);
    CHECK(r.hello_end == bytes.size());  // the clients sent the ClientHello and waited
    check_every_split(bytes, r);

    std::size_t records = 0;
    const std::string hs = handshake_of(bytes, r.hello_end, &records);
    if (std::string(c.file) == "hello_openssl_fragmented.hex") {
      CHECK(records >= 2);  // it did span records: the reassembly was exercised
    }
    // The same handshake message in records of any size says the same.
    for (std::size_t size : {1, 2, 3, 5, 64, 255, 511, 4096, 16384}) {
      INFO("records of " << size);
      const std::string reframed = framed(hs, size);
      const ClientHelloResult again = inspect(reframed);
      if (reframed.size() > kMaxClientHelloBytes) {
        CHECK(again.status == HelloStatus::too_large);
        continue;
      }
      CHECK(again.status == r.status);
      CHECK(again.server_name == r.server_name);
      CHECK(again.hello_end == reframed.size());
    }
  }
}

TEST_CASE("a ClientHello in one-byte records, split at every byte", "[client_hello]") {
  const std::string hs = Hello{}.message();
  const std::string bytes = framed(hs, 1) + record(23, "early data");
  const ClientHelloResult r = inspect(bytes);
  REQUIRE(r.status == HelloStatus::found);
  CHECK(name_of(r) == "example.com");
  CHECK(r.hello_end == hs.size() * 6);
  check_every_split(bytes, r);
}

TEST_CASE("ClientHellos without extensions or without SNI", "[client_hello]") {
  Hello no_extensions;
  no_extensions.extensions.reset();  // TLS 1.2 and before may send none
  CHECK(inspect(framed(no_extensions.message())).status == HelloStatus::no_sni);
  Hello empty;
  empty.extensions = "";
  CHECK(inspect(framed(empty.message())).status == HelloStatus::no_sni);
  Hello others;
  others.extensions = ext(0x0010, "\x00\x03\x02h2"_b) + ext(0x0015, std::string(100, '\0'));
  CHECK(inspect(framed(others.message())).status == HelloStatus::no_sni);
  Hello short_session;
  short_session.session_id = "";
  short_session.compression = "\x00\x01"_b;
  CHECK(inspect(framed(short_session.message())).status == HelloStatus::found);
}

TEST_CASE("server names: lower-cased, and only valid host names", "[client_hello]") {
  const auto with_name = [](const std::string& name) {
    Hello h;
    h.extensions = sni(name) + ext(0x002b, "\x02\x03\x04"_b);
    return inspect(framed(h.message()));
  };
  CHECK(name_of(with_name("API.Example.COM")) == "api.example.com");
  CHECK(name_of(with_name("localhost")) == "localhost");
  CHECK(name_of(with_name("xn--bcher-kva.example")) == "xn--bcher-kva.example");
  CHECK(name_of(with_name(std::string(63, 'a') + ".b")) == std::string(63, 'a') + ".b");
  std::string longest;
  while (longest.size() < 253) longest += longest.empty() ? "a" : ".a";
  REQUIRE(longest.size() == 253);
  CHECK(name_of(with_name(longest)) == longest);

  for (const std::string& bad :
       {"example.com."s, "exa_mple.com"s, "192.0.2.1"s, "::1"s, "[::1]"s, "a..b"s, ".a"s, "-a.b"s,
        "a-.b"s, std::string(64, 'a') + ".b", longest + "a", "b\xc3\xbc"s, "a b"s, "a\0b"s,
        "*.example.com"s, "example.com:443"s}) {
    INFO(bad);
    const ClientHelloResult r = with_name(bad);
    CHECK(r.status == HelloStatus::malformed);
    CHECK(r.error == HelloError::invalid_host_name);
    CHECK(r.server_name.empty());
  }
}

TEST_CASE("each rule of the ClientHello has its error", "[client_hello]") {
  struct Case {
    const char* what;
    std::string bytes;
    HelloStatus status;
    HelloError error;
  };
  const auto framed_body = [](const std::string& body) {
    return framed("\x01"_b + be24(body.size()) + body);
  };
  const Hello ok;
  std::vector<Case> cases;
  auto add = [&](const char* what, std::string bytes, HelloStatus s, HelloError e) {
    cases.push_back({what, std::move(bytes), s, e});
  };
  using S = HelloStatus;
  using E = HelloError;
  add("plain HTTP", "GET / HTTP/1.1\r\n\r\n", S::not_tls, E::not_handshake);
  add("an alert record first", record(21, "\x02\x28"_b), S::not_tls, E::not_handshake);
  add("SSLv2 compatible hello", "\x80\x2e\x01\x03\x01"_b, S::not_tls, E::not_handshake);
  add("record version 2.0", "\x16\x02\x00\x00\x10"_b, S::not_tls, E::bad_record_version);
  add("record version 3.5", "\x16\x03\x05\x00\x10"_b, S::not_tls, E::bad_record_version);
  add("a record of 0 bytes", "\x16\x03\x01\x00\x00"_b, S::malformed, E::bad_record_length);
  add("a record over 2^14", "\x16\x03\x01\x40\x01"_b, S::malformed, E::bad_record_length);
  {
    const std::string hs = ok.message();
    add("an application-data record inside",
        framed(hs.substr(0, 10)) + record(23, "x") + framed(hs.substr(10)), S::malformed,
        E::interleaved_record);
    add("a change-cipher-spec record inside",
        framed(hs.substr(0, 10)) + record(20, "\x01"_b) + framed(hs.substr(10)), S::malformed,
        E::interleaved_record);
    add("a second record of version 2.x",
        framed(hs.substr(0, 10)) + framed(hs.substr(10), 16384, "\x02\x00"_b), S::malformed,
        E::interleaved_record);
    add("a zero-length second record", framed(hs.substr(0, 10)) + "\x16\x03\x01\x00\x00"_b,
        S::malformed, E::bad_record_length);
  }
  add("a ServerHello", framed("\x02\x00\x00\x04"_b + std::string(4, 'x')), S::malformed,
      E::not_client_hello);
  add("a ClientHello of 0 bytes", framed("\x01\x00\x00\x00"_b), S::malformed, E::bad_hello);
  {
    Hello h = ok;
    h.version = "\x02\x00"_b;
    add("legacy_version 2.0", framed(h.message()), S::malformed, E::bad_hello);
  }
  {
    Hello h = ok;
    h.session_id = std::string(33, 's');
    add("a session id of 33 bytes", framed(h.message()), S::malformed, E::bad_hello);
  }
  {
    Hello h = ok;
    h.suites = "\x13\x01\x13"_b;
    add("an odd cipher-suite length", framed(h.message()), S::malformed, E::bad_hello);
    h.suites = "";
    add("no cipher suites", framed(h.message()), S::malformed, E::bad_hello);
  }
  {
    Hello h = ok;
    h.compression = "";
    add("no compression method", framed(h.message()), S::malformed, E::bad_hello);
  }
  {
    const std::string body = ok.body();
    add("a cut random", framed_body(body.substr(0, 20)), S::malformed, E::bad_hello);
    add("a body ending in the suites", framed_body(body.substr(0, 2 + 32 + 33 + 3)), S::malformed,
        E::bad_hello);
    add("one byte of extensions length", framed_body(body.substr(0, 2 + 32 + 33 + 8 + 2 + 1)),
        S::malformed, E::bad_extensions);
    add("bytes after the extensions", framed_body(body + "x"), S::malformed, E::bad_extensions);
    add("extensions cut short", framed_body(body.substr(0, body.size() - 1)), S::malformed,
        E::bad_extensions);
  }
  {
    Hello h = ok;
    h.extensions = ext(0x000a, "ab").substr(0, 3);
    add("an extension header cut short", framed(h.message()), S::malformed, E::bad_extensions);
    h.extensions = be16(0x000a) + be16(10) + "abc";
    add("an extension longer than the block", framed(h.message()), S::malformed, E::bad_extensions);
  }
  {
    Hello h = ok;
    h.extensions = sni("a.example") + sni("b.example");
    add("two server_name extensions", framed(h.message()), S::malformed, E::bad_server_name);
    h.extensions = ext(0, "");
    add("an empty server_name extension", framed(h.message()), S::malformed, E::bad_server_name);
    h.extensions = ext(0, be16(0));
    add("an empty server name list", framed(h.message()), S::malformed, E::bad_server_name);
    const std::string entry = "\x00"_b + be16(9) + "a.example";
    h.extensions = ext(0, be16(2 * entry.size()) + entry + entry);
    add("two names in the list", framed(h.message()), S::malformed, E::bad_server_name);
    h.extensions = ext(0, be16(12) + "\x01"_b + be16(9) + "a.example");
    add("a name type other than host_name", framed(h.message()), S::malformed, E::bad_server_name);
    h.extensions = ext(0, be16(13) + entry);
    add("a list length past the extension", framed(h.message()), S::malformed, E::bad_server_name);
    h.extensions = ext(0, be16(entry.size()) + "\x00"_b + be16(10) + "a.example");
    add("a name length past the list", framed(h.message()), S::malformed, E::bad_server_name);
    h.extensions = ext(0, be16(3) + "\x00"_b + be16(0));
    add("an empty host_name", framed(h.message()), S::malformed, E::bad_server_name);
  }

  for (const Case& c : cases) {
    INFO(c.what);
    const ClientHelloResult r = inspect(c.bytes);
    CHECK(to_string(r.status) == to_string(c.status));
    CHECK(to_string(r.error) == to_string(c.error));
    CHECK(r.server_name.empty());
    check_every_split(c.bytes, r);
  }
}

TEST_CASE("the bound: 16 KiB of records at most", "[client_hello]") {
  // The largest ClientHello that fits: one record of 2^14 bytes.
  Hello big;
  const std::string padding_ext_header = be16(0x0015) + be16(0);
  const std::size_t fixed = Hello{}.message().size() + padding_ext_header.size();
  big.extensions = *big.extensions + ext(0x0015, std::string(16384 - fixed, '\0'));
  const std::string largest = framed(big.message());
  REQUIRE(largest.size() == kMaxClientHelloBytes + 5);
  // Too large by the 5 bytes of its record header: announced, so refused at once.
  CHECK(inspect(largest).status == HelloStatus::too_large);
  CHECK(inspect(std::string_view(largest).substr(0, 9)).status == HelloStatus::too_large);

  Hello fits;
  fits.extensions = *fits.extensions + ext(0x0015, std::string(16384 - 5 - fixed, '\0'));
  const std::string at_limit = framed(fits.message());
  REQUIRE(at_limit.size() == kMaxClientHelloBytes);
  const ClientHelloResult r = inspect(at_limit);
  CHECK(r.status == HelloStatus::found);
  CHECK(r.hello_end == kMaxClientHelloBytes);

  // Small enough, but its records (one-byte each) do not end within the bound.
  Hello padded;
  padded.extensions = *padded.extensions + ext(0x0015, std::string(3000, '\0'));
  const std::string sliced = framed(padded.message(), 1);
  REQUIRE(sliced.size() > kMaxClientHelloBytes);
  CHECK(inspect(std::string_view(sliced).substr(0, kMaxClientHelloBytes - 1)).status ==
        HelloStatus::need_more);
  const ClientHelloResult over = inspect(sliced);
  CHECK(over.status == HelloStatus::too_large);
  CHECK(over.error == HelloError::too_large);
  CHECK(inspect(std::string_view(sliced).substr(0, kMaxClientHelloBytes)) == over);

  // A handshake length of 2^24 - 1 is refused as soon as it is read.
  CHECK(inspect("\x16\x03\x01\x00\x04\x01\xff\xff\xff"_b).status == HelloStatus::too_large);
  CHECK(inspect("\x16\x03\x01\x00\x04\x01\xff\xff"_b).status == HelloStatus::need_more);
}

TEST_CASE("need_more while the bytes can still become a ClientHello", "[client_hello]") {
  CHECK(inspect("").status == HelloStatus::need_more);
  CHECK(inspect("\x16"_b).status == HelloStatus::need_more);
  CHECK(inspect("\x16\x03"_b).status == HelloStatus::need_more);
  CHECK(inspect("\x16\x03\x01\x00"_b).status == HelloStatus::need_more);
  CHECK(inspect("\x16\x03\x01\x00\x10"_b).status == HelloStatus::need_more);
  CHECK(inspect("\x16\x03\x01\x00\x10\x01"_b).status == HelloStatus::need_more);
  CHECK(inspect("\x16\x03\x01\x00\x10\x02"_b).error == HelloError::not_client_hello);
}

TEST_CASE("status and error names are unique", "[client_hello]") {
  std::set<std::string_view> names;
  for (int e = 0; e <= static_cast<int>(HelloError::invalid_host_name); ++e) {
    CHECK(names.insert(to_string(static_cast<HelloError>(e))).second);
    CHECK(describe(static_cast<HelloError>(e)) != "unknown");
  }
  CHECK(names.size() == 11);
  std::set<std::string_view> statuses;
  for (int s = 0; s <= static_cast<int>(HelloStatus::malformed); ++s) {
    CHECK(statuses.insert(to_string(static_cast<HelloStatus>(s))).second);
  }
}
