"""The ingest pipeline: parse each file, dedup each record, store it.

Each file is one unit of work: its records, sources, collection links and
log entry commit together, or (on a malformed file) not at all. A file is stored
in batches of :data:`~.ingest.resume.BATCH_RECORDS` records, each committed with
where the file stands, so that ingesting the same file again (after a kill)
resumes after its last batch; a format that is not one record per line is parsed
to its end before its first batch commits, so a broken file still fails whole. A
dry run and ``strict`` keep one transaction per file (all or nothing). A record that
breaks a limit (:mod:`.ingest.limits`) is rejected and the rest of its file goes
in (``strict`` fails the file instead). A dry run does the same work and rolls
it back, so it reports exactly what would happen. A run left ``running`` by a
process that is gone (killed) is marked ``interrupted`` when the next run starts.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from .batchwrites import BatchWrites
from .dedup import Match, Matcher
from .errors import LibraryWriteError, PaperatlasError, ParseError
from .ingest import FieldMap, InputFile, make_parser, numbered_lines, parser_class
from .ingest.base import Parser
from .ingest.keys import content_collection, default_collection, expand_paths, new_keys
from .ingest.limits import MAX_TITLE_CHARS
from .ingest.prepare import Prepared
from .ingest.resume import (
    BATCH_RECORDS,
    COUNTS,
    Resume,
    line_offset,
    one_record_per_line,
    parses_whole,
)
from .liveness import is_alive, this_process
from .records.papers import Change, FileReport, IngestReport, Record, Rejection
from .records.serialize import to_json
from .store import Store, utcnow
from .store.keys import key_hash
from .store.provenance import source_row
from .store.sources import signal_rows
from .text import storable

#: ``progress(path, bytes_done, bytes_total)``
ProgressFn = Callable[[str, int, int], None]
__all__ = ["MAX_TITLE_CHARS", "Importer", "IngestOptions", "ProgressFn"]

#: How many rejections a report lists in full (all are counted).
MAX_LISTED_REJECTIONS = 100
#: How many added/merged records a detailed (dry-run) report lists.
MAX_LISTED_CHANGES = 100_000


@dataclass(frozen=True)
class IngestOptions:
    """What the user asked of one ingest call."""

    collection: str | None = None
    format: str | None = None
    mapping: FieldMap | None = None
    dry_run: bool = False
    strict: bool = False  # a rejected record fails its whole file


def _message(path: Path, exc: Exception) -> str:
    """A file error's message: ours as it is, anything else (a bug) with its type."""
    if isinstance(exc, PaperatlasError):
        return storable(str(exc))
    return storable(f"{path}: cannot ingest this file ({type(exc).__name__}: {exc})"[:500])


def _version_change(store: Store, paper_id: int, rec: Record, source: str) -> int:
    """How ``rec``'s version (``extra["signals"]["version"]``, a number) compares with the
    one ``source`` gave of the paper before: 1 newer (it revises the paper), -1 older (its
    signals are stale and not stored), 0 the same or either unknown."""
    version = rec.extra.get("signals", {}).get("version")
    if not isinstance(version, int):
        return 0
    have = store.signals.of([paper_id]).get(paper_id, {}).get(source, {}).get("version")
    if not isinstance(have, int) or version == have:
        return 0
    return 1 if version > have else -1


@dataclass
class _FileState:
    """What the batches of one file share."""

    file_id: int
    now: str
    collection_id: int = 0
    records_before: int = 0  # records counted before the current batch
    last_stored: int = 0  # the file's last entry stored before (later ones are new)


class Importer:
    """Runs ingest over a :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.matcher = Matcher(store.papers)
        self.new = BatchWrites()
        self.detail = False
        self.strict = False
        self.named_by_file = False  # no collection given: name it after the file (or content)

    def ingest(self, paths: Iterable[str | Path], options: IngestOptions,
               progress: ProgressFn | None = None) -> IngestReport:
        if options.format:
            parser_class(options.format)  # a bad name fails before any file is touched
        files = expand_paths(paths)
        prov = self.store.provenance
        run_id = None
        if not options.dry_run:
            with self.store.transaction():
                self._close_dead_runs()
                run_id = prov.start_run(
                    {"paths": [str(p) for p in files], "collection": options.collection,
                     "format": options.format, "process": this_process()}, utcnow())
        report = IngestReport(run_id=run_id, dry_run=options.dry_run)
        self.detail = options.dry_run
        self.strict = options.strict
        self.named_by_file = options.collection is None
        status = "interrupted"  # unless the loop below completes
        try:
            for path in files:
                report.files.append(self._file(path, options, run_id, progress))
            status = "ok" if not report.failed else "errors"
        finally:
            if run_id is not None:
                summary = to_json(report)
                summary.pop("files")
                with self.store.transaction():
                    prov.finish_run(run_id, status, summary, utcnow())
        return report

    def ingest_page(self, file: InputFile, options: IngestOptions, run_id: int | None,
                    then: Callable[[FileReport], None] | None = None) -> FileReport:
        """An answer fetched from a source (``file.origin``), ingested like a file of
        ``options.format``; ``then`` runs inside the same transaction, so a source's
        cursor moves exactly when the records it has seen are stored."""
        self.detail = options.dry_run
        self.strict = options.strict
        self.named_by_file = options.collection is None
        return self._file(file.path, options, run_id, None, file=file, then=then)

    def _close_dead_runs(self) -> None:
        """Mark ``interrupted`` the runs still ``running`` whose process is gone."""
        prov = self.store.provenance
        for run_id, options in prov.running_runs():
            if is_alive(options.get("process")) is False:
                prov.finish_run(run_id, "interrupted", prov.run_totals(run_id), utcnow())

    def _file(self, path: Path, options: IngestOptions, run_id: int | None,
              progress: ProgressFn | None, *, file: InputFile | None = None,
              then: Callable[[FileReport], None] | None = None) -> FileReport:
        report = FileReport(path=storable(file.origin if file and file.origin else str(path)))
        self.new.clear()  # nothing left over from a file that failed
        sha: str | None = None
        try:
            file = file or InputFile.inspect(path)
            sha = file.sha256
            parser: Parser | None = None
            if file.blank:  # an empty file holds no records
                report.collection = options.collection or default_collection(path, None)
                report.format = options.format
            else:
                parser = make_parser(file, options.format, options.mapping)
                report.format = parser.name
                report.collection = options.collection or default_collection(path, parser.name)
            if (parser is not None and run_id is not None and then is None
                    and not options.dry_run and not options.strict):
                self._batches(file, parser, report, run_id, progress, sha)
                return report
            with self.store.transaction(dry_run=options.dry_run):
                if parser is not None:
                    state = self._begin(file, report)
                    with closing(self._stream(file, parser, None, progress)) as records:
                        for rec in records:
                            self._take(rec, report, state, run_id)
                self.new.flush(self.store)
                if run_id is not None:
                    self.store.provenance.log_file(run_id, report, sha, utcnow())
                if then is not None:
                    then(report)
        except LibraryWriteError:  # a full disk or a read-only library: stop here
            raise
        except Exception as exc:  # one file's failure (even a bug) never ends the command
            failed = FileReport(path=report.path, format=report.format,
                                collection=report.collection, error=_message(path, exc))
            if isinstance(exc, ParseError):
                failed.error_line = exc.line
            self._log(run_id, failed, sha)
            return failed
        return report

    def _batches(self, file: InputFile, parser: Parser, report: FileReport, run_id: int,
                 progress: ProgressFn | None, sha: str) -> None:
        """Ingest a file in transactions of :data:`BATCH_RECORDS` records, each saving
        where the file stands, so that the next ingest of the same file (a killed one's)
        resumes after the last committed batch. A format that is not one record per line
        is parsed to its end before the first batch commits (a broken file fails whole);
        a line of JSON Lines that is broken is a rejected record."""
        prov = self.store.provenance
        checked = one_record_per_line(parser)
        state: _FileState | None = None
        records: Iterator[Prepared] = iter(())
        try:
            while True:
                with self.store.transaction():
                    if state is None:
                        state = self._begin(file, report)
                        resume = self._resume(state.file_id, report)
                        checked = checked or resume is not None
                        records = self._stream(file, parser, resume, progress)
                    last: Prepared | None = None
                    for last in records:
                        self._take(last, report, state, run_id)
                        if report.records - state.records_before >= BATCH_RECORDS:
                            break
                    else:  # the end of the file
                        self.new.flush(self.store)
                        prov.clear_progress(state.file_id)
                        prov.log_file(run_id, report, sha, utcnow())
                        return
                    if not checked:
                        parses_whole(file, type(parser)(parser.mapping))
                        checked = True
                    self.new.flush(self.store)
                    state.records_before = report.records
                    counts = {name: getattr(report, name) for name in COUNTS}
                    prov.save_progress(state.file_id, last.entry, last.line,
                                       {**counts, "by_reason": report.rejected_by_reason},
                                       utcnow())
        finally:
            if isinstance(records, Generator):
                records.close()

    def _resume(self, file_id: int, report: FileReport) -> Resume | None:
        """Where an earlier ingest of this file stopped (its counts go on in ``report``)."""
        found = self.store.provenance.progress(file_id)
        if found is None:
            return None
        entry, line, state = found
        for name in COUNTS:
            setattr(report, name, int(state.get(name, 0)))
        report.rejected_by_reason = dict(state.get("by_reason", {}))
        return Resume(entry, line, state)

    def _begin(self, file: InputFile, report: FileReport) -> _FileState:
        now = utcnow()
        file_id = self.store.provenance.file_id(
            sha256=file.sha256, path=storable(file.origin or str(file.path.resolve())),
            size=file.size, fmt=report.format or "", encoding=file.encoding, now=now)
        return _FileState(file_id, now, last_stored=self.store.provenance.last_entry(file_id))

    def _stream(self, file: InputFile, parser: Parser, resume: Resume | None,
                progress: ProgressFn | None) -> Generator[Prepared, None, None]:
        """The file's records after ``resume`` (all without it), prepared for storage
        (:meth:`~.ingest.base.Parser.prepared`): a file of one record per line is read
        from the line after; any other is parsed from its start and the records already
        stored are passed over before any lookup."""
        path = str(file.path)
        offset = line_offset(file, resume.line) if (
            resume is not None and one_record_per_line(parser)) else None
        done = offset or 0

        def on_bytes(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(path, done, file.size)

        if progress is not None and done:
            progress(path, done, file.size)
        with file.open_text(on_bytes, offset=done) as fh:
            lines = numbered_lines(fh, path)
            before = 0
            if offset is not None and resume is not None:
                lines.number, before = resume.line, resume.entry
            after = resume.entry - before if resume is not None else 0
            for ready in parser.prepared(file, lines, after):
                ready.rec.entry += before
                if resume is None or ready.rec.entry > resume.entry:
                    yield ready

    def _log(self, run_id: int | None, report: FileReport, sha: str | None) -> None:
        if run_id is not None:
            with self.store.transaction():
                self.store.provenance.log_file(run_id, report, sha, utcnow())

    def _take(self, ready: Prepared, report: FileReport, state: _FileState,
              run_id: int | None) -> None:
        """Reject one prepared record or store it (added, merged or skipped). The paper
        gets the record's text cleaned (:mod:`.textclean`: markup, LaTeX, escapes,
        mojibake); its source row keeps the title as the parser read it."""
        report.records += 1
        rec = ready.rec
        if ready.reason:
            self._reject(rec, ready.reason, report)
            return
        if not state.collection_id:  # the collection is created with its first paper
            if self.named_by_file:  # a file named by a hash: the name says what it holds
                report.collection = content_collection(report.collection or "", report.format,
                                                       rec)
            state.collection_id = self.store.collections.ensure(report.collection or "",
                                                                state.now)
        self._record(ready, report, state.file_id, state.collection_id, run_id, state.now,
                     seen=rec.entry <= state.last_stored)

    def _reject(self, rec: Record, reason: str, report: FileReport) -> None:
        if self.strict:
            raise ParseError(f"a record is rejected (strict): {reason}", path=report.path,
                             line=rec.line)
        report.rejected += 1
        report.rejected_by_reason[reason] = report.rejected_by_reason.get(reason, 0) + 1
        if len(report.rejections) < MAX_LISTED_REJECTIONS:
            report.rejections.append(Rejection(report.path, rec.line, rec.entry, reason))

    def _record(self, ready: Prepared, report: FileReport, file_id: int, collection_id: int,
                run_id: int | None, now: str, *, seen: bool) -> None:
        store = self.store
        rec, norm, rids, keys = ready.rec, ready.norm, ready.rids, ready.keys
        paper_id = store.provenance.source_paper(file_id, rec.entry) if seen else None
        if paper_id is not None:  # this very entry of this very file is already in
            self.new.flush(store)
            report.skipped += 1
            store.collections.add_paper(collection_id, paper_id, now)
            return
        hashes = [key_hash(k) for k in keys]
        if self.new.touches(rids, hashes):  # it may be a paper this batch added
            self.new.flush(store)
        match = self._match(norm, rec, rids, file_id, keys)
        triples = [(s, rids[s], rec.ids[s]) for s in rids]
        version = 0 if match is None else _version_change(store, match.paper_id, rec,
                                                           report.format or "")
        signals = rec.extra.get("signals") if version >= 0 else None
        if match is None:
            paper_id, key = self._insert(rec, norm, report.collection or "", now)
            report.added += 1
            rule = "new"
        else:
            paper_id, rule = match.paper_id, match.rule
            if version > 0:
                store.papers.revise(paper_id, title=rec.title, norm_title=norm,
                                    abstract=rec.abstract, authors=rec.authors, now=now,
                                    block_keys=keys)
            store.papers.fill_gaps(
                paper_id, abstract=rec.abstract, authors=rec.authors, date=rec.date,
                venue=rec.venue, categories=rec.categories, links=rec.links, now=now)
            report.merged += 1
            key = store.papers.key_of(paper_id)
        source = source_row(
            paper_id=paper_id, file_id=file_id, run_id=run_id, entry=rec.entry, line=rec.line,
            source_key=rec.source_key, title=ready.raw_title, match_rule=rule,
            extra=ready.extra, now=now)
        fmt = report.format or ""
        if match is None:  # nothing reads these rows before the batch ends
            self.new.add(paper_id, ids=triples, hashes=hashes, source=source,
                         link=(collection_id, paper_id, now),
                         signals=signal_rows(paper_id, fmt, signals, now) if signals else [])
        else:
            store.papers.add_identifiers(paper_id, triples)
            if signals:
                store.signals.put(paper_id, fmt, signals, now)
            store.provenance.add_sources([source])
            store.collections.add_paper(collection_id, paper_id, now)
        if self.detail and len(report.changes) < MAX_LISTED_CHANGES:
            action = "added" if rule == "new" else "merged"
            report.changes.append(Change(action, key, rec.title, rec.line, rule))

    def _match(self, norm: str, rec: Record, rids: dict[str, str], file_id: int,
               keys: list[str]) -> Match | None:
        excluded: list[int] = []
        while True:
            match = self.matcher.match(norm, rec.abstract, rids, excluded, keys)
            if match is not None:  # what follows reads the sources and signals stored
                self.new.flush(self.store)
            if (match is None or rec.source_key is None or not
                    self.store.provenance.other_key_in_file(match.paper_id, file_id,
                                                            rec.source_key)):
                return match
            excluded.append(match.paper_id)  # the file says these are different papers

    def _insert(self, rec: Record, norm: str, collection: str, now: str) -> tuple[int, str]:
        """Store a new paper under the first free key of :func:`new_keys`: its id and key."""
        for key in new_keys(rec, collection):
            paper_id = self.store.papers.insert(
                key=key, title=rec.title, norm_title=norm, abstract=rec.abstract,
                authors=rec.authors, date=rec.date, venue=rec.venue,
                categories=rec.categories, links=rec.links, now=now)
            if paper_id is not None:
                return paper_id, key
        raise AssertionError("unreachable: _keys never ends")

