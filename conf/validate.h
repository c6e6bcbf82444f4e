// Checks that span more than one key, shared by the TOML reader (conf/parse.cpp) and the
// forwards of the command line (conf/forward.cpp):
//
//   - at least one listener;
//   - listener names unique, cluster names unique;
//   - listen addresses unique (port 0 excepted: the kernel picks a free port for each),
//     and no wildcard address (0.0.0.0, [::]) on the port of another of its family;
//   - every listener's cluster exists (with a "did you mean" for a near miss);
//   - every cluster has endpoints, none twice;
//   - a cluster no listener uses is a warning, not an error.
//
// Checks of one value (types, bounds, syntax) happen where the value is read, through
// conf/value.h. The diagnostics returned carry key paths ("listener[1].address") and
// messages; the caller knows where those keys were written and fills in file and line.
#pragma once

#include <vector>

#include "conf/config.h"
#include "conf/diagnostic.h"

namespace parkway::conf {

struct ValidateOptions {
  // Off when some cluster could not be read: a reference to it would be reported as
  // missing, which is not the user's mistake.
  bool check_references = true;
  // Off when some listener could not be read: a cluster it uses would look unused.
  bool check_unused = true;
};

std::vector<Diagnostic> validate(const Config& config, const ValidateOptions& options = {});

}  // namespace parkway::conf
