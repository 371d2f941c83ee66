"""The order in which stap's function cache yields a unit's functions, replayed.

When several DWARF functions share one address (glibc's assembly syscall wrappers:
`kill`, `__kill`, `__GI_kill` and `__GI___kill` are four DIEs at one address), stap
probes only the first its per-unit function cache yields for the probe point's name
(the cache maps each DIE's name, then each symbol alias update_symtab adds, to the DIE;
alias_dupes keeps the first per address). So `function("kill")` is stap's
`__GI_kill@...`, and `function("__GI_kill")` its `kill@...`. The cache is a libstdc++
`unordered_multimap` keyed by stap's interned strings, so that order is the hash
table's: std::hash of the name (_Hash_bytes), prime bucket counts grown by the rehash
policy, a new key first in the list when its bucket is empty, else first in its bucket,
and before the keys equal to it (the key's hash is stap's own functor, which libstdc++
takes for a fast one, so it does not scan a small table for an equal key to go after).
tests/programs/cache_order.cc runs the real container for the tests to compare with,
and the libc tests compare the choices with stap's.
"""

from __future__ import annotations

from dataclasses import dataclass

_MASK = (1 << 64) - 1
_MUL = (0xC6A4A793 << 32) + 0x5BD1E995
_SEED = 0xC70F6907  # std::hash<std::string>'s seed
# libstdc++'s __prime_list (its bucket counts) up to a million; a unit is far smaller.
_PRIMES = (
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 103, 109, 113,
    127, 137, 139, 149, 157, 167, 179, 193, 199, 211, 227, 241, 257, 277, 293, 313, 337, 359, 383, 409, 439, 467,
    503, 541, 577, 619, 661, 709, 761, 823, 887, 953, 1031, 1109, 1193, 1289, 1381, 1493, 1613, 1741, 1879, 2029,
    2179, 2357, 2549, 2753, 2971, 3209, 3469, 3739, 4027, 4349, 4703, 5087, 5503, 5953, 6427, 6949, 7517, 8123,
    8783, 9497, 10273, 11113, 12011, 12983, 14033, 15173, 16411, 17749, 19183, 20753, 22447, 24281, 26267, 28411,
    30727, 33223, 35933, 38873, 42043, 45481, 49201, 53201, 57557, 62233, 67307, 72817, 78779, 85229, 92203, 99733,
    107897, 116731, 126271, 136607, 147793, 159871, 172933, 187091, 202409, 218971, 236897, 256279, 277261, 299951,
    324503, 351061, 379787, 410857, 444487, 480881, 520241, 562841, 608903, 658753, 712697, 771049, 834181, 902483,
    976369,
)
_FAST_BUCKETS = (2, 2, 2, 3, 5, 5, 7, 7, 11, 11, 11, 11, 13, 13)  # the policy's table for small counts


def name_hash(name: str) -> int:
    """libstdc++'s _Hash_bytes (64-bit) of the name's bytes: what std::hash gives."""
    data = name.encode()
    length = len(data)
    value = (_SEED ^ (length * _MUL)) & _MASK
    aligned = length & ~7
    for start in range(0, aligned, 8):
        word = int.from_bytes(data[start:start + 8], "little")
        value = ((value ^ ((_shift_mix((word * _MUL) & _MASK) * _MUL) & _MASK)) * _MUL) & _MASK
    if length & 7:
        value = ((value ^ int.from_bytes(data[aligned:], "little")) * _MUL) & _MASK
    return _shift_mix((_shift_mix(value) * _MUL) & _MASK)


def _shift_mix(value: int) -> int:
    return value ^ (value >> 47)


@dataclass
class _Node:
    key: str
    value: int
    code: int
    next: "_Node | None" = None


class MultiMap:
    """An unordered_multimap's node list and buckets, enough to know its iteration order.

    `buckets[b]` is the node before bucket b's first node (None: the list head), as in
    libstdc++; `_EMPTY` marks an empty bucket."""

    _EMPTY = object()

    def __init__(self) -> None:
        self.head: _Node | None = None
        self.count = 0
        self.bucket_count = 1
        self.next_resize = 0
        self.buckets: list = [self._EMPTY]

    def items(self) -> list[tuple[str, int]]:
        items, node = [], self.head
        while node is not None:
            items.append((node.key, node.value))
            node = node.next
        return items

    def insert(self, key: str, value: int) -> None:
        grow = self._grow_to(1)
        if grow:
            self._rehash(grow)
        node = _Node(key, value, name_hash(key))
        bucket = node.code % self.bucket_count
        before = self._before_equal(bucket, key)
        if before is not self._EMPTY:
            self._link_after(before, node)  # before the keys equal to it
        elif self.buckets[bucket] is not self._EMPTY:
            self._link_after(self.buckets[bucket], node)  # first in its bucket
        else:
            node.next, self.head = self.head, node  # first in the list
            if node.next is not None:
                self.buckets[node.next.code % self.bucket_count] = node
            self.buckets[bucket] = None
        self.count += 1

    def insert_all(self, items: list[tuple[str, int]]) -> None:
        """A range insert: one growth check for all, then each insert as above."""
        if not items:
            return
        grow = self._grow_to(len(items))
        if grow:
            self._rehash(grow)
        for key, value in items:
            self.insert(key, value)

    # -- libstdc++'s _Prime_rehash_policy and _M_rehash_aux (equivalent keys kept together) --

    def _grow_to(self, inserting: int) -> int:
        """The new bucket count if `inserting` more elements need one, else 0."""
        if self.count + inserting <= self.next_resize:
            return 0
        wanted = max(self.count + inserting, 0 if self.next_resize else 11)
        if wanted >= self.bucket_count:
            return self._next_bucket_count(max(wanted + 1, self.bucket_count * 2))
        self.next_resize = self.bucket_count
        return 0

    def _next_bucket_count(self, n: int) -> int:
        if n < len(_FAST_BUCKETS):
            count = _FAST_BUCKETS[n]
        else:
            count = next((p for p in _PRIMES[6:] if p >= n), _PRIMES[-1])  # (beyond: not a unit's size)
        self.next_resize = count
        return count

    def _rehash(self, count: int) -> None:
        nodes = []
        node = self.head
        while node is not None:
            nodes.append(node)
            node = node.next
        self.bucket_count, self.buckets, self.head = count, [self._EMPTY] * count, None
        begin_bucket, previous, previous_bucket, check = 0, None, 0, False
        for node in nodes:
            bucket = node.code % count
            if previous is not None and previous_bucket == bucket:
                node.next, previous.next = previous.next, node
                check = True
            else:
                if check:
                    self._fix_next_bucket(previous, previous_bucket)
                    check = False
                if self.buckets[bucket] is self._EMPTY:
                    node.next, self.head = self.head, node
                    self.buckets[bucket] = None
                    if node.next is not None:
                        self.buckets[begin_bucket] = node
                    begin_bucket = bucket
                else:
                    self._link_after(self.buckets[bucket], node)
            previous, previous_bucket = node, bucket
        if check:
            self._fix_next_bucket(previous, previous_bucket)

    def _fix_next_bucket(self, node: _Node, bucket: int) -> None:
        if node.next is not None and node.next.code % self.bucket_count != bucket:
            self.buckets[node.next.code % self.bucket_count] = node

    def _before_equal(self, bucket: int, key: str):
        """The node before the first node with `key` in `bucket` (None: the head), or _EMPTY."""
        before = self.buckets[bucket]
        if before is self._EMPTY:
            return self._EMPTY
        node = self.head if before is None else before.next
        while node is not None:
            if node.key == key:
                return before
            if node.next is None or node.next.code % self.bucket_count != bucket:
                return self._EMPTY
            before, node = node, node.next
        return self._EMPTY

    def _link_after(self, before: _Node | None, node: _Node) -> None:
        if before is None:
            node.next, self.head = self.head, node
        else:
            node.next, before.next = before.next, node


def cache_order(functions: list[tuple[str, tuple[str, ...]]]) -> list[tuple[str, int]]:
    """stap's cache of one unit, in iteration order: (name, function index) entries.

    `functions` are the unit's functions in DIE order, each with its DWARF name and
    the other symbols at the address of the symbol its linkage name (else its name)
    names, in symbol-table order (update_symtab adds those, for each function in the
    cache's order, to a second multimap it then inserts whole)."""
    cache = MultiMap()
    for index, (name, _) in enumerate(functions):
        cache.insert(name, index)
    added = MultiMap()
    for _, index in cache.items():
        for alias in functions[index][1]:
            added.insert(alias, index)
    cache.insert_all(added.items())
    return cache.items()
