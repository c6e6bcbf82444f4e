// The access log: one JSON line per finished connection.
//
//   {"time":"2026-11-26T20:40:00.123Z","listener":"app","client":"127.0.0.1:53412",
//    "endpoint":"app-b:8080","upstream":"10.0.0.7:8080","connect_ms":0.41,
//    "duration_ms":1834.2,"bytes_client_to_upstream":1043,"bytes_upstream_to_client":88211,
//    "first_fin":"client","cause":"client_eof"}
//
// to stderr (the journal under systemd), to a file (reopened on SIGUSR1, after logrotate
// moved it), or nowhere. Recording never blocks the connection's goroutine: lines go to a
// bounded queue drained by a writer thread; when it is full the line is dropped and
// counted (parkway_access_log_dropped_total), never waited for.
#pragma once

#include <cstdint>
#include <string>

#include "conf/config.h"
#include "scheduler/time.h"

namespace parkway::proxy::access_log {

struct Record {
  std::string listener;
  std::string client;    // "127.0.0.1:53412"
  std::string endpoint;  // as configured: "app-b:8080"; empty if none was reached
  std::string upstream;  // the address connected to; empty if none
  double connect_ms = 0;
  double duration_ms = 0;
  uint64_t bytes_client_to_upstream = 0;
  uint64_t bytes_upstream_to_client = 0;
  std::string first_fin;  // "client", "upstream" or "none"
  std::string cause;
};

// Starts the writer thread (once) and sends the log to `destination`; call again to
// change it (reload). Errors opening a file are returned (and the previous destination
// kept).
std::string configure(const conf::LogDestination& destination);
bool enabled();
void record(const Record& r);
// Reopens the file (SIGUSR1). Returns an error text, or empty.
std::string reopen();
void shutdown();

uint64_t written();
uint64_t dropped();

// The JSON line of a record (without the newline), for tests.
std::string to_json(const Record& r, std::string_view time);

}  // namespace parkway::proxy::access_log
