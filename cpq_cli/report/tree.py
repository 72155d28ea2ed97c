"""A tree of styled text, rendered by Rich on a terminal and as plain guides when piped.

Piped output cannot show styles, and Rich's console costs ~25 ms to import: a rep's
`cpq preview` in a script or a CI log should not pay for colour it cannot use.
A test keeps the two renderings identical, character for character.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.tree import Tree

Segment = tuple[str, str]  # (text, Rich style, "" for none)
Part = Segment | str


class Node:
    __slots__ = ("children", "label")

    def __init__(self, *label: Part) -> None:
        self.label: list[Segment] = [p if isinstance(p, tuple) else (p, "") for p in label]
        self.children: list[Node] = []

    def add(self, *label: Part) -> Node:
        child = Node(*label)
        self.children.append(child)
        return child

    @property
    def text(self) -> str:
        return "".join(text for text, _ in self.label)


def render_plain(root: Node) -> str:
    lines = root.text.split("\n")

    def walk(node: Node, prefix: str) -> None:
        for i, child in enumerate(node.children):
            last = i == len(node.children) - 1
            first, *rest = child.text.split("\n")
            lines.append(prefix + ("└── " if last else "├── ") + first)
            inner = prefix + ("    " if last else "│   ")
            lines.extend(inner + line for line in rest)
            walk(child, inner)

    walk(root, "")
    return "\n".join(lines) + "\n"


def to_rich(root: Node) -> Tree:
    from rich.text import Text
    from rich.tree import Tree

    def text(node: Node) -> Text:
        out = Text()
        for content, style in node.label:
            out.append(content, style=style or None)
        return out

    def walk(node: Node, into: Tree) -> None:
        for child in node.children:
            walk(child, into.add(text(child)))

    tree = Tree(text(root), guide_style="dim")
    walk(root, tree)
    return tree
