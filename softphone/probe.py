"""``softphone probe``: the preflight check of every configured region, as a table or JSON lines.

The network work is :mod:`softphone.rtc.probe`; this module only picks the
regions, prints, and sets the exit status (docs/protocol.md section 3):
0 when some region works, 1 when none does.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from softphone.config import Settings
from softphone.rtc.configuration import Configuration
from softphone.rtc.gathering import default_host_addresses
from softphone.rtc.probe import FoundCandidate, gather_regions, probe_regions, ranking
from softphone.rtc.server_check import UrlProbe

COLUMNS = ("region", "url", "transport", "ok", "rtt_ms", "loss", "allocate_ms", "relay", "error")
CANDIDATE_COLUMNS = ("region", "type", "protocol", "address", "port", "priority", "gather_ms")


def _regions(settings: Settings, only: str | None) -> dict[str, Configuration]:
    names = [only] if only else [region.name for region in settings.regions]
    return {name: settings.configuration_for(name) for name in names}


async def run_probe(args: argparse.Namespace, settings: Settings) -> int:
    """Probe, print on stdout, and return the exit status."""
    regions = _regions(settings, getattr(args, "region", None))
    if not regions:
        print("softphone: no regions configured: nothing to probe", file=sys.stderr)
        return 1
    hosts = list(settings.ice_host_addresses) or default_host_addresses()
    candidates: dict[str, list[FoundCandidate]] = {}
    if args.candidates:
        results, candidates = await asyncio.gather(
            probe_regions(regions, timeout=args.timeout),
            gather_regions(regions, hosts, args.timeout),
        )
    else:
        results = await probe_regions(regions, timeout=args.timeout)
    order = ranking(results)
    best = order[0] if order else None
    if args.json:
        _print_json(results, candidates, order, best, sys.stdout)
    else:
        _print_tables(results, candidates, order, best, sys.stdout)
    return 0 if best else 1


def _rows(results: Mapping[str, Sequence[UrlProbe]]) -> list[dict[str, Any]]:
    return [
        {"region": region, **dataclasses.asdict(probe)}
        for region, probes in results.items()
        for probe in probes
    ]


def _candidate_rows(candidates: Mapping[str, Sequence[FoundCandidate]]) -> list[dict[str, Any]]:
    return [
        {"region": region, **dataclasses.asdict(found)}
        for region, found_list in candidates.items()
        for found in found_list
    ]


def _print_json(
    results: Mapping[str, Sequence[UrlProbe]],
    candidates: Mapping[str, Sequence[FoundCandidate]],
    order: list[str],
    best: str | None,
    out: TextIO,
) -> None:
    for row in _rows(results):
        print(json.dumps({name: row[name] for name in COLUMNS}), file=out)
    for row in _candidate_rows(candidates):
        print(json.dumps({"candidate": row}), file=out)
    print(json.dumps({"ranking": order, "best": best}), file=out)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return str(value)


def _table(rows: list[dict[str, Any]], columns: Sequence[str], out: TextIO) -> None:
    cells = [[_cell(row[name]) for name in columns] for row in rows]
    widths = [max([len(name), *(len(line[i]) for line in cells)]) for i, name in enumerate(columns)]
    for line in [list(columns), *cells]:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip(), file=out)


def _print_tables(
    results: Mapping[str, Sequence[UrlProbe]],
    candidates: Mapping[str, Sequence[FoundCandidate]],
    order: list[str],
    best: str | None,
    out: TextIO,
) -> None:
    _table(_rows(results), COLUMNS, out)
    if candidates:
        print(file=out)
        _table(_candidate_rows(candidates), CANDIDATE_COLUMNS, out)
    print(file=out)
    print(f"ranking: {', '.join(order) or '(no region works)'}", file=out)
    print(f"best: {best or '-'}", file=out)
