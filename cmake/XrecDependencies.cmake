# Every third-party dependency, from Debian's packages (see README: setup installs them).
find_package(Torch REQUIRED)
find_package(Boost 1.71 REQUIRED)  # header-only: Boost.DLL (with std::filesystem, see BOOST_DLL_USE_STD_FS)
find_package(yaml-cpp REQUIRED)
find_package(spdlog REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL REQUIRED)  # SHA-256 (config hashes, plugin and data fingerprints)
find_package(CURL REQUIRED)     # named datasets: downloads (http(s):// and file://)

# LibTorch with CUDA sets TORCH_CUDA_LIBRARIES; plugins must match the host on this (descriptor check).
if(TORCH_CUDA_LIBRARIES)
  set(XREC_WITH_CUDA 1)
else()
  set(XREC_WITH_CUDA 0)
endif()
message(STATUS "xrec: LibTorch ${Torch_VERSION}, CUDA=${XREC_WITH_CUDA}")

# yaml-cpp's Debian package exports `yaml-cpp`; newer upstream exports `yaml-cpp::yaml-cpp`.
if(TARGET yaml-cpp::yaml-cpp)
  set(XREC_YAML_TARGET yaml-cpp::yaml-cpp)
else()
  set(XREC_YAML_TARGET yaml-cpp)
endif()
