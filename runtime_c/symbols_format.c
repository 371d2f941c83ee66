/* Writing an address with its symbol, in the shapes of stap's _stp_snprint_addr. */
#include <stdio.h>
#include <string.h>

#include "runtime.h"
#include "symbols.h"

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static size_t with_symbol(char *buf, size_t size, uint64_t addr, const struct stp_symbol *s, enum stp_sym_format format)
{
	unsigned long long a = addr, off = addr - s->start, len = s->size;

	switch (format) {
	case STP_SYM_FULL:
		return snprintf(buf, size, " 0x%llx : %s+0x%llx/0x%llx [%s]\n", a, s->name, off, len, s->module);
	case STP_SYM_SIMPLE:
		return snprintf(buf, size, "%s+0x%llx [%s]\n", s->name, off, basename_of(s->module));
	case STP_SYM_BRIEF:
		return snprintf(buf, size, "%s+0x%llx\n", s->name, off);
	case STP_SYM_SYMBOL:
		return snprintf(buf, size, "%s", s->name);
	case STP_SYM_DATA:
		return snprintf(buf, size, "%s+0x%llx/0x%llx [%s]", s->name, off, len, s->module);
	default:
		return snprintf(buf, size, "0x%llx ", a);
	}
}

/* A module but no symbol: the address and its offset in the module, as stap writes it. */
static size_t with_module(char *buf, size_t size, uint64_t addr, const struct stp_symbol *m, enum stp_sym_format format)
{
	unsigned long long a = addr, off = addr - m->start, len = m->size;

	switch (format) {
	case STP_SYM_FULL:
		return snprintf(buf, size, " 0x%llx [%s+0x%llx/0x%llx]\n", a, m->module, off, len);
	case STP_SYM_SIMPLE:
		return snprintf(buf, size, "0x%llx [%s+0x%llx]\n", a, basename_of(m->module), off);
	case STP_SYM_DATA:
		return snprintf(buf, size, "0x%llx [%s+0x%llx/0x%llx]", a, m->module, off, len);
	default:
		return 0;
	}
}

/* No symbol: the hex address, with the spacing the format's symbolic form has. */
static size_t hex_only(char *buf, size_t size, uint64_t addr, enum stp_sym_format format)
{
	unsigned long long a = addr;

	switch (format) {
	case STP_SYM_FULL:
		return snprintf(buf, size, " 0x%llx\n", a);
	case STP_SYM_SIMPLE:
	case STP_SYM_BRIEF:
		return snprintf(buf, size, "0x%llx\n", a);
	case STP_SYM_NONE:
		return snprintf(buf, size, "0x%llx ", a);
	default:
		return snprintf(buf, size, "0x%llx", a);
	}
}

size_t stp_format_address(char *buf, size_t size, int64_t pid, uint64_t addr, enum stp_sym_format format)
{
	struct stp_symbol s;
	int found = 0;
	size_t n;

	if (format != STP_SYM_NONE)
		found = pid < 0 ? stp_kernel_symbol(addr, &s) : stp_user_symbol(pid, addr, &s);
	if (found == 1)
		return with_symbol(buf, size, addr, &s, format);
	if (found == 2 && (n = with_module(buf, size, addr, &s, format)) > 0)
		return n;
	return hex_only(buf, size, addr, format);
}
