"""Template tags of the dialog: messages as safe text, and the patient's "Messages" link."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import urlize
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import normalize_newlines

from steg.accounts.models import User

from ..messages import patient_inbox

register = template.Library()


@register.filter(is_safe=True, needs_autoescape=False)
def message_text(value: object) -> SafeString:
    """A message as the reader sees it: all of it escaped (nothing anyone writes is ever HTML),
    web addresses made into links (rel="nofollow", no target; only http(s) and www. addresses
    and e-mail addresses, never javascript: or data:), and line breaks kept."""
    text = normalize_newlines(str(value or ""))
    linked = urlize(text, nofollow=True, autoescape=True)
    return mark_safe(linked.replace("\n", "<br>\n"))  # noqa: S308 - escaped by urlize above


@register.inclusion_tag("dialog/messages/_nav_link.html", takes_context=True)
def patient_messages_link(context: dict[str, Any]) -> dict[str, Any]:
    """The header's "Messages" link with the unread count, for patients only (one query; none
    for anonymous visitors or staff whose memberships are already known)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"show": False}
    real = getattr(user, "_wrapped", user)  # the user behind request.user's lazy wrapper
    if not isinstance(real, User):
        return {"show": False}
    # Staff pages have loaded the user's memberships already: a staff-only user needs no query.
    if real.__dict__.get("staff_memberships"):
        return {"show": False}
    inbox = patient_inbox(real)
    return {"show": inbox.treatments > 0, "unread": inbox.unread}
