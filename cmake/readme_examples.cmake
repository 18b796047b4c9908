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
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${HOTSTATE_README}")

set(readme_examples "")
if(EXISTS "${HOTSTATE_README}")
  file(READ "${HOTSTATE_README}" readme_text)
  string(REPLACE "\r\n" "\n" readme_text "${readme_text}")
  # A leading newline lets every marker be found as "\n<!-- readme-test: ".
  set(readme_text "\n${readme_text}")
  set(marker "\n<!-- readme-test: ")
  string(LENGTH "${marker}" marker_length)

  while(TRUE)
    string(FIND "${readme_text}" "${marker}" at)
    if(at EQUAL -1)
      break()
    endif()
    math(EXPR name_at "${at} + ${marker_length}")
    string(SUBSTRING "${readme_text}" ${name_at} -1 readme_text)

    # The marker's line: "NAME -->" must end it.
    string(FIND "${readme_text}" "\n" line_end)
    if(line_end EQUAL -1)
      message(FATAL_ERROR "README.md: a readme-test marker is the last line; a ```cpp block must follow it")
    endif()
    string(SUBSTRING "${readme_text}" 0 ${line_end} marker_rest)
    if(NOT marker_rest MATCHES "^([A-Za-z0-9_-]+) -->[ \t]*$")
      message(FATAL_ERROR "README.md: malformed marker '<!-- readme-test: ${marker_rest}'; "
                          "expected '<!-- readme-test: NAME -->' with NAME of letters, digits, '_' or '-'")
    endif()
    set(name "${CMAKE_MATCH_1}")
    if(name IN_LIST readme_examples)
      message(FATAL_ERROR "README.md: two examples are named '${name}'")
    endif()

    # The next line must open the block: exactly ```cpp.
    math(EXPR fence_at "${line_end} + 1")
    string(SUBSTRING "${readme_text}" ${fence_at} -1 readme_text)
    string(FIND "${readme_text}" "\n" line_end)
    if(line_end EQUAL -1)
      set(line_end 0)
    endif()
    string(SUBSTRING "${readme_text}" 0 ${line_end} fence_line)
    string(STRIP "${fence_line}" fence_line_stripped)
    if(line_end EQUAL 0 OR NOT fence_line_stripped STREQUAL "```cpp")
      message(FATAL_ERROR "README.md: the readme-test marker '${name}' must be immediately followed by the line ```cpp")
    endif()

    # The body runs to the closing fence: a line starting with ```.
    math(EXPR body_at "${line_end} + 1")
    string(SUBSTRING "${readme_text}" ${body_at} -1 readme_text)
    set(readme_text "\n${readme_text}")
    string(FIND "${readme_text}" "\n```" body_end)
    if(body_end EQUAL -1)
      message(FATAL_ERROR "README.md: the ```cpp block of readme-test '${name}' is never closed")
    endif()
    string(SUBSTRING "${readme_text}" 1 ${body_end} body)
    math(EXPR after_at "${body_end} + 4")
    string(SUBSTRING "${readme_text}" ${after_at} -1 readme_text)

    # Write only when changed, so an untouched example is not rebuilt.
    set(source "${readme_out_dir}/${name}.cpp")
    file(WRITE "${source}.tmp" "// Generated from the readme-test block '${name}' of README.md. Edit README.md, not this file.\n${body}")
    file(COPY_FILE "${source}.tmp" "${source}" ONLY_IF_DIFFERENT)
    file(REMOVE "${source}.tmp")
    list(APPEND readme_examples "${name}")
  endwhile()
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
