// systemd integration without libsystemd: the notify protocol and socket activation are
// each a few lines over documented environment variables (sd_notify(3), sd_listen_fds(3)).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "scheduler/time.h"

namespace parkway::proxy::systemd {

// Sends `state` ("READY=1", "STATUS=...", several lines joined by \n) to the socket named
// by $NOTIFY_SOCKET (a path, or '@' for the abstract namespace). Returns false when not
// run by systemd (no $NOTIFY_SOCKET) or when sending failed.
bool notify(std::string_view state);
bool notify_enabled();

// "RELOADING=1\nMONOTONIC_USEC=<now>", as Type=notify-reload expects before a reload.
std::string reloading_message();

// The watchdog interval systemd expects pings at ($WATCHDOG_USEC, if $WATCHDOG_PID is
// unset or ours); zero when the watchdog is off.
Duration watchdog_interval();

// Sockets passed by socket activation: $LISTEN_PID must be ours; $LISTEN_FDS of them
// from fd 3 on, named by $LISTEN_FDNAMES (colon-separated). Reading them unsets the
// variables (so nothing inherits them) and marks the fds close-on-exec.
struct InheritedSocket {
  int fd = -1;
  std::string name;
};
std::vector<InheritedSocket> take_listen_fds();

}  // namespace parkway::proxy::systemd
