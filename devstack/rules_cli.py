"""``./hub rules test``: which routing rule a message would match, and why (no hub needed: pure).

  ./hub rules test --channel whatsapp --tier vip --language it --text "parlerò con il mio avvocato"

Reads the configuration in force (``--config``, else ``$OMNIHUB_ROUTING_CONFIG``, else the shipped one)
and prints each rule tried in order with the first condition that failed, the rule that matched and
the decision. Exit status 0, or 2 when the configuration is invalid (the error names rule and field).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chalicelib.core.model import Channel
from chalicelib.routing import RoutingConfigError, RoutingFacts, explain, load_routing_config


def add_rules_parser(commands: Any) -> None:
    rules = commands.add_parser("rules", help="routing rules: try a message against them")
    actions = rules.add_subparsers(dest="rules_command", required=True)
    test = actions.add_parser("test", help="which rule would match a message, and why")
    test.add_argument("--channel", required=True, choices=[c.value for c in Channel])
    test.add_argument("--text", default="")
    test.add_argument("--tier", default="standard")
    test.add_argument("--language")
    test.add_argument("--tag", dest="tags", action="append", default=[], help="a customer tag (repeatable)")
    test.add_argument("--public", action="store_true", help="a public post or comment")
    test.add_argument("--subject", help="an email's subject")
    test.add_argument("--mailbox", help="the address an email was sent to")
    test.add_argument("--business-hours", choices=["yes", "no"], help="default: unknown")
    test.add_argument("--recent-conversations", type=int, help="the customer's conversations in the window")
    test.add_argument("--consent", choices=["granted", "withdrawn"])
    test.add_argument("--config", help="a routing file (default: $OMNIHUB_ROUTING_CONFIG or the shipped one)")
    test.set_defaults(func=cmd_rules_test)


def cmd_rules_test(args: argparse.Namespace) -> int:
    try:
        config = load_routing_config(args.config)
    except RoutingConfigError as err:
        print(f"invalid routing configuration: {err}", file=sys.stderr)
        return 2
    hours = None if args.business_hours is None else args.business_hours == "yes"
    facts = RoutingFacts(
        channel=args.channel, text=args.text, subject=args.subject, public=args.public, language=args.language,
        tier=args.tier, customer_tags=tuple(args.tags), mailbox=args.mailbox, business_hours=hours,
        recent_conversations=args.recent_conversations, consent=args.consent,
    )
    print(explain(config, facts))
    return 0
