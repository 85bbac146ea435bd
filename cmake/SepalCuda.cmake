# SepalCuda.cmake: decides whether the CUDA backend is built (SEPAL_CUDA=AUTO|ON|OFF), picks the
# architectures (SEPAL_CUDA_ARCHS, default 90 for the H100/H200), and finds cuBLAS and cuDNN.
# cuDNN is looked for in the CUDA toolkit, in CUDNN_ROOT, and inside Python's nvidia-cudnn wheels
# (a GPU machine may have cuDNN only there).
include(CheckLanguage)
set(SEPAL_WITH_CUDA OFF)
if(NOT SEPAL_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(SEPAL_WITH_CUDA ON)
  elseif(SEPAL_CUDA STREQUAL "ON")
    message(FATAL_ERROR "SEPAL_CUDA=ON but no CUDA compiler was found (set CMAKE_CUDA_COMPILER)")
  endif()
endif()

# Appends to the list `hints_var` the folder of Python's nvidia.<module> wheel (nvidia-cudnn-cu13,
# nvidia-nccl-cu13, ...: include/ and lib/ inside), when Python finds it.
function(sepal_append_wheel_dir module hints_var)
  find_package(Python3 COMPONENTS Interpreter QUIET)
  if(Python3_Interpreter_FOUND)
    execute_process(
      COMMAND ${Python3_EXECUTABLE} -c "import nvidia.${module} as m; print(list(m.__path__)[0])"
      OUTPUT_VARIABLE _dir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(_dir)
      set(${hints_var} ${${hints_var}} ${_dir} PARENT_SCOPE)
    endif()
  endif()
endfunction()

if(SEPAL_WITH_CUDA)
  set(SEPAL_CUDA_ARCHS "90" CACHE STRING "CUDA architectures to build for")
  set(CMAKE_CUDA_ARCHITECTURES ${SEPAL_CUDA_ARCHS})
  enable_language(CUDA)
  # CMake learned nvcc's -std=c++20 only in 3.25.2; older versions (Debian 12 ships 3.25.1) stop
  # with "does not know the flags" for CUDA20, so teach them the flag nvcc >= 12 takes. Set after
  # enable_language so the compiler checks run with nvcc's default standard.
  if(NOT DEFINED CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  endif()
  set(CMAKE_CUDA_STANDARD 20)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  find_package(CUDAToolkit REQUIRED)

  # cuDNN: toolkit, CUDNN_ROOT, then pip wheels (nvidia/cudnn/{include,lib}).
  set(_cudnn_hints ${CUDNN_ROOT} $ENV{CUDNN_ROOT} ${CUDAToolkit_LIBRARY_ROOT})
  sepal_append_wheel_dir(cudnn _cudnn_hints)
  find_path(SEPAL_CUDNN_INCLUDE cudnn.h HINTS ${_cudnn_hints} ${CUDAToolkit_INCLUDE_DIRS} PATH_SUFFIXES include)
  find_library(SEPAL_CUDNN_LIBRARY NAMES cudnn libcudnn.so.9 HINTS ${_cudnn_hints} ${CUDAToolkit_LIBRARY_DIR}
               PATH_SUFFIXES lib lib64)
  if(SEPAL_CUDNN_INCLUDE AND SEPAL_CUDNN_LIBRARY)
    message(STATUS "sepal: cuDNN ${SEPAL_CUDNN_LIBRARY}")
  else()
    message(STATUS "sepal: cuDNN not found (set CUDNN_ROOT); building without it")
  endif()
  message(STATUS "sepal: CUDA backend ON (architectures ${CMAKE_CUDA_ARCHITECTURES})")
else()
  message(STATUS "sepal: CUDA backend OFF")
endif()

# Adds the CUDA sources and libraries to `target`.
function(sepal_add_cuda_backend target)
  file(GLOB _cuda_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tensor/cuda/*.cu ${PROJECT_SOURCE_DIR}/tensor/cuda/*.cpp)
  target_sources(${target} PRIVATE ${_cuda_sources})
  target_compile_definitions(${target} PRIVATE SEPAL_WITH_CUDA=1)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -Xcompiler=-fopenmp>)
  target_link_libraries(${target} PRIVATE CUDA::cudart CUDA::cublas)
  if(SEPAL_CUDNN_INCLUDE AND SEPAL_CUDNN_LIBRARY)
    target_include_directories(${target} PRIVATE ${SEPAL_CUDNN_INCLUDE})
    target_link_libraries(${target} PRIVATE ${SEPAL_CUDNN_LIBRARY})
    target_compile_definitions(${target} PRIVATE SEPAL_WITH_CUDNN=1)
  endif()
  # One CUDA runtime: the shared libcudart that cuBLAS and cuDNN also use (CMake's default would
  # add cudart_static to the link line as well).
  set_target_properties(${target} PROPERTIES CUDA_SEPARABLE_COMPILATION OFF CUDA_RUNTIME_LIBRARY Shared)
endfunction()
