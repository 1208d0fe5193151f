# falco_py_cffi_module(<target> <builder.py> NAME <module> DESTINATION <pkg>
#                      [SOURCES <c>...] [DEPENDS <file>...] [LIBS <lib>...])
#
# A cffi API-mode extension module: <builder.py> OUTPUT.c emits the binding's C,
# which is compiled with SOURCES (helpers next to it, headers in the current
# source directory) as the Python module <pkg>.<module> and installed into <pkg>.
# DEPENDS are extra files whose change regenerates the binding (its headers).
function(falco_py_cffi_module target builder)
  cmake_parse_arguments(ARG "" "NAME;DESTINATION" "SOURCES;DEPENDS;LIBS" ${ARGN})
  set(gen_c "${CMAKE_CURRENT_BINARY_DIR}/${ARG_NAME}_cffi.c")
  list(TRANSFORM ARG_DEPENDS PREPEND "${CMAKE_CURRENT_SOURCE_DIR}/")
  add_custom_command(
    OUTPUT "${gen_c}"
    COMMAND ${Python_EXECUTABLE} "${CMAKE_CURRENT_SOURCE_DIR}/${builder}" "${gen_c}"
    DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/${builder}" ${ARG_DEPENDS}
    COMMENT "Generating the cffi binding ${ARG_DESTINATION}.${ARG_NAME}")
  python_add_library(${target} MODULE WITH_SOABI "${gen_c}" ${ARG_SOURCES})
  set_target_properties(${target} PROPERTIES OUTPUT_NAME ${ARG_NAME} C_VISIBILITY_PRESET hidden)
  target_include_directories(${target} PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}")
  target_compile_options(${target} PRIVATE -O2 -Wall)
  if(ARG_LIBS)
    target_link_libraries(${target} PRIVATE ${ARG_LIBS})
  endif()
  install(TARGETS ${target} LIBRARY DESTINATION ${ARG_DESTINATION})
endfunction()
