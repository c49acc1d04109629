"""The service banks views with an entry added by file, and finds cropped and captioned copies
of it in uploads; an entry added by hashes matches as before."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw

from hashwarden.bank import Bank
from hashwarden.signals.hashing import hash_bytes

from .conftest import Service

BRIDGE = Path(__file__).resolve().parents[1] / "data" / "conformance" / "pdq" / "dih"


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _copies() -> tuple[bytes, bytes, bytes]:
    """(the photograph, a copy cropped 5% a side, a copy cropped 6% on the left and captioned)."""
    data = (BRIDGE / "bridge-1-original.jpg").read_bytes()
    with Image.open(io.BytesIO(data)) as opened:
        image = opened.convert("RGB")
    w, h = image.size
    cropped = image.crop((round(0.05 * w), round(0.05 * h), round(0.95 * w), round(0.95 * h)))
    captioned = image.crop((round(0.06 * w), 0, w, h))
    cw, ch = captioned.size
    ImageDraw.Draw(captioned).rectangle((cw // 4, ch - ch // 12, 3 * cw // 4, ch), fill="black")
    return data, _jpeg(cropped), _jpeg(captioned)


def test_an_entry_added_by_file_matches_its_cropped_copies(bank: Bank, service: Service) -> None:
    client = service.client
    original, cropped, captioned = _copies()
    made = client.post("/v1/banks", json={"name": "known"}, headers=service.as_("admin"))
    assert made.status_code == 201, made.text
    matcher = service.as_("matcher")
    for copy in (cropped, captioned):  # nothing banked yet
        assert (
            client.post("/v1/match/upload", content=copy, headers=matcher).json()["matches"] == []
        )

    up = client.post(
        "/v1/banks/known/entries/upload?category=A",
        content=original,
        headers=service.as_("curator"),
    )
    assert up.status_code == 201, up.text
    entry = up.json()["ids"][0]
    assert len(bank.views.of([entry])[entry]) >= 12

    for copy in (cropped, captioned):
        got = client.post("/v1/match/upload", content=copy, headers=matcher)
        assert got.status_code == 200, got.text
        matches = got.json()["matches"]
        assert [(m["entry"], m["banks"]) for m in matches] == [(entry, ["known"])]
        assert matches[0]["view"]  # which views met
    whole = client.post("/v1/match/upload", content=original, headers=matcher).json()["matches"]
    assert whole[0]["view"] is None
    assert bank.verify().ok


def test_an_entry_added_by_hashes_matches_as_before(service: Service) -> None:
    client = service.client
    original, cropped, _ = _copies()
    made = client.post("/v1/banks", json={"name": "known"}, headers=service.as_("admin"))
    assert made.status_code == 201, made.text
    pdq = hash_bytes(original).pdq
    added = client.post(
        "/v1/banks/known/entries",
        json={"signals": {"pdq": pdq}, "category": "A"},
        headers=service.as_("curator"),
    )
    assert added.status_code == 201, added.text
    matcher = service.as_("matcher")
    assert client.post("/v1/match/upload", content=cropped, headers=matcher).json()["matches"] == []
    whole = client.post("/v1/match/upload", content=original, headers=matcher).json()["matches"]
    assert [m["view"] for m in whole] == [None]
