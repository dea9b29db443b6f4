"""PDF of chosen programme pages (and, if asked, the patient's answers), with WeasyPrint."""

from __future__ import annotations

from typing import Any

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import timezone

from steg.care.models import Enrolment

from . import aids
from .format import MEDIA_URL_PREFIX
from .models import ProgrammeMedia
from .outline import Outline, PageInfo
from .progress import Progress

BASE_URL = "https://steg.invalid/"


def _media_fetcher() -> Any:
    """A WeasyPrint fetcher that serves programme images from the database and nothing else."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class MediaFetcher(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
            prefix = BASE_URL.rstrip("/") + MEDIA_URL_PREFIX
            if url.startswith(prefix):
                item = ProgrammeMedia.objects.filter(sha256=url[len(prefix) :]).first()
                if item is not None and item.content_type.startswith("image/"):
                    return URLFetcherResponse(
                        url, bytes(item.data), {"Content-Type": item.content_type}
                    )
            raise ValueError(f"not fetched while making a PDF: {url}")

    return MediaFetcher()


def render_programme_pdf(
    *,
    enrolment: Enrolment,
    outline: Outline,
    progress: Progress,
    pages: list[PageInfo],
    answers: bool,
) -> bytes:
    from weasyprint import CSS, HTML

    aid_context = aids.AidContext(
        enrolment=enrolment, outline=outline, language=outline.language, progress=progress
    )
    rendered_pages = []
    for page in pages:
        blocks = []
        for block in page.blocks:
            item: dict[str, Any] = {"block": block}
            if block["type"] == "exercise":
                item["answer"] = progress.answers.get(block["key"])
            elif block["type"] == "checklist":
                item["ticked"] = {k for k, _ in block["items"] if progress.ticks.get(k)}
            elif block["type"] == "aid":
                aid = aids.REGISTRY.get(block["key"])
                if aid is not None:
                    item.update(aid=aid, aid_context=aid.context(aid_context))
            blocks.append(item)
        rendered_pages.append({"page": page, "blocks": blocks})
    html = render_to_string(
        "programmes/pdf.html",
        {
            "enrolment": enrolment,
            "outline": outline,
            "pages": rendered_pages,
            "answers": answers,
            "patient": enrolment.patient,
            "today": timezone.localdate(),
        },
    )
    stylesheet = finders.find("css/pdf.css")
    return HTML(string=html, base_url=BASE_URL, url_fetcher=_media_fetcher()).write_pdf(
        stylesheets=[CSS(filename=stylesheet)] if stylesheet else None
    )
