# Installs the build BUILD_DIR into PREFIX, emptied first so that nothing of an
# earlier install can stand in for what this one should have put there; then
# checks the files a consumer relies on.
#   cmake -DPREFIX=... -DBUILD_DIR=... -P install_fresh.cmake
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${result}")
endif()
file(GLOB_RECURSE installed RELATIVE "${PREFIX}" "${PREFIX}/*")
foreach(expected
    include/hotstate/hotstate.hpp include/hotstate/hotstate.h bin/hotstate
    "lib*/libhotstate.a" "lib*/libhotstate.so" "lib*/libhotstate.so.*"
    "lib*/cmake/hotstate/hotstateConfig.cmake" "lib*/cmake/hotstate/hotstateConfigVersion.cmake"
    "lib*/pkgconfig/hotstate.pc")
  string(REPLACE "." "\\." pattern "${expected}")
  string(REPLACE "*" ".*" pattern "${pattern}")
  set(found ${installed})
  list(FILTER found INCLUDE REGEX "^${pattern}$")
  if(NOT found)
    message(FATAL_ERROR "the install lacks ${expected}")
  endif()
endforeach()
# Public headers must not need SQLite, SQLiteCpp or simdjson.
file(GLOB headers "${PREFIX}/include/hotstate/*")
foreach(header IN LISTS headers)
  file(STRINGS "${header}" includes REGEX "#include")
  foreach(line IN LISTS includes)
    if(line MATCHES "sqlite3\\.h|SQLiteCpp|simdjson")
      message(FATAL_ERROR "${header} includes a private dependency: ${line}")
    endif()
  endforeach()
endforeach()
message(STATUS "installed hotstate into ${PREFIX}")
