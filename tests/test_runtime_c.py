"""The C runtime on its own: a hand-written script table linked with the runtime
library (no parser or translator involved), run stand-alone (text mode, no channel):
printf conversions, maps (limits, wrap-around, sorting, slices), statistics and the
histogram text, errors and the session's exit status."""

from __future__ import annotations

import subprocess

import pytest

from engine.build.compiler import find_compiler
from engine.build.runtime_lib import runtime_library

HARNESS = r"""
#include "runtime.h"
#include <stdio.h>

static const struct stp_stat_spec log_spec = {STP_HIST_LOG, 0, 0, 0, 0};
static const struct stp_map_spec words_spec = {2, {STP_STRING, STP_LONG}, STP_LONG, 3, 0, 0};
static const struct stp_map_spec ring_spec = {1, {STP_LONG}, STP_STRING, 2, 1, 0};
static struct stp_map *words, *ring;
static struct stp_stat hist;

#define KEYS(...) ((union stp_value[]){__VA_ARGS__})

static void show_words(struct context *c, int column, int direction, int64_t limit)
{
	struct stp_map_iter it;
	stp_map_iter_start(&it, words, column, direction, STP_SORT_COUNT, limit, 0, ~0u);
	for (struct stp_map_entry *e; (e = stp_map_iter_next(&it)) != 0;)
		stp_printf("%s/%lld=%lld ", e->keys[0].s, (long long)e->keys[1].n, (long long)e->n);
	stp_map_iter_end(&it);
	stp_printf("\n");
	(void)c;
}

static void probe_begin(struct context *c)
{
	stp_printf_values(c, "[%5d|%-5d|%05d|%+d|%x|%#o|%c|%.2s|%*d]\n",
		KEYS({.n = 42}, {.n = 42}, {.n = -42}, {.n = 7}, {.n = 255}, {.n = 8}, {.n = 'Z'}, {.s = "abc"}, {.n = 4}, {.n = 9}), 10);
	stp_map_set_long(c, words, KEYS({.s = "b"}, {.n = 2}), 20);
	stp_map_set_long(c, words, KEYS({.s = "a"}, {.n = 9}), 5);
	stp_map_set_long(c, words, KEYS({.s = "c"}, {.n = 1}), 20);
	show_words(c, -1, 0, -1);
	show_words(c, 1, 1, -1);
	show_words(c, 0, -1, 2);
	stp_printf("%lld %lld\n", (long long)stp_map_exists(words, KEYS({.s = ""}, {.n = 9}), 1u),
		   (long long)stp_map_get_long(words, KEYS({.s = "zz"}, {.n = 0})));
	for (int i = 1; i <= 3; i++) {
		char text[8];
		snprintf(text, sizeof text, "v%d", i);
		stp_map_set_string(c, ring, KEYS({.n = i}), text);
	}
	stp_printf("%lld %s %s\n", (long long)stp_map_size(ring), stp_map_get_string(ring, KEYS({.n = 1})),
		   stp_map_get_string(ring, KEYS({.n = 3})));
	for (int v = 0; v < 10; v++)
		stp_stat_add(&hist, v);
	stp_printf("%lld %lld %lld %lld\n", (long long)stp_stat_count(c, &hist), (long long)stp_stat_sum(c, &hist),
		   (long long)stp_stat_min(c, &hist), (long long)stp_stat_avg(c, &hist));
	stp_stat_print_hist(c, &hist);
	stp_map_set_long(c, words, KEYS({.s = "d"}, {.n = 4}), 1); /* a fourth entry: over the limit of 3 */
	c->last_stmt = "identifier 'words' at harness:1:1";
}

static void probe_end(struct context *c)
{
	stp_printf("end\n");
	(void)c;
}

static int init(void)
{
	words = stp_map_new(&words_spec);
	ring = stp_map_new(&ring_spec);
	stp_stat_init(&hist, &log_spec);
	return words && ring ? 0 : -1;
}

static const struct stp_probe probes[] = {
	{.pp = "begin", .name = "begin", .location = "harness:1:1", .kind = STP_PROBE_BEGIN, .handler = probe_begin},
	{.pp = "end", .name = "end", .location = "harness:2:1", .kind = STP_PROBE_END, .handler = probe_end},
};

const struct stp_script stp_script = {
	.name = "harness",
	.limits = {MAXSTRINGLEN, MAXACTION_INTERRUPTIBLE, MAXNESTING, MAXMAPENTRIES, MAXERRORS, MAXSKIPPED},
	.probes = probes, .nprobes = 2, .init_globals = init,
};
"""

HIST = """value |-------------------------------------------------- count
    0 |@                                                  1
    1 |@                                                  1
    2 |@@                                                 2
    4 |@@@@                                               4
    8 |@@                                                 2
   16 |                                                   0
   32 |                                                   0

"""


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> subprocess.CompletedProcess:
    compiler = find_compiler()
    library = runtime_library(compiler)
    directory = tmp_path_factory.mktemp("harness")
    source = directory / "harness.c"
    source.write_text(HARNESS)
    exe = directory / "harness"
    built = compiler.run(["-O1", "-fwrapv", "-I", str(library.include_dir), str(source), str(library.archive), "-o", str(exe)])
    assert built.returncode == 0, built.stderr
    return subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)


def test_output(run):
    assert run.stdout == (
        "[   42|42   |-0042|+7|ff|010|Z|ab|   9]\n"
        "b/2=20 a/9=5 c/1=20 \n"
        "a/9=5 b/2=20 c/1=20 \n"
        "b/2=20 c/1=20 \n"
        "1 0\n"
        "2  v3\n"
        "10 45 0 4\n" + HIST
    )


def test_errors_end_the_session_without_end_probes(run):
    assert run.stderr == (
        "ERROR: Array overflow, check MAXMAPENTRIES near identifier 'words' at harness:1:1\n"
        "WARNING: Number of errors: 1, skipped probes: 0\n"
    )
    assert run.returncode == 1
