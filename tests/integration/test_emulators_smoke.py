"""The emulator fixtures give working, reachable emulators."""

from __future__ import annotations

import urllib.request


def test_firestore_emulator_answers(firestore_emulator):
    with urllib.request.urlopen(firestore_emulator.url + "/", timeout=5) as resp:
        assert resp.status == 200


def test_pubsub_emulator_answers(pubsub_emulator):
    with urllib.request.urlopen(pubsub_emulator.url + "/", timeout=5) as resp:
        assert resp.status == 200
