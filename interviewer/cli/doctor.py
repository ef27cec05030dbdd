"""`python -m interviewer doctor`: is the configured model reachable, and what does it accept?"""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check the configured model with one tiny request: reachable, model found, "
                                      "structured-output mode, first-token latency, or why not")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run_doctor)


def run_doctor(args: argparse.Namespace, out=None) -> int:
    from interviewer.service import Settings, check_model

    out = out or sys.stdout
    settings = Settings.from_env()
    if not settings.use_llm:
        message = ("no model configured: Mianshi runs offline. Set OPENAI_API_KEY and/or OPENAI_BASE_URL "
                   "(docs/llm.md) to use one.")
        out.write(json.dumps({"ok": None, "reason": message}) + "\n" if args.json else message + "\n")
        return 0
    result = check_model(settings)
    if args.json:
        out.write(json.dumps(result.as_dict(), ensure_ascii=False) + "\n")
    else:
        out.write("\n".join(result.lines()) + "\n")
    return 0 if result.ok else 1
