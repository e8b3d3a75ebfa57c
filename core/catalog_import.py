"""``daogou catalog import``: turn the files shops already export into a daogou catalog.

Reads a generic CSV/TSV or JSON Lines file (columns guessed from common header names or
given with ``--map field=column``), a Shopify product CSV export, or a Google Merchant
Center feed, and writes ``OUT/products.jsonl`` that ``core.catalog.load_catalog`` reads.
Every row read is accounted for: imported, rejected (with its line and reason), skipped
with a warning (e.g. a draft Shopify product) or merged into another row (a Shopify image
row).  The CLI (``bots/cli.py``) mounts ``add_arguments`` and ``run``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from core import catalog_formats as fm
from core.catalog import CatalogError, Product
from core.catalog_formats import SourceError

__all__ = ["ImportReport", "SourceError", "import_catalog", "add_arguments", "run"]

DESCRIPTION_LIMIT = 2000
TITLE_LIMIT = 300
ATTRIBUTE_LIMIT = 200
SUMMARY_LINES = 50

FIELDS = ("id", "title", "price", "currency", "brand", "category", "description", "title_zh",
          "description_zh", "category_zh", "image_url", "url", "stock", "features", "attributes")
REQUIRED = ("id", "title", "price")

# Header names (normalized) each field is read from, most specific first; the first column
# with a value in a row wins, so a sale price falls back to the regular price.
GUESSES: dict[str, tuple[str, ...]] = {
    "id": ("id", "sku", "product_id", "uniq_id", "item_id", "variant_sku", "pid", "商品编码", "商品id", "货号"),
    "title": ("title", "name", "product_name", "product_title", "item_name", "商品名称", "标题", "名称"),
    "price": ("sale_price", "discounted_price", "price", "retail_price", "selling_price", "list_price",
              "售价", "价格"),
    "currency": ("currency", "currency_code"),
    "brand": ("brand", "vendor", "manufacturer", "brand_name", "品牌"),
    "category": ("category", "product_category_tree", "product_type", "product_category",
                 "category_path", "categories", "google_product_category", "类目", "分类"),
    "description": ("description", "body", "body_html", "product_description", "long_description",
                    "short_description", "描述", "商品描述"),
    "title_zh": ("title_zh", "name_zh"),
    "description_zh": ("description_zh",),
    "category_zh": ("category_zh",),
    "image_url": ("image_url", "image_link", "image", "images", "image_src", "main_image", "thumbnail", "图片"),
    "url": ("url", "link", "product_url", "product_link", "permalink", "链接"),
    "stock": ("stock", "quantity", "inventory", "qty", "stock_quantity", "inventory_quantity",
              "availability", "库存"),
    "features": ("features", "tags"),
    "attributes": ("attributes", "product_specifications", "specifications", "specs"),
}
SHOPIFY: dict[str, tuple[str, ...]] = {
    "id": ("_id",), "title": ("_title",), "price": ("variant_price",), "brand": ("vendor",),
    "category": ("product_category", "type"), "description": ("body_html",),
    "image_url": ("_image",), "stock": ("variant_inventory_qty",), "features": ("tags",),
    "attributes": ("_options",),
}
# Columns read while grouping Shopify rows, so never "not imported".
_SHOPIFY_USED = {"handle", "title", "option1_name", "option1_value", "option2_name", "option2_value",
                 "option3_name", "option3_value", "image_src", "image_position", "variant_image",
                 "status", "published", "variant_sku"}
# Simple columns that become attributes without being asked for.
KNOWN_ATTRIBUTES = ("color", "colour", "size", "material", "gender", "age_group", "pattern",
                    "model", "mpn", "gtin", "condition", "tags", "颜色", "尺码", "材质")


@dataclass
class ImportReport:
    """What an import did.  ``rows == imported + len(rejected) + skipped + merged``."""

    imported: int
    rejected: list[tuple[int, str]]
    warnings: list[tuple[int, str]]
    source: str
    format: str
    rows: int = 0
    skipped: int = 0
    merged: int = 0
    columns: dict[str, str] = field(default_factory=dict)
    written: str = ""

    def summary(self, limit: int = SUMMARY_LINES) -> str:
        lines = [f"imported {self.imported} products from {self.source} ({self.format})"]
        merged = f" + {self.merged} merged into their product" if self.merged else ""
        lines.append(f"rows read: {self.rows} = {self.imported} imported + {len(self.rejected)} "
                     f"rejected + {self.skipped} skipped{merged}")
        if self.columns:
            lines.append("columns: " + "; ".join(f"{k} <- {v}" for k, v in self.columns.items()))
        lines.append(f"wrote {self.written}" if self.written else "nothing written")
        if self.warnings:
            lines.append(f"warnings ({len(self.warnings)}):")
            lines += _grouped(self.warnings, limit)
        if self.rejected:
            lines.append(f"rejected ({len(self.rejected)}), by reason:")
            kinds = Counter(reason.split(":", 1)[0] for _, reason in self.rejected)
            lines += [f"  {n} × {kind}" for kind, n in kinds.most_common(10)]
            lines.append("rejected rows:")
            lines += [f"  line {line}: {reason}" for line, reason in self.rejected[:limit]]
            if len(self.rejected) > limit:
                lines.append(f"  ... and {len(self.rejected) - limit} more")
        return "\n".join(lines)


def _grouped(items: list[tuple[int, str]], limit: int) -> list[str]:
    by_reason: dict[str, list[int]] = {}
    for line, reason in items:
        by_reason.setdefault(reason, []).append(line)
    out = []
    for reason, lines in sorted(by_reason.items(), key=lambda kv: -len(kv[1]))[:limit]:
        where = ", ".join(map(str, lines[:5])) + (", ..." if len(lines) > 5 else "")
        out.append(f"  {len(lines)} × {reason} (line{'s' if len(lines) > 1 else ''} {where})")
    if len(by_reason) > limit:
        out.append(f"  ... and {len(by_reason) - limit} more kinds")
    return out


def import_catalog(
    source: Path,
    out_dir: Path,
    *,
    fmt: str = "auto",
    mapping: dict[str, str] | None = None,
    currency: str = "CNY",
) -> ImportReport:
    """Import ``source`` into ``out_dir/products.jsonl`` (written atomically; left alone when
    no product could be imported).  Raises SourceError when the file or an option cannot be
    used at all; a bad row never raises, it is rejected in the report."""
    source, out_dir = Path(source), Path(out_dir)
    if fmt not in fm.FORMATS:
        raise SourceError(f"unknown format {fmt!r}; choose one of {', '.join(fm.FORMATS)}")
    if not re.fullmatch(r"[A-Za-z]{3}", currency or ""):
        raise SourceError(f"currency must be a three-letter code like CNY, not {currency!r}")
    currency = currency.upper()
    text, encoding_warning = fm.read_text(source)
    chosen = fm.detect_format(source, text) if fmt == "auto" else fmt
    headers, rows, notes = _open(text, chosen)
    table = SHOPIFY if chosen == "shopify" else GUESSES
    plan, attr_plan, unused = _plan(headers, table, mapping or {}, chosen)

    report = ImportReport(0, [], [], str(source), chosen)
    report.columns = {f: "|".join(headers[c] for c in cols) for f, cols in plan.items() if cols}
    report.columns.update({f"attr:{a}": headers[c] for a, c in attr_plan.items()})
    if encoding_warning:
        report.warnings.append((1, encoding_warning))
    report.warnings.extend((1, note) for note in notes)
    if unused:
        report.warnings.append((1, "columns not imported: " + ", ".join(unused)
                                + " (keep one with --map attr:NAME=COLUMN)"))
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".products.", suffix=".tmp", dir=out_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            _import_rows(rows, plan, attr_plan, currency, report, out, html=chosen == "shopify")
            out.flush()
            os.fsync(out.fileno())
        if report.imported:
            tmp.chmod(0o644)
            os.replace(tmp, out_dir / "products.jsonl")
            report.written = str(out_dir / "products.jsonl")
    finally:
        tmp.unlink(missing_ok=True)
    return report


def _open(text: str, fmt: str) -> tuple[dict[str, str], Iterable[fm.SourceRow], list[str]]:
    """Header text by normalized name, the rows, and notes about the header for warnings."""
    notes: list[str] = []
    headers: dict[str, str] = {}
    rows: Iterable[fm.SourceRow]
    if fmt == "jsonl":
        keys, rows = fm.read_json_records(text)
        headers = {k: k for k in keys}
    else:
        raw, rows = fm.read_delimited(text)
        for name in raw:
            key, shown = fm.normalize_header(name), name.strip().lstrip("\ufeff")
            if key in headers:
                notes.append(f"column {shown!r} ignored: same name as {headers[key]!r}")
            headers.setdefault(key, shown)
    if not headers:
        raise SourceError("the file is empty or has no header row")
    if fmt == "shopify":
        missing = {"handle", "variant_price"} - set(headers)
        if missing:
            raise SourceError(f"not a Shopify product export: no {', '.join(sorted(missing))} column")
        rows = fm.shopify_rows(iter(rows))
        headers.update({k: k for k in ("_id", "_title", "_image", "_options")})
    return headers, rows, notes


def _plan(
    headers: Mapping[str, str], table: Mapping[str, tuple[str, ...]], mapping: Mapping[str, str], fmt: str
) -> tuple[dict[str, list[str]], dict[str, str], list[str]]:
    """Columns per field, attribute columns, and columns left unused (their header text)."""
    plan = {f: [c for c in table.get(f, ()) if c in headers] for f in FIELDS}
    attrs: dict[str, str] = {}
    for name, spec in mapping.items():
        name = name.strip()
        columns = [c.strip() for c in str(spec).split("|") if c.strip()]
        keys = [fm.normalize_header(c) for c in columns]
        for column, key in zip(columns, keys):
            if key not in headers:
                shown = ", ".join(v for k, v in headers.items() if not k.startswith("_"))
                raise SourceError(f"--map {name}={spec}: no column {column!r}; the columns are: {shown}")
        if name.lower().startswith("attr:") and name[5:].strip() and len(keys) == 1:
            attrs[name[5:].strip()] = keys[0]
        elif name in FIELDS:
            plan[name] = keys
        else:
            raise SourceError(f"--map {name}={spec}: unknown field {name!r}; fields are "
                              f"{', '.join(FIELDS)} or attr:NAME (one column)")
    used = {c for cols in plan.values() for c in cols} | set(attrs.values())
    for key in KNOWN_ATTRIBUTES:
        if key in headers and key not in used and not any(a.lower() == key for a in attrs):
            attrs[headers[key]] = key
            used.add(key)
    for required in REQUIRED:
        if not plan[required]:
            shown = ", ".join(v for k, v in headers.items() if not k.startswith("_"))
            raise SourceError(f"no column for {required}; name one with --map {required}=COLUMN "
                              f"(the columns are: {shown})")
    if fmt == "shopify":
        used |= _SHOPIFY_USED
    unused = [v for k, v in headers.items() if k not in used and not k.startswith("_")]
    return plan, attrs, unused


def _import_rows(
    rows: Iterable[fm.SourceRow], plan: dict[str, list[str]], attr_plan: dict[str, str],
    currency: str, report: ImportReport, out: Any, *, html: bool,
) -> None:
    first_seen: dict[str, int] = {}
    for row in rows:
        report.rows += 1
        if row.outcome == "merge":
            report.merged += 1
            continue
        if row.outcome == "skip":
            report.skipped += 1
            report.warnings.append((row.line, row.reason))
            continue
        if row.outcome == "reject":
            report.rejected.append((row.line, row.reason))
            continue
        warnings: list[str] = []
        try:
            product = Product.from_dict(
                _normalize(row.data, plan, attr_plan, currency, warnings, html=html), currency=currency)
        except (CatalogError, ValueError) as exc:
            report.rejected.append((row.line, str(exc)))
            continue
        if product.id in first_seen:
            report.rejected.append((row.line, f"duplicate id: {product.id!r} (first on line "
                                              f"{first_seen[product.id]})"))
            continue
        first_seen[product.id] = row.line
        report.warnings.extend((row.line, w) for w in dict.fromkeys(warnings))
        out.write(json.dumps(product.to_dict(), ensure_ascii=False) + "\n")
        report.imported += 1


def _has_value(value: Any) -> bool:
    return value not in (None, "", [], {}) and not (isinstance(value, str) and not value.strip())


def _normalize(
    data: Mapping[str, Any], plan: Mapping[str, list[str]], attr_plan: Mapping[str, str],
    currency: str, warnings: list[str], *, html: bool,
) -> dict[str, Any]:
    """One source row as the mapping Product.from_dict expects; raises ValueError with a reason."""

    def pick(name: str) -> Any:
        return next((data[c] for c in plan[name] if _has_value(data.get(c))), "")

    row: dict[str, Any] = {"id": fm.clean_text(pick("id"))}
    title = fm.clean_text(pick("title"))
    if len(title) > TITLE_LIMIT:
        title = _trim(title, TITLE_LIMIT)
        warnings.append(f"title trimmed to {TITLE_LIMIT} characters")
    row["title"] = title
    row["price"], price_currency = _price(data, plan["price"], currency)
    row["currency"] = fm.clean_text(pick("currency")).upper() or price_currency
    if not re.fullmatch(r"[A-Z]{3}", row["currency"]):
        raise ValueError(f"currency is not a three-letter code: {row['currency']!r}")

    attributes: dict[str, str] = {}
    for column in plan["attributes"]:
        value = data.get(column)
        if not _has_value(value):
            continue
        specs = fm.parse_specs(value)
        if specs is None:
            warnings.append("specifications not understood, no attributes taken from them")
        for key, spec in (specs or {}).items():
            attributes.setdefault(key, spec)
    for name, column in attr_plan.items():
        if _has_value(data.get(column)):
            attributes[name] = fm.clean_text(data[column])
    for key, value in attributes.items():
        if len(value) > ATTRIBUTE_LIMIT:
            attributes[key] = _trim(value, ATTRIBUTE_LIMIT)
            warnings.append(f"attribute values trimmed to {ATTRIBUTE_LIMIT} characters")
    row["attributes"] = attributes

    brand = fm.clean_text(pick("brand")) or next(
        (v for k, v in attributes.items() if k.lower() in ("brand", "品牌")), "")
    if not brand:
        warnings.append("brand missing")
    row["brand"] = brand
    category = next((data[c] for c in plan["category"]
                     if _has_value(data.get(c)) and not str(data[c]).strip().isdigit()), "")
    row["category"] = fm.parse_category(category, title, brand)
    row["category_zh"] = fm.parse_category(pick("category_zh"))
    for name in ("description", "description_zh"):
        text = fm.clean_text(fm.strip_html(pick(name), force=html), multiline=True)
        if len(text) > DESCRIPTION_LIMIT:
            text = _trim(text, DESCRIPTION_LIMIT)
            warnings.append(f"{name} trimmed to {DESCRIPTION_LIMIT} characters")
        row[name] = text
    row["title_zh"] = fm.clean_text(pick("title_zh"))
    row["image_url"] = fm.first_url(pick("image_url"))
    row["url"] = fm.first_url(pick("url"))
    row["stock"] = fm.parse_stock(pick("stock"))
    row["features"] = fm.feature_keys(pick("features"))
    return row


def _price(data: Mapping[str, Any], columns: list[str], currency: str) -> tuple[float, str]:
    """The first column with a price wins; a zero there falls through to the next column."""
    values = [data[c] for c in columns if _has_value(data.get(c))]
    if not values:
        raise ValueError("missing price")
    for i, value in enumerate(values):
        amount, found = fm.parse_price(value, currency)
        if amount == 0 and i + 1 < len(values):
            continue
        if amount == 0:
            raise ValueError(f"price is 0: {value!r}")
        return amount, found
    raise AssertionError("unreachable")


def _trim(text: str, limit: int) -> str:
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 3 // 4 else cut).rstrip() + "…"


# -- command line ------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``daogou catalog import``; bots/cli.py mounts them on its subcommand."""
    parser.add_argument("source", type=Path, help="the shop's export: CSV/TSV, JSONL, Shopify CSV "
                        "or Google Merchant Center feed")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="catalog directory to write products.jsonl into (created if missing)")
    parser.add_argument("--format", dest="format", choices=fm.FORMATS, default="auto",
                        help="input format (default: guessed from the extension and headers)")
    parser.add_argument("--map", dest="map", action="append", default=[], metavar="FIELD=COLUMN",
                        help="read FIELD from COLUMN (COLUMN|OTHER falls back; attr:NAME=COLUMN "
                        "keeps a column as an attribute; FIELD= ignores a field); repeatable")
    parser.add_argument("--currency", default="CNY",
                        help="currency of prices that do not name one (default: CNY)")


def parse_mapping(items: Iterable[str]) -> dict[str, str]:
    """``["title=product_name", ...]`` -> {"title": "product_name"}; raises SourceError."""
    mapping: dict[str, str] = {}
    for item in items:
        name, sep, column = item.partition("=")
        if not sep or not name.strip():
            raise SourceError(f"--map {item!r}: expected FIELD=COLUMN, e.g. --map title=product_name")
        mapping[name.strip()] = column.strip()
    return mapping


def run(args: argparse.Namespace) -> int:
    """Import, print the summary; 0 if any product was imported, 1 if none, 2 if unusable."""
    try:
        report = import_catalog(
            args.source, args.out, fmt=args.format, mapping=parse_mapping(args.map or []),
            currency=args.currency,
        )
    except (SourceError, OSError) as exc:
        print(f"daogou catalog import: error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    if not report.imported:
        print("daogou catalog import: no product could be imported", file=sys.stderr)
        return 1
    return 0
