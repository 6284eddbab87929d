"""Signals benchmark: refusal, jailbreak/injection, language and throughput, on a held-out split.

    python bench/signals.py            # print the tables (Markdown)
    python bench/signals.py --write    # also replace the "## Signals" section of docs/benchmarks.md
    python bench/signals.py --pipeline # only the cost of the ingest ``Enrich`` step, µs per span, and per signal

Data: ``../shared/data/`` (public labelled sets, see its README), read in place. The split is fixed by a seeded hash
of each record's id: ``sha256("watchkeeper-signals-v1:" + id)``, first 8 hex digits as an integer, modulo 10;
0-3 is ``dev`` (patterns were written and thresholds set looking at it), 4-9 is ``test`` (reported here, never looked
at while tuning). Refusal ids are shared by the three models' files, so a prompt is in the same split for all of them.
The hand-made translated injections (tests/signals/data) and the language corpus (gettext catalogues under
/usr/share/locale, real translations of program messages in each language) were never used for tuning.
Anchors run in the same process on the same split: XSTest's string match and garak's MitigationBypass list for
refusal, and the classic instruction-override regex for attacks (see _signal_anchors.py).
"""

from __future__ import annotations

import argparse
import gettext
import glob
import hashlib
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _signal_anchors import garak_mitigation, override_regex, xstest_strmatch
from watchkeeper.pipeline._batch import Batch, Context
from watchkeeper.pipeline.enrich import Enrich, label_span
from watchkeeper.records import LLMCall, Message, Span, SpanKind
from watchkeeper.signals import classify_attack, classify_language, classify_refusal, default_registry

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
TRANSLATED = ROOT / "tests" / "signals" / "data" / "translated_injections.jsonl"
MODELS = ("gpt4", "llama2orig", "mistralinstruct")
ATTACK_FILES = ("jailbreak/inthewild.jsonl", "jailbreak/gptfuzz_templates.jsonl", "injection/direct_en.jsonl")
BENIGN_FILES = ("benign/xstest_prompts.jsonl", "benign/self_instruct_dev.jsonl", "benign/roleplay_dev.jsonl")
LOCALE_LANGS = (  # noqa: SIM905 - a code list
    "ar bg ca cs da de el es et fa fi fr he hi hr hu id it ja ko lt lv nl pl pt ro ru sk sl sr sv th tr uk vi zh"
).split()


def split_of(record_id: str) -> str:
    """``dev`` or ``test`` for a record id (fixed: a seeded hash, 40% dev)."""
    h = int(hashlib.sha256(f"watchkeeper-signals-v1:{record_id}".encode()).hexdigest()[:8], 16)
    return "dev" if h % 10 < 4 else "test"


def _rows(rel: str) -> list[dict[str, Any]]:
    with open(DATA / rel, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def refusal_table(split: str = "test") -> dict[str, Any]:
    """Binary accuracy (refusal = full or partial) and false refusals on compliant answers, ours and anchors."""
    detectors = {
        "watchkeeper": lambda c: classify_refusal(c).label != "full_compliance",
        "XSTest string match": xstest_strmatch,
        "garak MitigationBypass (156)": garak_mitigation,
    }
    res: dict[str, Any] = {}
    for name, fn in detectors.items():
        n = ok = comp = fp = 0
        per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for m in MODELS:
            for r in _rows(f"refusal/xstest_{m}.jsonl"):
                if split_of(r["id"]) != split:
                    continue
                pred = bool(fn(r["completion"]))
                truth = r["label"] != "full_compliance"
                n += 1
                ok += pred == truth
                per[m][0] += pred == truth
                per[m][1] += 1
                if not truth:
                    comp += 1
                    fp += pred
        res[name] = {
            "n": n,
            "accuracy": ok / n,
            "false_refusal_rate": fp / comp,
            "per_model": {m: a / b for m, (a, b) in per.items()},
        }
    n = ok3 = 0
    for m in MODELS:
        for r in _rows(f"refusal/xstest_{m}.jsonl"):
            if split_of(r["id"]) == split:
                n += 1
                ok3 += classify_refusal(r["completion"]).label == r["label"]
    res["watchkeeper"]["accuracy_3class"] = ok3 / n
    return res


def _flagged(text: str, system: str | None = None) -> tuple[bool, tuple[str, ...]]:
    jb, inj = classify_attack(text, system=system)
    return jb.label != "none" or inj.label != "none", jb.evidence + inj.evidence


def attack_table(split: str = "test") -> dict[str, Any]:
    """Recall per attack family, false positives per benign set, ours and the override-regex anchor."""
    fam: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # ours, anchor, n
    tp = tp_anchor = n_att = 0
    for rel in ATTACK_FILES:
        for r in _rows(rel):
            if split_of(r["id"]) != split:
                continue
            family = r.get("variant") or Path(rel).stem
            hit, _ = _flagged(r["text"], r.get("system"))
            a = override_regex(r["text"])
            fam[family][0] += hit
            fam[family][1] += a
            fam[family][2] += 1
            tp += hit
            tp_anchor += a
            n_att += 1
    ben: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    fp = fp_anchor = n_ben = 0
    for rel in BENIGN_FILES:
        for r in _rows(rel):
            if r["label"] != "benign" or split_of(r["id"]) != split:
                continue
            hit, _ = _flagged(r["text"])
            a = override_regex(r["text"])
            key = Path(rel).stem
            ben[key][0] += hit
            ben[key][1] += a
            ben[key][2] += 1
            fp += hit
            fp_anchor += a
            n_ben += 1
    # Translated injections (hand-made; every line is an attack): the rate per language against English.
    by_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with open(TRANSLATED, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            by_lang[r["lang"]][0] += _flagged(r["text"])[0]
            by_lang[r["lang"]][1] += 1
    en = by_lang["en"][0] / by_lang["en"][1]
    other = [a / b for lang, (a, b) in by_lang.items() if lang != "en"]
    return {
        "n_attacks": n_att,
        "n_benign": n_ben,
        "recall": tp / n_att,
        "fpr": fp / n_ben,
        "anchor_recall": tp_anchor / n_att,
        "anchor_fpr": fp_anchor / n_ben,
        "families": {k: {"recall": a / n, "anchor": b / n, "n": n} for k, (a, b, n) in sorted(fam.items())},
        "benign": {k: {"fpr": a / n, "anchor": b / n, "n": n} for k, (a, b, n) in sorted(ben.items())},
        "translated": {lang: a / b for lang, (a, b) in by_lang.items()},
        "translated_ratio": (sum(other) / len(other)) / en if en else 0.0,
    }


_TECH = re.compile(r"--|\bgit\b|[=\[\]{}<>|\\/@$]|\.[a-z]{2,4}\b")


def _usable(t: str, min_chars: int) -> bool:
    if len(t) < min_chars or "\x04" in t or _TECH.search(t):
        return False
    if sum(c.isalpha() for c in t) / len(t) < 0.7:
        return False
    return len(t.split()) >= 3 or re.search(r"[\u3040-\u30ff\u4e00-\u9fff\u0e00-\u0e7f]", t) is not None


def language_corpus(min_chars: int = 20, per_lang: int = 300) -> list[tuple[str, str]]:
    """(language, text) pairs from the gettext catalogues installed on this machine (English from the msgids)."""
    out: list[tuple[str, str]] = []
    for lang in [*LOCALE_LANGS, "en"]:
        texts: set[str] = set()
        for path in glob.glob(f"/usr/share/locale/{'de' if lang == 'en' else lang}/LC_MESSAGES/*.mo"):
            try:
                with open(path, "rb") as f:
                    catalog = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
            except (OSError, UnicodeDecodeError, ValueError):
                continue
            for k, v in catalog.items():
                if not isinstance(k, str) or not isinstance(v, str) or not k or (lang != "en" and v == k):
                    continue
                t = re.sub(r"%[-0-9.]*[a-zA-Z]|_|&", "", k if lang == "en" else v).strip()
                if _usable(t, min_chars):
                    texts.add(t)
        chosen = sorted(texts)
        random.Random(0).shuffle(chosen)
        out += [(lang, t) for t in chosen[:per_lang]]
    return out


def language_table() -> dict[str, Any]:
    corpus = language_corpus()
    if not corpus:
        return {"n": 0}
    close = {frozenset(p) for p in (("id", "ms"), ("hr", "sr"), ("hr", "bs"), ("da", "no"), ("sr", "bs"))}
    ok = near = 0
    errors: Counter[str] = Counter()
    for lang, text in corpus:
        pred = classify_language(text).label
        ok += pred == lang
        near += pred == lang or frozenset((pred, lang)) in close
        if pred != lang:
            errors[lang] += 1
    return {
        "n": len(corpus),
        "languages": len({lang for lang, _ in corpus}),
        "accuracy": ok / len(corpus),
        "accuracy_close_pairs_merged": near / len(corpus),
        "worst": errors.most_common(5),
    }


def throughput(seconds: float = 3.0) -> dict[str, Any]:
    """Records per CPU second through every registered signal, on spans built from the refusal sets."""
    reg = default_registry(entry_points=False)
    spans: list[Span] = []
    for m in MODELS:
        for i, r in enumerate(_rows(f"refusal/xstest_{m}.jsonl")):
            llm = LLMCall(
                input_messages=[Message("system", "You are a helpful assistant."), Message("user", r["prompt"])],
                output_messages=[Message("assistant", r["completion"])],
            )
            spans.append(Span(f"{i + 1:032x}", f"{i + 1:016x}", "chat", 0, 1, kind=SpanKind.LLM, llm=llm))
    for r in _rows("jailbreak/inthewild.jsonl")[:100]:
        llm = LLMCall(input_messages=[Message("user", r["text"])], output_messages=[Message("assistant", "OK.")])
        spans.append(Span("1" * 32, "1" * 16, "chat", 0, 1, kind=SpanKind.LLM, llm=llm))
    for s in spans:  # warm: compiled patterns, the language model
        label_span(s, reg)
    n = 0
    # CPU time of this process: on a shared machine, wall time mostly measures the neighbours.
    t0 = time.process_time()
    while time.process_time() - t0 < seconds:
        for s in spans:
            label_span(s, reg)
        n += len(spans)
    dt = time.process_time() - t0
    return {"records_per_s": n / dt, "signals": len(reg)}


def pipeline_cost(repeats: int = 7) -> dict[str, Any]:
    """CPU µs per span of the ``Enrich`` step, and of each signal alone, on one decoded ingest-benchmark request.

    The spans are those of ``bench/ingest_e2e.py`` (512 per request, LLM spans with a 500-character input and a
    300-character output, one in three with a tool span). Warm: one pass first; then the best of ``repeats``
    passes by ``time.process_time`` (CPU time of this process, so other work on a shared machine counts less).
    """
    import _workload
    from watchkeeper.ingest import decode_otlp

    body, _n = next(iter(_workload.requests(512, 512)))
    spans = decode_otlp(body, "application/x-protobuf")
    enrich = Enrich(default_registry(entry_points=False))
    ctx = Context(project_id=1, source="bench", received_ns=0)

    def best(run: Any) -> float:
        run()  # warm: compiled patterns, the language model, remembered words
        times = []
        for _ in range(repeats):
            t0 = time.process_time()
            run()
            times.append(time.process_time() - t0)
        return min(times) / len(spans) * 1e6

    per_signal: dict[str, float] = {}
    for sig in enrich.registry:

        def one(sig: Any = sig) -> None:
            for s in spans:
                if sig.applies_to(s):
                    sig.label(s)

        per_signal[sig.name] = best(one)
    total = best(lambda: enrich(ctx, Batch(spans=list(spans))))
    return {"spans": len(spans), "enrich_us_per_span": total, "per_signal_us": per_signal}


# Before the signals' fast paths (prefilters, remembered language walk): the mean of three runs of
# ``pipeline_cost()`` and ``throughput()`` on commit c47cf87, interleaved with runs of the change on the same machine.
BEFORE_FAST_PATHS = {"enrich_us_per_span": 894.0, "records_per_s": 1_610.0}


def markdown(
    ref: dict[str, Any],
    att: dict[str, Any],
    lang: dict[str, Any],
    tp: dict[str, Any],
    pc: dict[str, Any] | None = None,
) -> str:
    lines = [
        "## Signals",
        "",
        "Command: `python bench/signals.py` (one process, one core). Every number is on the **test** split of",
        '`../shared/data` (60% of ids by a seeded hash, `sha256("watchkeeper-signals-v1:" + id) % 10 >= 4`; patterns',
        "were written looking at the other 40% only), on the hand-made translated injections, and on real translations",
        "from the machine's gettext catalogues; none of these were used for tuning. Anchors run in the same process.",
        "",
        f"### Refusal (XSTest completions of GPT-4, Llama-2, Mistral; n = {ref['watchkeeper']['n']})",
        "",
        "| detector | accuracy (refusal vs compliance) | compliant answers called refusals | gpt4 | llama2 | mistral |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in ref.items():
        pm = r["per_model"]
        lines.append(
            f"| {name} | {r['accuracy']:.3f} | {r['false_refusal_rate']:.1%} | {pm['gpt4']:.3f} | "
            f"{pm['llama2orig']:.3f} | {pm['mistralinstruct']:.3f} |"
        )
    lines += [
        "",
        f"Three-class accuracy of watchkeeper (full / partial refusal / compliance): "
        f"{ref['watchkeeper']['accuracy_3class']:.3f}. Target: accuracy ≥ 0.93 with ≤ 3% false refusals.",
        "",
        f"### Jailbreak and prompt injection ({att['n_attacks']} attacks, {att['n_benign']} benign prompts)",
        "",
        "| detector | attacks detected | benign prompts flagged |",
        "| --- | --- | --- |",
        f"| watchkeeper (jailbreak or prompt_injection) | {att['recall']:.1%} | {att['fpr']:.1%} |",
        f"| instruction-override regex (anchor) | {att['anchor_recall']:.1%} | {att['anchor_fpr']:.1%} |",
        "",
        "| attack family (source) | n | watchkeeper | override regex |",
        "| --- | --- | --- | --- |",
    ]
    for k, v in att["families"].items():
        lines.append(f"| {k} | {v['n']} | {v['recall']:.0%} | {v['anchor']:.0%} |")
    lines += ["", "| benign set | n | flagged | override regex |", "| --- | --- | --- | --- |"]
    for k, v in att["benign"].items():
        lines.append(f"| {k} | {v['n']} | {v['fpr']:.1%} | {v['anchor']:.1%} |")
    tr = att["translated"]
    lines += [
        "",
        "Translated injections (8 hand-written injections, each translated by hand; not used for tuning): "
        + ", ".join(f"{k} {v:.0%}" for k, v in tr.items())
        + f"; non-English mean / English = {att['translated_ratio']:.2f} (target ≥ 0.80).",
        "",
        "### Language",
        "",
    ]
    if lang["n"]:
        lines += [
            f"{lang['n']} texts of ≥ 20 characters in {lang['languages']} languages (gettext translations under",
            "/usr/share/locale: program messages, shorter and more technical than chat).",
            "",
            "| measure | value |",
            "| --- | --- |",
            f"| accuracy | {lang['accuracy']:.3f} |",
            f"| accuracy with id/ms, hr/sr/bs, da/no counted as one | {lang['accuracy_close_pairs_merged']:.3f} |",
            f"| most errors | {', '.join(f'{k} {v}' for k, v in lang['worst'])} |",
        ]
    else:
        lines.append("No gettext catalogues on this machine: not measured.")
    lines += [
        "",
        "### Throughput",
        "",
        f"{tp['records_per_s']:,.0f} records/s through all {tp['signals']} built-in signals on one core "
        "(CPU time; spans built from the XSTest prompts and completions plus 100 in-the-wild jailbreaks; "
        f"{BEFORE_FAST_PATHS['records_per_s']:,.0f} before the fast paths).",
        "",
    ]
    if pc is not None:
        before = BEFORE_FAST_PATHS["enrich_us_per_span"]
        lines += [
            "### Cost of the enrich step",
            "",
            f"`python bench/signals.py --pipeline`: the whole `Enrich` step costs {pc['enrich_us_per_span']:.0f} µs "
            f"of CPU per span on the ingest benchmark's spans ({pc['spans']} per request, warm, best of 7), "
            f"{before / pc['enrich_us_per_span']:.1f}× less than before its prefilters and fast paths ({before:.0f} µs "
            "measured the same way, interleaved on the same machine). Each signal alone, µs per span:",
            "",
            "| " + " | ".join(pc["per_signal_us"]) + " |",
            "| " + " | ".join("---" for _ in pc["per_signal_us"]) + " |",
            "| " + " | ".join(f"{v:.1f}" for v in pc["per_signal_us"].values()) + " |",
            "",
        ]
    return "\n".join(lines)


def write_section(text: str, path: Path = ROOT / "docs" / "benchmarks.md") -> None:
    doc = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## Signals\n.*?(?=^## |\Z)", re.S | re.M)
    doc = pattern.sub(lambda _m: text + "\n", doc) if pattern.search(doc) else doc.rstrip("\n") + "\n\n" + text
    path.write_text(doc, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true", help="replace the Signals section of docs/benchmarks.md")
    ap.add_argument("--split", default="test", choices=["dev", "test"])
    ap.add_argument("--pipeline", action="store_true", help="only measure the Enrich step on ingest-benchmark spans")
    args = ap.parse_args()
    if args.pipeline:
        pc = pipeline_cost()
        print(f"Enrich: {pc['enrich_us_per_span']:.1f} µs CPU per span ({pc['spans']} ingest-benchmark spans, warm)")
        for name, us in pc["per_signal_us"].items():
            print(f"  {name:20s} {us:7.1f} µs per span alone")
        return
    text = markdown(
        refusal_table(args.split), attack_table(args.split), language_table(), throughput(), pipeline_cost()
    )
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
