"""function("malloc") in libc: symbol aliases of DWARF functions, resolved as stap resolves them.

glibc's DWARF names malloc `__libc_malloc` (linkage name `__GI___libc_malloc`); `malloc`
and `__malloc` are other symbols at its address. stap lets those names find the DWARF
function, prints the DWARF name in pp() and -L, and keeps one probe per address. The
listings are compared with the real stap's on this machine's libc (with libc6-dbg's
separate debug file, and on a copy stripped of its build-id and debug link, which leaves
stap and us only the dynamic symbols); the end-to-end run counts a program's own
allocations and checks every size.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from engine.elaborate import elf
from engine.elaborate.probes.base import ResolutionError
from engine.elaborate.stap_order import cache_order
from tests.programs import OUT_DIR, SOURCES, build
from tests.support import require, require_root, stap_oracle
from tests.test_uprobe_e2e import pystap
from tests.test_uprobe_resolve import CTX, PROVIDER, _oracle_lines, _oracle_probes, point


def _libc() -> str:
    """The libc the test program loads, as stap names it (the file, not a symlink)."""
    found = elf.resolve_library(elf.read_image(str(build("allocs", "-O0"))), "libc.so.6")
    require(bool(found), "libc.so.6 among the test program's libraries")
    return found[0]


def _libc_with_debuginfo() -> str:
    path = _libc()
    require(elf.find_debug_file(elf.read_image(path, symbols=False)) is not None,
            "libc's debug information (apt-get install libc6-dbg)")
    return path


def _libc_without_debuginfo() -> str:
    """A copy of libc with no build-id and no debug link: only its .dynsym is left to use."""
    target = OUT_DIR / "libc-no-debuginfo.so"
    if not target.exists():
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        subprocess.run(["objcopy", "--remove-section", ".note.gnu.build-id", "--remove-section", ".gnu_debuglink",
                        _libc(), str(partial)], check=True)
        os.replace(partial, target)
    return str(target)


def listing(path: str, function: str, *suffix: str) -> list[str]:
    """-L of process(PATH).function(FUNCTION)[.SUFFIX], ours."""
    return [p.format(True) for p in PROVIDER.list(point(("process", path), ("function", function), *suffix), CTX)]


def oracle_listing(path: str, function: str, *suffix: str) -> list[str]:
    """The same listing, stap's."""
    return _oracle_lines("-L", f'process("{path}").function("{function}")' + "".join(f".{s}" for s in suffix))


def test_malloc_is_glibcs_libc_malloc():
    libc = _libc_with_debuginfo()
    assert listing(libc, "malloc") == [
        f'process("{libc}").function("__libc_malloc@./malloc/malloc.c:3280") $bytes:size_t '
        "$__PRETTY_FUNCTION__:char const[] const"
    ]


@pytest.mark.parametrize("function", [
    "malloc", "free", "calloc", "realloc",  # aliases of __libc_malloc, __libc_free ...
    "__malloc", "__free",  # local symbols at the same addresses name them too
    "aligned_alloc", "memalign", "mallo?", "cfree*",  # cfree's symbol is cfree@GLIBC_2.2.5
    "malloc@*", "malloc@malloc.c:3280", "*alloc@malloc.c",
    "mall*",  # inlined malloc_init_state: a block's variables are not the function's, even at its entry
    # assembly wrappers: several DWARF functions at one address, stap names the one its cache yields first
    "kill", "__kill", "__GI_kill", "__GI___kill", "*kill", "alarm", "__GI_alarm", "pkey_alloc", "*pkey*",
])
def test_libc_listing_matches_stap(function):
    libc = _libc_with_debuginfo()
    assert listing(libc, function) == oracle_listing(libc, function)


def test_functions_sharing_an_address_are_named_as_stap_names_them():
    """stap's cache yields the *other* wrapper for each exact name: kill is __GI_kill."""
    libc = _libc_with_debuginfo()
    named = {name: listing(libc, name)[0].split('function("')[1].split("@")[0]
             for name in ("kill", "__GI_kill", "pkey_alloc", "__GI_pkey_alloc")}
    assert named == {"kill": "__GI_kill", "__GI_kill": "kill", "pkey_alloc": "__GI_pkey_alloc",
                     "__GI_pkey_alloc": "pkey_alloc"}


def test_cache_order_is_libstdcxx_order(tmp_path):
    """stap_order replays an unordered_multimap: compared with the real one (g++,
    tests/programs/cache_order.cc) on glibc's kill wrappers and on random units of
    1 to 5000 functions with aliases and a repeated name (bucket growth, range insert)."""
    require(shutil.which("g++") is not None, "g++ (apt-get install g++)")
    program = tmp_path / "cache_order"
    subprocess.run(["g++", "-O1", "-o", str(program), str(SOURCES / "cache_order.cc")], check=True)

    def real(functions):
        text = "".join(" ".join((name, *aliases)) + "\n" for name, aliases in functions)
        out = subprocess.run([str(program)], input=text, capture_output=True, text=True, check=True).stdout
        return [(line.split()[0], int(line.split()[1])) for line in out.splitlines()]

    names = ["__kill", "__GI___kill", "kill", "__GI_kill"]
    kill = [(name, tuple(n for n in names if n != name)) for name in names]
    assert cache_order(kill) == real(kill)
    assert [i for name, i in cache_order(kill) if name == "kill"] == [3, 1, 0, 2]
    rng = random.Random(7)
    for size in (1, 2, 13, 14, 200, 1500, 5000):
        names = [f"f{rng.randrange(10 ** 6)}_{i % 7}" for i in range(size)]
        unit = [(name, tuple(rng.sample(names, min(size, rng.randrange(3))))) for name in names] + [(names[0], ())]
        assert cache_order(unit) == real(unit), size


def test_exported_asks_the_symbol_the_linkage_name_names():
    """`.exported` is stap's func_is_exported: __libc_malloc's linkage name is the local
    __GI___libc_malloc, so malloc is not exported (although DWARF says external) while
    __libc_calloc, whose own name is a global symbol, is."""
    libc = _libc_with_debuginfo()
    assert oracle_listing(libc, "*alloc", "exported") == listing(libc, "*alloc", "exported")
    assert [line.split('function("')[1].split("@")[0] for line in listing(libc, "*alloc", "exported")] == [
        "__libc_calloc", "__libc_pvalloc", "__libc_valloc", "__sched_cpualloc", "inet6_option_alloc", "pkey_alloc"]


@pytest.mark.parametrize("function, similar", [
    ("__GI___libc_malloc", "__libc_malloc"),  # the symbol the linkage name names is no alias
    ("cfree", "free, __free, tee, clone, close"),  # only cfree@GLIBC_2.2.5 is there; aliases are offered
    ("memset", "memmem, semget, tzset, capset, msgget"),  # a GNU indirect function: neither listed nor an alias
    ("mtrace", "ptrace, mtrim, space, mprobe, tee"),  # DWARF describes it without code: not symbol-only either
])
def test_names_stap_does_not_resolve(function, similar):
    libc = _libc_with_debuginfo()
    proc = stap_oracle("-L", f'process("{libc}").function("{function}")')
    assert (proc.returncode, proc.stdout) == (1, "")
    with pytest.raises(ResolutionError) as error:
        listing(libc, function)
    assert str(error.value) == f"no match (similar functions: {similar})"


@pytest.mark.parametrize("function", ["malloc", "__libc_malloc", "*malloc", "mall*", "__libc_*alloc", "*free"])
def test_symbol_only_libc_listing_matches_stap(function):
    """Without DWARF each symbol is a function, but one address gives one probe: the
    first of its names in the symbol table that matches (`*malloc` is malloc alone)."""
    libc = _libc_without_debuginfo()
    assert listing(libc, function) == oracle_listing(libc, function)


def test_symbol_only_malloc_names():
    assert listing(_libc_without_debuginfo(), "*malloc") == [
        f'process("{_libc_without_debuginfo()}").function("malloc")'
    ]


def test_bare_library_name_is_searched_in_path(monkeypatch):
    """stap searches $PATH for a name without a slash, libraries included."""
    libc = _libc_with_debuginfo()
    monkeypatch.setenv("PATH", f"{os.environ['PATH']}:{os.path.dirname(libc)}")
    assert listing("libc.so.6", "free") == oracle_listing("libc.so.6", "free")


def test_probe_point_and_address_match_stap():
    """pp() is the DWARF function's point, at its entry (glibc is optimised)."""
    libc = _libc_with_debuginfo()
    ours = [(d.point, d.data["pc"]) for d in PROVIDER.resolve(point(("process", libc), ("function", "malloc")), CTX)]
    assert ours == _oracle_probes(f'process("{libc}").function("malloc")')


def test_allocations_counted_by_alias_names():
    """The program's own allocations (those made inside its main) with their sizes,
    entry and return; other processes' calls to the same libc are filtered by pid."""
    require_root()
    require(Path("/sys/bus/event_source/devices/uprobe/type").exists(), "the uprobe PMU")
    program = str(build("allocs", "-O0"))
    libc = _libc_with_debuginfo()
    lib = f'process("{libc}")'
    script = (
        f'global inside, n\n'
        f'probe process("{program}").function("main") {{ inside = 1 }}\n'
        f'probe process("{program}").function("main").return {{ inside = 0 }}\n'
        f'probe {lib}.function("malloc") {{ if (pid() == target() && inside) {{ n++; printf("malloc %d %s\\n", $bytes, pp()) }} }}\n'
        f'probe {lib}.function("malloc").return {{ if (pid() == target() && inside) printf("malloc ret %d %d\\n", $bytes, $return != 0) }}\n'
        f'probe {lib}.function("calloc") {{ if (pid() == target() && inside) printf("calloc %d %d\\n", $n, $elem_size) }}\n'
        f'probe {lib}.function("realloc") {{ if (pid() == target() && inside) printf("realloc %d\\n", $bytes) }}\n'
        f'probe {lib}.function("free") {{ if (pid() == target() && inside) printf("free %s\\n", ppfunc()) }}\n'
        f'probe end {{ printf("mallocs %d\\n", n) }}\n'
    )
    result = pystap("-e", script, "-c", f"{program} 3", timeout=300)
    assert result.returncode == 0, result.stderr
    pp = f'process("{libc}").function("__libc_malloc@./malloc/malloc.c:3280")'
    expected = []
    for i in range(3):
        expected += [f"malloc {1000 + i} {pp}", f"malloc ret {1000 + i} 1", f"calloc 3 {70 + i}",
                     f"realloc {5000 + i}", "free __libc_free", "free __libc_free"]
    assert result.stdout.splitlines() == expected + ["mallocs 3"]


def test_alias_probe_fires_for_every_name_it_is_called_by():
    """aliased.c at -O0 calls __scale_impl as `scale` and, from twice_impl, as
    `scale_local`: a probe on the alias `scale` is on the function, so it sees both."""
    require_root()
    require(Path("/sys/bus/event_source/devices/uprobe/type").exists(), "the uprobe PMU")
    program = str(build("aliased", "-O0"))
    p = f'process("{program}")'
    script = (f'probe {p}.function("scale") {{ printf("%s %d %d\\n", ppfunc(), $value, $factor) }}\n'
              f'probe {p}.function("scale").return {{ printf("ret %d\\n", $return) }}\n'
              f'probe {p}.function("twice") {{ printf("%s %d\\n", ppfunc(), $value) }}\n')
    result = pystap("-e", script, "-c", f"{program} 3", timeout=300)
    assert result.returncode == 0, result.stderr
    expected = []
    for i in range(3):
        expected += [f"__scale_impl {i} 10", f"ret {10 * i + 1}", f"twice_impl {i}", f"__scale_impl {i} 2",
                     f"ret {2 * i + 1}"]
    assert result.stdout.splitlines() == expected
