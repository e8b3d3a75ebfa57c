"""Tests for ``daogou catalog import`` (core.catalog_import) on small inline exports."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from core import catalog_formats as fm
from core.catalog import load_catalog
from core.catalog_import import ImportReport, SourceError, add_arguments, import_catalog, run


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def products(out: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in (out / "products.jsonl").read_text("utf-8").splitlines()]
    return {row["id"]: row for row in rows}


def accounted(report: ImportReport) -> bool:
    return report.rows == report.imported + len(report.rejected) + report.skipped + report.merged


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="daogou catalog import")
    add_arguments(parser)
    return run(parser.parse_args(list(argv)))


# -- values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "default", "expected"),
    [
        ("¥1,299.00", "CNY", (1299.0, "CNY")),
        ("￥99", "CNY", (99.0, "CNY")),
        ("Rs. 2,499", "INR", (2499.0, "INR")),
        ("Rs. 2,499", "CNY", (2499.0, "INR")),
        ("₹1,00,000", "INR", (100000.0, "INR")),
        ("$50", "CNY", (50.0, "USD")),
        ("$50", "SGD", (50.0, "SGD")),
        ("HK$ 88", "CNY", (88.0, "HKD")),
        ("1.299,00", "EUR", (1299.0, "EUR")),
        ("12,50 €", "CNY", (12.5, "EUR")),
        ("1 299,00", "EUR", (1299.0, "EUR")),
        ("15.00 USD", "CNY", (15.0, "USD")),
        ("GBP 7.5", "CNY", (7.5, "GBP")),
        ("999.0", "INR", (999.0, "INR")),
        ("1299元", "CNY", (1299.0, "CNY")),
        (42, "CNY", (42.0, "CNY")),
    ],
)
def test_messy_prices_parse(raw: object, default: str, expected: tuple[float, str]) -> None:
    assert fm.parse_price(raw, default) == expected


@pytest.mark.parametrize("raw", ["", "abc", "10 - 20", "call us"])
def test_unusable_prices_raise(raw: str) -> None:
    with pytest.raises(ValueError):
        fm.parse_price(raw, "CNY")


@pytest.mark.parametrize(
    ("raw", "title", "expected"),
    [
        ('["Clothing >> Women\'s Clothing >> Tops"]', "", "Clothing > Women's Clothing > Tops"),
        ("['footwear', 'womens footwear', 'ballerinas', 'aw bellies']", "aw bellies",
         "footwear > womens footwear > ballerinas"),
        ("['beauty', 'soaps', 'medimix soaps', 'medimix glycerine soap 3 pack']",
         "Medimix Glycerine Soap", "beauty > soaps"),
        ("Audio > Headphones", "Sony WH-1000XM5", "Audio > Headphones"),
        (["Home", "Kitchen"], "", "Home > Kitchen"),
    ],
)
def test_category_trees_normalize(raw: object, title: str, expected: str) -> None:
    assert fm.parse_category(raw, title) == expected


def test_specification_blobs_become_attributes() -> None:
    ruby = '{"product_specification"=>[{"key"=>"Color", "value"=>"Red"}, {"value"=>"1 pair"}]}'
    assert fm.parse_specs(ruby) == {"Color": "Red"}
    python = "[{'key': 'Ideal For', 'value': 'Women'}, {'key': 'Fabric', 'value': 'Cotton'}]"
    assert fm.parse_specs(python) == {"Ideal For": "Women", "Fabric": "Cotton"}
    assert fm.parse_specs({"Material": "Steel", "Sizes": ["S", "M"]}) == {"Material": "Steel", "Sizes": "S, M"}
    assert fm.parse_specs("[]") == {}
    assert fm.parse_specs("{not a blob") is None


def test_images_and_stock_words() -> None:
    assert fm.first_url('["http://a/1.jpg", "http://a/2.jpg"]') == "http://a/1.jpg"
    assert fm.first_url("http://a/1.jpg, http://a/2.jpg") == "http://a/1.jpg"
    assert [fm.parse_stock(v) for v in ("in stock", "out of stock", "preorder", "12", "-3", "")] == [
        1, 0, 0, 12, 0, ""]


def test_html_is_stripped() -> None:
    text = fm.strip_html("<p>Soft &amp; warm</p><script>x()</script><ul><li>wool</li></ul>")
    assert fm.clean_text(text, multiline=True) == "Soft & warm\nwool"


# -- generic CSV and JSONL ---------------------------------------------------------------

MESSY_CSV = (
    "sku,product_name,retail_price,Brand,category,description,image,Colour\n"
    "A1,Trail Runner,\"¥1,299.00\",Nike,Shoes > Running,\"light,\n"
    "waterproof\nshoes\",\"[\"\"http://img/a1.jpg\"\", \"\"http://img/a1b.jpg\"\"]\",Red\n"
    "A2,Broken,abc,Nike,Shoes,,,\n"
    "A3,No Brand Tee,99,,Clothing,\x07plain tee\x00,,\n"
    "A1,Second A1,10,Nike,Shoes,,,\n"
    "A4,,50,Nike,Shoes,,,\n"
)


def test_csv_auto_guess_imports_and_rejects_with_physical_lines(tmp_path: Path) -> None:
    source = write(tmp_path, "shop.csv", MESSY_CSV)
    report = import_catalog(source, tmp_path / "out")
    assert report.format == "csv"
    assert report.imported == 2
    # The first row spans lines 2-4; the bad rows start on lines 5, 7 and 8.
    assert report.rejected == [
        (5, "price is not a number: 'abc'"),
        (7, "duplicate id: 'A1' (first on line 2)"),
        (8, "missing title"),
    ]
    assert (6, "brand missing") in report.warnings
    assert accounted(report)
    rows = products(tmp_path / "out")
    assert rows["A1"]["price"] == 1299.0 and rows["A1"]["currency"] == "CNY"
    assert rows["A1"]["image_url"] == "http://img/a1.jpg"
    assert rows["A1"]["attributes"] == {"Colour": "Red"}
    assert rows["A1"]["description"] == "light,\nwaterproof\nshoes"
    assert "waterproof" in rows["A1"]["features"]
    assert rows["A3"]["description"] == "plain tee" and rows["A3"]["brand"] == ""
    catalog = load_catalog(tmp_path / "out")
    assert len(catalog) == 2 and catalog.get("A1").title == "Trail Runner"  # type: ignore[union-attr]


def test_semicolon_bom_european_prices(tmp_path: Path) -> None:
    text = "\ufeffID;Name;Price;Stock\nE1;Kaffeemühle;1.299,00;3\nE2;Tasse;4,50;0\n"
    report = import_catalog(write(tmp_path, "eu.csv", text), tmp_path / "out", currency="eur")
    rows = products(tmp_path / "out")
    assert report.imported == 2 and not report.rejected
    assert rows["E1"]["price"] == 1299.0 and rows["E1"]["currency"] == "EUR"
    assert rows["E2"]["price"] == 4.5 and rows["E2"]["stock"] == 0


def test_tab_separated_gbk_file(tmp_path: Path) -> None:
    text = "商品编码\t商品名称\t价格\t品牌\t库存\nC1\t蓝牙耳机\t￥199\t小米\t有货\n"
    report = import_catalog(write(tmp_path, "cn.txt", text, encoding="gbk"), tmp_path / "out")
    row = products(tmp_path / "out")["C1"]
    assert report.imported == 1
    assert (row["title"], row["price"], row["brand"], row["stock"]) == ("蓝牙耳机", 199.0, "小米", 1)
    assert "wireless" in row["features"]
    assert any("GB18030" in w for _, w in report.warnings)


def test_explicit_mapping_with_fallback_and_attributes(tmp_path: Path) -> None:
    text = "code,label,now,was,maker,fabric\nM1,Scarf,,20,Acme,wool\nM2,Hat,0,15,Acme,felt\n"
    report = import_catalog(
        write(tmp_path, "m.csv", text), tmp_path / "out",
        mapping={"id": "code", "title": "Label", "price": "now|was", "brand": "maker",
                 "attr:Fabric": "fabric"},
    )
    rows = products(tmp_path / "out")
    assert report.imported == 2
    assert rows["M1"]["price"] == 20.0 and rows["M2"]["price"] == 15.0  # empty and 0 fall back
    assert rows["M1"]["attributes"] == {"Fabric": "wool"}
    assert report.columns["price"] == "now|was"
    assert not any(w.startswith("columns not imported") for _, w in report.warnings)


def test_unmapped_columns_are_reported(tmp_path: Path) -> None:
    text = "id,title,price,crawl_timestamp\n1,Cup,5,2016-01-01\n"
    report = import_catalog(write(tmp_path, "u.csv", text), tmp_path / "out")
    assert (1, "columns not imported: crawl_timestamp (keep one with --map attr:NAME=COLUMN)") in report.warnings


@pytest.mark.parametrize(
    "mapping",
    [{"title": "no_such_column"}, {"colour": "title"}, {"id": ""}],
)
def test_bad_mapping_is_unusable_input(tmp_path: Path, mapping: dict[str, str]) -> None:
    source = write(tmp_path, "m.csv", "id,title,price\n1,Cup,5\n")
    with pytest.raises(SourceError):
        import_catalog(source, tmp_path / "out", mapping=mapping)
    assert not (tmp_path / "out" / "products.jsonl").exists()


def test_jsonl_round_trips_and_rejects_bad_lines(tmp_path: Path) -> None:
    good = {"id": "J1", "title": "Kettle", "price": 199, "category": ["Kitchen", "Kettles"],
            "attributes": {"Capacity": "1.7 L"}, "features": ["quiet"], "stock": 4,
            "title_zh": "电水壶", "image_url": ["http://img/k.jpg"]}
    text = "\n".join([json.dumps(good, ensure_ascii=False), "", "{broken", "[1, 2]",
                      json.dumps({"id": "J2", "title": "Free", "price": 0})]) + "\n"
    report = import_catalog(write(tmp_path, "p.jsonl", text), tmp_path / "out")
    assert report.format == "jsonl" and report.imported == 1
    assert [line for line, _ in report.rejected] == [3, 4, 5]
    assert report.rejected[0][1].startswith("not valid JSON")
    assert report.rejected[2][1] == "price is 0: 0"
    row = products(tmp_path / "out")["J1"]
    assert row["category"] == "Kitchen > Kettles" and row["image_url"] == "http://img/k.jpg"
    assert row["attributes"] == {"Capacity": "1.7 L"} and row["features"] == ["quiet"]
    assert row["stock"] == 4 and row["title_zh"] == "电水壶"
    # What the importer wrote imports again unchanged.
    again = import_catalog(tmp_path / "out" / "products.jsonl", tmp_path / "again")
    assert again.imported == 1 and products(tmp_path / "again") == products(tmp_path / "out")


def test_json_array_file(tmp_path: Path) -> None:
    text = '[\n  {"id": "1", "title": "A", "price": "5"},\n  {"id": "2", "title": "B"}\n]\n'
    report = import_catalog(write(tmp_path, "p.json", text), tmp_path / "out")
    assert report.imported == 1 and report.rejected == [(3, "missing price")]


def test_long_descriptions_and_control_characters(tmp_path: Path) -> None:
    long = "word " * 1000
    text = f'id,title,price,description\n1,"Mug\x1b[31m ",9,"{long}"\n'
    report = import_catalog(write(tmp_path, "l.csv", text), tmp_path / "out")
    row = products(tmp_path / "out")["1"]
    assert row["title"] == "Mug[31m"
    assert len(row["description"]) <= 2000 and row["description"].endswith("…")
    assert (2, "description trimmed to 2000 characters") in report.warnings


# -- Shopify -----------------------------------------------------------------------------

SHOPIFY_CSV = (
    "Handle,Title,Body (HTML),Vendor,Product Category,Type,Tags,Published,Option1 Name,"
    "Option1 Value,Variant SKU,Variant Inventory Qty,Variant Price,Image Src,Image Position,Status\n"
    "tee,Cotton Tee,\"<p>Soft &amp; <b>breathable</b></p>\",Acme,Apparel > Shirts,Shirt,"
    "\"summer, breathable\",TRUE,Size,S,TEE-S,5,19.90,http://img/tee1.jpg,1,active\n"
    "tee,,,,,,,,,M,TEE-M,0,21.90,http://img/tee2.jpg,2,\n"
    "tee,,,,,,,,,,,,,http://img/tee3.jpg,3,\n"
    "tee,,,,,,,,,L,TEE-L,3,,,,\n"
    "mug,Plain Mug,,Acme,,Kitchen,,TRUE,Title,Default Title,,,9.50,,,active\n"
    "old,Old Thing,,Acme,,,,FALSE,Title,Default Title,OLD-1,1,5.00,,,draft\n"
    "old,,,,,,,,,,,,,http://img/old.jpg,2,\n"
)


def test_shopify_variants_images_and_drafts(tmp_path: Path) -> None:
    report = import_catalog(write(tmp_path, "products_export.csv", SHOPIFY_CSV), tmp_path / "out")
    assert report.format == "shopify"
    assert report.imported == 3
    assert report.rejected == [(5, "missing price")]
    assert report.skipped == 2 and report.merged == 1 and report.rows == 7 and accounted(report)
    assert (7, "draft product 'old' skipped") in report.warnings
    rows = products(tmp_path / "out")
    assert set(rows) == {"TEE-S", "TEE-M", "mug"}
    small, medium = rows["TEE-S"], rows["TEE-M"]
    assert small["title"] == "Cotton Tee - S" and medium["title"] == "Cotton Tee - M"
    assert medium["brand"] == "Acme" and medium["description"] == "Soft & breathable"
    assert medium["category"] == "Apparel > Shirts" and medium["attributes"]["Size"] == "M"
    assert (small["price"], small["stock"], medium["price"], medium["stock"]) == (19.9, 5, 21.9, 0)
    assert small["image_url"] == "http://img/tee1.jpg" and medium["image_url"] == "http://img/tee2.jpg"
    assert "breathable" in medium["features"]
    assert rows["mug"]["title"] == "Plain Mug" and rows["mug"]["category"] == "Kitchen"


# -- Google Merchant Center --------------------------------------------------------------

GMC_TSV = (
    "id\ttitle\tdescription\tlink\timage_link\tavailability\tprice\tsale_price\tbrand\t"
    "google_product_category\tproduct_type\tgtin\tcondition\n"
    "G1\tRain Jacket\tWaterproof shell\thttp://s/g1\thttp://i/g1.jpg\tin stock\t15.00 USD\t"
    "12.00 USD\tNorthwind\t5598\tApparel > Jackets\t0123\tnew\n"
    "G2\tBoots\tLeather\thttp://s/g2\thttp://i/g2.jpg\tout of stock\t80.00 USD\t\t\t"
    "Apparel & Accessories > Shoes\t\t\tnew\n"
    "G3\tSoon\t\thttp://s/g3\t\tpreorder\tfree\t\tNorthwind\t\t\t\t\n"
)


def test_gmc_feed_prices_availability_and_detection(tmp_path: Path) -> None:
    report = import_catalog(write(tmp_path, "feed.tsv", GMC_TSV), tmp_path / "out")
    assert report.format == "gmc"
    assert report.imported == 2 and report.rejected == [(4, "price is not a number: 'free'")]
    rows = products(tmp_path / "out")
    jacket, boots = rows["G1"], rows["G2"]
    assert (jacket["price"], jacket["currency"], jacket["stock"]) == (12.0, "USD", 1)
    assert jacket["category"] == "Apparel > Jackets"  # the shop's product_type, not the number
    assert jacket["attributes"]["gtin"] == "0123" and jacket["url"] == "http://s/g1"
    assert (boots["price"], boots["stock"], boots["category"]) == (80.0, 0, "Apparel & Accessories > Shoes")
    assert (3, "brand missing") in report.warnings


# -- report and command line -------------------------------------------------------------


def test_summary_counts_and_caps_rejections(tmp_path: Path) -> None:
    lines = ["id,title,price"] + [f"{i},Item {i},n/a" for i in range(60)] + ["ok,Good,1"]
    report = import_catalog(write(tmp_path, "many.csv", "\n".join(lines) + "\n"), tmp_path / "out")
    text = report.summary()
    assert "rows read: 61 = 1 imported + 60 rejected + 0 skipped" in text
    assert "line 2: price is not a number: 'n/a'" in text
    assert "60 × price is not a number" in text
    assert "... and 10 more" in text and "line 52:" not in text


def test_nothing_imported_keeps_the_old_catalog(tmp_path: Path) -> None:
    out = tmp_path / "out"
    import_catalog(write(tmp_path, "a.csv", "id,title,price\n1,Cup,5\n"), out)
    report = import_catalog(write(tmp_path, "b.csv", "id,title,price\n1,Cup,\n"), out)
    assert report.imported == 0 and report.written == ""
    assert set(products(out)) == {"1"}
    assert sorted(p.name for p in out.iterdir()) == ["products.jsonl"]  # no temp file left


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "g.csv", "id,title,price\n1,Cup,5\n")
    bad = write(tmp_path, "b.csv", "id,title,price\n1,Cup,x\n")
    out = str(tmp_path / "out")
    assert cli(str(good), "--out", out, "--currency", "INR") == 0
    assert "imported 1 products" in capsys.readouterr().out
    assert load_catalog(out).get("1").currency == "INR"  # type: ignore[union-attr]
    assert cli(str(bad), "--out", out) == 1
    assert cli(str(tmp_path / "missing.csv"), "--out", out) == 2
    assert cli(str(good), "--out", out, "--map", "title") == 2
    assert cli(str(good), "--out", out, "--map", "price=cost") == 2
    assert cli(str(good), "--out", out, "--currency", "yuan") == 2
    assert "no column 'cost'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(str(good), "--out", out, "--format", "xml")


def test_missing_required_column_names_the_fix(tmp_path: Path) -> None:
    source = write(tmp_path, "n.csv", "name,cost\nCup,5\n")
    with pytest.raises(SourceError, match=r"--map id=COLUMN"):
        import_catalog(source, tmp_path / "out")
    report = import_catalog(source, tmp_path / "out", mapping={"id": "name", "price": "cost"})
    assert products(tmp_path / "out")["Cup"]["price"] == 5.0 and report.imported == 1


def test_line_numbers_with_crlf_and_unicode_line_separators(tmp_path: Path) -> None:
    text = ('id,title,price,description\r\n'
            '1,Lamp,5,"two\r\nlines"\r\n'
            '2,Desk,,one\u2028line\r\n'
            '3,Chair,7,"a\r\nb\r\nc"\r\n'
            '4,Stool,x,\r\n')
    report = import_catalog(write(tmp_path, "crlf.csv", text), tmp_path / "out")
    assert report.rejected == [(4, "missing price"), (8, "price is not a number: 'x'")]
    assert products(tmp_path / "out")["3"]["description"] == "a\nb\nc"


def test_currency_words_that_are_not_codes() -> None:
    assert fm.parse_price("MRP 499", "INR") == (499.0, "INR")
    assert fm.parse_price("rmb 88", "USD") == (88.0, "CNY")


def test_empty_file_and_duplicate_headers(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="empty"):
        import_catalog(write(tmp_path, "e.csv", ""), tmp_path / "out")
    report = import_catalog(write(tmp_path, "d.csv", "id,title,Title,price\n1,Cup,Mug,5\n"), tmp_path / "out")
    assert products(tmp_path / "out")["1"]["title"] == "Cup"
    assert (1, "column 'Title' ignored: same name as 'title'") in report.warnings


def test_catalog_warm_fills_the_vector_cache_the_recommender_reads(tmp_path: Path) -> None:
    # What the image build and an init container run: afterwards a process starts without encoding.
    import os
    import subprocess
    import sys

    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("\n".join(json.dumps({
        "id": f"p{n}", "title": title, "brand": "Acme", "price": 10 + n, "category": "Audio > Earbuds",
    }) for n, title in enumerate(["Wireless earbuds", "Running headphones", "Bluetooth speaker"])) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAOGOU_")}
    env.update(DAOGOU_VECTOR_CACHE=str(tmp_path / "cache"), HF_HUB_OFFLINE="1")
    run = subprocess.run([sys.executable, "-m", "bots.cli", "catalog", "warm", "--catalog", str(catalog)],
                         capture_output=True, text=True, timeout=300, env=env, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "3 products ready for the hybrid recommender" in run.stdout
    assert list((tmp_path / "cache").glob("*/vectors.npz"))
