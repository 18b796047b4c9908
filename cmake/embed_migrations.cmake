# Generates a C++ source holding every migrations/NNNN_what.sql as a string.
# Run at build time: cmake -DMIGRATIONS_DIR=… -DOUTPUT=… -P embed_migrations.cmake
if(NOT FUNCTION)
  set(FUNCTION embedded_migrations)
endif()
file(GLOB migration_files RELATIVE "${MIGRATIONS_DIR}" "${MIGRATIONS_DIR}/*.sql")
list(SORT migration_files)
set(entries "")
set(expected 1)
foreach(file_name IN LISTS migration_files)
  if(NOT file_name MATCHES "^([0-9][0-9][0-9][0-9])_[a-z0-9_]+\\.sql$")
    message(FATAL_ERROR "migration file ${file_name} is not named NNNN_what.sql")
  endif()
  math(EXPR version "${CMAKE_MATCH_1}")
  if(NOT version EQUAL expected)
    message(FATAL_ERROR "migration ${file_name}: expected number ${expected}; migrations must be numbered 1, 2, … without gaps")
  endif()
  math(EXPR expected "${expected} + 1")
  file(READ "${MIGRATIONS_DIR}/${file_name}" sql)
  if(sql MATCHES "\\)hotstate_sql\"")
    message(FATAL_ERROR "migration ${file_name} contains the raw string delimiter")
  endif()
  string(REGEX REPLACE "\\.sql$" "" name "${file_name}")
  string(APPEND entries "    {${version}, \"${name}\", R\"hotstate_sql(${sql})hotstate_sql\"},\n")
endforeach()
if(expected EQUAL 1)
  message(FATAL_ERROR "no migrations found in ${MIGRATIONS_DIR}")
endif()
file(WRITE "${OUTPUT}.tmp" "// Generated from migrations/*.sql by cmake/embed_migrations.cmake. Do not edit.
#include \"store/migrations.hpp\"

namespace hotstate::internal {

const std::vector<Migration>& ${FUNCTION}() {
  static const std::vector<Migration> migrations = {
${entries}  };
  return migrations;
}

}  // namespace hotstate::internal
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
