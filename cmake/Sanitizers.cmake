# PARKWAY_SANITIZE=address builds with AddressSanitizer + UndefinedBehaviorSanitizer,
# PARKWAY_SANITIZE=thread with ThreadSanitizer. The scheduler annotates every context
# switch for both (scheduler/sanitizer.h), so they follow goroutines across stacks.
#
# UBSan's vptr check is left out: to read a vtable it first probes the memory through a
# pipe(2), and a process out of descriptors (which parkway is tested to survive,
# tests/reliability/fd_limit_test.cpp) fails the probe and gets a false "invalid vptr"
# report, fatal with -fno-sanitize-recover. Every other UBSan check stays.
if(PARKWAY_SANITIZE STREQUAL "address")
  set(_san -fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined
           -fno-omit-frame-pointer)
  add_compile_definitions(PARKWAY_ASAN=1)
elseif(PARKWAY_SANITIZE STREQUAL "thread")
  set(_san -fsanitize=thread -fno-omit-frame-pointer)
  add_compile_definitions(PARKWAY_TSAN=1)
elseif(NOT PARKWAY_SANITIZE STREQUAL "")
  message(FATAL_ERROR "PARKWAY_SANITIZE must be empty, 'address' or 'thread', not '${PARKWAY_SANITIZE}'")
endif()
if(DEFINED _san)
  add_compile_options(${_san})
  add_link_options(${_san})
endif()
