# Installs the command line, libxrec_api.so, the public API headers (core/include/xrec/api only: host
# headers stay private), every in-tree plugin, the configs, and the CMake package `xrec` that lets a
# downstream project build plugins: find_package(xrec) gives xrec::api and xrec_add_plugin().
include(CMakePackageConfigHelpers)

set(XREC_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/xrec")

# RPATHs are relative to the installed files, so an installation can be moved as a whole. Link folders
# outside the system paths (a LibTorch unpacked elsewhere) are kept as well.
file(RELATIVE_PATH _xrec_plugin_to_lib "${CMAKE_INSTALL_PREFIX}/${XREC_INSTALL_PLUGIN_DIR}"
     "${CMAKE_INSTALL_FULL_LIBDIR}")
file(RELATIVE_PATH _xrec_bin_to_lib "${CMAKE_INSTALL_FULL_BINDIR}" "${CMAKE_INSTALL_FULL_LIBDIR}")

install(TARGETS xrec_api EXPORT xrecTargets
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
set_target_properties(xrec_api PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
install(DIRECTORY "${PROJECT_SOURCE_DIR}/core/include/xrec/api"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/xrec"
  FILES_MATCHING PATTERN "*.hpp")

if(TARGET xrec)
  set_target_properties(xrec PROPERTIES
    INSTALL_RPATH "$ORIGIN/${_xrec_bin_to_lib}" INSTALL_RPATH_USE_LINK_PATH ON)
  install(TARGETS xrec RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
endif()

# The plugins xrec_add_plugin put in the build's plugin folder (XrecPlugin.cmake collects them).
get_property(_xrec_plugins GLOBAL PROPERTY XREC_PLUGIN_TARGETS)
if(_xrec_plugins)
  set_target_properties(${_xrec_plugins} PROPERTIES
    INSTALL_RPATH "$ORIGIN/${_xrec_plugin_to_lib}" INSTALL_RPATH_USE_LINK_PATH ON)
  install(TARGETS ${_xrec_plugins} LIBRARY DESTINATION "${XREC_INSTALL_PLUGIN_DIR}")
endif()

if(EXISTS "${PROJECT_SOURCE_DIR}/configs")
  install(DIRECTORY "${PROJECT_SOURCE_DIR}/configs/" DESTINATION "${CMAKE_INSTALL_DATADIR}/xrec/configs")
endif()

# The package: targets, config (dependencies + xrec_add_plugin), version.
install(EXPORT xrecTargets NAMESPACE xrec:: DESTINATION "${XREC_INSTALL_CMAKEDIR}")
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/xrecConfig.cmake.in"
  "${CMAKE_CURRENT_BINARY_DIR}/xrecConfig.cmake"
  INSTALL_DESTINATION "${XREC_INSTALL_CMAKEDIR}"
  PATH_VARS XREC_INSTALL_PLUGIN_DIR CMAKE_INSTALL_INCLUDEDIR)
# 0.x: a new minor version may change the plugin API (the loader checks XREC_API_VERSION exactly anyway).
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/xrecConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${CMAKE_CURRENT_BINARY_DIR}/xrecConfig.cmake"
  "${CMAKE_CURRENT_BINARY_DIR}/xrecConfigVersion.cmake"
  "${PROJECT_SOURCE_DIR}/cmake/XrecPlugin.cmake"
  DESTINATION "${XREC_INSTALL_CMAKEDIR}")
