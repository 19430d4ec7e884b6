"""The record: an append-only, hash-chained log of every commit-to-cluster action.

Store, index and folded state; anchors; provenance; governance facts; evidence
of what disappeared and why; redaction; history and review reports. It speaks
in the shared values (`changes`, `refs`), never in the engine's types, so the
record can be read and verified without the engine.
"""
