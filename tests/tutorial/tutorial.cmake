# Builds and runs docs/tutorial.md as its reader would: every fenced block
# preceded by the line
#
#   <!-- tutorial-file: NAME -->
#
# is written to ${CMAKE_CURRENT_BINARY_DIR}/tutorial/project/NAME (at configure
# time; editing the page re-runs CMake), and the test tutorial_host configures
# that project against the hotstate installed by the test package_install
# (find_package(hotstate)), builds it and runs its host.
#
# Include it from tests/CMakeLists.txt inside the block that defines the
# installed_package fixture; it uses HOTSTATE_TEST_PREFIX.

set(tutorial_page "${PROJECT_SOURCE_DIR}/docs/tutorial.md")
set(tutorial_project "${CMAKE_CURRENT_BINARY_DIR}/tutorial/project")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${tutorial_page}")

file(READ "${tutorial_page}" tutorial_text)
string(REPLACE "\r\n" "\n" tutorial_text "${tutorial_text}")
set(tutorial_text "\n${tutorial_text}")
set(marker "\n<!-- tutorial-file: ")
string(LENGTH "${marker}" marker_length)
set(tutorial_files "")
while(TRUE)
  string(FIND "${tutorial_text}" "${marker}" at)
  if(at EQUAL -1)
    break()
  endif()
  math(EXPR name_at "${at} + ${marker_length}")
  string(SUBSTRING "${tutorial_text}" ${name_at} -1 tutorial_text)
  string(FIND "${tutorial_text}" "\n" line_end)
  string(SUBSTRING "${tutorial_text}" 0 ${line_end} marker_rest)
  if(NOT marker_rest MATCHES "^([A-Za-z0-9_.-]+) -->[ \t]*$")
    message(FATAL_ERROR "docs/tutorial.md: malformed marker '<!-- tutorial-file: ${marker_rest}'")
  endif()
  set(name "${CMAKE_MATCH_1}")
  if(name IN_LIST tutorial_files)
    message(FATAL_ERROR "docs/tutorial.md: two blocks are the file '${name}'")
  endif()
  # The next line opens the block (```cpp, ```cmake, …); the body runs to the closing fence.
  math(EXPR fence_at "${line_end} + 1")
  string(SUBSTRING "${tutorial_text}" ${fence_at} -1 tutorial_text)
  if(NOT tutorial_text MATCHES "^```[a-z]*\n")
    message(FATAL_ERROR "docs/tutorial.md: the marker of '${name}' must be followed by a ``` line")
  endif()
  string(FIND "${tutorial_text}" "\n" line_end)
  math(EXPR body_at "${line_end} + 1")
  string(SUBSTRING "${tutorial_text}" ${body_at} -1 tutorial_text)
  set(tutorial_text "\n${tutorial_text}")
  string(FIND "${tutorial_text}" "\n```" body_end)
  if(body_end EQUAL -1)
    message(FATAL_ERROR "docs/tutorial.md: the block of '${name}' is never closed")
  endif()
  string(SUBSTRING "${tutorial_text}" 1 ${body_end} body)
  math(EXPR after_at "${body_end} + 4")
  string(SUBSTRING "${tutorial_text}" ${after_at} -1 tutorial_text)
  file(WRITE "${tutorial_project}/${name}.tmp" "${body}")
  file(COPY_FILE "${tutorial_project}/${name}.tmp" "${tutorial_project}/${name}" ONLY_IF_DIFFERENT)
  file(REMOVE "${tutorial_project}/${name}.tmp")
  list(APPEND tutorial_files "${name}")
endwhile()
if(NOT "CMakeLists.txt" IN_LIST tutorial_files OR NOT "host.cpp" IN_LIST tutorial_files)
  message(FATAL_ERROR "docs/tutorial.md: expected tutorial-file blocks for CMakeLists.txt and host.cpp")
endif()

set(tutorial_build "${CMAKE_CURRENT_BINARY_DIR}/tutorial/build")
add_test(NAME tutorial_host
  COMMAND ${CMAKE_CTEST_COMMAND}
    --build-and-test "${tutorial_project}" "${tutorial_build}"
    --build-generator "${CMAKE_GENERATOR}"
    --build-options "-DCMAKE_PREFIX_PATH=${HOTSTATE_TEST_PREFIX}" "-DCMAKE_BUILD_TYPE=Release"
    --test-command host "${tutorial_build}")
set_tests_properties(tutorial_host PROPERTIES FIXTURES_REQUIRED installed_package LABELS consumer)
message(STATUS "hotstate: docs/tutorial.md files built by the test tutorial_host: ${tutorial_files}")
