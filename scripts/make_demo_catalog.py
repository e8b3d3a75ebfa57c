"""Write the bundled demo catalog (``core/data/demo``) from the tables in this file.

The catalog was written for this project.  Brands and model lines are real, prices are
typical Chinese retail prices in CNY, and every title and description is composed here,
in English and Chinese, from a product's kind, attributes and selling points ("tags").
Each tag names the feature keys (``core.lexicon.FEATURES``) its words express, and the
build fails if a product's text names a feature the tables did not declare or misses one
they did, so a product's features always agree with what its text says.

    python scripts/make_demo_catalog.py              # rewrite core/data/demo/
    python scripts/make_demo_catalog.py --out DIR    # write somewhere else

The output is deterministic (no randomness; stock levels come from a checksum of the id
and a fixed seed).  A test checks that the committed files equal this script's output:
edit the tables, then rerun the script; never edit the JSONL by hand.  A change to the
feature terms in ``core.lexicon`` can make the build stop with the product and the
features in question; adjust that product's tags.  Ids are per-category sequence numbers,
so add new products at the end of a category's table to keep existing ids stable.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(ROOT))

from core.catalog import Product  # noqa: E402
from core.lexicon import BRAND_ALIASES, FEATURES, features_in  # noqa: E402

OUT_DIR = ROOT / "core" / "data" / "demo"
SITE = "https://demo.daogou.shop"
STOCK_SEED = "s1"  # fixed: which ids are sold out, and stock levels, derive from it


@dataclass(frozen=True)
class Kind:
    """A kind of product in a category: its title noun and the opening of its description."""

    en: str
    zh: str
    lead_en: str  # formatted with the product's attributes
    lead_zh: str
    features: frozenset[str]


@dataclass(frozen=True)
class Tag:
    """A selling point: a phrase in each language and the feature keys that phrase names."""

    en: str
    zh: str
    features: frozenset[str]


@dataclass(frozen=True)
class Item:
    brand: str
    model: str  # "English" or "English|中文"
    kind: str
    price: int | None  # None when every variant has its own price
    attrs: str  # "key=value; key=value"
    tags: str  # tag names; "+feature" declares a feature an attribute already names
    variants: str  # "label[/中文标签]:price, ..."


@dataclass(frozen=True)
class Category:
    prefix: str
    name: str
    zh: str
    aliases: tuple[str, ...]
    kinds: dict[str, Kind]
    tags: dict[str, Tag]
    items: tuple[Item, ...]
    variant_attr: str = ""  # the attribute a variant label sets (storage, size, ...)


def K(en: str, zh: str, lead_en: str, lead_zh: str, *features: str) -> Kind:
    return Kind(en, zh, lead_en, lead_zh, frozenset(features))


def T(en: str, zh: str, *features: str) -> Tag:
    return Tag(en, zh, frozenset(features))


def P(brand: str, model: str, kind: str, price: int | None, attrs: str = "", tags: str = "",
      variants: str = "") -> Item:
    return Item(brand, model, kind, price, attrs, tags, variants)


# Chinese names used in titles, plus extra names customers type (for lexicon.json).
BRAND_ZH: dict[str, str] = {
    "90FUN": "90分", "Acer": "宏碁", "Adidas": "阿迪达斯", "American Tourister": "美旅",
    "Amazfit": "华米", "Anker": "安克", "Anta": "安踏", "Apple": "苹果", "Arc'teryx": "始祖鸟",
    "Asics": "亚瑟士", "Asus": "华硕", "Bandai": "万代", "Baseus": "倍思", "Bear": "小熊", "Beats": "Beats",
    "Bose": "Bose", "Braun": "博朗", "Canon": "佳能", "CeraVe": "适乐肤", "Columbia": "哥伦比亚",
    "Coros": "高驰", "De'Longhi": "德龙", "Decathlon": "迪卡侬", "Dell": "戴尔", "DJI": "大疆",
    "Dreame": "追觅", "Dyson": "戴森", "Ecovacs": "科沃斯", "Edifier": "漫步者",
    "Estee Lauder": "雅诗兰黛", "Fujifilm": "富士", "GAN": "GAN", "Garmin": "佳明",
    "GoPro": "GoPro", "Harman Kardon": "哈曼卡顿", "Hasbro": "孩之宝", "Haylou": "嘿喽", "Hoka": "霍卡",
    "Honor": "荣耀", "HP": "惠普", "Huawei": "华为", "Innisfree": "悦诗风吟",
    "Insta360": "影石", "JBL": "JBL", "Jellycat": "Jellycat", "Joyoung": "九阳",
    "Kailas": "凯乐石", "Kiehl's": "科颜氏", "Kingsmith": "金史密斯", "L'Oreal": "欧莱雅",
    "La Roche-Posay": "理肤泉", "Laifen": "徕芬", "Lancome": "兰蔻", "Lego": "乐高",
    "Lenovo": "联想", "Li-Ning": "李宁", "Lululemon": "露露乐蒙", "Marshall": "马歇尔",
    "Mattel": "美泰", "Merach": "麦瑞克", "Midea": "美的", "New Balance": "新百伦",
    "Nike": "耐克", "Nikon": "尼康", "Olay": "玉兰油", "OnePlus": "一加", "OPPO": "OPPO",
    "Oral-B": "欧乐B", "Osprey": "小鹰", "Panasonic": "松下", "Patagonia": "巴塔哥尼亚",
    "Philips": "飞利浦", "Pop Mart": "泡泡玛特", "Proya": "珀莱雅", "QCY": "QCY",
    "Razer": "雷蛇", "Reebok": "锐步", "Ricoh": "理光", "Rimowa": "日默瓦", "Roborock": "石头",
    "Samsonite": "新秀丽", "Samsung": "三星", "Sennheiser": "森海塞尔", "Shiseido": "资生堂",
    "Shokz": "韶音", "SK-II": "SK-II", "Sony": "索尼", "Supor": "苏泊尔",
    "Sylvanian Families": "森贝儿家族", "The North Face": "北面", "Tineco": "添可",
    "Toread": "探路者", "Tumi": "途明", "Uniqlo": "优衣库", "Usmile": "笑容加", "vivo": "vivo",
    "Winona": "薇诺娜", "Xiaomi": "小米", "Yesoul": "野小兽", "Yunmai": "云麦",
    "Zojirushi": "象印",
}
BRAND_EXTRA: dict[str, tuple[str, ...]] = {
    "Anker": ("声阔", "soundcore"), "Arc'teryx": ("arcteryx",), "De'Longhi": ("delonghi",),
    "Decathlon": ("quechua", "kiprun", "domyos", "forclaz"), "Hasbro": ("nerf", "培乐多", "变形金刚"),
    "Kiehl's": ("kiehls",), "Mattel": ("风火轮", "hot wheels", "芭比", "barbie", "费雪"),
    "Pop Mart": ("popmart", "labubu"), "Roborock": ("石头科技",), "Shiseido": ("安热沙", "anessa"),
    "Sylvanian Families": ("森贝儿",), "vivo": ("iqoo",), "Xiaomi": ("米家", "mijia"),
}

COMMON_TAGS: dict[str, Tag] = {
    "light": T("lightweight at just {weight}", "轻量设计，仅{weight}", "lightweight"),
    "wp": T("{waterproof} waterproof", "{waterproof}防水", "waterproof"),
    "sweat": T("{waterproof} sweat-proof", "{waterproof}防汗防水", "waterproof"),
    "wr": T("{waterproof} water-resistant", "{waterproof}防泼溅", "waterproof"),
    "longbat": T("long battery life of up to {battery}", "长续航，最长{battery}", "long_battery"),
    "fast": T("fast charging", "支持快充", "fast_charging"),
    "portable": T("compact and portable for travel", "小巧便携，方便出行", "portable"),
    "kids": T("a great pick for kids", "适合孩子使用", "kids"),
    "quiet": T("quiet operation", "静音低噪运行", "quiet"),
    "durable": T("durable build", "结实耐用", "durable"),
    "running": T("secure fit made for running and workouts", "佩戴稳固，专为跑步运动设计", "running", "sport"),
    "gym": T("stays put during gym workouts", "适合健身房运动", "sport"),
}

# Attribute values as they read in Chinese: whole values first, then units inside values.
ZH_VALUES = {
    "Full Frame": "全画幅", "fleece": "抓绒", "sonic": "声波", "oscillating-rotating": "3D旋转摆动",
    "magnetic-drive": "磁动力", "magnetic": "磁控", "Xiao AI": "小爱同学", "Celia": "小艺",
    "3-head rotary": "三刀头旋转式", "3-blade foil": "三刀头往复式", "4-blade foil": "四刀头往复式",
    "5-blade foil": "五刀头往复式", "dual-band": "双频", "multi-band": "多频", "2.5-layer": "2.5层",
}
ZH_UNITS = [
    (re.compile(r"(\d) h\b"), r"\1小时"), (re.compile(r"(\d) min\b"), r"\1分钟"),
    (re.compile(r"(\d) days\b"), r"\1天"), (re.compile(r"(\d) people\b"), r"\1人"),
    (re.compile(r"-inch\b"), "英寸"), (re.compile(r"(\d)-stop\b"), r"\1档"),
    (re.compile(r"\bSnapdragon\b"), "骁龙"), (re.compile(r"\bDimensity\b"), "天玑"),
    (re.compile(r"\bKirin\b"), "麒麟"),
]


def zh_value(value: str) -> str:
    value = ZH_VALUES.get(value, value)
    for pattern, repl in ZH_UNITS:
        value = pattern.sub(repl, value)
    return value


# ---------------------------------------------------------------------------------------
# The categories.  Prices are CNY; attributes are "key=value; ..." and show in details.

HEADPHONES = Category(
    "hp", "Electronics > Headphones", "耳机",
    ("headphones", "headphone", "earbuds", "earbud", "earphones", "earphone", "in-ear", "headset",
     "耳机", "蓝牙耳机", "无线耳机", "耳麦", "运动耳机", "降噪耳机", "骨传导耳机", "头戴式耳机"),
    {
        "tws": K("True Wireless Earbuds", "真无线蓝牙耳机",
                 "Bluetooth {bluetooth} true wireless earbuds, {battery} of playback per charge",
                 "蓝牙{bluetooth}真无线耳机，单次播放{battery}", "wireless"),
        "over": K("Wireless Over-Ear Headphones", "头戴式无线耳机",
                  "Over-ear Bluetooth {bluetooth} headphones, {battery} of playback per charge",
                  "头戴式蓝牙{bluetooth}耳机，单次播放{battery}", "wireless"),
        "neck": K("Wireless Neckband Earphones", "颈挂式无线耳机",
                  "Bluetooth {bluetooth} neckband earphones, {battery} of playback per charge",
                  "颈挂式蓝牙{bluetooth}耳机，单次播放{battery}", "wireless"),
        "bone": K("Open-Ear Bone Conduction Sport Headphones", "骨传导运动耳机",
                  "Bone conduction headphones that leave your ears open, Bluetooth {bluetooth}, "
                  "{battery} of playback", "骨传导开放式设计不入耳，蓝牙{bluetooth}，单次播放{battery}",
                  "wireless", "open_ear", "sport"),
        "open": K("Open-Ear Wireless Earbuds", "开放式无线耳机",
                  "Open-ear Bluetooth {bluetooth} earbuds that sit outside the ear canal, "
                  "{battery} of playback per charge", "开放式不入耳蓝牙{bluetooth}耳机，单次播放{battery}",
                  "wireless", "open_ear"),
        "wired": K("Wired In-Ear Earphones", "有线入耳式耳机", "In-ear earphones with a {plug} plug and an "
                   "in-line mic", "入耳式有线耳机，{plug}接口，带线控麦克风"),
        "game": K("Gaming Headset", "游戏耳机",
                  "Over-ear gaming headset with a detachable mic, {connection} connection",
                  "头戴式游戏耳机，可拆卸麦克风，{connection}连接", "gaming"),
    },
    {
        "case": T("up to {battery_with_case} battery life with the case",
                  "配合充电盒续航可达{battery_with_case}", "long_battery"),
        "fast": T("fast charging ({fast_charge})", "支持快充（{fast_charge}）", "fast_charging"),
        "anc": T("active noise cancelling", "主动降噪", "noise_cancelling"),
        "ldac": T("LDAC hi-res audio", "支持LDAC高解析音质"),
        "spatial": T("spatial audio with head tracking", "空间音频与头部追踪"),
        "multi": T("connects to two devices at once", "支持双设备同时连接"),
        "swim": T("{storage} of built-in storage for music while swimming", "内置{storage}存储，游泳也能听歌"),
        "kidsvol": T("volume limited to 85 dB for kids", "85分贝限音，适合儿童", "kids"),
        "fold": T("folds flat for travel", "可折叠收纳，方便出行", "portable"),
        "surround": T("7.1 virtual surround sound", "7.1虚拟环绕声"),
        "lowlat": T("low-latency mode for gaming", "低延迟游戏模式", "gaming"),
        "calls": T("dual-mic clear calls", "双麦克风通话清晰"),
        "touch": T("touch controls with an EQ app", "触控操作，APP自定义音效"),
    },
    (
        P("Sony", "WF-C510", "tws", 399, "bluetooth=5.3; battery=11 h; battery_with_case=22 h; "
          "waterproof=IPX4; weight=4.6 g", "wp gym light multi"),
        P("Sony", "WI-C100", "neck", 199, "bluetooth=5.0; battery=25 h; waterproof=IPX4; weight=20 g",
          "sweat gym longbat"),
        P("Sony", "WI-SP510", "neck", 399, "bluetooth=5.0; battery=15 h; waterproof=IPX5; "
          "fast_charge=10 min = 60 min", "wp running fast"),
        P("Sony", "WF-1000XM5", "tws", 1999, "bluetooth=5.3; battery=8 h; battery_with_case=24 h; "
          "waterproof=IPX4; weight=5.9 g", "anc ldac wp multi"),
        P("Sony", "WH-1000XM5", "over", 2499, "bluetooth=5.2; battery=30 h; weight=250 g; "
          "fast_charge=3 min = 3 h", "anc longbat fast ldac"),
        P("Sony", "WH-CH520", "over", 299, "bluetooth=5.2; battery=50 h; weight=147 g",
          "longbat light multi"),
        P("Shokz", "OpenMove", "bone", 499, "bluetooth=5.1; battery=6 h; waterproof=IP55; weight=29 g",
          "sweat running light"),
        P("Shokz", "OpenRun", "bone", 899, "bluetooth=5.1; battery=8 h; waterproof=IP67; weight=26 g; "
          "fast_charge=10 min = 1.5 h", "wp running fast light"),
        P("Shokz", "OpenRun Pro 2", "bone", 1399, "bluetooth=5.3; battery=12 h; waterproof=IP55; "
          "weight=30 g; fast_charge=5 min = 2.5 h", "sweat running fast"),
        P("Shokz", "OpenSwim Pro", "bone", 1299, "bluetooth=5.4; battery=9 h; waterproof=IP68; "
          "storage=32 GB; weight=30 g", "wp swim running"),
        P("Xiaomi", "Redmi Buds 6 Active|Redmi Buds 6 活力版", "tws", 99, "bluetooth=5.4; battery=6 h; "
          "battery_with_case=30 h; waterproof=IPX4; weight=4.2 g", "sweat gym case"),
        P("Xiaomi", "Redmi Buds 6 Pro", "tws", 379, "bluetooth=5.3; battery=9.5 h; "
          "battery_with_case=36 h; waterproof=IP54", "anc case wr"),
        P("Xiaomi", "Redmi Buds 6 Play|Redmi Buds 6 青春版", "tws", 69, "bluetooth=5.4; battery=7.5 h; "
          "battery_with_case=36 h; waterproof=IPX4; weight=3.6 g", "sweat case light"),
        P("Xiaomi", "Piston|活塞耳机", "wired", 29, "plug=3.5 mm; weight=15 g", "light"),
        P("Huawei", "FreeBuds SE 2", "tws", 199, "bluetooth=5.3; battery=9 h; battery_with_case=40 h; "
          "waterproof=IP54; weight=3.8 g", "wr case light"),
        P("Huawei", "FreeClip", "open", 1299, "bluetooth=5.3; battery=8 h; battery_with_case=36 h; "
          "waterproof=IP54; weight=5.6 g", "wr case light"),
        P("Apple", "AirPods 4", "tws", 999, "bluetooth=5.3; battery=5 h; battery_with_case=30 h; "
          "waterproof=IP54", "wr spatial"),
        P("Apple", "AirPods Pro 2", "tws", 1899, "bluetooth=5.3; battery=6 h; battery_with_case=30 h; "
          "waterproof=IP54", "anc wr spatial"),
        P("Beats", "Powerbeats Pro 2", "tws", 1999, "bluetooth=5.3; battery=10 h; "
          "battery_with_case=45 h; waterproof=IPX4", "anc sweat running case"),
        P("Bose", "QuietComfort Ultra", "tws", 1999, "bluetooth=5.3; battery=6 h; "
          "battery_with_case=24 h; waterproof=IPX4", "anc wp spatial"),
        P("Bose", "QuietComfort Ultra", "over", 2999, "bluetooth=5.3; battery=24 h; weight=250 g",
          "anc spatial longbat fold"),
        P("JBL", "Endurance Race", "tws", 299, "bluetooth=5.2; battery=10 h; battery_with_case=30 h; "
          "waterproof=IP67", "wp running case"),
        P("JBL", "Endurance Peak 3", "tws", 599, "bluetooth=5.2; battery=10 h; "
          "battery_with_case=50 h; waterproof=IP68", "wp running case"),
        P("JBL", "Tune 520BT", "over", 299, "bluetooth=5.3; battery=57 h; weight=157 g",
          "longbat light fold"),
        P("JBL", "JR310BT", "over", 249, "bluetooth=5.0; battery=30 h; weight=128 g", "kidsvol light"),
        P("Anker", "Soundcore R50i", "tws", 129, "bluetooth=5.3; battery=10 h; battery_with_case=30 h; "
          "waterproof=IPX5", "wp running case"),
        P("Anker", "Soundcore Sport X10", "tws", 459, "bluetooth=5.2; battery=8 h; "
          "battery_with_case=32 h; waterproof=IPX7", "wp running case"),
        P("QCY", "T13", "tws", 79, "bluetooth=5.1; battery=8 h; battery_with_case=40 h; waterproof=IPX5",
          "wp case"),
        P("QCY", "T17", "tws", 49, "bluetooth=5.1; battery=7 h; battery_with_case=26 h; weight=4.1 g",
          "calls lowlat touch light"),
        P("QCY", "Crossky Link", "open", 149, "bluetooth=5.3; battery=7 h; waterproof=IPX5; weight=9 g",
          "wp running light"),
        P("QCY", "Crossky GTR 2", "tws", 199, "bluetooth=5.3; battery=9 h; battery_with_case=36 h; "
          "waterproof=IPX5", "wp running case"),
        P("Baseus", "Bowie E3", "tws", 39, "bluetooth=5.0; battery=5 h; battery_with_case=25 h; "
          "weight=3.9 g", "case calls touch light"),
        P("Haylou", "GT1 2022", "tws", 59, "bluetooth=5.2; battery=6 h; battery_with_case=24 h; "
          "waterproof=IPX5; weight=3.8 g", "sweat light"),
        P("Haylou", "PurFree BC01", "bone", 249, "bluetooth=5.2; battery=8 h; waterproof=IP67; weight=29 g",
          "wp running light"),
        P("Edifier", "Comfo Run", "open", 299, "bluetooth=5.3; battery=17 h; battery_with_case=35 h; "
          "waterproof=IP55; weight=8.5 g", "sweat running light"),
        P("Edifier", "X2s", "tws", 89, "bluetooth=5.3; battery=6 h; battery_with_case=24 h; "
          "waterproof=IP54", "wr case"),
        P("Edifier", "W820NB Plus", "over", 399, "bluetooth=5.2; battery=49 h; weight=256 g",
          "anc longbat"),
        P("Sennheiser", "Momentum 4", "over", 2499, "bluetooth=5.2; battery=60 h; weight=293 g",
          "anc longbat fold"),
        P("Razer", "BlackShark V2 X", "game", 299, "connection=3.5 mm; weight=240 g", "surround light"),
    ),
)

SMARTPHONES = Category(
    "ph", "Electronics > Smartphones", "手机",
    ("phone", "phones", "smartphone", "smartphones", "mobile phone", "mobile", "cell phone",
     "cellphone", "手机", "智能手机", "5g手机", "新手机"),
    {
        "phone": K("5G Smartphone", "5G手机", "{screen} screen, {chip} chip, {storage} of storage",
                   "{screen}屏幕，{chip}芯片，{storage}存储"),
        "fold": K("Foldable 5G Smartphone", "折叠屏5G手机", "{screen} screen, {chip} chip, "
                  "{storage} of storage", "{screen}屏幕，{chip}芯片，{storage}存储"),
    },
    {
        "cam": T("{rear_cameras} rear camera system for standout photography", "后置{rear_cameras}影像系统，拍照出色",
                 "camera"),
        "zoom": T("{zoom} optical zoom", "{zoom}光学变焦"),
        "selfie": T("{front} front camera for selfies", "{front}前置自拍", "camera"),
        "longbat": T("long battery life from a {battery} battery", "{battery}大电池，长续航", "long_battery"),
        "fast": T("{charging} fast charging", "{charging}快充", "fast_charging"),
        "gaming": T("high refresh-rate screen and strong cooling for gaming", "高刷屏加强散热，适合玩游戏",
                    "gaming"),
        "ai": T("on-device AI assistant", "端侧AI助手"),
        "sat": T("two-way satellite messaging", "支持双向卫星通信"),
        "durable": T("drop-resistant durable body", "抗摔耐用机身", "durable"),
        "compact": T("compact size for one-handed use", "小屏小巧，单手好握", "portable"),
        "pen": T("built-in S Pen", "内置S Pen手写笔"),
    },
    (
        P("Apple", "iPhone 16", "phone", None, "screen=6.1-inch OLED; chip=A18; "
          "rear_cameras=48 MP + 12 MP; weight=170 g", "cam ai", "128GB:5999, 256GB:6999"),
        P("Apple", "iPhone 16 Pro", "phone", None, "screen=6.3-inch OLED 120 Hz; chip=A18 Pro; "
          "rear_cameras=48 MP ×3; zoom=5x; waterproof=IP68", "cam zoom wp ai",
          "128GB:7999, 256GB:8999"),
        P("Apple", "iPhone 16e", "phone", 4499, "screen=6.1-inch OLED; chip=A18; storage=128GB; "
          "weight=167 g", "light ai"),
        P("Huawei", "Mate 70 Pro", "phone", 6499, "screen=6.9-inch OLED; chip=Kirin 9020; "
          "rear_cameras=50 MP ×3; zoom=4x; battery=5500 mAh; charging=100 W; "
          "waterproof=IP68; storage=512GB", "cam zoom longbat fast wp sat"),
        P("Huawei", "Pura 70", "phone", 4999, "screen=6.6-inch OLED; chip=Kirin 9010; "
          "rear_cameras=50 MP ×3; charging=66 W; storage=256GB", "cam fast"),
        P("Huawei", "nova 13", "phone", 2699, "screen=6.7-inch OLED; chip=Kirin 8s; front=60 MP; "
          "charging=100 W; storage=256GB", "selfie fast"),
        P("Xiaomi", "15", "phone", None, "screen=6.36-inch OLED; chip=Snapdragon 8 Elite; "
          "rear_cameras=Leica 50 MP ×3; battery=5400 mAh; charging=90 W; weight=189 g",
          "cam longbat fast compact", "256GB:4499, 512GB:4999"),
        P("Xiaomi", "Redmi K80", "phone", 2499, "screen=6.67-inch 2K OLED; chip=Snapdragon 8 Gen 3; "
          "battery=6550 mAh; charging=90 W; storage=256GB", "longbat fast gaming"),
        P("Xiaomi", "Redmi Note 14 Pro", "phone", 1399, "screen=6.67-inch OLED; chip=Dimensity 7300; "
          "battery=5500 mAh; charging=45 W; waterproof=IP68; storage=256GB", "longbat wp durable"),
        P("Samsung", "Galaxy S25 Ultra", "phone", 9699, "screen=6.9-inch AMOLED; "
          "chip=Snapdragon 8 Elite; rear_cameras=200 MP ×4; battery=5000 mAh; waterproof=IP68; "
          "storage=256GB", "cam pen wp ai"),
        P("Samsung", "Galaxy S25", "phone", 5999, "screen=6.2-inch AMOLED; chip=Snapdragon 8 Elite; "
          "weight=162 g; waterproof=IP68; storage=256GB", "compact light wp ai"),
        P("Samsung", "Galaxy Z Flip6", "fold", 7999, "screen=6.7-inch AMOLED; "
          "chip=Snapdragon 8 Gen 3; weight=187 g; storage=256GB", "compact ai"),
        P("OPPO", "Find X8 Pro", "phone", 5299, "screen=6.78-inch OLED; chip=Dimensity 9400; "
          "rear_cameras=Hasselblad 50 MP ×4; battery=5910 mAh; charging=80 W; waterproof=IP69; "
          "storage=256GB", "cam longbat fast wp"),
        P("OPPO", "Reno13", "phone", 2699, "screen=6.59-inch OLED; chip=Dimensity 8350; front=50 MP; "
          "waterproof=IP69; storage=256GB", "selfie wp"),
        P("OPPO", "A5 Pro", "phone", 1499, "screen=6.67-inch LCD; chip=Dimensity 7300; "
          "battery=6000 mAh; charging=45 W; waterproof=IP69; storage=256GB", "durable wp longbat"),
        P("vivo", "X200 Pro", "phone", 5299, "screen=6.78-inch OLED; chip=Dimensity 9400; "
          "rear_cameras=Zeiss 50 MP + 200 MP ×3; battery=6000 mAh; charging=90 W; "
          "waterproof=IP69; storage=256GB", "cam longbat fast wp"),
        P("vivo", "iQOO 13", "phone", 3999, "screen=6.82-inch 2K 144 Hz OLED; chip=Snapdragon 8 Elite; "
          "battery=6150 mAh; charging=120 W; storage=256GB", "gaming longbat fast"),
        P("Honor", "Magic7 Pro", "phone", 5699, "screen=6.8-inch OLED; chip=Snapdragon 8 Elite; "
          "rear_cameras=50 MP + 200 MP ×3; battery=5850 mAh; charging=100 W; waterproof=IP69; "
          "storage=512GB", "cam longbat fast wp"),
        P("Honor", "X60", "phone", 1199, "screen=6.8-inch LCD; chip=Dimensity 7025; battery=5800 mAh; "
          "storage=128GB", "durable longbat"),
        P("OnePlus", "13", "phone", 4499, "screen=6.82-inch 2K OLED; chip=Snapdragon 8 Elite; "
          "rear_cameras=Hasselblad 50 MP ×3; battery=6000 mAh; charging=100 W; waterproof=IP69; "
          "storage=256GB", "cam longbat fast wp"),
        P("OnePlus", "Ace 5", "phone", 2299, "screen=6.78-inch 1.5K OLED; chip=Snapdragon 8 Gen 3; "
          "battery=6415 mAh; charging=80 W; storage=256GB", "gaming longbat fast"),
    ),
    variant_attr="storage",
)

WATCHES = Category(
    "sw", "Electronics > Smartwatches & Fitness Bands", "智能手表手环",
    ("smartwatch", "smartwatches", "smart watch", "watch", "watches", "fitness band", "fitness tracker",
     "activity tracker", "sports watch", "gps watch", "手表", "智能手表", "手环", "智能手环", "运动手表",
     "儿童手表", "电话手表"),
    {
        "watch": K("Smartwatch", "智能手表", "{screen} smartwatch with heart-rate, SpO2 and sleep tracking",
                   "{screen}智能手表，支持心率、血氧与睡眠监测"),
        "band": K("Fitness Band", "智能手环", "Slim band with a {screen} display, heart-rate and sleep "
                  "tracking", "{screen}屏幕手环，支持心率与睡眠监测"),
        "gps": K("GPS Sports Watch", "GPS运动手表", "{gps} GPS sports watch with a {screen} display, "
                 "training load and recovery advice", "{gps}GPS运动手表，{screen}屏幕，提供训练负荷与恢复建议"),
        "kids": K("Kids Smartwatch", "儿童智能手表", "4G kids smartwatch with video calls and location "
                  "tracking", "4G儿童手表，支持视频通话与定位", "kids"),
    },
    {
        "wp": T("{waterproof} water resistant for swimming", "{waterproof}防水，可游泳佩戴", "waterproof"),
        "splash": T("{waterproof} waterproof for rainy days", "{waterproof}防水，雨天放心戴", "waterproof"),
        "longbat": T("up to {battery} of battery life", "续航最长{battery}", "long_battery"),
        "running": T("running power and race-time predictions", "跑步功率与比赛成绩预测", "running"),
        "calls": T("Bluetooth calls from the wrist", "支持蓝牙通话", "wireless"),
        "nfc": T("NFC payments", "NFC支付"),
        "ecg": T("ECG readings", "支持ECG心电分析"),
        "solar": T("solar charging", "太阳能充电"),
        "rugged": T("rugged titanium case", "钛合金表壳，坚固耐用", "durable"),
        "maps": T("offline maps for trails", "离线地图导航"),
    },
    (
        P("Apple", "Watch Series 10", "watch", 2999, "screen=1.96-inch OLED; battery=18 h; "
          "waterproof=5 ATM; weight=30 g", "wp ecg fast light"),
        P("Apple", "Watch Ultra 2", "watch", 6499, "screen=1.92-inch OLED; battery=36 h; "
          "waterproof=10 ATM; gps=dual-band", "wp rugged maps"),
        P("Apple", "Watch SE", "watch", 1999, "screen=1.78-inch OLED; battery=18 h; waterproof=5 ATM; "
          "weight=26 g", "wp light"),
        P("Huawei", "Watch GT 5", "watch", 1488, "screen=1.43-inch AMOLED; battery=14 days; "
          "waterproof=5 ATM", "longbat wp running calls"),
        P("Huawei", "Watch 5", "watch", 2999, "screen=1.5-inch AMOLED; battery=3 days; waterproof=5 ATM",
          "ecg nfc wp calls"),
        P("Huawei", "Band 9", "band", 269, "screen=1.47-inch AMOLED; battery=14 days; waterproof=5 ATM; "
          "weight=14 g", "longbat wp light"),
        P("Huawei", "Watch Fit 3", "watch", 999, "screen=1.82-inch AMOLED; battery=10 days; "
          "waterproof=5 ATM; weight=26 g", "longbat wp light nfc"),
        P("Huawei", "5X Pro", "kids", 1298, "waterproof=IP68; battery=2 days",
          "splash"),
        P("Xiaomi", "Smart Band 9|手环9", "band", 249, "screen=1.62-inch AMOLED; battery=21 days; "
          "waterproof=5 ATM; weight=15.8 g", "longbat wp light"),
        P("Xiaomi", "Watch S4", "watch", 999, "screen=1.43-inch AMOLED; battery=15 days; "
          "waterproof=5 ATM", "longbat wp calls nfc"),
        P("Xiaomi", "Redmi Watch 5", "watch", 599, "screen=2.07-inch AMOLED; battery=24 days; "
          "waterproof=5 ATM", "longbat wp calls"),
        P("Xiaomi", "Mitu 7X|米兔 7X", "kids", 699, "waterproof=IPX8; battery=2 days",
          "splash"),
        P("Garmin", "Forerunner 265", "gps", 2980, "screen=1.3-inch AMOLED; battery=13 days; "
          "waterproof=5 ATM; gps=dual-band; weight=47 g", "running longbat wp"),
        P("Garmin", "Forerunner 965", "gps", 4680, "screen=1.4-inch AMOLED; battery=23 days; "
          "waterproof=5 ATM; gps=dual-band", "running longbat wp maps"),
        P("Garmin", "fenix 8", "gps", 7980, "screen=1.4-inch AMOLED; battery=29 days; "
          "waterproof=10 ATM; gps=dual-band", "rugged maps longbat wp"),
        P("Garmin", "Venu 3", "watch", 3280, "screen=1.4-inch AMOLED; battery=14 days; waterproof=5 ATM",
          "longbat wp calls"),
        P("Garmin", "Instinct 2X Solar", "gps", 2880, "screen=1.1-inch MIP; battery=40 days; "
          "waterproof=10 ATM; gps=multi-band", "solar rugged longbat wp"),
        P("Samsung", "Galaxy Watch7", "watch", 1999, "screen=1.47-inch AMOLED; battery=40 h; "
          "waterproof=5 ATM", "ecg wp calls"),
        P("Samsung", "Galaxy Watch Ultra", "watch", 4999, "screen=1.5-inch AMOLED; battery=60 h; "
          "waterproof=10 ATM", "rugged wp ecg"),
        P("Amazfit", "Balance", "watch", 1299, "screen=1.5-inch AMOLED; battery=14 days; "
          "waterproof=5 ATM", "longbat wp calls"),
        P("Amazfit", "T-Rex 3", "gps", 1499, "screen=1.5-inch AMOLED; battery=27 days; "
          "waterproof=10 ATM; gps=dual-band", "rugged longbat wp maps"),
        P("Amazfit", "Band 7", "band", 199, "screen=1.47-inch AMOLED; battery=18 days; "
          "waterproof=5 ATM; weight=28 g", "longbat wp light"),
        P("Coros", "Pace 3", "gps", 1498, "screen=1.2-inch MIP; battery=24 days; waterproof=5 ATM; "
          "gps=dual-band; weight=30 g", "running light longbat wp"),
    ),
)

LAPTOP_LEAD = ("{screen} display, {cpu}, {ram} memory and a {ssd} SSD",
               "{screen}屏幕，{cpu}处理器，{ram}内存，{ssd}固态硬盘")
LAPTOPS = Category(
    "lt", "Computers > Laptops", "笔记本电脑",
    ("laptop", "laptops", "notebook", "notebook computer", "ultrabook", "gaming laptop", "computer",
     "笔记本", "笔记本电脑", "电脑", "手提电脑", "游戏本", "轻薄本"),
    {
        "thin": K("Thin and Light Laptop", "轻薄笔记本", *LAPTOP_LEAD, "lightweight"),
        "laptop": K("Laptop", "笔记本电脑", *LAPTOP_LEAD),
        "convertible": K("2-in-1 Convertible Laptop", "二合一翻转笔记本", *LAPTOP_LEAD),
        "gaming": K("Gaming Laptop", "游戏本", "{screen} {refresh} display, {cpu}, {gpu} graphics, "
                    "{ram} memory and a {ssd} SSD",
                    "{screen} {refresh}屏幕，{cpu}处理器，{gpu}显卡，{ram}内存，{ssd}固态硬盘", "gaming"),
    },
    {
        "longbat": T("up to {battery} of battery life", "续航最长{battery}", "long_battery"),
        "fast": T("{charger} fast charging", "{charger}快充", "fast_charging"),
        "fanless": T("fanless and silent", "无风扇设计，完全静音", "quiet"),
        "quietfan": T("quiet fans under everyday loads", "日常使用风扇低噪", "quiet"),
        "durable": T("MIL-STD-810H tested durable chassis", "通过MIL-STD-810H军规测试，坚固耐用", "durable"),
        "ai": T("Copilot+ AI PC", "Copilot+ AI PC"),
        "touch": T("touchscreen with stylus support", "触控屏，支持手写笔"),
        "cool": T("vapor-chamber cooling for sustained performance", "均热板散热，性能释放稳定"),
        "creator": T("colour-accurate screen for design and video editing", "屏幕色准出色，适合设计与剪辑"),
    },
    (
        P("Apple", "MacBook Air 13 (M4)", "thin", 7999, "screen=13.6-inch Liquid Retina; cpu=Apple M4; "
          "ram=16GB; ssd=256GB; weight=1.24 kg; battery=18 h", "fanless longbat light"),
        P("Apple", "MacBook Air 15 (M4)", "thin", 9999, "screen=15.3-inch Liquid Retina; cpu=Apple M4; "
          "ram=16GB; ssd=512GB; weight=1.51 kg; battery=18 h", "fanless longbat"),
        P("Apple", "MacBook Pro 14 (M4)", "laptop", 12999, "screen=14.2-inch Liquid Retina XDR; "
          "cpu=Apple M4; ram=16GB; ssd=512GB; battery=24 h", "longbat creator"),
        P("Lenovo", "ThinkPad X1 Carbon Gen 12", "thin", 12999, "screen=14-inch 2.8K OLED; "
          "cpu=Intel Core Ultra 7 155H; ram=32GB; ssd=1TB; weight=1.09 kg", "durable light"),
        P("Lenovo", "ThinkPad E14", "laptop", 4999, "screen=14-inch 2.2K; cpu=Intel Core Ultra 5 125H; "
          "ram=16GB; ssd=512GB", "durable"),
        P("Lenovo", "Legion Y9000P|拯救者 Y9000P", "gaming", 9999, "screen=16-inch 2.5K; refresh=240 Hz; "
          "cpu=Intel Core i9-14900HX; gpu=RTX 4060; ram=16GB; ssd=1TB", "cool"),
        P("Lenovo", "Legion R7000P|拯救者 R7000P", "gaming", 6999, "screen=16-inch 2.5K; refresh=165 Hz; "
          "cpu=AMD Ryzen 7 8845H; gpu=RTX 4060; ram=16GB; ssd=1TB"),
        P("Lenovo", "Xiaoxin Pro 14|小新 Pro 14", "thin", 4999, "screen=14-inch 2.8K OLED; "
          "cpu=AMD Ryzen 7 8845H; ram=32GB; ssd=1TB; weight=1.46 kg; charger=100 W", "fast"),
        P("Lenovo", "ThinkBook 14+", "laptop", 5499, "screen=14.5-inch 3K 120 Hz; "
          "cpu=Intel Core Ultra 5 225H; ram=32GB; ssd=1TB; charger=100 W", "fast creator"),
        P("Huawei", "MateBook X Pro", "thin", 11999, "screen=14.2-inch 3.1K OLED; "
          "cpu=Intel Core Ultra 9 185H; ram=32GB; ssd=1TB; weight=0.98 kg", "light touch"),
        P("Huawei", "MateBook 14", "thin", 5999, "screen=14.2-inch 2.8K OLED; "
          "cpu=Intel Core Ultra 5 125H; ram=16GB; ssd=1TB; battery=12 h", "touch longbat"),
        P("Huawei", "MateBook D 14", "laptop", 3999, "screen=14-inch; cpu=Intel Core i5-12450H; "
          "ram=16GB; ssd=512GB; charger=65 W", "fast"),
        P("Xiaomi", "Redmi Book 14", "laptop", 3999, "screen=14-inch 2.8K 120 Hz; "
          "cpu=Intel Core i5-13500H; ram=16GB; ssd=512GB; weight=1.38 kg", "light"),
        P("Xiaomi", "Book Pro 14", "thin", 6999, "screen=14-inch 2.8K OLED; cpu=Intel Core Ultra 7 155H; "
          "ram=32GB; ssd=1TB; weight=1.46 kg", "creator light"),
        P("Dell", "XPS 13", "thin", 9999, "screen=13.4-inch 2.8K OLED; cpu=Snapdragon X Elite; "
          "ram=16GB; ssd=512GB; battery=20 h; weight=1.19 kg", "longbat ai portable"),
        P("Dell", "Inspiron 14", "laptop", 4299, "screen=14-inch 2.2K; cpu=Intel Core 5 120U; "
          "ram=16GB; ssd=512GB", "quietfan"),
        P("Dell", "Alienware m16 R2", "gaming", 14999, "screen=16-inch QHD+; refresh=240 Hz; "
          "cpu=Intel Core Ultra 9 185H; gpu=RTX 4070; ram=32GB; ssd=1TB", "cool"),
        P("HP", "Pavilion Plus 14", "thin", 4999, "screen=14-inch 2.8K OLED; cpu=AMD Ryzen 7 8840HS; "
          "ram=16GB; ssd=1TB; weight=1.4 kg", "quietfan"),
        P("HP", "OMEN 16|暗影精灵 OMEN 16", "gaming", 7999, "screen=16.1-inch 2.5K; refresh=240 Hz; "
          "cpu=Intel Core i7-14650HX; gpu=RTX 4060; ram=16GB; ssd=1TB", "cool"),
        P("HP", "Spectre x360 14", "convertible", 11999, "screen=14-inch 2.8K OLED; "
          "cpu=Intel Core Ultra 7 155H; ram=32GB; ssd=1TB", "touch ai"),
        P("Asus", "ROG Zephyrus G14|ROG 幻14", "gaming", 12999, "screen=14-inch 3K OLED; refresh=120 Hz; "
          "cpu=AMD Ryzen AI 9 HX 370; gpu=RTX 4070; ram=32GB; ssd=1TB; weight=1.5 kg", "light"),
        P("Asus", "Vivobook S14|无畏 Pro 14", "thin", 4699, "screen=14-inch 3K OLED; "
          "cpu=Intel Core Ultra 5 125H; ram=16GB; ssd=1TB; weight=1.3 kg", "light"),
        P("Asus", "ROG Strix G16|ROG 枪神8", "gaming", 9999, "screen=16-inch 2.5K; refresh=240 Hz; "
          "cpu=Intel Core i9-14900HX; gpu=RTX 4060; ram=16GB; ssd=1TB", "cool"),
        P("Acer", "Swift Go 14|传奇 Go 14", "thin", 4499, "screen=14-inch 2.8K OLED; "
          "cpu=Intel Core Ultra 5 125H; ram=16GB; ssd=512GB; weight=1.32 kg; battery=15 h",
          "longbat portable"),
    ),
)

SPEAKERS = Category(
    "sp", "Electronics > Bluetooth Speakers", "蓝牙音箱",
    ("speaker", "speakers", "bluetooth speaker", "wireless speaker", "portable speaker", "smart speaker",
     "party speaker", "音箱", "音响", "蓝牙音箱", "蓝牙音响", "智能音箱", "小音箱", "户外音箱"),
    {
        "portable": K("Portable Bluetooth Speaker", "便携蓝牙音箱",
                      "Go-anywhere speaker with {battery} of playtime per charge", "随身音箱，单次播放{battery}",
                      "portable"),
        "party": K("Party Speaker", "派对音箱", "{power} party speaker with a light show, {battery} of "
                   "playtime", "{power}大功率派对音箱，炫彩灯效，单次播放{battery}"),
        "home": K("Home Bluetooth Speaker", "家用蓝牙音箱", "{power} of room-filling sound over "
                  "Bluetooth {bluetooth}", "{power}输出，蓝牙{bluetooth}，声音饱满"),
        "smart": K("Smart Speaker", "智能音箱", "Wi-Fi smart speaker with a built-in {assistant} voice "
                   "assistant", "Wi-Fi智能音箱，内置{assistant}语音助手", "smart"),
    },
    {
        "wp": T("{waterproof} waterproof and dustproof", "{waterproof}防水防尘", "waterproof"),
        "splash": T("{waterproof} splash-proof", "{waterproof}防泼溅", "waterproof"),
        "longbat": T("long battery life", "长续航", "long_battery"),
        "durable": T("rugged, drop-proof body", "抗摔机身，结实耐用", "durable"),
        "power": T("{power} output", "{power}输出功率"),
        "stereo": T("pair two for stereo", "双机立体声组队"),
        "powerbank": T("doubles as a power bank", "可为手机充电"),
        "mic": T("karaoke mic input", "支持K歌麦克风"),
        "outdoor": T("ideal for camping and the beach", "适合露营与海边"),
        "clip": T("built-in clip for backpacks", "自带挂钩，可挂背包"),
        "ambient": T("ambient light effects", "氛围灯效"),
    },
    (
        P("JBL", "Flip 6", "portable", 799, "power=30 W; battery=12 h; waterproof=IP67; weight=550 g",
          "wp stereo durable"),
        P("JBL", "Charge 5", "portable", 1199, "power=40 W; battery=20 h; waterproof=IP67; weight=960 g",
          "wp longbat powerbank"),
        P("JBL", "Go 4", "portable", 299, "power=4.2 W; battery=7 h; waterproof=IP67; weight=190 g",
          "wp light"),
        P("JBL", "Clip 5", "portable", 399, "power=7 W; battery=12 h; waterproof=IP67; weight=285 g",
          "wp clip"),
        P("JBL", "PartyBox 110", "party", 2999, "power=160 W; battery=12 h; waterproof=IPX4", "splash mic"),
        P("JBL", "Xtreme 4", "portable", 2199, "power=100 W; battery=24 h; waterproof=IP67; weight=2.1 kg",
          "wp longbat powerbank power"),
        P("Sony", "SRS-XB100", "portable", 399, "battery=16 h; waterproof=IP67; weight=274 g",
          "wp clip durable"),
        P("Sony", "ULT Field 1", "portable", 899, "battery=12 h; waterproof=IP67; weight=650 g",
          "wp durable outdoor"),
        P("Bose", "SoundLink Flex", "portable", 1149, "battery=12 h; waterproof=IP67; weight=600 g",
          "wp durable outdoor"),
        P("Bose", "SoundLink Max", "portable", 2999, "battery=20 h; waterproof=IP67; weight=2.1 kg",
          "wp longbat powerbank"),
        P("Bose", "SoundLink Micro", "portable", 799, "battery=6 h; waterproof=IP67; weight=290 g",
          "wp clip"),
        P("Marshall", "Emberton III", "portable", 1699, "power=38 W; battery=32 h; waterproof=IP67; "
          "weight=680 g", "wp longbat power"),
        P("Marshall", "Willen II", "portable", 899, "power=10 W; battery=17 h; waterproof=IP67; "
          "weight=310 g", "wp clip"),
        P("Marshall", "Stanmore III", "home", 3999, "power=80 W; bluetooth=5.2", "stereo"),
        P("Harman Kardon", "Aura Studio 4|琉璃4", "home", 1999, "power=130 W; bluetooth=5.3", "ambient"),
        P("Xiaomi", "Xiaoai Speaker Pro|小爱音箱 Pro", "smart", 299, "assistant=Xiao AI", "stereo"),
        P("Huawei", "Sound X", "smart", 1999, "assistant=Celia; power=60 W", "power"),
        P("Apple", "HomePod mini", "smart", 749, "assistant=Siri; weight=345 g", "light"),
        P("Anker", "Soundcore Motion 300", "portable", 499, "power=30 W; battery=13 h; waterproof=IPX7; "
          "weight=880 g", "wp power"),
        P("Anker", "Soundcore Boom 2", "portable", 899, "power=80 W; battery=24 h; waterproof=IPX7",
          "wp longbat power outdoor"),
    ),
)

CAMERAS = Category(
    "cm", "Electronics > Cameras", "相机",
    ("camera", "cameras", "digital camera", "mirrorless", "mirrorless camera", "dslr", "action camera",
     "action cam", "vlog camera", "instant camera", "相机", "照相机", "数码相机", "微单", "单反",
     "运动相机", "拍立得", "全景相机", "卡片机"),
    {
        "mirrorless": K("Mirrorless Camera", "微单相机", "{sensor} {mp} sensor with {video} video",
                        "{sensor} {mp}传感器，支持{video}视频", "camera"),
        "compact": K("Compact Camera", "便携数码相机", "Pocketable camera, {sensor} {mp} sensor and "
                     "{video} video", "口袋尺寸，{sensor} {mp}传感器，支持{video}视频", "camera", "portable"),
        "action": K("Action Camera", "运动相机", "{video} video, {waterproof} waterproof without a housing",
                    "{video}视频，裸机{waterproof}防水", "camera", "sport", "waterproof"),
        "360": K("360° Action Camera", "全景运动相机", "{video} 360° video, {waterproof} waterproof "
                 "without a housing", "{video}全景视频，裸机{waterproof}防水", "camera", "sport", "waterproof"),
        "gimbal": K("Pocket Gimbal Camera", "口袋云台相机", "3-axis stabilized pocket camera with a "
                    "{sensor} sensor and {video} video", "三轴云台增稳，{sensor}传感器，支持{video}视频", "camera"),
        "instant": K("Instant Camera", "拍立得相机", "Prints credit-card-size pictures in seconds",
                     "即拍即得，几秒出片", "camera"),
    },
    {
        "vlog": T("flip-out screen for vlogging", "翻转屏，适合Vlog"),
        "ibis": T("{ibis} in-body stabilization", "机身{ibis}防抖"),
        "af": T("AI subject-detection autofocus", "AI主体识别对焦"),
        "kids": T("simple enough for kids", "操作简单，孩子也能用", "kids"),
        "durable": T("rugged and freeze-proof", "坚固耐用，耐低温", "durable"),
        "longbat": T("long battery life", "长续航", "long_battery"),
        "filmsim": T("film simulations for straight-out-of-camera colour", "胶片模拟色彩直出"),
        "phoneprint": T("prints pictures from your phone over Bluetooth", "蓝牙连接手机打印照片", "wireless"),
        "magnet": T("magnetic quick-release mounts", "磁吸快拆"),
        "retro": T("retro dials", "复古转盘设计"),
    },
    (
        P("Canon", "EOS R50", "mirrorless", 5499, "sensor=APS-C; mp=24.2 MP; video=4K 30p; "
          "lens=RF-S 18-45mm kit; weight=375 g", "vlog light af"),
        P("Canon", "EOS R8", "mirrorless", 9999, "sensor=Full Frame; mp=24.2 MP; video=4K 60p; "
          "weight=461 g", "light af"),
        P("Canon", "EOS R6 Mark II", "mirrorless", 14999, "sensor=Full Frame; mp=24.2 MP; video=4K 60p; "
          "ibis=8-stop", "ibis af"),
        P("Canon", "PowerShot G7 X Mark III", "compact", 5199, "sensor=1-inch; mp=20.1 MP; "
          "video=4K 30p; weight=304 g", "vlog"),
        P("Sony", "ZV-E10 II", "mirrorless", 7299, "sensor=APS-C; mp=26 MP; video=4K 60p; "
          "lens=16-50mm kit; weight=377 g", "vlog light"),
        P("Sony", "Alpha 7 IV", "mirrorless", 15999, "sensor=Full Frame; mp=33 MP; video=4K 60p; "
          "ibis=5.5-stop", "ibis af"),
        P("Sony", "Alpha 7C II", "mirrorless", 13999, "sensor=Full Frame; mp=33 MP; video=4K 60p; "
          "ibis=7-stop; weight=514 g", "portable ibis af"),
        P("Nikon", "Z50 II", "mirrorless", 7499, "sensor=APS-C; mp=20.9 MP; video=4K 60p; "
          "lens=16-50mm kit", "vlog af"),
        P("Nikon", "Zf", "mirrorless", 12999, "sensor=Full Frame; mp=24.5 MP; video=4K 30p; "
          "ibis=8-stop", "ibis retro"),
        P("Nikon", "Z5 II", "mirrorless", 10999, "sensor=Full Frame; mp=24.5 MP; video=4K 30p; "
          "ibis=7.5-stop", "ibis af"),
        P("Fujifilm", "X100VI", "compact", 11990, "sensor=APS-C; mp=40.2 MP; video=6.2K 30p; "
          "ibis=6-stop", "ibis filmsim"),
        P("Fujifilm", "X-T50", "mirrorless", 9990, "sensor=APS-C; mp=40.2 MP; video=6.2K 30p; "
          "lens=XC 15-45mm kit; weight=438 g", "filmsim light retro"),
        P("Fujifilm", "X-S20", "mirrorless", 10490, "sensor=APS-C; mp=26.1 MP; video=6.2K 30p; "
          "ibis=7-stop", "vlog longbat ibis"),
        P("Fujifilm", "instax mini 12", "instant", 569, "film=instax mini; weight=306 g", "kids light"),
        P("Fujifilm", "instax mini Evo", "instant", 1599, "film=instax mini; weight=285 g",
          "phoneprint filmsim"),
        P("DJI", "Osmo Action 5 Pro", "action", 2998, "video=4K 120p; waterproof=20 m; battery=4 h",
          "durable longbat magnet"),
        P("DJI", "Osmo Pocket 3", "gimbal", 3499, "sensor=1-inch; video=4K 120p; weight=179 g",
          "portable vlog light"),
        P("GoPro", "HERO13 Black", "action", 3198, "video=5.3K 60p; waterproof=10 m; weight=154 g",
          "durable magnet light"),
        P("Insta360", "X4", "360", 3499, "video=8K 30p; waterproof=10 m; weight=203 g", "durable"),
        P("Insta360", "GO 3S", "action", 2698, "video=4K 30p; waterproof=10 m; weight=39 g",
          "light portable magnet"),
        P("Ricoh", "GR IIIx", "compact", 7999, "sensor=APS-C; mp=24.2 MP; video=Full HD 60p; "
          "weight=262 g", "light"),
    ),
)

SHOE_LEAD = ("{foam} midsole, {drop} drop, about {weight} per shoe", "{foam}中底，{drop}落差，单只约{weight}")
RUNNING_SHOES = Category(
    "rs", "Sports > Running Shoes", "跑鞋",
    ("running shoes", "running shoe", "runners", "trainers", "sneakers", "jogging shoes", "racing shoes",
     "trail shoes", "跑鞋", "跑步鞋", "运动鞋", "慢跑鞋", "竞速跑鞋", "越野跑鞋"),
    {
        "road": K("Road Running Shoes", "公路跑鞋", *SHOE_LEAD),
        "race": K("Carbon-Plated Racing Shoes", "碳板竞速跑鞋", "{foam} midsole with a full-length carbon "
                  "plate, {drop} drop, about {weight} per shoe", "{foam}中底搭配全掌碳板，{drop}落差，单只约{weight}"),
        "trail": K("Trail Running Shoes", "越野跑鞋", "{foam} midsole and a grippy lugged outsole for "
                   "trails, {drop} drop", "{foam}中底，深齿大底抓地稳，{drop}落差"),
        "kids": K("Kids' Running Shoes", "儿童跑鞋", "Cushioned {foam} midsole and hook-and-loop straps, "
                  "about {weight} per shoe", "{foam}缓震中底，魔术贴穿脱方便，单只约{weight}", "kids"),
    },
    {
        "light": T("lightweight", "轻量", "lightweight"),
        "breathable": T("breathable engineered mesh upper", "透气工程网面鞋面", "breathable"),
        "durable": T("durable rubber outsole", "耐磨橡胶大底", "durable"),
        "marathon": T("built for marathon racing", "适合马拉松比赛", "running"),
        "stability": T("stability support for overpronation", "稳定支撑，适合足内翻人群"),
        "gtx": T("GORE-TEX waterproof upper", "GORE-TEX防水鞋面", "waterproof"),
        "daily": T("comfortable daily trainer for easy miles", "舒适的日常训练鞋", "sport"),
        "wide": T("roomy wide toe box", "宽楦设计"),
        "reflective": T("reflective details for low light", "反光细节，夜间更安全"),
        "cushion": T("max cushioning for long distances", "厚底高缓震，适合长距离"),
    },
    (
        P("Nike", "Pegasus 41", "road", None, "foam=ReactX; drop=10 mm; weight=289 g",
          "breathable daily durable", "Men's/男款:899, Women's/女款:899"),
        P("Nike", "Vomero 18", "road", 1099, "foam=ZoomX + ReactX; drop=10 mm; weight=311 g",
          "cushion breathable"),
        P("Nike", "Alphafly 3", "race", 2099, "foam=ZoomX; drop=8 mm; weight=218 g", "marathon light"),
        P("Nike", "Pegasus Trail 5 GORE-TEX", "trail", 1199, "foam=ReactX; drop=9.5 mm; weight=320 g",
          "gtx durable"),
        P("Adidas", "Adizero Adios Pro 3", "race", 1599, "foam=Lightstrike Pro; drop=6.5 mm; weight=215 g",
          "marathon light"),
        P("Adidas", "Adizero Boston 12", "road", 1099, "foam=Lightstrike Pro; drop=6 mm; weight=267 g",
          "daily durable"),
        P("Adidas", "Ultraboost 5", "road", 1499, "foam=Light BOOST; drop=10 mm; weight=310 g",
          "cushion breathable"),
        P("Adidas", "Supernova Rise", "road", None, "foam=Dreamstrike+; drop=10 mm; weight=295 g",
          "daily breathable", "Men's/男款:799, Women's/女款:799"),
        P("Li-Ning", "Feidian 4 Elite|飞电4 ELITE", "race", 1099, "foam=BOOM; drop=7 mm; weight=199 g",
          "marathon light"),
        P("Li-Ning", "Chitu 7 Pro|赤兔7 PRO", "road", 599, "foam=BOOM; drop=8 mm; weight=210 g",
          "light breathable daily"),
        P("Li-Ning", "Super Light 21|超轻21", "road", 499, "foam=LIGHT FOAM; drop=8 mm; weight=199 g",
          "light breathable"),
        P("Anta", "C202 GT 5|C202 5代 GT", "race", 799, "foam=Nitrogen; drop=8 mm; weight=225 g",
          "marathon light"),
        P("Anta", "Mach 4|马赫4", "road", 499, "foam=Nitrogen; drop=8 mm; weight=220 g",
          "light breathable daily"),
        P("Anta", "PG7", "road", 399, "foam=PG7; drop=10 mm; weight=265 g", "cushion durable"),
        P("Anta", "FlashFoam|闪能", "kids", 259, "foam=EVA; weight=180 g", "breathable durable"),
        P("Asics", "Gel-Kayano 31", "road", 1390, "foam=FF BLAST PLUS; drop=10 mm; weight=300 g",
          "stability cushion"),
        P("Asics", "Novablast 5", "road", None, "foam=FF BLAST MAX; drop=8 mm; weight=255 g",
          "daily breathable", "Men's/男款:999, Women's/女款:999"),
        P("Asics", "Metaspeed Sky Paris", "race", 1899, "foam=FF TURBO+; drop=5 mm; weight=190 g",
          "marathon light"),
        P("Asics", "Gel-Contend 9", "road", 399, "foam=AMPLIFOAM; drop=10 mm; weight=285 g",
          "daily durable"),
        P("New Balance", "Fresh Foam X 1080v14", "road", 1099, "foam=Fresh Foam X; drop=6 mm; "
          "weight=275 g", "cushion wide"),
        P("Hoka", "Clifton 9", "road", None, "foam=CMEVA; drop=5 mm; weight=248 g", "cushion light",
          "Men's/男款:1099, Women's/女款:1099"),
        P("Hoka", "Speedgoat 6", "trail", 1299, "foam=supercritical EVA; drop=5 mm; weight=275 g",
          "durable light"),
        P("Decathlon", "Kiprun KS900", "road", 599, "foam=Kalensole; drop=10 mm; weight=290 g",
          "cushion durable"),
        P("Decathlon", "Kiprun KD500", "kids", 159, "foam=EVA; weight=200 g", "breathable reflective"),
    ),
    variant_attr="fit",
)

FITNESS = Category(
    "fe", "Sports > Fitness Equipment", "健身器材",
    ("fitness equipment", "gym equipment", "home gym", "exercise equipment", "yoga mat", "dumbbell",
     "dumbbells", "resistance band", "resistance bands", "kettlebell", "jump rope", "skipping rope",
     "foam roller", "treadmill", "walking pad", "exercise bike", "spin bike", "rowing machine",
     "massage gun", "健身器材", "健身器械", "瑜伽垫", "哑铃", "弹力带", "壶铃", "跳绳", "泡沫轴",
     "跑步机", "走步机", "动感单车", "划船机", "筋膜枪"),
    {
        "mat": K("Yoga Mat", "瑜伽垫", "{thickness} thick non-slip mat, {size}", "{thickness}厚防滑瑜伽垫，尺寸{size}"),
        "adb": K("Adjustable Dumbbells", "可调节哑铃", "Dial-adjustable, {range} per dumbbell",
                 "旋钮快速调节，单只{range}"),
        "db": K("Hex Dumbbells (Pair)", "六角哑铃（一对）", "Rubber-coated hex dumbbells, {load} each",
                "包胶六角哑铃，每只{load}"),
        "kb": K("Kettlebell", "壶铃", "Cast-iron kettlebell with a wide handle, {load}", "铸铁壶铃，宽握把，{load}"),
        "bands": K("Resistance Bands Set", "弹力带套装", "{levels} resistance levels, {range}",
                   "{levels}档阻力，{range}"),
        "rope": K("Jump Rope", "跳绳", "{length} adjustable rope with ball-bearing handles",
                  "{length}可调节绳长，轴承手柄"),
        "roller": K("Foam Roller", "泡沫轴", "{size} foam roller for muscle recovery", "{size}泡沫轴，放松肌肉"),
        "gun": K("Massage Gun", "筋膜枪", "Percussion massage gun with {heads} heads and {speeds} speeds",
                 "{heads}个按摩头，{speeds}档调速"),
        "pad": K("Walking Pad", "走步机", "Under-desk walking pad, {speed}", "桌下走步机，速度{speed}"),
        "tread": K("Folding Treadmill", "折叠跑步机", "Folding treadmill for walking and running, {speed}, "
                   "{deck} deck", "可走可跑，速度{speed}，跑台{deck}", "running"),
        "bike": K("Spin Bike", "动感单车", "Magnetic-resistance spin bike with a {flywheel} flywheel",
                  "磁控动感单车，{flywheel}飞轮"),
        "rower": K("Rowing Machine", "划船机", "{resistance} resistance rowing machine, {levels} levels",
                   "{resistance}阻力划船机，{levels}档调节"),
    },
    {
        "eco": T("eco-friendly natural rubber", "天然橡胶，环保无异味", "eco"),
        "portable": T("folds small, portable for travel", "可折叠，便携出行", "portable"),
        "quiet": T("quiet enough for apartments", "静音运行，适合公寓", "quiet"),
        "smart": T("app control with guided classes", "APP控制，智能课程联动", "smart"),
        "grip": T("grippy surface even when sweaty", "出汗也不打滑"),
        "alignment": T("alignment lines for poses", "体位线辅助"),
        "fold": T("folds away to save space", "可折叠收纳，节省空间"),
        "space": T("one set replaces 15 pairs", "一套顶15对哑铃"),
        "counter": T("counts jumps and calories", "自动计数与卡路里"),
    },
    (
        P("Lululemon", "The Mat 5mm", "mat", 788, "thickness=5 mm; size=180 x 66 cm; weight=2.4 kg",
          "eco grip durable"),
        P("Lululemon", "The Mat 3mm", "mat", 588, "thickness=3 mm; size=180 x 66 cm; weight=1.6 kg",
          "eco grip light"),
        P("Decathlon", "Domyos Essential", "mat", 99, "thickness=8 mm; size=173 x 61 cm; weight=0.9 kg",
          "light alignment"),
        P("Decathlon", "Domyos Travel", "mat", 149, "thickness=1.5 mm; size=180 x 60 cm; weight=0.8 kg",
          "portable light grip"),
        P("Adidas", "Premium", "mat", 269, "thickness=5 mm; size=176 x 61 cm", "grip alignment"),
        P("Decathlon", "Domyos", "adb", 399, "range=2–10 kg", "durable"),
        P("Reebok", "", "adb", 1299, "range=2–24 kg", "space durable"),
        P("Reebok", "", "db", None, "", "durable", "5 kg:269, 10 kg:459"),
        P("Decathlon", "Domyos", "kb", None, "", "durable", "8 kg:119, 12 kg:169, 16 kg:229"),
        P("Decathlon", "Domyos", "bands", 79, "levels=5; range=5–25 kg", "portable"),
        P("Yunmai", "Smart|智能", "rope", 99, "length=3 m", "smart counter"),
        P("Decathlon", "Domyos Kids|Domyos 儿童", "rope", 29, "length=2.2 m; weight=150 g", "kids light"),
        P("Decathlon", "Domyos", "roller", 59, "size=33 x 14 cm", "durable"),
        P("Xiaomi", "Mijia 2C|米家 2C", "gun", 299, "heads=4; speeds=3; weight=400 g",
          "quiet portable light"),
        P("Kingsmith", "WalkingPad C2", "pad", 1699, "speed=1–6 km/h; weight=23 kg", "fold quiet smart"),
        P("Kingsmith", "WalkingPad R2", "tread", 2999, "speed=0.5–10 km/h; deck=121 x 47 cm",
          "fold quiet smart"),
        P("Yesoul", "S3", "bike", 1999, "flywheel=9 kg", "quiet smart"),
        P("Merach", "R50", "rower", 1699, "resistance=magnetic; levels=16", "quiet fold smart"),
    ),
    variant_attr="load",
)

KITCHEN = Category(
    "ka", "Home > Kitchen Appliances", "厨房电器",
    ("kitchen appliance", "kitchen appliances", "rice cooker", "air fryer", "kettle", "electric kettle",
     "blender", "juicer", "soymilk maker", "coffee machine", "espresso machine", "coffee maker",
     "microwave", "厨房电器", "电饭煲", "电饭锅", "空气炸锅", "电水壶", "烧水壶", "热水壶", "破壁机",
     "料理机", "榨汁机", "榨汁杯", "豆浆机", "咖啡机", "微波炉"),
    {
        "rice": K("Rice Cooker", "电饭煲", "{capacity} pot, {programs} cooking programs",
                  "{capacity}内胆，{programs}种烹饪功能"),
        "ihrice": K("IH Rice Cooker", "IH电饭煲", "{capacity} pot heated all round by induction, "
                    "{programs} cooking programs", "{capacity}内胆，IH电磁立体加热，{programs}种烹饪功能"),
        "fryer": K("Air Fryer", "空气炸锅", "{capacity} basket, {power}, crisps food with little or no oil",
                   "{capacity}炸篮，{power}，少油甚至无油烹饪"),
        "kettle": K("Electric Kettle", "电热水壶", "{capacity} electric kettle, {power}, boils in minutes",
                    "{capacity}电热水壶，{power}，几分钟烧开"),
        "blender": K("High-Speed Blender", "破壁机", "{power} high-speed blender with a {capacity} jar",
                     "{power}高速破壁机，{capacity}杯体"),
        "juicer": K("Portable Blender", "便携榨汁杯", "USB-C rechargeable {capacity} blender cup",
                    "USB-C充电{capacity}榨汁杯", "portable"),
        "soy": K("Soymilk Maker", "豆浆机", "{capacity} soymilk maker, fresh soymilk in {time}",
                 "{capacity}豆浆机，{time}现磨出浆"),
        "espresso": K("Espresso Machine", "咖啡机", "{pressure} pump espresso machine with a milk frother",
                      "{pressure}泵压意式咖啡机，带奶泡棒"),
        "auto": K("Fully Automatic Coffee Machine", "全自动咖啡机", "Bean-to-cup coffee machine, "
                  "{drinks} drinks at one touch", "现磨咖啡豆，一键制作{drinks}种咖啡"),
        "micro": K("Microwave Oven", "微波炉", "{capacity} microwave oven, {power}", "{capacity}微波炉，{power}"),
    },
    {
        "smart": T("app control over Wi-Fi", "支持APP智能控制", "smart"),
        "big": T("large capacity for {people}", "大容量，适合{people}", "large_capacity"),
        "compact": T("compact for small kitchens", "机身小巧，适合小厨房", "portable"),
        "pot": T("durable, scratch-resistant pot", "内胆耐磨耐用", "durable"),
        "steel": T("durable 304 stainless steel", "304不锈钢，结实耐用", "durable"),
        "window": T("viewing window to watch food cook", "可视窗口，随时查看"),
        "dishwasher": T("dishwasher-safe basket", "炸篮可入洗碗机"),
        "timer": T("24-hour delay timer", "24小时预约"),
        "temp": T("temperature control from 40 to 100 °C", "40–100°C精准控温"),
        "eco": T("ECO energy-saving mode", "节能环保模式", "eco"),
        "selfclean": T("self-cleaning", "自动清洗"),
        "foldable": T("foldable for travel", "可折叠，旅行便携", "portable"),
        "baby": T("baby food mode for kids", "宝宝辅食模式，适合儿童", "kids"),
    },
    (
        P("Midea", "MB-FB40S701", "rice", 299, "capacity=4 L; programs=12; people=3–6 people", "timer big"),
        P("Midea", "MB-HS4075", "ihrice", 499, "capacity=4 L; programs=16; power=1100 W", "smart timer"),
        P("Supor", "SF40HC", "ihrice", 599, "capacity=4 L; programs=12; power=1100 W", "pot timer"),
        P("Panasonic", "SR-HG151", "ihrice", 1499, "capacity=4 L; programs=14; people=4–8 people",
          "pot big"),
        P("Zojirushi", "NP-HBH10", "ihrice", 2499, "capacity=1 L; programs=10", "pot compact"),
        P("Xiaomi", "Mijia C1|米家 C1", "rice", 149, "capacity=3 L; programs=8", "compact smart"),
        P("Midea", "KZE5004", "fryer", 299, "capacity=5 L; power=1500 W", "window dishwasher"),
        P("Philips", "HD9285", "fryer", 1299, "capacity=6.2 L; power=2000 W; people=4–6 people",
          "dishwasher big"),
        P("Xiaomi", "Mijia Smart|米家智能", "fryer", 399, "capacity=6.5 L; power=1800 W; "
          "people=4–6 people", "smart big window"),
        P("Bear", "QZG-A15D1", "fryer", 169, "capacity=3 L; power=1300 W", "compact"),
        P("Supor", "KJ60D", "fryer", 349, "capacity=6 L; power=1500 W; people=4–6 people", "window big"),
        P("Xiaomi", "Mijia 2|米家 2", "kettle", 99, "capacity=1.7 L; power=1800 W", "steel"),
        P("Supor", "SW-17S", "kettle", 129, "capacity=1.7 L; power=1800 W", "steel"),
        P("Midea", "MK-SH15", "kettle", 159, "capacity=1.5 L; power=1800 W", "temp steel"),
        P("Bear", "ZDH-A06", "kettle", 99, "capacity=0.6 L; power=600 W", "foldable"),
        P("Joyoung", "L12-Y921", "blender", 1299, "power=1200 W; capacity=1.2 L", "quiet selfclean"),
        P("Midea", "MJ-PB80", "blender", 599, "power=1200 W; capacity=1.75 L", "baby"),
        P("Philips", "HR3752", "blender", 999, "power=1400 W; capacity=2 L", "eco"),
        P("Bear", "LLJ-P03", "juicer", 129, "capacity=300 ml; weight=450 g", "light"),
        P("Joyoung", "DJ13", "soy", 399, "capacity=1.3 L; time=25 min", "selfclean timer"),
        P("De'Longhi", "EC685 Dedica", "espresso", 1999, "pressure=15 bar", "compact"),
        P("Philips", "EP3246 LatteGo", "auto", 3999, "drinks=5", "quiet"),
        P("Midea", "M1-L201B", "micro", 399, "capacity=20 L; power=700 W", "compact"),
    ),
)

CLEANING = Category(
    "hc", "Home > Home Cleaning", "清洁电器",
    ("vacuum", "vacuum cleaner", "vacuums", "hoover", "cordless vacuum", "stick vacuum", "robot vacuum",
     "robovac", "floor washer", "wet dry vacuum", "mite vacuum", "吸尘器", "无线吸尘器", "扫地机器人",
     "扫地机", "扫拖一体", "洗地机", "除螨仪", "清洁电器", "拖地机"),
    {
        "stick": K("Cordless Stick Vacuum", "无线吸尘器", "{suction} suction and up to {runtime} of runtime",
                   "{suction}吸力，最长使用{runtime}", "wireless"),
        "robot": K("Robot Vacuum and Mop", "扫拖机器人", "Smart robot vacuum and mop with {suction} "
                   "suction, LiDAR navigation and a self-emptying dock",
                   "智能扫拖一体机器人，{suction}吸力，激光导航，自动集尘基站", "smart"),
        "floor": K("Cordless Wet and Dry Floor Washer", "无线洗地机", "Vacuums and mops in one pass, "
                   "{runtime} of runtime, {tank} clean-water tank", "吸拖洗一体，使用{runtime}，{tank}清水箱",
                   "wireless"),
        "hand": K("Cordless Handheld Vacuum", "无线手持吸尘器", "Handheld vacuum for the car and sofa with "
                  "{suction} suction", "适合车内与沙发，{suction}吸力", "wireless"),
        "mite": K("UV Mite Vacuum", "除螨仪", "{power} UV mite vacuum for mattresses and sofas",
                  "{power}紫外线除螨仪，适用于床垫与沙发"),
    },
    {
        "longbat": T("long battery life", "长续航", "long_battery"),
        "quiet": T("quiet mode at {noise}", "静音模式低至{noise}", "quiet"),
        "smartsense": T("smart dirt sensing adjusts the power", "智能感应脏污，自动调节吸力", "smart"),
        "big": T("large capacity {bin} dust bin", "大容量{bin}尘盒", "large_capacity"),
        "pet": T("anti-tangle brush for pet hair", "防缠绕滚刷，适合养宠家庭"),
        "laser": T("laser reveals hidden dust", "激光显尘"),
        "wash": T("dock washes and hot-air dries the mop", "基站自动洗拖布并热风烘干"),
        "arm": T("extendable mop reaches into corners", "机械臂伸缩拖地，边角清洁"),
        "app": T("app control and room maps", "APP控制，分区地图", "smart"),
        "lift": T("lifts the mop on carpets", "遇地毯自动抬拖"),
        "hotwash": T("hot-water self-cleaning", "热水自清洁"),
        "selfclean": T("self-cleaning brush roller", "滚刷自清洁"),
    },
    (
        P("Dyson", "V15 Detect Absolute", "stick", 4990, "suction=240 AW; runtime=60 min; weight=3.1 kg; "
          "bin=0.76 L", "laser smartsense"),
        P("Dyson", "V12 Detect Slim", "stick", 3990, "suction=150 AW; runtime=60 min; weight=2.2 kg",
          "laser light"),
        P("Dyson", "V8 Slim Fluffy", "stick", 2490, "suction=115 AW; runtime=40 min; weight=2.15 kg",
          "light"),
        P("Dyson", "Gen5detect", "stick", 5990, "suction=262 AW; runtime=70 min; bin=0.77 L",
          "laser longbat big"),
        P("Roborock", "S8 MaxV Ultra", "robot", 5999, "suction=10000 Pa", "wash arm lift app"),
        P("Roborock", "Q8 Max+", "robot", 2499, "suction=5500 Pa", "pet app"),
        P("Roborock", "Dyad Pro", "floor", 2999, "runtime=43 min; tank=0.9 L", "selfclean"),
        P("Ecovacs", "Deebot T30 Pro Omni", "robot", 3999, "suction=11000 Pa", "wash lift"),
        P("Ecovacs", "Deebot X5 Pro Omni", "robot", 5499, "suction=12800 Pa; noise=55 dB",
          "wash arm quiet"),
        P("Ecovacs", "Deebot N20 Pro", "robot", 1999, "suction=8000 Pa", "app pet"),
        P("Dreame", "X40 Ultra", "robot", 5999, "suction=12000 Pa", "wash arm pet"),
        P("Dreame", "V12", "stick", 1699, "suction=150 AW; runtime=90 min; weight=1.5 kg",
          "light longbat"),
        P("Dreame", "H14 Pro", "floor", 2499, "runtime=42 min; tank=0.9 L", "hotwash smartsense"),
        P("Xiaomi", "Mijia 3C|米家 3C", "robot", 1099, "suction=4000 Pa; noise=58 dB", "quiet app"),
        P("Xiaomi", "Mijia 2|米家 2", "hand", 599, "suction=16000 Pa; weight=1.2 kg", "light"),
        P("Xiaomi", "Mijia 3|米家 3", "stick", 999, "suction=150 AW; runtime=60 min; bin=0.6 L",
          "big selfclean"),
        P("Tineco", "Floor One S7 Pro|芙万 S7 Pro", "floor", 3299, "runtime=40 min; tank=0.85 L",
          "smartsense hotwash"),
        P("Tineco", "iFloor 3", "floor", 1599, "runtime=25 min; tank=0.6 L; weight=4.5 kg", "light"),
        P("Philips", "3000 Series|3000系列", "hand", 499, "suction=12000 Pa; weight=1.4 kg", "light"),
        P("Midea", "B5", "mite", 299, "power=450 W; noise=65 dB", "quiet"),
    ),
)

SKINCARE = Category(
    "sk", "Beauty > Skincare", "护肤",
    ("skincare", "skin care", "serum", "face serum", "moisturizer", "moisturiser", "face cream", "cream",
     "essence", "sunscreen", "sunblock", "spf", "cleanser", "face wash", "eye cream", "护肤", "护肤品",
     "精华", "精华液", "面霜", "乳液", "保湿霜", "防晒", "防晒霜", "防晒乳", "洗面奶", "洁面", "眼霜"),
    {
        "serum": K("Serum", "精华液", "{size} face serum for morning and night", "{size}面部精华，早晚可用"),
        "cream": K("Moisturizing Cream", "面霜", "{size} face cream that locks in moisture", "{size}面霜，保湿锁水"),
        "essence": K("Essence", "精华水", "{size} essence to use after cleansing", "{size}精华水，洁面后使用"),
        "sun": K("Sunscreen", "防晒霜", "{spf} sunscreen, {size}", "{spf}防晒，{size}"),
        "cleanser": K("Facial Cleanser", "洁面乳", "{size} gentle cleanser", "{size}温和洁面"),
        "eye": K("Eye Cream", "眼霜", "{size} eye cream for fine lines and puffiness", "{size}眼霜，淡化细纹与浮肿"),
        "balm": K("Repair Balm", "修复霜", "{size} multi-purpose repair balm", "{size}多效修复霜"),
    },
    {
        "repair": T("repairs skin overnight", "夜间修护肌肤"),
        "ceramide": T("ceramides restore the skin barrier", "含神经酰胺，修护屏障"),
        "niacinamide": T("niacinamide for a brighter, even tone", "烟酰胺提亮肤色"),
        "proxylane": T("Pro-Xylane for firmer skin", "玻色因紧致抗老"),
        "ha": T("hyaluronic acid hydration", "玻尿酸深层补水"),
        "sensitive": T("gentle enough for sensitive skin", "敏感肌适用"),
        "light": T("lightweight, fast-absorbing texture", "质地轻薄，吸收快", "lightweight"),
        "sport": T("water-resistant and sweat-proof for outdoor sports", "防水防汗，适合户外运动",
                   "waterproof", "sport"),
        "kids": T("mild formula for kids", "温和配方，儿童可用", "kids"),
        "organic": T("organic green tea extract", "有机绿茶萃取", "eco"),
        "travel": T("travel size", "旅行装，小巧便携", "portable"),
        "big": T("large capacity tub", "大容量家庭装", "large_capacity"),
        "fragfree": T("fragrance-free", "无香精"),
        "pitera": T("Pitera yeast ferment for clear, refined skin", "PITERA精华，细致透亮"),
        "calm": T("soothes redness", "舒缓泛红"),
        "antiox": T("vitamin C and E antioxidants", "维C维E双抗氧化"),
        "nogreasy": T("non-greasy finish", "清爽不油腻"),
    },
    (
        P("Estee Lauder", "Advanced Night Repair|小棕瓶", "serum", None, "", "repair ha light",
          "30 ml:720, 50 ml:950, 100 ml:1550"),
        P("Estee Lauder", "Advanced Night Repair|小棕瓶", "eye", 620, "size=15 ml", "repair light"),
        P("Lancome", "Advanced Génifique|小黑瓶", "serum", None, "", "sensitive light",
          "30 ml:760, 50 ml:1080"),
        P("Lancome", "UV Expert|小白管", "sun", 420, "spf=SPF50+ PA++++; size=50 ml", "light nogreasy"),
        P("L'Oreal", "Revitalift Pro-Xylane|复颜玻色因", "serum", 329, "size=30 ml", "proxylane light"),
        P("L'Oreal", "UV Defender|小金管", "sun", 169, "spf=SPF50+ PA++++; size=50 ml", "nogreasy light"),
        P("Shiseido", "Ultimune|红腰子", "serum", 880, "size=50 ml", "calm"),
        P("Shiseido", "Anessa Perfect UV|安热沙小金瓶", "sun", 228, "spf=SPF50+ PA++++; size=60 ml",
          "sport light"),
        P("Shiseido", "Anessa Perfect UV Mild|安热沙儿童", "sun", 198, "spf=SPF35 PA+++; size=100 ml",
          "kids sensitive"),
        P("SK-II", "Facial Treatment|神仙水", "essence", None, "", "pitera",
          "160 ml:1370, 230 ml:1690"),
        P("SK-II", "Facial Treatment|神仙水", "essence", None, "", "pitera travel", "30 ml:390"),
        P("Olay", "Luminous Niacinamide|小白瓶", "serum", 279, "size=30 ml", "niacinamide light"),
        P("Olay", "Regenerist Micro-Sculpting|大红瓶", "cream", 299, "size=50 g", "ha"),
        P("Kiehl's", "Ultra Facial|高保湿", "cream", None, "", "ha light", "50 ml:310, 125 ml:595"),
        P("Winona", "Soothing Repair|舒敏保湿特护", "cream", 268, "size=50 g", "sensitive calm fragfree"),
        P("Proya", "Double Resist|双抗", "serum", 329, "size=30 ml", "antiox light"),
        P("La Roche-Posay", "Cicaplast B5|B5", "balm", 198, "size=40 ml", "sensitive calm"),
        P("CeraVe", "|保湿修护", "cream", 218, "size=454 g",
          "ceramide big fragfree sensitive"),
        P("CeraVe", "Hydrating|保湿", "cleanser", 128, "size=236 ml", "ceramide sensitive"),
        P("Innisfree", "Green Tea Seed|绿茶籽", "serum", 180, "size=80 ml", "organic ha"),
    ),
    variant_attr="size",
)

PERSONAL_CARE = Category(
    "pc", "Beauty > Personal Care", "个人护理",
    ("personal care", "electric toothbrush", "toothbrush", "shaver", "electric shaver", "razor",
     "hair dryer", "hairdryer", "blow dryer", "water flosser", "个护", "个人护理", "电动牙刷", "牙刷",
     "剃须刀", "电动剃须刀", "刮胡刀", "吹风机", "电吹风", "冲牙器", "洗牙器"),
    {
        "brush": K("Electric Toothbrush", "电动牙刷", "{tech} electric toothbrush with {modes} cleaning "
                   "modes and a 2-minute timer", "{tech}电动牙刷，{modes}种清洁模式，2分钟计时提醒"),
        "kidsbrush": K("Kids' Electric Toothbrush", "儿童电动牙刷", "{tech} toothbrush with {modes} modes "
                       "and a 2-minute timer", "{tech}牙刷，{modes}种模式，2分钟计时提醒", "kids"),
        "shaver": K("Electric Shaver", "电动剃须刀", "{heads} shaver, up to {runtime} of shaving per charge",
                    "{heads}剃须刀，充满电可剃{runtime}"),
        "dryer": K("Hair Dryer", "吹风机", "{power} hair dryer", "{power}吹风机"),
        "flosser": K("Water Flosser", "冲牙器", "{tank} water tank, {modes} modes", "{tank}水箱，{modes}种模式"),
    },
    {
        "longbat": T("long battery life, {battery} per charge", "长续航，充满电可用{battery}", "long_battery"),
        "quickshave": T("5-minute quick charge for one shave", "快充5分钟可剃一次", "fast_charging"),
        "shavesmart": T("app coaching for a better shave", "APP智能剃须指导", "smart"),
        "quiet": T("low noise", "低噪运行", "quiet"),
        "travel": T("travel case included", "附赠旅行盒，出差便携", "portable"),
        "smart": T("app coaching and a pressure sensor", "APP智能刷牙指导与压力感应", "smart"),
        "kidsfun": T("soft bristles and a fun timer", "软毛刷头，趣味计时"),
        "ion": T("negative ions for smooth, frizz-free hair", "负离子护发，顺滑不毛躁"),
        "heat": T("intelligent heat control protects shine", "智能温控护发", "smart"),
        "hs": T("{motor} high-speed motor", "{motor}高速马达"),
        "wet": T("wet and dry use", "干湿两用"),
        "clean": T("cleaning station included", "配自动清洁座"),
        "sensitive": T("gentle on sensitive skin", "温和不刺激，敏感肌可用"),
    },
    (
        P("Oral-B", "iO9", "brush", 2699, "tech=magnetic-drive; modes=7; battery=14 days",
          "smart longbat travel"),
        P("Oral-B", "iO5", "brush", 899, "tech=magnetic-drive; modes=5; battery=14 days", "smart longbat"),
        P("Oral-B", "Pro 3", "brush", 349, "tech=oscillating-rotating; modes=3", "travel"),
        P("Oral-B", "Vitality 100", "kidsbrush", 149, "tech=oscillating-rotating; modes=2", "kidsfun"),
        P("Philips", "Sonicare DiamondClean 9000|Sonicare 钻石亮白 9000", "brush", 1999,
          "tech=sonic; modes=4; battery=14 days", "smart travel"),
        P("Philips", "Sonicare 6100", "brush", 699, "tech=sonic; modes=3", "quiet smart"),
        P("Philips", "Sonicare for Kids|Sonicare 儿童", "kidsbrush", 299, "tech=sonic; modes=2",
          "kidsfun smart"),
        P("Xiaomi", "Mijia T302|米家 T302", "brush", 199, "tech=sonic; modes=4; battery=150 days; "
          "waterproof=IPX8", "longbat wp"),
        P("Usmile", "Y10 Pro", "brush", 399, "tech=sonic; modes=6; battery=180 days", "longbat quiet"),
        P("Braun", "Series 9 Pro+", "shaver", 2999, "heads=5-blade foil; runtime=60 min; "
          "waterproof=IPX7", "wp wet clean sensitive"),
        P("Braun", "Series 7", "shaver", 1599, "heads=4-blade foil; runtime=50 min; waterproof=IPX7",
          "wp wet"),
        P("Braun", "Series 5", "shaver", 699, "heads=3-blade foil; runtime=50 min; waterproof=IPX7",
          "wp quickshave"),
        P("Philips", "Series 5000|5000系列", "shaver", 799, "heads=3-head rotary; runtime=60 min; "
          "waterproof=IPX7", "wp wet"),
        P("Philips", "S9000 Prestige", "shaver", 2999, "heads=3-head rotary; runtime=60 min; "
          "waterproof=IPX7", "wp shavesmart clean"),
        P("Panasonic", "Lamdash ES-LS9AX", "shaver", 2299, "heads=5-blade foil; runtime=45 min; "
          "waterproof=IPX7", "wp clean"),
        P("Xiaomi", "Mijia S300|米家 S300", "shaver", 199, "heads=3-head rotary; runtime=60 min; "
          "waterproof=IPX7", "wp travel"),
        P("Dyson", "Supersonic HD15", "dryer", 3199, "power=1600 W; motor=110,000 rpm", "hs heat ion"),
        P("Dyson", "Supersonic Nural", "dryer", 3999, "power=1600 W; motor=110,000 rpm", "hs heat"),
        P("Panasonic", "EH-NA0J", "dryer", 1599, "power=1800 W", "ion"),
        P("Laifen", "SE", "dryer", 399, "power=1400 W; motor=110,000 rpm; weight=405 g", "hs light ion"),
        P("Laifen", "Swift Special", "dryer", 599, "power=1600 W; motor=110,000 rpm; weight=390 g",
          "hs light quiet"),
        P("Xiaomi", "Mijia H501|米家 H501", "dryer", 299, "power=1600 W; motor=110,000 rpm", "hs ion"),
        P("Panasonic", "EW1511", "flosser", 599, "tank=150 ml; modes=2; waterproof=IPX7", "travel wp"),
    ),
)

BAGS = Category(
    "bg", "Bags > Backpacks & Luggage", "背包箱包",
    ("backpack", "backpacks", "rucksack", "daypack", "bag", "bags", "laptop bag", "luggage", "suitcase",
     "carry-on", "trolley case", "duffel", "school bag", "hiking backpack", "背包", "双肩包", "书包",
     "行李箱", "拉杆箱", "旅行箱", "登机箱", "箱包", "登山包", "电脑包", "旅行袋"),
    {
        "cabin": K("Carry-On Spinner Suitcase", "登机箱", "{size} hard-shell carry-on with four spinner "
                   "wheels and a TSA lock, {weight}", "{size}硬壳登机箱，四个万向轮，TSA海关锁，重{weight}"),
        "checked": K("Checked Spinner Suitcase", "托运行李箱", "{size} hard-shell suitcase with four spinner "
                     "wheels and a TSA lock, {weight}", "{size}硬壳托运箱，四个万向轮，TSA海关锁，重{weight}"),
        "laptop": K("Laptop Backpack", "电脑双肩包", "{capacity} backpack with a padded sleeve for up to "
                    "{laptop} laptops", "{capacity}双肩包，带{laptop}电脑隔层"),
        "hiking": K("Hiking Backpack", "登山背包", "{capacity} hiking pack with a hip belt and rain cover",
                    "{capacity}登山包，带腰带与防雨罩"),
        "daypack": K("Daypack", "休闲双肩包", "{capacity} everyday daypack", "{capacity}日常双肩包"),
        "travel": K("Travel Backpack", "旅行背包", "{capacity} carry-on-size backpack that opens like a "
                    "suitcase", "{capacity}登机尺寸，像行李箱一样全开口", "portable"),
        "duffel": K("Travel Duffel Bag", "旅行袋", "{capacity} duffel with backpack straps",
                    "{capacity}行李袋，可双肩背", "portable"),
        "school": K("Kids' School Backpack", "儿童书包", "{capacity} school backpack with a padded back",
                    "{capacity}护脊书包", "kids"),
    },
    {
        "durable": T("durable polycarbonate shell", "PC箱体，结实耐用", "durable"),
        "alu": T("durable aluminium shell", "铝镁合金箱体，坚固耐用", "durable"),
        "tough": T("durable, abrasion-resistant fabric", "耐磨面料，结实耐用", "durable"),
        "wr": T("water-resistant fabric", "面料防泼溅", "waterproof"),
        "travel": T("fits airline cabin limits for travel", "符合登机尺寸，出差旅行方便", "portable"),
        "expand": T("expandable for large capacity", "可扩展，大容量", "large_capacity"),
        "breathable": T("breathable mesh back panel", "透气背板", "breathable"),
        "usb": T("USB charging port", "外置USB充电口"),
        "quietwheels": T("quiet, smooth wheels", "静音万向轮", "quiet"),
    },
    (
        P("Samsonite", "C-Lite", "cabin", 3999, "size=20-inch; weight=2.2 kg", "light travel quietwheels"),
        P("Samsonite", "Octolite", "cabin", 1999, "size=20-inch; weight=2.4 kg", "durable travel"),
        P("Samsonite", "Proxis", "checked", 4999, "size=28-inch; weight=3.3 kg", "light expand"),
        P("Samsonite", "Red Ender", "laptop", 799, "capacity=20 L; laptop=15.6-inch", "wr usb"),
        P("American Tourister", "Curio", "cabin", 599, "size=20-inch; weight=3.0 kg", "travel quietwheels"),
        P("American Tourister", "Curio", "checked", None, "weight=3.9 kg", "expand quietwheels",
          "24-inch:699, 28-inch:799"),
        P("Rimowa", "Essential Cabin", "cabin", 6900, "size=21-inch; weight=3.2 kg", "durable travel"),
        P("Rimowa", "Original Cabin", "cabin", 9900, "size=21-inch; weight=4.3 kg", "alu travel"),
        P("90FUN", "PC Classic", "cabin", 299, "size=20-inch; weight=2.7 kg", "travel"),
        P("90FUN", "Business", "laptop", 199, "capacity=18 L; laptop=15.6-inch", "wr"),
        P("Tumi", "Alpha Bravo Search", "laptop", 3900, "capacity=19 L; laptop=15-inch", "tough usb"),
        P("The North Face", "Borealis", "daypack", 799, "capacity=28 L; weight=1.1 kg", "breathable tough"),
        P("The North Face", "Base Camp", "duffel", 1099, "capacity=71 L", "tough wr expand"),
        P("Osprey", "Talon 22", "hiking", 999, "capacity=22 L; weight=0.9 kg", "light breathable"),
        P("Osprey", "Atmos AG 65", "hiking", 2199, "capacity=65 L; weight=2.1 kg", "breathable tough"),
        P("Decathlon", "Quechua NH Arpenaz 100", "daypack", 49, "capacity=20 L; weight=0.3 kg", "light"),
        P("Decathlon", "Forclaz MT500", "hiking", 899, "capacity=50 L; weight=1.9 kg", "breathable tough"),
        P("Decathlon", "Forclaz Travel 100", "travel", 299, "capacity=40 L; weight=1.2 kg", "wr"),
        P("Decathlon", "Quechua NH100", "school", 129, "capacity=15 L; weight=0.5 kg", "light wr"),
        P("Xiaomi", "Classic Business 2|经典商务 2", "laptop", 199, "capacity=21 L; laptop=15.6-inch", "wr"),
    ),
    variant_attr="size",
)

JACKETS = Category(
    "oj", "Apparel > Outdoor Jackets", "户外服装",
    ("jacket", "jackets", "outdoor jacket", "rain jacket", "raincoat", "shell jacket", "hardshell",
     "down jacket", "puffer", "puffer jacket", "fleece", "parka", "coat", "ski jacket", "外套", "夹克",
     "冲锋衣", "羽绒服", "抓绒", "抓绒衣", "户外服装", "棉服", "雨衣", "滑雪服"),
    {
        "shell": K("Waterproof Shell Jacket", "防水冲锋衣", "{membrane} waterproof shell with taped seams "
                   "and an adjustable hood", "{membrane}防水冲锋衣，全压胶，可调节连帽", "waterproof"),
        "down": K("Down Jacket", "羽绒服", "{fill}-fill-power down jacket", "{fill}蓬松度羽绒服", "warm"),
        "insulated": K("Insulated Jacket", "保暖棉服", "Synthetic {insulation} insulated jacket that stays "
                       "warm when damp", "{insulation}合成填充，受潮依然保暖", "warm"),
        "fleece": K("Fleece Jacket", "抓绒外套", "Midweight fleece jacket for layering", "中厚抓绒外套，适合叠穿"),
        "3in1": K("3-in-1 Jacket", "三合一冲锋衣", "{membrane} waterproof shell with a zip-in {liner} liner",
                  "{membrane}防水外层，搭配可拆卸{liner}内胆", "waterproof"),
        "rain": K("Rain Jacket", "防雨夹克", "Packable waterproof rain jacket, {weight}",
                  "轻薄防水雨衣外套，重{weight}", "waterproof", "lightweight"),
        "kidski": K("Kids' Ski Jacket", "儿童滑雪服", "Waterproof, insulated ski jacket for kids",
                    "防水保暖儿童滑雪服", "kids", "waterproof", "warm"),
    },
    {
        "breathable": T("breathable membrane", "透气排湿", "breathable"),
        "packable": T("packs into its own pocket for travel", "可收纳进口袋，方便出行", "portable"),
        "durable": T("abrasion-resistant, durable face fabric", "面料耐磨耐用", "durable"),
        "eco": T("made with recycled fabric, eco-friendly", "采用再生面料，环保", "eco"),
        "warm": T("soft and warm", "柔软保暖", "warm"),
        "liner": T("the liner keeps you warm", "内胆加倍保暖", "warm"),
        "omniheat": T("Omni-Heat thermal-reflective lining", "Omni-Heat热反射保暖内里", "warm"),
        "pitzips": T("pit zips for venting", "腋下透气拉链", "breathable"),
        "snow": T("powder skirt and a RECCO reflector", "防雪裙与RECCO反射器"),
        "hood": T("adjustable hood", "可调节连帽"),
    },
    (
        P("The North Face", "1996 Retro Nuptse", "down", 2599, "fill=700; weight=800 g", "durable hood"),
        P("The North Face", "Mountain GORE-TEX", "shell", 2999, "membrane=GORE-TEX", "breathable pitzips"),
        P("The North Face", "Triclimate", "3in1", 1699, "membrane=DryVent; liner=fleece", "liner"),
        P("The North Face", "ThermoBall Eco", "insulated", 1599, "insulation=ThermoBall; weight=400 g",
          "eco packable light"),
        P("Columbia", "Bugaboo III", "3in1", 1599, "membrane=Omni-Tech; liner=fleece", "omniheat"),
        P("Columbia", "Watertight II", "rain", 599, "weight=300 g", "packable hood"),
        P("Columbia", "Powder Lite", "insulated", 899, "insulation=Omni-Heat", "omniheat hood"),
        P("Arc'teryx", "Beta LT", "shell", 4500, "membrane=GORE-TEX; weight=395 g",
          "light breathable durable"),
        P("Arc'teryx", "Atom Hoody", "insulated", 2600, "insulation=Coreloft; weight=375 g",
          "breathable light"),
        P("Arc'teryx", "Cerium Hoody", "down", 3800, "fill=850; weight=310 g", "light packable"),
        P("Decathlon", "Quechua MH500", "shell", 399, "membrane=2.5-layer", "breathable"),
        P("Decathlon", "Forclaz MT100", "down", 299, "fill=600; weight=350 g", "packable light"),
        P("Decathlon", "Quechua MH120", "fleece", 99, "weight=310 g", "light warm"),
        P("Decathlon", "Wedze 100", "kidski", 299, "sizes=4–14 years", "snow hood"),
        P("Uniqlo", "Ultra Light", "down", 499, "fill=640; weight=200 g", "light packable"),
        P("Uniqlo", "BLOCKTECH", "shell", 599, "membrane=BLOCKTECH", "breathable"),
        P("Uniqlo", "Full-Zip", "fleece", 199, "weight=340 g", "warm"),
        P("Kailas", "MONT-X", "shell", 2299, "membrane=GORE-TEX Pro", "durable breathable"),
        P("Toread", "TiEF", "3in1", 699, "membrane=TiEF; liner=fleece", "liner"),
        P("Patagonia", "Nano Puff", "insulated", 1899, "insulation=PrimaLoft; weight=337 g",
          "eco light packable"),
        P("Patagonia", "Better Sweater", "fleece", 1299, "weight=500 g", "eco warm"),
    ),
)

TOYS = Category(
    "ty", "Toys & Hobbies > Toys", "玩具",
    ("toy", "toys", "building blocks", "building set", "bricks", "blind box", "doll", "dollhouse",
     "model kit", "gunpla", "plush", "stuffed animal", "action figure", "rubik's cube", "speed cube",
     "玩具", "积木", "拼装", "拼装模型", "盲盒", "潮玩", "手办", "娃娃", "毛绒玩具", "公仔", "魔方", "高达"),
    {
        "bricks": K("Building Set", "拼搭积木", "{pieces}-piece building set for ages {age}",
                    "{pieces}颗粒积木套装，适合{age}岁"),
        "model": K("Model Kit", "拼装模型", "{scale} scale snap-fit model kit, no glue needed, ages {age}",
                   "{scale}比例免胶拼装模型，适合{age}岁"),
        "blind": K("Blind Box Figure", "盲盒手办", "One random collectible figure per box, about {height} tall",
                   "每盒随机一款潮玩手办，高约{height}"),
        "cars": K("Die-Cast Car Pack", "合金车套装", "Pack of {count} 1:64 scale die-cast cars, ages {age}",
                  "{count}辆1:64合金小车，适合{age}岁"),
        "doll": K("Dollhouse Playset", "娃娃屋",
                  "Dollhouse playset with {rooms} rooms and furniture, ages {age}",
                  "{rooms}个房间，配家具，适合{age}岁"),
        "blaster": K("Foam Dart Blaster", "软弹发射器", "Foam dart blaster with {darts} darts, ages {age}",
                     "附{darts}发软弹，适合{age}岁"),
        "dough": K("Modeling Dough Playset", "彩泥套装", "{count} tubs of modeling dough with tools, ages {age}",
                   "{count}罐彩泥配工具，适合{age}岁"),
        "figure": K("Action Figure", "可动人偶", "{height} converting figure, ages {age}",
                    "{height}可变形人偶，适合{age}岁"),
        "cube": K("Speed Cube", "魔方", "3x3 speed cube, {weight}", "三阶竞速魔方，重{weight}"),
        "plush": K("Plush Toy", "毛绒玩具", "{height} super-soft plush, surface-washable",
                   "{height}超柔软毛绒公仔，表面可清洗"),
        "robot": K("Educational Robot", "教育机器人", "Programmable robot kit for ages {age}",
                   "可编程机器人套装，适合{age}岁"),
    },
    {
        "kids": T("a great gift for kids", "送孩子的好礼物", "kids"),
        "adult": T("a display piece for adult builders", "适合成人收藏摆放"),
        "stem": T("builds STEM skills through play", "动手搭建，锻炼逻辑思维"),
        "eco": T("non-toxic, eco-friendly materials", "无毒环保材质", "eco"),
        "portable": T("pocket-size for travel", "小巧便携，出行可玩", "portable"),
        "durable": T("tough die-cast metal bodies", "合金车身，结实耐用", "durable"),
        "smart": T("app control with block-based coding", "APP控制，图形化编程", "smart"),
        "toddler": T("big bricks for small hands", "大颗粒，适合小手抓握"),
        "collect": T("part of a collectible series", "系列收藏款"),
        "magnetic": T("magnetic core for smooth turning", "磁力定位，转动顺滑"),
        "lights": T("lights and sounds", "声光效果"),
    },
    (
        P("Lego", "Classic Large Creative Brick Box 10698|经典创意大号积木盒 10698", "bricks", 449,
          "pieces=790; age=4+", "kids stem"),
        P("Lego", "City Police Station 60316|城市系列 警察局 60316", "bricks", 699, "pieces=668; age=6+",
          "kids"),
        P("Lego", "Technic Ferrari Daytona SP3 42143|机械组 法拉利 Daytona SP3 42143", "bricks", 3299,
          "pieces=3778; age=18+", "adult"),
        P("Lego", "Duplo Number Train 10954|得宝 数字火车 10954", "bricks", 229, "pieces=23; age=1.5+",
          "kids toddler"),
        P("Lego", "Icons Orchid 10311|Icons 兰花 10311", "bricks", 399, "pieces=608; age=18+", "adult"),
        P("Lego", "Star Wars Millennium Falcon 75257|星球大战 千年隼 75257", "bricks", 1199,
          "pieces=1353; age=9+", "kids collect"),
        P("Bandai", "HG Gundam Aerial|HG 风灵高达", "model", 129, "scale=1/144; age=8+", "collect"),
        P("Bandai", "RG Nu Gundam|RG 牛高达", "model", 349, "scale=1/144; age=15+", "adult collect"),
        P("Bandai", "MG Freedom Gundam 2.0|MG 自由高达 2.0", "model", 599, "scale=1/100; age=15+", "adult"),
        P("Pop Mart", "Labubu The Monsters|LABUBU 精灵天团", "blind", 99, "height=7 cm", "collect portable"),
        P("Pop Mart", "Skullpanda|SKULLPANDA", "blind", 69, "height=8 cm", "collect"),
        P("Mattel", "Hot Wheels|风火轮", "cars", 129, "count=20; age=3+", "durable kids"),
        P("Mattel", "Barbie Dreamhouse|芭比梦想豪宅", "doll", 1499, "rooms=10; age=3+", "kids lights"),
        P("Mattel", "Fisher-Price Laugh & Learn Puppy|费雪 学习小狗", "plush", 199, "height=25 cm",
          "kids lights"),
        P("Hasbro", "Nerf Elite 2.0 Commander|Nerf 精英2.0 指挥官", "blaster", 199, "darts=12; age=8+",
          "kids"),
        P("Hasbro", "Play-Doh Kitchen Creations|培乐多 厨房系列", "dough", 129, "count=5; age=3+",
          "kids eco"),
        P("Hasbro", "Transformers Optimus Prime|变形金刚 擎天柱", "figure", 399, "height=20 cm; age=8+",
          "collect"),
        P("GAN", "356 M", "cube", 199, "weight=73 g", "magnetic portable"),
        P("Sylvanian Families", "Red Roof Cosy Cottage|红屋顶温馨小屋", "doll", 399, "rooms=2; age=3+",
          "kids collect"),
        P("Jellycat", "Bashful Bunny|害羞邦尼兔", "plush", 279, "height=31 cm", "kids"),
        P("DJI", "RoboMaster S1", "robot", 3999, "age=14+", "smart stem"),
        P("Xiaomi", "Mitu Builder|米兔积木", "robot", 499, "pieces=978; age=10+", "smart stem kids"),
    ),
)

CATEGORIES: tuple[Category, ...] = (
    HEADPHONES, SMARTPHONES, WATCHES, LAPTOPS, SPEAKERS, CAMERAS, RUNNING_SHOES, FITNESS, KITCHEN,
    CLEANING, SKINCARE, PERSONAL_CARE, BAGS, JACKETS, TOYS,
)


# ---------------------------------------------------------------------------------------
# Building


def _attrs(spec: str) -> dict[str, str]:
    pairs = (part.split("=", 1) for part in spec.split(";") if part.strip())
    return {k.strip(): v.strip() for k, v in pairs}


def _variants(item: Item) -> list[tuple[str, str, int]]:
    """(English label, Chinese label, price) for each variant; one unlabelled row if none."""
    if not item.variants:
        if item.price is None:
            raise ValueError(f"{item.brand} {item.model}: no price")
        return [("", "", item.price)]
    rows = []
    for part in item.variants.split(","):
        label, price = part.strip().rsplit(":", 1)
        en, _, zh = label.partition("/")
        rows.append((en, zh or zh_value(en), int(price)))
    return rows


def _sentence(first: str, rest: list[str], stop: str, joiner: str) -> str:
    text = first[:1].upper() + first[1:] + stop
    if rest:
        tail = joiner.join(rest)
        text += (" " if stop == "." else "") + tail[:1].upper() + tail[1:] + stop
    return text


def _stock(pid: str) -> int:
    # About one product in twenty is sold out; the rest have a stable, varied quantity.
    crc = zlib.crc32(f"{STOCK_SEED}:{pid}".encode())
    return 0 if crc % 20 == 0 else 5 + (crc >> 8) % 196


def _product(cat: Category, item: Item, pid: str, label: tuple[str, str, int]) -> Product:
    label_en, label_zh, price = label
    kind = cat.kinds[item.kind]
    attrs = _attrs(item.attrs)
    if label_en:
        attrs[cat.variant_attr] = label_en
    attrs_zh = {k: zh_value(v) for k, v in attrs.items()}
    model_en, _, model_zh = item.model.partition("|")
    names = item.tags.split()
    tags = [cat.tags.get(n) or COMMON_TAGS[n] for n in names if not n.startswith("+")]
    desc_en = _sentence(kind.lead_en.format_map(attrs), [t.en.format_map(attrs) for t in tags], ".", ", ")
    desc_zh = _sentence(kind.lead_zh.format_map(attrs_zh), [t.zh.format_map(attrs_zh) for t in tags],
                        "。", "，")
    title = " ".join(p for p in (item.brand, model_en, kind.en) if p) + (f", {label_en}" if label_en else "")
    title_zh = " ".join(p for p in (BRAND_ZH[item.brand], model_zh or model_en, kind.zh, label_zh) if p)
    product = Product(
        id=pid, title=title, price=float(price), currency="CNY", brand=item.brand, category=cat.name,
        description=desc_en, title_zh=title_zh, description_zh=desc_zh, category_zh=cat.zh,
        attributes=attrs, image_url=f"{SITE}/img/{pid}.jpg", url=f"{SITE}/p/{pid}", stock=_stock(pid),
    )
    declared = set(features_in(f"{cat.name} {cat.zh}")) | kind.features
    declared |= {n[1:] for n in names if n.startswith("+")}
    for tag in tags:
        declared |= tag.features
    unknown = declared - FEATURES.keys()
    if unknown:
        raise ValueError(f"{pid}: unknown feature keys {sorted(unknown)}")
    found = features_in(product.text())
    if set(found) != declared:
        raise ValueError(f"{pid} {title!r}: text names {sorted(found)}, tables declare {sorted(declared)}")
    return replace(product, features=tuple(found))


def products() -> list[Product]:
    """Every demo product, in table order, ids numbered per category."""
    out: list[Product] = []
    for cat in CATEGORIES:
        n = 0
        for item in cat.items:
            for label in _variants(item):
                n += 1
                out.append(_product(cat, item, f"{cat.prefix}-{n:04d}", label))
    return out


def lexicon(items: list[Product]) -> dict[str, Any]:
    """lexicon.json: Chinese and other names for brands not already in core.lexicon, and categories."""
    brands: dict[str, list[str]] = {}
    for brand in sorted({p.brand for p in items}, key=str.lower):
        known = {a.lower() for a in BRAND_ALIASES.get(brand, ())} | {brand.lower()}
        names = [BRAND_ZH[brand], *BRAND_EXTRA.get(brand, ())]
        new = [n for n in dict.fromkeys(names) if n.lower() not in known]
        if new:
            brands[brand] = new
    categories = {c.name: {"zh": c.zh, "aliases": list(c.aliases)} for c in CATEGORIES}
    return {"brands": brands, "categories": categories}


def build(out_dir: Path) -> list[Product]:
    """Write products.jsonl and lexicon.json into ``out_dir`` (created if missing)."""
    items = products()
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in items)
    (out_dir / "products.jsonl").write_text(lines, encoding="utf-8", newline="\n")
    text = json.dumps(lexicon(items), ensure_ascii=False, indent=2) + "\n"
    (out_dir / "lexicon.json").write_text(text, encoding="utf-8", newline="\n")
    return items


def _iter_counts(items: list[Product]) -> Iterator[str]:
    for cat in CATEGORIES:
        rows = [p for p in items if p.category == cat.name]
        yield f"{cat.name:45} {len(rows):3d} products, {len({p.brand for p in rows}):2d} brands"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"output directory (default: {OUT_DIR})")
    args = parser.parse_args(argv)
    items = build(args.out)
    for line in _iter_counts(items):
        print(line)
    print(f"{len(items)} products, {len({p.brand for p in items})} brands -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
