/* sync.h - the handshake between a benchmark workload and bench/workloads/tracers.py.
 *
 * When BENCH_SYNC names a FIFO, the workload writes "start PID" to it and waits for
 * SIGUSR1 before its timed loop, then writes "done EVENTS CPU_NS WALL_NS" and waits for
 * SIGUSR1 again before exiting. The pauses let the bench read the tracer's CPU time from
 * /proc at both ends of the loop, while every tracer process is still alive.
 * Without BENCH_SYNC the workload just runs and prints the "done" line on stdout.
 */
#ifndef BENCH_SYNC_H
#define BENCH_SYNC_H

#include <stdint.h>

/* Block SIGUSR1, announce "start", and wait for the go signal. Returns 0 or -1. */
int sync_start(void);

/* Report the result and, under the handshake, wait for the signal to exit. */
int sync_done(uint64_t events, uint64_t cpu, uint64_t wall_ns);

/* CLOCK_MONOTONIC in nanoseconds (vDSO: no system call). */
uint64_t now_ns(void);

/* CPU time of the calling thread in nanoseconds, kernel time included (traps, tracepoints
 * and BPF programs run in the thread's context): unlike wall time, not inflated when
 * other processes take the CPU away. */
uint64_t cpu_ns(void);

#endif
