// Test data of the wire tests: the real-peer captures in tests/proxy/data/ (written by
// tests/proxy/data/capture.py) and byte-string helpers.
#pragma once

#include <cstddef>
#include <fstream>
#include <map>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace parkway::test {

// "\x20\x00"_b: a byte string with every byte of the literal, NULs included.
inline std::string operator""_b(const char* s, std::size_t n) { return std::string(s, n); }

inline std::span<const std::byte> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

inline std::string data_path(const std::string& name) {
  return std::string(PARKWAY_SOURCE_DIR) + "/tests/proxy/data/" + name;
}

// A .hex file: "# key: value" lines, then bytes as hex pairs separated by white space.
struct HexFile {
  std::map<std::string, std::string> meta;
  std::string bytes;
};

inline HexFile load_hex(const std::string& name) {
  std::ifstream in(data_path(name));
  if (!in) throw std::runtime_error("cannot open " + data_path(name));
  HexFile file;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# ", 0) == 0) {
      const std::size_t colon = line.find(": ");
      if (colon != std::string::npos) {
        file.meta[line.substr(2, colon - 2)] = line.substr(colon + 2);
      }
      continue;
    }
    std::istringstream words(line);
    std::string hex;
    while (words >> hex) {
      if (hex.size() != 2) throw std::runtime_error("bad hex in " + name + ": " + hex);
      file.bytes.push_back(static_cast<char>(std::stoi(hex, nullptr, 16)));
    }
  }
  return file;
}

}  // namespace parkway::test
