# XREC_SANITIZE: a comma-separated list of sanitizers every target is built with, e.g.
#   cmake -S . -B build-asan -G Ninja -DXREC_SANITIZE=address,undefined -DXREC_USE_PCH=OFF
# Used by .ci/sanitizers.sh on the LibTorch-free parts (API library, host library, dataset plugins and
# their tests); LibTorch itself stays uninstrumented, which ASan tolerates. See docs/ci.md, ADR 0008.
set(XREC_SANITIZE "" CACHE STRING "Sanitizers to build with (-fsanitize=...), e.g. address,undefined; empty: none")

if(XREC_SANITIZE)
  if(NOT XREC_SANITIZE MATCHES "^[a-z,-]+$")
    message(FATAL_ERROR "XREC_SANITIZE='${XREC_SANITIZE}': expected a comma-separated list such as address,undefined")
  endif()
  # -fno-sanitize-recover: the first UB report fails the test instead of scrolling past.
  add_compile_options(-fsanitize=${XREC_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all -g)
  add_link_options(-fsanitize=${XREC_SANITIZE})
  if(XREC_SANITIZE MATCHES "undefined")
    # UBSan's vptr check compares type_info across libraries; plugins are loaded RTLD_LOCAL, so the same
    # class seen from the host and from a plugin has two type_infos and every virtual call through the
    # plugin boundary is reported as a wrong dynamic type (a misfire, not a bug). The check is off; all
    # other UB checks stay on.
    add_compile_options(-fno-sanitize=vptr)
  endif()
  message(STATUS "xrec: building with -fsanitize=${XREC_SANITIZE}")
endif()
