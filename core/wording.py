"""Bilingual wording: every sentence the bot says, in Chinese and English, and the grounded
reason for each recommended product (built only from catalog facts that matched)."""

from __future__ import annotations

from core.catalog import Product
from core.lexicon import feature_name

_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "HKD": "HK$"}

TEXTS: dict[str, dict[str, str]] = {
    "welcome": {
        "en": "Hi! I'm the shop's shopping guide. Tell me what you're looking for — for example "
              "\"waterproof running earbuds under 300\" — and I'll suggest products from our catalog.",
        "zh": "你好！我是本店的导购。告诉我你想买什么，比如\u201c500元以内适合运动的蓝牙耳机\u201d，"
              "我会从店里的商品中为你推荐。",
    },
    "help": {
        "en": "Tell me what you need in your own words, with a budget if you have one. Then you can say "
              "\"cheaper\", \"more like 2\", \"tell me more about 1\", \"compare 1 and 3\", \"no Apple\", "
              "\"only Sony\", \"start over\", \"forget me\" or \"talk to a person\".",
        "zh": "用你自己的话告诉我需要什么，有预算也可以说。之后可以说\u201c便宜点\u201d\u201c类似第二个的\u201d"
              "\u201c第一个详细说说\u201d\u201c对比一下1和3\u201d\u201c不要苹果的\u201d\u201c只要索尼\u201d"
              "\u201c重新开始\u201d\u201c删除我的数据\u201d或\u201c转人工\u201d。",
    },
    "thanks": {"en": "You're welcome! Anything else I can find for you?", "zh": "不客气！还需要找别的吗？"},
    "empty": {
        "en": "I didn't catch anything there. What are you looking for?",
        "zh": "没有收到内容哦。你想找什么商品？",
    },
    "truncated": {
        "en": "(Your message was very long; I read the first {n} characters.)",
        "zh": "（消息太长了，我只读了前{n}个字。）",
    },
    "offtopic": {
        "en": "I'm the shop's shopping guide, so I can only help with finding products here. "
              "What would you like to buy?",
        "zh": "我是本店的导购，只能帮你挑选店里的商品。你想买点什么？",
    },
    "injection": {
        "en": "I can't change how I work, but I'm happy to help you shop. What are you looking for?",
        "zh": "我不能改变自己的工作方式，不过很乐意帮你挑商品。你想找什么？",
    },
    "clarify": {
        "en": "Happy to help! What kind of product do you have in mind — for example {examples}? "
              "A budget helps too.",
        "zh": "很乐意帮忙！你想要哪一类商品？比如{examples}。有预算的话也告诉我。",
    },
    "results": {"en": "Here {are} {n} pick{s}{about}{budget}:", "zh": "为你找到{n}款{about}{budget}："},
    "results_cheaper": {
        "en": "Here {are} {n} cheaper option{s}, under {limit}:",
        "zh": "这{n}款更便宜，都在{limit}以下：",
    },
    "nothing_cheaper": {
        "en": "Sorry, nothing cheaper than {limit} matches what you want. "
              "You could try another category or drop a filter.",
        "zh": "抱歉，没有比{limit}更便宜又符合要求的商品了。可以换个类别或放宽条件试试。",
    },
    "results_pricier": {"en": "Here {are} {n} higher-end option{s}, above {limit}:",
                        "zh": "这{n}款档次更高，都在{limit}以上："},
    "nothing_pricier": {
        "en": "That's the top of our range for this — nothing above {limit} matches.",
        "zh": "这已经是这一类里最高端的了，没有高于{limit}的匹配商品。",
    },
    "results_more": {"en": "Here {are} {n} more:", "zh": "再给你看{n}款："},
    "results_similar": {"en": "Here {are} {n} similar to {title}:", "zh": "和{title}类似的{n}款："},
    "no_more": {
        "en": "That's everything I have that fits. Want to change the budget or look at something else?",
        "zh": "符合条件的都给你看过了。要调整预算或者看看别的吗？",
    },
    "nothing_found": {
        "en": "Sorry, I couldn't find anything for that{budget}. Try other words, a different budget, "
              "or one of these: {examples}.",
        "zh": "抱歉，没有找到符合{budget}的商品。换个说法、调整预算，或者看看这些：{examples}。",
    },
    "excluded": {"en": "Got it, no {brands}.", "zh": "好的，不看{brands}的了。"},
    "only_brands": {"en": "Only {brands} then.", "zh": "好的，只看{brands}。"},
    "need_results": {
        "en": "Let's find something first — what are you looking for?",
        "zh": "我们先找找商品吧——你想买什么？",
    },
    "bad_position": {
        "en": "There's no number {n} in the list — pick one from 1 to {count}.",
        "zh": "列表里没有第{n}个，请在1到{count}之间选。",
    },
    "which_one": {
        "en": "Which one do you mean? Say a number from 1 to {count}.",
        "zh": "你说的是哪一个？请说1到{count}之间的编号。",
    },
    "compare_need_two": {
        "en": "Tell me which two to compare, e.g. \"compare 1 and 3\".",
        "zh": "告诉我要对比哪两个，比如\u201c对比一下1和3\u201d。",
    },
    "compare": {"en": "Here's how they compare:", "zh": "对比如下："},
    "liked": {
        "en": "Noted, you like {title}. I'll show more in that direction.",
        "zh": "记下了，你喜欢{title}，之后会多推荐类似的。",
    },
    "disliked": {
        "en": "Noted, {title} isn't for you — I won't show it again.",
        "zh": "记下了，你不喜欢{title}，不会再推荐它了。",
    },
    "handoff_lead_request": {"en": "Sure, I'll get a person for you.", "zh": "好的，马上为你转人工客服。"},
    "handoff_lead_keyword": {
        "en": "That's one for our {team} rather than for me.",
        "zh": "这个问题需要{team}来处理。",
    },
    "handoff_lead_stuck": {
        "en": "Sorry, I'm not getting this right, so I'm bringing in a person.",
        "zh": "抱歉，我没能帮上忙，为你转人工客服。",
    },
    "handoff_wait": {
        "en": "I've passed our conversation to the {team}; an agent will answer you right here. I'll stay quiet "
              "until then — tap \u201cBack to the bot\u201d if you'd rather keep shopping with me.",
        "zh": "已把我们的对话转给{team}，客服会在这里直接回复你。在此期间我先不说话；想继续和我挑商品，"
              "点\u201c回到机器人\u201d。",
    },
    "handoff_wait_closed": {
        "en": "Our agents are away right now and back {when}. Your request to the {team} is in the queue, and "
              "they'll answer you right here then. Tap \u201cBack to the bot\u201d to keep shopping with me meanwhile.",
        "zh": "人工客服现在不在线，将于{when}上线。你给{team}的请求已在排队，届时客服会在这里回复你。"
              "等待期间想继续挑商品，点\u201c回到机器人\u201d。",
    },
    "handoff_ack": {
        "en": "Got it — I've added that to your request. An agent will reply here.",
        "zh": "收到，已转给人工客服，客服会在这里回复你。",
    },
    "handoff_already": {
        "en": "You're already waiting for an agent; they'll answer you right here.",
        "zh": "你已经在等待人工客服了，客服会在这里回复你。",
    },
    "handoff_cancelled": {
        "en": "Okay, I've cancelled the request for an agent — you're back with me. What would you like to look at?",
        "zh": "好的，已取消人工客服请求，我们继续吧。想看点什么？",
    },
    "handoff_joined": {
        "en": "{agent} from our team has joined and will help you from here.",
        "zh": "{agent}已接入，接下来由TA为你服务。",
    },
    "handoff_agent_says": {"en": "{agent}: {text}", "zh": "{agent}：{text}"},
    "agent": {"en": "Agent", "zh": "客服"},
    "handoff_resolved": {
        "en": "The agent has closed this conversation, and I'm back to help you shop. How would you rate the help "
              "you got? (1 = poor, 5 = excellent)",
        "zh": "客服已结束本次对话，我回来继续为你导购。请为这次服务打分（1 = 很差，5 = 很好）：",
    },
    "rated": {"en": "Thanks for your rating ({score}/5)!", "zh": "感谢你的评分（{score}/5）！"},
    "no_rating": {
        "en": "There's nothing to rate right now — but I'm happy to help you shop.",
        "zh": "目前没有需要评分的对话。需要帮你挑商品吗？",
    },
    "offer_frustration": {
        "en": "Sorry this isn't going well. Would you like to talk to a person instead?",
        "zh": "抱歉没能帮到你。需要转人工客服吗？",
    },
    "offer_stuck": {
        "en": "I don't seem to be finding what you need. Would a person help? Tap below and an agent will take over.",
        "zh": "我好像没找到你想要的。需要的话可以转人工客服，点下面的按钮即可。",
    },
    "team_shopping": {"en": "shopping advisers", "zh": "导购客服"},
    "team_after_sales": {"en": "after-sales team", "zh": "售后客服"},
    "team_complaints": {"en": "complaints team", "zh": "投诉处理专员"},
    "team_other": {"en": "customer service team", "zh": "人工客服"},
    "today_at": {"en": "today at {time}", "zh": "今天{time}"},
    "tomorrow_at": {"en": "tomorrow at {time}", "zh": "明天{time}"},
    "weekday_at": {"en": "on {day} at {time}", "zh": "{day}{time}"},
    "weekdays": {"en": "Monday,Tuesday,Wednesday,Thursday,Friday,Saturday,Sunday",
                 "zh": "周一,周二,周三,周四,周五,周六,周日"},
    "zone": {"en": " ({zone} time)", "zh": "（{zone}时间）"},
    "reset": {"en": "Okay, let's start over. What are you looking for?", "zh": "好的，我们重新开始。你想找什么？"},
    "forgotten": {
        "en": "Done — I've deleted everything stored about you. If you write again, we start fresh.",
        "zh": "已删除关于你的全部记录。再发消息时我们会从头开始。",
    },
    "lang": {"en": "Okay, I'll speak English.", "zh": "好的，我会说中文。"},
    "corrupt": {
        "en": "Sorry, I lost track of our earlier conversation, so we're starting fresh.",
        "zh": "抱歉，之前的对话记录丢失了，我们重新开始吧。",
    },
    "media": {
        "en": "I can only read text messages for now. Tell me in words what you're looking for.",
        "zh": "我目前只能看懂文字消息。请用文字告诉我你想找什么。",
    },
    "edited": {
        "en": "I only read new messages, not edits. Please send what you meant as a new message.",
        "zh": "我只读取新消息，看不到修改。请把修改后的内容重新发一条。",
    },
    "button_forged": {
        "en": "That button isn't one I gave you, so I ignored it.",
        "zh": "这个按钮不是我发给你的，已忽略。",
    },
    "button_stale": {
        "en": "That button has expired. Tell me what you're looking for and I'll show fresh results.",
        "zh": "这个按钮已过期。告诉我你想找什么，我会给你新的结果。",
    },
    "refine": {"en": "Want to adjust these?", "zh": "需要调整吗？"},
    "view_product": {"en": "View product", "zh": "查看商品"},
    "choose_lang": {"en": "Choose a language:", "zh": "请选择语言："},
    "inline_none": {"en": "No matching products", "zh": "没有找到匹配的商品"},
    "unknown_action": {
        "en": "Sorry, that button isn't valid any more. Tell me what you're looking for instead.",
        "zh": "抱歉，这个按钮已失效。直接告诉我你想找什么吧。",
    },
    "unavailable": {
        "en": "Sorry, I'm having a technical problem right now and couldn't handle that. "
              "Please try again in a moment.",
        "zh": "抱歉，系统暂时出了点问题，没能处理你的消息。请稍后再试。",
    },
    "within_budget": {"en": "within your {limit} budget", "zh": "在{limit}预算内"},
    "cheaper_than": {"en": "cheaper than {limit}", "zh": "比{limit}便宜"},
    "in_range": {"en": "in your {low}–{high} range", "zh": "在{low}–{high}预算范围内"},
    "brand_asked": {"en": "the {brand} you asked for", "zh": "你指定的{brand}"},
    "like_liked": {"en": "like the {what} you liked", "zh": "和你喜欢的{what}类似"},
    "matches": {"en": "matches \"{terms}\"", "zh": "符合\u201c{terms}\u201d"},
    "in_category": {"en": "a {category}", "zh": "属于{category}"},
    "out_of_stock": {"en": "out of stock", "zh": "暂时缺货"},
    "btn_details": {"en": "Details", "zh": "详情"},
    "btn_similar": {"en": "More like this", "zh": "类似的"},
    "btn_like": {"en": "👍 Like", "zh": "👍 喜欢"},
    "btn_dislike": {"en": "👎 Not for me", "zh": "👎 不喜欢"},
    "btn_cheaper": {"en": "Cheaper", "zh": "便宜点"},
    "btn_other_brand": {"en": "Another brand", "zh": "换个品牌"},
    "btn_more": {"en": "Show more", "zh": "换一批"},
    "btn_human": {"en": "Talk to a human", "zh": "转人工"},
    "btn_back_to_bot": {"en": "Back to the bot", "zh": "回到机器人"},
    "sla_busy": {
        "en": "All our agents are busy right now; your expected wait is about {n} minute{s}. You're still in the "
              "queue and an agent will answer you right here. Tap \u201cBack to the bot\u201d to keep shopping "
              "with me meanwhile.",
        "zh": "目前客服都在忙，预计还需等待约{n}分钟。你仍在排队，客服会在这里回复你；等待期间想继续挑商品，"
              "点\u201c回到机器人\u201d。",
    },
    "sla_abandoned": {
        "en": "Sorry — none of our agents could get to your request in time, so I've closed it. I'm back to help "
              "you shop; say \u201ctalk to a person\u201d any time to ask again.",
        "zh": "抱歉，客服没能及时处理你的请求，该请求已关闭。我回来继续为你导购；需要时随时说\u201c转人工\u201d再次发起。",
    },
}


def t(key: str, lang: str, **values: object) -> str:
    template = TEXTS[key]["zh" if lang == "zh" else "en"]
    if "n" in values:  # English agreement: "Here is 1 pick", "Here are 3 picks"
        one = values["n"] == 1
        values = {"are": "is" if one else "are", "s": "" if one else "s", **values}
    return template.format(**values) if values else template


def price(amount: float, currency: str) -> str:
    symbol = _SYMBOLS.get(currency)
    number = f"{amount:,.0f}" if float(amount).is_integer() else f"{amount:,.2f}"
    return f"{symbol}{number}" if symbol else f"{number} {currency}"


def join(items: list[str], lang: str) -> str:
    if lang == "zh":
        return "、".join(items)
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def budget_phrase(low: float | None, high: float | None, currency: str, lang: str) -> str:
    """ ", under ¥500" / "，500元以内" style suffix for result headers; empty without a budget."""
    if low is None and high is None:
        return ""
    if low is not None and high is not None:
        if lang == "zh":
            return f"，{price(low, currency)}–{price(high, currency)}"
        return f" between {price(low, currency)} and {price(high, currency)}"
    if high is not None:
        return f"，{price(high, currency)}以内" if lang == "zh" else f" under {price(high, currency)}"
    assert low is not None
    return f"，{price(low, currency)}以上" if lang == "zh" else f" over {price(low, currency)}"


def reason(
    product: Product,
    lang: str,
    *,
    features: list[str],
    terms: list[str],
    price_min: float | None,
    price_max: float | None,
    brands: list[str],
    cheaper_than: float | None = None,
    liked_like: str = "",
) -> str:
    """Why this product fits, from facts that actually matched; never an invented claim."""
    parts = [feature_name(f, lang) for f in features]
    if terms:
        parts.append(t("matches", lang, terms=" ".join(terms[:4])))
    if brands and product.brand in brands:
        parts.append(t("brand_asked", lang, brand=product.brand))
    cheaper = cheaper_than is not None and product.price < cheaper_than
    if price_max is not None and product.price <= price_max and not cheaper:
        if price_min is not None:
            parts.append(t("in_range", lang, low=price(price_min, product.currency),
                           high=price(price_max, product.currency)))
        else:
            parts.append(t("within_budget", lang, limit=price(price_max, product.currency)))
    if cheaper and cheaper_than is not None:
        parts.append(t("cheaper_than", lang, limit=price(cheaper_than, product.currency)))
    if liked_like:
        parts.append(t("like_liked", lang, what=liked_like))
    if not product.in_stock:
        parts.append(t("out_of_stock", lang))
    separator = "；" if lang == "zh" else "; "
    text = separator.join(parts)
    return text[:1].upper() + text[1:] if lang == "en" else text
