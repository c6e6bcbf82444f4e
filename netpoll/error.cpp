#include "netpoll/error.h"

#include <cerrno>
#include <string>

namespace parkway::net {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "netpoll"; }
  std::string message(int e) const override {
    switch (static_cast<Errc>(e)) {
      case Errc::timeout: return "i/o timeout";
      case Errc::closed: return "use of closed network connection";
      case Errc::not_pollable: return "error event from the poller";
    }
    return "unknown netpoll error";
  }
};

}  // namespace

const std::error_category& netpoll_category() {
  static const Category c;
  return c;
}

std::error_code make_error_code(Errc e) { return {static_cast<int>(e), netpoll_category()}; }

// Never inlined, never analysed across the call (noipa, gcc), and with a compiler barrier,
// like scheduler/tls.cpp's getm(): each call reads the calling thread's errno.
#if defined(__clang__)
[[gnu::noinline]]
#else
[[gnu::noinline, gnu::noipa]]
#endif
int current_errno() {
  asm volatile("" ::: "memory");
  return errno;
}

}  // namespace parkway::net
