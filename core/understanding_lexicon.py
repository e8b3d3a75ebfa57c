"""The words ``core.understanding`` reads messages with: regular-expression sources per intent
and slot, in English and Chinese.

It is data, except for the last section.  Conventions: patterns are compiled with ``re.IGNORECASE``; English
words are wrapped by ``en()`` so they match whole words only ("no" must not match "Nokia");
Chinese has no word boundaries and matches as substrings.  Inside alternations, longer
phrases come first, because Python tries alternatives left to right.  ``FULL_*`` tables are
matched against the whole "core" of a short message (greetings, politeness and punctuation
removed); the others are searched anywhere.  The last section compiles one shop's own brand
and category names into patterns (``shop_words``), once per catalog.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field

from core import lexicon
from core.catalog import Catalog
from core.zh_numbers import NUMBER


def en(*words: str) -> str:
    """English alternatives as whole words (no ASCII letter on either side, no digit before)."""
    return r"(?<![a-z0-9])(?:" + "|".join(words) + r")(?![a-z])"


def alt(*parts: str) -> str:
    return "(?:" + "|".join(parts) + ")"


# --- cleaning -------------------------------------------------------------------------------

PUNCT = r"[\s,.!?~:;…。，！？、；：（）()\[\]{}<>《》\"“”‘’*·\-_=+/\\|@#%^&`]"
# Punctuation to drop from a query; hyphens, dots and apostrophes inside words stay ("WF-1000XM5").
QUERY_PUNCT = r"[\s,!?~:;…。，！？、；：（）()\[\]{}<>《》\"“”‘’*·_=|@#%^`\\]+|(?<!\w)[-'.&+/]+|[-'.&+/]+(?!\w)"

GREETING = alt(
    en(r"(?:hi+|hel+o+|hey+)\s+there", r"hi+", r"hel+o+", r"hey+", "heya", "hiya", "howdy", "yo", "hei", "hej",
       "hallo",
       "greetings", r"good\s+(?:morning|afternoon|evening|day)", r"(?:morning|evening)(?=\s*(?:[,!.~]|$))",
       "dear", "sir", "madam", "ma'?am", r"o+h+", r"a+h+", r"h+m+", r"u+m+", r"u+h+", "so", "wow"),
    "你好呀?", "您好", "哈喽", "哈啰", "嗨", "早上好", "下午好", "晚上好", "早安", "在吗",
    "在不在", "在么", "有人吗", r"亲(?![\u4e00-\u9fff])", "老板",
)
POLITE = alt(
    en("please", "pls", "plz", "kindly", r"can you", r"could you", r"would you", r"can i",
       r"could i", r"may i", r"i'?d like to", r"i want to", r"let'?s", "just"),
    "请", "麻烦你?", "能不能", "可以吗", "好吗", "可不可以", "帮我",
)

# --- commands and meta intents --------------------------------------------------------------

COMMANDS = {
    "start": "greet", "help": "help", "reset": "reset", "human": "human",
    "forget": "forget", "lang": "lang", "language": "lang",
}
LANG_WORDS = {
    "zh": "zh", "cn": "zh", "zh-cn": "zh", "chinese": "zh", "中文": "zh", "汉语": "zh",
    "en": "en", "english": "en", "英文": "en", "英语": "en",
}

INJECTION = alt(
    en(r"(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+|any\s+|of\s+)*"
       r"(?:the\s+|your\s+|my\s+|these\s+|those\s+)?"
       r"(?:previous\s+|prior\s+|above\s+|earlier\s+|preceding\s+|original\s+|system\s+|safety\s+)?"
       r"(?:instructions?|prompts?|rules|directions|guidelines|programming|training|restrictions|filters|"
       r"settings|context)"),
    en(r"you\s+are\s+now", r"you'?re\s+now", r"from\s+now\s+on,?\s+you", r"pretend\s+(?:to\s+be|you\s+are|you'?re)",
       r"role-?play\s+as", r"system\s+prompt", r"system\s+message", r"developer\s+mode", "jailbreak",
       r"do\s+anything\s+now",
       r"(?:reveal|show|print|repeat|tell\s+me)\s+(?:me\s+)?your\s+(?:system\s+)?(?:prompt|instructions|rules)",
       r"what\s+are\s+your\s+instructions", r"new\s+instructions"),
    r"^\s*(?:please\s+)?act\s+as\b", r"<\|im_start\|>", r"\[/?inst\]", r"#{2,}\s*instruction",
    r"(?:忽略|无视|忘记|忘掉|不要管|跳过)(?:掉)?(?:你)?(?:之前|以上|上面|前面|先前|所有|你的|一切|原来|原有)?的?(?:所有)?的?"
    r"(?:指令|指示|规则|设定|提示|要求|限制|身份|设置)",
    "你现在是", "从现在开始你是", "从现在起你是", "请扮演", "扮演一[个名位]", "假装你是", "系统提示", "提示词",
    "越狱", "开发者模式",
)

FORGET = alt(
    en(r"forget\s+(?:about\s+)?me",
       r"forget\s+(?:all\s+)?(?:my|about\s+my)\s+(?:data|info|information|details|history|preferences)",
       r"(?:delete|erase|remove|wipe|clear)\s+(?:all\s+)?(?:of\s+)?my\s+(?:personal\s+)?"
       r"(?:data|info|information|details|history|account|profile|preferences)",
       "gdpr"),
    r"(?:删除|删掉|清除|清空|抹掉)(?:我的|所有)(?:个人)?(?:数据|信息|资料|记录|隐私)", "忘记我", "忘掉我", "不要记住我", "别记住我",
)
HUMAN = alt(
    en(r"(?:talk|speak|chat)\s+(?:to|with)\s+(?:a\s+|an\s+|some\s+|your\s+)?(?:real\s+|live\s+|actual\s+)?"
       r"(?:human|person|agent|representative|rep|someone|somebody|people|staff|operator|manager)",
       r"(?:real|live|actual)\s+(?:human|person|agent)", r"human\s+(?:agent|being|support|help)",
       r"customer\s+(?:service|support|care)", r"support\s+agent"),
    "转人工", "人工客服", "人工服务", "找客服", "联系客服", "真人客服", "找人工", "接人工", "转接人工", "要人工",
)
FULL_HUMAN = alt(en("human", "agent", "operator", "person", "representative", "staff"), "客服", "人工", "真人")
RESET = alt(
    en(r"start\s+(?:over|again|afresh|from\s+scratch)", r"begin\s+again"),
    "重新开始", "从头开始", "重来", "重新来", "重新找",
)
FULL_RESET = alt(en("reset", "restart", "clear", r"clear\s+all", r"new\s+(?:search|chat|conversation)"), "重置", "清空",
                    "清除")
_LANG_VERB_EN = en(r"(?:speak|talk|reply|answer|respond|write|chat|switch|change|go)(?:\s+back)?(?:\s+(?:to|in))?",
                   "in", "use")
_LANG_VERB_ZH = alt("说", "用", "讲", "切换到", "切换成", "换成", "改成", "改用", "回复")
_LANG_END_ZH = r"(?:回复|回答|交流|说|聊)?(?:吧|好吗|可以吗|行吗|吗)?"
FULL_LANG = {
    "en": alt(rf"(?:{_LANG_VERB_EN}\s*)?english(?:\s+(?:please|only|pls))?",
              rf"能?{_LANG_VERB_ZH}?(?:英文|英语){_LANG_END_ZH}"),
    "zh": alt(rf"(?:{_LANG_VERB_EN}\s*)?(?:chinese|mandarin|中文)(?:\s+(?:please|only|pls))?",
              rf"能?{_LANG_VERB_ZH}?(?:中文|汉语|普通话|国语){_LANG_END_ZH}"),
}
FULL_HELP = alt(
    en(r"help(?:\s+me)?", r"i\s+need\s+(?:some\s+)?help", r"need\s+help",
       r"help\s+me\s+(?:with\s+)?(?:some\s+|my\s+)?shopping",
       r"how\s+(?:do\s+i|does\s+this|does\s+it|to|can\s+i)\s+(?:use|work)(?:\s+(?:this|it|you))?",
       r"how\s+does\s+this\s+work",
       r"what\s+(?:can|do)\s+you\s+do", r"what\s+is\s+this", r"who\s+are\s+you", r"what\s+are\s+you",
       r"are\s+you\s+(?:a\s+)?(?:bot|robot|human|ai|real)", "menu", "commands", "instructions",
       r"(?:is\s+)?(?:any\s?one|some\s?one)\s+(?:here|there)\s+to\s+help(?:\s+me)?"),
    "怎么用", "如何使用", "帮助", "帮帮我", "求助", r"你?能做什么", "你会什么", "你能干什么", "能干嘛", "你是谁",
    "你是机器人吗?", "你是真人吗?", "使用说明", "说明", "功能", "怎么玩", "怎么买",
)
HELP_WORD = alt(en("help", "assist", "assistance"), "帮助", "帮忙", "帮帮")
_THANKS_WORD = alt(
    en(r"thank\s+you(?:\s+(?:so|very)\s+much)?", r"thanks(?:\s+(?:a\s+lot|so\s+much))?", "thank", "thx", "tnx", "ty",
       "tysm", "cheers", r"much\s+appreciated", r"appreciate\s+it", "great", "cool", r"ok(?:ay)?", "k", r"got\s+it",
       "perfect", "awesome", "nice", "good", "bye", "goodbye", r"bye\s+bye", r"see\s+(?:you|ya)", r"never\s?mind",
       "nvm", r"forget\s+it", r"no\s+thanks", r"that'?s\s+(?:all|it)", "alright", "fine", "yes", "yeah", "yep",
       "sure", "no", "nope", "nah"),
    "谢谢(?:你|您)?", "多谢", "感谢", "谢了", "谢啦", "3q", "好的", "好", "行", "嗯+", "知道了", "明白了?", "可以",
    "没事了?", "不用了?", "算了", "再见", "拜拜", "是的?", "对的?", "没有了?", "不是",
)
FULL_THANKS = rf"(?:(?>{_THANKS_WORD})[啦了呀哈哦啊]*+\s*+)++"
FULL_GREET = alt(
    en(r"(?:i\s+)?hope\s+you(?:'re|\s+are)\s+(?:doing\s+)?(?:well|good|fine|great)(?:\s+today)?",
       r"nice\s+to\s+meet\s+you", r"how\s+are\s+you(?:\s+doing)?(?:\s+today)?", r"how'?s\s+it\s+going",
       r"what'?s\s+up", "sup",
       r"(?:is\s+)?(?:any\s?one|any\s?body|some\s?one)\s+(?:here|there)", r"are\s+you\s+there", r"good\s+day"),
    "你好吗", "最近好吗", "在吗", "在不在", "有人吗", "有人在吗",
)
THANKS_EMOJI = "👍👌🙏👏💯✅"
GREET_EMOJI = "👋🙋"
EMOTICON = r"(?:[:;=8][-']?[)(\]\[dDpP/\\|*]|[)(][-']?[:;=]|<3|\^_*\^|:-?o|xd)"

# Pleasant endings and reactions that need no action: read as THANKS when nothing else is asked.
CLOSING = alt(
    en(r"thanks?", r"thank\s+you", "ok(?:ay)?", "great", "cool", "perfect", "awesome", "wonderful", "excellent",
       "lovely", "amazing", r"(?:sounds|looks)\s+(?:good|great|nice|perfect)",
       r"have\s+a\s+(?:nice|good|great)\s+(?:day|one|evening|weekend)",
       r"nice\s+talking", r"(?:it|that)'?s\s+(?:nice|great|good|wonderful|perfect|fine)", "bye", "goodbye"),
    "谢谢", "多谢", "感谢", "好的", "太好了", "不错", "完美", "再见", "拜拜",
)
CLOSING_START = alt(en(r"thanks?", r"thank\s+you", "ok(?:ay)?", "great", "cool", "perfect", "awesome", "wonderful",
                       "alright", "yes", "yeah", "sure", "fine"), "谢谢", "多谢", "好的", "好吧", "行", "嗯")
# A question about what is on screen ("what does it cost?", "这个防水吗"): details of the shown results.
PRONOUN = alt(en("it", "this", "that", "these", "those", "they", "them", r"this\s+one", r"that\s+one", "both"),
              "它", "这个", "那个", "这款", "那款", "这些", "这两个", "两个")
LIKE_IT = alt(en(r"i'?ll\s+(?:take|buy|get|have|go\s+for|order)(?:\s+(?:it|this|that|them|both))?(?:\s+one)?"
                 r"(?:\s+(?:then|now|immediately|please))?",
                 r"(?:put|add)\s+(?:it|this|that|them)\s+(?:in|to|into)\s+(?:my\s+)?(?:basket|cart)",
                 r"i(?:'d|\s+would)\s+like\s+to\s+buy\s+(?:it|this|that)(?:\s+one)?",
                 r"i\s+(?:like|love)\s+(?:it|this|that)(?:\s+one)?"),
              "就它了?", "就这个了?", "就要这个", "就买这个", "我要这个", "喜欢这个", "这个不错")

# --- offtopic -------------------------------------------------------------------------------

OFFTOPIC = alt(
    en("weather", "forecast", "jokes?", r"funny\s+story", "politics", "political", "president", "election",
       "government", "news", r"stock\s+(?:price|market)", "bitcoin", "crypto", "recipes?", "homework", "poems?",
       "poetry", "sing", "lyrics", "translate", r"meaning\s+of\s+life", "football", "soccer", "nba", "score",
       r"who\s+won", r"capital\s+of", r"what\s+time\s+is\s+it", r"what\s+day\s+is\s+it", r"how\s+old\s+are\s+you",
       r"your\s+name", r"tell\s+me\s+a\s+story", "lol", "haha+", "lmao", "omg", r"oh\s+god", "lame", "damn", "sorry",
       "brb",
       r"hold\s+on", "wait", "waiting", r"i'?m\s+back", r"write\s+(?:me\s+)?(?:a\s+)?(?:code|essay|program)",
       "python", "javascript", "girlfriend", "boyfriend", "date\\s+me", "marry"),
    "天气", "下雨", "气温", "笑话", "政治", "总统", "选举", "新闻", "股票", "股市", "比特币", "作业", "写诗", "唱歌",
    "翻译", "几点了", "几号", "星期几", "你多大", "吃饭了吗", "稍等", "等一下", "等等", "讲个故事", "你叫什么", "哈哈+", "呵呵", "无聊", "聊天",
)
MATH = (
    r"(?:what'?s|what\s+is|how\s+much\s+is|calculate|compute|solve|计算|算一下|请问)?\s*"
    r"[\d.]+(?:\s*[-+*/×÷^x]\s*[\d.]+)+\s*(?:=|等于(?:几|多少)?|equals)?\s*\??"
)
MATH_OPERATOR = r"[+*/×÷^=]|等于|what|how\s+much|calculate|compute|solve|计算|算一下"

# --- needs ----------------------------------------------------------------------------------

LEAD_IN = alt(
    en(r"(?:i(?:'?m|\s+am)|am)\s+(?:currently\s+)?(?:looking|searching|shopping|hunting)(?:\s+around)?\s+for",
       r"i(?:'m|\s+am)\s+(?:hoping|trying|wanting|planning)\s+to\s+(?:buy|get|find|purchase|order)",
       r"i\s+was\s+(?:looking|searching|hoping)\s+(?:for|to\s+(?:buy|get|find))",
       r"(?:i(?:'?m|\s+am)\s+)?looking\s+to\s+(?:buy|get|find|purchase|order)",
       r"i(?:'d|\s+would)\s+like(?:\s+to\s+(?:buy|get|find|order|purchase|see|have|ask\s+(?:you\s+)?about))?",
       r"i\s+(?:want|need|wanna|wish)(?:\s+to\s+(?:buy|get|find|order|purchase))?",
       r"(?:looking|searching|shopping|hunting)\s+for", r"in\s+the\s+market\s+for",
       r"(?:can|could|would)\s+you\s+(?:please\s+)?(?:help\s+me\s+)?(?:find|recommend|suggest|show|get)(?:\s+me)?",
       r"(?:can|could|would)\s+you\s+help\s+me(?:\s+(?:find|choose|pick|buy|with))?",
       r"help\s+me\s+(?:find|choose|pick|buy|get|with)", r"do\s+you\s+(?:have|sell|carry|stock|offer)(?:\s+any)?",
       r"have\s+you\s+got(?:\s+any)?", r"got\s+any", r"is\s+there(?:\s+any)?", r"are\s+there(?:\s+any)?",
       r"show\s+me", r"find\s+me", r"get\s+me", r"give\s+me", r"recommend(?:\s+me)?", r"suggest(?:\s+me)?",
       r"any\s+(?:recommendations?|suggestions?|ideas?)(?:\s+for)?",
       r"what\s+(?:do|would|can)\s+you\s+(?:recommend|suggest)(?:\s+for)?", r"(?:i'?m\s+)?interested\s+in",
       r"buy(?:\s+me)?", "purchase", "order", r"i'?m\s+after", r"what\s+about", r"how\s+about", "need", "want"),
    "我想买", "我想要", "我要买", "我需要", "我在找", "我想找", "我要找", "想买", "想要", "要买", "需要", "帮我找",
    "帮我挑", "帮我选", "帮我推荐", "给我推荐", "推荐一下", "推荐几款", "推荐个", "求推荐", "推荐", "有没有", "有什么",
    "有啥", "请问", "看一下", "找一下", "挑选", "我想", "我要", "来一", "给我", "帮我",
    r"(?:买|找|挑|选|来|要|推荐)(?:[一两几]?[个双件台部副款本只条套份](?!子))", "找", "买", r"^\s*要",
)
# Who it is for: a new need even without a product word ("something for my mom", "送女朋友").
RECIPIENT = alt(
    en(r"for\s+(?:my|a|his|her|our|the)\s+(?:little\s+|old\s+|new\s+)?"
       r"(?:mom|mum|mother|dad|father|wife|husband|son|daughter|kids?|"
       r"child|children|boyfriend|girlfriend|friend|brother|sister|grandma|grandpa|grandmother|grandfather|parents?|"
       r"boss|colleague|coworker|baby|teen|teenager|nephew|niece|partner)s?"),
    r"(?:送|给)(?:给)?(?:我的?)?(?:爸爸?|妈妈?|老婆|老公|儿子|女儿|孩子|小孩|男朋友|女朋友|男友|女友|朋友|父母|爷爷|奶奶|"
    r"外公|外婆|老板|同事|宝宝|老人|长辈|老师|闺蜜|兄弟|媳妇)",
)
NOT_BAD = alt(en(r"not\s+bad", r"not\s+too\s+bad"), "不错", "还不错", "不赖")
PRODUCT_NOUN = alt(
    en(r"(?:gift|present|book|novel|phone|cellphone|smartphone|shoe|sneaker|boot|trainer|jacket|coat|shirt|t-shirt|"
       r"hoodie|sweater|dress|skirt|jean|pant|trouser|short|sock|hat|cap|bag|backpack|wallet|watch|smartwatch|laptop|"
       r"notebook|computer|pc|tablet|ipad|camera|lens|tripod|gimbal|microphone|mic|light|headphone|earbud|earphone|"
       r"headset|speaker|charger|cable|case|cover|mouse|keyboard|monitor|tv|television|console|toy|bike|bicycle|"
       r"helmet|racket|racquet|ball|mat|bottle|cup|mug|kettle|blender|vacuum|fan|heater|lamp|pen|pencil|paper|ink|"
       r"toner|printer|cartridge|calendar|planner|stationery|perfume|lipstick|skincare|cream|shampoo|supply|supplies|"
       r"equipment|gear|accessory|accessories|skate|glass|glasses|sunglasses|tent|product|item)(?:s|es)?"),
    "礼物", "鞋", "衣服", "外套", "夹克", "衬衫", "T恤", "卫衣", "毛衣", "裙", "裤", "袜", "帽", "包", "手表", "手环",
    "电脑", "笔记本", "平板", "相机", "镜头", "三脚架", "麦克风", "耳机", "音箱", "音响", "充电器", "充电宝", "数据线",
    "手机", "鼠标", "键盘", "显示器", "电视", "玩具", "自行车", "头盔", "球拍", "球", "垫", "杯", "水壶", "锅", "吹风机",
    "吸尘器", "风扇", "台灯", "笔", "本子", "文具", "香水", "口红", "护肤品", "面霜", "洗发水", "装备", "配件", "眼镜",
    "帐篷", "睡袋", "书", "零食", "茶", "咖啡",
)
QUERY_FILLER = alt(
    en(r"(?:i|you|we|they|he|she|it|that|there|what|let)'(?:m|re|s|ll|d|ve)",r"a\s+pair\s+of", r"pairs?\s+of",
       r"a\s+couple\s+of", r"a\s+few", r"the\s+best", "a", "an", "the", "some", "any",
       "one", "ones", "new", "good", "nice", "great", "best", "really", "very", "please", "pls", "plz", "thanks",
       r"thank\s+you", "something", "anything", "stuff", r"things?", "me", r"for\s+me", r"kind\s+of", r"sort\s+of",
       "maybe", "perhaps", "also", "too", "just", "still", "well", "here", "there", "it", "them", "ok", "okay",
       "i", "we", "what", "which", "is", "are", "your", "you", "do", "does", "can", "could", "would", "will",
       "that", "this", "these", "those", "to", "be", "have", "has", "its", "and", "or", "so", "am", "instead",
       "from", r"options?", r"choices?",
       r"(?:to\s+)?spend", r"out\s+there"),
    "你们", "我们", "咱们",
    "一款", "一个", "一双", "一部", "一台", "一副", "一件", "一套", "一条", "一只", "一本", "一些", "一点", "几款", "几个",
    "点儿?(?=东西)", "东西", "一下", "请", "谢谢", "麻烦", "帮忙", "预算", "价格", "价位", "价钱",
    en("budget", "price", "priced", "shopping"),
)
EDGE_WORDS = alt(en("and", "or", "but", "with", "for", "in", "of", "to", "that", "which", "is", "are", "also", "at",
                    "from"),
                 "的", "和", "或", "还有", "也", "要", "是", "了", "有吗", "有没有", "有", "吧", "呢", "吗", "啊", "呀", "哦", "嘛", "呗",
                 "哈")

CHEAP = alt(
    en(r"on\s+a\s+(?:tight\s+)?budget", r"(?:tight|limited|small|low)\s+budget", r"budget[\s-]+friendly",
       r"budget\s+is\s+(?:a\s+bit\s+|quite\s+|very\s+|pretty\s+)?(?:tight|limited|small|low)",
       "cheap", "cheapest", "inexpensive", "affordable",
       r"budget(?=\s+[a-z])"
       r"(?!\s+(?:is|of|will|would|was|should|could|can|around|about|for|to|and|but|range|limits?|max|"
       r"restrictions?|constraints?|concerns?))", r"low[- ]cost",
       r"low[- ]priced?", r"not\s+too\s+expensive", r"not\s+expensive", "bargain", r"value\s+for\s+money",
       r"good\s+value", "economical"),
    "便宜", "实惠", "性价比高?", "平价", "不贵", "划算", "低价", "省钱",
)
CHEAPER = alt(
    en("cheaper", r"less\s+expensive", r"lower[- ]priced", r"lower\s+price", r"more\s+affordable",
       r"not\s+so\s+expensive", r"too\s+(?:expensive|pricey|pricy)", r"too\s+much(?:\s+money)?(?!\s*[a-z])",
       r"over\s+my\s+budget",
       r"out\s+of\s+my\s+budget", r"less\s+pricey", r"so\s+expensive"),
    "(?:再|更)?便宜一?[点些]", "更便宜", "再便宜", "太贵", "有点贵", "好贵", "贵了", "价格低一?点", "低一?点的",
    "降低预算", "超预算", "不要这么贵", "别这么贵",
)
PRICIER = alt(
    en(r"more\s+expensive", "pricier", r"higher[- ]end", r"better\s+(?:ones?|quality|options?)",
       r"something\s+better",
       "fancier", r"nicer\s+ones?", "upgrade"),
    "贵一?点", "贵些", "更贵", "好一?点的?", "更好的?", "高端一?点", "档次高一?点", "高档一?点", "好些的",
)

# --- budgets (NUM stands for an amount: optional currency, a numeral, optional currency) -----

CURRENCY_BEFORE = r"(?:us\$|\$|¥|￥|€|£|rmb\s?|usd\s?|cny\s?|eur\s?)"
CURRENCY_AFTER = (r"(?:\s?(?:元|块钱|块|圆|人民币|美元|美金|刀|€|\$|"
                  r"(?:rmb|yuan|dollars?|bucks|usd|cny|euros?|eur|quid|pounds?|kuai)(?![a-z])))")
NOT_A_PRICE_UNIT = (
    r"(?!\s?(?:(?:gb|mb|tb|mah|mp|hz|khz|ghz|kg|mm|cm|m|g|inch|inches|ft|feet|w|v|years?|yrs?|yo|months?|weeks?|"
    r"days?|hours?|hrs?|h|mins?|minutes?|seconds?|secs?|st|nd|rd|th|pcs|pieces|items?|people|persons?|"
    r"players?|pages?|"
    r"kids?|pack|gen|series|pro|plus|max|ultra|mini|lite)(?![a-z])|%|\"|''|岁|寸|英寸|克|公斤|千克|斤|毫安|小时|天|个|"
    r"款|件|双|台|部|本|位|人|次|分钟|分|秒|米|码|号|年|月|周|倍|层|张|支|条|只|盒|瓶|套|副|种|样|代|升|毫升|瓦|伏|"
    r"页|级|星|折|度|寸))"
)
RANGE_SEP = r"(?:-|–|—|~|～|〜|(?<![a-z])to(?![a-z])|到|至)"
RANGE_PREFIX = r"(?:(?<![a-z])from\s+|在\s*)?"
RANGE_SUFFIX = r"(?:\s*(?:之间|之内|以内|范围内?|的价位|价位))?"
AROUND_BEFORE = alt(en("around", r"(?<!what\s)(?<!how\s)about", "approximately", r"approx\.?", "roughly", "circa",
                       r"somewhere\s+around", r"in\s+the\s+region\s+of"), "~", "大概", "大约", "差不多", "约")
AROUND_AFTER = alt("左右", "上下", "附近", r"-?ish(?![a-z])", en(r"or\s+so"))
MAX_BEFORE = alt(
    en(r"(?:can'?t|cannot|won'?t|(?:don'?t|do\s+not)\s+want\s+to|not\s+willing\s+to|rather\s+not)\s+"
       r"(?:go|spend|pay)\s+(?:above|over|more\s+than|beyond|higher\s+than)", r"under", "below", r"less\s+than",
       r"lower\s+than", r"cheaper\s+than", r"no\s+more\s+than", r"not\s+more\s+than",
       r"no\s+higher\s+than", r"no\s+greater\s+than", r"not\s+over", r"not\s+exceeding", r"not\s+to\s+exceed",
       r"max(?:imum)?", r"at\s+most", r"up\s+to", "upto", "within",
       r"(?:don'?t|do\s+not)\s+have\s+(?:much\s+)?more\s+than",
       r"only\s+have", r"can\s+spend", r"can\s+afford",
       r"(?:my\s+|a\s+|the\s+)?budget(?:\s+(?:is|of|would\s+be|will\s+be))?:?",
       r"spend(?:ing)?(?:\s+(?:up\s+to|at\s+most|max))?"),
    r"<=?", "≤", "不超过", "不高于", "不要超过", "别超过", "不超", "不到", "低于", "少于", "小于", "最多", "最高", "顶多", "至多",
    r"预算(?:是|在|为|有|只有)?", "控制在", "价格在", "价位在",
)
MAX_AFTER = alt("以内", "以下", "之内", "之下", "内", "封顶", "为限", "以里",
                en(r"or\s+less", r"or\s+under", r"or\s+below", "max", "maximum", "tops", r"at\s+most", r"and\s+under",
                   r"or\s+cheaper"))
MIN_BEFORE = alt(
    en("over", "above", r"more\s+than", r"greater\s+than", r"higher\s+than", r"at\s+least", r"min(?:imum)?",
       r"starting\s+(?:at|from)", "from", r"no\s+less\s+than", r"not\s+less\s+than"),
    r">=?", "≥", "超过", "高于", "至少", "最少", "起码", "不低于", "不少于", "大于", "多于",
)
MIN_AFTER = alt("以上", "往上", "起步", "起", r"\+", en(r"or\s+more", r"and\s+up", r"and\s+above", "plus", r"or\s+above",
                                                     r"or\s+higher"))
# "五百多" — five hundred and some: read as 500–1000 (the next round step would need the unit).
ODD_AFTER = r"多(?:块钱|块|元)?"


def amount(name: str) -> str:
    """An amount as a named group ``name`` (numeral), ``name``p / ``name``c (currency before/after)."""
    return (rf"(?P<{name}p>{CURRENCY_BEFORE})?\s?(?<![a-z0-9.])(?P<{name}>{NUMBER})"
            rf"(?![0-9]|(?!ish)[a-z]){NOT_A_PRICE_UNIT}(?P<{name}c>{CURRENCY_AFTER})?")


_A, _B = amount("a"), amount("b")
# (kind, pattern) in the order they are tried; each match is blanked before the next kind.
BUDGETS = [
    ("range", rf"{RANGE_PREFIX}{_A}\s*{RANGE_SEP}\s*{_B}{RANGE_SUFFIX}"),
    ("range", rf"(?<![a-z])between\s+{_A}\s*(?:and|&|-)\s*{_B}"),
    ("around", rf"{AROUND_BEFORE}\s*{_A}|{amount('x')}\s*{AROUND_AFTER}"),
    ("max", rf"{MAX_BEFORE}\s*{_A}"), ("max", rf"{_A}\s*{MAX_AFTER}"),
    ("min", rf"{MIN_BEFORE}\s*{_A}"), ("min", rf"{_A}\s*{MIN_AFTER}"),
    ("odd", rf"{_A}\s*{ODD_AFTER}"),
    ("bare", _A),
]

# --- brands ---------------------------------------------------------------------------------

EXCLUDE_BEFORE = alt(
    en(r"anything\s+(?:but|except)", r"other\s+than", r"except(?:\s+for)?", "excluding", "exclude", "without",
       r"but\s+not",
       r"(?:don'?t|do\s+not)\s+(?:want|like|need)", r"not\s+interested\s+in", r"i'?m\s+not\s+into",
       r"rather\s+not(?:\s+have)?",
       r"nothing\s+from", r"no\s+more", "besides", "avoid", "skip", "dislike", "hate", "never", "not", "no", "non-?"),
    "不想要", "不喜欢", "不考虑", "不要", "除了", "除去", "排除", "不买", "不用", "不选", "拒绝", "讨厌", "不是", "去掉",
    "别给我", "别要", "别", "非",
)
EXCLUDE_AFTER = r"\s*(?:的)?(?:就)?(?:不要了?|算了|不考虑|不行|pass|除外|免了|就算了|以外|之外)"
ONLY_BEFORE = alt(en(r"(?:i\s+)?only\s+want", "only", "just", "exclusively", r"nothing\s+but", r"stick\s+to"),
                  "只要", "只看", "只想要", "只考虑", "只买", "只选", "就要", "仅限", "仅看")
PREFER_BEFORE = alt(en(r"i\s+(?:really\s+)?(?:like|love|prefer)", "prefer", r"i'?m\s+a\s+fan\s+of", r"fan\s+of"),
                    "我喜欢", "我更喜欢", "更喜欢", "喜欢", "偏好", "倾向于?")
BRAND_GAP = r"\s*(?:(?:the|any|an?|more|of)\s+|用|买|看|选|推荐)?\s*"
BRAND_JOIN = r"\s*(?:,|、|/|&|和|或者?|跟|与|及|以及|还有|(?<![a-z])(?:and|or|nor)(?![a-z]))\s*"
BRAND_TAIL = r"(?:\s*(?:'s|以外的?|之外的?|的产品|的东西|的|牌子|品牌|家的?|(?<![a-z])(?:products?|stuff|brand|ones)(?![a-z])))?"

# --- list positions and reactions -----------------------------------------------------------

EN_ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "fifth": 5,
    "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8, "ninth": 9, "9th": 9,
    "tenth": 10, "10th": 10, "last": -1,
}
EN_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                   "nine": 9, "ten": 10}
_ZH_NUM = r"[一二两三四五六七八九十\d]{1,3}"
_ORD = "|".join(sorted(EN_ORDINALS, key=len, reverse=True))
_NUMW = "|".join(EN_NUMBER_WORDS)
_EN_NOUN = r"(?:one|item|option|pick|product|result|choice|pair|model|phone|shoe|book|link)s?"
# Each alternative names one group; ``core.understanding`` reads whichever matched.
POSITION = alt(
    r"(?P<zfirst>前(?P<zn>[两二三四五2-5])[个款件双台部])",
    rf"第\s*(?P<zord>{_ZH_NUM})\s*(?P<zmw>[个款种件双台部号条只套本名项张])?",
    rf"(?<![\d一二三四五六七八九十])(?P<zhao>{_ZH_NUM})\s*号(?!码)",
    r"(?P<zlast>最后(?:一[个款件双台部]|那个|那款))",
    r"(?P<efirst>(?<![a-z])(?:the\s+)?(?:first|top)\s+(?P<en>two|three|four|five|[2-5])"
    r"(?:\s+(?:ones|options|items|products|results|choices|of\s+them))?(?!\s*[a-z\d]))",
    rf"(?P<eord>(?<![a-z\d])(?:the\s+)?(?P<ow>{_ORD})(?:\s+{_EN_NOUN})?(?![a-z]|\s+\d))",
    rf"(?<![a-z])(?:number|no\.|#|option|item|product|result|choice)\s*(?P<enum>\d{{1,2}}|{_NUMW})(?![a-z\d])",
    # A bare number only where nothing follows it but punctuation, "and"/"vs" or Chinese.
    r"(?<![a-z0-9.#$¥/-])(?P<bare>\d{1,2})"
    r"(?=\s*(?:$|[,.!?;:，。！？、；：)]|(?:and|or|vs|versus|&)(?![a-z])|[\u4e00-\u9fff]))",
)
COMPARE_CUE = alt(en("compare", "comparison", r"vs\.?", "versus", r"differences?(?:\s+between)?", "differ",
                     r"which\s+(?:one\s+)?is\s+(?:better|best|cheaper)",
                     r"which\s+(?:one\s+)?(?:should|would)\s+(?:i|you)"),
                  "对比", "比较", "比一比", "比一下", "哪个好", "哪个更", "哪款好", "哪款更", "哪个比较", "区别", "差别",
                  "不同", "选哪个", "哪个值得", en("pk"))
SIMILAR_CUE = alt(en(r"more\s+like", r"similar\s+to", "similar", r"something\s+like",
                     r"(?:others|ones|anything|stuff)\s+like",
                     r"same\s+as", r"like\s+(?:that|this)\s+one"),
                  "类似", "相似", "差不多", "一样", "像")
DISLIKE_CUE = alt(en(r"(?:don'?t|do\s+not)\s+(?:like|love|want)", "dislike", r"not\s+a\s+fan", r"not\s+for\s+me",
                     "hate",
                     "ugly", r"too\s+(?:expensive|pricey|big|small|heavy|bulky|much|long|short)",
                     r"not\s+(?:good|great|nice|interested|that)", r"no\s+good", "bad", "terrible", "awful", "worse",
                     "remove", r"get\s+rid\s+of", "nope", "meh", "not", "no"),
                  "不喜欢", "不想要", "不要", "不好", "不行", "丑", "难看", "太贵", "太大", "太小", "太重", "不适合",
                  "不满意", "不怎么样", "一般般?", "差", "去掉", "排除", "算了", "不考虑", "pass")
LIKE_CUE = alt(en("like", "love", "prefer", "good", "nice", "great", "awesome", "perfect", "cool", "beautiful",
                  r"i'?ll\s+(?:take|buy|get|have|go\s+with|go\s+for)", r"go\s+(?:with|for)", r"stick\s+with", "take",
                  "buy",
                  "want", "choose", "pick",
                  r"not\s+bad", "interested"),
               "喜欢", "不错", "好看", "挺好", "很好", "可以", "满意", "心动", "就它", "就要", "要", "选", "买", "爱了",
               "中意", "还行")
DETAILS_CUE = alt(en(r"tell\s+me(?:\s+more)?(?:\s+about)?", r"more\s+about", r"more\s+(?:info|information|details)",
                     r"details?", "specs?", "specifications", r"what\s+about", r"how\s+about", "describe", "explain",
                     r"what\s+is", r"what'?s", "info", "information", "reviews?", r"show\s+me", "about"),
                  "怎么样", "如何", "咋样", "详细", "详情", "介绍", "说说", "讲讲", "参数", "配置", "具体", "看看", "看下",
                  "好不好", "怎样", "评价")
FULL_DETAILS = alt(en(r"tell\s+me\s+more", r"more\s+(?:info|information|details)", "details",
                      r"tell\s+me\s+about\s+(?:it|this|that)"),
                   "详细说说", "详细介绍一下", "详细点", "介绍一下", "这个怎么样", "那个怎么样", "具体说说", "详情")
MORE = alt(
    en(r"(?:show\s+(?:me\s+)?|give\s+me\s+|any\s+|got\s+any\s+|see\s+|load\s+)?(?:some\s+)?"
       r"(?:more(?!\s+(?:about|expensive|like|than|info|information|details?|affordable))|others?"
       r"|other\s+(?:ones|options|choices|products)|anything\s+else|something\s+else|what\s+else"
       r"|next(?:\s+page)?|different\s+ones|new\s+ones|more\s+options|more\s+results)"
       r"(?:\s+(?:ones|options|please|pls))?"),
    "换一批", "换一换", "换几个", "换一些", "换些", "换个", "还有吗", "还有别的吗?", "还有其他的?吗?", "还有没有", "还有什么",
    "再看看别的", "再看看其他的?", "再看看", "再来几个", "再来一些", "再推荐几个", "再推荐一些", "更多", "看看别的", "有别的吗",
    "别的呢?", "其他的?", "别的", "下一页", "下一批",
)


# --- one shop's names -------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")


def _compile(source: str) -> re.Pattern[str]:
    return re.compile(source, re.IGNORECASE)


@dataclass(frozen=True)
class ShopWords:
    """A catalog's brand and category names as compiled patterns (built once per catalog)."""

    brand_re: re.Pattern[str] | None
    brand_of: dict[str, str | None]  # lower alias → catalog brand; None: a brand the shop lacks
    category_re: re.Pattern[str] | None
    category_of: dict[str, str] = field(default_factory=dict)


# Catalogs never change (a reload builds a new one), so their compiled names can be kept.
_SHOP_WORDS: weakref.WeakKeyDictionary[Catalog, ShopWords] = weakref.WeakKeyDictionary()


def _alias_source(alias: str, plural: bool) -> str:
    base, suffix = alias, "s?"
    if plural and alias.endswith("s"):
        base = alias[:-1]
    elif plural and alias.endswith("y") and alias[-2:-1] not in "aeiou":
        base, suffix = alias[:-1], "(?:y|ies)"
    elif plural:
        suffix = "(?:e?s)?"
    return re.escape(base).replace(r"\ ", r"[\s-]+") + suffix


def _alias_regex(aliases: list[str], plural: bool) -> re.Pattern[str] | None:
    """One pattern for many names, longest first: Latin ones as whole words (with plurals
    when ``plural``), others as substrings."""
    ordered = sorted(set(aliases), key=len, reverse=True)
    latin = [_alias_source(a, plural) for a in ordered if a.isascii() and re.search(r"[a-z0-9]", a)]
    other = [re.escape(a) for a in ordered if not (a.isascii() and re.search(r"[a-z0-9]", a))]
    parts = ([rf"(?<![a-z0-9])(?:{'|'.join(latin)})(?![a-z0-9])"] if latin else []) + other
    return _compile("|".join(parts)) if parts else None


def lookup(found: str, table: Mapping[str, str | None]) -> str | None:
    """The entry for a matched name, trying the plural and singular forms the pattern allows."""
    key = _SPACES.sub(" ", found.lower().replace("-", " "))
    for candidate in (key, key + "s", key[:-1], key[:-2], key[:-3] + "y"):
        if candidate in table:
            return table[candidate]
    return None


def shop_words(catalog: Catalog) -> ShopWords:
    """The catalog's brand and category names as patterns; built on first use, then reused."""
    words = _SHOP_WORDS.get(catalog)
    if words is not None:
        return words
    brand_of: dict[str, str | None] = {}
    for canonical, aliases in lexicon.BRAND_ALIASES.items():
        for alias in (canonical, *aliases):
            brand_of.setdefault(alias.lower(), None)
    brand_of.update(catalog.brand_aliases)
    category_of: dict[str, str] = {}
    for name, info in catalog.categories.items():
        leaf = re.split(r"\s*[>/|]\s*", name)[-1]
        for alias in (*info.aliases, info.zh, leaf, name):
            if alias.strip():
                category_of.setdefault(_SPACES.sub(" ", alias.strip().lower().replace("-", " ")), name)
    words = ShopWords(_alias_regex(list(brand_of), plural=False), brand_of,
                       _alias_regex(list(category_of), plural=True), category_of)
    _SHOP_WORDS[catalog] = words
    return words
