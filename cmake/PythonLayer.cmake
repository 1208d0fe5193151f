# falco_py_layer(<target> PACKAGES <pkg>... DEPENDS <target>...)
#
# A layer target byte-compiles its Python packages (so a syntax error fails the
# build, as a compile error would in C) into the build tree, never into the
# source tree. The Python sources reach the wheel through pyproject's
# wheel.packages; compiled helpers of a layer (cffi modules, the probe object)
# are added to the layer's target and installed by the layer's own CMake code.
function(falco_py_layer target)
  cmake_parse_arguments(ARG "" "" "PACKAGES;DEPENDS" ${ARGN})
  set(stamp "${CMAKE_CURRENT_BINARY_DIR}/${target}.compiled")
  set(sources "")
  foreach(pkg IN LISTS ARG_PACKAGES)
    file(GLOB_RECURSE pkg_sources CONFIGURE_DEPENDS
         "${PROJECT_SOURCE_DIR}/${pkg}/*.py" "${PROJECT_SOURCE_DIR}/${pkg}/*.json")
    list(APPEND sources ${pkg_sources})
  endforeach()
  list(TRANSFORM ARG_PACKAGES PREPEND "${PROJECT_SOURCE_DIR}/" OUTPUT_VARIABLE pkg_dirs)
  add_custom_command(
    OUTPUT "${stamp}"
    COMMAND ${CMAKE_COMMAND} -E env "PYTHONPYCACHEPREFIX=${CMAKE_CURRENT_BINARY_DIR}/pycache"
            ${Python_EXECUTABLE} -m compileall -q ${pkg_dirs}
    COMMAND ${CMAKE_COMMAND} -E touch "${stamp}"
    DEPENDS ${sources}
    COMMENT "Byte-compiling ${ARG_PACKAGES}")
  add_custom_target(${target} ALL DEPENDS "${stamp}")
  if(ARG_DEPENDS)
    add_dependencies(${target} ${ARG_DEPENDS})
  endif()
endfunction()
