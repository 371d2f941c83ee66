/*
 * relay.c - the relay channel's writer: fills sub-buffers of the shared ring
 * with framed records and publishes them.  Protocol and loss policy: relay.h.
 */
#define _GNU_SOURCE
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "records.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the relay format is little-endian");
_Static_assert(sizeof(struct relay_shm_header) == RELAY_HEADER_SIZE, "header size");
_Static_assert(offsetof(struct relay_shm_header, produced) == 64, "produced offset");
_Static_assert(offsetof(struct relay_shm_header, lost_records) == 72, "lost_records offset");
_Static_assert(offsetof(struct relay_shm_header, lost_bytes) == 80, "lost_bytes offset");
_Static_assert(offsetof(struct relay_shm_header, writer_state) == 88, "writer_state offset");
_Static_assert(offsetof(struct relay_shm_header, consumed) == 128, "consumed offset");
_Static_assert(offsetof(struct relay_shm_header, control) == 136, "control offset");
_Static_assert(offsetof(struct relay_shm_header, monitor_ms) == 140, "monitor_ms offset");
_Static_assert(sizeof(struct relay_subbuf_header) == RELAY_SUBBUF_HEADER_SIZE, "sub-buffer header");

#define NO_OUTPUT_RECORD UINT32_MAX
#define RELAY_SEQ_INVALID UINT64_MAX /* a slot being recycled */
#define WAIT_MIN_NS 20000L    /* first sleep while waiting for the reader */
#define WAIT_MAX_NS 1000000L  /* longest single sleep */

struct relay {
    struct relay_shm_header *hdr; /* NULL in text mode */
    unsigned char *ring;          /* sub-buffer 0 */
    size_t map_size;
    int wake_fd;
    int reader_gone; /* the wakeup socket's peer closed */
    uint32_t subbuf_size, n_subbufs, capacity;
    int overwrite;
    uint64_t flush_ns, wait_ns;

    /* The sub-buffer being filled, index `index` (== produced). */
    int open;
    uint64_t index;
    struct relay_subbuf_header *sb;
    unsigned char *data;  /* its records */
    uint32_t used;        /* where the next record starts (8-aligned) */
    uint32_t pending;     /* reserved record's end, not yet committed */
    uint32_t last_output; /* offset of the last record when it is REC_OUTPUT */
    uint64_t first_ns;    /* when its first record was written */

    uint64_t unreported[2]; /* dropped records not yet announced, by enum relay_wait */
    int reporting;          /* writing that REC_LOST now */
    int stalled;            /* a wait timed out: do not wait until a slot frees */
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail: the clock exists, ts is valid */
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t align8(uint32_t n)
{
    return (n + RELAY_RECORD_ALIGN - 1) & ~(RELAY_RECORD_ALIGN - 1);
}

static struct relay_subbuf_header *slot(struct relay *r, uint64_t index)
{
    return (struct relay_subbuf_header *)(r->ring + (index % r->n_subbufs) * r->subbuf_size);
}

void relay_count_lost(struct relay *r, size_t bytes, enum relay_wait wait)
{
    if (r == NULL || r->hdr == NULL)
        return;
    atomic_fetch_add_explicit((_Atomic uint64_t *)&r->hdr->lost_records, 1, memory_order_relaxed);
    atomic_fetch_add_explicit((_Atomic uint64_t *)&r->hdr->lost_bytes, bytes, memory_order_relaxed);
    r->unreported[wait]++;
}

/* Tell the reader a sub-buffer was published (or the writer is closing). */
static void wake(struct relay *r)
{
    if (r->reader_gone)
        return;
    if (send(r->wake_fd, "w", 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
        return;
    if (errno == EAGAIN || errno == EINTR)
        return; /* the reader already has wakeups queued */
    if (errno != EPIPE && errno != ECONNRESET)
        fprintf(stderr, "WARNING: relay: send on wakeup socket: %s\n", strerror(errno));
    r->reader_gone = 1;
}

static void publish(struct relay *r)
{
    atomic_store_explicit((_Atomic uint64_t *)&r->hdr->produced, r->index + 1, memory_order_release);
    r->index++;
    r->open = 0;
    wake(r);
}

static int slot_free(struct relay *r)
{
    uint64_t consumed =
        atomic_load_explicit((_Atomic uint64_t *)&r->hdr->consumed, memory_order_acquire);

    return r->index - consumed < r->n_subbufs;
}

/*
 * Wait for the reader to free the slot of r->index: short sleeps (on the
 * wakeup socket, so a reader that goes away ends the wait at once), for at
 * most wait_ns without the reader making progress.
 */
static int wait_for_slot(struct relay *r)
{
    uint64_t seen = atomic_load_explicit((_Atomic uint64_t *)&r->hdr->consumed, memory_order_acquire);
    uint64_t deadline = now_ns() + r->wait_ns;
    long sleep_ns = WAIT_MIN_NS;
    struct pollfd pfd = { .fd = r->wake_fd, .events = 0 };

    while (!slot_free(r)) {
        uint64_t consumed =
            atomic_load_explicit((_Atomic uint64_t *)&r->hdr->consumed, memory_order_acquire);
        uint64_t t = now_ns();

        if (consumed != seen) {
            seen = consumed;
            deadline = t + r->wait_ns;
        }
        if (t >= deadline || r->reader_gone)
            return 0;
        struct timespec ts = { 0, sleep_ns };
        int rc = ppoll(&pfd, 1, &ts, NULL);

        if (rc < 0 && errno != EINTR) {
            fprintf(stderr, "WARNING: relay: ppoll on wakeup socket: %s\n", strerror(errno));
            r->reader_gone = 1;
        } else if (rc > 0 && (pfd.revents & (POLLHUP | POLLERR))) {
            r->reader_gone = 1;
        }
        sleep_ns = sleep_ns * 2 > WAIT_MAX_NS ? WAIT_MAX_NS : sleep_ns * 2;
    }
    return 1;
}

/* Make room for sub-buffer r->index (see the loss policy in relay.h). */
static int claim_slot(struct relay *r, enum relay_wait wait)
{
    if (r->overwrite || slot_free(r)) {
        r->stalled = 0;
        return 1;
    }
    if (wait == RELAY_NOWAIT || r->stalled)
        return 0;
    if (wait_for_slot(r))
        return 1;
    r->stalled = 1;
    return 0;
}

/* Lost output is stap's "transport failures"; lost live data says what it was. */
static void announce_lost(struct relay *r, enum relay_wait wait)
{
    uint64_t count = r->unreported[wait];
    enum rec_lost_source source = wait == RELAY_WAIT ? REC_LOST_RING_FULL : REC_LOST_LIVE_DATA;

    r->reporting = 1;
    r->unreported[wait] = 0;
    if (rec_lost(r, source, -1, count, "") != 0)
        r->unreported[wait] += count;
    r->reporting = 0;
}

static int open_subbuf(struct relay *r, enum relay_wait wait)
{
    if (!claim_slot(r, wait))
        return 0;
    r->sb = slot(r, r->index);
    r->data = (unsigned char *)r->sb + RELAY_SUBBUF_HEADER_SIZE;
    /*
     * Invalidate the slot before touching it (a reader copying its old
     * contents sees seq change, seqlock fashion), reset commit, then claim it:
     * a reader salvaging after a kill never takes the old records as new.
     */
    atomic_store_explicit((_Atomic uint64_t *)&r->sb->seq, RELAY_SEQ_INVALID, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit((_Atomic uint32_t *)&r->sb->commit, 0, memory_order_relaxed);
    atomic_store_explicit((_Atomic uint64_t *)&r->sb->seq, r->index, memory_order_release);
    r->open = 1;
    r->used = 0;
    r->pending = 0;
    r->last_output = NO_OUTPUT_RECORD;
    r->first_ns = now_ns();
    if (r->unreported[RELAY_WAIT] && !r->reporting)
        announce_lost(r, RELAY_WAIT);
    if (r->unreported[RELAY_NOWAIT] && !r->reporting)
        announce_lost(r, RELAY_NOWAIT);
    return 1;
}

/* Ensure an open sub-buffer with `need` free bytes. */
static int make_room(struct relay *r, uint32_t need, enum relay_wait wait)
{
    for (;;) {
        if (!r->open && !open_subbuf(r, wait))
            return 0;
        if (r->used + need <= r->capacity)
            return 1;
        publish(r);
    }
}

void *relay_reserve(struct relay *r, uint16_t type, uint32_t len, enum relay_wait wait)
{
    uint32_t need = align8(RELAY_RECORD_HEADER_SIZE + len);

    if (r == NULL || r->hdr == NULL)
        return NULL;
    if (len > relay_max_payload(r) || !make_room(r, need, wait)) {
        relay_count_lost(r, len, wait);
        return NULL;
    }
    unsigned char *rec = r->data + r->used;
    uint16_t flags = 0;

    memcpy(rec, &type, 2);
    memcpy(rec + 2, &flags, 2);
    memcpy(rec + 4, &len, 4);
    r->pending = r->used + RELAY_RECORD_HEADER_SIZE + len;
    r->last_output = NO_OUTPUT_RECORD;
    return rec + RELAY_RECORD_HEADER_SIZE;
}

/* commit = the exact end of the last complete record (see append_output). */
void relay_commit(struct relay *r)
{
    atomic_store_explicit((_Atomic uint32_t *)&r->sb->commit, r->pending, memory_order_release);
    r->used = align8(r->pending);
    r->pending = 0;
}

static uint32_t output_length(const struct relay *r)
{
    uint32_t len;

    memcpy(&len, r->data + r->last_output + 4, 4);
    return len;
}

/* Whether n bytes can extend the open sub-buffer's last output record. */
static int output_extends(const struct relay *r, size_t n)
{
    return r->open && r->last_output != NO_OUTPUT_RECORD &&
           r->last_output + RELAY_RECORD_HEADER_SIZE + output_length(r) + n <= r->capacity;
}

/*
 * Append n bytes (room checked) to the last output record, or start one.
 * The bytes, then the length, then commit are stored, so a reader salvaging
 * the sub-buffer of a killed writer can trust the record's first
 * commit - start bytes even when the length is already ahead of commit.
 */
static void append_output(struct relay *r, const unsigned char *src, size_t n)
{
    uint32_t len = 0;

    if (r->last_output == NO_OUTPUT_RECORD) {
        uint16_t type = REC_OUTPUT, flags = 0;

        r->last_output = r->used;
        memcpy(r->data + r->used, &type, 2);
        memcpy(r->data + r->used + 2, &flags, 2);
    } else {
        len = output_length(r);
    }
    memcpy(r->data + r->last_output + RELAY_RECORD_HEADER_SIZE + len, src, n);
    len += (uint32_t)n;
    atomic_store_explicit((_Atomic uint32_t *)(r->data + r->last_output + 4), len, memory_order_release);
    uint32_t end = r->last_output + RELAY_RECORD_HEADER_SIZE + len;

    r->used = align8(end);
    atomic_store_explicit((_Atomic uint32_t *)&r->sb->commit, end, memory_order_release);
}

/*
 * Output is a byte stream, so adjacent writes share one record.  A write that
 * fits in a sub-buffer is never split (a print reaches the reader whole or
 * is counted lost whole); a larger one is cut into sub-buffer-sized chunks.
 */
size_t relay_write_output(struct relay *r, const void *data, size_t n)
{
    const unsigned char *src = data;

    if (r == NULL || r->hdr == NULL)
        return n - fwrite(data, 1, n, stdout);
    while (n > 0) {
        size_t chunk = n < relay_max_payload(r) ? n : relay_max_payload(r);

        if (!output_extends(r, chunk) &&
            !make_room(r, align8(RELAY_RECORD_HEADER_SIZE + (uint32_t)chunk), RELAY_WAIT)) {
            relay_count_lost(r, n, RELAY_WAIT);
            return n;
        }
        append_output(r, src, chunk);
        src += chunk;
        n -= chunk;
    }
    return 0;
}

void relay_flush(struct relay *r)
{
    if (r == NULL || r->hdr == NULL) {
        fflush(stdout);
        return;
    }
    if (r->open && r->used > 0)
        publish(r);
}

void relay_tick(struct relay *r)
{
    if (r == NULL || r->hdr == NULL) {
        fflush(stdout);
        return;
    }
    if (r->open && r->used > 0 && now_ns() - r->first_ns >= r->flush_ns)
        publish(r);
}

int relay_poll_timeout_ms(const struct relay *r)
{
    if (r == NULL || r->hdr == NULL || !r->open || r->used == 0)
        return -1;
    uint64_t due = r->first_ns + r->flush_ns, t = now_ns();

    return t >= due ? 0 : (int)((due - t + 999999) / 1000000);
}

uint32_t relay_monitor_ms(const struct relay *r)
{
    if (r == NULL || r->hdr == NULL)
        return 0;
    uint32_t control = atomic_load_explicit((_Atomic uint32_t *)&r->hdr->control, memory_order_acquire);

    if (!(control & RELAY_CTL_MONITOR))
        return 0;
    return atomic_load_explicit((_Atomic uint32_t *)&r->hdr->monitor_ms, memory_order_relaxed);
}

uint64_t relay_lost_records(const struct relay *r)
{
    if (r == NULL || r->hdr == NULL)
        return 0;
    return atomic_load_explicit((_Atomic uint64_t *)&r->hdr->lost_records, memory_order_relaxed);
}

size_t relay_max_payload(const struct relay *r)
{
    if (r == NULL || r->hdr == NULL)
        return 0;
    return r->capacity - RELAY_RECORD_HEADER_SIZE;
}

int relay_is_channel(const struct relay *r)
{
    return r != NULL && r->hdr != NULL;
}

struct relay *relay_open_text(void)
{
    struct relay *r = calloc(1, sizeof(*r));

    if (r == NULL)
        fprintf(stderr, "ERROR: relay: calloc: %s\n", strerror(errno));
    return r;
}

static int check_header(const struct relay_shm_header *h, size_t size)
{
    if (h->magic != RELAY_MAGIC || h->version != RELAY_VERSION) {
        fprintf(stderr, "ERROR: relay: not a relay channel (magic %#x version %u)\n", h->magic, h->version);
        return -1;
    }
    if (h->n_subbufs < 2 || h->subbuf_size < 256 || h->subbuf_size % RELAY_RECORD_ALIGN ||
        RELAY_HEADER_SIZE + (uint64_t)h->subbuf_size * h->n_subbufs > size) {
        fprintf(stderr, "ERROR: relay: bad geometry: %u sub-buffers of %u bytes in %zu bytes\n",
                h->n_subbufs, h->subbuf_size, size);
        return -1;
    }
    return 0;
}

static void *map_channel(int shm_fd, size_t *size)
{
    struct stat st;

    if (fstat(shm_fd, &st) != 0) {
        fprintf(stderr, "ERROR: relay: fstat relay fd %d: %s\n", shm_fd, strerror(errno));
        return NULL;
    }
    if ((size_t)st.st_size < RELAY_HEADER_SIZE) {
        fprintf(stderr, "ERROR: relay: relay fd %d is too small (%lld bytes)\n", shm_fd, (long long)st.st_size);
        return NULL;
    }
    void *mem = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);

    if (mem == MAP_FAILED) {
        fprintf(stderr, "ERROR: relay: mmap relay fd %d: %s\n", shm_fd, strerror(errno));
        return NULL;
    }
    *size = (size_t)st.st_size;
    return mem;
}

static void init_writer(struct relay *r, void *mem, size_t size, int wake_fd)
{
    struct relay_shm_header *h = mem;

    r->hdr = h;
    r->ring = (unsigned char *)mem + RELAY_HEADER_SIZE;
    r->map_size = size;
    r->wake_fd = wake_fd;
    r->subbuf_size = h->subbuf_size;
    r->n_subbufs = h->n_subbufs;
    r->capacity = h->subbuf_size - RELAY_SUBBUF_HEADER_SIZE;
    r->overwrite = (h->flags & RELAY_F_OVERWRITE) != 0;
    r->flush_ns = (uint64_t)h->flush_ms * 1000000u;
    r->wait_ns = (uint64_t)h->wait_ms * 1000000u;
    r->index = atomic_load_explicit((_Atomic uint64_t *)&h->produced, memory_order_acquire);
    r->last_output = NO_OUTPUT_RECORD;
    h->writer_pid = (uint32_t)getpid();
    atomic_store_explicit((_Atomic uint32_t *)&h->writer_state, RELAY_WRITER_ATTACHED, memory_order_release);
}

struct relay *relay_attach(int shm_fd, int wake_fd)
{
    size_t size = 0;

    if (fcntl(shm_fd, F_SETFD, FD_CLOEXEC) != 0 || fcntl(wake_fd, F_SETFD, FD_CLOEXEC) != 0) {
        fprintf(stderr, "ERROR: relay: fcntl FD_CLOEXEC on relay fds %d, %d: %s\n", shm_fd, wake_fd,
                strerror(errno));
        return NULL;
    }
    void *mem = map_channel(shm_fd, &size);

    if (mem == NULL)
        return NULL;
    if (close(shm_fd) != 0)
        fprintf(stderr, "WARNING: relay: close relay fd %d: %s\n", shm_fd, strerror(errno));
    struct relay *r = check_header(mem, size) == 0 ? relay_open_text() : NULL;

    if (r == NULL) {
        munmap(mem, size);
        return NULL;
    }
    init_writer(r, mem, size, wake_fd);
    return r;
}

void relay_close(struct relay *r)
{
    if (r == NULL)
        return;
    relay_flush(r);
    if (r->hdr != NULL) {
        atomic_store_explicit((_Atomic uint32_t *)&r->hdr->writer_state, RELAY_WRITER_CLOSED,
                              memory_order_release);
        if (close(r->wake_fd) != 0)
            fprintf(stderr, "WARNING: relay: close wakeup fd %d: %s\n", r->wake_fd, strerror(errno));
        if (munmap(r->hdr, r->map_size) != 0)
            fprintf(stderr, "WARNING: relay: munmap: %s\n", strerror(errno));
    }
    free(r);
}

/* "--name N" or "--name=N" at argv[i]: the value, and how many arguments it used. */
static const char *option_value(char **argv, int argc, int i, const char *name, int *used)
{
    size_t n = strlen(name);

    if (strncmp(argv[i], name, n) != 0)
        return NULL;
    if (argv[i][n] == '=') {
        *used = 1;
        return argv[i] + n + 1;
    }
    if (argv[i][n] == '\0' && i + 1 < argc) {
        *used = 2;
        return argv[i + 1];
    }
    return NULL;
}

static int parse_fd(const char *text, const char *name)
{
    char *end;
    long fd;

    errno = 0;
    fd = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || fd < 0 || fd > 1 << 20) {
        fprintf(stderr, "ERROR: relay: bad %s value '%s'\n", name, text);
        return -1;
    }
    return (int)fd;
}

int relay_open_from_args(int *argc, char **argv, struct relay **out)
{
    int shm_fd = -2, wake_fd = -2, kept = 1;

    for (int i = 1; i < *argc;) {
        int used = 0;
        const char *v;

        if ((v = option_value(argv, *argc, i, "--relay-fd", &used)) != NULL)
            shm_fd = parse_fd(v, "--relay-fd");
        else if ((v = option_value(argv, *argc, i, "--wake-fd", &used)) != NULL)
            wake_fd = parse_fd(v, "--wake-fd");
        else
            argv[kept++] = argv[i++];
        i += used;
        if (shm_fd == -1 || wake_fd == -1)
            return -1;
    }
    argv[kept] = NULL;
    *argc = kept;
    if ((shm_fd == -2) != (wake_fd == -2)) {
        fprintf(stderr, "ERROR: relay: --relay-fd and --wake-fd must be given together\n");
        return -1;
    }
    *out = shm_fd == -2 ? relay_open_text() : relay_attach(shm_fd, wake_fd);
    return *out == NULL ? -1 : 0;
}
