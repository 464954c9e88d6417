# xrec_add_plugin(<name> SOURCES <src>... [LIBRARIES <lib>...] [OUTPUT_DIRECTORY <dir>] [NO_TORCH_PCH])
#
# Builds <name>.so, a plugin library the xrec host loads (its XREC_PLUGIN name must be <name>).
# Works in xrec's own tree and in a downstream project after find_package(xrec).
# Plugins get hidden visibility: only the XREC_PLUGIN entry is exported.
function(xrec_add_plugin name)
  cmake_parse_arguments(ARG "NO_TORCH_PCH" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "xrec_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE xrec::api ${ARG_LIBRARIES})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    OUTPUT_NAME ${name}
    DEFINE_SYMBOL ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    CXX_STANDARD 17
    CXX_STANDARD_REQUIRED ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
  elseif(XREC_BUILD_PLUGIN_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${XREC_BUILD_PLUGIN_DIR}")
    # The build's plugin folder mirrors the installed one: exactly these plugins are installed (see
    # XrecInstall.cmake) and built by the `xrec_plugins` target. Test fixtures use OUTPUT_DIRECTORY.
    set_property(GLOBAL APPEND PROPERTY XREC_PLUGIN_TARGETS ${name})
  endif()
  # In xrec's own tree, share one precompiled <torch/torch.h> among all plugins.
  if(TARGET xrec_plugin_pch AND NOT ARG_NO_TORCH_PCH)
    target_precompile_headers(${name} REUSE_FROM xrec_plugin_pch)
  endif()
endfunction()
