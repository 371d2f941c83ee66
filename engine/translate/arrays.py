"""Array elements: reads, stores, compound assignment and ++/-- on `a[k...]`, and
histogram buckets `@hist_log(x)[i]`. Stores set stap's `near identifier 'a'` location
so "Array overflow, check MAXMAPENTRIES" points at the array."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.parse import ast
from engine.translate.unit import TranslateError, near, near_operator

if TYPE_CHECKING:
    from engine.translate.expressions import ExprEmitter


def read_element(em: "ExprEmitter", node: ast.ArrayIndex) -> str:
    if isinstance(node.base, ast.HistOp):
        return _bucket(em, node)
    array = em.global_array(node.base)
    prelude, keys, _ = em.keys(node.indexes)
    value_type = node.base.referent.type
    if value_type is ast.Type.STRING:
        return em.block(prelude, f"stp_map_get_string({array}, {keys})")
    if value_type is ast.Type.STATS:
        entry = em.frame.fresh("e")
        found = f"struct stp_map_entry *{entry} = stp_map_find({array}, {keys});"
        return em.block([*prelude, found], f"({entry} ? &{entry}->stat : (struct stp_stat *)0)")
    return em.block(prelude, f"stp_map_get_long({array}, {keys})")


def _bucket(em: "ExprEmitter", node: ast.ArrayIndex) -> str:
    if len(node.indexes) != 1 or node.indexes[0] is None:
        raise TranslateError("a histogram takes one bucket index", node)
    prelude, (stat, index) = em.ordered([node.base, node.indexes[0]])
    result = em.frame.fresh("v")
    check = em.fail_if_error(near(f"operator '@hist_{node.base.kind}'", node.base))
    return em.block([*prelude, f"int64_t {result} = stp_stat_bucket(c, {stat}, {index});", check], result)


def _store(em: "ExprEmitter", node: ast.ArrayIndex, array: str, keys: str, value: str) -> str:
    """C statements storing `value` (a C expression) at `keys`; checks overflow."""
    kind = node.base.referent.type
    setter = {ast.Type.STRING: "stp_map_set_string", ast.Type.STATS: "stp_map_add_stat"}.get(kind, "stp_map_set_long")
    where = near(f"identifier '{node.base.name}'", node.base)
    return f"c->last_stmt = {where}; if ({setter}(c, {array}, {keys}, {value}) < 0) goto {em.frame.error_label};"


def assign_element(em: "ExprEmitter", node: ast.AssignmentExpr) -> str:
    target: ast.ArrayIndex = node.target
    array = em.global_array(target.base)
    prelude, keys, _ = em.keys(target.indexes)
    key_var = em.frame.fresh("k")
    prelude.append(f"union stp_value *{key_var} = {keys};")
    value_type = target.base.referent.type
    value = em.visit(node.value)
    if node.op == "<<<" or (node.op == "=" and value_type is not ast.Type.STRING):
        result = em.frame.fresh("v")
        prelude.append(f"int64_t {result} = {value};")
        return em.block([*prelude, _store(em, target, array, key_var, result)], result)
    if value_type is ast.Type.STRING:
        temp = em.frame.string_temp()
        if node.op == ".=":
            prelude.append(f"stp_strset({temp}, stp_map_get_string({array}, {key_var}));")
            prelude.append(f"stp_concat({temp}, {temp}, {value});")
        else:
            prelude.append(f"stp_strset({temp}, {value});")
        return em.block([*prelude, _store(em, target, array, key_var, temp)], f"(const char *){temp}")
    operand = em.frame.fresh("v")
    result = em.frame.fresh("v")
    prelude.append(f"int64_t {operand} = {value};")
    combined = em.arith(node.op[:-1], f"stp_map_get_long({array}, {key_var})", operand, near_operator(node.op, node, node.value))
    prelude.append(f"int64_t {result} = {combined};")
    return em.block([*prelude, _store(em, target, array, key_var, result)], result)


def crement_element(em: "ExprEmitter", node: ast.CrementExpr) -> str:
    target: ast.ArrayIndex = node.operand
    array = em.global_array(target.base)
    prelude, keys, _ = em.keys(target.indexes)
    key_var, old, new = em.frame.fresh("k"), em.frame.fresh("v"), em.frame.fresh("v")
    step = "+ 1" if node.op == "++" else "- 1"
    prelude += [
        f"union stp_value *{key_var} = {keys};",
        f"int64_t {old} = stp_map_get_long({array}, {key_var});",
        f"int64_t {new} = {old} {step};",
        _store(em, target, array, key_var, new),
    ]
    return em.block(prelude, new if node.prefix else old)
