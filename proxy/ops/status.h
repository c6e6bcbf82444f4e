// `parkway status`: the health table of a running parkway, read from its admin endpoint
// (GET /clusters?format=text, proxy/ops/clusters.h) with a plain blocking socket: no
// runtime, no config beyond where the endpoint listens.
#pragma once

#include "conf/cli.h"

namespace parkway::proxy {

// Prints the table to stdout; returns the exit code (0, or 1 with the reason on stderr).
int run_status(const conf::CommandLine& command_line);

}  // namespace parkway::proxy
