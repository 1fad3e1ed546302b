"""Logging: structured lines (JSON in production, readable in development) that cannot leak.

Every line, from our code, Flask, werkzeug, gunicorn, RQ or any other library, goes through one
handler on the root logger, and its formatter runs one masking step (`scrub`) over the whole
event after the message has been rendered with its arguments and after any traceback has been
rendered to text (exception message, source lines of every frame, chained causes). The step:

- redacts secrets: the values of `token=`, `api_key=`, `secret=`, `password=` query or form
  parameters, passwords inside URLs (`redis://:pw@host`), and the configured secret values
  themselves (GATEWAY_TOKEN, PHONE_HASH_KEY, DATA_KEYS, AT_API_KEY) wherever they appear;
- masks every phone number, in any format: E.164 (`+26658123456`, `+27 82 123 4567`),
  international with `00`, national Lesotho numbers (`58123456`, `5812 3456`, `5812-3456`) and
  South African ones (`082 123 4567`), with `phones.mask`, whose keyed tag keeps numbers apart.

Code still masks numbers itself (`phones.mask`); the formatter is the net under it. Access logs
never carry query strings: `GunicornLogger` (the Procfile's `--logger-class`) writes the path
alone, and a filter on werkzeug's logger (`ussd-app serve`) cuts the query off its request line.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

import phonenumbers
import structlog
from gunicorn.glogging import Logger as _GunicornBaseLogger

from ussd_app import phones

if TYPE_CHECKING:
    from datetime import timedelta

    from gunicorn.config import Config as GunicornConfig
    from gunicorn.http import Request as GunicornRequest
    from gunicorn.http.wsgi import Response as GunicornResponse
    from structlog.typing import EventDict, Processor, WrappedLogger

    from ussd_app.config import Settings

REDACTED = "[redacted]"

# Query/form parameters whose values are secrets, in URLs and in `name=value` text.
_SECRET_PARAM_RE = re.compile(
    r"(?i)\b((?:gateway_|access_)?token|api_?key|secret|password|passwd|signature)"
    r"(=)[^&\s\"'<>;,]+"
)
# `scheme://user:password@host`: keep the user, drop the password.
_URL_PASSWORD_RE = re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^:/@\s]*:)[^@\s/]+@", re.IGNORECASE)
# Cheap pre-check: at least 7 digits in a row, allowing the separators people write numbers with.
_DIGIT_RUN_RE = re.compile(r"\d(?:[ ()\-.]{0,2}\d){6,}")
# What libphonenumber's matcher leaves: numbers glued to letters (`to+26658123456`) and South
# African national numbers, which it does not look for with Lesotho as the default region.
_GLUED_INTERNATIONAL_RE = re.compile(r"(?<![\d#])\+\d{8,15}(?!\d)")
_SA_NATIONAL_RE = re.compile(r"(?<![\w#])0[1-8]\d(?:[ \-]?\d){7}(?![\w])")
# A case reference's letter and dash just before the digits.
_REFERENCE_PREFIX_RE = re.compile(r"(?<![A-Za-z])[TRtr][-*#]?$")
# Dates look like national numbers to libphonenumber (`2024-05-01` has 8 digits).
_DATE_RE = re.compile(r"(?:19|20)\d\d[-/.][01]\d[-/.][0-3]\d|[0-3]\d[-/.][01]\d[-/.](?:19|20)\d\d")
# Digits that are never a phone number: durations as Python prints them (RQ: "job in
# 0:00:00.012345s"), UUIDs with or without dashes (RQ job ids and worker names), our
# correlation ids (`cid=816f26651234`, 12 hex characters whose digits can look like a Lesotho
# number), and case references (`T-58123456`, `R-1234567-8`).
_NOT_A_NUMBER_RE = re.compile(
    r"(?<![\d:])\d{1,2}:\d\d:\d\d\.\d{1,6}(?!\d)"
    r"|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"
    r"|\b[0-9a-f]{32}\b"
    r"|(?<=\bcid=)[0-9a-f]{12}\b"
    r"|(?<![A-Za-z])[TR]-\d{4,14}(?:-\d)?(?!\d)"
)
# Shortest string worth redacting literally; shorter "secrets" would blank out ordinary words.
_MIN_LITERAL_SECRET = 8

_literal_secrets: tuple[str, ...] = ()


def set_secrets(values: Iterable[str]) -> None:
    """Register secret values (tokens, keys) that must never appear in a log line."""
    global _literal_secrets
    found = {v for v in values if v and len(v) >= _MIN_LITERAL_SECRET}
    _literal_secrets = tuple(sorted(found, key=len, reverse=True))


def mask_numbers(text: str) -> str:
    """Replace every phone number in `text` by its mask (see `phones.mask`).

    Durations, UUIDs, correlation ids and case references are blanked (same length, no digits)
    before libphonenumber looks for numbers, and are skipped by the two regex passes after it:
    a line whose only digits are those (RQ's "Job OK (<uuid>)", every job) costs a regex."""
    if not _DIGIT_RUN_RE.search(text):
        return text
    work = _NOT_A_NUMBER_RE.sub(lambda m: "x" * len(m.group(0)), text)
    if not _DIGIT_RUN_RE.search(work):
        return text
    pieces: list[str] = []
    last = 0
    matcher = phonenumbers.PhoneNumberMatcher(
        work, "LS", leniency=phonenumbers.Leniency.POSSIBLE, max_tries=1000
    )
    for match in matcher:
        raw = match.raw_string.strip()
        start = match.start + match.raw_string.index(raw)
        if start > 0 and work[start - 1] == "#":  # a mask's own tag
            continue
        if _REFERENCE_PREFIX_RE.search(work[max(0, start - 3) : start]):
            continue  # a case reference (T-12345678, R-1234567-8): not a person's number
        if _DATE_RE.fullmatch(raw):
            continue
        pieces.append(text[last:start])
        pieces.append(phones.mask(raw))
        last = start + len(raw)
    pieces.append(text[last:])
    text = _mask_matches(_GLUED_INTERNATIONAL_RE, "".join(pieces))
    return _mask_matches(_SA_NATIONAL_RE, text)


def _mask_matches(pattern: re.Pattern[str], text: str) -> str:
    """Mask every match of `pattern` in `text` that does not lie inside a _NOT_A_NUMBER_RE span."""
    protected = [m.span() for m in _NOT_A_NUMBER_RE.finditer(text)]

    def masked(m: re.Match[str]) -> str:
        start, end = m.span()
        if any(a <= start and end <= b for a, b in protected):
            return m.group(0)
        return phones.mask(m.group(0))

    return pattern.sub(masked, text)


def scrub(text: str) -> str:
    """The one masking step: secrets redacted, then phone numbers masked."""
    for secret in _literal_secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if "=" in text:
        text = _SECRET_PARAM_RE.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    if "://" in text:
        text = _URL_PASSWORD_RE.sub(lambda m: m.group(1) + REDACTED + "@", text)
    return mask_numbers(text)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub_value(v) for v in value]
    if isinstance(value, bool | float | int | None):  # our own counts and durations
        return value
    text = str(value)  # anything else is rendered now, so that its text is scrubbed too
    return scrub(text)


_UNTOUCHED_KEYS = frozenset({"timestamp", "level", "logger"})


def scrub_event(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: `scrub` every value of the event (message, traceback, extras)."""
    return {
        key: value if key in _UNTOUCHED_KEYS else _scrub_value(value)
        for key, value in event_dict.items()
    }


_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
# werkzeug's request line: `"POST /ussd?token=... HTTP/1.1" 200 -`.
_REQUEST_LINE_QUERY_RE = re.compile(r"(\"[A-Z]+ [^\"?\s]*)\?[^\"\s]*")


class StripQueryFilter(logging.Filter):
    """Cuts the query string (and colour codes) off werkzeug's request-log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # left for the handler, which drops unformattable lines
            return True
        cleaned = _REQUEST_LINE_QUERY_RE.sub(r"\1", _ANSI_RE.sub("", message))
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


class _SafeStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler whose error report never prints the record's message or arguments
    (the standard one does, unmasked, when a format string and its arguments do not fit)."""

    def handleError(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(
                f"logging error: a line from {record.name} ({record.pathname}:{record.lineno})"
                " could not be formatted and was dropped\n"
            )
            self.flush()
        except Exception:  # noqa: S110 - nothing left to report to
            pass


def _formatter(json_output: bool, stream: Any) -> structlog.stdlib.ProcessorFormatter:
    renderer: Processor
    if json_output:
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=bool(getattr(stream, "isatty", lambda: False)()),
            exception_formatter=structlog.dev.plain_traceback,
        )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            scrub_event,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
    )


def build_handler(stream: Any, *, json_output: bool = False) -> logging.Handler:
    """A handler writing scrubbed, structured lines to `stream` (what configure_logging puts
    on the root logger; tests attach one to a logger of their own)."""
    handler = _SafeStreamHandler(stream)
    handler.setFormatter(_formatter(json_output, stream))
    return handler


_handler: logging.Handler | None = None


def configure_logging(
    level: str = "INFO",
    *,
    json_output: bool = False,
    mask_key: str = "",
    secrets: Iterable[str] = (),
) -> None:
    """Send every log line through one masking handler on the root logger.

    Idempotent: a second call updates the level, format, mask key and secrets in place (the web
    app and CLI call it again once the development secrets are known). `mask_key` is
    PHONE_HASH_KEY, from which the mask tag key is derived; `secrets` are values to redact.
    """
    global _handler
    if mask_key:
        phones.set_mask_key(mask_key)
    set_secrets(secrets)
    root = logging.getLogger()
    if _handler is None or _handler not in root.handlers:
        _handler = build_handler(sys.stderr, json_output=json_output)
        root.addHandler(_handler)
        structlog.configure(
            processors=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            ],
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
            cache_logger_on_first_use=True,
        )
        werkzeug_log = logging.getLogger("werkzeug")
        if not any(isinstance(f, StripQueryFilter) for f in werkzeug_log.filters):
            werkzeug_log.addFilter(StripQueryFilter())
    _handler.setFormatter(_formatter(json_output, sys.stderr))
    root.setLevel(level.upper())


def configure_logging_for(settings: Settings) -> None:
    """`configure_logging` from Settings: LOG_LEVEL, LOG_FORMAT, PHONE_HASH_KEY and secrets."""
    configure_logging(
        settings.log_level,
        json_output=settings.resolved_log_format == "json",
        mask_key=settings.phone_hash_key,
        secrets=settings.secret_values,
    )


class GunicornLogger(_GunicornBaseLogger):
    """gunicorn's logger, routed through our handler (`--logger-class` in the Procfile).

    gunicorn's own handlers are removed so its error lines (which can name a request URI with
    its token) are scrubbed like any other, and the access line is written from the method,
    the path without its query string, the status and the time, as structured fields.
    """

    def setup(self, cfg: GunicornConfig) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                log.removeHandler(handler)
            log.propagate = True
        from ussd_app.config import ConfigError, Settings

        try:
            configure_logging_for(Settings.from_env())
        except ConfigError:  # the app itself reports the problem when it starts
            configure_logging(cfg.loglevel)

    def access(
        self,
        resp: GunicornResponse,
        req: GunicornRequest,
        environ: MutableMapping[str, Any],
        request_time: timedelta,
    ) -> None:
        if not self.cfg.accesslog:
            return
        status = str(resp.status).split(None, 1)[0]
        duration_ms = round(request_time.total_seconds() * 1000, 1)
        self.access_log.info(
            "%s %s %s %sms",
            environ.get("REQUEST_METHOD", "-"),
            environ.get("PATH_INFO", "-"),
            status,
            duration_ms,
            extra={
                "method": environ.get("REQUEST_METHOD", "-"),
                "path": environ.get("PATH_INFO", "-"),
                "status": int(status) if status.isdigit() else status,
                "bytes": getattr(resp, "sent", None),
                "duration_ms": duration_ms,
                "remote_addr": environ.get("REMOTE_ADDR", "-"),
            },
        )
