"""Side-effect analysis, shared by the optimiser's elisions and its warnings.

An expression has a side effect if it assigns (to a global, or to a local that is
read later — the optimiser elides the other assignments first), prints, runs
embedded C, or calls a function that does. A function is impure if its body has
an effect beyond its own locals; embedded-C functions are impure unless marked
`/* pure */`. stap counts `next` as free of side effects, and so do we.
"""

from __future__ import annotations

from engine.parse.ast import walk
from engine.parse import ast

_PRINTS = frozenset({"print", "println", "printf", "printd", "printdln"})


class Effects:
    def __init__(self) -> None:
        self._functions: dict[int, bool] = {}

    def expression(self, expr: ast.Node, locals_are_private: bool = False) -> bool:
        """True if evaluating `expr` changes anything observable."""
        for node in walk(expr):
            if isinstance(node, (ast.AssignmentExpr, ast.CrementExpr)):
                target = node.target if isinstance(node, ast.AssignmentExpr) else node.operand
                if not (locals_are_private and _is_local(target)):
                    return True
            elif isinstance(node, ast.FunctionCall):
                if node.referent is None or self.function(node.referent):
                    return True
            elif isinstance(node, ast.PrintFormat) and node.name in _PRINTS:
                return True
            elif isinstance(node, (ast.EmbeddedExpr, ast.EmbeddedCode, ast.DeleteStatement)):
                return True
        return False

    def function(self, function: ast.FunctionDecl) -> bool:
        """True if calling `function` has effects beyond computing its value."""
        key = id(function)
        if key not in self._functions:
            self._functions[key] = True  # recursion: assume impure while deciding
            if isinstance(function.body, ast.EmbeddedCode):
                self._functions[key] = "pure" not in function.pragmas and "/* pure */" not in function.body.code
            else:
                self._functions[key] = self.expression(function.body, locals_are_private=True)
        return self._functions[key]


def _is_local(target: ast.Node) -> bool:
    return isinstance(target, ast.Symbol) and target.referent is not None and not is_global(target.referent)


def is_global(decl: ast.VarDecl) -> bool:
    """Globals are marked when linked (Program.link); locals and parameters are not."""
    return getattr(decl, "is_global", False)
