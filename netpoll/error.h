// Errors of the network layer are values: std::error_code, never exceptions.
//
// Failures the kernel reports keep their errno in std::system_category, so callers compare
// them with the portable conditions (ec == std::errc::connection_refused). Conditions the
// kernel has no errno for come from this layer's own category: a deadline that passed
// (Errc::timeout), an operation on a closed FD (Errc::closed), and an error event the
// poller saw that the syscall did not explain (Errc::not_pollable). The predicates below
// name the cases the proxy tells apart, so no caller ever looks at an errno's text.
#pragma once

#include <cerrno>
#include <cstddef>
#include <system_error>
#include <utility>
#include <variant>

namespace parkway::net {

enum class Errc {
  timeout = 1,   // the deadline passed (Go's os.ErrDeadlineExceeded)
  closed,        // the FD was closed, before or during the operation (Go's ErrNetClosing)
  not_pollable,  // the poller reported an error event (EPOLLERR) and the syscall retried EAGAIN
};

}  // namespace parkway::net

template <>
struct std::is_error_code_enum<parkway::net::Errc> : std::true_type {};

namespace parkway::net {

const std::error_category& netpoll_category();
std::error_code make_error_code(Errc e);

inline std::error_code errno_code(int e) { return {e, std::system_category()}; }

// errno, read on the thread that calls this. Use it, never `errno`, in code that may run
// before and after a park (the syscall lambdas of FD::io and splice): errno is
// *__errno_location(), which glibc declares const, so a compiler may compute the address
// once and reuse it after the goroutine has moved to another thread. clang 14 hoists it
// out of FD::io's retry loop, and a reset then reads as the old thread's EAGAIN: the
// reader parks again and sleeps until its deadline. This call is opaque to the optimiser.
int current_errno();

inline bool is_timeout(std::error_code ec) { return ec == Errc::timeout; }
inline bool is_closed(std::error_code ec) { return ec == Errc::closed; }
inline bool is_refused(std::error_code ec) { return ec == std::errc::connection_refused; }
// The peer reset the connection (RST), or we wrote after it had gone.
inline bool is_reset(std::error_code ec) {
  return ec == std::errc::connection_reset || ec == std::errc::broken_pipe ||
         ec == std::errc::connection_aborted;
}
inline bool is_unreachable(std::error_code ec) {
  return ec == std::errc::network_unreachable || ec == std::errc::host_unreachable ||
         ec == std::errc::network_down;
}
// Out of descriptors or kernel memory: the caller should back off, not retry at once.
inline bool is_resource_exhausted(std::error_code ec) {
  return ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system ||
         ec == std::errc::no_buffer_space || ec == std::errc::not_enough_memory;
}

// A value or an error.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}   // NOLINT: implicit, like std::expected
  Result(std::error_code ec) : v_(ec) {}      // NOLINT
  Result(Errc e) : v_(make_error_code(e)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  T&& operator*() && { return std::get<0>(std::move(v_)); }
  std::error_code error() const { return ok() ? std::error_code{} : std::get<1>(v_); }

 private:
  std::variant<T, std::error_code> v_;
};

// The outcome of a read or write: how many bytes moved, and the error that stopped it.
// A read with bytes == 0 and no error is end of stream.
struct IoResult {
  size_t bytes = 0;
  std::error_code error;
  bool ok() const { return !error; }
};

}  // namespace parkway::net
