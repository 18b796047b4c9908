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
include("${PROJECT_SOURCE_DIR}/cmake/markdown_blocks.cmake")
hotstate_extract_marked_blocks(
  PAGE "${tutorial_page}" MARKER tutorial-file NAME_REGEX "[A-Za-z0-9_.-]+" FENCE_REGEX "```[a-z]*"
  OUTPUT_DIR "${tutorial_project}" NAMES_VAR tutorial_files)
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
