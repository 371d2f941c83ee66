/* tapset_clock.c - the timestamp tapset's clocks.
 *
 * Handlers run in user space some time after their event; for a kernel event
 * the runtime passes the CLOCK_MONOTONIC stamp taken in the kernel, and the
 * clocks below report the time of the event, not of the handler, by shifting
 * the requested clock by the delay measured on CLOCK_MONOTONIC.
 */
#define _GNU_SOURCE  /* clock_gettime, CLOCK_MONOTONIC_RAW */
#include "tapset_support.h"

#include <stdio.h>
#include <time.h>

static int64_t read_clock(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t tapset_clock_ns(int clock_id, uint64_t event_mono_ns)
{
	int64_t now;

	if (event_mono_ns != 0 && clock_id == CLOCK_MONOTONIC)
		return (int64_t)event_mono_ns;
	now = read_clock((clockid_t)clock_id);
	if (event_mono_ns == 0)
		return now;
	return now - (read_clock(CLOCK_MONOTONIC) - (int64_t)event_mono_ns);
}

int64_t tapset_cycles(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return (int64_t)__builtin_ia32_rdtsc();
#else
	return read_clock(CLOCK_MONOTONIC_RAW);
#endif
}

/* The kernel starts jiffies 300 seconds before a 32-bit wrap (INITIAL_JIFFIES). */
static int64_t initial_jiffies(int64_t hz)
{
	return (int64_t)4294967296LL - 300 * hz;
}

/* jiffies at CLOCK_MONOTONIC zero: read once from /proc/timer_list (root
 * only), otherwise the kernel's initial value, which is within a second. */
static int64_t jiffies_base(int64_t hz)
{
	static int64_t base;
	static int known;
	char line[256];
	long long value;
	FILE *f;

	if (known)
		return base;
	known = 1;
	base = initial_jiffies(hz);
	f = fopen("/proc/timer_list", "r");
	if (f == NULL)
		return base;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "jiffies: %lld", &value) == 1) {
			base = value - read_clock(CLOCK_MONOTONIC) / (1000000000 / hz);
			break;
		}
	}
	fclose(f);
	return base;
}

int64_t tapset_jiffies(int64_t hz, uint64_t event_mono_ns)
{
	int64_t mono = event_mono_ns ? (int64_t)event_mono_ns : read_clock(CLOCK_MONOTONIC);

	if (hz <= 0)
		hz = 100;
	return jiffies_base(hz) + mono / (1000000000 / hz);
}
