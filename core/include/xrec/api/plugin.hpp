#pragma once
// The plugin entry. Each plugin library has exactly one, made by XREC_PLUGIN:
//
//   XREC_PLUGIN("my_plugin", "1.0.0", "What it adds") {
//     registrar.add_backbone("my_backbone", "doc", {param::integer("hidden", 64, "Hidden size")},
//                            [](const Params& p, const PluginContext& ctx) { ... });
//   }
//
// The host reads the descriptor first and checks every build fact against its own before it calls
// register_components; the plugin name must equal the library's base name (my_plugin.so).
#include <boost/dll/alias.hpp>

#include "xrec/api/registrar.hpp"
#include "xrec/api/version.hpp"

namespace xrec {

// Plain data with C strings only, so it can be read safely from a library built with other facts.
struct PluginDescriptor {
  int api_version;
  const char* name;
  const char* version;
  const char* description;
  const char* xrec_version;
  const char* torch_version;
  const char* compiler;
  const char* cxx_abi;
  const char* device;
  void (*register_components)(Registrar&);
};

using PluginEntry = const PluginDescriptor*();

}  // namespace xrec

// Build facts default to those of the compiling toolchain; the test fixtures override them to fake a
// plugin built elsewhere.
#ifndef XREC_PLUGIN_API_VERSION
#define XREC_PLUGIN_API_VERSION XREC_API_VERSION
#endif
#ifndef XREC_PLUGIN_TORCH_VERSION
#define XREC_PLUGIN_TORCH_VERSION XREC_TORCH_VERSION
#endif
#ifndef XREC_PLUGIN_CXX_ABI
#define XREC_PLUGIN_CXX_ABI XREC_CXX_ABI
#endif
#ifndef XREC_PLUGIN_COMPILER
#define XREC_PLUGIN_COMPILER XREC_COMPILER_ID
#endif
#ifndef XREC_PLUGIN_DEVICE
#define XREC_PLUGIN_DEVICE XREC_DEVICE_KIND
#endif

#define XREC_PLUGIN(NAME, VERSION, DESCRIPTION)                                                   \
  static void xrec_register_components_(::xrec::Registrar& registrar);                            \
  namespace xrec_plugin_detail_ {                                                                 \
  const ::xrec::PluginDescriptor* descriptor() {                                                  \
    static const ::xrec::PluginDescriptor d{XREC_PLUGIN_API_VERSION, NAME,           VERSION,     \
                                            DESCRIPTION,             XREC_VERSION_STRING,         \
                                            XREC_PLUGIN_TORCH_VERSION, XREC_PLUGIN_COMPILER,      \
                                            XREC_PLUGIN_CXX_ABI,     XREC_PLUGIN_DEVICE,          \
                                            &xrec_register_components_};                          \
    return &d;                                                                                    \
  }                                                                                               \
  }                                                                                               \
  BOOST_DLL_ALIAS(xrec_plugin_detail_::descriptor, xrec_plugin_entry)                             \
  static void xrec_register_components_(::xrec::Registrar& registrar)
