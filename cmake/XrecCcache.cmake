# Compile through ccache when present. PCH-friendly sloppiness, so precompiled torch headers hit too.
if(XREC_USE_CCACHE)
  find_program(XREC_CCACHE ccache)
  if(XREC_CCACHE)
    set(CMAKE_CXX_COMPILER_LAUNCHER
        "${CMAKE_COMMAND};-E;env;CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime;CCACHE_BASEDIR=${CMAKE_SOURCE_DIR};${XREC_CCACHE}")
    message(STATUS "xrec: compiling through ccache (${XREC_CCACHE})")
  endif()
endif()
