"""Sandbox twin of Agora's input: deterministic video-player event logs, one folder per day.

Sessions follow a real player's life: initial buffering, start, plays and pauses, rebuffers, seeks
(a `MediaScrub` then buffering flagged `x_after_seek=true`), quality changes (auto and user),
completions, failures before and after start, and abandonment. Noise real logs carry is injected
on purpose: lines without ids, corrupt lines, unknown event types (`MediaError`), non-integer
`x_buffering_length`, empty quoted values. Files are written in the v0.3.0 text format or as
fluentd JSON lines (the original's later format), optionally gzipped.

Line shapes follow a `LineMix`, by default the mix of PBS's public GoonHilly sample (5,000 lines of
2014-09-02): 73% of the lines come from the iOS kids app, which sends no `x_tracking_id` (keyless:
the original only counted them), 18% from the Android kids app (its own key order, GUID tracking ids),
about 0.5% from Roku (a repeated `source_tag`, an unknown key), the rest from the web portal's player
in three key orders; every shape carries the logger's `severity`, `message` and `ua_*` keys, values
quoted when they hold spaces, some bare empty values, and a few non-ASCII titles. `PORTAL_ONLY` is the
portal player alone (the generator's mix before real logs were looked at).

Everything is seeded by (seed, day, file number), so a day regenerates byte for byte.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import fsspec
from isal import igzip

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
# the logger's user-agent breakdown, as it appends it to every line (constant per user agent)
UA_FIELDS = (
    'ua_user_agent_family=Chrome ua_user_agent_major=120 ua_user_agent_minor=0 ua_os_family="Windows 10"',
    'ua_user_agent_family=Safari ua_user_agent_major=17 ua_user_agent_minor=0 ua_os_family="Mac OS X"',
    'ua_user_agent_family="Mobile Safari" ua_user_agent_major=17 ua_user_agent_minor=1 ua_os_family=iOS',
    "ua_user_agent_family=Firefox ua_user_agent_major=121 ua_user_agent_minor=0 ua_os_family=Linux",
)
UA_TAIL = (
    "ua_os_major=None ua_os_minor=None ua_device_is_spider=False ua_device_is_mobile=False "
    "ua_device_family=None"
)
APP_EVENT_NAMES = {  # the iOS kids app names events in prose (and sends no tracking id)
    "MediaInitialBufferStart": "Initial buffering started",
    "MediaInitialBufferEnd": "Initial buffering ended",
    "MediaStarted": "Playback started",
    "MediaEnded": "video playback finished",
    "MediaCompleted": "Playback completed",
    "MediaFailed": "video playback error",
    "MediaBufferingStart": "Buffering started",
    "MediaBufferingEnd": "Buffering ended",
}
IOS_DEVICES = ("iPad 2G (3G GSM) iOS 7.1.2", "Unknown iPhone iOS 7.1.2", "iPad 3G (WiFi) iOS 7.1.1")
ANDROID_DEVICES = (("Android 4.0.3", "Amazon KFTT"), ("Android 4.4.2", "VERIZON HTC6500LVW"))
NON_ASCII_TITLE = "Les Misérables: Épisode 1"


@dataclass(frozen=True)
class LineMix:
    """Which players send the sessions (each its own line shape), and the noise in lines, as shares.

    Defaults: the public GoonHilly sample. Sessions not sent by an app are the web portal's player.
    """

    keyless_app: float = 0.73  # iOS kids app: no x_tracking_id (3,659 of the sample's 5,000 lines)
    android_app: float = 0.18  # keyed; x_client_id, severity, x_tpmid ... key order; GUID tracking ids
    roku_app: float = 0.005  # keyed; source_tag twice (first and last), an unknown bare key `z`
    non_ascii: float = 0.003  # lines whose title is not ASCII (14 of 5,000)
    corrupt: float = 0.002  # truncated writes, binary garbage, bad timestamps
    json_variants: float = 0.02  # JSON lines fluentd wrote otherwise: numbers, spaces, escaped quotes

    def __post_init__(self) -> None:
        shares = {name: getattr(self, name) for name in self.__dataclass_fields__}
        bad = {name: share for name, share in shares.items() if not 0 <= share <= 1}
        if bad or self.keyless_app + self.android_app + self.roku_app > 1:
            raise ValueError(f"LineMix shares must lie in [0, 1] and apps sum to at most 1: {shares}")


PUBLIC_SAMPLE = LineMix()
PORTAL_ONLY = LineMix(keyless_app=0, android_app=0, roku_app=0, non_ascii=0, json_variants=0)
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
    app: str  # "portal", "ios" (keyless), "android", "roku": the line shape
    tracking_id: str
    video: Video
    client_ip: str
    device_id: str
    session_id: str
    user_agent: str
    source: str
    events: list[Event]


def _app(rng: random.Random, mix: LineMix) -> str:
    roll = rng.random()
    for app, share in (("ios", mix.keyless_app), ("android", mix.android_app), ("roku", mix.roku_app)):
        if roll < share:
            return app
        roll -= share
    return "portal"


def _guid(rng: random.Random) -> str:
    text = f"{rng.getrandbits(128):032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def make_session(
    rng: random.Random, videos: list[Video], day_seconds: float = 86_400, mix: LineMix = PUBLIC_SAMPLE
) -> Session:
    app = _app(rng, mix)
    video = rng.choice(videos)
    legacy = app == "portal" and rng.random() < 0.1  # short legacy ids get "-tpmid" by the key rule
    tracking = str(rng.randint(10**8, 10**9)) if legacy else f"{rng.getrandbits(128):032x}"
    if app == "android":
        tracking = _guid(rng)
    start = rng.uniform(0, day_seconds - 4 * 3600)  # sessions end within the day
    writer = SessionWriter(rng, video, start)
    return Session(
        app=app,
        tracking_id=tracking,
        video=video,
        client_ip=f"{rng.randint(11, 220)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        device_id=f"{rng.getrandbits(64):016x}",
        session_id=f"{rng.getrandbits(80):020X}",
        user_agent=rng.choice(USER_AGENTS),
        source=rng.choice(("cove-jwplayer", "cove-videojs", "partner-player")),
        events=writer.run(),
    )


def _fields(session: Session, event: Event, rng: random.Random, mix: LineMix) -> dict[str, str]:
    """The event's key/value pairs in the order its player sends them."""
    if session.app == "ios":
        fields = _ios_fields(session, event, rng)
    elif session.app == "android":
        fields = _android_fields(session, event, rng)
    else:
        fields = _portal_fields(session, event, rng)
    if rng.random() < mix.non_ascii and "x_episode_title" in fields:
        fields["x_episode_title"] = NON_ASCII_TITLE
    return fields


def _ios_fields(session: Session, event: Event, rng: random.Random) -> dict[str, str]:
    video, name = session.video, APP_EVENT_NAMES.get(event.event_type, "Playback started")
    fields = {
        "severity": "Error" if name.startswith(("Playback s", "Initial")) else "Information",
        "event_type": name,
        "x_tpmid": video.tpmid,
        "component": "video player",
        "x_app_version": "2.1.2 (cbca605)",
        "x_program_title": video.program,
        "x_device_id": session.device_id * 2,
        "message": name,
        "x_session_id": session.session_id,
        "x_episode_title": video.title,
        "x_device_info": IOS_DEVICES[int(session.device_id[0], 16) % len(IOS_DEVICES)],
    }
    if rng.random() < 0.05:  # the app's other key order: video length and watched time first
        fields = {"x_video_length": str(video.length), "x_duration_watched": "41", **fields}
    return fields


def _android_fields(session: Session, event: Event, rng: random.Random) -> dict[str, str]:
    video = session.video
    os_name, model = ANDROID_DEVICES[int(session.device_id[0], 16) % len(ANDROID_DEVICES)]
    return {
        "x_client_id": session.device_id,
        "severity": "Information",
        "x_tpmid": video.tpmid,
        "component": "kids-player",
        "x_android_os": os_name,
        "x_program_title": video.program,
        "x_device_model": model,
        "x_video_location": f"{event.location:g}",
        "x_tracking_id": session.tracking_id,
        "message": APP_EVENT_NAMES.get(event.event_type, "Playback event"),
        "x_session_id": session.session_id.lower(),
        "x_episode_title": video.title,
        **event.extra,
        "event_type": event.event_type,
    }


def _portal_fields(session: Session, event: Event, rng: random.Random) -> dict[str, str]:
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
    elif noise < 0.011:
        fields["x_stream_size"] = fields["x_bandwidth"] = ""  # bare empty values (`x_stream_size= `)
    if session.app == "roku":  # source_tag first and again last; an unknown bare key
        return {"source_tag": "ga-roku", **fields, "z": "1"}
    order = rng.random()  # the portal's three key orders (event type last, first, or mid-line)
    if order < 0.3:
        first = ("event_type", "component", "x_useragent", "x_tracking_id", "x_session_id")
        fields = {**{k: fields[k] for k in first if k in fields}, **fields}
    elif order < 0.4:
        fields = dict(sorted(fields.items()))
    return {"severity": "Information", **fields, "message": "Video event"}


SOURCES = {"ios": "cove-mobile-kids-ios", "android": "kids-android", "roku": "ga-roku"}
BARE_EMPTY = ("x_stream_size", "x_bandwidth")


def _source(session: Session) -> str:
    return SOURCES.get(session.app, session.source)


def _ua(session: Session) -> str:
    return f"{UA_FIELDS[USER_AGENTS.index(session.user_agent)]} {UA_TAIL}"


@dataclass(frozen=True)
class Stamp:
    """A moment of the day, formatted without datetime objects (strftime was a seventh of the time)."""

    day: date
    millis: int  # since midnight

    @classmethod
    def of(cls, day: date, seconds: float) -> Stamp:
        return cls(day, round(seconds * 1000))

    def text(self, date_time: str = " ", millis: str = ",") -> str:
        seconds, ms = divmod(self.millis, 1000)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        day = self.day + timedelta(days=hour // 24) if hour >= 24 else self.day
        return f"{day.isoformat()}{date_time}{hour % 24:02d}:{minute:02d}:{second:02d}{millis}{ms:03d}"


def text_line(when: Stamp, fields: dict[str, str], session: Session) -> str:
    """`YYYY-MM-DD HH:MM:SS,mmm - Goonhilly [INFO] k="v" k2=v2 ...` as release 0.3.0 reads it."""
    stamp = when.text()
    pairs = [
        f"{k}={v}"
        if (v and " " not in v and k != "component") or (not v and k in BARE_EMPTY)
        else f'{k}="{v}"'
        for k, v in fields.items()
    ]
    pairs += [f"client_id={session.client_ip}", f"source_tag={_source(session)}", _ua(session)]
    return f"{stamp} - Goonhilly [INFO] {' '.join(pairs)}"


def json_line(when: Stamp, fields: dict[str, str], session: Session, variant: float = 1.0) -> str:
    """A fluentd JSON record: time, remote (client IP), agent (user agent), path (/log/v1/<source>).
    `variant` below 1/3, 2/3, 1: numbers as JSON numbers, `", "` separators, an escaped quote."""
    record: dict[str, object] = {
        "time": when.text("T", ".") + "Z",
        "remote": session.client_ip,
        "agent": session.user_agent,
        "path": f"/log/{_source(session)}/event",
        **fields,
    }
    if variant < 1 / 3 and "x_video_location" in record:
        record["x_video_location"] = float(str(record["x_video_location"]))
    elif variant < 2 / 3:
        return json.dumps(record)
    elif variant < 1 and "x_episode_title" in record:
        record["x_episode_title"] = f'"{record["x_episode_title"]}"'
    return json.dumps(record, separators=(",", ":"))


def corrupt_line(rng: random.Random, good: str) -> str:
    kind = rng.randrange(3)
    if kind == 0:
        return good[: rng.randint(5, 40)]  # truncated write
    if kind == 1:
        return "\x00\x1f garbage " + f"{rng.getrandbits(64):x}"
    return "not-a-date 12:00:00 - Goonhilly [INFO] " + good.rsplit("] ", 1)[-1][:80]


def file_lines(
    day: date, seed: int, file_number: int, sessions: int, fmt: str, mix: LineMix = PUBLIC_SAMPLE
) -> Iterator[str]:
    """All lines of one file, time-ordered like a server's log, for `sessions` sessions."""
    rng = random.Random(f"{seed}-{day.isoformat()}-{file_number}")
    videos = catalogue(seed)
    records = []
    for _ in range(sessions):
        session = make_session(rng, videos, mix=mix)
        records.extend((event.ts, index, session, event) for index, event in enumerate(session.events))
    records.sort(key=lambda r: (r[0], r[1]))
    for ts, _, session, event in records:
        when, fields = Stamp.of(day, ts), _fields(session, event, rng, mix)
        if fmt == "json":
            roll = rng.random()
            line = json_line(
                when, fields, session, roll / mix.json_variants if roll < mix.json_variants else 1.0
            )
        else:
            line = text_line(when, fields, session)
        yield corrupt_line(rng, line) if rng.random() < mix.corrupt else line


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
    mix: LineMix = PUBLIC_SAMPLE,
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
        data = "".join(f"{line}\n" for line in file_lines(day, seed, number, per_file, fmt, mix)).encode()
        if gzip_files:  # ISA-L: a tenth of zlib's level-9 time (the demo's logs took seconds to gzip)
            data = igzip.compress(data, compresslevel=2, mtime=0)
        with fs.open(path, "wb") as handle:
            handle.write(data)
        written.append(path if "://" not in root else f"{root.split('://')[0]}://{path}")
    return written


def write_local_file(
    path: str, lines: int, day: date, *, seed: int = 7, fmt: str = "text", mix: LineMix = PUBLIC_SAMPLE
) -> int:
    """Stream about `lines` lines to one local file in 500k-line pieces (bounded memory); returns lines."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    written, number = 0, 0
    with open(path, "w", encoding="utf-8") as handle:
        while written < lines:
            sessions = max(1, min(500_000, lines - written) // EVENTS_PER_SESSION)
            block = [f"{line}\n" for line in file_lines(day, seed, number, sessions, fmt, mix)]
            handle.writelines(block)
            written += len(block)
            number += 1
    return written
