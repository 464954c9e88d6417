#pragma once
// The xrec plugin API version and the build facts a plugin must share with the host. A plugin built
// against other facts is rejected before any of its code runs (see PluginDescriptor).
#include <torch/version.h>  // tiny: only TORCH_VERSION_* macros

// 2: Backbone::forward_last (a virtual added: plugins built against 1 must be rebuilt).
// 3: contract v3 (issue 10): one kind table and a type-erased Registrar, the descriptor in an ELF section,
//    stages (StageSpec, run_stage) and services for custom loops in TransferContext, fast weights in
//    scoring, item encoders, pointwise models, cold-start tasks, Quantizer::initialize.
// 4: wave 2: TransferContext::reuse_stage / store_stage (stage reuse and resume), Quantizer::stats(),
//    StageSpec::aux_loss, BestTracker snapshot state, xrec::Progress, Quantizer::forward_domain,
//    ItemDomain::train, Transfer::data_parallel and TransferContext::rank / world_size / allreduce_gradients:
//    plugins built against 3 must be rebuilt.
#define XREC_API_VERSION 4
#define XREC_VERSION_STRING "0.2.0"

#define XREC_STRINGIFY_(x) #x
#define XREC_STRINGIFY(x) XREC_STRINGIFY_(x)

#if defined(__clang__)
#define XREC_COMPILER_ID "clang-" XREC_STRINGIFY(__clang_major__)
#elif defined(__GNUC__)
#define XREC_COMPILER_ID "gcc-" XREC_STRINGIFY(__GNUC__)
#else
#define XREC_COMPILER_ID "unknown"
#endif

#if defined(_GLIBCXX_USE_CXX11_ABI)
#define XREC_CXX_ABI "libstdc++-cxx11abi-" XREC_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
#else
#define XREC_CXX_ABI "unknown"
#endif

// XREC_WITH_CUDA is set by the build (xrec::api's interface definitions) when LibTorch has CUDA.
#if defined(XREC_WITH_CUDA) && XREC_WITH_CUDA
#define XREC_DEVICE_KIND "cuda"
#else
#define XREC_DEVICE_KIND "cpu"
#endif

#define XREC_TORCH_VERSION \
  XREC_STRINGIFY(TORCH_VERSION_MAJOR) "." XREC_STRINGIFY(TORCH_VERSION_MINOR) "." XREC_STRINGIFY(TORCH_VERSION_PATCH)
