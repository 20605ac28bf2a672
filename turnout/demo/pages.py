"""The storefront's HTML (pure, no I/O): home page, product pages, the ad banner, the logo.

Kept apart from the server so the markup the lab's screenshots depend on (the ad banner that says
which ads version answered, the 2.0 logo) can be checked without sockets. Everything is inline:
no external assets, so a page renders the same through any ingress.
"""

from __future__ import annotations

import html
import random
from collections.abc import Mapping, Sequence

from turnout.demo import data
from turnout.types import Obj

PRODUCTS: tuple[Obj, ...] = (
    {"slug": "datadog-ringer-t-shirt", "name": "Datadog Ringer T-Shirt", "price": "19.99"},
    {"slug": "datadog-tote-bag", "name": "Datadog Tote Bag", "price": "15.99"},
    {"slug": "datadog-mug", "name": "Datadog Mug", "price": "13.99"},
    {"slug": "datadog-hoodie", "name": "Datadog Hoodie", "price": "39.99"},
    {"slug": "datadog-sticker-pack", "name": "Datadog Sticker Pack", "price": "4.99"},
    {"slug": "datadog-water-bottle", "name": "Datadog Water Bottle", "price": "24.99"},
)

_LOGO_V1 = (
    '<svg class="logo" data-logo="v1" xmlns="http://www.w3.org/2000/svg" width="180" height="40" '
    'viewBox="0 0 180 40"><rect width="40" height="40" rx="6" fill="#632ca6"/>'
    '<text x="20" y="28" font-size="22" text-anchor="middle" fill="#fff">S</text>'
    '<text x="50" y="28" font-size="22" font-family="sans-serif" fill="#632ca6">Storedog</text>'
    "</svg>"
)
_LOGO_V2 = (
    '<svg class="logo" data-logo="v2" xmlns="http://www.w3.org/2000/svg" width="200" height="40" '
    'viewBox="0 0 200 40"><circle cx="20" cy="20" r="19" fill="#f58220"/>'
    '<path d="M10 24 q10 -16 20 0" stroke="#fff" stroke-width="4" fill="none"/>'
    '<text x="48" y="28" font-size="22" font-family="sans-serif" font-weight="bold" '
    'fill="#1d1d1d">Storedog</text><text x="152" y="16" font-size="10" fill="#f58220">NEW</text>'
    "</svg>"
)

_STYLE = (
    "body{font-family:sans-serif;margin:0;background:#fafafa;color:#222}"
    "header{display:flex;align-items:center;gap:1em;padding:.8em 1.5em;background:#fff;"
    "border-bottom:1px solid #ddd}main{padding:1.5em}"
    ".products{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:1em}"
    ".product{background:#fff;border:1px solid #ddd;border-radius:6px;padding:1em}"
    ".ad-banner{margin:1.5em 0;padding:1.2em;border-radius:8px;color:#fff;background:#632ca6;"
    "font-size:1.3em;text-align:center}"
    ".ad-banner[data-version^='2']{background:#f58220}"
    ".ad-banner-unavailable{background:#999}"
    ".discounts li{margin:.3em 0}footer{padding:1em 1.5em;color:#777;font-size:.8em}"
)


def logo(version: str) -> str:
    return _LOGO_V2 if data.major(version) >= 2 else _LOGO_V1


def find_product(slug: str) -> Obj | None:
    return next((p for p in PRODUCTS if p["slug"] == slug), None)


def pick_ad(ads: Sequence[Mapping[str, object]], rnd: random.Random) -> Mapping[str, object]:
    """One ad, chosen by its ``weight`` (missing or bad weights count as 1)."""
    weights = []
    for ad in ads:
        try:
            weights.append(max(0.0, float(str(ad.get("weight", 1)))))
        except ValueError:
            weights.append(1.0)
    if not any(weights):
        weights = [1.0] * len(ads)
    return rnd.choices(list(ads), weights=weights, k=1)[0]


def ad_banner(ad: Mapping[str, object] | None) -> str:
    """The banner div; ``None`` (ads failed) gives the degraded banner instead of an error."""
    if ad is None:
        return ('<div class="ad-banner ad-banner-unavailable" data-version="none">'
                "Deals are on their way. Keep shopping!</div>")
    version = html.escape(str(ad.get("version", "")), quote=True)
    text = html.escape(str(ad.get("text") or ad.get("name") or ""))
    return f'<div class="ad-banner" data-version="{version}">{text}</div>'


def discounts_block(discounts: Sequence[Mapping[str, object]] | None) -> str:
    if discounts is None:
        return '<section class="discounts unavailable"><h2>Discounts</h2>' \
               "<p>Discounts are unavailable right now.</p></section>"
    items = "".join(
        f'<li><strong>{html.escape(str(d.get("code", "")))}</strong> '
        f'{html.escape(str(d.get("name", "")))}</li>' for d in discounts)
    return f'<section class="discounts"><h2>Discounts</h2><ul>{items}</ul></section>'


def _page(version: str, title: str, body: str) -> str:
    v = html.escape(version, quote=True)
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head>"
        f'<body data-storefront-version="{v}"><header><a href="/">{logo(version)}</a>'
        f'<nav><a href="/">Home</a></nav></header><main>{body}</main>'
        f"<footer>Storedog storefront {html.escape(version)} on turnout</footer></body></html>\n"
    )


def home_page(version: str, ad: Mapping[str, object] | None,
              discounts: Sequence[Mapping[str, object]] | None) -> str:
    cards = "".join(
        f'<div class="product"><a href="/products/{html.escape(str(p["slug"]), quote=True)}">'
        f'{html.escape(str(p["name"]))}</a><div class="price">${p["price"]}</div></div>'
        for p in PRODUCTS)
    body = (f"{ad_banner(ad)}<h1>Products</h1><div class=\"products\">{cards}</div>"
            f"{discounts_block(discounts)}")
    return _page(version, "Storedog", body)


def product_page(version: str, product: Mapping[str, object], ad: Mapping[str, object] | None,
                 discounts: Sequence[Mapping[str, object]] | None) -> str:
    name = html.escape(str(product["name"]))
    body = (f'<article class="product-detail" data-slug="{html.escape(str(product["slug"]))}">'
            f'<h1>{name}</h1><div class="price">${product["price"]}</div>'
            f"<button>Add to cart</button></article>{discounts_block(discounts)}{ad_banner(ad)}")
    return _page(version, f"{product['name']} - Storedog", body)


def not_found_page(version: str, path: str) -> str:
    return _page(version, "Not found",
                 f"<h1>Not found</h1><p>No page at {html.escape(path)}.</p>")
