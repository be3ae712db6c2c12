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
# POUCH_FUZZ: every pouch library carries libFuzzer's coverage instrumentation
# (fuzzer-no-link: the fuzz targets add the fuzzer's main) and ASan + UBSan.
# UBSan must not recover, or undefined behaviour would only print and the
# fuzzer would never report it. Any executable linking pouch_flags then links
# the sanitizer runtimes. The instrumentation keeps clang from vectorizing the
# kernels' `omp simd` loops, which it reports as -Wpass-failed: expected here.
if(POUCH_FUZZ)
  target_compile_options(pouch_flags INTERFACE -fsanitize=fuzzer-no-link,address,undefined
                         -fno-sanitize-recover=all -fno-omit-frame-pointer -Wno-pass-failed)
  target_link_options(pouch_flags INTERFACE -fsanitize=address,undefined)
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

# ---- multi-rank tests ------------------------------------------------------
# Open MPI's mpiexec needs --oversubscribe to start more ranks than cores and
# --allow-run-as-root when run as root (containers, CI); it accepts the latter
# as any user. Other MPIs' mpiexec do not know these flags, so ask which one
# this is once, at configure time.
set(POUCH_MPIEXEC_EXTRA_FLAGS "")
if(MPIEXEC_EXECUTABLE)
  execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE _pouch_mpiexec_version
                  ERROR_QUIET RESULT_VARIABLE _pouch_mpiexec_rc)
  if(_pouch_mpiexec_rc EQUAL 0 AND _pouch_mpiexec_version MATCHES "Open MPI|OpenRTE")
    set(POUCH_MPIEXEC_EXTRA_FLAGS --oversubscribe --allow-run-as-root)
  endif()
endif()

# pouch_mpi_command(<out-var> NP <n> COMMAND <program> [args...])
#   Sets <out-var> to the command line that starts <program> on <n> ranks:
#   ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} <n> [--oversubscribe
#   --allow-run-as-root] ${MPIEXEC_PREFLAGS} <program> ${MPIEXEC_POSTFLAGS} [args...].
#   For tests that wrap mpiexec in a script of their own.
function(pouch_mpi_command out_var)
  cmake_parse_arguments(ARG "" "NP" "COMMAND" ${ARGN})
  if(NOT ARG_NP OR NOT ARG_COMMAND)
    message(FATAL_ERROR "pouch_mpi_command: NP and COMMAND are required")
  endif()
  list(POP_FRONT ARG_COMMAND program)
  set(${out_var} ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${ARG_NP} ${POUCH_MPIEXEC_EXTRA_FLAGS}
      ${MPIEXEC_PREFLAGS} ${program} ${MPIEXEC_POSTFLAGS} ${ARG_COMMAND} PARENT_SCOPE)
endfunction()

# pouch_add_mpi_test(<name> NP <n> [TIMEOUT <s>] [LABELS <label>...]
#                    [EXPECT_FAIL <regex>] [WITHIN <s>] COMMAND <program> [args...])
#   Registers CTest test <name> that runs <program> [args...] on <n> ranks
#   (see pouch_mpi_command), labelled `mpi` plus LABELS, in the source tree's
#   root, killed after TIMEOUT seconds (default 120).
#   Without EXPECT_FAIL the test passes when mpiexec exits 0.
#   With EXPECT_FAIL the job must fail: mpiexec must exit non-zero, its
#   combined stdout+stderr must match <regex> (grep -E), and, with WITHIN, it
#   must end within <s> seconds (for "a dead or stuck rank brings the job
#   down within the deadline" tests). cmake/expect_exit.sh does the checking.
#   <program> may be a target name's $<TARGET_FILE:...> or a path.
function(pouch_add_mpi_test name)
  cmake_parse_arguments(ARG "" "NP;TIMEOUT;EXPECT_FAIL;WITHIN" "LABELS;COMMAND" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  if(NOT ARG_WITHIN)
    set(ARG_WITHIN 0)
  endif()
  pouch_mpi_command(cmd NP ${ARG_NP} COMMAND ${ARG_COMMAND})
  if(DEFINED ARG_EXPECT_FAIL)
    add_test(NAME ${name}
             COMMAND ${PROJECT_SOURCE_DIR}/cmake/expect_exit.sh fail "${ARG_EXPECT_FAIL}" ${ARG_WITHIN} -- ${cmd}
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  else()
    add_test(NAME ${name} COMMAND ${cmd} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  endif()
  # RESOURCE_LOCK: two mpiruns starting at once can race on Open MPI's per-user
  # session directory ("mkdir ... File exists"); run them one at a time.
  set_tests_properties(${name} PROPERTIES LABELS "mpi;${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT} PROCESSORS ${ARG_NP}
                                          RESOURCE_LOCK mpirun)
endfunction()
