// GET /clusters: every cluster, its endpoints, and every address they resolve to with its
// health (proxy/health.h): state, since when and why, weight, open connections, the last
// check. As JSON by default; `?format=text` is a table for a person (and what
// `parkway status` prints).
//
//   {"clusters":[{"name":"app","panic":false,"health_checks":true,"endpoints":[
//     {"name":"app-b:8080","weight":1,"backup":false,"addresses":[
//       {"address":"10.0.0.7:8080","state":"healthy","since_s":812.4,"why":"...",
//        "active":3,"ejections":0,"last_check":{"ago_s":1.2,"passed":true,"why":""}}]}],
//     "draining":[{"endpoint":"app-a:8080","address":"10.0.0.6:8080","active":1}]}]}
#pragma once

#include <string>

#include "proxy/ops/metrics.h"

namespace parkway::proxy {

std::string render_clusters_json(const ServerSnapshot& s);
std::string render_clusters_text(const ServerSnapshot& s);

}  // namespace parkway::proxy
