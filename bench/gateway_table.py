"""The latency table the gateway benchmarks (audit.sh, scan/overhead.sh) share: one row
per (rate, variant) load point, with the p50 added against the `off` variant at the same
rate."""


def latency_table(points: list[dict], variant_header: str) -> list[str]:
    """Markdown lines: header, separator, one row per load point in the order given."""
    lines = [
        f"| rate (req/s) | {variant_header} | p50 (ms) | p99 (ms) | added p50 vs off (ms) | errors |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    base = {p["rate"]: p for p in points if p["variant"] == "off"}
    for p in points:
        off = base.get(p["rate"])
        added = "" if p["variant"] == "off" or not off else f"{(p['p50_us'] - off['p50_us']) / 1000:+.3f}"
        lines.append(
            f"| {p['rate']:,} | {p['variant']} | {p['p50_us'] / 1000:.3f} | {p['p99_us'] / 1000:.3f} | {added} | {p['errors']} |"
        )
    return lines
