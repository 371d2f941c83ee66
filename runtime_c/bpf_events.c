/* The kernel probes as an event source of the runtime: start them after the begin
 * probes, turn each ring-buffer record into a handler context and dispatch it, read
 * captured target values for the generated handlers, and report losses at the end.
 *
 * The generated file points stp_script.start_events/stop_events here and gives each
 * STP_PROBE_EVENT probe an event_spec of type struct stp_bpf_probe.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bpf_agg.h"
#include "bpf_runtime.h"
#include "loop.h"
#include "output.h"
#include "run_options.h"
#include "runtime.h"
#include "session.h"
#include "tapset_support.h"

#define DEFAULT_RING_BYTES (8u << 20)
/* Capture programs write without waking us (a wakeup per event costs more than the
 * event), so the ring is drained this often, and at once when it fills past a quarter. */
#define DRAIN_PERIOD_NS 1000000
/* When every kernel probe aggregates in the kernel, records come only from a probe whose
 * map is full (its capture program takes over) or whose aggregation program the kernel
 * refused: the ring is drained this seldom (a thousand empty drains a second cost 1.5%
 * of a CPU), and as often as above once records do come. */
#define IDLE_DRAIN_PERIOD_NS 100000000
#define PPID_CACHE 1024

static const struct stp_script *script;
static const struct stp_bpf_record *current_record;
static const struct stp_bpf_probe *current_spec;
static char **format_buffers;  /* one MAXSTRINGLEN buffer per target of the running probe */
static uint32_t n_format_buffers;
static uint64_t skipped_seen;  /* ring-full losses already counted as skipped probes */
/* The ring's fd is readable whenever it holds a record, which would wake the loop at
 * every event; an edge-triggered epoll of it is readable only after a capture program
 * forced a wakeup (the ring filling past a quarter). */
static int wakeup_fd = -1;
static uint64_t drain_period_ns;

static const struct stp_bpf_probe *spec_of(const struct stp_probe *p)
{
	return p->kind == STP_PROBE_EVENT ? p->event_spec : NULL;
}

/* The parent of `pid` from /proc, remembered per pid (parents rarely change). */
static int64_t parent_of(int64_t pid)
{
	static struct { int64_t pid, ppid; } cache[PPID_CACHE];
	unsigned slot = (unsigned)pid % PPID_CACHE;
	char path[64], buf[512];
	const char *close_paren;
	long long ppid = 0;
	FILE *f;

	if (cache[slot].pid == pid && pid != 0)
		return cache[slot].ppid;
	snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;  /* the process has gone: stap would have read it in the kernel */
	if (fgets(buf, sizeof(buf), f) != NULL && (close_paren = strrchr(buf, ')')) != NULL)
		sscanf(close_paren + 1, " %*c %lld", &ppid);
	fclose(f);
	cache[slot].pid = pid;
	cache[slot].ppid = ppid;
	return ppid;
}

static void fill_context(struct context *c, const struct stp_bpf_record *r, uint32_t len)
{
	c->pid = (int64_t)(r->pid_tgid >> 32);
	c->tid = (int64_t)(uint32_t)r->pid_tgid;
	c->uid = (int64_t)(uint32_t)r->uid_gid;
	c->gid = (int64_t)(r->uid_gid >> 32);
	if (r->flags & STP_BPF_TASK_IDS) {
		c->ppid = r->ppid;
		c->euid = r->euid;
		c->egid = r->egid;
	} else {  /* no BTF offsets: the parent from /proc, effective ids unknown */
		c->ppid = parent_of(c->pid);
		c->euid = c->uid;
		c->egid = c->gid;
	}
	c->cpu = r->cpu;
	c->time_ns = r->time_ns;
	memcpy(c->comm, r->comm, sizeof(c->comm));
	c->comm[sizeof(c->comm) - 1] = '\0';
	c->event = r;
	c->event_len = len;
}

static void dispatch_record(const struct stp_bpf_record *r, uint32_t len, void *arg)
{
	const struct stp_probe *p;
	struct stp_bpf_record own;
	struct context c;

	(void)arg;
	if (r->probe >= script->nprobes || spec_of(&script->probes[r->probe]) == NULL)
		return;
	p = &script->probes[r->probe];
	if ((r = stp_bpf_process_event(p->event_spec, r, &len, &own)) == NULL)
		return;  /* process.begin/.end: not a matching process (bpf_process.c) */
	stp_context_init_event(&c, p);
	fill_context(&c, r, len);
	current_record = r;
	current_spec = p->event_spec;
	stp_dispatch(p, &c);
	current_record = NULL;
	current_spec = NULL;
}

/* An event the capture program could not put into the full ring is a probe that could
 * not run: stap counts those as skipped (and MAXSKIPPED of them end the session). */
static void count_skipped(void)
{
	uint64_t total = 0;
	size_t i;

	for (i = 0; i < script->nprobes; i++)
		total += stp_bpf_lost((uint32_t)i);
	if (total > skipped_seen) {
		stp_count_skipped((int64_t)(total - skipped_seen));
		skipped_seen = total;
	}
}

struct catch_up {
	uint64_t deadline;
	int reached;
};

static void dispatch_until(const struct stp_bpf_record *r, uint32_t len, void *arg)
{
	struct catch_up *up = arg;

	if (r->time_ns > up->deadline)
		up->reached = 1;
	dispatch_record(r, len, NULL);
}

/* Handle every record of an event that happened before now (and the few after it
 * that come in the same batches): called when -c's command exits, so its last events
 * run their handlers as they would have in stap, where probes run synchronously. */
void stp_bpf_catch_up(void)
{
	struct catch_up up = {stp_now_ns(), 0};

	if (script == NULL || stp_bpf_poll_fd() < 0)
		return;
	while (!up.reached && stp_session_state() == STP_RUNNING && stp_bpf_drain(dispatch_until, &up) > 0)
		;
	count_skipped();
}

/* A capture program woke us (fd is wakeup_fd), or the drain period is up (fd is -1). */
static void on_ring_ready(int fd, void *arg)
{
	struct epoll_event event;
	int n;

	if (fd >= 0 && epoll_wait(fd, &event, 1, 0) < 0)  /* take the wakeup, or fd stays readable */
		stp_warn("epoll_wait: %s", strerror(errno));
	n = stp_bpf_drain(dispatch_record, arg);
	if (n > 0 && drain_period_ns != DRAIN_PERIOD_NS) {
		drain_period_ns = DRAIN_PERIOD_NS;
		stp_source_period(wakeup_fd, drain_period_ns);
	}
	if (n < 0)
		stp_report_error(stp_bpf_error());
	else if (n == STP_BPF_DRAIN_BATCH)
		stp_source_again(wakeup_fd);  /* a backlog: the next batch without waiting */
	count_skipped();
}

/* Whether the program of `spec` aggregates in the kernel (it counts its hits in the
 * "agg_hits" map: engine/translate/bpf/aggregate_bpf.py). */
static int aggregates(const struct stp_bpf_probe *spec)
{
	for (uint32_t i = 0; i < spec->n_relocs; i++)
		if (strcmp(spec->relocs[i].map, STP_AGG_HITS_MAP) == 0)
			return 1;
	return 0;
}

static uint64_t first_drain_period(void)
{
	for (size_t i = 0; i < script->nprobes; i++) {
		const struct stp_bpf_probe *spec = spec_of(&script->probes[i]);
		if (spec != NULL && !aggregates(spec))
			return DRAIN_PERIOD_NS;
	}
	return IDLE_DRAIN_PERIOD_NS;
}

static int watch_ring(void)
{
	struct epoll_event event = {.events = EPOLLIN | EPOLLET};
	char msg[256];

	drain_period_ns = first_drain_period();
	wakeup_fd = epoll_create1(EPOLL_CLOEXEC);
	if (wakeup_fd >= 0 && epoll_ctl(wakeup_fd, EPOLL_CTL_ADD, stp_bpf_poll_fd(), &event) == 0)
		return stp_add_periodic_source(wakeup_fd, on_ring_ready, NULL, drain_period_ns);
	snprintf(msg, sizeof(msg), "cannot watch the kernel ring buffer: epoll: %s", strerror(errno));
	stp_report_error(msg);
	return -1;
}

static int allocate_format_buffers(void)
{
	uint32_t most = 0;
	size_t i;

	for (i = 0; i < script->nprobes; i++) {
		const struct stp_bpf_probe *spec = spec_of(&script->probes[i]);
		if (spec != NULL && spec->n_targets > most)
			most = spec->n_targets;
	}
	format_buffers = calloc(most ? most : 1, sizeof(*format_buffers));
	if (format_buffers == NULL)
		return -1;
	for (n_format_buffers = 0; n_format_buffers < most; n_format_buffers++) {
		format_buffers[n_format_buffers] = malloc(stp_strmax());
		if (format_buffers[n_format_buffers] == NULL)
			return -1;
	}
	return 0;
}

int stp_bpf_start_events(const struct stp_script *s)
{
	const struct stp_bpf_probe **table = calloc(s->nprobes ? s->nprobes : 1, sizeof(*table));
	size_t i;
	int rc;

	script = s;
	if (table == NULL || allocate_format_buffers() < 0) {
		free(table);
		stp_report_error("cannot start kernel probes: out of memory");
		return -1;
	}
	for (i = 0; i < s->nprobes; i++)
		table[i] = spec_of(&s->probes[i]);
	/* process(...) probes only in the -x process's hierarchy, or the -c command's (which
	 * this process starts: its own hierarchy, the runtime's own events being skipped) */
	stp_bpf_uprobe_filter(stp_target_has_command() ? (int)getpid() : (int)stp_target_pid());
	rc = stp_bpf_start(table, (uint32_t)s->nprobes, stp_bpf_ring_bytes(DEFAULT_RING_BYTES), 0);
	free(table);
	if (rc < 0) {
		stp_report_error(stp_bpf_error());
		return -1;
	}
	stp_bpf_process_start(dispatch_record);
	return watch_ring();
}

/* Records still in the ring when the session stops are not handled (handlers run
 * only while it is running). Those of events from before it stopped are reported with
 * the ring-full losses, though only those count as skipped (these events did reach the
 * runtime); events after it stopped would not have run a handler in stap either. */
struct unhandled {
	uint64_t stopped_ns;
	uint64_t *counts;
};

static void count_unhandled(const struct stp_bpf_record *r, uint32_t len, void *arg)
{
	struct unhandled *unhandled = arg;

	(void)len;
	if (r->probe < script->nprobes && r->time_ns < unhandled->stopped_ns)
		unhandled->counts[r->probe]++;
}

/* Count what was lost or left unhandled per probe, then detach. */
void stp_bpf_stop_events(void)
{
	struct unhandled unhandled;
	size_t i;

	if (script == NULL || stp_bpf_poll_fd() < 0)
		return;
	stp_bpf_agg_final();
	stp_remove_event_source(wakeup_fd);
	close(wakeup_fd);
	wakeup_fd = -1;
	count_skipped();
	unhandled.stopped_ns = stp_session_stopped_ns() ? stp_session_stopped_ns() : stp_now_ns();
	unhandled.counts = calloc(script->nprobes ? script->nprobes : 1, sizeof(*unhandled.counts));
	while (unhandled.counts != NULL && stp_bpf_drain(count_unhandled, &unhandled) > 0)
		;
	for (i = 0; i < script->nprobes; i++) {
		uint64_t lost = stp_bpf_lost((uint32_t)i) + (unhandled.counts ? unhandled.counts[i] : 0);
		if (lost > 0)
			stp_count_lost(&script->probes[i], lost);
	}
	free(unhandled.counts);
	stp_bpf_stop();
}

/* ---- reading captured values -------------------------------------------------------- */

static const uint8_t *slot(const struct context *c, const struct stp_bpf_field *f)
{
	return (const uint8_t *)c->event + f->offset;
}

static int64_t field_long(const struct context *c, const struct stp_bpf_field *f)
{
	uint64_t raw;
	unsigned bits = f->size * 8u;

	memcpy(&raw, slot(c, f), sizeof(raw));
	if (bits < 64) {
		raw &= (1ull << bits) - 1;
		if (f->is_signed && (raw >> (bits - 1)))
			raw |= ~0ull << bits;
	}
	return (int64_t)raw;
}

/* A captured string; user strings the kernel could not read are read again here. */
static const char *field_string(const struct context *c, const struct stp_bpf_field *f, char *retry)
{
	const struct stp_bpf_string *s = (const struct stp_bpf_string *)slot(c, f);

	if (s->status > 0 || !f->is_user)
		return s->status > 0 ? s->data : "";
	stp_note_user_reread(c->pid, s->addr, s->status);
	if (tapset_read_user_string(c->pid, s->addr, retry, stp_strmax(), (int64_t)stp_strmax()) == 0)
		return retry;
	return "";
}

static const struct stp_bpf_target *target_of(const struct context *c, uint32_t target)
{
	const struct stp_bpf_probe *spec = c->probe ? spec_of(c->probe) : NULL;

	if (spec == NULL || c->event == NULL || target >= spec->n_targets)
		return NULL;
	return &spec->targets[target];
}

static void append_pretty(char *out, size_t size, const struct context *c, const struct stp_bpf_field *f)
{
	size_t used = strlen(out);

	if (used + 1 >= size)
		return;
	if (f->is_string)
		tapset_escape(out + used, size - used, field_string(c, f, out + used), -1, 1);
	else if (f->is_decimal)
		snprintf(out + used, size - used, "%lld", (long long)field_long(c, f));
	else
		snprintf(out + used, size - used, "0x%llx", (unsigned long long)field_long(c, f));
}

static const char *format_fields(const struct context *c, const struct stp_bpf_target *t, char *out)
{
	size_t size = stp_strmax();
	uint32_t i;

	out[0] = '\0';
	for (i = 0; i < t->n_fields; i++) {
		size_t used = strlen(out);
		if (t->form == STP_BPF_VARS)
			snprintf(out + used, size - used, "%s%s=", i ? " " : "", t->fields[i].name);
		else if (t->form == STP_BPF_TEMPLATE)
			snprintf(out + used, size - used, "%s", t->fields[i].name);
		append_pretty(out, size, c, &t->fields[i]);
	}
	if (t->form == STP_BPF_TEMPLATE)
		snprintf(out + strlen(out), size - strlen(out), "%s", t->text);
	return out;
}

int64_t stp_bpf_long(struct context *c, uint32_t target)
{
	const struct stp_bpf_target *t = target_of(c, target);

	if (t == NULL || t->form != STP_BPF_LONG || t->n_fields != 1)
		return 0;
	return field_long(c, &t->fields[0]);
}

const char *stp_bpf_string(struct context *c, uint32_t target)
{
	const struct stp_bpf_target *t = target_of(c, target);

	if (t == NULL || target >= n_format_buffers)
		return "";
	switch (t->form) {
	case STP_BPF_STRING:
		return field_string(c, &t->fields[0], format_buffers[target]);
	case STP_BPF_VARS:
	case STP_BPF_PRETTY:
	case STP_BPF_TEMPLATE:
		return format_fields(c, t, format_buffers[target]);
	case STP_BPF_CONST:
		return t->text;
	default:
		return "";
	}
}

/* The i-th copy of user memory in the running probe's record, when that record is
 * process pid's (user_string() & co read the memory of the event's process). */
static const struct stp_bpf_string *user_copy(int64_t pid, uint32_t i, const struct stp_bpf_field **field)
{
	if (current_spec == NULL || current_record == NULL || (int64_t)(current_record->pid_tgid >> 32) != pid ||
	    i >= current_spec->n_user_strings)
		return NULL;
	*field = &current_spec->user_strings[i];
	return (const struct stp_bpf_string *)((const uint8_t *)current_record + (*field)->offset);
}

/* user_string() of an address the running probe captured at probe time: 0 and the
 * string, or -ENOENT when it was not captured (or the kernel could not read it).
 * At most maxlen bytes (and size - 2), as tapset_read_user_string() reads. */
int stp_event_string(int64_t pid, uint64_t addr, char *out, size_t size, int64_t maxlen)
{
	size_t most = maxlen < 0 ? 0 : (uint64_t)maxlen > size - 2 ? size - 2 : (size_t)maxlen;
	const struct stp_bpf_field *f;
	const struct stp_bpf_string *s;

	for (uint32_t i = 0; (s = user_copy(pid, i, &f)) != NULL; i++) {
		if (!f->is_buffer && s->addr == addr && s->status <= 0)
			stp_note_user_reread(pid, addr, s->status);  /* tapset_read_user_string reads it */
		if (f->is_buffer || s->addr != addr || s->status <= 0)
			continue;
		if ((size_t)s->status - 1 < most)
			most = (size_t)s->status - 1;
		memcpy(out, s->data, most);
		out[most] = '\0';
		return 0;
	}
	return -ENOENT;
}

/* Bytes of a user buffer the running probe copied at probe time (write(2)'s data ...):
 * 0 and the bytes when [addr, addr + len) was captured, else -ENOENT. */
int stp_event_buffer(int64_t pid, uint64_t addr, void *out, size_t len)
{
	const struct stp_bpf_field *f;
	const struct stp_bpf_string *s;

	for (uint32_t i = 0; (s = user_copy(pid, i, &f)) != NULL; i++) {
		if (!f->is_buffer || s->status != 0 || addr < s->addr || addr + len > s->addr + s->reserved)
			continue;
		memcpy(out, s->data + (addr - s->addr), len);
		return 0;
	}
	return -ENOENT;
}
