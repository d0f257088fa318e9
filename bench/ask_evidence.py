"""Evidence retrieval without an LLM (issue 19): SciFact "selection only" evidence
precision/recall/F1, abstention, `ask` latency and the cost of the stored sentences.

Usage: .venv/bin/python bench/ask_evidence.py [--work DIR] [--folds 5] [--scale 0]
With a chat model instead (bench/ask_llm.py: citation precision, label accuracy):
       .venv/bin/python bench/ask_evidence.py --llm-url URL --llm-model M [--limit N]

Libraries (made in ``--work`` by `paperatlas ingest` + `index` when missing, then reused):
SciFact's 5,183 abstracts and CSFCube's 4,205 computer-science abstracts, each indexed with
the default model (papers; sentences are split by `index` and embedded when a question
needs them). Questions: the 809 SciFact train claims.

Measures, all in one run:
- abstract level: a returned abstract counts when it is one of the claim's evidence
  abstracts; sentence level: a returned sentence counts when it is one of the claim's
  rationale sentences (claims-train.csv). Claims without evidence count in precision
  (anything returned for them is wrong). Our sentences are mapped to SciFact's by
  offsets: both splits of an abstract are laid on its text with white space (and BEIR's
  literal ``\\n``) collapsed, and each of ours takes the SciFact sentence it overlaps most.
- ours: hybrid papers, then their sentences by ``w * cosine + (1 - w) * coverage``
  (the sentence's score) plus ``v`` times its paper's retrieval score over the best's;
  ``w``, ``v``, the papers scored and the sentences returned chosen by k-fold
  cross-validation on sentence F1 (held-out F1 reported), the simplest within one
  standard error of the best kept (no paper term, one signal, fewer papers and
  sentences); then the abstention threshold on the best sentence's own score, chosen on
  the dev claims (SciFact with and without evidence, and the claims asked of CSFCube).
- peers: BM25 sentence ranking over BM25-retrieved abstracts; plain MiniLM cosine over
  every sentence of the library (each with its own cross-validated depth and count).
- latency: `lib.ask` p50/p99 warm (the model loaded) over the claims, with the process's
  kept sentence vectors as a server has them, and cold (none kept: every question embeds
  its papers' sentences); ``--scale N`` also builds an N-paper library of SciFact copies
  (their stored vectors and sentence splits copied, not computed again).
- cost: the stored splits' bytes and the time to split, against embedding, per 100k papers.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore")

from paperatlas import Library  # noqa: E402
from paperatlas.search import evidence as ev  # noqa: E402
from paperatlas.search.answer import AnswerSettings, select  # noqa: E402
from paperatlas.search.evidence import Scored  # noqa: E402
from paperatlas.search.query import terms  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = [round(0.1 * i, 1) for i in range(11)]
DEPTHS = [5, 10, 20, 30]
COUNTS = [1, 2, 3, 4, 5]
PRIORS = [0.0, 0.5, 1.0]
PER_PAPER = 3


@dataclass
class Claim:
    id: str
    text: str
    gold: dict[str, set[int]]  # evidence abstract -> its rationale sentences
    labels: set[str] = field(default_factory=set)  # its evidence's SUPPORT / CONTRADICT


def load_claims() -> list[Claim]:
    claims: dict[str, Claim] = {}
    with (DATA / "scifact/evidence/claims-train.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            c = claims.setdefault(row["id"], Claim(row["id"], row["claim"], {}))
            if row["evidence_doc_id"]:
                idx = {int(x) for x in row["evidence_sentences"].strip("[]").split()}
                c.gold.setdefault(row["evidence_doc_id"], set()).update(idx)
                c.labels.add(row["evidence_label"])
    return list(claims.values())


def _norm(text: str) -> str:
    return " ".join(text.replace("\\n", " ").split())


def _layout(sentences: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Sentences joined (normalized) and where each lies in the join."""
    spans, parts, at = [], [], 0
    for s in sentences:
        n = _norm(s)
        spans.append((at, at + len(n)))
        parts.append(n)
        at += len(n) + 1
    return " ".join(parts), spans


class SentenceMap:
    """Our sentence index -> SciFact's, per abstract (most overlapping characters)."""

    def __init__(self, lib: Library) -> None:
        self.gold: dict[str, list[str]] = {}
        for line in (DATA / "scifact/evidence/corpus-sentences.jsonl").open(encoding="utf-8"):
            obj = json.loads(line)
            self.gold[obj["_id"]] = obj["sentences"]
        self.lib = lib
        self.cache: dict[str, list[int]] = {}
        self.exact = 0

    def of(self, key: str, ours: list[str]) -> list[int]:
        if key not in self.cache:
            text, gold = _layout(self.gold.get(key, []))
            out, at = [], 0
            for s in ours:
                n = _norm(s)
                start = text.find(n, at)
                if start < 0:  # escapes differ (19 abstracts): fall back to shared words
                    words = set(n.split())
                    best = max(range(len(gold)), key=lambda i: len(
                        words & set(text[gold[i][0]:gold[i][1]].split())), default=0)
                    out.append(best)
                    continue
                end, at = start + len(n), start + len(n)
                out.append(max(range(len(gold)), key=lambda i: min(end, gold[i][1]) -
                               max(start, gold[i][0])))
            self.cache[key] = out
        return self.cache[key]


def prf(correct: int, predicted: int, gold: int) -> tuple[float, float, float]:
    p = correct / predicted if predicted else 0.0
    r = correct / gold if gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def evaluate(claims: Sequence[Claim], returned: Sequence[list[tuple[str, int]]],
             ) -> dict[str, float]:
    """Abstract- and sentence-level selection-only P/R/F1 of ``returned`` (per claim:
    ``(abstract key, SciFact sentence index)``)."""
    dc = dp = dg = sc = sp = sg = 0
    for claim, got in zip(claims, returned, strict=True):
        docs = {k for k, _ in got}
        sents = set(got)
        dp, dg = dp + len(docs), dg + len(claim.gold)
        dc += len(docs & set(claim.gold))
        sp += len(sents)
        sg += sum(len(v) for v in claim.gold.values())
        sc += sum(1 for k, i in sents if i in claim.gold.get(k, ()))
    a, s = prf(dc, dp, dg), prf(sc, sp, sg)
    return {"abstract_p": a[0], "abstract_r": a[1], "abstract_f1": a[2],
            "sentence_p": s[0], "sentence_r": s[1], "sentence_f1": s[2]}


def cross_validate(n: int, folds: int, configs: Sequence[object],
                   f1_of: Callable[[object, Sequence[int]], float],
                   simpler: Callable[[object], float]) -> tuple[object, float, float]:
    """The config chosen on all claims (the simplest within one standard error of the
    best, by fold), and the mean and standard error of held-out F1 when each fold's
    config is chosen on the other folds."""
    order = np.random.default_rng(0).permutation(n)
    parts = [order[i::folds].tolist() for i in range(folds)]

    def choose(ids: Sequence[int]) -> object:
        given = set(ids)
        inner = [[x for x in p if x in given] for p in parts]
        inner = [p for p in inner if p]
        scores = {i: [f1_of(c, p) for p in inner] for i, c in enumerate(configs)}
        means = {i: statistics.mean(v) for i, v in scores.items()}
        best = max(means, key=lambda i: means[i])
        se = statistics.stdev(scores[best]) / math.sqrt(len(inner))
        ok = [i for i in means if means[i] >= means[best] - se]
        return configs[min(ok, key=lambda i: (simpler(configs[i]), -means[i]))]

    held = []
    for k in range(folds):
        train = [x for j, p in enumerate(parts) if j != k for x in p]
        held.append(f1_of(choose(train), parts[k]))
    return choose(list(range(n))), statistics.mean(held), statistics.stdev(held) / math.sqrt(
        folds)


def build(db: Path, corpus: Path, collection: str) -> None:
    if db.exists():
        return
    exe = str(ROOT / ".venv/bin/paperatlas")
    subprocess.run([exe, "--db", str(db), "ingest", str(corpus), "-c", collection], check=True)
    subprocess.run([exe, "--db", str(db), "index"], check=True)


def candidate_lists(lib: Library, claims: Sequence[Claim], depth: int, mode: str
                    ) -> list[list[tuple[int, float]]]:
    service = lib.search.service
    if mode == "hybrid":
        return [service.candidates(c.text, depth) for c in claims]
    return [service.lexical.search(c.text, limit=depth).hits for c in claims]


def relative(ranked: list[tuple[int, float]]) -> dict[int, float]:
    top = ranked[0][1] if ranked and ranked[0][1] > 0 else 1.0
    return {pid: score / top for pid, score in ranked}


def bm25_sentences(lib: Library, question: str, ids: list[int]) -> list[Scored]:
    """Peer: BM25 (k1 1.2, b 0.75; idf among these sentences) over the papers' sentences."""
    analyze = lib.search.service.lexical.analyze
    rows = lib.store.sentences.get_many(ids)
    texts = [(r.paper_id, i, t) for r in rows for i, t in enumerate(r.sentences)]
    docs = [analyze(" ".join(terms(t))) for _, _, t in texts]
    asked = list(dict.fromkeys(analyze(" ".join(terms(question)))))
    if not docs:
        return []
    avg = statistics.mean(len(d) for d in docs) or 1.0
    idf = ev.idf_weights(asked, [set(d) for d in docs])
    out = []
    for (pid, i, t), d in zip(texts, docs, strict=True):
        score = sum(idf[q] * (tf * 2.2) / (tf + 1.2 * (0.25 + 0.75 * len(d) / avg))
                    for q in asked if (tf := d.count(q)))
        out.append(Scored(pid, i, t, score, 0.0, 0.0))
    out.sort(key=lambda s: (-s.score, s.paper_id, s.sentence))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/work/scratch/ask19"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--scale", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the figures here as JSON")
    parser.add_argument("--claims", type=int, default=0, help="only the first N (a quick run)")
    parser.add_argument("--llm-url", help="instead: the claims through this chat model "
                        "endpoint (bench/ask_llm.py); key from $PAPERATLAS_LLM_KEY")
    parser.add_argument("--llm-model", help="the model's name at --llm-url")
    parser.add_argument("--llm-timeout", type=float, default=120.0)
    parser.add_argument("--limit", type=int, default=0, help="with --llm-url: first N claims")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.time()
    build(args.work / "scifact.db", DATA / "scifact/corpus.jsonl", "scifact")
    if args.llm_url or args.llm_model:
        llm_bench(args)
        return
    build(args.work / "csfcube.db", DATA / "csfcube/corpus.jsonl", "csfcube")
    lib = Library(args.work / "scifact.db")
    claims = load_claims()
    claims = claims[:args.claims] if args.claims else claims
    service = lib.search.service
    smap = SentenceMap(lib)
    keys = {p.id: p.key for p in lib.store.papers.get_many(
        [r.paper_id for batch in lib.store.sentences.iterate() for r in batch])}
    ours_of = {r.paper_id: r.sentences for b in lib.store.sentences.iterate() for r in b}
    exact = sum(1 for pid, s in ours_of.items() if [_norm(x) for x in s] ==
                [_norm(x) for x in smap.gold.get(keys[pid], [])])
    report: dict[str, object] = {"split_exact": exact / len(ours_of), "abstracts": len(ours_of)}

    def to_gold(chosen: Sequence[Scored]) -> list[tuple[str, int]]:
        return sorted({(keys[s.paper_id], smap.of(keys[s.paper_id], ours_of[s.paper_id])[
            s.sentence]) for s in chosen})

    # -- ours: every sentence of the top papers scored once per depth --------------------
    finder = ev.EvidenceFinder(service, kept_sentences=10**7)  # every sentence, once
    hybrid = candidate_lists(lib, claims, max(DEPTHS), "hybrid")
    scored = {d: [finder.score(c.text, [p for p, _ in ids[:d]], relative(ids[:d]))
                  for c, ids in zip(claims, hybrid, strict=True)] for d in DEPTHS}

    def ranked(w: float, d: int, i: int, v: float) -> list[Scored]:
        return sorted(scored[d][i],
                      key=lambda s: -(w * s.cosine + (1 - w) * s.lexical + v * s.paper))

    picked = {}
    for wdv in [(w, d, v) for w in WEIGHTS for d in DEPTHS for v in PRIORS]:
        lists = [ranked(*wdv[:2], i, wdv[2]) for i in range(len(claims))]
        for k in COUNTS:
            picked[(*wdv[:2], k, wdv[2])] = [to_gold(select(r, k, PER_PAPER)) for r in lists]

    def ours_f1(cfg: object, ids: Sequence[int]) -> float:
        got = picked[cfg]  # type: ignore[index]
        return evaluate([claims[i] for i in ids], [got[i] for i in ids])["sentence_f1"]

    configs = [(w, d, k, v) for w in WEIGHTS for d in DEPTHS for k in COUNTS for v in PRIORS]
    # Simpler: no paper term, one signal alone (w 0 or 1), then fewer papers and sentences.
    chosen, held, se = cross_validate(
        len(claims), args.folds, configs, ours_f1,
        lambda c: (c[3] > 0) * 1000 + (c[0] not in (0.0, 1.0)) * 100 + c[1] + c[2])  # type: ignore[index]
    w, d, k, v = chosen  # type: ignore[misc]
    all_ids = list(range(len(claims)))
    by_weight = {str(x): round(ours_f1((x, d, k, v), all_ids), 4) for x in WEIGHTS}
    by_prior = {str(x): round(ours_f1((w, d, k, x), all_ids), 4) for x in PRIORS}
    best_of = [ranked(w, d, i, v) for i in all_ids]
    report["ours"] = {"weight": w, "paper_weight": v, "papers": d, "sentences": k,
                      "held_out_f1": held, "held_out_se": se, "f1_by_weight": by_weight,
                      "f1_by_paper_weight": by_prior,
                      **evaluate(claims, [to_gold(select(r, k, PER_PAPER)) for r in best_of])}

    # -- peers -----------------------------------------------------------------------------
    lexical = candidate_lists(lib, claims, max(DEPTHS), "lexical")
    bm25 = {dd: [bm25_sentences(lib, c.text, [p for p, _ in ids[:dd]])
                 for c, ids in zip(claims, lexical, strict=True)] for dd in DEPTHS}
    every = [r for b in lib.store.sentences.iterate() for r in b]
    matrix = np.vstack(finder.vectors()(every)).astype(np.float32)
    where = [(r.paper_id, i) for r in every for i in range(len(r.sentences))]
    cosine_all = []
    for c in claims:
        sims = matrix @ service.query_vector(c.text)
        top = np.argsort(-sims)[:50]
        cosine_all.append([Scored(where[j][0], where[j][1], "", float(sims[j]), 0.0, 0.0)
                           for j in top])
    for name, lists in (("bm25", None), ("minilm_all", cosine_all)):
        grid = [(dd, kk) for dd in (DEPTHS if lists is None else [0]) for kk in COUNTS]
        got_of = {(dd, kk): [to_gold(select(x, kk, PER_PAPER)) for x in
                             (bm25[dd] if lists is None else lists)] for dd, kk in grid}

        def peer_f1(cfg: object, ids: Sequence[int], got_of: object = got_of) -> float:
            got = got_of[cfg]  # type: ignore[index]
            return evaluate([claims[i] for i in ids], [got[i] for i in ids])["sentence_f1"]

        pc, ph, pse = cross_validate(len(claims), args.folds, grid, peer_f1,
                                     lambda c: c[0] + c[1])  # type: ignore[index]
        dd, kk = pc  # type: ignore[misc]
        src = bm25[dd] if lists is None else lists
        report[name] = {"papers": dd, "sentences": kk, "held_out_f1": ph, "held_out_se": pse,
                        **evaluate(claims, [to_gold(select(src[i], kk, PER_PAPER))
                                            for i in all_ids])}

    # -- abstention: the threshold on the best sentence's score -------------------------
    best_sci = [max((w * s.cosine + (1 - w) * s.lexical for s in scored[d][i]), default=0.0)
                for i in all_ids]
    lib.close()
    other = Library(args.work / "csfcube.db")
    ofinder = ev.EvidenceFinder(other.search.service, cosine_weight=w, paper_weight=v,
                                papers=d)
    best_csf = [max((s.score for s in ofinder.find(c.text).sentences), default=0.0)
                for c in claims]
    with_ev = [i for i, c in enumerate(claims) if c.gold]
    without = [i for i, c in enumerate(claims) if not c.gold]

    def rates(t: float) -> dict[str, float]:
        return {"csfcube_abstain": float(np.mean([b < t for b in best_csf])),
                "wrong_abstain_with_evidence": float(np.mean([best_sci[i] < t for i in with_ev])),
                "abstain_without_evidence": float(np.mean([best_sci[i] < t for i in without]))}

    grid_t = [round(x, 3) for x in np.arange(0.2, 0.8, 0.005)]
    feasible = [t for t in grid_t if rates(t)["csfcube_abstain"] >= 0.9
                and rates(t)["wrong_abstain_with_evidence"] <= 0.1]

    def f1_at(t: float) -> float:
        got = [[] if best_sci[i] < t else to_gold(select(best_of[i], k, PER_PAPER))
               for i in all_ids]
        return evaluate(claims, got)["sentence_f1"]

    if feasible:  # the middle of the feasible range: margin on both sides
        threshold = feasible[len(feasible) // 2]
    else:  # closest to both goals
        threshold = min(grid_t, key=lambda t: max(0.9 - rates(t)["csfcube_abstain"],
                                                   rates(t)["wrong_abstain_with_evidence"] - 0.1))
    report["abstention"] = {"threshold": threshold, "feasible": [feasible[0], feasible[-1]]
                            if feasible else None, **rates(threshold),
                            "sentence_f1_with_abstention": f1_at(threshold),
                            **{f"with_abstention_{k2}": v for k2, v in evaluate(claims, [
                                [] if best_sci[i] < threshold else
                                to_gold(select(best_of[i], k, PER_PAPER)) for i in all_ids]
                            ).items()}}
    other.close()

    # -- latency and cost --------------------------------------------------------------------
    lib = Library(args.work / "scifact.db")
    lib.ask.finder.cosine_weight, lib.ask.finder.papers = w, d
    lib.ask.finder.paper_weight = v
    lib.ask.settings = AnswerSettings(threshold, k, PER_PAPER)
    report["latency_5k"] = latency(lib, [c.text for c in claims])
    report["latency_5k_cold"] = latency(lib, [c.text for c in claims], cold=True)
    papers, sentences, size = lib.store.sentences.totals()
    report["storage"] = {"papers": papers, "sentences": sentences, "bytes": size,
                         "bytes_per_100k_papers": size / papers * 100_000}
    report["index_time"] = index_time(lib, args.work)
    lib.close()
    if args.scale:
        report[f"latency_{args.scale}"] = scaled_latency(args.work, args.scale, claims,
                                                         (w, d, k, v, threshold))
    report["meta"] = {"date": f"{datetime.now(UTC):%Y-%m-%d}", "machine": platform.machine(),
                      "cores": os.cpu_count(), "load": os.getloadavg(),
                      "seconds": time.time() - started}
    text = json.dumps(report, indent=2, default=float)
    print(text)
    if args.out:
        args.out.write_text(text)


def llm_bench(args: argparse.Namespace) -> None:
    """The claims through a chat model: citation precision and label accuracy."""
    from ask_llm import main_llm

    if not (args.llm_url and args.llm_model):
        raise SystemExit("--llm-url and --llm-model go together")
    lib = Library(args.work / "scifact.db")
    claims = load_claims()
    report = main_llm(lib, claims[:args.limit] if args.limit else claims, SentenceMap(lib),
                      args.llm_url, args.llm_model, os.environ.get("PAPERATLAS_LLM_KEY"),
                      args.llm_timeout)
    lib.close()
    text = json.dumps(report, indent=2, default=float)
    print(text)
    if args.out:
        args.out.write_text(text)


def latency(lib: Library, questions: list[str], n: int = 200, *,
            cold: bool = False) -> dict[str, float]:
    """``lib.ask`` p50/p99 over ``n`` questions after 3 to warm up; ``cold``: no sentence
    vector kept from an earlier question."""
    for q in questions[:3]:
        lib.ask(q)
    lib.search.service._query_vector.cache_clear()
    times = []
    for q in questions[3:3 + n]:
        if cold:
            lib.ask.finder._vectors = None
        t0 = time.perf_counter()
        lib.ask(q)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"p50_ms": statistics.median(times), "p99_ms": times[int(len(times) * 0.99) - 1],
            "questions": len(times)}


def index_time(lib: Library, work: Path, n: int = 400) -> dict[str, float]:
    """Seconds to split the abstracts of ``n`` SciFact papers into sentences, against
    embedding the same papers (a fresh library of them), per 100k papers."""
    from paperatlas.search.semantic import embed_changes
    from paperatlas.search.sentences import split_abstracts

    sample = work / "timing.jsonl"
    with sample.open("w", encoding="utf-8") as out:
        for line in list((DATA / "scifact/corpus.jsonl").open(encoding="utf-8"))[:n]:
            out.write(line)
    db = work / "timing.db"
    for p in work.glob("timing.db*"):
        if p.is_file():
            p.unlink()
    small = Library(db)
    small.ingest([sample])
    embedder = small.search.service.embedder
    embedder.encode(["warm up"])
    t0 = time.perf_counter()
    embed_changes(small.store, small.vectors, embedder)
    t1 = time.perf_counter()
    split_abstracts(small.store)
    t2 = time.perf_counter()
    small.close()
    return {"papers": n, "paper_vectors_s": t1 - t0, "sentences_s": t2 - t1,
            "sentences_s_per_100k": (t2 - t1) / n * 100_000,
            "paper_vectors_s_per_100k": (t1 - t0) / n * 100_000}


def scaled_latency(work: Path, scale: int, claims: list[Claim],
                   cfg: tuple[float, int, int, float, float]) -> dict[str, float]:
    """`ask` latency on a library of ``scale`` papers: SciFact's copied (titles numbered,
    the originals' vectors and sentence splits copied: nothing is embedded again)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from paperatlas.embed.base import paper_text
    from paperatlas.search.semantic import text_hash
    from search_latency import write_corpus

    db = work / f"scale{scale}.db"
    docs = [json.loads(x) for x in (DATA / "scifact/corpus.jsonl").open(encoding="utf-8")]
    copies = -(-scale // len(docs))
    if not db.exists():
        corpus = work / f"scale{scale}.jsonl"
        write_corpus(corpus, docs, copies)
        big = Library(db)
        big.ingest([corpus])
        big.index(embed=False)
        conn = big.store.conn
        conn.execute("ATTACH DATABASE ? AS src", (str(work / "scifact.db"),))
        with big.store.transaction():
            for pid, key, title, abstract in conn.execute(
                    "SELECT id, key, title, abstract FROM main.papers").fetchall():
                base = key.rsplit("-", 1)[0]
                conn.execute(
                    "INSERT OR REPLACE INTO main.embeddings (paper_id, model, text_hash,"
                    " vector, title_vector) SELECT ?, e.model, ?, e.vector, e.title_vector"
                    " FROM src.embeddings e JOIN src.papers p ON p.id = e.paper_id"
                    " WHERE p.key = ?", (pid, text_hash(paper_text(title, abstract)), base))
                conn.execute(
                    "INSERT OR REPLACE INTO main.paper_sentences SELECT ?, s.text_hash,"
                    " s.sentences FROM src.paper_sentences s"
                    " JOIN src.papers p ON p.id = s.paper_id WHERE p.key = ?", (pid, base))
        conn.execute("DETACH DATABASE src")
        big.index()  # nothing to embed: marks the vectors and splits current, the ANN
        big.close()
    big = Library(db)
    w, d, k, v, threshold = cfg
    big.ask.finder.cosine_weight, big.ask.finder.papers = w, d
    big.ask.finder.paper_weight = v
    big.ask.settings = AnswerSettings(threshold, k, PER_PAPER)
    out = latency(big, [c.text for c in claims])
    out["papers"] = big.store.papers.counts()["papers"]
    big.close()
    return out


if __name__ == "__main__":
    main()
