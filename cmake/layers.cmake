# The library's layers as build targets. Data flows one way (README, Layout):
#   model  <-  store  <-  cache  <-  manager        capi: the public API only
# Each layer is an OBJECT library whose sources see only their own layer's
# headers and those of the layers below it: every layer gets an include
# directory of its own, ${HOTSTATE_LAYER_ROOT}/<layer>, holding one link,
# <layer> -> src/<layer>, and a layer's targets are given the directories of
# itself and the layers below. So `#include "cache/snapshot_cache.hpp"` in the
# store does not build ("No such file"), and neither does any include against
# the flow. The public headers (include/) are visible to every layer.
set(HOTSTATE_LAYER_ROOT "${PROJECT_BINARY_DIR}/layers")
set(HOTSTATE_LAYER_TARGETS "")

# The include directory that exposes src/<layer> as "<layer>/...".
function(hotstate_layer_include_dir layer out)
  set(dir "${HOTSTATE_LAYER_ROOT}/${layer}")
  if(NOT EXISTS "${dir}/${layer}")
    file(MAKE_DIRECTORY "${dir}")
    file(CREATE_LINK "${PROJECT_SOURCE_DIR}/src/${layer}" "${dir}/${layer}" SYMBOLIC)
  endif()
  set(${out} "${dir}" PARENT_SCOPE)
endfunction()

# hotstate_layer(<layer> SEES <lower layers…> SOURCES <files…>): the object
# library hotstate_<layer>, compiled as the rest of the library is.
function(hotstate_layer layer)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SEES;SOURCES")
  set(target hotstate_${layer})
  add_library(${target} OBJECT ${arg_SOURCES})
  hotstate_layer_visible(${target} ${layer} ${arg_SEES})
  set(HOTSTATE_LAYER_TARGETS ${HOTSTATE_LAYER_TARGETS} ${target} PARENT_SCOPE)
endfunction()

# Compiles `target` as a source of `layer` that sees `layer` and `ARGN`.
function(hotstate_layer_visible target layer)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>)
  foreach(visible IN ITEMS ${layer} ${ARGN})
    hotstate_layer_include_dir(${visible} dir)
    target_include_directories(${target} PRIVATE "${dir}")
  endforeach()
  # Only for their include directories: objects link nothing.
  target_link_libraries(${target} PRIVATE SQLiteCpp SQLite::SQLite3 simdjson::simdjson hotstate_build_flags)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
