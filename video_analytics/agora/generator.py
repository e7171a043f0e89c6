"""Sandbox twin of Agora's input: deterministic video-player event logs, one folder per day.

Sessions follow a real player's life: initial buffering, start, plays and pauses, rebuffers, seeks
(a `MediaScrub` then buffering flagged `x_after_seek=true`), quality changes (auto and user),
completions, failures before and after start, and abandonment. Noise real logs carry is injected
on purpose: lines without ids, corrupt lines, unknown event types (`MediaError`), non-integer
`x_buffering_length`, empty quoted values. Files are written in the v0.3.0 text format or as
fluentd JSON lines (the original's later format), optionally gzipped.

Everything is seeded by (seed, day, file number), so a day regenerates byte for byte.
"""

from __future__ import annotations

import gzip
import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import fsspec

from video_analytics.storage.options import resolve_storage_options

EVENT_TYPES = (
    "MediaInitialBufferStart",
    "MediaInitialBufferEnd",
    "MediaStarted",
    "MediaEnded",
    "MediaCompleted",
    "MediaFailed",
    "MediaBufferingStart",
    "MediaBufferingEnd",
    "MediaScrub",
    "MediaQualityChangeAuto",
    "MediaQualityChange",
)
PROGRAMS = (
    ("nova", "WGBH"),
    ("frontline", "WGBH"),
    ("newshour", "WETA"),
    ("nature", "WNET"),
    ("masterpiece", "WGBH"),
    ("american-experience", "WGBH"),
    ("antiques-roadshow", "WGBH"),
    ("independent-lens", "ITVS"),
    ("great-performances", "WNET"),
    ("washington-week", "WETA"),
)
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 13_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
)
STREAM_SIZES = (391, 664, 1172, 1824, 2836)
EVENTS_PER_SESSION = 11  # measured average of the session model below


@dataclass(frozen=True)
class Video:
    tpmid: str
    title: str
    program: str
    producer: str
    length: int  # seconds


def catalogue(seed: int, count: int = 400) -> list[Video]:
    rng = random.Random(f"catalogue-{seed}")
    videos = []
    for number in range(count):
        program, producer = PROGRAMS[number % len(PROGRAMS)]
        length = rng.choice((rng.randint(60, 600), rng.randint(1200, 3600)))
        title = f"{program.replace('-', ' ').title()} Episode {number + 1}"
        videos.append(Video(str(2_000_000_000 + number * 7919), title, program, producer, length))
    return videos


@dataclass
class Event:
    ts: float  # seconds since the day's midnight (UTC)
    event_type: str
    location: float
    extra: dict[str, str]


class SessionWriter:
    """Builds one viewing session's events; the outcome is drawn up front, then played out."""

    def __init__(self, rng: random.Random, video: Video, start: float):
        self.rng, self.video, self.t, self.pos = rng, video, start, 0.0
        self.events: list[Event] = []
        self.quality = rng.choice(STREAM_SIZES)

    def emit(self, event_type: str, **extra: str) -> None:
        self.events.append(Event(self.t, event_type, round(self.pos, 1), extra))

    def wait(self, seconds: float) -> None:
        self.t += seconds

    def play(self, seconds: float) -> bool:
        """Advance playhead and clock; returns False when the video's end is reached."""
        left = self.video.length - self.pos
        step = min(seconds, left)
        self.t += step
        self.pos += step
        return step == seconds and left > seconds

    def run(self) -> list[Event]:
        rng = self.rng
        self.emit("MediaInitialBufferStart")
        roll = rng.random()
        if roll < 0.03:  # start failure
            self.wait(rng.uniform(1, 8))
            self.emit("MediaFailed", error="manifest 404")
            return self.events
        if roll < 0.07:  # exit before video start: nothing follows
            self.wait(rng.uniform(0.5, 10))
            return self.events
        startup = rng.lognormvariate(0.2, 0.6)
        self.wait(startup)
        self.emit("MediaInitialBufferEnd", x_buffering_length=str(int(startup * 1000)))
        self.emit("MediaStarted")
        fate = rng.random()  # 0.35 watch to the end, 0.05 fail after start, else abandon
        budget = self.video.length * (1.0 if fate < 0.35 else rng.uniform(0.05, 0.9))
        watched = 0.0
        while True:
            chunk = rng.uniform(20, 240)
            if watched + chunk >= budget:
                if fate < 0.35:
                    self.play(self.video.length)
                    self.emit("MediaCompleted")
                elif fate < 0.40:
                    self.play(budget - watched)
                    self.emit("MediaFailed", error="decode error")
                else:
                    self.play(budget - watched)
                    if rng.random() < 0.6:
                        self.emit("MediaEnded")  # paused and left; otherwise just closed the tab
                return self.events
            if not self.play(chunk):
                self.emit("MediaCompleted")
                return self.events
            watched += chunk
            self.interlude()

    def interlude(self) -> None:
        rng, roll = self.rng, self.rng.random()
        if roll < 0.25:  # rebuffer
            self.emit("MediaBufferingStart", x_after_seek="false")
            stall = rng.expovariate(1 / 2.5)
            self.wait(stall)
            length = str(int(stall * 1000)) if rng.random() > 0.01 else f"{stall * 1000:.1f}"
            self.emit("MediaBufferingEnd", x_buffering_length=length, x_after_seek="false")
        elif roll < 0.40:  # seek: scrub, then buffering at the new position
            self.pos = rng.uniform(0, self.video.length * 0.9)
            self.emit("MediaScrub")
            self.emit("MediaBufferingStart", x_after_seek="true")
            latency = rng.uniform(0.2, 2.0)
            self.wait(latency)
            self.emit("MediaBufferingEnd", x_buffering_length=str(int(latency * 1000)), x_after_seek="true")
        elif roll < 0.55:  # pause
            self.emit("MediaEnded")
            self.wait(rng.uniform(5, 300))
            self.emit("MediaStarted")
        elif roll < 0.65:
            self.quality = rng.choice(STREAM_SIZES)
            self.emit("MediaQualityChangeAuto", x_auto="true")
        elif roll < 0.68:
            self.quality = rng.choice(STREAM_SIZES)
            self.emit("MediaQualityChange", x_auto="false")
        elif roll < 0.69:
            self.emit("MediaError", error="recoverable")  # unknown type: must be kept


@dataclass
class Session:
    tracking_id: str
    video: Video
    client_ip: str
    device_id: str
    session_id: str
    user_agent: str
    source: str
    events: list[Event]


def make_session(rng: random.Random, videos: list[Video], day_seconds: float = 86_400) -> Session:
    video = rng.choice(videos)
    legacy = rng.random() < 0.1  # short legacy tracking ids get "-tpmid" appended by the key rule
    tracking = str(rng.randint(10**8, 10**9)) if legacy else f"{rng.getrandbits(128):032x}"
    start = rng.uniform(0, day_seconds - 4 * 3600)  # sessions end within the day
    writer = SessionWriter(rng, video, start)
    return Session(
        tracking_id=tracking,
        video=video,
        client_ip=f"{rng.randint(11, 220)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        device_id=f"{rng.getrandbits(64):016x}",
        session_id=f"{rng.getrandbits(80):020X}",
        user_agent=rng.choice(USER_AGENTS),
        source=rng.choice(("cove-jwplayer", "cove-videojs", "partner-player")),
        events=writer.run(),
    )


def _fields(session: Session, event: Event, rng: random.Random) -> dict[str, str]:
    video = session.video
    fields = {
        "x_client_id": session.device_id,
        "component": "Video - Portal",
        "x_tpmid": video.tpmid,
        "x_episode_title": video.title,
        "x_program_title": video.program,
        "x_producer": video.producer,
        "x_video_length": str(video.length),
        "x_session_id": session.session_id,
        "x_tracking_id": session.tracking_id,
        "x_video_location": f"{event.location:g}",
        "x_stream_size": str(rng.choice(STREAM_SIZES)),
        "x_flash_player": "false",
        "x_encoding_name": "hls-2500k-16x9",
        "x_bandwidth": str(rng.randint(800, 40_000)),
        "x_start_time": "0",
        "x_useragent": session.user_agent,
        **event.extra,
        "event_type": event.event_type,
    }
    noise = rng.random()
    if noise < 0.004:
        fields.pop("x_tracking_id" if noise < 0.002 else "x_tpmid")  # keyless
    elif noise < 0.006:
        fields["x_episode_title"] = ""  # the empty quoted value the original mis-tokenised
    return fields


def text_line(when: datetime, fields: dict[str, str], session: Session) -> str:
    """`YYYY-MM-DD HH:MM:SS,mmm - Goonhilly [INFO] k="v" k2=v2 ...` as release 0.3.0 reads it."""
    stamp = when.strftime("%Y-%m-%d %H:%M:%S") + f",{when.microsecond // 1000:03d}"
    pairs = [
        f'{k}="{v}"' if (" " in v or not v or k == "component") else f"{k}={v}" for k, v in fields.items()
    ]
    pairs += [f"client_id={session.client_ip}", f"source_tag={session.source}", "ua_family=Chrome"]
    return f"{stamp} - Goonhilly [INFO] {' '.join(pairs)}"


def json_line(when: datetime, fields: dict[str, str], session: Session) -> str:
    """A fluentd JSON record: time, remote (client IP), agent (user agent), path (/log/v1/<source>)."""
    record = {
        "time": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        "remote": session.client_ip,
        "agent": session.user_agent,
        "path": f"/log/{session.source}/event",
        **fields,
    }
    return json.dumps(record, separators=(",", ":"))


def corrupt_line(rng: random.Random, good: str) -> str:
    kind = rng.randrange(3)
    if kind == 0:
        return good[: rng.randint(5, 40)]  # truncated write
    if kind == 1:
        return "\x00\x1f garbage " + f"{rng.getrandbits(64):x}"
    return "not-a-date 12:00:00 - Goonhilly [INFO] " + good.rsplit("] ", 1)[-1][:80]


def file_lines(day: date, seed: int, file_number: int, sessions: int, fmt: str) -> Iterator[str]:
    """All lines of one file, time-ordered like a server's log, for `sessions` sessions."""
    rng = random.Random(f"{seed}-{day.isoformat()}-{file_number}")
    videos = catalogue(seed)
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    records = []
    for _ in range(sessions):
        session = make_session(rng, videos)
        records.extend((event.ts, index, session, event) for index, event in enumerate(session.events))
    records.sort(key=lambda r: (r[0], r[1]))
    render = json_line if fmt == "json" else text_line
    for ts, _, session, event in records:
        line = render(midnight + timedelta(seconds=ts), _fields(session, event, rng), session)
        yield corrupt_line(rng, line) if rng.random() < 0.002 else line


def write_day(
    root: str,
    day: date,
    lines: int,
    *,
    seed: int = 7,
    files: int = 2,
    gzip_files: bool = False,
    formats: tuple[str, ...] = ("text", "json"),
    storage_options: dict | None = None,
) -> list[str]:
    """Write about `lines` lines for `day` under `<root>/YYYY-MM-DD/`; returns the written paths.

    Files alternate between the given formats; each holds whole sessions (about 11 events each).
    """
    fs, base = fsspec.core.url_to_fs(root, **resolve_storage_options(root, storage_options))
    folder = f"{base.rstrip('/')}/{day.isoformat()}"
    fs.makedirs(folder, exist_ok=True)
    per_file = max(1, lines // files // EVENTS_PER_SESSION)
    written = []
    for number in range(files):
        fmt = formats[number % len(formats)]
        suffix = ".log.gz" if gzip_files else ".log"
        path = f"{folder}/player-{number:03d}-{fmt}{suffix}"
        data = "".join(f"{line}\n" for line in file_lines(day, seed, number, per_file, fmt)).encode()
        if gzip_files:
            data = gzip.compress(data, mtime=0)
        with fs.open(path, "wb") as handle:
            handle.write(data)
        written.append(path if "://" not in root else f"{root.split('://')[0]}://{path}")
    return written


def write_local_file(path: str, lines: int, day: date, *, seed: int = 7, fmt: str = "text") -> int:
    """Stream about `lines` lines to one local file in 500k-line pieces (bounded memory); returns lines."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    written, number = 0, 0
    with open(path, "w", encoding="utf-8") as handle:
        while written < lines:
            sessions = max(1, min(500_000, lines - written) // EVENTS_PER_SESSION)
            block = [f"{line}\n" for line in file_lines(day, seed, number, sessions, fmt)]
            handle.writelines(block)
            written += len(block)
            number += 1
    return written
