/* Symbolising the hex addresses of a backtrace string, as stap's print_syms does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"
#include "symbols.h"

/* The next " 0x1 : data\n" line of `*cursor` into line; 0 at the end. */
static int next_line(const char **cursor, int64_t pid, char *line, size_t size)
{
	char data[1024];
	const char *token = *cursor + strspn(*cursor, " ");
	size_t length = strcspn(token, " ");
	unsigned long long addr;

	if (length == 0)
		return 0;
	addr = strtoull(token, NULL, 16);
	stp_format_address(data, sizeof(data), pid, addr, STP_SYM_DATA);
	snprintf(line, size, " %.*s : %s\n", (int)length, token, data);
	*cursor = token + length;
	return 1;
}

void stp_syms_print(int64_t pid, const char *callers)
{
	char line[1200];

	while (next_line(&callers, pid, line, sizeof(line)))
		stp_output(line, strlen(line));
}

void stp_syms_sprint(char *buf, size_t size, int64_t pid, const char *callers)
{
	char line[1200];
	size_t used = 0, length;

	buf[0] = '\0';
	while (next_line(&callers, pid, line, sizeof(line))) {
		length = strlen(line);
		if (used + length > size - 1)
			break;  /* whole lines only, as stap's sprint_syms */
		memcpy(buf + used, line, length + 1);
		used += length;
	}
}
