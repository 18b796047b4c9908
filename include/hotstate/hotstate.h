/* hotstate's C API: placeholder, being written. */
#ifndef HOTSTATE_HOTSTATE_H
#define HOTSTATE_HOTSTATE_H
#endif
