// The vendored vega, vega-lite and vega-embed bundles (third_party/vega), compiled into the binary with the
// assembler's .incbin so that `xrec report html` needs no file at run time. XREC_VEGA_DIR comes from
// core/CMakeLists.txt, which also makes this file depend on the three bundles.
#include <string>

#include "xrec/report.hpp"

#define XREC_INCBIN(name, file)                                           \
  __asm__(".section .rodata\n.balign 16\n.global " #name "_start\n" #name \
          "_start:\n"                                                     \
          ".incbin \"" XREC_VEGA_DIR "/" file "\"\n.global " #name "_end\n" #name "_end:\n.byte 0\n.previous\n")

XREC_INCBIN(xrec_vega_js, "vega.min.js");
XREC_INCBIN(xrec_vega_lite_js, "vega-lite.min.js");
XREC_INCBIN(xrec_vega_embed_js, "vega-embed.min.js");

extern "C" {
extern const char xrec_vega_js_start[], xrec_vega_js_end[];
extern const char xrec_vega_lite_js_start[], xrec_vega_lite_js_end[];
extern const char xrec_vega_embed_js_start[], xrec_vega_embed_js_end[];
}

namespace xrec::report {

const std::string& vega_bundle() {
  // Load order matters: vega-lite and vega-embed find `vega` (and `vegaLite`) as globals.
  static const std::string js = std::string(xrec_vega_js_start, xrec_vega_js_end) + "\n;\n" +
                                std::string(xrec_vega_lite_js_start, xrec_vega_lite_js_end) + "\n;\n" +
                                std::string(xrec_vega_embed_js_start, xrec_vega_embed_js_end) + "\n";
  return js;
}

std::string vega_versions() { return "vega 6.4.0, vega-lite 6.5.0, vega-embed 7.3.0"; }

// The bundles' sha256 (core/CMakeLists.txt): part of the preprocessed source so that a compiler cache
// notices a changed bundle.
[[maybe_unused]] static const char* const kVegaSha = XREC_VEGA_SHA;

}  // namespace xrec::report
