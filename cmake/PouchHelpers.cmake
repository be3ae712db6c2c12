# Project-wide flags live on one interface target every pouch library links.
add_library(pouch_flags INTERFACE)
target_compile_options(pouch_flags INTERFACE -Wall -Wextra -Wpedantic -Wno-unused-parameter)
# GCC 12 reports a false -Wstringop-overflow inside fmt 9 (fmt/core.h) when
# formatting some argument packs; the code is correct and the warning is noise.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(pouch_flags INTERFACE -Wno-stringop-overflow)
endif()
if(POUCH_WERROR)
  target_compile_options(pouch_flags INTERFACE -Werror)
endif()
if(POUCH_NATIVE_SIMD)
  target_compile_options(pouch_flags INTERFACE -mavx2 -mfma -mf16c)
  target_compile_definitions(pouch_flags INTERFACE POUCH_HAVE_AVX2=1)
endif()
target_include_directories(pouch_flags INTERFACE ${PROJECT_SOURCE_DIR})
target_compile_definitions(pouch_flags INTERFACE POUCH_VERSION="${PROJECT_VERSION}")

# pouch_add_library(name SOURCES ... DEPS ...): one library per layer.
function(pouch_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_link_libraries(${name} PUBLIC pouch_flags ${ARG_DEPS})
endfunction()

# pouch_add_test(name SOURCES ... DEPS ... [LABELS ...]): one GoogleTest binary,
# every TEST() in it registered with CTest.
function(pouch_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE pouch_flags ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${name}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    PROPERTIES LABELS "${ARG_LABELS}"
    DISCOVERY_TIMEOUT 60)
endfunction()
