"""The dev stack's setup of moto's expressions: what an update or a condition costs, never what it does.

Every UpdateItem the hub sends (the KPI counters, the SLA clocks, the routing, the customer's
record: eight per new customer's message) goes through moto's expression machinery:

- the tokenizer and parser build a tree from the expression's text;
- the validator deep-copies that tree, then walks it ten times (one ``DepthFirstTraverser`` per
  check: action counts, overlapping paths, key attributes, values, names, functions, missing paths,
  the arithmetic, types, empty keys), and the update's executor finds its clauses in it.

Profiled on the pump draining new customers' messages in process (py-spy), the ten walks were 14 %
of the pump's time, and most of a walk was not its checks: at every node of the tree (about 400 for
a KPI update), each walk rebuilt its processing map (a dict) to ask whether the node concerns it,
and asked ``isinstance`` against moto's abstract node classes (``ABCMeta.__instancecheck__``, 2.8
million calls for 200 messages); ``find_clauses`` asked it again. What changed:

- each expression's text is parsed once and kept (read only: the validator works on its copy), and
  that copy is a pickle round trip (0.08 ms instead of 0.21 for the KPI update's tree of the time, with SET);
- a walk asks which node classes concern it once per walk (moto's maps are fixed per class), and
  remembers per node class whether a node of that class is a node, concerns this check, or holds
  clauses (``isinstance`` of a class against an abstract class does not change while the process
  runs: moto registers no virtual subclass). The nodes are visited in moto's order, each check runs
  on the same nodes, and a replaced node takes its place in its parent as moto does.

A condition expression (every conditional write: the hub's exactly-once writes) is parsed twice per
call, and half of a parse was splitting the text into tokens: each text is split once and kept.

Tests run each update and each condition through moto's own code and through these, and compare
the item, the answer and the refusal.

Upstream (moto): ``DepthFirstTraverser.nodes_to_be_processed`` says it is cached and is not; the
walk could compute it once, and the abstract classes' ``isinstance`` could be a class attribute.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

moto_traverse: Callable[..., Any] | None = None  # moto's own walk, kept for the test that compares both
moto_find_clauses: Callable[..., Any] | None = None
moto_lex_condition: Callable[..., Any] | None = None


def tune_update_expressions() -> None:
    """Apply the expression tunings (called once, by devstack.moto_dynamodb_tuning.tune_dynamodb)."""
    _parse_each_expression_once()
    _walk_with_known_classes()
    _lex_each_condition_once()


def _lex_each_condition_once() -> None:
    """A condition expression is parsed twice per call (the handler's check of the names and values it
    uses, then the backend's), and each parse starts by splitting the text into tokens, trying a dozen
    regular expressions at every position: half of a parse. The tokens are a pure function of the
    text (immutable tuples, never changed by the later steps): each text is split once and kept."""
    from collections import deque
    from functools import lru_cache

    from moto.dynamodb.comparisons import ConditionExpressionParser

    global moto_lex_condition
    lex = moto_lex_condition = ConditionExpressionParser._lex_condition_expression

    @lru_cache(maxsize=1024)
    def tokens(expression: str) -> tuple[Any, ...]:
        return tuple(lex(ConditionExpressionParser(expression, None, None)))

    def _lex_condition_expression(parser: Any) -> Any:
        return deque(tokens(parser.condition_expression))

    ConditionExpressionParser._lex_condition_expression = _lex_condition_expression  # type: ignore[method-assign,assignment]


def _parse_each_expression_once() -> None:
    import copy as real_copy
    import pickle
    from functools import lru_cache

    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    parse: Callable[[str], Any] = UpdateExpressionParser.make
    UpdateExpressionParser.make = lru_cache(maxsize=1024)(parse)

    def copy_tree(tree: Any, memo: Any = None) -> Any:
        try:
            return pickle.loads(pickle.dumps(tree, pickle.HIGHEST_PROTOCOL))  # noqa: S301 - our own tree
        except Exception:  # a node pickle cannot take: moto's own way
            return real_copy.deepcopy(tree, memo)

    validators.deepcopy = copy_tree  # type: ignore[assignment]


def _walk_with_known_classes() -> None:
    import importlib

    ast_nodes: Any = importlib.import_module("moto.dynamodb.parsing.ast_nodes")  # untyped (``# type: ignore``)

    global moto_traverse, moto_find_clauses
    traverser = ast_nodes.DepthFirstTraverser
    moto_traverse = traverser.traverse_node_recursively
    moto_find_clauses = ast_nodes.Node.find_clauses
    node_class, expression_class = ast_nodes.Node, ast_nodes.Expression
    function_class = ast_nodes.UpdateExpressionFunction
    is_node: dict[type, bool] = {}
    concerns: dict[tuple[type, type], bool] = {}
    holds_clauses: dict[type, bool] = {}
    no_hook = traverser.pre_processing_of_child

    def traverse_node_recursively(walk: Any, root: Any, root_child_id: int = -1) -> Any:
        """moto's depth-first walk, children first then the node, each processed node put in its parent."""
        walk_class = type(walk)
        kinds = walk.nodes_to_be_processed()
        hook = None if walk_class.pre_processing_of_child is no_hook else walk.pre_processing_of_child

        def visit(node: Any, child_id: int) -> Any:
            cls = type(node)
            known = is_node.get(cls)
            if known is None:
                known = is_node[cls] = isinstance(node, node_class)
            if not known:
                return node
            parent = node.parent
            if node.children is not None:
                for index, child in enumerate(node.children):
                    if hook is not None:
                        hook(node, index)
                    visit(child, index)
            applies = concerns.get((walk_class, cls))
            if applies is None:
                applies = concerns[(walk_class, cls)] = isinstance(node, kinds)
            if applies:
                node = walk.process(node)
                node.parent = parent
                if parent:
                    parent.children[child_id] = node
            return node

        return visit(root, root_child_id)

    def find_clauses(node: Any, clause_types: Any) -> list[Any]:
        clauses: list[Any] = []
        for child in node.children or []:
            cls = type(child)
            if cls in clause_types:
                clauses.append(child)
                continue
            inside = holds_clauses.get(cls)
            if inside is None:
                inside = holds_clauses[cls] = isinstance(child, expression_class | function_class)
            if inside:
                clauses.extend(child.find_clauses(clause_types))
        return clauses

    traverser.traverse_node_recursively = traverse_node_recursively
    ast_nodes.Node.find_clauses = find_clauses
