/* Kernel symbols from /proc/kallsyms, read once on first use. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "runtime.h"
#include "symbols.h"

static struct stp_symtab kernel;
static int loaded;

/* Module names live as long as the table: one copy per distinct name, in order. */
static const char *module_name(const char *name)
{
	static char last[64] = "";
	static const char *interned = "kernel";

	if (name[0] == '\0')
		return "kernel";
	if (strcmp(name, last) != 0) {
		stp_strlcpy(last, name, sizeof(last));
		interned = strdup(name);
		if (interned == NULL)
			interned = "?";
	}
	return interned;
}

static void load_kallsyms(void)
{
	char line[512], name[256], module[64];
	unsigned long long addr;
	char type;
	FILE *f = fopen("/proc/kallsyms", "r");

	loaded = 1;
	if (f == NULL) {
		stp_warn("cannot read /proc/kallsyms: %s", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		module[0] = '\0';
		if (sscanf(line, "%llx %c %255s [%63[^]]]", &addr, &type, name, module) < 3 || addr == 0)
			continue;  /* zero addresses: kptr_restrict hides them */
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		if (stp_symtab_add(&kernel, addr, 0, name, module_name(module)) != 0)
			break;
	}
	fclose(f);
	stp_symtab_sort(&kernel, 1);
}

int stp_kernel_symbol(uint64_t addr, struct stp_symbol *sym)
{
	const struct stp_symbol *found;

	if (!loaded)
		load_kallsyms();
	found = stp_symtab_find(&kernel, addr);
	if (found == NULL)
		return 0;
	*sym = *found;
	return 1;
}
