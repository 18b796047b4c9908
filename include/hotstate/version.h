/* hotstate: the library's version, defined here and nowhere else: the C API
 * (hotstate.h), the C++ API (version.hpp) and the build (CMakeLists.txt reads
 * these lines for project(VERSION), the SONAME and the package files) all take
 * it from this file. */
#ifndef HOTSTATE_VERSION_H
#define HOTSTATE_VERSION_H

#define HOTSTATE_VERSION_MAJOR 0
#define HOTSTATE_VERSION_MINOR 1
#define HOTSTATE_VERSION_PATCH 0

#define HOTSTATE_VERSION_TEXT_(major, minor, patch) #major "." #minor "." #patch
#define HOTSTATE_VERSION_TEXT(major, minor, patch) HOTSTATE_VERSION_TEXT_(major, minor, patch)
/* "MAJOR.MINOR.PATCH", e.g. "0.1.0". */
#define HOTSTATE_VERSION_STRING \
  HOTSTATE_VERSION_TEXT(HOTSTATE_VERSION_MAJOR, HOTSTATE_VERSION_MINOR, HOTSTATE_VERSION_PATCH)

#endif /* HOTSTATE_VERSION_H */
