"""Shared vocabulary: product features customers ask for, and Chinese names of common brands.

Features are canonical keys (``waterproof``) with the words that name them in English and
Chinese.  A product's features are what its shop declared plus what its text mentions;
understanding turns a customer's words into the same keys, so a reason can say exactly
which asked-for feature a product has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    en: str
    zh: str
    terms: tuple[str, ...]  # lower-case words or phrases, either language


FEATURES: dict[str, Feature] = {
    "wireless": Feature("wireless", "无线", ("wireless", "bluetooth", "无线", "蓝牙", "cordless")),
    "waterproof": Feature(
        "waterproof", "防水",
        ("waterproof", "water-resistant", "water resistant", "sweatproof", "sweat-proof",
         "ipx4", "ipx5", "ipx7", "ipx8", "ip67", "ip68", "防水", "防汗", "防泼溅"),
    ),
    "noise_cancelling": Feature(
        "noise cancelling", "降噪",
        ("noise cancelling", "noise-cancelling", "noise canceling", "anc", "降噪", "主动降噪"),
    ),
    "sport": Feature(
        "for sports", "适合运动",
        ("sport", "sports", "workout", "gym", "fitness", "running", "run", "运动", "健身",
         "跑步", "训练"),
    ),
    "running": Feature("for running", "跑步", ("running", "runner", "jogging", "marathon", "跑步", "慢跑", "马拉松")),
    "lightweight": Feature("lightweight", "轻便", ("lightweight", "light weight", "ultralight", "轻便", "轻量", "轻薄")),
    "long_battery": Feature(
        "long battery life", "长续航",
        ("long battery", "battery life", "long-lasting battery", "长续航", "续航", "超长待机"),
    ),
    "fast_charging": Feature("fast charging", "快充", ("fast charging", "fast charge", "quick charge", "快充", "闪充")),
    "portable": Feature("portable", "便携", ("portable", "compact", "travel", "便携", "小巧", "出行", "旅行")),
    "gaming": Feature("for gaming", "适合游戏", ("gaming", "gamer", "game", "电竞", "游戏")),
    "kids": Feature("for kids", "适合儿童", ("kids", "children", "child", "儿童", "孩子", "小朋友")),
    "eco": Feature("eco-friendly", "环保", ("eco", "eco-friendly", "organic", "sustainable", "环保", "有机")),
    "smart": Feature("smart", "智能", ("smart", "app control", "wifi", "wi-fi", "智能", "app控制")),
    "quiet": Feature("quiet", "静音", ("quiet", "silent", "low noise", "静音", "低噪")),
    "breathable": Feature("breathable", "透气", ("breathable", "mesh", "透气")),
    "warm": Feature("warm", "保暖", ("warm", "insulated", "thermal", "down", "保暖", "加绒", "羽绒")),
    "durable": Feature("durable", "耐用", ("durable", "rugged", "sturdy", "耐用", "结实", "耐磨")),
    "large_capacity": Feature("large capacity", "大容量", ("large capacity", "big capacity", "大容量")),
    "camera": Feature("good camera", "拍照好", ("camera", "photo", "photography", "拍照", "摄影", "影像")),
    "open_ear": Feature("open-ear", "开放式", ("open-ear", "open ear", "bone conduction", "骨传导", "开放式")),
}

# Lower-case term -> feature key.  One alternation, longest terms first so "noise cancelling"
# wins over shorter terms; ASCII terms must match whole words ("run" must not match
# "brunch"), Chinese terms have no word boundaries and match as substrings.
_TERM_TO_FEATURE = {term: key for key, f in FEATURES.items() for term in f.terms}
_ASCII_WORD = re.compile(r"^[a-z0-9][a-z0-9 \-]*$")


def _term_pattern(term: str) -> str:
    if _ASCII_WORD.match(term):
        return r"(?<![a-z0-9])" + re.escape(term) + r"(?![a-z0-9])"
    return re.escape(term)


_FEATURE_PATTERN = re.compile(
    "|".join(_term_pattern(t) for t in sorted(_TERM_TO_FEATURE, key=lambda t: -len(t)))
)


def features_in(text: str) -> list[str]:
    """Feature keys named anywhere in ``text``, in first-seen order."""
    found = (_TERM_TO_FEATURE[m.group(0)] for m in _FEATURE_PATTERN.finditer(text.lower()))
    return list(dict.fromkeys(found))


def feature_name(key: str, lang: str) -> str:
    feature = FEATURES.get(key)
    if feature is None:
        return key
    return feature.zh if lang == "zh" else feature.en


# Chinese (and common alternate) names of brands a shop may sell; a catalog's own
# lexicon.json adds to these.  Only brands present in the catalog are ever used.
BRAND_ALIASES: dict[str, tuple[str, ...]] = {
    "Apple": ("苹果", "apple", "iphone", "airpods"),
    "Sony": ("索尼",),
    "Huawei": ("华为",),
    "Xiaomi": ("小米", "redmi", "红米"),
    "Samsung": ("三星",),
    "Bose": ("博士",),
    "JBL": ("杰宝",),
    "Beats": ("beats",),
    "Sennheiser": ("森海塞尔", "森海"),
    "Shokz": ("韶音",),
    "OPPO": ("oppo",),
    "vivo": ("维沃",),
    "Honor": ("荣耀",),
    "Lenovo": ("联想",),
    "Dell": ("戴尔",),
    "HP": ("惠普",),
    "Asus": ("华硕",),
    "Nike": ("耐克",),
    "Adidas": ("阿迪达斯", "阿迪"),
    "Li-Ning": ("李宁", "li ning", "lining"),
    "Anta": ("安踏",),
    "Asics": ("亚瑟士",),
    "New Balance": ("新百伦",),
    "Puma": ("彪马",),
    "Under Armour": ("安德玛",),
    "Uniqlo": ("优衣库",),
    "The North Face": ("北面", "north face", "tnf"),
    "Decathlon": ("迪卡侬",),
    "Philips": ("飞利浦",),
    "Panasonic": ("松下",),
    "Midea": ("美的",),
    "Gree": ("格力",),
    "Haier": ("海尔",),
    "Dyson": ("戴森",),
    "Supor": ("苏泊尔",),
    "Joyoung": ("九阳",),
    "Bear": ("小熊",),
    "Braun": ("博朗",),
    "Oral-B": ("欧乐b", "欧乐-b", "oral b"),
    "L'Oreal": ("欧莱雅", "loreal"),
    "Estee Lauder": ("雅诗兰黛",),
    "Lancome": ("兰蔻",),
    "Shiseido": ("资生堂",),
    "SK-II": ("sk2", "skii"),
    "Olay": ("玉兰油",),
    "Canon": ("佳能",),
    "Nikon": ("尼康",),
    "Fujifilm": ("富士",),
    "DJI": ("大疆",),
    "GoPro": ("gopro",),
    "Logitech": ("罗技",),
    "Razer": ("雷蛇",),
    "Nintendo": ("任天堂",),
    "Lego": ("乐高",),
    "Anker": ("安克",),
    "Belkin": ("贝尔金",),
    "Garmin": ("佳明",),
    "Fitbit": ("fitbit",),
    "Amazfit": ("华米", "跃我"),
    "Zojirushi": ("象印",),
    "Thermos": ("膳魔师",),
    "Lock&Lock": ("乐扣乐扣", "乐扣", "lock & lock", "locknlock"),
    "Samsonite": ("新秀丽",),
    "Xiaomi Mijia": ("米家",),
    "Muji": ("无印良品",),
    "Kindle": ("kindle",),
    "Levi's": ("李维斯", "levis"),
    "Columbia": ("哥伦比亚",),
    "Skechers": ("斯凯奇",),
    "Vans": ("范斯",),
    "Converse": ("匡威",),
}
