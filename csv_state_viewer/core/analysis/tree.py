"""The tree of tensors a viewer shows: one root per open state, grouped by name scope.

Names are split on ``/`` into scopes (``sequential/dense/kernel`` → ``sequential`` →
``dense`` → ``kernel``). An optimizer slot whose metadata names the variable it belongs
to (``slot_of``) hangs under that variable's node, labelled by its slot (``momentum``);
slots of variables the state lacks stay in their own scope. Bad rows keep their place
(a nameless one is labelled by its line); a tensor's error is asked of its state, which
records bad rows and the bad data reads meet, so the tree holds no copy of it.

The tree is plain Python: Qt models adapt it, the CLI could print it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass, field

from csv_state_viewer.core.analysis.roles import is_optimizer_state, is_parameter, kind_of
from csv_state_viewer.core.state import State, TensorEntry

FILE = "file"
GROUP = "group"
TENSOR = "tensor"


@dataclass(eq=False)
class Node:
    """A file, a name scope or a tensor. Tensor nodes may have slot children."""

    kind: str
    label: str
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    entry: TensorEntry | None = None
    state: State | None = None
    slot: str | None = None  # for an optimizer slot under its variable: "momentum", ...
    position: int = 0  # index among the parent's children, kept by add()

    @property
    def name(self) -> str:
        """A tensor's full name; a scope's path; a file's path."""
        if self.entry is not None:
            return self.entry.name
        if self.kind == FILE:
            return self.state.path if self.state is not None else self.label
        parts = []
        node: Node | None = self
        while node is not None and node.kind == GROUP:
            parts.append(node.label)
            node = node.parent
        return "/".join(reversed(parts))

    @property
    def error(self) -> str | None:
        """A tensor's problem: its bad row, or bad data a read met (any thread)."""
        if self.entry is None:
            return None
        if self.state is None:
            return self.entry.error
        problem = self.state.problem_of(self.entry)
        return problem.message if problem is not None else None

    @property
    def row(self) -> int:
        """Position among the parent's children (0 for roots)."""
        return self.position if self.parent is not None else 0

    def root(self) -> Node:
        node = self
        while node.parent is not None:
            node = node.parent
        return node

    def add(self, child: Node) -> Node:
        child.parent = self
        child.position = len(self.children)
        self.children.append(child)
        return child

    def tensors(self) -> Iterator[Node]:
        """This node (if a tensor) and every tensor below it, in tree order."""
        if self.kind == TENSOR:
            yield self
        for child in self.children:
            yield from child.tensors()

    def find(self, name: str) -> Node | None:
        """The tensor node of ``name`` below this node, or None."""
        return next((n for n in self.tensors() if n.name == name), None)


@dataclass(frozen=True)
class Totals:
    """Aggregated counts of a file or scope node (sizes of good tensors only).

    Model parameters and optimizer state are counted apart (see
    :mod:`~csv_state_viewer.core.analysis.roles`): ``parameters`` is what Keras's
    ``model.count_params()`` says, ``optimizer_state`` the elements its optimizer keeps.
    """

    tensors: int
    parameters: int  # elements of the model's parameters (weights)
    nbytes: int
    errors: int  # bad rows
    optimizer_tensors: int  # slots and optimizer scalars
    optimizer_state: int = 0  # their elements
    parameter_tensors: int = 0
    other: int = 0  # elements of the rest: counters, RNG state


def bad_row_count(state: State) -> int:
    """The number of bad rows of ``state`` known so far: one per problem it recorded
    (found when indexing, or by a read). The one count every front end shows."""
    return len(state.errors)


def totals(node: Node) -> Totals:
    tensors = parameters = nbytes = errors = optimizer = optimizer_state = weights = other = 0
    for leaf in node.tensors():
        tensors += 1
        if leaf.error is not None:
            errors += 1  # a bad row's declared shape is not to be trusted: not counted
        elif leaf.entry is not None:
            nbytes += leaf.entry.nbytes
            kind = kind_of(leaf.entry)
            if is_parameter(kind):
                weights += 1
                parameters += leaf.entry.size
            elif is_optimizer_state(kind):
                optimizer += 1
                optimizer_state += leaf.entry.size
            else:
                other += leaf.entry.size
    if node.kind == FILE and node.state is not None and node.parent is None:
        errors = max(errors, bad_row_count(node.state))
    return Totals(tensors, parameters, nbytes, errors, optimizer, optimizer_state, weights, other)


def build_tree(state: State, label: str | None = None) -> Node:
    """The tree of ``state``: a file node whose descendants are its scopes and tensors."""
    root = Node(FILE, label or state.path, state=state)
    scopes: dict[tuple[str, ...], Node] = {(): root}
    variables: dict[str, Node] = {}
    slots: list[Node] = []

    def scope(parts: tuple[str, ...]) -> Node:
        node = scopes.get(parts)
        if node is None:
            node = scope(parts[:-1]).add(Node(GROUP, parts[-1], state=state))
            scopes[parts] = node
        return node

    for entry in state.entries:
        node = Node(TENSOR, entry.name, entry=entry, state=state)
        owner = entry.metadata.get("slot_of") if entry.ok else None
        if isinstance(owner, str) and owner:
            node.slot = str(entry.metadata.get("slot") or entry.name.rsplit("/", 1)[-1])
            slots.append(node)
            continue
        parts = tuple(p for p in entry.name.split("/") if p) if entry.name else ()
        if not parts:
            where = f"line {entry.line}" if entry.line is not None else "no name"
            node.label = entry.name or f"({where})"
            root.add(node)
            continue
        node.label = parts[-1]
        scope(parts[:-1]).add(node)
        variables.setdefault(entry.name, node)

    for node in slots:
        assert node.entry is not None
        owner_node = variables.get(str(node.entry.metadata["slot_of"]))
        if owner_node is not None:
            node.label = node.slot or node.label
            owner_node.add(node)
        else:
            parts = tuple(p for p in node.entry.name.split("/") if p)
            node.label = parts[-1] if parts else node.entry.name
            scope(parts[:-1]).add(node)
    return root


def name_matches(name: str, pattern: str) -> bool:
    """Filter test of the viewer: a glob when ``pattern`` has ``*?[``, else a substring.

    Case-insensitive; a glob matches the whole name or any ``/``-suffix of it, so
    ``*kernel`` and ``dense*/kernel`` both find ``sequential/dense/kernel``.
    """
    pattern = pattern.strip().lower()
    if not pattern:
        return True
    name = name.lower()
    if not any(c in pattern for c in "*?["):
        return pattern in name
    parts = name.split("/")
    return any(fnmatch.fnmatchcase("/".join(parts[i:]), pattern) for i in range(len(parts)))
