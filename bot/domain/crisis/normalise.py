"""Text normalisation for passive crisis detection: undo the ways people disguise words."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

__all__ = ["EVASIONS", "normalise", "strip_markup"]

# ---------------------------------------------------------------- markup

# Discord markdown: ``` blocks (closed or running to the end), `inline code`, ">>> " quotes
# everything after it, "> " quotes one line. Quoted and code text is someone else's words or
# not words at all; the guidance says it must not trigger. A ``` block with no language tag
# and nothing code-like in it is prose the author chose to set apart, so it stays.
_CODE_BLOCK = re.compile(r"```(.*?)(?:```|\Z)", re.DOTALL)
_CODE_LIKE = re.compile(
    r"[(){}\[\];=$<>#/\\_]|\s-{1,2}[a-z0-9]|^\s*(?:kill|pkill|sudo|def|import|class|return|print|echo|"
    r"if|for|while|const|let|var|function|npm|pip|git|cd|ls|rm|exited)\b|\A[a-z0-9+#-]+\n",
    re.IGNORECASE | re.MULTILINE,
)
# ||spoilers|| hide the author's own words: the bars go, the words stay.
_SPOILER = re.compile(r"\|\|(.+?)\|\|", re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_BLOCK_QUOTE = re.compile(r"(?:^|\n)[ \t]*>>>.*\Z", re.DOTALL)
_LINE_QUOTE = re.compile(r"^[ \t]*>(?!>>).*$", re.MULTILINE)
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# <@123>, <@!123>, <@&role>, <#channel>, "@name": a mention means "someone", never
# leetspeak. An "@" inside a word is a letter ("h@rm").
_MENTION = re.compile(r"<[@#][!&]?\d+>|(?<![A-Za-z0-9])@\w+")
# <:name:id> custom emoji keep their name, which is often the point ("<:kekw:1>").
_CUSTOM_EMOJI = re.compile(r"<a?:(\w+):\d+>")

# Laughing emoji work like "lol" for the humour modifier; music notes mark lyrics. Emoji
# that name a means or death are read as the word ("💊💊 tonight"); the rules still need a
# person, a wish or a time beside them, so "take your meds 💊" stays nothing.
_EMOJI_WORDS = {
    "😂": " lol ", "🤣": " lol ", "💀": " lol ", "😹": " lol ", "😆": " lol ", "😅": " lol ",
    "☠️": " lol ", "☠": " lol ",
    "🎶": " lyricsmark ", "🎵": " lyricsmark ", "♪": " lyricsmark ", "♫": " lyricsmark ",
    "💊": " pills ", "🔫": " gun ", "🪢": " rope ", "🔪": " knife ", "🩸": " blood ",
    "🌉": " bridge ", "⚰️": " dead ", "⚰": " dead ", "🪦": " dead ", "🚆": " train ",
    "🚂": " train ", "🛤️": " tracks ", "🛤": " tracks ", "👋": " bye ",
}
_EMOJI = re.compile("|".join(map(re.escape, _EMOJI_WORDS)))


def _code_or_prose(match: re.Match[str]) -> str:
    body = match.group(1)
    # Prose wrapped round the whole message is the author's; a block with words outside
    # it is being talked about ("``` I want to die ``` is the test string").
    whole = not match.string[:match.start()].strip() and not match.string[match.end():].strip()
    return f" {body} . " if whole and body.strip() and not _CODE_LIKE.search(body) else " "


def strip_markup(text: str) -> str:
    """Remove code, quotes, URLs and mentions; name laughing and music emoji."""
    if "||" in text:
        text = _SPOILER.sub(r" \1 ", text)
    if "`" in text:
        text = _CODE_BLOCK.sub(_code_or_prose, text)
        text = _INLINE_CODE.sub(" ", text)
    if ">" in text:
        text = _BLOCK_QUOTE.sub(" ", text)
        text = _LINE_QUOTE.sub(" ", text)
    if "://" in text or "www." in text.lower():
        text = _URL.sub(" ", text)
    if "<" in text or "@" in text:
        text = _CUSTOM_EMOJI.sub(r" \1 ", text)
        text = _MENTION.sub(" someone ", text)
    if not text.isascii():
        text = _EMOJI.sub(lambda m: _EMOJI_WORDS[m.group()], text)
    return text


# ---------------------------------------------------------------- characters

# Zero-width and invisible characters used to split words past filters.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e"
             "\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\ufeff"),
    None,
)
# Cyrillic and Greek letters that look like Latin ones (after lower-casing).
_HOMOGLYPHS = str.maketrans(
    "аеорсухіјѕԁһкмтвпгןοαεικνρτυχ",
    "aeopcyxijsdhkmtbnrloaeikvptyx",
)
_TYPOGRAPHIC = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'", "“": '"', "”": '"',
                              "–": "-", "—": "-", "…": "."})

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t",
                       "@": "a", "$": "s", "!": "i", "|": "l", "€": "e"})
# A token mixing letters with leet characters ("k1ll", "mys3lf", "$uicide", "d!e").
_LEET_TOKEN = re.compile(r"[a-z0-9@$!|€]*[a-z][a-z0-9@$!|€]*")
_HAS_LEET = re.compile(r"[0-9@$!|€]")
# Numbers with units or ordinals stay numbers: "100kms", "5k", "2nd", "10mg", "3am".
_NUMBER_WITH_UNIT = re.compile(
    r"\d+(?:st|nd|rd|th|k|km|kms|m|mi|kg|g|mg|ml|l|h|hr|hrs|min|mins|s|sec|x|am|pm|d|yr|yrs"
    r"|lb|lbs|ft|gb|mb|tb|p|fps|hz|v)"
)

# 3+ repeats of a letter: a vowel becomes one ("diiie" → "die", "sooo" → "so"), a
# consonant two ("killll" → "kill", "hmmm" → "hmm"); English doubles consonants far more.
_REPEATS = re.compile(r"([a-z])\1\1+")


def _collapse(match: re.Match[str]) -> str:
    letter = match.group(1)
    return letter if letter in "aeiouy" else letter * 2
# Three or more single letters separated by spaces, dots, dashes, underscores or
# asterisks: "k i l l", "k.m.s", "d-i-e".
_SPACED = re.compile(r"(?<![a-z0-9])(?:[a-z][ .\-_*]{1,2}){2,}[a-z](?![a-z0-9])")
_SPACED_SEP = re.compile(r"[ .\-_*]")
# Double quotes stay: a phrase inside quotes is someone's words, not the author's.
_NON_WORD = re.compile(r"[^a-z0-9.,!?;:'\"\n ]+")
_SPACES = re.compile(r"[ \t]+")
_APOSTROPHE = re.compile(r"(?<=[a-z])'(?=[a-z])")

# Evasions and chat shorthand, expanded to the words the phrase rules use. Keys are whole
# normalised tokens (matched with word boundaries, longest first).
EVASIONS: Mapping[str, str] = {
    "unalive": "kill",
    "unalived": "killed",
    "unaliving": "killing",
    "unalives": "kills",
    "sewerslide": "suicide",
    "sewerslidal": "suicidal",
    "suicidal": "suicidal",
    "suicde": "suicide",
    "sucide": "suicide",
    "suiside": "suicide",
    "selfdelete": "kill myself",
    "ctb": "kill myself",
    "kms": "kill myself",
    "kys": "kill yourself",
    "killmyself": "kill myself",
    "killyourself": "kill yourself",
    "kmsl": "lol",
    "kmsfl": "lol",
    "wanna": "want to",
    "gonna": "going to",
    "gotta": "got to",
    "im": "i am",
    "ive": "i have",
    "youve": "you have",
    "w": "with",
    "weve": "we have",
    "theyve": "they have",
    "dont": "do not",
    "doesnt": "does not",
    "cant": "can not",
    "cannot": "can not",
    "wont": "will not",
    "isnt": "is not",
    "wasnt": "was not",
    "didnt": "did not",
    "wouldnt": "would not",
    "aint": "am not",
    "theres": "there is",
    "thats": "that is",
    "whats": "what is",
    "itll": "it will",
    "shes": "she is",
    "hes": "he is",
    "theyre": "they are",
    "youre": "you are",
    "ur": "you are",
    "urself": "yourself",
    "u": "you",
    "rn": "right now",
    "tonite": "tonight",
    "2nite": "tonight",
    "2night": "tonight",
    "bc": "because",
    "cuz": "because",
    "od": "overdose",
    "oded": "overdosed",
    "oding": "overdosing",
    "ods": "overdoses",
    "selfharm": "selfharm",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "tmrow": "tomorrow",
    "tomoz": "tomorrow",
    "2moro": "tomorrow",
    "2morrow": "tomorrow",
    "abt": "about",
    "smth": "something",
    "sth": "something",
    "ppl": "people",
    "evn": "even",
    "thx": "thanks",
    "ty": "thank you",
    "pls": "please",
    "plz": "please",
    "idk": "i do not know",
    "idc": "i do not care",
    "idwtl": "i do not want to live",
    "idwtbh": "i do not want to be here",
    "iwtd": "i want to die",
    "kmsyf": "kill myself",
    "couldnt": "could not",
    "shouldnt": "should not",
    "havent": "have not",
    "hasnt": "has not",
    "arent": "are not",
    "werent": "were not",
    "wouldve": "would have",
    "suicidial": "suicidal",
    "sucidal": "suicidal",
    "suisidal": "suicidal",
    "offed": "killed",
    "dissapear": "disappear",
    "dissappear": "disappear",
    "disapear": "disappear",
    "dissapeared": "disappeared",
}
# Two-word evasions, joined before the word-by-word pass (most specific first).
_PHRASES: Mapping[str, str] = {
    "sewer slide": "suicide",
    "self deletion": "suicide",
    "self deleting": "killing myself",
    "self delete": "kill myself",
    "self harm": "selfharm",
    "sh urges": "selfharm urges",
    "self harming": "selfharming",
    "self harmed": "selfharmed",
    "self injury": "selfharm",
    "self injure": "selfharm",
    "self hurt": "selfharm",
    "w o": "without",
    "for always": "forever",
    "catch the bus": "kill myself",
    "caught the bus": "killed myself",
    "i m": "i am",
    "i ve": "i have",
}
_PHRASE = re.compile(r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, _PHRASES)) + r")(?![a-z0-9])")
_PHRASE_HINT = re.compile(r"sewer|self|sh urges|w o|the bus|always|(?<![a-z])i (?:m|ve)(?![a-z])")
_EDGE_PUNCT = ".,!?;:\""

# "kms"/"kys" after a number is kilometres ("100 kms", "ran 5 kms"); "od" after a number
# is not an overdose either.
_NUMERIC_UNITS = {"kms", "od", "ods"}
_AFTER_NUMBER = re.compile(r"\d$")
# "my kms", "the kms", "kms per week", "kms away": distances, not "kill myself".
_UNIT_BEFORE = re.compile(r"(?:^|[^a-z])(?:my|the|your|our|those|these|of|total|more|few|many) $")
_UNIT_AFTER = re.compile(r" (?:per|a (?:day|week|month)|away|left|of|run|ran|walked)\b")
_HAS_OBJECT = re.compile(
    r" (?:my|your|him|her|them|someone|you|me|it|people|everyone|our|myself|yourself|urself|himself|herself|themselves|ur|u)(?![a-z])")
# "ur" is "your" before what someone has or is ("ur meds", "ur best option"), else "you are".
_YOUR_NEXT = frozenset("""
meds pills life family mom mum dad parents kids wife husband gf bf friends self own best whole only
last first fault funeral problem name head brain mind body face job house room time turn way
""".split())
# "od'd" is "overdosed" (and must not become the word "odd").
_OD_D = re.compile(r"(?<![a-z0-9])od'd(?![a-z0-9])")


_WILL_WOULD = re.compile(r"\b(i|you|he|she|they|we|it|that|there|who|u)'(ll|d)\b")


def _spell_out(match: re.Match[str]) -> str:
    return f"{match.group(1)} {'will' if match.group(2) == 'll' else 'would'}"


_UNALIVE_SELF = {"unalive": "kill myself", "unaliving": "killing myself", "unalived": "killed myself"}


def _deleet_token(match: re.Match[str]) -> str:
    token = match.group()
    if not _HAS_LEET.search(token) or _NUMBER_WITH_UNIT.fullmatch(token):
        return token
    # Trailing "!" is punctuation ("help!"), not an "i".
    head = token.rstrip("!")
    return head.translate(_LEET) + token[len(head):]


def _join_spaced(match: re.Match[str]) -> str:
    # "u n a l i v e  m y s e l f": two spaces between letters part words.
    words = re.split(r"\s{2,}", match.group())
    return " " + " ".join(_SPACED_SEP.sub("", w) for w in words) + " "


def _expand_words(text: str) -> str:
    """Expand evasions and contractions word by word (cheaper than one big regex)."""
    if _PHRASE_HINT.search(text):
        text = _PHRASE.sub(lambda m: _PHRASES[m.group()], text)
    words = text.split(" ")
    changed = False
    for i, word in enumerate(words):
        bare = word.strip(_EDGE_PUNCT)
        replacement = EVASIONS.get(bare)
        if replacement is None:
            continue
        before = " ".join(words[max(0, i - 2):i])
        after = " " + " ".join(words[i + 1:i + 3])
        if bare == "ur" and words[i + 1:i + 2] and words[i + 1].strip(_EDGE_PUNCT) in _YOUR_NEXT:
            replacement = "your"
        elif bare in _UNALIVE_SELF and not _HAS_OBJECT.match(after):
            # "i want to unalive" has no object: it means the author.
            replacement = _UNALIVE_SELF[bare]
        elif bare in _NUMERIC_UNITS and (
            _AFTER_NUMBER.search(before)
            or _UNIT_BEFORE.search(" " + before + " ")
            or _UNIT_AFTER.match(after)
        ):
            continue
        words[i] = word.replace(bare, replacement, 1)
        changed = True
    return " ".join(words) if changed else text


# "my self" → "myself": people split the word, and rules are written with it whole.
_SPLIT_SELF = re.compile(r"\b(my|your|him|her|them|our)[ -]?(self|selves)\b")
# Words with letters masked by "*" ("s*icide", "k*ll", "su*c*de"): matched against a small
# vocabulary with each run of "*" standing for up to two letters.
_MASKED_VOCAB = ("suicide", "suicidal", "kill", "killing", "die", "dying", "dead", "myself",
                 "yourself", "overdose", "overdosing", "selfharm", "unalive")
_MASKED_TOKEN = re.compile(r"[a-z]+(?:\*+[a-z]*)+|\*+[a-z]+(?:\*+[a-z]*)*")


def _unmask(match: re.Match[str]) -> str:
    token = match.group()
    shape = re.compile("".join("[a-z]{1,2}" if part.startswith("*") else re.escape(part)
                               for part in re.findall(r"\*+|[a-z]+", token)))
    for word in _MASKED_VOCAB:
        if shape.fullmatch(word):
            return word
    return token


def _fold_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Learners' grammar that hides a risk phrase: "i want die" (no "to"), "i not want to live"
# (no "do"). Only before the few verbs the rules are about, so "i want pizza" stays.
_MISSING_TO = re.compile(
    r"\b(want|need|going|try|trying|plan|planning|decide|decided|ready|wish)"
    r" (die|kill|end|sleep|disappear|live|exist|jump|cut|hurt|finish|stop)\b")
_MISSING_DO = re.compile(r"\bi (?:not|no) (want|like|need|see|know|care|feel|think)\b")
_ESL_HINT = re.compile(r"(?:want|need|going|try|plan|decide|ready|wish|i not|i no) (?:die|kill|end|sleep|disappear"
                       r"|live|exist|jump|cut|hurt|finish|stop|want|like|need|see|know|care|feel|think)\b")


def normalise(text: str) -> str:
    """Return `text` as the phrase rules see it: plain lower-case words, evasions undone.

    Steps: drop code, quotes, URLs and mentions; NFKC; lower case; drop invisible
    characters; map homoglyphs; strip accents; de-leet tokens that mix letters and digits
    (numbers with units stay); collapse 3+ repeated letters; join spaced-out single letters;
    expand evasions and contractions; keep sentence punctuation, drop the rest.
    """
    text = strip_markup(text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    text = text.lower()
    if not text.isascii():
        text = text.translate(_INVISIBLE).translate(_HOMOGLYPHS).translate(_TYPOGRAPHIC)
        text = _fold_accents(text)
    # "od'd" is "overdosed" (and must not become the word "odd").
    text = _OD_D.sub(" overdosed ", text)
        # "i'll" / "i'd" would become "ill" / "id" (other words): spell them out first.
    if "'" in text:
        text = _WILL_WOULD.sub(_spell_out, text)
    # "can't" → "cant" before de-leeting, so the apostrophe cannot split a word.
    text = _APOSTROPHE.sub("", text)
    if _HAS_LEET.search(text):
        text = _LEET_TOKEN.sub(_deleet_token, text)
    text = _REPEATS.sub(_collapse, text)
    if "*" in text:
        text = _MASKED_TOKEN.sub(_unmask, text)
    text = _NON_WORD.sub(" ", text)
    text = _SPACED.sub(_join_spaced, text)
    if "self" in text:
        text = _SPLIT_SELF.sub(r"\1\2", text)
    text = text.replace("'", " ")
    # A line break ends a sentence as far as context modifiers are concerned (and must not
    # hide the word after it from the evasion table).
    text = _SPACES.sub(" ", text.replace("\n", " . "))
    text = _expand_words(text)
    if _ESL_HINT.search(text):
        text = _MISSING_DO.sub(r"i do not \1", _MISSING_TO.sub(r"\1 to \2", text))
    return _SPACES.sub(" ", text).strip()
