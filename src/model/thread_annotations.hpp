// Internal: clang's thread-safety annotations (as leveldb's
// port/thread_annotations.h). Under clang, -Wthread-safety checks at compile
// time that every member marked GUARDED_BY(m) is used only with m held, and
// every function marked REQUIRES(m) is called only with m held. Other
// compilers see nothing. The mutexes to annotate are in model/mutex.hpp:
// std::mutex itself carries no annotations in libstdc++.
#pragma once

#if defined(__clang__)
#define HOTSTATE_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define HOTSTATE_THREAD_ANNOTATION(x)
#endif

// Types and data.
#define CAPABILITY(x) HOTSTATE_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY HOTSTATE_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) HOTSTATE_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) HOTSTATE_THREAD_ANNOTATION(pt_guarded_by(x))

// Functions: what must be held (or not) on entry, and what they acquire or release.
#define REQUIRES(...) HOTSTATE_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) HOTSTATE_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define EXCLUDES(...) HOTSTATE_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) HOTSTATE_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) HOTSTATE_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) HOTSTATE_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) HOTSTATE_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) HOTSTATE_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))

// For the few functions whose locking the analysis cannot follow (a lock
// held in a member for an object's lifetime); each use says why.
#define NO_THREAD_SAFETY_ANALYSIS HOTSTATE_THREAD_ANNOTATION(no_thread_safety_analysis)
