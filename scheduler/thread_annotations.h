// Clang thread-safety annotations (-Wthread-safety), as in abseil. They document which
// lock guards which field and let clang check it; with g++ they expand to nothing.
#pragma once

#if defined(__clang__)
#define PW_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define PW_THREAD_ANNOTATION(x)
#endif

#define PW_CAPABILITY(x) PW_THREAD_ANNOTATION(capability(x))
#define PW_SCOPED_CAPABILITY PW_THREAD_ANNOTATION(scoped_lockable)
#define PW_GUARDED_BY(x) PW_THREAD_ANNOTATION(guarded_by(x))
#define PW_PT_GUARDED_BY(x) PW_THREAD_ANNOTATION(pt_guarded_by(x))
#define PW_REQUIRES(...) PW_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define PW_ACQUIRE(...) PW_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define PW_RELEASE(...) PW_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define PW_TRY_ACQUIRE(...) PW_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define PW_EXCLUDES(...) PW_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define PW_NO_THREAD_SAFETY_ANALYSIS PW_THREAD_ANNOTATION(no_thread_safety_analysis)
