"""Candidate generation: every operator on every node of every suspicious line, ranked by
suspiciousness x operator prior, deduplicated by the code they produce; two-edit combinations
built from the single edits that came closest."""

from __future__ import annotations

import ast
import itertools
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from .operators import DEFAULT_PRIORS, OPERATORS, Mutation
from .source import Edit, Source, apply_edits, overlapping

# A line that is not suspicious itself but belongs to a suspicious statement counts this much.
STATEMENT_SHARE = 0.9
# Two edits at once are less likely than one: their product is scaled by this.
COMBINATION_FACTOR = 0.5
# How many lines to mutate for `limit` candidates: limit / CANDIDATES_PER_LINE, at least MIN_LINES.
CANDIDATES_PER_LINE = 5
MIN_LINES = 40
# A line named by a traceback when coverage could not be measured.
TRACEBACK_WEIGHT = 0.5
UNMEASURED_SCORE = 0.3


@dataclass
class Candidate:
    id: int
    path: str
    mutations: tuple[Mutation, ...]
    text: str  # the whole new content of `path`
    score: float
    # How much it changes: characters removed plus written, beside what old and new share.
    size: int = 0

    @property
    def operator(self) -> str:
        return "+".join(m.operator for m in self.mutations)

    @property
    def description(self) -> str:
        return "; ".join(f"line {m.line}: {m.description}" for m in self.mutations)

    @property
    def risky(self) -> bool:
        return any(m.risky for m in self.mutations)

    @property
    def line(self) -> int:
        return self.mutations[0].line


@dataclass
class MutationSearch:
    """Generates ranked candidates. `priors` maps operator name to a prior in (0, 1]; the patterns
    app can pass learned ones, unknown operators fall back to DEFAULT_PRIORS."""

    priors: dict[str, float] = field(default_factory=dict)
    operators: dict = field(default_factory=lambda: dict(OPERATORS))
    _next_id: int = 0
    _seen: set[tuple[str, str]] = field(default_factory=set)

    def prior(self, operator: str) -> float:
        return self.priors.get(operator, DEFAULT_PRIORS.get(operator, 0.1))

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _accept(self, source: Source, edits: tuple[Edit, ...], text: str) -> bool:
        """Keep a candidate only once per resulting code, never the original, never unparsable.
        Only the top-level statement holding the edits is parsed again: files can be long."""
        if text == source.text or (source.path, text) in self._seen:
            return False
        self._seen.add((source.path, text))
        start, end = min(e.start for e in edits), max(e.end for e in edits)
        for first, last in source.top_level_spans():
            if first <= start and end <= last:
                shifted = [Edit(e.start - first, e.end - first, e.text) for e in edits]
                snippet = apply_edits(source.text[first:last], shifted)
                break
        else:
            snippet = text
        try:
            ast.parse(snippet)
        except (SyntaxError, ValueError):
            return False
        return True

    def singles(
        self, files: dict[str, str], suspicious: dict[tuple[str, int], float], limit: int
    ) -> list[Candidate]:
        """Single-edit candidates on the suspicious lines, best first, at most `limit`. Only the
        most suspicious lines are mutated (a line gives a dozen candidates or so): a large
        project's failing tests may run thousands."""
        found: list[Candidate] = []
        ranked = sorted(
            (item for item in suspicious.items() if item[0][0] in files and item[1] > 0),
            key=lambda item: (-item[1], item[0]),
        )
        by_path: dict[str, dict[int, float]] = {}
        for (path, line), score in ranked[: max(MIN_LINES, limit // CANDIDATES_PER_LINE)]:
            by_path.setdefault(path, {})[line] = score
        for path, lines in sorted(by_path.items()):
            source = Source(path, files[path])
            for node, score in self._sites(source, lines):
                for name, operator in self.operators.items():
                    weight = score * self.prior(name)
                    for mutation in operator(source, node):
                        text = apply_edits(source.text, mutation.edits)
                        if self._accept(source, mutation.edits, text):
                            size = changed_characters(source.text, mutation.edits)
                            found.append(
                                Candidate(self._new_id(), path, (mutation,), text, weight, size)
                            )
        found.sort(key=lambda c: -c.score)
        return found[:limit]

    def _sites(self, source: Source, lines: dict[int, float]) -> Iterable[tuple[ast.AST, float]]:
        skipped = _annotation_nodes(source.tree)
        for node in ast.walk(source.tree):
            if not hasattr(node, "lineno") or id(node) in skipped:
                continue
            if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.ClassDef):
                continue
            score = lines.get(node.lineno, 0.0)
            statement = source.statement_of(node)
            if not score and statement is not None and statement is not node:
                score = STATEMENT_SHARE * lines.get(statement.lineno, 0.0)
            if score > 0:
                yield node, score

    def combinations(
        self,
        files: dict[str, str],
        tried: list[Candidate],
        progress: dict[int, int],
        limit: int,
    ) -> list[Candidate]:
        """Two-edit candidates, for when no single edit passes: pairs among the edits that made
        progress and the best-ranked ones, and edits by the same operator in two places (the
        same mistake made twice)."""
        singles = [c for c in tried if len(c.mutations) == 1]
        partial = sorted(
            (c for c in singles if progress.get(c.id, 0) > 0),
            key=lambda c: (-progress[c.id], -c.score, c.id),
        )[:40]
        best = sorted(singles, key=lambda c: (-c.score, c.id))[:30]
        pool = list({c.id: c for c in partial + best}.values())
        pairs = [
            (self._pair_weight(a, b, progress), a, b) for a, b in itertools.combinations(pool, 2)
        ]
        same_operator = _same_operator_pairs(singles, {c.id for c in pool})
        pairs += [(self._pair_weight(a, b, progress), a, b) for a, b in same_operator]
        return self._build_pairs(files, pairs, limit)

    @staticmethod
    def _pair_weight(a: Candidate, b: Candidate, progress: dict[int, int]) -> float:
        weight = a.score * b.score * COMBINATION_FACTOR
        weight *= 1 + progress.get(a.id, 0) + progress.get(b.id, 0)
        if a.operator == b.operator:
            weight *= 2
        return weight

    def _build_pairs(
        self, files: dict[str, str], pairs: list[tuple[float, Candidate, Candidate]], limit: int
    ) -> list[Candidate]:
        pairs.sort(key=lambda p: (-p[0], p[1].id, p[2].id))
        found: list[Candidate] = []
        sources: dict[str, Source] = {}
        for weight, a, b in pairs:
            if len(found) >= limit:
                break
            if a.path != b.path:
                continue
            edits = tuple(e for m in a.mutations + b.mutations for e in m.edits)
            if overlapping(a.mutations[0].edits, b.mutations[0].edits):
                continue
            text = apply_edits(files[a.path], edits)
            if a.path not in sources:
                sources[a.path] = Source(a.path, files[a.path])
            if self._accept(sources[a.path], edits, text):
                mutations = a.mutations + b.mutations
                size = a.size + b.size
                found.append(Candidate(self._new_id(), a.path, mutations, text, weight, size))
        return found


def changed_characters(original: str, edits: tuple[Edit, ...]) -> int:
    """Characters removed plus written by `edits`, beside what old and new text share at both
    ends (`range(1, n)` to `range(n)` changes 3 characters, not 25)."""
    total = 0
    for edit in edits:
        old, new = original[edit.start : edit.end], edit.text
        prefix = len(os.path.commonprefix([old, new]))
        old, new = old[prefix:], new[prefix:]
        suffix = len(os.path.commonprefix([old[::-1], new[::-1]]))
        total += len(old) - suffix + len(new) - suffix
    return total


def target_suspiciousness(
    suspicious: dict[tuple[str, int], float],
    extra_lines: list[tuple[str, int]],
    files: dict[str, str],
) -> dict[tuple[str, int], float]:
    """Suspiciousness restricted to the files that may change, with the lines named by
    tracebacks (collection errors, command output) added; when nothing was measured, every
    statement line of those files, equally."""
    scores = {line: s for line, s in suspicious.items() if line[0] in files}
    for line in extra_lines:
        if line[0] in files:
            scores[line] = min(1.0, scores.get(line, 0.0) + TRACEBACK_WEIGHT)
    if scores:
        return scores
    for path, text in files.items():
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.stmt) and not isinstance(node, ast.FunctionDef | ast.ClassDef):
                scores[(path, node.lineno)] = UNMEASURED_SCORE
    return scores


def best_first(
    plausible: list[Candidate], covered: set[tuple[str, int]] | frozenset = frozenset()
) -> list[Candidate]:
    """Order plausible patches: single edits before pairs; then those that neither delete
    behaviour nor weaken a condition on a line no test runs (`covered`: the lines some test
    executed; what the tests run, they vouch for); then the most likely (score); then the
    smallest change."""

    def unvouched(candidate: Candidate) -> bool:
        return any(m.risky and (candidate.path, m.line) not in covered for m in candidate.mutations)

    return sorted(plausible, key=lambda c: (len(c.mutations), unvouched(c), -c.score, c.size, c.id))


def covered_lines(records: list[dict]) -> set[tuple[str, int]]:
    """Every (path, line) some test executed, from the zygote's coverage records."""
    covered = set()
    for record in records:
        if record.get("kind") == "test":
            for segment in record.get("segments", []):
                for path, numbers in (segment.get("lines") or {}).items():
                    covered.update((str(path), int(n)) for n in numbers)
    return covered


def _same_operator_pairs(tried: list[Candidate], excluded: set[int]):
    """Pairs of edits by the same operator on two different lines: the same mistake twice."""
    by_operator: dict[tuple[str, str], list[Candidate]] = {}
    for candidate in tried:
        if candidate.id in excluded or len(candidate.mutations) != 1:
            continue
        by_operator.setdefault((candidate.path, candidate.operator), []).append(candidate)
    for group in by_operator.values():
        group = sorted(group, key=lambda c: -c.score)[:8]
        for a, b in itertools.combinations(group, 2):
            if a.line != b.line and not overlapping(a.mutations[0].edits, b.mutations[0].edits):
                yield a, b


def _annotation_nodes(tree: ast.Module) -> set[int]:
    """ids of nodes inside type annotations and decorators: not worth mutating."""
    roots = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            roots.extend(node.decorator_list)
            if node.returns is not None:
                roots.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            roots.append(node.annotation)
        elif isinstance(node, ast.ClassDef):
            roots.extend(node.decorator_list)
    return {id(n) for root in roots for n in ast.walk(root)}
