/* Task-local storage (BPF_MAP_TYPE_TASK_STORAGE): one value per thread, found from the
 * task itself rather than by hashing its tid.  Syscall probes (bpf_syscall.c) keep
 * their stash of entry times keyed by tid() there: a lookup is a few loads, where a
 * hash map's update and delete take locks and allocate.
 *
 * The kernel wants the key and value types of such a map in BTF: a blob describing
 * just `int` (the key, a pidfd) and `u64` (the time) is loaded for each map.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bpf_agg.h"
#include "bpf_runtime.h"

#define BTF_MAGIC 0xeB9F
#define BTF_KIND_INT 1
#define BTF_INT_SIGNED 1
#define KEY_TYPE 1    /* [1] int */
#define VALUE_TYPE 2  /* [2] u64 */

struct btf_int_type {
	uint32_t name_off, info, size, encoding;
};

static const char type_names[] = "\0int\0u64";  /* offsets 1 and 5 */

struct btf_blob {
	struct {
		uint16_t magic;
		uint8_t version, flags;
		uint32_t hdr_len, type_off, type_len, str_off, str_len;
	} header;
	struct btf_int_type types[2];
	char strings[sizeof(type_names)];
};

static int load_types(void)
{
	struct btf_blob blob = {
		{BTF_MAGIC, 1, 0, sizeof(blob.header), 0, sizeof(blob.types), sizeof(blob.types), sizeof(type_names)},
		{{1, BTF_KIND_INT << 24, 4, BTF_INT_SIGNED << 24 | 32}, {5, BTF_KIND_INT << 24, 8, 64}},
		{0},
	};
	union bpf_attr attr;
	int fd;

	memcpy(blob.strings, type_names, sizeof(type_names));
	memset(&attr, 0, sizeof(attr));
	attr.btf = (uint64_t)(uintptr_t)&blob;
	attr.btf_size = offsetof(struct btf_blob, strings) + sizeof(type_names);  /* no padding: the kernel counts it */
	fd = (int)syscall(__NR_bpf, BPF_BTF_LOAD, &attr, sizeof(attr));
	if (fd < 0)
		stp_bpf_fail("cannot load the BTF types of a task-local storage map: %s", strerror(errno));
	return fd;
}

int stp_bpf_task_storage_map(const char *name)
{
	struct stp_bpf_map_types types = {load_types(), KEY_TYPE, VALUE_TYPE};
	int fd;

	if (types.btf_fd < 0)
		return -1;
	fd = stp_bpf_map_create_typed(BPF_MAP_TYPE_TASK_STORAGE, sizeof(int), sizeof(uint64_t), BPF_F_NO_PREALLOC,
				      &types, name);
	close(types.btf_fd);  /* the map holds the types now */
	return fd;
}
