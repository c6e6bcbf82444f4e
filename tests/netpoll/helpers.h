// Shared helpers for the netpoll tests: loopback listeners on port 0, deterministic
// byte streams and their checksums.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <vector>

#include "netpoll/socket.h"

namespace parkway::test {

// A listener on 127.0.0.1 with a kernel-chosen port.
inline net::Listener listen_local(net::ListenOptions opts = {}) {
  auto ln = net::Listener::listen(net::SocketAddress::loopback_v4(0), opts);
  if (!ln) throw std::runtime_error("listen: " + ln.error().message());
  return std::move(*ln);
}

inline net::SocketAddress address_of(net::Listener& ln) { return *ln.local_address(); }

// Both ends of one loopback connection to `ln`: the dialled client, the accepted server.
struct Pair {
  net::Conn client, server;
};
inline Pair connect_pair(net::Listener& ln) {
  auto c = net::Conn::dial(address_of(ln));
  auto s = ln.accept();
  if (!c || !s) throw std::runtime_error("connect_pair failed");
  return {std::move(*c), std::move(*s)};
}

// Stream `seed`: a deterministic pseudo-random byte sequence in which any lost,
// duplicated or reordered byte changes what is expected at every later position.
inline uint64_t stream_word(uint64_t seed, uint64_t word) {
  uint64_t x = (word + 1) * 0x9E3779B97F4A7C15ULL ^ seed;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 32;
  return x;
}

inline std::byte stream_byte(uint64_t seed, uint64_t pos) {
  return static_cast<std::byte>(stream_word(seed, pos / 8) >> ((pos % 8) * 8));
}

inline void fill_stream(uint64_t seed, uint64_t pos, std::span<std::byte> out) {
  size_t i = 0;
  for (; i < out.size() && (pos + i) % 8 != 0; i++) out[i] = stream_byte(seed, pos + i);
  for (; i + 8 <= out.size(); i += 8) {
    uint64_t w = stream_word(seed, (pos + i) / 8);
    std::memcpy(out.data() + i, &w, 8);  // little-endian, as stream_byte
  }
  for (; i < out.size(); i++) out[i] = stream_byte(seed, pos + i);
}

// Counts bytes that differ from the expected stream.
inline uint64_t count_mismatches(uint64_t seed, uint64_t pos, std::span<const std::byte> in) {
  uint64_t bad = 0;
  size_t i = 0;
  for (; i < in.size() && (pos + i) % 8 != 0; i++) bad += in[i] != stream_byte(seed, pos + i);
  for (; i + 8 <= in.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, in.data() + i, 8);
    uint64_t diff = w ^ stream_word(seed, (pos + i) / 8);
    for (; diff; diff >>= 8) bad += (diff & 0xFF) != 0;
  }
  for (; i < in.size(); i++) bad += in[i] != stream_byte(seed, pos + i);
  return bad;
}

// Writes `total` bytes of stream `seed` to conn in chunks of up to `chunk`.
inline net::IoResult send_stream(net::Conn& conn, uint64_t seed, uint64_t total,
                                 size_t chunk = 64 * 1024) {
  std::vector<std::byte> buf(chunk);
  uint64_t sent = 0;
  while (sent < total) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(chunk, total - sent));
    fill_stream(seed, sent, std::span(buf.data(), n));
    auto r = conn.write_all(std::span(buf.data(), n));
    sent += r.bytes;
    if (r.error) return {static_cast<size_t>(sent), r.error};
  }
  return {static_cast<size_t>(sent), {}};
}

struct Received {
  uint64_t bytes = 0;
  uint64_t mismatches = 0;
  std::error_code error;  // what ended it, if not end of stream
};

// Reads until end of stream, checking every byte against stream `seed`.
inline Received receive_stream(net::Conn& conn, uint64_t seed, size_t chunk = 64 * 1024) {
  std::vector<std::byte> buf(chunk);
  Received r;
  for (;;) {
    auto n = conn.read(buf);
    if (n.error) {
      r.error = n.error;
      return r;
    }
    if (n.bytes == 0) return r;
    r.mismatches += count_mismatches(seed, r.bytes, std::span(buf.data(), n.bytes));
    r.bytes += n.bytes;
  }
}

}  // namespace parkway::test
