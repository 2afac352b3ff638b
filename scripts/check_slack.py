#!/usr/bin/env python3
"""Checks Slack message payloads (JSON files, each {"text", "blocks"}) against Slack's own Block
Kit models (slack_sdk): every block must parse into its model and pass the model's validation
(a header's 150 characters, a section's 3,000, at most 10 fields of 2,000 each, ...), and a
message may hold at most 50 blocks.

    scripts/check_slack.py payload.json ...
"""
import json
import sys

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

MAX_BLOCKS = 50


def problems(path):
    with open(path) as f:
        payload = json.load(f)
    out = []
    blocks = payload.get("blocks", [])
    if len(blocks) > MAX_BLOCKS:
        out.append(f"{path}: {len(blocks)} blocks (Slack takes at most {MAX_BLOCKS})")
    if not isinstance(payload.get("text"), str) or not payload["text"]:
        out.append(f"{path}: no fallback text")
    for i, raw in enumerate(blocks):
        try:
            block = Block.parse(raw)
            if block is None or type(block) is Block:
                out.append(f"{path}: block {i}: not a known block type: {raw.get('type')!r}")
                continue
            block.validate_json()
        except SlackObjectFormationError as e:
            out.append(f"{path}: block {i} ({raw.get('type')}): {e}")
            continue
        # What the model keeps must be what was sent: a dropped key is an unknown one.
        if block.to_dict() != raw:
            out.append(f"{path}: block {i} ({raw.get('type')}): the model does not keep it as sent")
    return out


def main(paths):
    found = [p for path in paths for p in problems(path)]
    for p in found:
        print(p)
    print(f"{len(paths)} payload(s) checked, {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
