"""Plain English words for staff pages: every code a report holds, said as a person would.

The desk never shows a code alone (issue 9: "red flags in words"); SMS alerts use the short
forms in `ussd_app.cases.texts`. Kept in one place so a translation can be added.
"""

from __future__ import annotations

from ussd_app.codes import BORDER_POSTS, DISTRICTS, PLACE_OTHER, RED_FLAGS

RED_FLAG_WORDS: dict[str, str] = {
    "F1": "Seemed scared, not allowed to speak",
    "F2": "Someone else holds their ID or phone",
    "F3": "Child not travelling with own family",
    "F4": "Group of strangers with one person in charge",
    "F5": "Job or school offer too good to be true, trip paid",
    "F6": "Going to meet a partner met online",
    "F7": "Avoiding the border post",
    "F8": "Hurt, drugged or confused",
    "F9": "Something else",
}
assert set(RED_FLAG_WORDS) == set(RED_FLAGS)

CHILD_WORDS = {"yes": "Yes", "no": "No", "unsure": "Not sure"}
WHEN_WORDS = {
    "now": "Happening now",
    "today": "Earlier today",
    "this_week": "This week",
    "earlier": "Before this week",
}
PERSONS_WORDS = {"1": "1 person", "2_5": "2 to 5 people", "6p": "6 or more", "unsure": "Not sure"}
STATUS_WORDS = {
    "received": "New, no alert delivered yet",
    "sent": "Alerted, not taken",
    "acknowledged": "Taken",
    "closed": "Closed",
}
PRIORITY_WORDS = {
    "P1": "P1 urgent (danger now)",
    "P2": "P2 within a day",
    "P3": "P3 review",
}
EVENT_WORDS = {
    "acknowledged": "Taken",
    "assigned": "Assigned",
    "transferred": "Transferred",
    "referred": "Referred",
    "plan_agreed": "Reintegration plan agreed",
    "noted": "Note",
    "closed": "Closed",
    "reopened": "Reopened",
    "escalated": "Escalated: not taken in time",
    "refused": "Refused: not allowed to act",
    "checked_in": "Check-in recorded from a call",
    "stay_recorded": "Staying or visiting recorded from a call",
}
PURPOSE_WORDS = {
    "alert": "Alert",
    "escalation": "Escalation",
    "notice": "Notice (case taken)",
    "reply": "Reply",
    "confirmation": "Confirmation",
    "admin": "Administrator message",
}
SMS_STATUS_WORDS = {
    "pending": "Queued",
    "sending": "Sending",
    "sent": "Sent",
    "delivered": "Delivered",
    "failed": "Failed",
    "cancelled": "Cancelled (no longer needed)",
}


# A returnee's answers, as the registration page and the statistics say them.
NEED_WORDS = {
    "clinic": "Clinic services (HIV test, TB check, ART refill)",
    "livelihood": "Livelihood (work, income)",
    "skills": "Skills training",
    "documents": "Documents (ID, passport)",
    "other": "Other help",
}
# The same needs, short, where a chart row has little room.
NEED_SHORT = {
    "clinic": "Clinic services",
    "livelihood": "Livelihood help",
    "skills": "Skills training",
    "documents": "Documents",
    "other": "Other",
}
CAME_FROM_WORDS = {
    "ZA-GP": "South Africa: Gauteng",
    "ZA-FS": "South Africa: Free State",
    "ZA-KZN": "South Africa: KwaZulu-Natal",
    "ZA-WC": "South Africa: Western Cape",
    "ZA-OTHER": "South Africa: another province",
    "OTHER": "Another country",
}
STAY_WORDS = {"staying": "Back to stay", "visiting": "Visiting", "unsure": "Not sure yet"}
DOCUMENT_WORDS = {
    "passport_valid": "Valid passport",
    "passport_expired": "Expired passport",
    "none": "No travel document",
    "other_permit": "Another permit",
}
CONTACT_WORDS = {"call": "Call this number", "sms": "SMS only", "none": "Do not contact"}
SEX_WORDS = {"female": "Female", "male": "Male", "prefer_not": "Prefers not to say"}
AGE_WORDS = {
    "u18": "Under 18",
    "18_35": "18 to 35",
    "36p": "36 or older",
    "prefer_not": "Prefers not to say",
}


def place_name(place: str | None) -> str:
    """A report's place in full words: a district, a border post (with its district), or other."""
    if not place:
        return "Not given"
    if place in DISTRICTS:
        return DISTRICTS[place]
    post = BORDER_POSTS.get(place)
    if post is not None:
        district = DISTRICTS.get(post.district or "")
        return f"{post.name} ({district})" if district else post.name
    return "Somewhere else" if place == PLACE_OTHER else "Unknown place"


def flag_words(flags: list[str] | None) -> list[str]:
    return [RED_FLAG_WORDS.get(code, code) for code in flags or []]


def word(table: dict[str, str], code: str | None, missing: str = "Not answered") -> str:
    if code is None:
        return missing
    return table.get(code, code)
