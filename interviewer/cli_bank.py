"""Sub-commands of this group (being built)."""

import argparse


def register(sub: "argparse._SubParsersAction") -> None:
    return None
