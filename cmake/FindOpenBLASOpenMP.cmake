# Debian ships OpenBLAS in two builds, pthread and OpenMP, behind the
# alternatives system. pouch's own kernels use OpenMP, and a pthread OpenBLAS
# called next to (or inside) OpenMP regions oversubscribes the cores, so we
# insist on the OpenMP build and put its directory first in the RUNPATH so the
# loader cannot fall back to whichever build the alternatives point at.
find_path(POUCH_CBLAS_INCLUDE_DIR cblas.h
  PATH_SUFFIXES x86_64-linux-gnu/openblas-openmp aarch64-linux-gnu/openblas-openmp openblas-openmp
  NO_DEFAULT_PATH PATHS /usr/include)
find_library(POUCH_OPENBLAS_LIBRARY NAMES openblas
  PATH_SUFFIXES x86_64-linux-gnu/openblas-openmp aarch64-linux-gnu/openblas-openmp openblas-openmp
  NO_DEFAULT_PATH PATHS /usr/lib)
if(NOT POUCH_CBLAS_INCLUDE_DIR OR NOT POUCH_OPENBLAS_LIBRARY)
  message(FATAL_ERROR "OpenBLAS (OpenMP build) not found: install Debian's libopenblas-openmp-dev")
endif()
get_filename_component(POUCH_OPENBLAS_DIR "${POUCH_OPENBLAS_LIBRARY}" DIRECTORY)
add_library(pouch_openblas INTERFACE)
target_include_directories(pouch_openblas SYSTEM INTERFACE "${POUCH_CBLAS_INCLUDE_DIR}")
target_link_libraries(pouch_openblas INTERFACE "${POUCH_OPENBLAS_LIBRARY}")
list(APPEND CMAKE_BUILD_RPATH "${POUCH_OPENBLAS_DIR}")
list(APPEND CMAKE_INSTALL_RPATH "${POUCH_OPENBLAS_DIR}")
message(STATUS "OpenBLAS (OpenMP build): ${POUCH_OPENBLAS_LIBRARY}")
