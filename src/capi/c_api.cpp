// The C API (include/hotstate/hotstate.h): placeholder, being written.
