/*
 * relay.h - the writer side of the relay channel: a shared-memory ring of
 * fixed-size sub-buffers carrying framed, typed records to the reader
 * (engine/run/channel.py), in the manner of relayfs.
 *
 * Who creates what.  The reader (Python) creates the shared memory (a memfd)
 * and a wakeup socket pair (a socket, not a pipe, so that a writer outliving
 * its reader gets EPIPE from send(MSG_NOSIGNAL) instead of SIGPIPE), writes
 * the ring header below, and starts the runtime with the memfd and one
 * socket inherited and named on its command line:
 *
 *     runtime --relay-fd SHM_FD --wake-fd WAKE_SOCKET_FD [runtime args...]
 *
 * relay_open_from_args() finds and removes those options, maps the memory and
 * returns a writer.  Without them it returns a text-mode writer: output goes
 * to stdout and warnings/errors to stderr as plain text, so the built
 * artifact also runs stand-alone from a shell.
 *
 * Memory layout (all integers little-endian; offsets are part of the
 * contract with channel.py and are checked by _Static_assert in relay.c):
 *
 *   offset 0             struct relay_shm_header (RELAY_HEADER_SIZE bytes)
 *   RELAY_HEADER_SIZE    sub-buffer 0, then 1, ... n_subbufs-1, each
 *                        subbuf_size bytes:
 *                          struct relay_subbuf_header (16 bytes)
 *                          records, each: u16 type, u16 flags, u32 len,
 *                          len payload bytes, zero padding to 8 bytes.
 *
 * Protocol.  Sub-buffer index i (0, 1, 2, ...) lives in slot i % n_subbufs.
 * The writer fills index `produced`; it stores seq = i when it starts the
 * sub-buffer and, after each record, the end of that record's payload in
 * `commit` (release; the record's padding is not included).  Publishing stores produced = i + 1 (release) and sends one
 * byte on the wakeup socket, so the reader can poll() and never busy-waits.
 * The reader consumes whole published sub-buffers and then stores
 * `consumed`.  A partially filled sub-buffer is published by relay_tick()
 * once its first record is flush_ms old, so interactive output is never
 * stuck.  When the writer exits it publishes what it has, sets writer_state
 * to RELAY_WRITER_CLOSED and closes the socket; the reader sees end-of-file.
 * If the writer is killed, the reader also sees end-of-file (no hang) and
 * salvages the committed records of the unpublished sub-buffer.
 *
 * Loss policy.  Overwrite (flight-recorder) mode never waits: a new
 * sub-buffer overwrites the oldest, and the reader detects overwritten
 * sub-buffers by their seq.  In normal mode, when every slot is unread:
 *   - script output, warnings, errors and exit (RELAY_WAIT) wait for the
 *     reader, for at most wait_ms without the reader making progress (stap's
 *     bulk output must not drop silently); after such a timeout the writer
 *     stops waiting until the reader frees a slot, so a stuck reader cannot
 *     stall the probes;
 *   - snapshots and statistics (RELAY_NOWAIT) never wait: the next periodic
 *     snapshot supersedes them.
 * Every record that cannot be written is counted (lost_records/lost_bytes in
 * the header, read by the reader at any time) and a REC_LOST record with the
 * count is written at the start of the next sub-buffer that has room: source
 * REC_LOST_RING_FULL for RELAY_WAIT records (stap's "transport failures"),
 * REC_LOST_LIVE_DATA for RELAY_NOWAIT ones.
 *
 * Threads: one writer thread (the runtime runs handlers one at a time).
 */
#ifndef STAPUI_RELAY_H
#define STAPUI_RELAY_H

#include <stddef.h>
#include <stdint.h>

#define RELAY_MAGIC 0x4c525453u /* "STRL" */
#define RELAY_VERSION 1u
#define RELAY_HEADER_SIZE 256u
#define RELAY_SUBBUF_HEADER_SIZE 16u
#define RELAY_RECORD_HEADER_SIZE 8u
#define RELAY_RECORD_ALIGN 8u

/* relay_shm_header.flags */
#define RELAY_F_OVERWRITE 1u

/* relay_shm_header.writer_state */
#define RELAY_WRITER_NONE 0u
#define RELAY_WRITER_ATTACHED 1u
#define RELAY_WRITER_CLOSED 2u

/* relay_shm_header.control bits, set by the reader */
#define RELAY_CTL_MONITOR 1u /* send snapshots every monitor_ms */

/*
 * The ring header.  Written by the reader before the child starts, except:
 * the writer-owned line (offset 64) and the reader-owned line (offset 128).
 */
struct relay_shm_header {
    uint32_t magic;       /*   0: RELAY_MAGIC */
    uint32_t version;     /*   4: RELAY_VERSION */
    uint32_t subbuf_size; /*   8: bytes per sub-buffer, incl. its header, multiple of 8 */
    uint32_t n_subbufs;   /*  12: >= 2 */
    uint32_t flags;       /*  16: RELAY_F_* */
    uint32_t flush_ms;    /*  20: age at which relay_tick() publishes a partial sub-buffer */
    uint32_t wait_ms;     /*  24: longest wait for the reader without progress (normal mode) */
    uint32_t reserved0;   /*  28 */
    uint8_t pad0[32];     /*  32 */
    /* writer-owned cache line */
    uint64_t produced;     /*  64: sub-buffers published (atomic, release) */
    uint64_t lost_records; /*  72: records dropped because the ring was full */
    uint64_t lost_bytes;   /*  80: their payload bytes */
    uint32_t writer_state; /*  88: RELAY_WRITER_* */
    uint32_t writer_pid;   /*  92 */
    uint8_t pad1[32];      /*  96 */
    /* reader-owned cache line */
    uint64_t consumed;   /* 128: sub-buffers consumed (reader stores, writer loads acquire) */
    uint32_t control;    /* 136: RELAY_CTL_* */
    uint32_t monitor_ms; /* 140: snapshot period when RELAY_CTL_MONITOR is set */
    uint8_t pad2[112];   /* 144 .. 255 */
};

struct relay_subbuf_header {
    uint64_t seq;    /* index of the sub-buffer this slot holds */
    uint32_t commit; /* end of the last complete record's payload (unpadded) */
    uint32_t reserved;
};

/* Whether a record may wait for the reader when the ring is full (see above). */
enum relay_wait { RELAY_NOWAIT = 0, RELAY_WAIT = 1 };

struct relay; /* opaque writer */

/*
 * Attach to the channel named by --relay-fd N --wake-fd M, removing those
 * options from argv (argc updated).  Without them, *out is a text-mode
 * writer.  Returns 0, or -1 after printing "ERROR: relay: ..." to stderr.
 * The inherited descriptors are marked close-on-exec.
 */
int relay_open_from_args(int *argc, char **argv, struct relay **out);

/* Attach to a channel directly; NULL (message printed) on failure. */
struct relay *relay_attach(int shm_fd, int wake_fd);

/* A writer that prints plain text to stdout/stderr (the stand-alone mode). */
struct relay *relay_open_text(void);

/* Nonzero when records go to a reader, zero in text mode. */
int relay_is_channel(const struct relay *r);

/*
 * Publish everything written so far, mark the writer closed, close the
 * wakeup socket (the reader sees end-of-file) and free the writer.  NULL ok.
 */
void relay_close(struct relay *r);

/* Publish the current partial sub-buffer now (text mode: fflush stdout). */
void relay_flush(struct relay *r);

/*
 * Call from the main loop after each batch of work: publishes the current
 * partial sub-buffer once its first record is flush_ms old.
 */
void relay_tick(struct relay *r);

/*
 * Milliseconds until relay_tick() must run again (to bound a poll()
 * timeout), or -1 when nothing is waiting to be flushed.
 */
int relay_poll_timeout_ms(const struct relay *r);

/* The snapshot period the reader asked for, 0 when it asked for none. */
uint32_t relay_monitor_ms(const struct relay *r);

/* Records dropped so far because the ring was full. */
uint64_t relay_lost_records(const struct relay *r);

/* Count a record of `bytes` payload, of the given class, dropped before reaching the ring. */
void relay_count_lost(struct relay *r, size_t bytes, enum relay_wait wait);

/* The largest record payload one sub-buffer can hold. */
size_t relay_max_payload(const struct relay *r);

/*
 * Low level, for records.c: reserve a record of `len` payload bytes and
 * return where to write the payload, or NULL when it was dropped (counted)
 * or len > relay_max_payload().  The record becomes visible to the reader
 * only at relay_commit(), which must follow before the next reserve.
 */
void *relay_reserve(struct relay *r, uint16_t type, uint32_t len, enum relay_wait wait);
void relay_commit(struct relay *r);

/*
 * Script output: appended to the previous output record when it is the last
 * record of the current sub-buffer (so the reader sees few large records),
 * split across sub-buffers when needed, waits as RELAY_WAIT.  Returns the
 * number of bytes dropped (0 when all were written).
 */
size_t relay_write_output(struct relay *r, const void *data, size_t n);

#endif
