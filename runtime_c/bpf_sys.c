/* Thin wrappers over the bpf() system call: maps and program loading. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bpf_runtime.h"

#define VERIFIER_LOG_BYTES (1u << 20)

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

int stp_bpf_map_create(uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t entries, const char *name)
{
	return stp_bpf_map_create_flags(type, key_size, value_size, entries, 0, name);
}

static void map_attributes(union bpf_attr *attr, uint32_t type, uint32_t key_size, uint32_t value_size,
			   uint32_t entries, uint32_t flags)
{
	memset(attr, 0, sizeof(*attr));
	attr->map_type = type;
	attr->key_size = key_size;
	attr->value_size = value_size;
	attr->max_entries = entries;
	attr->map_flags = flags;
}

static int create_map(union bpf_attr *attr, const char *name)
{
	int fd;

	strncpy(attr->map_name, name, sizeof(attr->map_name) - 1);
	fd = sys_bpf(BPF_MAP_CREATE, attr);
	if (fd < 0)
		stp_bpf_fail("cannot create BPF map '%s': %s", name, strerror(errno));
	return fd;
}

int stp_bpf_map_create_flags(uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t entries,
			     uint32_t flags, const char *name)
{
	union bpf_attr attr;

	map_attributes(&attr, type, key_size, value_size, entries, flags);
	return create_map(&attr, name);
}

int stp_bpf_map_create_typed(uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t flags,
			     const struct stp_bpf_map_types *types, const char *name)
{
	union bpf_attr attr;

	map_attributes(&attr, type, key_size, value_size, 0, flags);
	attr.btf_fd = (uint32_t)types->btf_fd;
	attr.btf_key_type_id = types->key_type;
	attr.btf_value_type_id = types->value_type;
	return create_map(&attr, name);
}

int stp_bpf_map_lookup(int map_fd, const void *key, void *value)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = map_fd;
	attr.key = (uint64_t)(uintptr_t)key;
	attr.value = (uint64_t)(uintptr_t)value;
	if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &attr) < 0) {
		stp_bpf_fail("cannot read BPF map: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Load a program; on refusal the error includes the verifier's log. */
int stp_bpf_prog_load(uint32_t type, const struct bpf_insn *insns, uint32_t n, const char *name,
		      uint32_t attach_btf_id)
{
	union bpf_attr attr;
	char *log = calloc(1, VERIFIER_LOG_BYTES);
	int fd;

	if (log == NULL) {
		stp_bpf_fail("cannot load BPF program for %s: out of memory", name);
		return -1;
	}
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = type;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.insn_cnt = n;
	attr.license = (uint64_t)(uintptr_t)"GPL";
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = VERIFIER_LOG_BYTES;
	attr.log_level = 1;
	if (attach_btf_id != 0) {
		attr.expected_attach_type = BPF_TRACE_RAW_TP;
		attr.attach_btf_id = attach_btf_id;
	}
	strncpy(attr.prog_name, STP_BPF_PROG_NAME, sizeof(attr.prog_name) - 1);
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd < 0 && errno == ENOSPC) {
		attr.log_level = 0;  /* the log overflowed: load again just for the verdict */
		attr.log_buf = 0;
		attr.log_size = 0;
		fd = sys_bpf(BPF_PROG_LOAD, &attr);
	}
	if (fd < 0) {
		stp_bpf_fail("cannot load the capture program for %s: %s", name, strerror(errno));
		if (log[0] != '\0') {
			stp_bpf_fail_append("\nverifier log:\n");
			stp_bpf_fail_append(log);
		}
	}
	free(log);
	return fd;
}
