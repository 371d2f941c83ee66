"""syscall.connect/bind/sendto decode their struct sockaddr argument as stap does, from
bytes copied at probe time (the program overwrites them right after the call)."""

from __future__ import annotations


import pytest

from tests.bpf_harness.util import compile_program, pystap, require_kernel_probes

NET = r"""
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	socklen_t len = sizeof(sin);
	int listener = socket(AF_INET, SOCK_STREAM, 0), client = socket(AF_INET, SOCK_STREAM, 0);
	int udp = socket(AF_INET6, SOCK_DGRAM, 0), local = socket(AF_UNIX, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (bind(listener, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(listener, 1) != 0 ||
	    getsockname(listener, (struct sockaddr *)&sin, &len) != 0)
		return 1;
	printf("port %d\n", ntohs(sin.sin_port));
	fflush(stdout);
	connect(client, (struct sockaddr *)&sin, sizeof(sin));
	inet_pton(AF_INET6, "::1", &sin6.sin6_addr);
	sendto(udp, "hi", 2, 0, (struct sockaddr *)&sin6, sizeof(sin6));
	strcpy(sun.sun_path, "/nonexistent/sock");
	connect(local, (struct sockaddr *)&sun, offsetof(struct sockaddr_un, sun_path) + strlen(sun.sun_path) + 1);
	memset(sun.sun_path, 'X', 17);  /* a handler reading it now would see this */
	connect(local, NULL, 0);
	sleep(1);
	return 0;
}
"""

SCRIPT = 'probe syscall.connect, syscall.bind, syscall.sendto { if (pid() == target()) printf("%s(%s)\\n", name, argstr) }'


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    require_kernel_probes()
    return compile_program(tmp_path_factory.mktemp("net"), "net", NET)


def test_sockaddr_arguments_are_decoded(net):
    result = pystap("-e", SCRIPT, "-c", str(net))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    port = next(line.split()[1] for line in lines if line.startswith("port "))
    assert [line for line in lines if not line.startswith("port ")] == [
        "bind(3, {AF_INET, 127.0.0.1, 0}, 16)",
        f"connect(4, {{AF_INET, 127.0.0.1, {port}}}, 16)",
        "sendto(5, \"hi\", 2, 0x0, {AF_INET6, 0000:0000:0000:0000:0000:0000:0000:0001, 9}, 28)",
        'connect(6, {AF_UNIX, "/nonexistent/sock"}, 20)',
        "connect(6, NULL, 0)",
    ]
