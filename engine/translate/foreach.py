"""foreach over a sorted, sliced, limited snapshot of an array, and delete."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.parse import ast
from engine.translate.unit import TranslateError

if TYPE_CHECKING:
    from engine.translate.statements import StmtEmitter


def emit_foreach(st: "StmtEmitter", node: ast.ForeachLoop) -> None:
    if isinstance(node.base, ast.HistOp):
        _foreach_bucket(st, node)
        return
    em = st.expr
    array = em.global_array(node.base)
    value_type = node.base.referent.type
    it, entry = st.frame.fresh("it"), st.frame.fresh("e")
    cont, brk = st.frame.fresh("continue_"), st.frame.fresh("break_")
    column = node.sort_column if node.sort_column is not None and node.sort_direction else -1
    limit = em.visit(node.limit) if node.limit is not None else "-1"
    aggregate = f"STP_SORT_{(node.sort_aggregate or 'count').upper()}"
    if node.array_slice is not None:
        prelude, slice_keys, mask = em.keys(node.array_slice)
    else:
        prelude, slice_keys, mask = [], "(union stp_value *)0", 0xFFFFFFFF
    st.line_directive(node)
    st.emit("{")
    for line in prelude:
        st.emit(line)
    st.emit(f"struct stp_map_iter {it};")
    st.emit(
        f"if (stp_map_iter_start(&{it}, {array}, {column}, {node.sort_direction or 0}, {aggregate}, {limit},"
        f" {slice_keys}, {mask}u) < 0)"
        f' {{ c->last_error = "out of memory"; goto {st.frame.error_label}; }}'
    )
    st.emit(f"for (struct stp_map_entry *{entry}; ({entry} = stp_map_iter_next(&{it})) != 0; ) {{")
    st.depth += 1
    st.charge(_cost(node), node)
    for i, symbol in enumerate(node.indexes):
        _bind(st, symbol, f"{entry}->keys[{i}]")
    if node.value is not None:
        if value_type is ast.Type.STATS:
            raise TranslateError("a statistics value cannot be bound in foreach", node.value)
        target = em.visit(node.value)
        if value_type is ast.Type.STRING:
            st.emit(f'stp_strset({target}, {entry}->s ? {entry}->s : "");')
        else:
            st.emit(f"{target} = {entry}->n;")
    st.depth -= 1
    st.loop_body(node.body, cont, brk)
    st.emit(f"  {cont}: ;")
    st.emit("}")
    st.emit(f"{brk}:")
    st.emit(f"stp_map_iter_end(&{it});")
    st.emit("}")


def _foreach_bucket(st: "StmtEmitter", node: ast.ForeachLoop) -> None:
    """`foreach (i in @hist_log(x))`: every bucket index, as stap iterates them."""
    if len(node.indexes) != 1 or node.value is not None:
        raise TranslateError("foreach over a histogram takes one index variable", node)
    stat, index = st.frame.fresh("h"), st.expr.visit(node.indexes[0])
    cont, brk = st.frame.fresh("continue_"), st.frame.fresh("break_")
    st.line_directive(node)
    st.emit("{")
    st.emit(f"const struct stp_stat *{stat} = {st.expr.visit(node.base.operand)};")
    st.emit(f"for ({index} = 0; {index} < ({stat} ? {stat}->buckets : 0); {index}++) {{")
    st.depth += 1
    st.charge(_cost(node), node)
    st.depth -= 1
    st.loop_body(node.body, cont, brk)
    st.emit(f"  {cont}: ;")
    st.emit("}")
    st.emit(f"{brk}: ;")
    st.emit("}")


def _cost(node: ast.ForeachLoop) -> int:
    from engine.translate.statements import count_statements

    return count_statements(node.body) + 1


def _bind(st: "StmtEmitter", symbol: ast.Symbol, key: str) -> None:
    target = st.expr.visit(symbol)
    if symbol.type is ast.Type.STRING:
        st.emit(f"stp_strset({target}, {key}.s);")
    else:
        st.emit(f"{target} = {key}.n;")


def emit_delete(st: "StmtEmitter", node: ast.DeleteStatement) -> None:
    em = st.expr
    target = node.target
    if isinstance(target, ast.ArrayIndex):
        array = em.global_array(target.base)
        prelude, keys, mask = em.keys(target.indexes)
        st.emit(em.block(prelude, f"stp_map_delete({array}, {keys}, {mask}u)") + ";")
        return
    info = st.frame.unit.global_of(getattr(target, "referent", None))
    if info is not None and info.is_array:
        st.emit(f"stp_map_clear({info.cname});")
        return
    value = em.visit(target)
    kind = target.referent.type if isinstance(target, ast.Symbol) and target.referent is not None else target.type
    if kind is ast.Type.STATS:
        st.emit(f"stp_stat_clear({value});")
    elif kind is ast.Type.STRING:
        st.emit(f"{value}[0] = '\\0';")
    else:
        st.emit(f"{value} = 0;")
