"""Redaction benchmark: per-entity precision, recall and leak on the seeded labelled corpus, hard negatives
flagged, and throughput beside Presidio (pattern recognisers + a blank spaCy pipeline) in the same run.

    .venv/bin/python bench/redaction.py [--samples 3000] [--seed 7] [--presidio-samples 300] [--markdown]
    .venv/bin/python bench/redaction.py --pipeline [--spans 4096] [--rounds 5]

``--pipeline`` measures the ingest ``redact`` step instead: microseconds per span of ``Redact`` over spans decoded
from the ingest benchmark's OTLP requests (``bench/_workload.py``); decoding is not timed.

Recall counts a planted value as found when at least half of its characters are covered by findings of any type
(what matters for redaction is that the text is gone); leak is the share of planted characters left in clear.
Precision counts a finding as right when it overlaps a planted value. Times are the process's CPU time (one core),
so other work on a shared machine does not count against either side; compare ratios from the same run. Presidio
is optional (``pip install 'watchkeeper[bench]'``); without it that column is skipped.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from typing import Any

from watchkeeper.privacy import SECRET_TYPES, make_redactor, redact_record
from watchkeeper.privacy.corpus import generate


def _covered(start: int, end: int, preds: list[tuple[int, int]]) -> int:
    n = 0
    for s, e in preds:
        lo, hi = max(s, start), min(e, end)
        if lo < hi:
            n += hi - lo
    return n


def evaluate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    redactor = make_redactor()
    gold = Counter[str]()
    found = Counter[str]()
    chars = Counter[str]()
    leaked = Counter[str]()
    pred_total = Counter[str]()
    pred_ok = Counter[str]()
    neg_total = Counter[str]()
    neg_hit = Counter[str]()
    nbytes = 0
    t0 = time.process_time()
    outputs = []
    for s in samples:
        outputs.append(redact_record(redactor, s["text"])[1])
        nbytes += len(s["text"].encode("utf-8"))
    elapsed = time.process_time() - t0
    for s, spans in zip(samples, outputs, strict=True):
        preds = [(p["start"], p["end"]) for p in spans]
        for g in s["spans"]:
            n = g["end"] - g["start"]
            cov = _covered(g["start"], g["end"], preds)
            gold[g["type"]] += 1
            chars[g["type"]] += n
            leaked[g["type"]] += n - cov
            if cov * 2 >= n:
                found[g["type"]] += 1
        golds = [(g["start"], g["end"]) for g in s["spans"]]
        for p in spans:
            pred_total[p["type"]] += 1
            if _covered(p["start"], p["end"], golds):
                pred_ok[p["type"]] += 1
        for ng in s["negatives"]:
            neg_total[ng["kind"]] += 1
            if _covered(ng["start"], ng["end"], preds):
                neg_hit[ng["kind"]] += 1
    return {
        "gold": gold,
        "found": found,
        "chars": chars,
        "leaked": leaked,
        "pred_total": pred_total,
        "pred_ok": pred_ok,
        "neg_total": neg_total,
        "neg_hit": neg_hit,
        "mb_s": nbytes / elapsed / 1e6,
        "bytes": nbytes,
    }


def presidio_speed(samples: list[dict[str, Any]]) -> float | None:
    """MB/s of Presidio's analyzer (built-in pattern recognisers, blank spaCy 'en') on the same texts, or None."""
    try:
        import spacy
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
    except ImportError:
        return None

    import logging

    # Presidio's e-mail/URL recognisers use tldextract, which tries to download the public suffix list and falls
    # back to its bundled copy; without network that is a long logged traceback per run, not an error.
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)

    class BlankSpacy(SpacyNlpEngine):  # no spaCy model can be downloaded here: a blank pipeline
        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en")}

    engine = BlankSpacy(models=[{"lang_code": "en", "model_name": "blank"}])
    engine.load()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(languages=["en"])
    analyzer = AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])
    analyzer.analyze(text="warm up john@acme.io", language="en")
    nbytes = 0
    t0 = time.process_time()
    for s in samples:
        analyzer.analyze(text=s["text"], language="en")
        nbytes += len(s["text"].encode("utf-8"))
    return nbytes / (time.process_time() - t0) / 1e6


def pipeline_us_per_span(spans: int = 4096, rounds: int = 5, seed: int = 0) -> float:
    """Best-of-``rounds`` microseconds per span of the ingest ``Redact`` processor on the ingest workload."""
    import os

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _workload import requests
    from watchkeeper.ingest.otlp import decode_otlp
    from watchkeeper.pipeline._batch import Batch, Context
    from watchkeeper.pipeline.redact import Redact

    bodies = [body for body, _n in requests(spans, batch=512, seed=seed)]
    redact = Redact()
    ctx = Context(project_id=1, source="bench", received_ns=time.time_ns())
    best = float("inf")
    for _ in range(rounds + 1):  # the first round warms the engine and the trace-state cache up
        batches = [Batch(spans=decode_otlp(b, "application/x-protobuf")) for b in bodies]
        n = sum(len(b.spans) for b in batches)
        t0 = time.process_time()
        for b in batches:
            redact(ctx, b)
        best = min(best, (time.process_time() - t0) / n * 1e6)
    return best


def report(r: dict[str, Any], presidio: float | None, args: argparse.Namespace) -> str:
    lines = [
        f"Corpus: {args.samples} samples, seed {args.seed}, {r['bytes'] / 1e6:.2f} MB (`watchkeeper.privacy.corpus`).",
        "",
        "| entity | planted | recall | leak (chars) | findings | precision |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    types = sorted(set(r["gold"]) | set(r["pred_total"]), key=lambda t: (t in SECRET_TYPES, t))
    for t in types:
        g, p = r["gold"][t], r["pred_total"][t]
        rec = f"{r['found'][t] / g:.1%}" if g else "–"
        leak = f"{r['leaked'][t] / r['chars'][t]:.2%}" if g else "–"
        prec = f"{r['pred_ok'][t] / p:.1%}" if p else "–"
        lines.append(f"| {t} | {g} | {rec} | {leak} | {p} | {prec} |")
    pii_chars = sum(v for t, v in r["chars"].items() if t not in SECRET_TYPES)
    pii_leak = sum(v for t, v in r["leaked"].items() if t not in SECRET_TYPES)
    sec_chars = sum(v for t, v in r["chars"].items() if t in SECRET_TYPES)
    sec_leak = sum(v for t, v in r["leaked"].items() if t in SECRET_TYPES)
    neg_t, neg_h = sum(r["neg_total"].values()), sum(r["neg_hit"].values())
    lines += [
        "",
        f"- PII characters leaked: **{pii_leak / max(pii_chars, 1):.2%}** (target ≤ 1%); "
        f"secret characters leaked: **{sec_leak / max(sec_chars, 1):.2%}** (target ≤ 0.5%)",
        f"- hard negatives flagged: **{neg_h / max(neg_t, 1):.2%}** of {neg_t} (target ≤ 2%): "
        + ", ".join(f"{k} {r['neg_hit'][k]}/{r['neg_total'][k]}" for k in sorted(r["neg_total"])),
        f"- throughput (one core, scan + redact): **{r['mb_s']:.2f} MB/s** (target ≥ 5 MB/s)",
    ]
    if presidio is None:
        lines.append("- Presidio: not installed (`pip install 'watchkeeper[bench]'`); column skipped")
    else:
        lines.append(
            f"- Presidio analyzer (pattern recognisers, blank spaCy), same texts: {presidio:.3f} MB/s — "
            f"Watchkeeper is **{r['mb_s'] / presidio:.0f}×** faster (target ≥ 100×)"
        )
    return "\n".join(lines) + "\n"


def measure(samples: int = 3000, seed: int = 7, presidio_samples: int = 300) -> dict[str, Any]:
    """The headline numbers, for bench/run_all.py: leak shares, hard negatives, lowest secret recall, speeds."""
    corpus = generate(samples, seed=seed)
    make_redactor().engine.scan("warm up the engine: ana@acme.io")
    r = evaluate(corpus)
    presidio = presidio_speed(corpus[:presidio_samples]) if presidio_samples else None

    def share(num: Counter[str], den: Counter[str], secret: bool) -> float:
        n = sum(v for t, v in num.items() if (t in SECRET_TYPES) == secret)
        return n / max(1, sum(v for t, v in den.items() if (t in SECRET_TYPES) == secret))

    secret_recalls = [r["found"][t] / r["gold"][t] for t in r["gold"] if t in SECRET_TYPES]
    return {
        "pii_leak": share(r["leaked"], r["chars"], False),
        "secret_leak": share(r["leaked"], r["chars"], True),
        "min_secret_recall": min(secret_recalls, default=1.0),
        "person_recall": r["found"]["PERSON"] / max(1, r["gold"]["PERSON"]),
        "address_recall": r["found"]["STREET_ADDRESS"] / max(1, r["gold"]["STREET_ADDRESS"]),
        "hard_negatives_flagged": sum(r["neg_hit"].values()) / max(1, sum(r["neg_total"].values())),
        "mb_s": r["mb_s"],
        "presidio_mb_s": presidio,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--presidio-samples", type=int, default=300)
    ap.add_argument("--no-presidio", action="store_true")
    ap.add_argument("--pipeline", action="store_true", help="measure µs per span of the ingest redact step")
    ap.add_argument("--spans", type=int, default=4096, help="spans per round with --pipeline")
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds with --pipeline (the best is reported)")
    args = ap.parse_args(argv)
    if args.pipeline:
        us = pipeline_us_per_span(args.spans, args.rounds)
        sys.stdout.write(
            f"- ingest redact step: **{us:.1f} µs per span** (best of {args.rounds} rounds of {args.spans} spans)\n"
        )
        return 0
    samples = generate(args.samples, seed=args.seed)
    make_redactor().engine.scan("warm up the engine: ana@acme.io")
    r = evaluate(samples)
    presidio = None if args.no_presidio else presidio_speed(samples[: args.presidio_samples])
    sys.stdout.write(report(r, presidio, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
