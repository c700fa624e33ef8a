"""The latency table the gateway benchmarks (audit.sh, scan/overhead.sh, build-profile.sh)
share.

Each load point is one fixed-rate run of one variant; a benchmark runs every variant at
every rate in interleaved rounds (off, on, off, on, ...), so slow drifts of a shared
machine hit all variants alike. The table has one row per (rate, variant): the median
p50 and p99 over the rounds, and the added p50 against the baseline variant (`off` unless
the caller names another), taken as the median of the per-round differences (each
difference compares two runs made a few seconds apart), with the rounds' differences
listed beside it."""

from statistics import median


def _groups(points: list[dict]) -> dict[tuple[int, str], list[dict]]:
    groups: dict[tuple[int, str], list[dict]] = {}
    for p in points:
        groups.setdefault((p["rate"], p["variant"]), []).append(p)
    return groups


def _added(groups: dict, rate: int, variant: str, runs: list[dict], baseline: str, key: str) -> tuple[str, str]:
    """The added `key` against the baseline run of the same round, in ms: the median
    of the per-round differences, and the differences listed (empty for one round)."""
    base = {p.get("round", 1): p for p in groups.get((rate, baseline), [])}
    diffs = [
        (p[key] - base[p.get("round", 1)][key]) / 1000
        for p in runs
        if variant != baseline and p.get("round", 1) in base and p.get(key) is not None
        and base[p.get("round", 1)].get(key) is not None
    ]
    rounds = len({p.get("round", 1) for runs in groups.values() for p in runs})
    added = f"{median(diffs):+.3f}" if diffs else ""
    per_round = ", ".join(f"{d:+.3f}" for d in diffs) if rounds > 1 else ""
    return added, per_round


def latency_table(points: list[dict], variant_header: str, baseline: str = "off") -> list[str]:
    """Markdown lines: header, separator, one row per (rate, variant) in first-seen order;
    differences against the `baseline` variant."""
    lines = [
        f"| rate (req/s) | {variant_header} | p50 (ms) | p99 (ms) | added p50 vs {baseline} (ms) | per round | errors |",
        "|---:|---|---:|---:|---:|---|---:|",
    ]
    groups = _groups(points)
    for (rate, variant), runs in groups.items():
        added, per_round = _added(groups, rate, variant, runs, baseline, "p50_us")
        p50 = median(p["p50_us"] for p in runs) / 1000
        p99 = median(p["p99_us"] for p in runs) / 1000
        errors = sum(p["errors"] or 0 for p in runs)
        lines.append(f"| {rate:,} | {variant} | {p50:.3f} | {p99:.3f} | {added} | {per_round} | {errors} |")
    return lines


def overhead_table(points: list[dict], variant_header: str, baseline: str = "off") -> list[str]:
    """Markdown lines for the gateway's own time (`overhead_p50_us`, the p50 of its
    `x-palisade-overhead-ms` header: total minus the upstream's time, measured inside
    the gateway), like [`latency_table`]: median over the rounds, and the median of the
    per-round differences against `baseline`."""
    lines = [
        f"| rate (req/s) | {variant_header} | gateway overhead p50 (ms) | added vs {baseline} (ms) | per round |",
        "|---:|---|---:|---:|---|",
    ]
    groups = _groups(points)
    for (rate, variant), runs in groups.items():
        values = [p["overhead_p50_us"] for p in runs if p.get("overhead_p50_us") is not None]
        if not values:
            continue
        added, per_round = _added(groups, rate, variant, runs, baseline, "overhead_p50_us")
        lines.append(f"| {rate:,} | {variant} | {median(values) / 1000:.3f} | {added} | {per_round} |")
    return lines
