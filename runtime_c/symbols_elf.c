/* Function symbols and loadable segments of an ELF file (64-bit, native byte order),
 * read once per path: .symtab when the file has one, else .dynsym. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"
#include "symbols.h"

struct elf_cache {
	struct stp_elf elf;
	struct elf_cache *next;
};

static struct elf_cache *cache;

static int in_file(size_t size, uint64_t offset, uint64_t length)
{
	return offset <= size && length <= size - offset;
}

static const Elf64_Shdr *symbol_section(const unsigned char *image, size_t size, const Elf64_Ehdr *eh)
{
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(image + eh->e_shoff);
	const Elf64_Shdr *dynsym = NULL;
	int i;

	if (eh->e_shoff == 0 || !in_file(size, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(*sh)))
		return NULL;
	for (i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type == SHT_SYMTAB && sh[i].sh_link < eh->e_shnum)
			return &sh[i];
		if (sh[i].sh_type == SHT_DYNSYM && sh[i].sh_link < eh->e_shnum)
			dynsym = &sh[i];
	}
	return dynsym;
}

static void read_symbols(struct stp_elf *elf, const unsigned char *image, size_t size, const Elf64_Ehdr *eh)
{
	const Elf64_Shdr *sh = symbol_section(image, size, eh), *strtab;
	const Elf64_Sym *sym;
	size_t i, n;

	if (sh == NULL)
		return;
	strtab = (const Elf64_Shdr *)(image + eh->e_shoff) + sh->sh_link;
	if (!in_file(size, sh->sh_offset, sh->sh_size) || !in_file(size, strtab->sh_offset, strtab->sh_size))
		return;
	sym = (const Elf64_Sym *)(image + sh->sh_offset);
	n = sh->sh_size / sizeof(*sym);
	for (i = 0; i < n; i++) {
		int type = ELF64_ST_TYPE(sym[i].st_info);

		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym[i].st_shndx == SHN_UNDEF ||
		    sym[i].st_size == 0 || sym[i].st_name >= strtab->sh_size)
			continue;
		if (memchr(image + strtab->sh_offset + sym[i].st_name, '\0', strtab->sh_size - sym[i].st_name) == NULL)
			continue;
		stp_symtab_add(&elf->symbols, sym[i].st_value, sym[i].st_size,
			       (const char *)image + strtab->sh_offset + sym[i].st_name, elf->path);
	}
	stp_symtab_sort(&elf->symbols, 0);
}

static void read_segments(struct stp_elf *elf, const unsigned char *image, size_t size, const Elf64_Ehdr *eh)
{
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(image + eh->e_phoff);
	int i;

	if (!in_file(size, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(*ph)))
		return;
	elf->segments = calloc(eh->e_phnum ? eh->e_phnum : 1, sizeof(*elf->segments));
	if (elf->segments == NULL)
		return;
	for (i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD)
			elf->segments[elf->nsegments++] =
				(struct stp_elf_segment){ph[i].p_offset, ph[i].p_vaddr, ph[i].p_filesz};
}

static int parse(struct stp_elf *elf)
{
	struct stat st;
	unsigned char *image;
	const Elf64_Ehdr *eh;
	int fd = open(elf->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(*eh)) {
		close(fd);
		return -1;
	}
	image = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (image == MAP_FAILED)
		return -1;
	eh = (const Elf64_Ehdr *)image;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64) {
		read_segments(elf, image, (size_t)st.st_size, eh);
		read_symbols(elf, image, (size_t)st.st_size, eh);
	}
	munmap(image, (size_t)st.st_size);
	return 0;
}

struct stp_elf *stp_elf_load(const char *path)
{
	struct elf_cache *c;

	for (c = cache; c != NULL; c = c->next)
		if (strcmp(c->elf.path, path) == 0)
			return &c->elf;
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->elf.path = strdup(path)) == NULL) {
		free(c);
		return NULL;
	}
	if (parse(&c->elf) != 0) {
		free(c->elf.path);
		free(c);
		return NULL;
	}
	c->next = cache;
	cache = c;
	return &c->elf;
}
