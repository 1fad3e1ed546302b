"""Values that cross the engine's edge: session state, replies, effects and handler results.

The engine is a pure function over these; the web service stores `SessionState` in Redis (as
JSON via `to_dict`/`from_dict`), runs the handler named by `RunHandler`, and sends `Reply.wire()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSONValue = str | int | float | bool | None | list[Any] | dict[str, Any]


@dataclass(frozen=True)
class SessionState:
    """Where a caller is in the menu and what they have answered so far."""

    screen: str
    lang: str
    page: int = 0
    history: tuple[str, ...] = ()
    answers: Mapping[str, JSONValue] = field(default_factory=dict)
    values: Mapping[str, str] = field(default_factory=dict)  # last handler's result values
    tries: int = 0
    # Set only on the resume screen: the earlier session the caller may continue.
    suspended: SessionState | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "screen": self.screen,
            "lang": self.lang,
            "page": self.page,
            "history": list(self.history),
            "answers": dict(self.answers),
            "values": dict(self.values),
            "tries": self.tries,
            "suspended": self.suspended.to_dict() if self.suspended else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SessionState:
        suspended = data.get("suspended")
        return cls(
            screen=str(data["screen"]),
            lang=str(data["lang"]),
            page=int(data.get("page", 0)),
            history=tuple(data.get("history", ())),
            answers=dict(data.get("answers", {})),
            values={str(k): str(v) for k, v in dict(data.get("values", {})).items()},
            tries=int(data.get("tries", 0)),
            suspended=cls.from_dict(suspended) if suspended else None,
        )


@dataclass(frozen=True)
class Reply:
    """A screen to show. `end` closes the USSD session."""

    text: str
    end: bool = False

    def wire(self) -> str:
        """The body the gateway expects: `CON …` or `END …`."""
        return ("END " if self.end else "CON ") + self.text


@dataclass(frozen=True)
class RunHandler:
    """Ask the caller to run the named handler with the answers, then call engine.complete()."""

    name: str
    screen: str  # the screen whose answer triggered it


@dataclass(frozen=True)
class SetLanguage:
    """The caller chose a language; remember it for this phone."""

    lang: str


@dataclass(frozen=True)
class FlowEnded:
    """The session reached an END screen (used for analytics and clearing resume data)."""

    screen: str


Effect = SetLanguage | FlowEnded


@dataclass(frozen=True)
class HandlerResult:
    """What a handler returns: values for placeholders and an outcome that may pick the next screen.

    `outcome` "ok" follows the screen's normal `next`; any other outcome must be declared in the
    screen's `outcomes` map in menus.yaml.
    """

    values: Mapping[str, str] = field(default_factory=dict)
    outcome: str = "ok"


@dataclass(frozen=True)
class Params:
    """Values from configuration that screens may show (e.g. `{emergency_number}`)."""

    emergency_number: str = "112"

    def as_dict(self) -> dict[str, str]:
        return {"emergency_number": self.emergency_number}


@dataclass(frozen=True)
class Step:
    """The engine's answer to one hop."""

    state: SessionState
    reply: Reply | None
    effects: tuple[Effect, ...] = ()
    action: RunHandler | None = None
