/* Asymmetric fences: a fast side that needs only a compiler barrier and a
 * slow side that pays for both. Between a thread that stores a flag and
 * then reads another (a thread cache's owner: "busy", then "stop") and a
 * rare thread doing the mirror image (a pool's lock holder draining that
 * cache), Dekker's handshake needs a full fence on both sides. With
 * asymmetric fences the heavy one (Linux membarrier, private expedited:
 * every running thread of the process executes a full barrier before it
 * returns) stands in for the fast side's, which becomes free. On this
 * project's 2-core machine an uncontended atomic exchange cost about 2 ns
 * more than a plain store, and a heavy fence about 12 us (a virtual
 * machine's interrupts between cores): worth it only where the slow side
 * is rare. */
#ifndef TP_CORE_ASYM_FENCE_H
#define TP_CORE_ASYM_FENCE_H

#include <stdbool.h>

/* Registers the process for heavy fences, once; whether they work. When
 * they do not (another OS, a kernel or sandbox without membarrier, a tool
 * that does not emulate it, or TP_ASYM_FENCE=off in the environment), both
 * sides use full fences instead. */
bool tp_asym_fence_available(void);

/* The slow side: returns once every thread of the process has passed a
 * full barrier. Only after tp_asym_fence_available() said true. */
void tp_asym_fence_heavy(void);

#endif
