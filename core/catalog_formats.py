"""Reading the files shops export, and the parsers for their messy values.

``core.catalog_import`` calls ``read_text``, ``detect_format`` and ``read_delimited`` /
``read_json_records`` (plus ``shopify_rows`` for Shopify exports) to get one ``SourceRow`` per
row of the file with the physical line it starts on, then the ``parse_*`` helpers to turn raw
values into what ``Product.from_dict`` accepts.  Nothing here builds products or decides
which column feeds which field; ``parse_price`` raises ``ValueError`` with the reason.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterator

from core import lexicon
from core.catalog import CatalogError

FORMATS = ("auto", "csv", "jsonl", "shopify", "gmc")


class SourceError(CatalogError):
    """The file as a whole cannot be imported: missing, unreadable, or a bad option."""


@dataclass
class SourceRow:
    """One row of the source file.  ``outcome`` is "row" for a row to build a product from,
    "skip" (left out on purpose, ``reason`` says why), "merge" (folded into another row, e.g.
    a Shopify image row) or "reject" (unreadable, ``reason`` says why)."""

    line: int
    data: dict[str, Any] = field(default_factory=dict)
    outcome: str = "row"
    reason: str = ""


def normalize_header(name: str) -> str:
    """``"Body (HTML)"`` -> ``"body_html"``, ``"g:image_link"`` -> ``"image_link"``."""
    name = name.strip().lstrip("\ufeff").lower()
    if name.startswith("g:"):
        name = name[2:]
    return re.sub(r"\W+", "_", name).strip("_")


# -- reading files -----------------------------------------------------------------------


def read_text(path: Path) -> tuple[str, str]:
    """The file's text and a warning ("" when none) if it was not UTF-8."""
    if not path.is_file():
        raise SourceError(f"no such file: {path}")
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text" export
        return raw.decode("utf-16"), ""
    try:
        return raw.decode("utf-8-sig"), ""
    except UnicodeDecodeError:
        pass
    try:  # Chinese shops' Excel exports are often GBK
        return raw.decode("gb18030"), "file is not UTF-8; read it as GB18030"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "file is not UTF-8; read it as Latin-1"


def detect_format(path: Path, text: str) -> str:
    """Guess the format from the extension, then from the first character and the headers."""
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json") or text.lstrip()[:1] in ("{", "["):
        return "jsonl"
    headers = {normalize_header(h) for h in _header_cells(text)}
    if {"handle", "variant_price"} <= headers:
        return "shopify"
    if {"id", "title", "price", "link"} <= headers:
        return "gmc"
    return "csv"


def _header_cells(text: str) -> list[str]:
    first = next(iter(io.StringIO(text.lstrip("\ufeff"), newline="")), "").rstrip("\r\n")
    return next(csv.reader([first], delimiter=_delimiter(first)), [])


def _delimiter(header_line: str) -> str:
    # The header line rarely holds quoted delimiters, so counting there beats csv.Sniffer,
    # which guesses wrong on long quoted descriptions.
    counts = {d: header_line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def read_delimited(text: str) -> tuple[list[str], Iterator[SourceRow]]:
    """Headers (raw) and rows keyed by normalized header; ``line`` is where the row starts."""
    text = text.lstrip("\ufeff").replace("\x00", "")
    csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))
    lines = iter(io.StringIO(text, newline=""))  # \n, \r\n or \r end a line; U+2028 does not
    first = next(lines, "")
    delimiter = _delimiter(first.rstrip("\r\n"))
    headers = next(csv.reader([first], delimiter=delimiter), [])
    keys = [normalize_header(h) for h in headers]

    def rows() -> Iterator[SourceRow]:
        reader = csv.reader(lines, delimiter=delimiter)
        previous_end = 1  # reader.line_num counts lines after the header
        for cells in reader:
            start, previous_end = previous_end + 1, reader.line_num + 1
            if not cells:
                continue  # a blank line is not a row
            if len(cells) > len(keys) and any(c.strip() for c in cells[len(keys):]):
                yield SourceRow(start, outcome="reject", reason=(
                    f"wrong number of fields: {len(cells)}, the header has {len(keys)}"))
                continue
            data: dict[str, Any] = {}
            for key, cell in zip(keys, cells):
                if key and key not in data:
                    data[key] = cell
            if not any(str(v).strip() for v in data.values()):
                yield SourceRow(start, outcome="skip", reason="empty row")
                continue
            yield SourceRow(start, data)

    return headers, rows()


def read_json_records(text: str) -> tuple[list[str], list[SourceRow]]:
    """JSON Lines, or one JSON array of objects; keys as seen (normalized), in order."""
    records: list[SourceRow] = []
    stripped = text.lstrip("\ufeff")
    if stripped.lstrip().startswith("["):
        decoder, pos = json.JSONDecoder(), stripped.index("[") + 1
        while True:
            while pos < len(stripped) and stripped[pos] in " \t\r\n,":
                pos += 1
            if pos >= len(stripped) or stripped[pos] == "]":
                break
            line = stripped.count("\n", 0, pos) + 1
            try:
                value, pos = decoder.raw_decode(stripped, pos)
            except json.JSONDecodeError as exc:
                records.append(SourceRow(line, outcome="reject", reason=(
                    f"not valid JSON: {exc.msg}; nothing after this line could be read")))
                break  # no way to find where the next item starts
            records.append(_json_row(line, value))
    else:
        for line, raw in enumerate(stripped.split("\n"), 1):
            if not raw.strip():
                continue
            try:
                records.append(_json_row(line, json.loads(raw)))
            except json.JSONDecodeError as exc:
                records.append(SourceRow(line, outcome="reject", reason=f"not valid JSON: {exc.msg}"))
    headers: dict[str, None] = {}
    for record in records:
        headers.update(dict.fromkeys(record.data))
    return list(headers), records


def _json_row(line: int, value: Any) -> SourceRow:
    if not isinstance(value, dict):
        return SourceRow(line, outcome="reject", reason="not a JSON object")
    data: dict[str, Any] = {}
    for key, item in value.items():
        data.setdefault(normalize_header(str(key)), item)
    return SourceRow(line, data)


# -- Shopify -----------------------------------------------------------------------------

_SHOPIFY_PRODUCT_KEYS = (
    "title", "body_html", "vendor", "product_category", "type", "tags", "published", "status",
    "option1_name", "option2_name", "option3_name",
)


def shopify_rows(rows: Iterator[SourceRow]) -> Iterator[SourceRow]:
    """One row per variant, with the product's title, vendor and body filled in from the
    handle's first row, and computed ``_id``, ``_title``, ``_image`` and ``_options``.
    Image-only rows are "merge"; rows of draft or archived products are "skip"."""
    groups: dict[str, list[SourceRow]] = {}
    for row in rows:
        handle = str(row.data.get("handle", "")).strip()
        if row.outcome != "row":
            yield row
        elif not handle:
            yield SourceRow(row.line, outcome="reject", reason="missing Handle")
        else:
            groups.setdefault(handle, []).append(row)
    for handle, group in groups.items():
        yield from _shopify_group(handle, group)


def _shopify_group(handle: str, group: list[SourceRow]) -> Iterator[SourceRow]:
    first = next((r for r in group if str(r.data.get("title", "")).strip()), group[0]).data
    status = str(first.get("status", "")).strip().lower()
    published = str(first.get("published", "")).strip().lower()
    skip = ""
    if status in ("draft", "archived"):
        skip = f"{status} product {handle!r} skipped"
    elif not status and published == "false":
        skip = f"unpublished product {handle!r} skipped"
    if skip:
        for row in group:
            yield SourceRow(row.line, outcome="skip", reason=skip)
        return
    images = sorted(
        ((_int_or(r.data.get("image_position"), 10**6), i, str(r.data.get("image_src", "")).strip())
         for i, r in enumerate(group) if str(r.data.get("image_src", "")).strip()),
    )
    variant_keys = ("variant_price", "variant_sku", "option1_value", "option2_value", "option3_value")
    variants = [r for r in group if r.data is first or any(str(r.data.get(k, "")).strip()
                                                           for k in variant_keys)]
    variant_ids = {id(r) for r in variants}
    for row in group:
        if id(row) not in variant_ids:
            yield SourceRow(row.line, outcome="merge")
            continue
        data = dict(row.data)
        for key in _SHOPIFY_PRODUCT_KEYS:
            if not str(data.get(key, "")).strip():
                data[key] = first.get(key, "")
        options = {}
        for n in (1, 2, 3):
            value = str(data.get(f"option{n}_value", "")).strip()
            if value and value != "Default Title":
                options[str(data.get(f"option{n}_name", "")).strip() or f"Option{n}"] = value
        suffix = " / ".join(options.values())
        data["_title"] = f"{str(data.get('title', '')).strip()} - {suffix}" if suffix else data["title"]
        sku = str(data.get("variant_sku", "")).strip()
        data["_id"] = sku or (handle if len(variants) == 1 else
                              f"{handle}-{_slug(suffix) or row.line}")
        own_image = str(data.get("variant_image", "") or row.data.get("image_src", "")).strip()
        data["_image"] = own_image or (images[0][2] if images else "")
        data["_options"] = options
        yield SourceRow(row.line, data)


def _int_or(value: Any, default: int) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        return default


def _slug(text: str) -> str:
    return re.sub(r"[^\w]+", "-", text.lower()).strip("-")


# -- values ------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2028\u2029\ufeff]")


def clean_text(value: Any, *, multiline: bool = False) -> str:
    """Control characters removed, runs of spaces collapsed; newlines kept only if asked."""
    if value is None:
        return ""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", str(value)))
    if not multiline:
        return " ".join(text.split())
    lines = (" ".join(line.split()) for line in text.replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


class _TextExtractor(HTMLParser):
    _BLOCK = {"p", "br", "div", "li", "ul", "ol", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


_HTML_HINT = re.compile(r"</?(p|br|div|span|ul|ol|li|b|strong|i|em|h[1-6]|table|img|a)\b[^>]*>|&(nbsp|amp|lt|gt|quot|#\d+);", re.I)


def strip_html(value: Any, *, force: bool = False) -> str:
    """Plain text of an HTML fragment (when it looks like HTML, or ``force``)."""
    text = "" if value is None else str(value)
    if not (force or _HTML_HINT.search(text)):
        return text
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


_SYMBOLS = (("US$", "USD"), ("HK$", "HKD"), ("NT$", "TWD"), ("S$", "SGD"), ("A$", "AUD"), ("C$", "CAD"),
            ("R$", "BRL"), ("Rs.", "INR"), ("Rs", "INR"), ("₹", "INR"), ("€", "EUR"), ("£", "GBP"),
            ("¥", "CNY"), ("元", "CNY"), ("$", "USD"))
_SAME_SIGN = {"USD": {"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "TWD", "MXN"},
              "CNY": {"CNY", "JPY"}, "INR": {"INR", "PKR", "LKR", "NPR"}}
_CODES = set(
    "USD EUR CNY RMB INR GBP JPY HKD TWD SGD MYR THB VND IDR PHP KRW AUD NZD CAD MXN BRL CHF SEK "
    "NOK DKK PLN CZK HUF RUB TRY AED SAR ILS ZAR NGN KES EGP PKR BDT LKR NPR".split()
)
_NUMBER = re.compile(r"[-+]?\d[\d\s.,'\u202f]*")


def parse_price(value: Any, default_currency: str) -> tuple[float, str]:
    """``"¥1,299.00"``, ``"Rs. 2,499"``, ``"15.00 USD"``, ``"1.299,00"`` -> (amount, currency).

    The currency is the one the value names, else ``default_currency``; raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"price is not a number: {value!r}")
    if isinstance(value, (int, float)):
        return float(value), default_currency
    text = unicodedata.normalize("NFKC", clean_text(value))
    if not text:
        raise ValueError("missing price")
    currency = default_currency
    code = re.search(r"(?<![A-Za-z])([A-Za-z]{3})(?![A-Za-z])", text)
    if code and code.group(1).upper() in _CODES:  # not "MRP 499"
        currency = "CNY" if code.group(1).upper() == "RMB" else code.group(1).upper()
    else:
        for sign, code_for in _SYMBOLS:
            if sign in text:
                same = _SAME_SIGN.get(code_for, {code_for})
                currency = default_currency if default_currency in same else code_for
                break
    numbers = _NUMBER.findall(text)
    if not numbers:
        raise ValueError(f"price is not a number: {value!r}")
    if len(numbers) > 1 or re.search(r"\d\s*[-–~]\s*\d", text):
        raise ValueError(f"price is a range or several numbers: {value!r}")
    number = re.sub(r"[\s'\u202f]", "", numbers[0]).rstrip(".,")
    if "," in number and "." in number:
        decimal = "," if number.rfind(",") > number.rfind(".") else "."
    elif "," in number:  # "2,499" and "1,00,000" group thousands; "12,50" is a decimal comma
        decimal = "." if re.fullmatch(r"[-+]?\d{1,3}(,\d{2})*,\d{3}", number) else ","
    else:
        decimal = "." if number.count(".") <= 1 else ","
    thousands = "," if decimal == "." else "."
    number = number.replace(thousands, "").replace(decimal, ".")
    try:
        return float(number), currency
    except ValueError:
        raise ValueError(f"price is not a number: {value!r}") from None


_IN_STOCK = {"in stock", "in_stock", "instock", "available", "yes", "y", "true", "limited availability",
             "有货", "现货", "在售"}
_OUT_OF_STOCK = {"out of stock", "out_of_stock", "outofstock", "sold out", "soldout", "unavailable",
                 "no", "n", "false", "preorder", "pre-order", "backorder", "discontinued",
                 "缺货", "无货", "售罄", "预售"}


def parse_stock(value: Any) -> Any:
    """A whole number of items, from counts or availability words; "" when unknown.
    Returns the value unchanged when it is not understood, so that from_dict names it."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return max(0, int(value))
    text = unicodedata.normalize("NFKC", clean_text(value)).lower()
    if not text:
        return ""
    if re.fullmatch(r"[-+]?[\d,]+(\.\d+)?", text):
        return max(0, int(float(text.replace(",", ""))))
    if text in _IN_STOCK:
        return 1
    if text in _OUT_OF_STOCK:
        return 0
    return value


def parse_loose(value: Any) -> Any:
    """A JSON, Python-literal or Ruby-hash structure written as a string; None if it is none."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text or text[0] not in "[{" or len(text) > 200_000:
        return None
    candidates = (text, re.sub(r"\bnil\b", "null", text.replace("=>", ":")))
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            pass
        try:
            return ast.literal_eval(candidate)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            pass
    return None


_CATEGORY_SPLIT = re.compile(r"\s*(?:>>|>|›|»)\s*")


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", "", text.lower()).split())


def parse_category(value: Any, title: str = "", brand: str = "") -> str:
    """A category path "A > B > C" from a string path, a list of levels, or a JSON-ish list
    of paths; trailing levels that only name this product or its brand are dropped."""
    parsed = parse_loose(value) if isinstance(value, str) else value
    if isinstance(parsed, (list, tuple)):
        items = [str(x) for x in parsed if str(x).strip()]
        if len(items) == 1 or any(_CATEGORY_SPLIT.search(x) for x in items):
            levels = _CATEGORY_SPLIT.split(items[0]) if items else []
        else:
            levels = items
    else:
        levels = _CATEGORY_SPLIT.split(clean_text(value))
    levels = [clean_text(level) for level in levels if clean_text(level)]
    name, maker = _words(title), _words(brand)
    while levels:
        last, parent = _words(levels[-1]), _words(levels[-2]) if len(levels) > 1 else ""
        if len(last.split()) >= 2 and name and (name.startswith(last) or last.startswith(name)):
            levels.pop()  # "… > Ballerinas > AW Bellies" for the product "AW Bellies"
            continue
        head = last[: -len(parent) - 1] if parent and last.endswith(" " + parent) else ""
        if head and (name.startswith(head + " ") or head == maker):
            levels.pop()  # "… > Soaps > Medimix Soaps": the brand's shelf, not a category
            continue
        break
    return " > ".join(levels)


def first_url(value: Any) -> str:
    """The first URL of a list, a JSON-ish list string, or a comma/space-separated string."""
    parsed = parse_loose(value) if isinstance(value, str) else value
    if isinstance(parsed, (list, tuple)):
        return next((clean_text(x) for x in parsed if clean_text(x)), "")
    if isinstance(parsed, dict):
        return clean_text(parsed.get("url") or parsed.get("src") or "")
    tokens = [t for t in re.split(r"[\s,|;]+", clean_text(value)) if t]
    return next((t for t in tokens if re.match(r"(https?:)?//", t)), tokens[0] if tokens else "")


def parse_specs(value: Any) -> dict[str, str] | None:
    """Attributes from a specification blob: a list of {"key", "value"} pairs, a plain
    object, or either wrapped in one more object; None when the blob is not understood."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "[]", "{}", "null", "None")):
        return {}
    data = parse_loose(value) if isinstance(value, str) else value
    if not isinstance(data, (dict, list)):
        return None
    found: dict[str, str] = {}
    _collect_specs(data, found)
    return found


def _collect_specs(data: Any, found: dict[str, str]) -> None:
    if isinstance(data, list):
        for item in data:
            _collect_specs(item, found)
    elif isinstance(data, dict):
        key = data.get("key", data.get("name", data.get("attribute")))
        if key is not None and "value" in data:
            if clean_text(key) and clean_text(_scalar(data["value"])):
                found.setdefault(clean_text(key), clean_text(_scalar(data["value"])))
        elif "value" in data and len(data) == 1:
            pass  # a value with no name says nothing a customer can ask about
        elif len(data) == 1 and _nested(next(iter(data.values()))):
            _collect_specs(next(iter(data.values())), found)  # {"product_specification": [...]}
        else:
            for k, v in data.items():
                if clean_text(k) and clean_text(_scalar(v)):
                    found.setdefault(clean_text(k), clean_text(_scalar(v)))


def _nested(value: Any) -> bool:
    return isinstance(value, dict) or (isinstance(value, list) and any(isinstance(x, dict) for x in value))


def _scalar(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(clean_text(v) for v in value if not isinstance(v, (dict, list)))
    return "" if isinstance(value, dict) or value is None else str(value)


def feature_keys(value: Any) -> list[str]:
    """Lexicon feature keys named by a features/tags value (list or comma-separated)."""
    items = value if isinstance(value, (list, tuple)) else re.split(r"[,;|，、]", str(value or ""))
    keys: list[str] = []
    for item in items:
        word = clean_text(item).lower()
        if not word:
            continue
        keys.extend([word] if word in lexicon.FEATURES else lexicon.features_in(word))
    return list(dict.fromkeys(keys))
