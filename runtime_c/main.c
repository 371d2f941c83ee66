/* main.c - the built script's entry point: attach the relay channel, run begin probes,
 * the main loop, then end (or error) probes, report counts and exit with the status.
 *
 *   SCRIPT [--relay-fd N --wake-fd M] [--timeout MS] [--timing] [--target PID] [--command CMD]
 *          [--verbose N] [--buffer-mb N]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "loop.h"
#include "output.h"
#include "probe_timing.h"
#include "records.h"
#include "relay.h"
#include "run_options.h"
#include "session.h"

static int parse_args(int argc, char **argv, struct stp_loop_options *opts)
{
	opts->timeout_ms = -1;
	opts->timing = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			opts->timeout_ms = strtoll(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--timing") == 0) {
			opts->timing = 1;
		} else if (strcmp(argv[i], "--target") == 0 && i + 1 < argc) {
			stp_target_configure(strtoll(argv[++i], NULL, 10), NULL);
		} else if (strcmp(argv[i], "--command") == 0 && i + 1 < argc) {
			stp_target_configure(0, argv[++i]);
		} else if (stp_run_option(argc, argv, &i)) {
			continue;  /* --verbose N, --buffer-mb N */
		} else {
			fprintf(stderr, "usage: %s [--relay-fd N --wake-fd M] [--timeout MS] [--timing] [--target PID] [--command CMD]\n", argv[0]);
			return -1;
		}
	}
	return 0;
}

static void start_running(void)
{
	if (stp_session_state() == STP_STARTING)
		stp_session_set_state(STP_RUNNING);
	if (stp_session_state() != STP_RUNNING)
		return;
	if (stp_procfs_start() < 0 || (stp_script.start_events && stp_script.start_events(&stp_script) < 0) ||
	    stp_target_start() < 0) {
		stp_session_set_state(STP_ERROR);
		return;
	}
}

static void stop_running(void)
{
	/* Detaching kernel probes waits for the kernel's RCU grace periods (tens of ms):
	 * what the handlers printed goes to the reader first. */
	stp_flush();
	relay_flush(stp_relay);
	if (stp_script.stop_events)
		stp_script.stop_events();
	stp_procfs_stop();
	stp_target_stop();
	if (stp_session_state() == STP_RUNNING)
		stp_session_set_state(STP_STOPPING);
}

int main(int argc, char **argv)
{
	struct stp_loop_options opts;
	if (relay_open_from_args(&argc, argv, &stp_relay) < 0)
		return 1;
	/* with a reader, never outlive it: a killed pystap must not leave the script running */
	if (relay_is_channel(stp_relay) && prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		stp_warn("prctl(PR_SET_PDEATHSIG): %s", strerror(errno));
	if (parse_args(argc, argv, &opts) < 0 || stp_session_init() < 0 || stp_timing_init() < 0 || stp_loop_init() < 0)
		return 1;
	stp_set_timing(opts.timing);
	if (stp_script.init_globals && stp_script.init_globals() < 0) {
		stp_report_error("cannot allocate the script's globals");
		relay_close(stp_relay);
		return 1;
	}
	stp_run_probes(STP_PROBE_BEGIN);
	start_running();
	if (stp_session_state() == STP_RUNNING)
		stp_loop_run(&opts);
	stop_running();
	stp_run_probes(STP_PROBE_END);
	stp_run_probes(STP_PROBE_ERROR);
	int status = stp_error_count() > 0 || stp_session_state() == STP_ERROR ? 1 : 0;
	stp_session_set_state(STP_STOPPED);
	stp_monitor_final();
	if (opts.timing)
		stp_timing_report();
	if (stp_error_count() || stp_skipped_count())
		stp_warn("Number of errors: %lld, skipped probes: %lld", (long long)stp_error_count(),
			 (long long)stp_skipped_count());
	stp_flush();
	if (stp_script.free_globals)
		stp_script.free_globals();
	rec_exit(stp_relay, status);
	relay_close(stp_relay);
	return status;
}
