"""Lesotho reference data as codes: districts, border posts, red flags, and answer values.

Menus store these codes, never display text; routing, alert texts and statistics read them here.
Sources: shared/reference/domain-lesotho.md sections 2.2, 4.1, 4.2. Items marked [U] there must
be confirmed locally before launch (see README "Open questions").
"""

from __future__ import annotations

from dataclasses import dataclass

# ISO 3166-2:LS code -> canonical name (Bureau of Statistics spelling).
DISTRICTS: dict[str, str] = {
    "LS-D": "Berea",
    "LS-B": "Butha-Buthe",
    "LS-C": "Leribe",
    "LS-E": "Mafeteng",
    "LS-A": "Maseru",
    "LS-F": "Mohale's Hoek",
    "LS-J": "Mokhotlong",
    "LS-H": "Qacha's Nek",
    "LS-G": "Quthing",
    "LS-K": "Thaba-Tseka",
}

# Short forms for SMS alerts (160 characters leave no room for full names).
DISTRICT_SHORT: dict[str, str] = {
    "LS-D": "Berea",
    "LS-B": "ButhaB",
    "LS-C": "Leribe",
    "LS-E": "Mafeteng",
    "LS-A": "Maseru",
    "LS-F": "MohHoek",
    "LS-J": "Mokhotlong",
    "LS-H": "QachasNek",
    "LS-G": "Quthing",
    "LS-K": "ThabaTseka",
}


@dataclass(frozen=True)
class BorderPost:
    code: str
    name: str
    district: str | None  # ISO code; None where unknown or not one place
    short: str  # for SMS alerts
    monitored: bool = False  # NGO transit monitors work here (e.g. Beautiful Dream Society)


BORDER_POSTS: dict[str, BorderPost] = {
    p.code: p
    for p in (
        BorderPost("maseru_bridge", "Maseru Bridge", "LS-A", "MaseruBr", monitored=True),
        BorderPost("maputsoe_bridge", "Maputsoe Bridge", "LS-C", "MaputsoeBr", monitored=True),
        BorderPost("caledonspoort", "Caledonspoort", "LS-B", "Caledonsp", monitored=True),
        BorderPost("van_rooyens_gate", "Van Rooyen's Gate", "LS-E", "VanRooyen", monitored=True),
        BorderPost("qachas_nek", "Qacha's Nek", "LS-H", "QachasNekBr"),
        BorderPost("tele_bridge", "Tele Bridge", "LS-G", "TeleBr"),
        BorderPost("sani_pass", "Sani Pass", "LS-J", "SaniPass"),
        BorderPost("airport", "Moshoeshoe I Airport", "LS-A", "Airport"),
        BorderPost("other_post", "Other border post", None, "OtherPost"),
        BorderPost("informal", "Informal or river crossing", None, "RiverXing"),
    )
}

# Report "where": a border post code, a district code, or "other".
PLACE_OTHER = "other"


def place_district(place: str | None) -> str | None:
    """The district a report's place lies in, if known."""
    if not place:
        return None
    if place in DISTRICTS:
        return place
    post = BORDER_POSTS.get(place)
    return post.district if post else None


def place_short(place: str | None) -> str:
    """A short place name for an SMS alert."""
    if not place:
        return "Unknown"
    if place in DISTRICT_SHORT:
        return DISTRICT_SHORT[place]
    post = BORDER_POSTS.get(place)
    return post.short if post else "Other"


def is_border_post(place: str | None) -> bool:
    return bool(place) and place in BORDER_POSTS


# Red flags a taxi driver can report (domain-lesotho.md 2.2); stored and sent as codes only.
RED_FLAGS: dict[str, str] = {
    "F1": "Scared, not let to speak",
    "F2": "Other person holds ID/phone",
    "F3": "Child not with own family",
    "F4": "Group of strangers + 1 boss",
    "F5": "Job/school offer too good, trip paid",
    "F6": "Going to meet an online partner",
    "F7": "Avoiding the border post",
    "F8": "Hurt, drugged or confused",
    "F9": "Other",
}

# Answer values shared by menus.yaml, services and routing.
YES_NO = ("yes", "no")
CHILD_INVOLVED = ("yes", "no", "unsure")
WHEN_SEEN = ("now", "today", "this_week", "earlier")
PERSONS_COUNT = ("1", "2_5", "6p", "unsure")
CAME_FROM = ("ZA-GP", "ZA-FS", "ZA-KZN", "ZA-WC", "ZA-OTHER", "OTHER")
STAY_INTENT = ("staying", "visiting", "unsure")
ENTRY_POINTS = (*BORDER_POSTS, "prefer_not")
TRAVEL_DOCUMENT = ("passport_valid", "passport_expired", "none", "other_permit")
NEEDS = ("clinic", "livelihood", "skills", "documents", "other")
# How a returnee may be contacted (issue 10 item 2): a case worker calls, an SMS, or not at all.
CONTACT_BY = ("call", "sms", "none")
SEX = ("female", "male", "prefer_not")
AGE_BAND = ("u18", "18_35", "36p", "prefer_not")

PRIORITIES = ("P1", "P2", "P3")
