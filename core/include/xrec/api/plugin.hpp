#pragma once
// The plugin entry. Each plugin library has exactly one, made by XREC_PLUGIN:
//
//   XREC_PLUGIN("my_plugin", "1.0.0", "What it adds") {
//     registrar.add_backbone("my_backbone", "doc", {param::integer("hidden", 64, "Hidden size")},
//                            [](const Params& p, const PluginContext& ctx) { ... });
//   }
//
// The macro writes the descriptor twice: as plain constant bytes in the library's `.xrec_plugin` ELF
// section, which the host reads from the file and checks against its own build facts BEFORE loading
// the library (so a mismatched library never runs a line), and as the in-memory PluginDescriptor,
// which must equal the file's once the library is loaded. The plugin name must equal the library's
// base name (my_plugin.so). NAME, VERSION and DESCRIPTION must be string literals.
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

// The `.xrec_plugin` section, format 1 (read by xrec/plugin_file.hpp): "xrec-plugin\0" then
// "key=value\0" entries. Each "\0" ends its own literal, so a value never merges into an escape.
#define XREC_PLUGIN_SECTION_(NAME, VERSION, DESCRIPTION)                                             \
  "xrec-plugin\0"                                                                                    \
  "format=1\0"                                                                                       \
  "api_version=" XREC_STRINGIFY(XREC_PLUGIN_API_VERSION) "\0"                                        \
  "name=" NAME "\0"                                                                                  \
  "version=" VERSION "\0"                                                                            \
  "description=" DESCRIPTION "\0"                                                                    \
  "xrec_version=" XREC_VERSION_STRING "\0"                                                           \
  "torch_version=" XREC_PLUGIN_TORCH_VERSION "\0"                                                    \
  "compiler=" XREC_PLUGIN_COMPILER "\0"                                                              \
  "cxx_abi=" XREC_PLUGIN_CXX_ABI "\0"                                                                \
  "device=" XREC_PLUGIN_DEVICE "\0"

// `retain` keeps the section through a plugin link with --gc-sections (nothing references it).
#if defined(__has_attribute)
#if __has_attribute(retain)
#define XREC_PLUGIN_RETAIN_ retain,
#endif
#endif
#ifndef XREC_PLUGIN_RETAIN_
#define XREC_PLUGIN_RETAIN_
#endif

#define XREC_PLUGIN(NAME, VERSION, DESCRIPTION)                                                   \
  static void xrec_register_components_(::xrec::Registrar& registrar);                            \
  namespace xrec_plugin_detail_ {                                                                 \
  __attribute__((section(".xrec_plugin"), XREC_PLUGIN_RETAIN_ used, aligned(1))) static const char                    \
      file_descriptor[] = XREC_PLUGIN_SECTION_(NAME, VERSION, DESCRIPTION);                        \
  }                                                                                               \
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
