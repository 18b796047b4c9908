# Compiles and runs the C++ examples of README.md as tests.
#
# At configure time, every fenced code block of README.md that opens with the
# line ```cpp and is immediately preceded by the line
#
#   <!-- readme-test: NAME -->
#
# is written to ${CMAKE_CURRENT_BINARY_DIR}/readme/NAME.cpp, built as the
# executable readme_NAME (linked to hotstate::hotstate and
# hotstate_build_flags) and registered as the test readme_NAME, run in its own
# directory ${CMAKE_CURRENT_BINARY_DIR}/readme/run/NAME. Editing README.md
# re-runs CMake, so the examples follow the README.
#
# Include it from a CMakeLists.txt after enable_testing(); NAME may contain
# letters, digits, '_' and '-'.

set(HOTSTATE_README "${PROJECT_SOURCE_DIR}/README.md")
set(readme_out_dir "${CMAKE_CURRENT_BINARY_DIR}/readme")

include("${PROJECT_SOURCE_DIR}/cmake/markdown_blocks.cmake")
set(readme_examples "")
if(EXISTS "${HOTSTATE_README}")
  hotstate_extract_marked_blocks(
    PAGE "${HOTSTATE_README}" MARKER readme-test NAME_REGEX "[A-Za-z0-9_-]+" FENCE_REGEX "```cpp"
    OUTPUT_DIR "${readme_out_dir}" SUFFIX ".cpp"
    HEADER "// Generated from a readme-test block of README.md. Edit README.md, not this file.\n"
    NAMES_VAR readme_examples)
endif()

# Sources of examples that are gone from the README.
file(GLOB stale_sources "${readme_out_dir}/*.cpp")
foreach(stale IN LISTS stale_sources)
  get_filename_component(stale_name "${stale}" NAME_WE)
  if(NOT stale_name IN_LIST readme_examples)
    file(REMOVE "${stale}")
  endif()
endforeach()

foreach(name IN LISTS readme_examples)
  set(run_dir "${readme_out_dir}/run/${name}")
  file(MAKE_DIRECTORY "${run_dir}")
  add_executable(readme_${name} "${readme_out_dir}/${name}.cpp")
  target_link_libraries(readme_${name} PRIVATE hotstate::hotstate hotstate_build_flags)
  set_target_properties(readme_${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${readme_out_dir}")
  # The run directory is made at build time too, in case it was deleted.
  add_custom_command(TARGET readme_${name} POST_BUILD
                     COMMAND ${CMAKE_COMMAND} -E make_directory "${run_dir}" VERBATIM)
  add_test(NAME readme_${name} COMMAND readme_${name} WORKING_DIRECTORY "${run_dir}")
endforeach()

list(LENGTH readme_examples readme_example_count)
message(STATUS "hotstate: ${readme_example_count} README example(s) built as tests: ${readme_examples}")
