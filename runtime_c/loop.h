/* loop.h - runtime-internal: the main loop (timers, event sources, signals). */
#ifndef STP_LOOP_H
#define STP_LOOP_H

#include <stdint.h>

struct stp_loop_options {
	int64_t timeout_ms;   /* -T: stop after this long, < 0 = never */
	int timing;           /* -t: report per-probe statistics at the end */
};

int stp_loop_init(void);  /* signal handling; call before begin probes */
void stp_loop_run(const struct stp_loop_options *opts); /* returns when the session stops */
int stp_signal_count(void);
/* An event source whose data can arrive without making fd readable (a BPF ring written
 * without wakeups): the loop also calls on_ready every period_ns, then with fd -1. */
int stp_add_periodic_source(int fd, void (*on_ready)(int fd, void *arg), void *arg, uint64_t period_ns);
void stp_source_again(int fd);  /* call it again at the next turn of the loop (a backlog) */
void stp_source_period(int fd, uint64_t period_ns);  /* call it this often from now on */

/* Called by the loop for periodic work of other modules. */
void stp_monitor_tick(uint64_t now_ns);
void stp_monitor_final(void);  /* after the end probes: the last snapshot, if monitored */
int stp_monitor_timeout_ms(uint64_t now_ns);
int stp_procfs_start(void);
void stp_procfs_stop(void);
int stp_procfs_timeout_ms(void);
void stp_target_configure(int64_t pid, const char *command);
int stp_target_start(void);
void stp_target_stop(void);
void stp_procfs_poll(void);

#endif
