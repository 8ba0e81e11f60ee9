"""Find exercise answers that a student notebook still holds, under any name or layout.

The build replaces the code between solution markers with a stub, but a student copy can
still give an answer away elsewhere: a "reference" implementation of the same function
under another name, a hint cell that is the code, or the same lines reformatted. A test
that compares lines word for word misses all of these. This module compares code the way
a plagiarism checker does:

- **by syntax tree, with names erased.** Each solution region of the master is parsed,
  every identifier the author chose (variables, arguments, function and class names) is
  replaced by ``_``, docstrings and comments disappear, and the statements are dumped
  with :func:`ast.dump`. Every block of statements anywhere in the student copy (module
  level, function bodies, loops, ``with`` blocks ...) is normalised the same way and
  compared window by window: an equal dump is a leak, and so is a near-equal one
  (similarity of at least ``similarity``) when the solution is big enough to be
  distinctive. Attribute names and constants stay, so ``np.sum`` versus ``np.mean``
  still differ;
- **by normalised text**: comments and all whitespace removed, lower case. A region
  whose normalised text (at least 40 characters) appears inside a student cell leaks
  even where the cell does not parse.

Library calls the exercise forbids are a matter for the check cells, not for this
module: a one-line library call is not distinctive enough to match.

Example:
    >>> master = "def f(x):\\n    # BEGIN SOLUTION\\n    y = x * 2\\n    return y + 1\\n    # END SOLUTION\\n"
    >>> student = "def helper(a):\\n    b = a * 2\\n    return b + 1\\n"
    >>> [leak.kind for leak in find_leaks_in_sources([master], [student], min_nodes=5)]
    ['syntax tree']
"""

from __future__ import annotations

import argparse
import ast
import copy
import difflib
import io
import re
import sys
import textwrap
import tokenize
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

from cvcourse import build

#: A solution region must have at least this many syntax-tree nodes to be compared.
MIN_NODES = 12
#: Dumps at least this similar (difflib ratio) count as a leak.
SIMILARITY = 0.9
#: A normalised text must be at least this long to be compared as text.
MIN_TEXT = 40


@dataclass(frozen=True)
class Snippet:
    """One solution region of a master, normalised for comparison.

    Attributes:
        where: notebook, cell and line of the region, for messages.
        source: the region's code, dedented.
        dumps: the name-erased :func:`ast.dump` of each top-level statement (empty if it does not parse).
        nodes: how many syntax-tree nodes the region has.
        text: the region's normalised text (see :func:`normalised_text`).
    """

    where: str
    source: str
    dumps: tuple[str, ...]
    nodes: int
    text: str


@dataclass(frozen=True)
class Leak:
    """A place in a student copy that holds (a copy of) a solution.

    Attributes:
        snippet: the solution region that was found.
        where: the student cell where it was found.
        kind: ``"syntax tree"`` (equal dumps), ``"near copy"`` (similar dumps) or ``"text"``.
        similarity: 1.0 for equal dumps or text, else the difflib ratio.
        excerpt: the first line of the matching student code.
    """

    snippet: Snippet
    where: str
    kind: str
    similarity: float
    excerpt: str

    def describe(self) -> str:
        """One line for a test failure or the command line."""
        return (f"{self.where}: {self.kind} ({self.similarity:.2f}) of the solution at {self.snippet.where}: "
                f"{self.excerpt[:80]!r}")


class _EraseNames(ast.NodeTransformer):
    """Replace every identifier an author chooses with ``_``; drop docstrings."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.copy_location(ast.Name(id="_", ctx=node.ctx), node)

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg, node.annotation, node.type_comment = "_", None, None
        return node

    def _named(self, node: ast.AST) -> ast.AST:
        node.name = "_"
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        node.decorator_list = []
        if hasattr(node, "returns"):
            node.returns = None
        self.generic_visit(node)
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _named

    def visit_keyword(self, node: ast.keyword) -> ast.AST:
        self.generic_visit(node)
        return node

    def visit_alias(self, node: ast.alias) -> ast.AST:
        node.asname = None
        return node

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> ast.AST:
        node.name = None if node.name is None else "_"
        self.generic_visit(node)
        return node


def _strip_magics(source: str) -> str:
    """IPython lines (``%magic``, ``!shell``) become ``pass`` so that a cell parses."""
    return "\n".join(re.sub(r"^(\s*)[%!].*$", r"\1pass", line) for line in source.splitlines())


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(_strip_magics(textwrap.dedent(source)))
    except SyntaxError:
        return None


def _dump(statement: ast.stmt) -> str:
    erased = _EraseNames().visit(copy.deepcopy(statement))
    return ast.dump(erased, annotate_fields=False, include_attributes=False)


def normalised_text(source: str) -> str:
    """``source`` without comments and whitespace, in lower case.

    Example:
        >>> normalised_text("x = np.sum(a)   # total\\n")
        'x=np.sum(a)'
    """
    if not isinstance(source, str):
        raise TypeError(f"source must be a string of code, got {type(source).__name__}")
    try:
        tokens = [tok for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type != tokenize.COMMENT]
        text = tokenize.untokenize(tokens)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        text = re.sub(r"#.*", "", source)
    return re.sub(r"\s+", "", text).lower()


def _blocks(tree: ast.AST) -> Iterator[list[ast.stmt]]:
    """Every list of statements in ``tree``: module body, function bodies, branches, handlers."""
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            value = getattr(node, field, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                yield value
        for handler in getattr(node, "handlers", []) or []:
            yield handler.body
        for case in getattr(node, "cases", []) or []:
            yield case.body


def make_snippet(source: str, where: str) -> Snippet:
    """Normalise one solution region.

    Example:
        >>> make_snippet("y = x * 2\\nreturn y", "demo").dumps[1]
        "Return(Name('_', Load()))"
    """
    if not isinstance(source, str) or not isinstance(where, str):
        raise TypeError("make_snippet(source, where) takes two strings")
    code = textwrap.dedent(source)
    tree = _parse(code)
    dumps = tuple(_dump(statement) for statement in tree.body) if tree else ()
    nodes = sum(1 for _ in ast.walk(tree)) - 1 if tree else 0
    return Snippet(where=where, source=code, dumps=dumps, nodes=nodes, text=normalised_text(code))


def solution_snippets(nb: nbformat.NotebookNode, name: str) -> list[Snippet]:
    """The code solution regions of a master notebook, normalised.

    Example:
        >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("# BEGIN SOLUTION\\nx = 1\\n# END SOLUTION")])
        >>> [s.source for s in solution_snippets(nb, "demo")]
        ['x = 1\\n']
    """
    snippets = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"{name}, cell {index}"
        lines = cell.source.splitlines()
        for first, last in build.solution_regions(cell.source, "code", where=where):
            body = "\n".join(lines[first + 1:last]) + "\n"
            if body.strip():
                snippets.append(make_snippet(body, f"{where}, line {first + 2}"))
    return snippets


_TOKEN = re.compile(r"\w+|[^\w\s]")


def _similar(a: str, b: str, floor: float) -> float:
    """difflib's ratio of two dumps' tokens, or 0.0 as soon as its cheap upper bounds fall below ``floor``."""
    if not 0.8 <= len(a) / max(len(b), 1) <= 1.25:
        return 0.0
    matcher = difflib.SequenceMatcher(None, _TOKEN.findall(a), _TOKEN.findall(b), autojunk=False)
    if matcher.real_quick_ratio() < floor or matcher.quick_ratio() < floor:
        return 0.0
    return matcher.ratio()


def _cell_leaks(snippets: Sequence[Snippet], source: str, where: str, *, min_nodes: int, similarity: float) -> list[Leak]:
    found: list[Leak] = []
    tree = _parse(source)
    text = normalised_text(source)
    blocks = list(_blocks(tree)) if tree else []
    dumped = [[_dump(statement) for statement in block] for block in blocks]
    for snippet in snippets:
        if snippet.text and len(snippet.text) >= MIN_TEXT and snippet.text in text:
            found.append(Leak(snippet, where, "text", 1.0, snippet.source.strip().splitlines()[0]))
            continue
        if not snippet.dumps or snippet.nodes < min_nodes:
            continue
        want = "\n".join(snippet.dumps)
        width = len(snippet.dumps)
        best: tuple[float, ast.stmt] | None = None
        for block, dumps in zip(blocks, dumped):
            for start in range(0, len(dumps) - width + 1):
                got = "\n".join(dumps[start:start + width])
                score = 1.0 if got == want else _similar(got, want, similarity)
                if score >= similarity and (best is None or score > best[0]):
                    best = (score, block[start])
        if best is not None:
            kind = "syntax tree" if best[0] == 1.0 else "near copy"
            excerpt = ast.unparse(best[1]).splitlines()[0]
            found.append(Leak(snippet, where, kind, best[0], excerpt))
    return found


def find_leaks_in_sources(
    master_sources: Iterable[str],
    student_sources: Iterable[str],
    *,
    min_nodes: int = MIN_NODES,
    similarity: float = SIMILARITY,
) -> list[Leak]:
    """Leaks of the solution regions of ``master_sources`` (cell sources) in ``student_sources``.

    Example:
        >>> find_leaks_in_sources(["# BEGIN SOLUTION\\nx = 1\\n# END SOLUTION"], ["y = 2"])
        []
    """
    if isinstance(min_nodes, bool) or not isinstance(min_nodes, int) or min_nodes < 1:
        raise ValueError(f"min_nodes must be a positive integer, got {min_nodes!r}")
    if isinstance(similarity, bool) or not isinstance(similarity, (int, float)) or not 0 < similarity <= 1:
        raise ValueError(f"similarity must be a number in (0, 1], got {similarity!r}")
    master = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in master_sources])
    student = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in student_sources])
    return find_leaks(master, student, name="notebook", min_nodes=min_nodes, similarity=similarity)


def find_leaks(
    master: nbformat.NotebookNode,
    student: nbformat.NotebookNode,
    *,
    name: str = "notebook",
    min_nodes: int = MIN_NODES,
    similarity: float = SIMILARITY,
) -> list[Leak]:
    """Every place in ``student`` (code and markdown cells) that holds a solution region of ``master``.

    Markdown cells are compared as text (a hint that *is* the code), and their fenced
    code blocks by syntax tree too.

    Example:
        >>> leaks = find_leaks(nbformat.read("notebooks/02_perceptron.ipynb", 4),
        ...                    nbformat.read("notebooks/student/02_perceptron.ipynb", 4))  # doctest: +SKIP
    """
    snippets = solution_snippets(master, name)
    leaks: list[Leak] = []
    for index, cell in enumerate(student.cells):
        where = f"student {name}, cell {index}"
        if cell.cell_type == "code":
            leaks += _cell_leaks(snippets, cell.source, where, min_nodes=min_nodes, similarity=similarity)
        elif cell.cell_type == "markdown":
            fenced = re.findall(r"```(?:python|py)?\n(.*?)```", cell.source, flags=re.S)
            inline = re.findall(r"`([^`\n]+)`", cell.source)
            for code in fenced + ["\n".join(inline)]:
                leaks += _cell_leaks(snippets, code, where + " (markdown)", min_nodes=min_nodes, similarity=similarity)
    return leaks


def notebook_leaks(master_path: Path, student_path: Path | None = None) -> list[Leak]:
    """Leaks of one master's solutions in its student copy (default ``notebooks/student/<name>``).

    Example:
        >>> notebook_leaks(Path("notebooks/01_pixels.ipynb"))  # doctest: +SKIP
        []
    """
    master_path = Path(master_path)
    student_path = Path(student_path) if student_path is not None else build.STUDENT_DIR / master_path.name
    for path in (master_path, student_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist (run `make student` for the student copies)")
    return find_leaks(nbformat.read(master_path, as_version=4), nbformat.read(student_path, as_version=4),
                      name=master_path.name)


def _tokens(statements: Sequence[ast.stmt]) -> list[str]:
    erased = [_EraseNames().visit(copy.deepcopy(statement)) for statement in statements]
    return _TOKEN.findall("\n".join(ast.unparse(statement) for statement in erased))


def _grams(tokens: Sequence[str], k: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + k]) for i in range(len(tokens) - k + 1)}


def suspects(master: nbformat.NotebookNode, student: nbformat.NotebookNode, *, name: str = "notebook",
             threshold: float = 0.5, k: int = 5) -> list[tuple[float, str, str]]:
    """Functions and cells of ``student`` that share many name-erased token k-grams with a solution.

    Unlike :func:`find_leaks` this also scores *rewrites* (a reference implementation of
    the same algorithm written differently), so it is a list for a person to review, not a
    test: ``(containment, solution place, student place)`` with containment = the share of
    the solution's k-grams found in the student code, highest first.

    Example:
        >>> suspects(nbformat.v4.new_notebook(), nbformat.v4.new_notebook())
        []
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise ValueError(f"threshold must be a number in (0, 1], got {threshold!r}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"k must be an integer of at least 2, got {k!r}")
    units: list[tuple[str, set[tuple[str, ...]]]] = []
    for index, cell in enumerate(student.cells):
        tree = _parse(cell.source) if cell.cell_type == "code" else None
        if tree is None:
            continue
        units.append((f"student {name}, cell {index}", _grams(_tokens(tree.body), k)))
        units += [(f"student {name}, cell {index}, {node.name}", _grams(_tokens(node.body), k))
                  for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    found = []
    for snippet in solution_snippets(master, name):
        tree = _parse(snippet.source)
        grams = _grams(_tokens(tree.body), k) if tree else set()
        if len(grams) < 3 * k:
            continue
        best = max(((len(grams & unit) / len(grams), place) for place, unit in units), default=None)
        if best and best[0] >= threshold:
            found.append((round(best[0], 2), snippet.where, best[1]))
    return sorted(found, reverse=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m cvcourse.leaks [master ...]``: list the leaks of each master; non-zero if any.

    Example:
        >>> main(["notebooks/01_pixels.ipynb"])  # doctest: +SKIP
        01_pixels.ipynb: no leak
    """
    parser = argparse.ArgumentParser(prog="python -m cvcourse.leaks", description=__doc__.split("\n\n")[0])
    parser.add_argument("masters", nargs="*", type=Path)
    parser.add_argument("--suspects", type=float, metavar="SHARE", default=None,
                        help="also list code sharing at least SHARE of a solution's token 5-grams (rewrites; for review)")
    args = parser.parse_args(argv)
    total = 0
    for master in args.masters or build.masters():
        leaks = notebook_leaks(master)
        total += len(leaks)
        print(f"{Path(master).name}: " + (f"{len(leaks)} leak(s)" if leaks else "no leak"))
        for leak in leaks:
            print(f"  {leak.describe()}")
        if args.suspects is not None:
            nb_master = nbformat.read(master, as_version=4)
            nb_student = nbformat.read(build.STUDENT_DIR / Path(master).name, as_version=4)
            for share, solution, place in suspects(nb_master, nb_student, name=Path(master).name, threshold=args.suspects):
                print(f"  suspect {share:.2f}: {place} resembles the solution at {solution}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
