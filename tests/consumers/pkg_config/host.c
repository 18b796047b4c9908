/* A C host using the installed C API through pkg-config (placeholder until
   the C API lands). */
#include <hotstate/hotstate.h>

int main(void) { return 0; }
