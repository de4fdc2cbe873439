/* tsan: happens-before edges ThreadSanitizer cannot see by itself.
 *
 * gRPC hands a completion-queue tag from the thread that started a batch
 * to the thread that receives its completion through atomics inside a
 * library built without ThreadSanitizer, and the kernel sends a FUSE
 * file's RELEASE only after every read of it has its reply: without these
 * marks every field the two threads share looks like a data race.
 * Nothing in other builds. */
#ifndef GMB_TSAN_H
#define GMB_TSAN_H

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GMB_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define GMB_TSAN 1
#endif

#ifdef GMB_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
/* Before handing `p` to another thread through an uninstrumented library. */
#define GMB_HANDOFF_RELEASE(p) __tsan_release(p)
/* After receiving `p` that way. */
#define GMB_HANDOFF_ACQUIRE(p) __tsan_acquire(p)
#else
#define GMB_HANDOFF_RELEASE(p) ((void)(p))
#define GMB_HANDOFF_ACQUIRE(p) ((void)(p))
#endif

#endif
