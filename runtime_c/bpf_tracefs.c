/* tracefs: find (or, as root, mount) it, and read event ids and formats. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpf_runtime.h"

static const char *const candidates[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};

static int has_events(const char *dir)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/events", dir);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The tracefs directory, mounting it at /sys/kernel/tracing if it is not mounted. */
const char *stp_tracefs_dir(void)
{
	size_t i;

	for (i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (has_events(candidates[i]))
			return candidates[i];
	if (mount("tracefs", candidates[0], "tracefs", 0, NULL) != 0) {
		stp_bpf_fail("tracefs is not mounted and mounting it at %s failed: %s", candidates[0],
			     strerror(errno));
		return NULL;
	}
	return candidates[0];
}

/* Open events/SYSTEM/EVENT/FILE for a "system:event" name. */
static FILE *open_event_file(const char *system_event, const char *file)
{
	const char *dir = stp_tracefs_dir();
	char path[512];
	const char *colon = strchr(system_event, ':');
	FILE *f;

	if (dir == NULL)
		return NULL;
	if (colon == NULL) {
		stp_bpf_fail("bad tracepoint name '%s' (expected SYSTEM:EVENT)", system_event);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/events/%.*s/%s/%s", dir, (int)(colon - system_event), system_event,
		 colon + 1, file);
	f = fopen(path, "r");
	if (f == NULL)
		stp_bpf_fail("cannot open %s for tracepoint %s: %s", path, system_event, strerror(errno));
	return f;
}

int stp_tracefs_event_id(const char *system_event)
{
	FILE *f = open_event_file(system_event, "id");
	int id = -1;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%d", &id) != 1) {
		stp_bpf_fail("cannot read the id of tracepoint %s", system_event);
		id = -1;
	}
	fclose(f);
	return id;
}

/* FNV-1a over the format file, skipping its "ID:" line (ids change between boots,
 * layouts are what the captured offsets depend on).  0 when it cannot be read. */
uint64_t stp_tracefs_format_digest(const char *system_event)
{
	FILE *f = open_event_file(system_event, "format");
	uint64_t hash = 14695981039346656037ull;
	char line[1024];
	const char *p;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "ID:", 3) == 0)
			continue;
		for (p = line; *p; p++)
			hash = (hash ^ (unsigned char)*p) * 1099511628211ull;
	}
	fclose(f);
	return hash;
}
