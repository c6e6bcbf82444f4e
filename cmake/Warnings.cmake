# Warnings are errors on both compilers the project supports (g++ 12, clang 14).
add_compile_options(
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough -Wformat=2
  # A frame larger than the guard page must probe it page by page, so that a goroutine
  # stack overflow always lands in the guard page (and is reported) instead of skipping
  # over it into the neighbouring memory.
  -fstack-clash-protection)
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  add_compile_options(-Wthread-safety)
endif()
if(PARKWAY_WERROR)
  add_compile_options(-Werror)
endif()
# Assembly files get none of the C++ warning flags.
set(CMAKE_ASM_FLAGS "${CMAKE_ASM_FLAGS}")
