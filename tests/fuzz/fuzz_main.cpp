// The libFuzzer entry point of one target: PARKWAY_FUZZ_TARGET names a function of
// targets.h. Built once per target by the `fuzz` preset (tests/fuzz/CMakeLists.txt).
#include "tests/fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return parkway::fuzz::PARKWAY_FUZZ_TARGET(data, size);
}
