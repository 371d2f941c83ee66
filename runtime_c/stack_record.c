/* The stacks a capture program copied into the record (engine/translate/bpf/stack.py):
 * up to 20 return addresses each, kernel slot before user slot, both at the record's
 * end and announced by header flags; a user stack is preceded by the same
 * frames' modules (engine/translate/bpf/stack.py), which name the frames' files
 * when the process has exited before its handler runs. */
#include <stdio.h>
#include <string.h>

#include "runtime.h"
#include "bpf_runtime.h"
#include "symbols.h"

#define KERNEL_STACK_FLAG 2  /* capture.py STACK_FLAGS */
#define USER_STACK_FLAG 4
#define USER_MODULES_FLAG 8  /* capture.py STACK_FLAGS */
#define STACK_FRAMES 20      /* plan.py STACK_FRAMES, stap's MAXBACKTRACE */
#define STACK_SLOT (8 + 8 * STACK_FRAMES)
#define BUILD_ID_VALID 1     /* BPF_STACK_BUILD_ID_VALID */

struct stack_slot {
	int64_t bytes;  /* bpf_get_stack's result: bytes written or -errno */
	uint64_t frames[STACK_FRAMES];
};

struct module_slot {  /* bpf_get_stack(BPF_F_USER_STACK | BPF_F_USER_BUILD_ID) */
	int64_t bytes;
	struct {
		int32_t status;
		unsigned char build_id[STP_BUILD_ID_SIZE];
		uint64_t offset;  /* in the file */
	} frames[STACK_FRAMES];
};

static const struct stack_slot *slot_of(const struct context *c, int user)
{
	const struct stp_bpf_record *r = c->event;
	uint32_t from_end;

	if (r == NULL || c->event_len < STP_BPF_RECORD_HEADER)
		return NULL;
	if (!(r->flags & (user ? USER_STACK_FLAG : KERNEL_STACK_FLAG)))
		return NULL;
	from_end = (!user && (r->flags & USER_STACK_FLAG)) ? 2 * STACK_SLOT : STACK_SLOT;
	if (c->event_len < STP_BPF_RECORD_HEADER + from_end)
		return NULL;
	return (const struct stack_slot *)((const char *)r + c->event_len - from_end);
}

_Static_assert(sizeof(struct module_slot) == 8 + 32 * STACK_FRAMES, "plan.py MODULE_SLOT");

/* The files of the user frames, for a process whose maps are gone. */
static void place_modules(const struct context *c, const uint64_t *frames, size_t n)
{
	const struct stp_bpf_record *r = c->event;
	const struct module_slot *modules;
	uint32_t stacks = STACK_SLOT * (1 + !!(r->flags & KERNEL_STACK_FLAG));
	size_t i;

	if (!(r->flags & USER_MODULES_FLAG) || c->event_len < STP_BPF_RECORD_HEADER + stacks + sizeof(*modules))
		return;
	modules = (const struct module_slot *)((const char *)r + c->event_len - stacks - sizeof(*modules));
	for (i = 0; i < n && modules->bytes > 0 && i < (size_t)modules->bytes / sizeof(modules->frames[0]); i++)
		if (modules->frames[i].status == BUILD_ID_VALID)
			stp_user_place_frame(c->pid, frames[i], modules->frames[i].build_id, modules->frames[i].offset);
}

size_t stp_stack_frames(const struct context *c, int user, uint64_t *frames, size_t max)
{
	const struct stack_slot *slot = slot_of(c, user);
	size_t n, i;

	if (slot == NULL || slot->bytes <= 0)
		return 0;
	n = (size_t)slot->bytes / 8;
	if (n > STACK_FRAMES)
		n = STACK_FRAMES;
	for (i = 0; i < n && i < max; i++)
		frames[i] = slot->frames[i];
	if (user)
		place_modules(c, frames, i);
	return i;
}

/* Every frame in `format`, appended to buf; stap prints a note for a missing user stack. */
void stp_stack_sprint(char *buf, size_t size, struct context *c, int user, enum stp_sym_format format)
{
	uint64_t frames[STACK_FRAMES];
	size_t n = stp_stack_frames(c, user, frames, STACK_FRAMES), used = 0, i;
	int64_t pid = user ? c->pid : -1;

	buf[0] = '\0';
	if (n == 0 && user) {
		if (format == STP_SYM_NONE)
			snprintf(buf, size, "\n");
		else
			snprintf(buf, size, "<no user backtrace at %s>\n", c->probe_point);
		return;
	}
	for (i = 0; i < n && used + 1 < size; i++)
		used += stp_format_address(buf + used, size - used, pid, frames[i], format);
	if (used >= size)
		buf[size - 1] = '\0';  /* truncated, as stap truncates at MAXSTRINGLEN */
}

void stp_stack_print(struct context *c, int user, enum stp_sym_format format)
{
	char text[STACK_FRAMES * 4352];

	stp_stack_sprint(text, sizeof(text), c, user, format);
	stp_output(text, strlen(text));
}

int stp_stack_at(const struct context *c, int user, int64_t n, uint64_t *addr)
{
	uint64_t frames[STACK_FRAMES];
	size_t count = stp_stack_frames(c, user, frames, STACK_FRAMES);

	if (n < 0 || (uint64_t)n >= count)
		return -1;
	*addr = frames[n];
	return 0;
}

int stp_stack_callers(char *buf, size_t size, const struct context *c, int user, int64_t n)
{
	uint64_t frames[STACK_FRAMES];
	size_t count = stp_stack_frames(c, user, frames, STACK_FRAMES), used = 0, i;
	char one[24];

	buf[0] = '\0';
	if (n >= 0 && (uint64_t)n >= count)
		return -1;
	for (i = 0; i < count && (n < 0 || i <= (uint64_t)n); i++) {
		size_t length = (size_t)snprintf(one, sizeof(one), "%s0x%llx", i ? " " : "", (unsigned long long)frames[i]);

		if (used + length > size - 1)
			break;  /* whole addresses only, as stap's callers() */
		memcpy(buf + used, one, length + 1);
		used += length;
	}
	return 0;
}
