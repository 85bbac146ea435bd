# SepalDist.cmake: the communicators of dist/ beyond the single-process one. SEPAL_MPI=AUTO|ON|OFF
# builds the MPI communicator (find_package(MPI), C bindings only; Debian: libopenmpi-dev),
# SEPAL_NCCL=AUTO|ON|OFF the NCCL one (needs the CUDA backend and MPI, which broadcasts NCCL's
# unique id; nccl.h and libnccl from the CUDA toolkit, NCCL_ROOT, or the nvidia-nccl wheel).
set(SEPAL_MPI AUTO CACHE STRING "Build the MPI communicator: AUTO (when MPI is found), ON or OFF")
set_property(CACHE SEPAL_MPI PROPERTY STRINGS AUTO ON OFF)
set(SEPAL_NCCL AUTO CACHE STRING "Build the NCCL communicator: AUTO (with CUDA, MPI and NCCL found), ON or OFF")
set_property(CACHE SEPAL_NCCL PROPERTY STRINGS AUTO ON OFF)

set(SEPAL_WITH_MPI OFF)
if(NOT SEPAL_MPI STREQUAL "OFF")
  find_package(MPI COMPONENTS C QUIET)
  if(MPI_C_FOUND)
    set(SEPAL_WITH_MPI ON)
    message(STATUS "sepal: MPI communicator ON (${MPI_C_LIBRARIES})")
  elseif(SEPAL_MPI STREQUAL "ON")
    message(FATAL_ERROR "SEPAL_MPI=ON but MPI was not found: `apt-get install libopenmpi-dev openmpi-bin`")
  else()
    message(STATUS "sepal: MPI not found; the MPI communicator is OFF")
  endif()
endif()

set(SEPAL_WITH_NCCL OFF)
if(NOT SEPAL_NCCL STREQUAL "OFF" AND SEPAL_WITH_CUDA AND SEPAL_WITH_MPI)
  set(_nccl_hints ${NCCL_ROOT} $ENV{NCCL_ROOT} ${CUDAToolkit_LIBRARY_ROOT})
  sepal_append_wheel_dir(nccl _nccl_hints)  # cmake/SepalCuda.cmake
  find_path(SEPAL_NCCL_INCLUDE nccl.h HINTS ${_nccl_hints} ${CUDAToolkit_INCLUDE_DIRS} PATH_SUFFIXES include)
  find_library(SEPAL_NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ${_nccl_hints} ${CUDAToolkit_LIBRARY_DIR}
               PATH_SUFFIXES lib lib64)
  if(SEPAL_NCCL_INCLUDE AND SEPAL_NCCL_LIBRARY)
    set(SEPAL_WITH_NCCL ON)
    message(STATUS "sepal: NCCL communicator ON (${SEPAL_NCCL_LIBRARY})")
  endif()
endif()
if(SEPAL_NCCL STREQUAL "ON" AND NOT SEPAL_WITH_NCCL)
  message(FATAL_ERROR "SEPAL_NCCL=ON needs the CUDA backend, MPI and NCCL (nccl.h, libnccl; set NCCL_ROOT)")
endif()

# Adds the MPI and NCCL communicators to `target`.
function(sepal_add_dist_backends target)
  if(SEPAL_WITH_MPI)
    target_sources(${target} PRIVATE ${PROJECT_SOURCE_DIR}/dist/mpi/mpi_communicator.cpp)
    target_compile_definitions(${target} PRIVATE SEPAL_WITH_MPI=1)
    target_link_libraries(${target} PRIVATE MPI::MPI_C)
  endif()
  if(SEPAL_WITH_NCCL)
    target_sources(${target} PRIVATE ${PROJECT_SOURCE_DIR}/dist/nccl/nccl_communicator.cpp)
    target_include_directories(${target} PRIVATE ${SEPAL_NCCL_INCLUDE})
    target_compile_definitions(${target} PRIVATE SEPAL_WITH_NCCL=1)
    target_link_libraries(${target} PRIVATE ${SEPAL_NCCL_LIBRARY})
  endif()
endfunction()
