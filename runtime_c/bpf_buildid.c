/* The GNU build-id of an ELF file, read from its PT_NOTE segments: what stap checks
 * before attaching probes, so a rebuilt binary is refused instead of probed at
 * addresses that no longer mean what the script was translated against. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpf_uprobe.h"

#define ALIGN4(n) (((n) + 3u) & ~(size_t)3u)

/* The build-id note in [notes, notes + size), or NULL. */
static const Elf64_Nhdr *find_build_id(const uint8_t *notes, size_t size)
{
	size_t at = 0;

	while (at + sizeof(Elf64_Nhdr) <= size) {
		const Elf64_Nhdr *note = (const Elf64_Nhdr *)(notes + at);
		size_t next = at + sizeof(*note) + ALIGN4(note->n_namesz) + ALIGN4(note->n_descsz);

		if (next > size)
			return NULL;
		if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 && memcmp(note + 1, "GNU", 4) == 0)
			return note;
		at = next;
	}
	return NULL;
}

static int hex_of(const Elf64_Nhdr *note, char *hex, size_t size)
{
	const uint8_t *desc = (const uint8_t *)(note + 1) + ALIGN4(note->n_namesz);
	uint32_t i;

	if (2 * (size_t)note->n_descsz + 1 > size)
		return -1;
	for (i = 0; i < note->n_descsz; i++)
		snprintf(hex + 2 * i, 3, "%02x", desc[i]);
	hex[2 * note->n_descsz] = '\0';
	return 0;
}

static int scan(const uint8_t *image, size_t length, const char *path, char *hex, size_t size)
{
	const Elf64_Ehdr *ehdr = (const Elf64_Ehdr *)image;
	uint16_t i;

	if (length < sizeof(*ehdr) || memcmp(ehdr->e_ident, ELFMAG, SELFMAG) != 0 || ehdr->e_ident[EI_CLASS] != ELFCLASS64 ||
	    ehdr->e_phoff + (uint64_t)ehdr->e_phnum * sizeof(Elf64_Phdr) > length) {
		stp_bpf_fail("%s is not a 64-bit ELF file", path);
		return -1;
	}
	for (i = 0; i < ehdr->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(image + ehdr->e_phoff) + i;
		const Elf64_Nhdr *note;

		if (ph->p_type != PT_NOTE || ph->p_offset + ph->p_filesz > length)
			continue;
		note = find_build_id(image + ph->p_offset, ph->p_filesz);
		if (note != NULL)
			return hex_of(note, hex, size);
	}
	hex[0] = '\0';
	return 0;
}

int stp_elf_build_id(const char *path, char *hex, size_t size)
{
	struct stat st;
	void *image;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc;

	if (fd < 0) {
		stp_bpf_fail("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		stp_bpf_fail("cannot stat %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	image = st.st_size > 0 ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	close(fd);
	if (image == MAP_FAILED) {
		stp_bpf_fail("cannot map %s: %s", path, st.st_size > 0 ? strerror(errno) : "empty file");
		return -1;
	}
	rc = scan(image, (size_t)st.st_size, path, hex, size);
	if (munmap(image, (size_t)st.st_size) < 0) {
		stp_bpf_fail("cannot unmap %s: %s", path, strerror(errno));
		return -1;
	}
	return rc;
}
