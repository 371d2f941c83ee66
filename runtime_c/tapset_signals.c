/* Signal sets, sigactions and rlimits in user memory, as stap's syscall tapsets write
 * them.  The bytes come from the probe-time copy when the kernel probe made one. */
#define _GNU_SOURCE  /* the SA_* flags */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tapset_signals.h"
#include "tapset_support.h"

struct named_bit {
	long value;
	const char *name;
};

/* stap's signal list, in its order and with its names (sets are written in this order). */
static const struct named_bit signal_list[] = {
	{1, "SIGHUP"}, {2, "SIGINT"}, {3, "SIGQUIT"}, {4, "SIGILL"}, {5, "SIGTRAP"}, {6, "SIGABRT"},
	{7, "SIGBUS"}, {8, "SIGFPE"}, {9, "SIGKILL"}, {10, "SIGUSR1"}, {11, "SIGSEGV"}, {13, "SIGPIPE"},
	{12, "SIGUSR2"}, {14, "SIGALRM"}, {15, "SIGTERM"}, {17, "SIGCHLD"}, {18, "SIGCONT"},
	{19, "SIGSTOP"}, {20, "SIGTSTP"}, {21, "SIGTTIN"}, {22, "SIGTTOU"}, {23, "SIGURG"},
	{24, "SIGXCPU"}, {25, "SIGXFSZ"}, {26, "SIGVTALRM"}, {27, "SIGPROF"}, {28, "SIGWINCH"},
	{29, "SIGIO/SIGPOLL"}, {30, "SIGPWR"}, {31, "SIGSYS"}, {0, NULL},
};

static const struct named_bit sa_flags[] = {
	{SA_NOCLDSTOP, "SA_NOCLDSTOP"}, {SA_NOCLDWAIT, "SA_NOCLDWAIT"}, {SA_RESETHAND, "SA_RESETHAND"},
	{SA_ONSTACK, "SA_ONSTACK"}, {SA_RESTART, "SA_RESTART"}, {SA_NODEFER, "SA_NODEFER"},
	{SA_SIGINFO, "SA_SIGINFO"}, {0x04000000, "SA_RESTORER"}, {0, NULL},
};

/* The kernel's struct sigaction on x86_64, as rt_sigaction(2) takes it. */
struct kernel_sigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

static size_t append(char *out, size_t size, size_t used, const char *text)
{
	if (used < size)
		snprintf(out + used, size - used, "%s", text);
	return used + strlen(text);
}

static size_t sigset_str(char *out, size_t size, size_t used, uint64_t mask)
{
	const struct named_bit *s;
	int any = 0;

	for (s = signal_list; s->name != NULL; s++) {
		if (mask & (1ull << (s->value - 1))) {
			used = append(out, size, used, any ? "|" : "[");
			used = append(out, size, used, s->name);
			any = 1;
		}
	}
	return append(out, size, used, any ? "]" : "[EMPTY]");
}

/* Flag names joined with '|', leftover bits in hex; zero is "0x0". */
static size_t flags_str(char *out, size_t size, size_t used, uint64_t flags)
{
	char hex[24];
	const struct named_bit *f;
	int any = 0;

	for (f = sa_flags; f->name != NULL; f++) {
		if (flags & (uint64_t)f->value) {
			used = append(out, size, used, any ? "|" : "");
			used = append(out, size, used, f->name);
			flags &= ~(uint64_t)f->value;
			any = 1;
		}
	}
	if (flags != 0 || !any) {
		snprintf(hex, sizeof(hex), "%s0x%llx", any ? "|" : "", (unsigned long long)flags);
		used = append(out, size, used, hex);
	}
	return used;
}

/* NULL for 0, the address in hex when unreadable; 1 when `bytes` were read. */
static int read_or_say(char *out, size_t size, int64_t pid, uint64_t addr, void *bytes, size_t len)
{
	if (addr == 0) {
		snprintf(out, size, "NULL");
		return 0;
	}
	if (tapset_read_user(pid, addr, bytes, len) < 0) {
		snprintf(out, size, "0x%llx", (unsigned long long)addr);
		return 0;
	}
	return 1;
}

void tapset_sigset_u(char *out, size_t size, int64_t pid, uint64_t addr)
{
	uint64_t mask;

	if (read_or_say(out, size, pid, addr, &mask, sizeof(mask)))
		sigset_str(out, size, 0, mask);
}

void tapset_sigaction_u(char *out, size_t size, int64_t pid, uint64_t addr)
{
	struct kernel_sigaction act;
	char text[32];
	size_t used;

	if (!read_or_say(out, size, pid, addr, &act, sizeof(act)))
		return;
	if (act.handler <= 1) {
		snprintf(out, size, "%s", act.handler ? "SIG_IGN" : "SIG_DFL");
		return;
	}
	snprintf(text, sizeof(text), "0x%llx, ", (unsigned long long)act.handler);
	used = append(out, size, 0, text);
	used = flags_str(out, size, used, act.flags);
	snprintf(text, sizeof(text), ", 0x%llx, ", (unsigned long long)act.restorer);
	used = append(out, size, used, text);
	sigset_str(out, size, used, act.mask);
}

void tapset_rlimit_u(char *out, size_t size, int64_t pid, uint64_t addr)
{
	int64_t rl[2];

	if (read_or_say(out, size, pid, addr, rl, sizeof(rl)))
		snprintf(out, size, "[%lld,%lld]", (long long)rl[0], (long long)rl[1]);
}
