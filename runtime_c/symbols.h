/* Symbolising code addresses: kernel addresses through /proc/kallsyms, user
 * addresses through /proc/PID/maps and the ELF symbol tables of the mapped files.
 * Handlers run after the event, so a process that has exited since can no longer
 * be symbolised -- its addresses are printed in hex -- except the frames of a
 * uprobe's user stack, captured with their modules (stp_user_place_frame). */
#ifndef STP_SYMBOLS_H
#define STP_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

struct context;

/* A symbol found for an address: its start (in the address space looked up), size,
 * name and module (kernel module name, "kernel", or the mapped file's path). */
struct stp_symbol {
	uint64_t start;
	uint64_t size;
	const char *name;
	const char *module;
};

/* Each returns 1 and fills `sym` when the address lies in a known symbol; a user
 * address in a mapped file without a symbol for it gives 2 and only the module:
 * `name` NULL, `start`/`size` the file's load address and extent. */
int stp_kernel_symbol(uint64_t addr, struct stp_symbol *sym);
int stp_user_symbol(int64_t pid, uint64_t addr, struct stp_symbol *sym);
/* A user frame captured with its module (bpf_stack_build_id): when the process's maps
 * are gone, the file with that build-id is taken as mapped where the frame says. */
#define STP_BUILD_ID_SIZE 20
void stp_user_place_frame(int64_t pid, uint64_t addr, const unsigned char *build_id, uint64_t offset);

/* One symbol table, sorted by address (symbols_table.c). */
struct stp_symtab {
	struct stp_symbol *syms;
	size_t n, cap;
};

int stp_symtab_add(struct stp_symtab *t, uint64_t start, uint64_t size, const char *name, const char *module);
void stp_symtab_sort(struct stp_symtab *t, int sizes_from_next);
const struct stp_symbol *stp_symtab_find(const struct stp_symtab *t, uint64_t addr);

/* An ELF file's function symbols and loadable segments (symbols_elf.c). */
struct stp_elf_segment {
	uint64_t offset, vaddr, filesz;
};

struct stp_elf {
	char *path;
	struct stp_symtab symbols;  /* addresses are the file's virtual addresses */
	struct stp_elf_segment *segments;
	size_t nsegments;
};

struct stp_elf *stp_elf_load(const char *path);  /* cached by path; NULL if unreadable */

/* How an address is written, after stap's _STP_SYM_* combinations. */
enum stp_sym_format {
	STP_SYM_NONE,    /* "0x1234 " */
	STP_SYM_FULL,    /* " 0x1234 : name+0x4/0x20 [module]\n" */
	STP_SYM_SIMPLE,  /* "name+0x4 [module basename]\n" */
	STP_SYM_BRIEF,   /* "name+0x4\n" */
	STP_SYM_SYMBOL,  /* "name" */
	STP_SYM_DATA     /* "name+0x4/0x20 [module]" */
};

/* Write `addr` in `format` into buf (truncated to size); returns the length wanted.
 * `pid` < 0 looks the address up in the kernel. */
size_t stp_format_address(char *buf, size_t size, int64_t pid, uint64_t addr, enum stp_sym_format format);

/* stack_record.c: the stacks captured in the current record (none outside kernel probes). */
size_t stp_stack_frames(const struct context *c, int user, uint64_t *frames, size_t max);
void stp_stack_print(struct context *c, int user, enum stp_sym_format format);
void stp_stack_sprint(char *buf, size_t size, struct context *c, int user, enum stp_sym_format format);
/* stack(n): the address at depth n (0: where the event happened); -1 past the end. */
int stp_stack_at(const struct context *c, int user, int64_t n, uint64_t *addr);
/* callers(n): "0x1 0x2 ..." of depths 0..n (n == -1: all), whole addresses only;
 * -1 when the stack ends before depth n. */
int stp_stack_callers(char *buf, size_t size, const struct context *c, int user, int64_t n);

/* symbols_list.c: each hex address of a backtrace string (" 0x1 0x2 "), as
 * " 0x1 : name+0x4/0x20 [module]\n" lines; the string form keeps whole lines only. */
void stp_syms_print(int64_t pid, const char *callers);
void stp_syms_sprint(char *buf, size_t size, int64_t pid, const char *callers);

#endif
