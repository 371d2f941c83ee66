/*
 * test_channel_writer.c - a tiny relay writer for tests/test_channel*.py and
 * bench/channel.py, built with gcc against runtime_c/relay.c and records.c
 * only.  Usage: writer [--relay-fd N --wake-fd M] MODE [ARG]
 *
 *   lines N      print "line %d\n" for 0..N-1, then exit status 0
 *   records      one of every record type with fixed contents
 *   argv ...     print the arguments left after the relay options
 *   partial      print "hello\n", then keep ticking until a line on stdin,
 *                then print "bye\n"
 *   lossy N      print N lines, send a snapshot of one global, write "ready\n"
 *                to the real stdout, wait for a line on stdin, print "after\n"
 *   forever      print numbered lines until killed
 *   bigarray N   a snapshot holding an array of N rows
 *   big N        one write of N bytes ('a' + i % 26)
 *   monitor      wait until the reader asks for snapshots, print the period
 *   bench N      N 32-byte output writes timed in C; prints the seconds to stderr
 *   warnings N   N warning records "w%ld" (records that do not coalesce)
 *   replay FILE  one record per line of FILE: "O hex" output, "W hex" warning,
 *                "E hex" error, "X n" exit status, "F" flush
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "records.h"

static int print_lines(struct relay *r, long n)
{
    char line[32];

    for (long i = 0; i < n; i++) {
        int len = snprintf(line, sizeof(line), "line %ld\n", i);

        rec_output(r, line, (size_t)len);
        relay_tick(r);
    }
    return 0;
}

/* Wait for a line on stdin, publishing partial sub-buffers when due. */
static void wait_stdin(struct relay *r)
{
    struct pollfd pfd = { .fd = 0, .events = POLLIN };
    char buf[64];

    for (;;) {
        int rc = poll(&pfd, 1, relay_poll_timeout_ms(r));

        if (rc < 0 && errno != EINTR) {
            fprintf(stderr, "writer: poll: %s\n", strerror(errno));
            exit(2);
        }
        relay_tick(r);
        if (rc > 0) {
            if (read(0, buf, sizeof(buf)) < 0)
                fprintf(stderr, "writer: read: %s\n", strerror(errno));
            return;
        }
    }
}

static void snapshot_globals(struct relay *r)
{
    static const int64_t log_buckets[128] = { [64] = 2, [65] = 1, [67] = 4 };
    static const int64_t lin_buckets[5] = { 1, 0, 3, 2, 1 };
    struct rec_stat st = { 7, 70, 0, 20, 10, 49, { REC_HIST_LOG, 0, 0, 0, 128, log_buckets } };
    struct rec_stat lin = { 7, 95, -5, 40, 13, 200, { REC_HIST_LINEAR, 0, 30, 10, 5, lin_buckets } };
    struct rec_value v;

    v = (struct rec_value){ .type = REC_V_LONG, .l = -42 };
    rec_global(r, "count", &v);
    v = (struct rec_value){ .type = REC_V_STRING, .s = "héllo" };
    rec_global(r, "name", &v);
    v = (struct rec_value){ .type = REC_V_STAT, .stat = &st };
    rec_global(r, "latency", &v);
    v = (struct rec_value){ .type = REC_V_STAT, .stat = &lin };
    rec_global(r, "sizes", &v);
}

static void snapshot_arrays(struct relay *r)
{
    struct rec_array a;
    struct rec_stat st = { 2, 3, 1, 2, 1, 0, { REC_HIST_NONE, 0, 0, 0, 0, NULL } };
    enum rec_value_type two[] = { REC_V_STRING, REC_V_LONG }, one[] = { REC_V_LONG };
    struct rec_value keys[2] = { { .type = REC_V_STRING, .s = "bash" }, { .type = REC_V_LONG, .l = 17 } };
    struct rec_value value = { .type = REC_V_LONG, .l = 5 };

    rec_array_begin(r, &a, "calls", 2, two, REC_V_LONG, 2);
    rec_array_row(&a, keys, &value);
    keys[0].s = "sshd";
    keys[1].l = -1;
    value.l = 9;
    rec_array_row(&a, keys, &value);
    rec_array_end(&a);
    rec_array_begin(r, &a, "stats", 1, one, REC_V_STAT, 1);
    keys[0] = (struct rec_value){ .type = REC_V_LONG, .l = 3 };
    value = (struct rec_value){ .type = REC_V_STAT, .stat = &st };
    rec_array_row(&a, keys, &value);
    rec_array_end(&a);
}

static int all_records(struct relay *r)
{
    rec_output(r, "hello ", 6);
    rec_output(r, "world\n", 6);
    rec_warning(r, "careful");
    rec_output(r, "after warning\n", 14);
    rec_error(r, "division by 0 near operator '/' at x.stp:1:2");
    rec_snapshot_begin(r, 1, 123456789);
    snapshot_globals(r);
    snapshot_arrays(r);
    rec_probe_stat(r, 0, "begin", 1, 100, 150, 200);
    rec_snapshot_end(r, 1);
    rec_probe_stat(r, 2, "timer.ms(10)", 300, 1000, 2000, 9000);
    rec_lost(r, REC_LOST_KERNEL, 2, 17, "syscall.openat");
    rec_exit(r, 3);
    return 3;
}

static int big_array(struct relay *r, long n)
{
    struct rec_array a;
    enum rec_value_type kt[] = { REC_V_LONG, REC_V_STRING };
    char name[32];

    rec_snapshot_begin(r, 7, 0);
    rec_array_begin(r, &a, "big", 2, kt, REC_V_LONG, (uint32_t)n);
    for (long i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "key%ld", i);
        struct rec_value keys[2] = { { .type = REC_V_LONG, .l = i }, { .type = REC_V_STRING, .s = name } };
        struct rec_value value = { .type = REC_V_LONG, .l = i * i };

        rec_array_row(&a, keys, &value);
    }
    rec_array_end(&a);
    rec_snapshot_end(r, 7);
    return 0;
}

static int big_write(struct relay *r, long n)
{
    char *buf = malloc((size_t)n);

    if (buf == NULL) {
        fprintf(stderr, "writer: malloc: %s\n", strerror(errno));
        return 2;
    }
    for (long i = 0; i < n; i++)
        buf[i] = (char)('a' + i % 26);
    rec_output(r, buf, (size_t)n);
    free(buf);
    return 0;
}

static int monitor(struct relay *r)
{
    char text[32];
    struct timespec ts = { 0, 1000000 };

    while (relay_monitor_ms(r) == 0)
        nanosleep(&ts, NULL);
    int n = snprintf(text, sizeof(text), "monitor %u\n", relay_monitor_ms(r));

    rec_output(r, text, (size_t)n);
    return 0;
}

static void unhex(char *s)
{
    size_t n = 0;

    for (char *p = s; p[0] && p[1] && p[0] != '\n'; p += 2) {
        char pair[3] = { p[0], p[1], 0 };

        s[n++] = (char)strtol(pair, NULL, 16);
    }
    s[n] = 0;
}

static int replay(struct relay *r, const char *path)
{
    static char line[1 << 20];
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        fprintf(stderr, "writer: open %s: %s\n", path, strerror(errno));
        return 2;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *arg = line + 2;

        if (line[0] == 'X')
            rec_exit(r, atoi(arg));
        else if (line[0] == 'F')
            relay_flush(r);
        else
            unhex(arg);
        if (line[0] == 'O')
            rec_output(r, arg, strlen(arg));
        else if (line[0] == 'W')
            rec_warning(r, arg);
        else if (line[0] == 'E')
            rec_error(r, arg);
    }
    fclose(f);
    return 0;
}

static double seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The C writer alone: n records of 32 bytes ("line %d" padded). */
static int bench(struct relay *r, long n)
{
    char line[33];
    double t0 = seconds();

    memset(line, 'x', sizeof(line));
    line[31] = '\n';
    for (long i = 0; i < n; i++) {
        line[0] = (char)('0' + i % 10);
        rec_output(r, line, 32);
        if ((i & 1023) == 0)
            relay_tick(r);
    }
    relay_flush(r);
    fprintf(stderr, "%.6f\n", seconds() - t0);
    return 0;
}

static int warnings(struct relay *r, long n)
{
    char text[32];

    for (long i = 0; i < n; i++) {
        snprintf(text, sizeof(text), "w%ld", i);
        rec_warning(r, text);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct relay *r;
    int status = 0;

    if (relay_open_from_args(&argc, argv, &r) != 0)
        return 2;
    const char *mode = argc > 1 ? argv[1] : "";
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 0;

    if (strcmp(mode, "lines") == 0)
        status = print_lines(r, n);
    else if (strcmp(mode, "records") == 0)
        status = all_records(r);
    else if (strcmp(mode, "argv") == 0) {
        for (int i = 2; i < argc; i++) {
            rec_output(r, argv[i], strlen(argv[i]));
            rec_output(r, i + 1 < argc ? " " : "\n", 1);
        }
    } else if (strcmp(mode, "partial") == 0) {
        rec_output(r, "hello\n", 6);
        wait_stdin(r);
        rec_output(r, "bye\n", 4);
    } else if (strcmp(mode, "lossy") == 0) {
        struct rec_value one = { .type = REC_V_LONG, .l = 1 };

        print_lines(r, n);
        rec_snapshot_begin(r, 1, 0);
        rec_global(r, "one", &one);
        rec_snapshot_end(r, 1);
        if (write(1, "ready\n", 6) != 6)
            fprintf(stderr, "writer: write: %s\n", strerror(errno));
        wait_stdin(r);
        rec_output(r, "after\n", 6);
    } else if (strcmp(mode, "forever") == 0)
        print_lines(r, LONG_MAX);
    else if (strcmp(mode, "bigarray") == 0)
        status = big_array(r, n);
    else if (strcmp(mode, "big") == 0)
        status = big_write(r, n);
    else if (strcmp(mode, "monitor") == 0)
        status = monitor(r);
    else if (strcmp(mode, "replay") == 0)
        status = replay(r, argc > 2 ? argv[2] : "");
    else if (strcmp(mode, "warnings") == 0)
        status = warnings(r, n);
    else if (strcmp(mode, "bench") == 0)
        status = bench(r, n);
    else {
        fprintf(stderr, "writer: unknown mode '%s'\n", mode);
        status = 2;
    }
    relay_close(r);
    return status;
}
