"""The log reader: one folder per day under a local or s3:// root, files plain or gzipped.

Files are streamed in blocks cut at line ends, so memory is bounded by the block size, never by the
size of a day (a 5 GB day is read 32 MB at a time; 64 MB measured no faster and costs ~300 MB more
peak memory). Each block becomes a polars frame of lines without any Python work per line.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import zlib
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date

import fsspec
import polars as pl
from fsspec.utils import infer_compression
from isal import igzip_threaded
from polars.exceptions import ComputeError

from video_analytics.agora.configuration import DEFAULT_BLOCK_BYTES
from video_analytics.storage.options import open_filesystem

SAMPLE_BYTES = 1024 * 1024  # read to measure the line length of a day
DEFAULT_LINE_BYTES = 640.0  # the sandbox's text lines, on average


class LogRootError(RuntimeError):
    """The log root or a day folder cannot be read (missing, empty, unreachable)."""


class EmptyDayError(FileNotFoundError):
    """A day folder whose files are all empty (0 bytes): handled like a missing day, never as a quiet
    empty day (an upload that failed looks exactly like this)."""


@dataclass
class ReadCounters:
    files: int = 0
    bytes_read: int = 0  # after decompression
    lines: int = 0

    def as_metadata(self) -> dict[str, int]:
        return {"files_read": self.files, "bytes_read": self.bytes_read, "lines_read": self.lines}


@dataclass
class LogReader:
    """Lists a day's files and yields their lines as polars frames (`file`, `line_number`, `line`)."""

    root: str
    storage_options: Mapping[str, str] = field(default_factory=dict)
    block_bytes: int = DEFAULT_BLOCK_BYTES
    counters: ReadCounters = field(default_factory=ReadCounters)
    #: files the last `day_files` skipped as byte-for-byte copies of another file of the day -> that file
    duplicates: dict[str, str] = field(default_factory=dict)
    #: `day_files` answers by day: a run lists a day twice (missing days, then reading), and finding
    #: copies hashes every file whose size another file shares (size-rotated logs: the whole day)
    _listed: dict[date, tuple[list[str], dict[str, str]]] = field(default_factory=dict, repr=False)

    def _fs(self) -> tuple[fsspec.AbstractFileSystem, str]:
        return open_filesystem(self.root, self.storage_options)

    def day_files(self, day: date) -> list[str]:
        """Every file of `<root>/YYYY-MM-DD/` (recursively: per-host folders are read), sorted, hidden
        files skipped, and byte-for-byte copies of another file of the day skipped (a backup folder
        holding a copy of a log would count its events twice); those are left in `duplicates`. Listed
        once per reader and day."""
        if day not in self._listed:
            self._listed[day] = self._list_day(day)
        files, self.duplicates = self._listed[day]
        return list(files)

    def _list_day(self, day: date) -> tuple[list[str], dict[str, str]]:
        fs, base = self._fs()
        folder = f"{base.rstrip('/')}/{day.isoformat()}"
        try:
            found = fs.find(folder, detail=True)
        except FileNotFoundError:
            found = {}
        visible = {p: info for p, info in found.items() if not p.rsplit("/", 1)[-1].startswith(".")}
        # the shallowest path of a set of copies is kept (the day folder's own file, not the backup)
        files = sorted(visible, key=lambda p: (p.count("/"), p))
        copies = self._copies(fs, files, {p: int(visible[p].get("size") or 0) for p in files})
        duplicates = {self._url(fs, c): self._url(fs, o) for c, o in copies.items()}
        return [self._url(fs, p) for p in sorted(p for p in files if p not in copies)], duplicates

    def _copies(
        self, fs: fsspec.AbstractFileSystem, files: list[str], sizes: dict[str, int]
    ) -> dict[str, str]:
        """Files with the same bytes as an earlier file -> that file. Only files of the same non-zero size
        and the same first bytes are read whole (hashed), so a day without copies costs a listing and,
        for same-sized files (size-rotated logs), one small read each."""
        by_start: dict[tuple[int, bytes], list[str]] = defaultdict(list)
        same_size: dict[int, list[str]] = defaultdict(list)
        for path in files:
            if sizes[path]:
                same_size[sizes[path]].append(path)
        for size, paths in same_size.items():
            for path in paths if len(paths) > 1 else ():
                by_start[(size, _head(fs, path))].append(path)
        copies: dict[str, str] = {}
        for alike in (paths for paths in by_start.values() if len(paths) > 1):
            seen: dict[str, str] = {}
            for path in alike:
                digest = _digest(fs, path)
                if digest in seen:
                    copies[path] = seen[digest]
                else:
                    seen[digest] = path
        return copies

    def file_sizes(self, files: list[str]) -> dict[str, int]:
        """Stored size of each file."""
        fs, _ = self._fs()
        return {url: int(fs.size(self._path(url)) or 0) for url in files}

    def day_bytes(self, files: list[str]) -> int:
        """Stored size of the files (compressed size for .gz)."""
        fs, _ = self._fs()
        return sum(int(fs.size(self._path(p)) or 0) for p in files)

    def bytes_per_line(self, files: list[str], sample_bytes: int = SAMPLE_BYTES) -> float:
        """Average decompressed line length at the start of the first non-empty file (to size a day
        by its lines before reading it); DEFAULT_LINE_BYTES when there is no text."""
        fs, _ = self._fs()
        for url in files:
            try:
                with fs.open(self._path(url), "rb", compression="infer") as handle:
                    sample = handle.read(sample_bytes)
            except (EOFError, ValueError, OSError):  # damaged: reading it says so, naming the file
                continue
            if sample:  # whole lines only (a line longer than the sample counts as one)
                return (sample.rfind(b"\n") + 1 or len(sample)) / max(1, sample.count(b"\n"))
        return DEFAULT_LINE_BYTES

    def _url(self, fs: fsspec.AbstractFileSystem, path: str) -> str:
        return path if "://" not in self.root else f"{self.root.split('://', 1)[0]}://{path}"

    def _path(self, url: str) -> str:
        return url.split("://", 1)[1] if "://" in url else url

    def chunks(self, url: str) -> Iterator[bytes | memoryview]:
        """The raw bytes of one file (decompressed), in blocks of whole lines: views of the page cache
        for plain local files (no copy), else read and decompressed through fsspec."""
        fs, _ = self._fs()
        self.counters.files += 1
        path = self._path(url)
        if "file" in fs.protocol and infer_compression(path) is None:
            blocks = _mapped_blocks(path, self.block_bytes)
        else:
            blocks = _streamed_blocks(fs, path, self.block_bytes)
        done = 0
        try:
            for chunk in blocks:
                done += len(chunk)
                self.counters.bytes_read += len(chunk)
                yield chunk
        except (EOFError, ValueError, OSError) as exc:  # truncated or corrupt compression, I/O failure
            readable = _readable_gzip_text(fs, path) if infer_compression(path) == "gzip" else None
            where = f"after {done:,} bytes of text" if readable is None else readable
            raise LogRootError(f"cannot read {url}: {exc} ({where})") from exc

    def blocks(self, url: str) -> Iterator[pl.DataFrame]:
        """Lines of one file in blocks; line numbers are 1-based within the file."""
        first_line = 1
        for chunk in self.chunks(url):
            frame = lines_frame(bytes(chunk), first_line)
            first_line += frame.height
            self.counters.lines += frame.height
            yield frame.with_columns(pl.lit(url).alias("file"))


def _head(fs: fsspec.AbstractFileSystem, path: str, size: int = 64 * 1024) -> bytes:
    with fs.open(path, "rb") as handle:
        return handle.read(size)


def _digest(fs: fsspec.AbstractFileSystem, path: str) -> str:
    digest = hashlib.blake2b()
    with fs.open(path, "rb") as handle:
        while chunk := handle.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _readable_gzip_text(fs: fsspec.AbstractFileSystem, path: str) -> str:
    """How much of a damaged gzip file inflates before the damage: the threaded reader fails a whole
    block at once, so its count says nothing. Read again, on the error path only, by a streaming
    inflater (members one after another, as gzip allows)."""
    text_bytes, lines = 0, 0
    inflater = zlib.decompressobj(wbits=31)
    try:
        with fs.open(path, "rb") as handle:
            while chunk := handle.read(4096):  # small pieces: a corrupt one stops the count near the damage
                while chunk:
                    text = inflater.decompress(chunk)
                    text_bytes, lines = text_bytes + len(text), lines + text.count(b"\n")
                    chunk = inflater.unused_data if inflater.eof else b""
                    if inflater.eof:
                        inflater = zlib.decompressobj(wbits=31)
    except zlib.error:
        pass
    return f"it inflates to {text_bytes:,} bytes of text ({lines:,} lines) before failing"


def _streamed_blocks(fs: fsspec.AbstractFileSystem, path: str, block_bytes: int) -> Iterator[bytes]:
    """Blocks of a file read through fsspec; gzip is inflated by ISA-L on a thread of its own (measured
    2.1x zlib's speed on one core, and it runs beside the scanner instead of before it)."""
    if infer_compression(path) == "gzip":
        with fs.open(path, "rb") as raw, igzip_threaded.open(raw, "rb", threads=1) as handle:
            yield from _line_blocks(handle, block_bytes)
        return
    with fs.open(path, "rb", compression="infer") as handle:
        yield from _line_blocks(handle, block_bytes)


#: A mapped window reaches this far past the block size to find the block's last line end.
MAP_SLACK = 1024 * 1024
#: Page tables filled when mapping (one call), not page by page on first touch (measured: a quarter
#: of the scanner's time went to page faults).
MAP_FLAGS = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)


def _mapped_blocks(path: str, block_bytes: int) -> Iterator[memoryview]:
    """Blocks of whole lines as views of per-block memory maps: each window is unmapped (and leaves
    the process's memory) once its view is dropped. A line longer than a window is read by streaming."""
    with open(path, "rb") as handle:
        size, start = os.fstat(handle.fileno()).st_size, 0
        while start < size:
            offset = start - start % mmap.ALLOCATIONGRANULARITY
            length = min(start + block_bytes + MAP_SLACK, size) - offset
            window = mmap.mmap(handle.fileno(), length, offset=offset, flags=MAP_FLAGS, prot=mmap.PROT_READ)
            end = offset + length
            if end < size:
                cut = window.rfind(b"\n", start - offset + block_bytes)
                if cut < 0:
                    cut = window.rfind(b"\n", start - offset)
                if cut < 0:  # one line longer than the window
                    handle.seek(start)
                    yield from _line_blocks(handle, block_bytes)
                    return
                end = offset + cut + 1
            yield memoryview(window)[start - offset : end - offset]
            start = end


def _line_blocks(handle, block_bytes: int) -> Iterator[bytes]:
    """Blocks of whole lines (the last one may lack a final newline): a read, completed by the rest of
    its last line. One copy of the block at most (carrying the cut-off line to the next block cost
    two, a third of the reading time)."""
    while True:
        data = handle.read(block_bytes)
        if not data:
            break
        if not data.endswith(b"\n"):
            data += handle.readline()
        yield data


#: Column `lines_frame` adds when a block held invalid UTF-8: true on the lines whose bytes were replaced.
UTF8_REPLACED = "utf8_replaced"


def lines_frame(chunk: bytes, first_line: int = 1) -> pl.DataFrame:
    """Bytes -> a `line` column. Invalid UTF-8 (corrupt writes) is replaced by U+FFFD, not fatal: the
    line is kept so the parser can reject it with a reason, and flagged (`UTF8_REPLACED`) so the
    replacements are counted, not silent."""
    try:
        frame = pl.read_lines(chunk, row_index_name="line_number", row_index_offset=first_line)
    except ComputeError:
        text = chunk.decode("utf-8", errors="replace").encode("utf-8")
        frame = pl.read_lines(text, row_index_name="line_number", row_index_offset=first_line)
        replaced = _invalid_utf8_lines(chunk)
        frame = frame.with_columns(
            pl.int_range(pl.len(), dtype=pl.Int64).is_in(replaced).alias(UTF8_REPLACED)
        )
    return frame.with_columns(pl.col("line_number").cast(pl.Int64))


def _invalid_utf8_lines(chunk: bytes) -> list[int]:
    """0-based numbers of the lines that are not valid UTF-8 (a Python pass, on the rare blocks that
    have some)."""
    bad = []
    for number, line in enumerate(chunk.split(b"\n")):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(number)
    return bad
