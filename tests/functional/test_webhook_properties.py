"""Properties of the real webhook under any input a handset (or a confused gateway) can send.

Every example dials with a fresh session id and a fresh phone number: the database is not
emptied between hypothesis examples, so nothing may depend on what an earlier example stored.
"""

from __future__ import annotations

import itertools
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ussd_app import gsm7
from ussd_app.bootstrap import Container
from ussd_app.consent import ConsentRecord
from ussd_app.reports.models import TraffickingReport
from ussd_app.returnees.models import Registration

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

BUDGET = 160
TEXT_MAX_CHARS = 1000  # the `text` form field allows 1024
BODY_MAX_BYTES = 3800  # the webhook refuses bodies over 4096 bytes; keep a margin
ERROR_TEXTS = ("Sorry, something went wrong", "Ts'oarelo, ho na le bothata")
START_SCREENS = {"language", "main", "_resume"}
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

_numbers = itertools.count(1)
_run = secrets.randbelow(900_000) + 100_000  # different numbers on every pytest run


def _fresh_phone() -> str:
    """A new Lesotho mobile number for each example (+266 5xxxxxxx)."""
    return f"+2665{(_run * 10 + next(_numbers)) % 10_000_000:07d}"


def _fresh_session_id() -> str:
    return "ATUid_prop" + secrets.token_hex(12)


# What a caller types. Menu answers dominate so that examples reach deep screens and handlers.
menu_answers = st.sampled_from(["1", "1", "1", "2", "2", "3", "4", "5", "6", "13", "21"])
navigation_keys = st.sampled_from(["0", "00", "98"])
gateway_oddities = st.sampled_from(["*", "#", "", "**", "*#", "1*2", " ", "0*0"])
long_text = st.text(
    alphabet=st.sampled_from("0123456789ABCabc *#"), min_size=30, max_size=200
).filter(lambda s: s.strip() != "")
# Arbitrary unicode, with what phones really send mixed in: Sesotho s-caron, emoji (also
# multi-code-point ones), smart quotes, control characters, GSM-7 extension characters.
wild_text = st.lists(
    st.one_of(
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
        st.sampled_from(["š", "Š", "😀", "🇱🇸", "👍🏽", "’", "—", "\n", "\t", "€", "{", "\u200b"]),
    ),
    max_size=100,
).map(lambda parts: "".join(parts)[:200])
odd_inputs = st.one_of(navigation_keys, gateway_oddities, long_text, wild_text)
# Mostly answers a caller would give (so flows reach their handlers), sometimes anything at all.
inputs = st.one_of(*[menu_answers] * 9, navigation_keys, odd_inputs)
first_hops = st.sampled_from(["", "", "", "", "1", "2", "3", "7*7", "2*1", "#"])
# A fresh phone sees the language screen first: usually pick a language, sometimes anything.
language_choice = st.one_of(st.sampled_from(["1", "2"]), st.sampled_from(["1", "2"]), inputs)
caller_inputs = st.tuples(language_choice, st.lists(inputs, min_size=10, max_size=30)).map(
    lambda pair: [pair[0], *pair[1]]
)


@dataclass
class Hop:
    status: int
    body: str
    screen: str


@dataclass
class Dialler:
    """A gateway session on the real webhook that records every hop."""

    client: FlaskClient
    phone: str = field(default_factory=_fresh_phone)
    session_id: str = field(default_factory=_fresh_session_id)
    text: str = ""

    def form(self, text: str) -> dict[str, str]:
        return {
            "sessionId": self.session_id,
            "serviceCode": "*384*1234#",
            "phoneNumber": self.phone,
            "networkCode": "99999",
            "text": text,
        }

    def fits(self, text: str) -> bool:
        """Whether a hop with this text stays inside what the webhook accepts (control
        characters other than tab and newlines are refused with a 400: TestHostileBodies)."""
        return (
            not CONTROL.search(text)
            and len(text) <= TEXT_MAX_CHARS
            and len(urlencode(self.form(text)).encode()) <= BODY_MAX_BYTES
        )

    def post(self, text: str | None = None) -> Hop:
        res = self.client.post("/ussd", data=self.form(self.text if text is None else text))
        return Hop(
            res.status_code,
            res.get_data(as_text=True),
            res.headers.get("at-ussd-hop-metadata", ""),
        )

    def dial(self, text: str = "") -> Hop:
        self.text = text
        return self.post()

    def next_text(self, value: str) -> str:
        return value if self.text == "" else self.text + "*" + value

    def send(self, value: str) -> Hop:
        self.text = self.next_text(value)
        return self.post()

    def redial(self) -> Hop:
        """A new session for the same phone."""
        self.session_id = _fresh_session_id()
        return self.dial("")


def assert_good_reply(hop: Hop, where: str) -> None:
    assert hop.status == 200, f"{where}: HTTP {hop.status} {hop.body!r}"
    assert hop.body.startswith(("CON ", "END ")), f"{where}: {hop.body!r}"
    assert gsm7.is_gsm7(hop.body), f"{where}: not GSM-7: {gsm7.non_gsm7_chars(hop.body)}"
    assert gsm7.septets(hop.body) <= BUDGET, f"{where}: {gsm7.septets(hop.body)} septets"
    for apology in ERROR_TEXTS:
        assert apology not in hop.body, f"{where}: the webhook failed inside: {hop.body!r}"


def stored_rows(container: Container) -> tuple[int, int, int]:
    """Row counts of (registrations, trafficking_reports, consent_records)."""
    with container.services.uow() as uow:
        session = uow.session
        return tuple(  # type: ignore[return-value]
            int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Registration, TraffickingReport, ConsentRecord)
        )


class TestAnyInput:
    @PROPERTY_SETTINGS
    @given(first=first_hops, answers=caller_inputs)
    def test_every_reply_is_a_well_formed_gsm7_screen_within_budget(
        self, client: FlaskClient, first: str, answers: list[str]
    ) -> None:
        phone = Dialler(client)
        hop = phone.dial(first)
        assert_good_reply(hop, f"first hop {first!r}")
        for number, value in enumerate(answers, 1):
            if hop.body.startswith("END ") or not phone.fits(phone.next_text(value)):
                break
            hop = phone.send(value)
            assert_good_reply(hop, f"hop {number} ({value!r}, text {phone.text!r})")
        event(f"last screen: {hop.screen}")  # see --hypothesis-show-statistics

    @PROPERTY_SETTINGS
    @given(first=first_hops, answers=caller_inputs, late=inputs)
    def test_after_end_nothing_leaks_into_a_new_session(
        self, client: FlaskClient, first: str, answers: list[str], late: str
    ) -> None:
        phone = Dialler(client)
        hop = phone.dial(first)
        for value in answers:
            if hop.body.startswith("END ") or not phone.fits(phone.next_text(value)):
                break
            hop = phone.send(value)
        if hop.body.startswith("END ") and phone.fits(phone.next_text(late)):
            # A gateway that keeps talking to an ended session still gets a proper answer.
            assert_good_reply(phone.send(late), f"hop after END ({late!r})")
        fresh = phone.redial()
        assert_good_reply(fresh, "first hop of a new session")
        assert fresh.body.startswith("CON "), fresh.body
        assert fresh.screen in START_SCREENS, f"new session opened on {fresh.screen!r}"
        assert "Choose a listed number" not in fresh.body
        assert "Khetha nomoro e teng" not in fresh.body

    @PROPERTY_SETTINGS
    @given(first=first_hops, answers=caller_inputs)
    def test_resending_any_hop_returns_the_same_reply_and_stores_nothing(
        self, client: FlaskClient, container: Container, first: str, answers: list[str]
    ) -> None:
        phone = Dialler(client)
        hop = phone.dial(first)
        hops = [hop]
        for value in answers:
            if hop.body.startswith("END ") or not phone.fits(phone.next_text(value)):
                break
            hop = phone.send(value)
            hops.append(hop)
            before = stored_rows(container)
            again = phone.post()
            assert again.status == 200
            assert again.body == hop.body, f"re-sent {phone.text!r}: {again.body!r} != {hop.body!r}"
            assert stored_rows(container) == before, f"re-sending {phone.text!r} stored rows"
        before = stored_rows(container)
        assert phone.post().body == hops[-1].body
        assert stored_rows(container) == before


class TestOverLongRequests:
    @PROPERTY_SETTINGS
    @given(extra=st.integers(min_value=1, max_value=2000))
    def test_text_over_the_field_limit_is_a_clear_400(
        self, client: FlaskClient, container: Container, extra: int
    ) -> None:
        phone = Dialler(client)
        assert phone.dial().status == 200
        before = stored_rows(container)
        hop = phone.post("1" * (1024 + extra))
        assert hop.status == 400
        assert hop.body.startswith("bad request"), hop.body
        assert stored_rows(container) == before
        # The session is not broken by the refused hop.
        assert_good_reply(phone.post(""), "same hop again after a 400")

    @PROPERTY_SETTINGS
    @given(emoji=st.text(alphabet=st.sampled_from("😀š👍€"), min_size=700, max_size=1000))
    def test_a_body_over_4096_bytes_is_a_clear_413(self, client: FlaskClient, emoji: str) -> None:
        phone = Dialler(client)
        assert phone.dial().status == 200
        assert len(urlencode(phone.form(emoji)).encode()) > 4096
        hop = phone.post(emoji)
        assert hop.status == 413
        assert "larger than" in hop.body or "longer than" in hop.body, hop.body
