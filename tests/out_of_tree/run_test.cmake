# Driver of the out_of_tree_plugin test (cmake -P). Every step must succeed; any failure stops the
# script with FATAL_ERROR, which fails the test.
foreach(v XREC_BUILD_DIR WORK_DIR EXAMPLE_SOURCE_DIR GENERATOR CXX_COMPILER INSTALL_BINDIR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_test.cmake: -D${v}=... is required")
  endif()
endforeach()
if(NOT BUILD_TYPE)
  set(BUILD_TYPE Release)
endif()

set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")
set(xrec "${prefix}/${INSTALL_BINDIR}/xrec")

# run(<step> <command>...): runs a command; fails the test with its output unless it exits 0.
# Sets step_out / step_err in the caller.
function(run step)
  message(STATUS "[${step}] ${ARGN}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "[${step}] failed (exit ${rc}): ${ARGN}\n--- stdout\n${out}\n--- stderr\n${err}")
  endif()
  set(step_out "${out}" PARENT_SCOPE)
  set(step_err "${err}" PARENT_SCOPE)
endfunction()

function(expect step haystack needle)
  string(FIND "${haystack}" "${needle}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "[${step}] expected the output to contain '${needle}', got:\n${haystack}")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# 1. Install the current build to a scratch prefix.
run(install "${CMAKE_COMMAND}" --install "${XREC_BUILD_DIR}" --prefix "${prefix}" --config "${BUILD_TYPE}")
file(GLOB_RECURSE config_file "${prefix}/*/xrecConfig.cmake")
foreach(f "${xrec}" "${prefix}/include/xrec/api/plugin.hpp")
  if(NOT EXISTS "${f}")
    message(FATAL_ERROR "[install] ${f} was not installed")
  endif()
endforeach()
if(NOT config_file)
  message(FATAL_ERROR "[install] no xrecConfig.cmake under ${prefix}")
endif()
if(EXISTS "${prefix}/include/xrec/loader.hpp")
  message(FATAL_ERROR "[install] host-only header xrec/loader.hpp must not be installed")
endif()

# 2. Configure and build the downstream plugin against the installed package only (same compiler: the
# loader compares compiler and ABI). The package registry is off so a build tree can never stand in.
run(configure "${CMAKE_COMMAND}" -S "${EXAMPLE_SOURCE_DIR}" -B "${build}" -G "${GENERATOR}"
    "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_PREFIX_PATH=${prefix}"
    -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
file(STRINGS "${build}/CMakeCache.txt" xrec_dir REGEX "^xrec_DIR:")
string(FIND "${xrec_dir}" "${prefix}/" at)
if(NOT at GREATER -1)
  message(FATAL_ERROR "[configure] find_package(xrec) did not use the installed package: ${xrec_dir}")
endif()
run(build "${CMAKE_COMMAND}" --build "${build}" --config "${BUILD_TYPE}")
file(GLOB plugin "${build}/oot_example.so" "${build}/${BUILD_TYPE}/oot_example.so")
if(NOT plugin)
  message(FATAL_ERROR "[build] oot_example.so not found under ${build}")
endif()
get_filename_component(plugin_dir "${plugin}" DIRECTORY)
# The loader reports canonical paths.
file(REAL_PATH "${plugin}" plugin)
file(REAL_PATH "${WORK_DIR}" real_work_dir)

# 3. The installed xrec loads it from XREC_PLUGIN_PATH and shows its component and parameters.
run(inspect "${CMAKE_COMMAND}" -E env "XREC_PLUGIN_PATH=${plugin_dir}" "${xrec}" plugins inspect oot_example)
foreach(needle "Plugin oot_example 1.0.0" "dataset oot_synthetic" "num_users" "int in [1, 100000]; default 50"
               "${plugin}")
  expect(inspect "${step_out}" "${needle}")
endforeach()
string(FIND "${step_err}" "oot_example.so" at)
if(at GREATER -1)
  message(FATAL_ERROR "[inspect] the plugin was reported as a problem:\n${step_err}")
endif()

# The JSON form parses, and every plugin the installed xrec loaded comes from the prefix or the example:
# an installed binary must not pick up the build tree's plugins.
run(list "${CMAKE_COMMAND}" -E env "XREC_PLUGIN_PATH=${plugin_dir}" "${xrec}" plugins list --json)
string(JSON count ERROR_VARIABLE json_error LENGTH "${step_out}" plugins)
if(json_error)
  message(FATAL_ERROR "[list] invalid JSON (${json_error}):\n${step_out}")
endif()
if(count EQUAL 0)
  message(FATAL_ERROR "[list] the installed xrec loaded no plugin:\n${step_out}\n${step_err}")
endif()
set(found_example OFF)
math(EXPR last "${count} - 1")
foreach(i RANGE ${last})
  string(JSON name GET "${step_out}" plugins ${i} name)
  string(JSON path GET "${step_out}" plugins ${i} path)
  if(name STREQUAL "oot_example")
    set(found_example ON)
  endif()
  string(FIND "${path}" "${real_work_dir}/" at)
  if(NOT at EQUAL 0)
    message(FATAL_ERROR "[list] the installed xrec loaded ${name} from ${path}, outside ${real_work_dir}")
  endif()
endforeach()
if(NOT found_example)
  message(FATAL_ERROR "[list] oot_example missing from:\n${step_out}")
endif()
message(STATUS "out-of-tree plugin: installed, built and loaded (${count} plugins)")
