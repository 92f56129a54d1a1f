# The optional CUDA backend. MERIDIAN_CUDA defaults to ON when a CUDA compiler (nvcc) is found,
# except in sanitizer builds (nvcc and the sanitizers' clang do not mix); -DMERIDIAN_CUDA=OFF
# turns it off. Kernels are built for sm_86 (A10G) and sm_90 (H100) unless
# CMAKE_CUDA_ARCHITECTURES says otherwise. The CUDA runtime is linked statically
# (CUDA::cudart_static), so the binary needs only the NVIDIA driver (libcuda.so.1) at run time;
# no cuBLAS: the GEMM is Meridian's own tensor-core kernel.
include(CheckLanguage)
check_language(CUDA)
set(_meridian_cuda_default OFF)
if(CMAKE_CUDA_COMPILER AND NOT MERIDIAN_SANITIZE)
  set(_meridian_cuda_default ON)
endif()
option(MERIDIAN_CUDA "Build the CUDA backend (needs nvcc)" ${_meridian_cuda_default})

if(MERIDIAN_CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    message(FATAL_ERROR "MERIDIAN_CUDA is ON but no CUDA compiler was found (put nvcc on the PATH)")
  endif()
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 86 90)
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 17)  # the .cu files include only kernels.h; CMake 3.25 lacks CUDA20 for nvcc 13
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  find_package(CUDAToolkit REQUIRED)
  message(STATUS "Meridian: CUDA backend ON (architectures ${CMAKE_CUDA_ARCHITECTURES})")
else()
  message(STATUS "Meridian: CUDA backend OFF")
endif()

# meridian_cuda_backend(ENGINE_TARGET): builds meridian_engine_cuda from src/engine/backend/cuda
# and links it into the engine, which then defines MERIDIAN_HAVE_CUDA.
function(meridian_cuda_backend engine_target)
  if(NOT MERIDIAN_CUDA)
    return()
  endif()
  set(dir ${PROJECT_SOURCE_DIR}/src/engine/backend/cuda)
  file(GLOB srcs CONFIGURE_DEPENDS ${dir}/*.cpp ${dir}/*.cu)
  add_library(meridian_engine_cuda STATIC ${srcs})
  target_include_directories(meridian_engine_cuda PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(meridian_engine_cuda PUBLIC meridian_core meridian_engine_dtype CUDA::cudart_static
                        ${CMAKE_DL_LIBS})
  target_compile_options(meridian_engine_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-O3 --expt-relaxed-constexpr>)
  target_link_libraries(${engine_target} PUBLIC meridian_engine_cuda)
  target_compile_definitions(${engine_target} PUBLIC MERIDIAN_HAVE_CUDA=1)
endfunction()
