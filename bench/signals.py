"""Signals benchmark: refusal, jailbreak/injection, language and throughput, on a held-out split.

    python bench/signals.py            # print the tables (Markdown)
    python bench/signals.py --write    # also replace the "## Signals" section of docs/benchmarks.md
    python bench/signals.py --pipeline # only the cost of the ingest ``Enrich`` step, µs per span, and per signal

Data: ``../shared/data/`` (public labelled sets, see its README), read in place. Ids are placed by a seeded hash
(``sha256("watchkeeper-signals-v1:" + id)``, first 8 hex digits modulo 10: 0-3 ``dev``, 4-9 ``test``). Refusal ids
are shared by the three models' files, so a prompt is in the same split for all of them; refusal is reported on
``test``. Attacks and benign prompts are reported on the **family** split of ``_signal_split.py``: near-duplicate
families (shingle overlap) with any member in ``dev`` are ``fit`` (patterns were written and the text model fitted
there), and ``test`` keeps only families wholly in ``test``, so no test prompt has a near twin that was fitted.
Translated injections (tests/signals/data): ``translated_injections.jsonl`` (48 lines, 6 languages, written before
this lexicon), ``translated_more.jsonl`` (the same 8 injections in 22 more languages plus 168 benign look-alikes;
the multilingual lexicon was corrected on it, so it is a development set), ``translated_unseen.jsonl`` (6 other
injections in 11 languages, measured once before a lexicon class was added for them, then again) and
``translated_fresh.jsonl`` (6 more injections and 3 benign look-alikes in the same 11 languages, written and measured
before the lexicon classes of ``attacks-10``, which were written on ``translated_unseen``). The language
corpus (gettext catalogues under /usr/share/locale, real translations of program messages) is split by catalogue
(``sha256("watchkeeper-language-v1:" + file name)``, 0-3 dev); the close-pair rules were checked on dev, and test
is reported.
Anchors run in the same process on the same split: XSTest's string match and garak's MitigationBypass list for
refusal, and the classic instruction-override regex for attacks (see _signal_anchors.py).
"""

from __future__ import annotations

import argparse
import gettext
import glob
import hashlib
import json
import os
import random
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import _signal_split
from _signal_anchors import garak_mitigation, override_regex, xstest_strmatch
from _signal_split import split_of
from watchkeeper.pipeline._batch import Batch, Context
from watchkeeper.pipeline.enrich import Enrich, label_span
from watchkeeper.records import LLMCall, Message, Span, SpanKind
from watchkeeper.signals import classify_attack, classify_language, classify_refusal, default_registry

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
TRANSLATED = ROOT / "tests" / "signals" / "data" / "translated_injections.jsonl"
TRANSLATED_MORE = ROOT / "tests" / "signals" / "data" / "translated_more.jsonl"
TRANSLATED_UNSEEN = ROOT / "tests" / "signals" / "data" / "translated_unseen.jsonl"
TRANSLATED_FRESH = ROOT / "tests" / "signals" / "data" / "translated_fresh.jsonl"
MODELS = ("gpt4", "llama2orig", "mistralinstruct")
ATTACK_FILES = ("jailbreak/inthewild.jsonl", "jailbreak/gptfuzz_templates.jsonl", "injection/direct_en.jsonl")
BENIGN_FILES = ("benign/xstest_prompts.jsonl", "benign/self_instruct_dev.jsonl", "benign/roleplay_dev.jsonl")
LOCALE_LANGS = (  # noqa: SIM905 - a code list
    "ar bg ca cs da de el es et fa fi fr he hi hr hu id it ja ko lt lv nl pl pt ro ru sk sl sr sv th tr uk vi zh"
).split()
# Added to the language corpus: the other halves of the close pairs (Norwegian Bokmål, Malay, Serbian in Latin
# letters) and the other languages of the 50 that have catalogues here.
MORE_LANGS = "no ms sw tl ur mr bn ta te gu kn ml pa".split()  # noqa: SIM905 - a code list
LOCALE_DIRS = {"en": ["de"], "no": ["nb"], "sr": ["sr", "sr@latin"]}


def catalogue_split(name: str) -> str:
    """``dev`` or ``test`` for a gettext catalogue file name (a seeded hash, 40% dev)."""
    h = int(hashlib.sha256(f"watchkeeper-language-v1:{name}".encode()).hexdigest()[:8], 16)
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
    ben: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    tp = tp_anchor = n_att = fp = fp_anchor = n_ben = 0
    for r in _signal_split.labelled():
        if r["split"] != split:
            continue
        hit, _ = _flagged(r["text"], r["system"])
        a = override_regex(r["text"])
        table = fam if r["y"] else ben
        table[r["source"]][0] += hit
        table[r["source"]][1] += a
        table[r["source"]][2] += 1
        if r["y"]:
            tp, tp_anchor, n_att = tp + hit, tp_anchor + a, n_att + 1
        else:
            fp, fp_anchor, n_ben = fp + hit, fp_anchor + a, n_ben + 1
    # Translated injections (hand-made; every line is an attack): the rate per language against English.
    by_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with open(TRANSLATED, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            by_lang[r["lang"]][0] += _flagged(r["text"])[0]
            by_lang[r["lang"]][1] += 1
    en = by_lang["en"][0] / by_lang["en"][1]
    other = [a / b for lang, (a, b) in by_lang.items() if lang != "en"]
    written = _signal_split.requests("signal_benign_requests.txt")
    # Hard negatives the `attacks-5` pattern exclusions were written on: a development set, reported apart.
    written_dev = _signal_split.requests("signal_benign_written.txt")
    more = translated_rates(TRANSLATED_MORE)
    unseen = translated_rates(TRANSLATED_UNSEEN)
    fresh = translated_rates(TRANSLATED_FRESH)
    # Ordinary questions to bots whose system prompts carry rules ("never invent order data"): written for this
    # project, benign; the shared benign sets have no system prompts.
    with open(Path(__file__).parent / "signal_benign_system.jsonl", encoding="utf-8") as f:
        with_system = [json.loads(line) for line in f if line.strip()]
    return {
        "written_flagged": sum(_flagged(t)[0] for t in written),
        "written_n": len(written),
        "written_dev_flagged": sum(_flagged(t)[0] for t in written_dev),
        "written_dev_n": len(written_dev),
        "system_flagged": sum(_flagged(r["text"], r["system"])[0] for r in with_system),
        "system_n": len(with_system),
        "translated_more": more,
        "translated_unseen": unseen,
        "translated_fresh": fresh,
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


def translated_rates(path: Path) -> dict[str, Any]:
    """Share of injections flagged per language, the non-English mean over English, and benign look-alikes flagged."""
    by_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    benign = [0, 0]
    with open(path, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            hit = _flagged(r["text"])[0]
            if r.get("label") == "benign":
                benign[0] += hit
                benign[1] += 1
            else:
                by_lang[r["lang"]][0] += hit
                by_lang[r["lang"]][1] += 1
    rates = {lang: a / b for lang, (a, b) in sorted(by_lang.items())}
    other = [v for k, v in rates.items() if k != "en"]
    en = rates.get("en", 1.0)  # translated_more holds no English: its sources are those of translated_injections
    return {
        "rates": rates,
        "mean_other": sum(other) / len(other),
        "ratio": (sum(other) / len(other)) / en if en else 0.0,
        "benign_flagged": benign[0],
        "benign_n": benign[1],
    }


_TECH = re.compile(r"--|\bgit\b|[=\[\]{}<>|\\/@$]|\.[a-z]{2,4}\b")


def _usable(t: str, min_chars: int) -> bool:
    if len(t) < min_chars or "\x04" in t or _TECH.search(t):
        return False
    if sum(c.isalpha() for c in t) / len(t) < 0.7:
        return False
    return len(t.split()) >= 3 or re.search(r"[\u3040-\u30ff\u4e00-\u9fff\u0e00-\u0e7f]", t) is not None


def language_corpus(min_chars: int = 20, per_lang: int = 300, split: str | None = "test") -> list[tuple[str, str]]:
    """(language, text) pairs from the gettext catalogues installed here (English from the msgids), one split."""
    out: list[tuple[str, str]] = []
    for lang in [*LOCALE_LANGS, *MORE_LANGS, "en"]:
        texts: dict[str, str] = {}
        paths = [p for d in LOCALE_DIRS.get(lang, [lang]) for p in glob.glob(f"/usr/share/locale/{d}/LC_MESSAGES/*.mo")]
        for path in paths:
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
                    texts.setdefault(t, Path(path).name)
        chosen = sorted(texts)
        random.Random(0).shuffle(chosen)
        out += [(lang, t) for t in chosen[:per_lang] if split is None or catalogue_split(texts[t]) == split]
    return out


def language_table(split: str = "test", languages: list[str] | None = None) -> dict[str, Any]:
    """Accuracy on one split of the corpus; ``languages`` keeps only those (the 36 of the first measure: LOCALE_LANGS
    and English)."""
    corpus = [(lang, t) for lang, t in language_corpus(split=split) if languages is None or lang in languages]
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


# The same functions run on the code before this round of accuracy work (commit 6cd3817, `git archive` of src/ on
# the path first), on the same splits, same machine: `python bench/signals.py --json` there.
BEFORE_ACCURACY: dict[str, float] = {
    "refusal_accuracy": 0.9212,
    "refusal_fpr": 0.0401,
    "attack_recall": 0.7136,
    "attack_fpr": 0.0144,
    "translated_ratio": 0.65,
    "translated_more": 0.1932,
    "translated_unseen": 0.15,
    "language_accuracy": 0.946,
    "language_accuracy_36": 0.9601,
}


def markdown(
    ref: dict[str, Any],
    att: dict[str, Any],
    lang: dict[str, Any],
    tp: dict[str, Any],
    pc: dict[str, Any] | None = None,
    lang36: dict[str, Any] | None = None,
) -> str:
    b = BEFORE_ACCURACY

    def was(key: str, fmt: str) -> str:
        return f" (before: {format(b[key], fmt)})" if key in b else ""

    lines = [
        "## Signals",
        "",
        "Command: `python bench/signals.py` (one process, one core). Refusal is on the **test** split of",
        '`../shared/data` (60% of prompt ids by a seeded hash, `sha256("watchkeeper-signals-v1:" + id) % 10 >= 4`).',
        "Attacks and benign prompts are on the **family** split (`bench/_signal_split.py`): near-duplicate families",
        "(5-word shingles, Jaccard ≥ 0.5 or 80% containment) with any member in the 40% dev hash are *fit*, where",
        "patterns were written and the text model (`bench/train_signals.py`) was fitted and its threshold chosen by",
        "cross-validation; *test* keeps only families wholly in the 60% test hash, so no test prompt has a near twin",
        "in anything fitted (in-the-wild jailbreak templates and PurpleLlama's shared documents otherwise leak). The",
        'language corpus is split by gettext catalogue. Anchors run in the same process. "Before" numbers are',
        "the code before this work on the same splits.",
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
    ours = ref["watchkeeper"]
    lines += [
        "",
        f"watchkeeper: accuracy {ours['accuracy']:.3f}{was('refusal_accuracy', '.3f')}, compliant answers called "
        f"refusals {ours['false_refusal_rate']:.1%}{was('refusal_fpr', '.1%')}; three-class accuracy "
        f"{ours['accuracy_3class']:.3f}. Target: accuracy ≥ 0.93 with ≤ 3% false refusals.",
        "",
        f"### Jailbreak and prompt injection (test: {att['n_attacks']} attacks, {att['n_benign']} benign prompts)",
        "",
        "| detector | attacks detected | benign prompts flagged |",
        "| --- | --- | --- |",
        f"| watchkeeper (jailbreak or prompt_injection) | {att['recall']:.1%} | {att['fpr']:.1%} |",
    ]
    if "attack_recall" in b:
        lines.append(f"| watchkeeper before | {b['attack_recall']:.1%} | {b['attack_fpr']:.1%} |")
    lines += [
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
    lines += [
        "",
        f"Hard negatives written for this project after the model was fitted (`bench/signal_benign_requests.txt`: "
        f'short requests that say "you are", "act as", "pretend", "ignore the formatting"): '
        f"{att['written_flagged']} of {att['written_n']} flagged.",
        "",
        f"Hard negatives the `attacks-5` pattern exclusions were written on (`bench/signal_benign_written.txt`, a "
        f"development set: modes and jailbreaks of devices, system prompts of one's own, role-play set-ups): "
        f"{att['written_dev_flagged']} of {att['written_dev_n']} flagged.",
        "",
        f"Ordinary questions to bots whose system prompts carry rules (`bench/signal_benign_system.jsonl`, written for "
        f"this project): {att['system_flagged']} of {att['system_n']} flagged.",
    ]
    tr = att["translated"]
    more, unseen = att["translated_more"], att["translated_unseen"]
    lines += [
        "",
        "Translated injections, share flagged (non-English mean / English; target ≥ 0.80):",
        "",
        "| set | languages | ratio | benign look-alikes flagged |",
        "| --- | --- | --- | --- |",
        "| `translated_injections.jsonl` (8 injections, written before this work) | "
        + ", ".join(f"{k} {v:.0%}" for k, v in tr.items())
        + f" | {att['translated_ratio']:.2f}{was('translated_ratio', '.2f')} | – |",
        f"| `translated_more.jsonl` (the same 8 in 22 more languages; the lexicon was corrected on it) | "
        f"{len(more['rates'])} languages, lowest {min(more['rates'].values()):.0%} | {more['mean_other']:.2f} "
        f"(of the English 100%){was('translated_more', '.2f')} | {more['benign_flagged']} of {more['benign_n']} |",
        "| `translated_unseen.jsonl` (6 other injections, 10 languages; 0.33 when first measured, a lexicon class "
        "was added after) | "
        + ", ".join(f"{k} {v:.0%}" for k, v in unseen["rates"].items())
        + f" | {unseen['ratio']:.2f}{was('translated_unseen', '.2f')} | – |",
        "| `translated_fresh.jsonl` (6 more injections and 3 look-alikes, 10 languages and English, written and "
        "measured before the lexicon's `attacks-10` classes; 0.50 then, English 67%) | "
        + ", ".join(f"{k} {v:.0%}" for k, v in att["translated_fresh"]["rates"].items())
        + f" | {att['translated_fresh']['ratio']:.2f} | {att['translated_fresh']['benign_flagged']} of "
        f"{att['translated_fresh']['benign_n']} |",
        "",
        "### Language",
        "",
    ]
    if lang["n"]:
        rows = [("all", lang)] + ([("the 36 of the first measure", lang36)] if lang36 and lang36["n"] else [])
        lines += [
            "Texts of ≥ 20 characters from the gettext translations under /usr/share/locale (program messages, shorter",
            "and more technical than chat), test catalogues only. *All* adds Norwegian Bokmål, Malay and Serbian in",
            "Latin letters (the other halves of the close pairs) and the Indic, Swahili and Tagalog catalogues.",
            "",
            "| corpus | texts | languages | accuracy | with id/ms, hr/sr/bs, da/no as one | most errors |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for name, t in rows:
            key = "language_accuracy" if name == "all" else "language_accuracy_36"
            lines.append(
                f"| {name} | {t['n']} | {t['languages']} | {t['accuracy']:.3f}{was(key, '.3f')} | "
                f"{t['accuracy_close_pairs_merged']:.3f} | {', '.join(f'{k} {v}' for k, v in t['worst'])} |"
            )
    else:
        lines.append("No gettext catalogues on this machine: not measured.")
    lines += [
        "",
        "### Throughput",
        "",
        f"{tp['records_per_s']:,.0f} records/s through all {tp['signals']} built-in signals on one core "
        "(CPU time; spans built from the XSTest prompts and completions plus 100 in-the-wild jailbreaks; "
        f"{BEFORE_FAST_PATHS['records_per_s']:,.0f} before the fast paths"
        + (f", {b['records_per_s']:,.0f} before this round of accuracy work" if "records_per_s" in b else "")
        + f"). Load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; CPU-time figures of a"
        " busy shared machine run 2–4× those of a quiet one, so compare the code before and after interleaved.",
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
            "measured the same way, interleaved on the same machine). The compiled scorers took it from 256–268 "
            "to 161–169 µs (`signals/_langscan.c`, the language model), from 152–181 to 127–132 µs "
            "(`signals/_wordscan.c`, the attack signals' word model) and from 130–134 to 120–121 µs (the language "
            "model's automaton walked as four interleaved walks over a text's quarters; three runs each, "
            "interleaved with the code before each, 30 November, load 2.7–3). Each signal alone, µs per span:",
            "",
            "| " + " | ".join(pc["per_signal_us"]) + " |",
            "| " + " | ".join("---" for _ in pc["per_signal_us"]) + " |",
            "| " + " | ".join(f"{v:.1f}" for v in pc["per_signal_us"].values()) + " |",
            "",
        ]
    return "\n".join(lines)


def summary(ref: dict[str, Any], att: dict[str, Any], lang: dict[str, Any], tp: dict[str, Any]) -> dict[str, float]:
    """The headline numbers, as ``--json`` prints them (and ``BEFORE_ACCURACY`` holds them for the old code)."""
    out = {
        "refusal_accuracy": ref["watchkeeper"]["accuracy"],
        "refusal_fpr": ref["watchkeeper"]["false_refusal_rate"],
        "attack_recall": att["recall"],
        "attack_fpr": att["fpr"],
        "translated_ratio": att["translated_ratio"],
        "translated_more": att["translated_more"]["mean_other"],
        "translated_unseen": att["translated_unseen"]["ratio"],
        "records_per_s": tp["records_per_s"],
    }
    if lang.get("n"):
        out["language_accuracy"] = lang["accuracy"]
    return out


def write_section(text: str, path: Path = ROOT / "docs" / "benchmarks.md") -> None:
    doc = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(r"^## Signals\n.*?(?=^## |\Z)", re.S | re.M)
    doc = pattern.sub(lambda _m: text + "\n", doc) if pattern.search(doc) else doc.rstrip("\n") + "\n\n" + text
    path.write_text(doc, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true", help="replace the Signals section of docs/benchmarks.md")
    ap.add_argument("--split", default="test", choices=["dev", "test"], help="refusal and language split")
    ap.add_argument("--pipeline", action="store_true", help="only measure the Enrich step on ingest-benchmark spans")
    ap.add_argument("--json", action="store_true", help="print the headline numbers as JSON, nothing else")
    args = ap.parse_args()
    if args.pipeline:
        pc = pipeline_cost()
        print(f"Enrich: {pc['enrich_us_per_span']:.1f} µs CPU per span ({pc['spans']} ingest-benchmark spans, warm)")
        for name, us in pc["per_signal_us"].items():
            print(f"  {name:20s} {us:7.1f} µs per span alone")
        return
    attack_split = "test" if args.split == "test" else "fit"
    ref, att, lang = refusal_table(args.split), attack_table(attack_split), language_table(args.split)
    lang36 = language_table(args.split, [*LOCALE_LANGS, "en"])
    tp = throughput()
    if args.json:
        out = summary(ref, att, lang, tp)
        if lang36.get("n"):
            out["language_accuracy_36"] = lang36["accuracy"]
        print(json.dumps(out, indent=1))
        return
    text = markdown(ref, att, lang, tp, pipeline_cost(), lang36)
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
