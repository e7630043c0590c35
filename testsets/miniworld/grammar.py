"""The compositional grammar of the mini world: English sentences with German and Chinese references.

A sentence is first chosen as a structure (a clause with subject, verb, object and
adverbials, or a frame with slots), then rendered by each language's own rules, so
one structure always yields the same three strings:

- English: a/an, subject-verb agreement, do-support in negation and questions,
  irregular plurals and past forms.
- German: gender, case and number agreement of determiners and adjectives (strong,
  weak and mixed declension), weak masculines, conjugation by person and number, V2
  main clauses (inversion after a fronted phrase, V1 after a fronted subordinate
  clause), verb-final subordinate and relative clauses, separable prefixes, Perfekt
  with haben or sein, kein versus nicht, preposition + article contractions.
- Chinese: measure words after numerals and demonstratives, time and place before
  the verb, 的 for modifiers and relative clauses before the noun, 了 for completed
  actions, 不/没(有) negation, 吗 and wh-in-situ questions, no spaces, full-width
  punctuation. A definite object is 那+measure word+noun for things (那本书), the
  bare noun for people, food and places (老师, 汤, 公园), 该+noun for systems in talks.

Policies: one to twelve are spelled out in all three languages (two -> zwei -> 两);
larger counts, percentages and parameter counts are digits in all three ("42
percent" / "42 Prozent" / "42%", "300 million" / "300 Millionen" / "3亿"). Past
events use the Perfekt, a past copula the Präteritum (war). Talks address the
audience formally (Sie), the general domain uses du.

Public interface: DOMAINS, PATTERNS, Sentence, sample_sentence, english_vocabulary;
for tests and inspection also the renderers (en_np, de_np, zh_np, en_clause,
de_clause, zh_clause, relative_np, de_noun_phrase, zh_noun_phrase, ...) and
sample_pattern. The output depends only on the `random.Random` passed in: every
choice is made from a tuple in a fixed order, never from a set.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Callable, Union

from testsets.miniworld import lexicon as L
from testsets.miniworld.lexicon import Adjective, Modal, Name, Noun, Phrase, Pronoun, Verb

DOMAINS = ("general", "talks")
MIN_WORDS = 4
MAX_WORDS = 25


@dataclass(frozen=True)
class Sentence:
    en: str        # English, as spoken source and transcript; normal casing and punctuation
    de: str        # German reference translation
    zh: str        # Chinese reference translation (Simplified)
    domain: str    # "general" or "talks"
    pattern: str   # name of the sentence pattern that produced it


# ---------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------

EN_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
              "eleven", "twelve")
DE_NUMBERS = ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn",
              "elf", "zwölf")
ZH_NUMBERS = ("零", "一", "两", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二")
SMALL_COUNTS = tuple(range(2, 13))
LARGE_COUNTS = (15, 20, 24, 30, 40, 50, 60, 100, 200, 500)


def en_number(n: int) -> str:
    return EN_NUMBERS[n] if n <= 12 else str(n)


def de_number(n: int) -> str:
    return DE_NUMBERS[n] if n <= 12 else str(n)


def zh_number(n: int) -> str:
    """A count before a measure word or unit: 2 is 两 (两本书, 两点), larger counts are digits."""
    return ZH_NUMBERS[n] if n <= 12 else str(n)


def clock_time(hour: int) -> Phrase:
    """at seven o'clock / um sieben Uhr / 七点 (German: "um ein Uhr")."""
    de = "ein" if hour == 1 else de_number(hour)
    return Phrase(f"at {en_number(hour)} o'clock", f"um {de} Uhr", f"{zh_number(hour)}点")


# ---------------------------------------------------------------------------
# English morphology
# ---------------------------------------------------------------------------

_AN_EXCEPTIONS = ("hour", "honest")                     # silent h
_A_EXCEPTIONS = ("uni", "use", "usu", "eu", "one", "once")  # vowel letter, consonant sound


def en_article(word: str) -> str:
    """The indefinite article before `word`: a dog, an apple, a user, an hour."""
    w = word.lower()
    if w.startswith(_AN_EXCEPTIONS):
        return "an"
    if w.startswith(_A_EXCEPTIONS):
        return "a"
    return "an" if w[0] in "aeiou" else "a"


def en_3sg(verb: Verb) -> str:
    if verb.en_3sg:
        return verb.en_3sg
    base = verb.en
    if base.endswith(("s", "sh", "ch", "x", "z", "o")):
        return base + "es"
    if base.endswith("y") and base[-2] not in "aeiou":
        return base[:-1] + "ies"
    return base + "s"


def en_ing(verb: Verb) -> str:
    if verb.en_ing:
        return verb.en_ing
    base = verb.en
    if base.endswith("ie"):
        return base[:-2] + "ying"
    if base.endswith("e") and not base.endswith(("ee", "ye", "oe")):
        return base[:-1] + "ing"
    return base + "ing"


def en_be(agr: str, past: bool = False) -> str:
    if agr == "1sg":
        return "was" if past else "am"
    if agr == "3sg":
        return "was" if past else "is"
    return "were" if past else "are"


# ---------------------------------------------------------------------------
# German morphology
# ---------------------------------------------------------------------------

_G = ("m", "f", "n", "pl")


def _table(nom: str, acc: str, dat: str) -> dict[str, dict[str, str]]:
    return {case: dict(zip(_G, row.split(","))) for case, row in (("nom", nom), ("acc", acc), ("dat", dat))}


DE_DEFINITE = _table("der,die,das,die", "den,die,das,die", "dem,der,dem,den")
DE_EIN_ENDINGS = _table(",e,,e", "en,e,,e", "em,er,em,en")          # ein, kein, mein, unser ...
DE_DIESER_ENDINGS = _table("er,e,es,e", "en,e,es,e", "em,er,em,en")  # dieser, welcher
DE_RELATIVE = _table("der,die,das,die", "den,die,das,die", "dem,der,dem,denen")
ADJ_WEAK = _table("e,e,e,en", "en,e,e,en", "en,en,en,en")
ADJ_MIXED = _table("er,e,es,en", "en,e,es,en", "en,en,en,en")
ADJ_STRONG = _table("er,e,es,e", "en,e,es,e", "em,er,em,en")
DE_SEIN_PRESENT = ("bin", "bist", "ist", "sind", "seid", "sind")
DE_SEIN_PAST = ("war", "warst", "war", "waren", "wart", "waren")
DE_HABEN_PRESENT = ("habe", "hast", "hat", "haben", "habt", "haben")
_AGR_INDEX = {"1sg": 0, "2sg": 1, "3sg": 2, "1pl": 3, "2pl": 4, "3pl": 5, "formal": 5}
# Preposition + definite article contractions that German writes by default.
_CONTRACTIONS = {("in", "dem"): "im", ("in", "das"): "ins", ("an", "dem"): "am", ("an", "das"): "ans",
                 ("zu", "dem"): "zum", ("zu", "der"): "zur", ("von", "dem"): "vom", ("bei", "dem"): "beim"}


def de_relative_pronoun(gender: str, number: str, case: str) -> str:
    return DE_RELATIVE[case]["pl" if number == "pl" else gender]


def de_adjective(adj: Adjective, kind: str, gender: str, case: str, number: str) -> str:
    """Attributive adjective with a strong, weak or mixed ending."""
    table = {"weak": ADJ_WEAK, "mixed": ADJ_MIXED, "strong": ADJ_STRONG}[kind]
    ending = table[case]["pl" if number == "pl" else gender]
    stem = adj.de_attr_stem
    if stem.endswith("e") and ending.startswith("e"):   # müde + er -> müder
        stem = stem[:-1]
    return stem + ending


def de_noun_form(noun: Noun, case: str, number: str) -> str:
    if number == "pl":
        if case == "dat":
            return noun.de_pl if noun.de_pl.endswith(("n", "s")) else noun.de_pl + "n"
        return noun.de_pl
    if case != "nom" and noun.de_obl:
        return noun.de_obl
    return noun.de


def _de_stem(verb: Verb) -> tuple[str, str]:
    """Infinitive without separable prefix, and its present stem."""
    base = verb.de[len(verb.de_prefix):]
    stem = base[:-2] if base.endswith("en") else base[:-1]
    return base, stem


def de_present(verb: Verb, agr: str) -> str:
    """Finite present form without the separable prefix (ruft for anrufen)."""
    i = _AGR_INDEX[agr]
    if verb.de_present:
        return verb.de_present[i]
    base, stem = _de_stem(verb)
    # e-insertion after t/d and after a consonant + m/n (arbeitet, öffnet, but lernt)
    epenthetic = stem.endswith(("t", "d")) or (
        len(stem) > 1 and stem[-1] in "mn" and stem[-2] not in "aeiouäöülrhmn")
    sibilant = stem.endswith(("s", "ß", "z", "x"))
    if i == 0:
        return stem + "e"
    if i == 1:
        return verb.de_du or stem + ("est" if epenthetic else "t" if sibilant else "st")
    if i == 2:
        return verb.de_er or stem + ("et" if epenthetic else "t")
    if i == 4:
        return stem + ("et" if epenthetic else "t")
    return base


def de_aux(verb: Verb, agr: str) -> str:
    i = _AGR_INDEX[agr]
    return DE_SEIN_PRESENT[i] if verb.de_aux == "sein" else DE_HABEN_PRESENT[i]


def de_capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


# ---------------------------------------------------------------------------
# Noun phrases
# ---------------------------------------------------------------------------

Head = Union[Noun, Pronoun, Name, Phrase]


@dataclass(frozen=True)
class NP:
    """A noun phrase: head with determiner kind, number, optional adjective.

    det: "def" (the), "indef" (a), "none" (bare plural / mass), "neg" (German kein;
    English "no" or "a/any" under verbal negation), "this", "poss" (with
    `possessor`), "num" (with `count`), "many", "some", "all", "which",
    "how_many"; "name" and "pron" for names and pronouns.
    """

    head: Head
    det: str = "def"
    number: str = "sg"
    adj: Adjective | None = None
    possessor: Pronoun | None = None
    count: int = 0
    content: Noun | None = None      # drink in a container: cup of coffee

    @property
    def noun(self) -> Noun | None:
        return self.head if isinstance(self.head, Noun) else None

    @property
    def de_gender(self) -> str:
        if self.number == "pl":
            return "pl"
        if isinstance(self.head, Noun):
            return self.head.gender
        if isinstance(self.head, Name):
            return self.head.sex
        return "n"


@dataclass(frozen=True)
class Coord:
    """Coordinated noun phrases: "Anna and Tom", "bread, cheese and apples"."""

    parts: tuple[NP, ...]


Nominal = Union[NP, Coord]


def name_np(name: Name) -> NP:
    return NP(name, "name")


def pron_np(pron: Pronoun) -> NP:
    return NP(pron, "pron", pron.number)


def agreement(x: Nominal) -> str:
    """Agreement class: 1sg, 2sg, 3sg, 1pl, 2pl, 3pl or "formal" (German Sie)."""
    if isinstance(x, Coord):
        return "3pl"
    if isinstance(x.head, Pronoun):
        return "formal" if x.head is L.YOU_FORMAL else f"{x.head.person}{x.head.number}"
    return "3" + x.number


def _en_agr(agr: str) -> str:
    return "2pl" if agr == "formal" else agr


def en_np(x: Nominal, case: str = "nom", neg: str = "any") -> str:
    """English noun phrase; `neg` renders det "neg" as "no" or as "a/any" after a negated verb."""
    if isinstance(x, Coord):
        return _en_list([en_np(p, case, neg) for p in x.parts])
    h = x.head
    if isinstance(h, Pronoun):
        return h.en if case == "nom" else h.en_acc
    if isinstance(h, (Name, Phrase)):
        return h.en
    words = ([x.adj.en] if x.adj else []) + [h.en_pl if x.number == "pl" else h.en]
    if x.content is not None:
        words += ["of", x.content.en]
    rest = " ".join(words)
    det = x.det
    if det == "def":
        return "the " + rest
    if det == "indef":
        return en_article(rest) + " " + rest
    if det == "num":
        return f"{en_number(x.count)} {rest}"
    if det == "this":
        return ("these " if x.number == "pl" else "this ") + rest
    if det == "poss":
        return f"{x.possessor.en_poss} {rest}"
    if det == "neg":
        if neg == "no":
            return "no " + rest
        if x.number == "sg" and h.countable:
            return en_article(rest) + " " + rest
        return "any " + rest
    if det in ("many", "some", "all", "which"):
        return f"{det} {rest}"
    if det == "how_many":
        return "how many " + rest
    return rest   # none


def _en_list(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def de_np(x: Nominal, case: str = "nom") -> str:
    """German noun phrase in `case` with determiner and adjective agreement."""
    if isinstance(x, Coord):
        parts = [de_np(p, case) for p in x.parts]
        return ", ".join(parts[:-1]) + " und " + parts[-1] if len(parts) > 2 else " und ".join(parts)
    h = x.head
    if isinstance(h, Pronoun):
        return {"nom": h.de, "acc": h.de_acc, "dat": h.de_dat}[case]
    if isinstance(h, (Name, Phrase)):
        return h.de
    g = "pl" if x.number == "pl" else h.gender
    det, kind = _de_determiner(x, case, g)
    words = [det] if det else []
    if x.adj:
        words.append(de_adjective(x.adj, kind, h.gender, case, x.number))
    words.append(de_noun_form(h, case, x.number))
    if x.content is not None:
        words.append(x.content.de)
    return " ".join(words)


def _de_determiner(x: NP, case: str, g: str) -> tuple[str, str]:
    """(determiner word, adjective declension kind) for a noun phrase."""
    det = x.det
    if det == "def":
        return DE_DEFINITE[case][g], "weak"
    if det == "this":
        return "dies" + DE_DIESER_ENDINGS[case][g], "weak"
    if det == "which":
        return "welch" + DE_DIESER_ENDINGS[case][g], "weak"
    if det == "all":
        return "all" + DE_DIESER_ENDINGS[case]["pl"], "weak"
    if det == "indef" or (det == "num" and x.count == 1):
        return "ein" + DE_EIN_ENDINGS[case][g], "mixed"
    if det == "neg":
        return "kein" + DE_EIN_ENDINGS[case][g], "mixed"
    if det == "poss":
        return x.possessor.de_poss + DE_EIN_ENDINGS[case][g], "mixed"
    if det == "num":
        return de_number(x.count), "strong"
    if det == "many":
        return "viel" + DE_DIESER_ENDINGS[case]["pl"], "strong"
    if det == "some":
        return "einig" + DE_DIESER_ENDINGS[case]["pl"], "strong"
    if det == "how_many":
        return "wie viel" + DE_DIESER_ENDINGS[case]["pl"], "strong"
    return "", "strong"   # none


def de_pp(prep: str, x: Nominal, case: str) -> str:
    """Preposition + noun phrase, with the usual contractions (in dem -> im, zu der -> zur)."""
    text = de_np(x, case)
    if isinstance(x, NP) and x.det == "def":
        article, _, rest = text.partition(" ")
        short = _CONTRACTIONS.get((prep, article))
        if short:
            return f"{short} {rest}"
    return f"{prep} {text}"


def zh_np(x: Nominal, neg: bool = False) -> str:
    """Chinese noun phrase: numeral/demonstrative + measure word + modifier + noun.

    `neg`: the object of a negated verb (没有车, 不喝咖啡) drops numeral and article.
    """
    if isinstance(x, Coord):
        parts = [zh_np(p, neg) for p in x.parts]
        return "、".join(parts[:-1]) + "和" + parts[-1] if len(parts) > 2 else "和".join(parts)
    h = x.head
    if isinstance(h, Pronoun):
        return h.zh
    if isinstance(h, (Name, Phrase)):
        return h.zh
    if x.content is not None:   # container: 两杯咖啡
        return _zh_quantified(x, h.mw, x.content.zh)
    adj = x.adj.zh_attr if x.adj else ""
    core = adj + h.zh
    det = x.det
    if neg or det in ("none", "neg"):
        return core
    if det in ("indef", "num", "this"):
        return _zh_quantified(x, h.mw, core)
    if det == "def":
        if x.number == "pl":
            if h.human and not adj and h.zh_def == "bare":
                return h.zh + "们"           # 孩子们, 老师们; but 那些男人, not 男人们
            if h.zh_def in ("bare", "gai") and not h.human:
                return core                  # the results -> 结果
            return "那些" + core
        if h.zh_def == "gai" and not adj:
            return "该" + core           # the model -> 该模型, as Chinese papers write
        if h.zh_def in ("bare", "gai") or h.mass:
            return core
        return "那" + h.mw + core
    if det == "poss":
        owner = x.possessor.zh
        # Kinship after a singular pronoun needs no 的 (我妈妈); elsewhere 的.
        link = "" if h.kin and x.possessor.number == "sg" else "的"
        return owner + link + core
    if det == "many":
        return "很多" + core
    if det == "some":
        return "一些" + core
    if det == "all":
        return "所有" + core
    if det == "which":
        return "哪" + h.mw + core
    if det == "how_many":
        return "几" + h.mw + core
    raise ValueError(f"unknown determiner {det!r}")


def _zh_quantified(x: NP, mw: str, core: str) -> str:
    if x.det == "this":
        return ("这些" if x.number == "pl" else "这" + mw) + core
    if x.det == "def":
        return ("那些" if x.number == "pl" else "那" + mw) + core
    n = 1 if x.det == "indef" else x.count
    return zh_number(n) + mw + core


# Public renderers with plain arguments, for tests and other modules.

def en_noun_phrase(noun: Noun, det: str = "def", adj: Adjective | None = None, number: str = "sg",
                   possessor: Pronoun | None = None, count: int = 0, neg: str = "any") -> str:
    return en_np(NP(noun, det, number, adj, possessor, count), neg=neg)


def de_noun_phrase(noun: Noun, det: str = "def", adj: Adjective | None = None, case: str = "nom",
                   number: str = "sg", possessor: Pronoun | None = None, count: int = 0) -> str:
    return de_np(NP(noun, det, number, adj, possessor, count), case)


def zh_noun_phrase(noun: Noun, det: str = "def", adj: Adjective | None = None, number: str = "sg",
                   possessor: Pronoun | None = None, count: int = 0) -> str:
    return zh_np(NP(noun, det, number, adj, possessor, count))


# ---------------------------------------------------------------------------
# Places and prepositional phrases
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Loc:
    """A place: location ("at") or destination ("to") of a place noun, a city, or home."""

    kind: str                  # "at", "to"
    np: NP | None = None       # place noun (det def or poss)
    city: Phrase | None = None
    home: bool = False
    fixed: Phrase | None = None            # next door / nebenan / 在隔壁
    spatial: tuple[str, str, str] | None = None   # (under, unter, 下面) with `np`

    def en(self) -> str:
        if self.fixed:
            return self.fixed.en
        if self.spatial:
            return f"{self.spatial[0]} {en_np(self.np)}"
        if self.home:
            return "at home" if self.kind == "at" else "home"
        if self.city:
            return ("in " if self.kind == "at" else "to ") + self.city.en
        prep = self.np.head.en_at if self.kind == "at" else "to"
        return f"{prep} {en_np(self.np)}"

    def de(self) -> str:
        if self.fixed:
            return self.fixed.de
        if self.spatial:
            return de_pp(self.spatial[1], self.np, "dat")
        if self.home:
            return "zu Hause" if self.kind == "at" else "nach Hause"
        if self.city:
            return ("in " if self.kind == "at" else "nach ") + self.city.de
        noun = self.np.head
        if self.kind == "at":
            return de_pp(noun.de_at, self.np, "dat")
        prep = noun.de_to
        return de_pp(prep, self.np, "dat" if prep == "zu" else "acc")

    def zh(self) -> str:
        """Location with 在 (在公园里) or bare destination (公园, for 去公园)."""
        if self.fixed:
            return self.fixed.zh
        if self.spatial:   # 在桌子下面: the reference object is bare
            return "在" + self.np.head.zh + self.spatial[2]
        if self.home:
            return "在家" if self.kind == "at" else "家"
        if self.city:
            return ("在" if self.kind == "at" else "") + self.city.zh
        if self.kind == "at":
            return "在" + zh_np(self.np) + self.np.head.zh_at
        return zh_np(self.np)


@dataclass(frozen=True)
class PP:
    """Comitative "with" (mit + dative, 和...一起) or benefactive "for" (für + accusative, 给)."""

    kind: str
    np: NP

    def en(self) -> str:
        return f"{self.kind} {en_np(self.np, 'acc')}"

    def de(self) -> str:
        return f"mit {de_np(self.np, 'dat')}" if self.kind == "with" else f"für {de_np(self.np, 'acc')}"

    def zh(self) -> str:
        return f"和{zh_np(self.np)}一起" if self.kind == "with" else f"给{zh_np(self.np)}"


# ---------------------------------------------------------------------------
# Clauses
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Clause:
    """A simple clause, rendered as main clause, question, subordinate or relative clause.

    verb None makes a copula clause: with `pred` (The soup is hot) or with `loc`
    only (The children are in the garden). tense: present, progressive, past,
    modal (with `modal`), future ("will", German present).
    """

    subj: Nominal | None
    verb: Verb | None = None
    obj: Nominal | None = None
    pred: Adjective | None = None
    very: bool = False
    tense: str = "present"
    modal: Modal | None = None
    neg: bool = False
    time: Phrase | None = None
    freq: Phrase | None = None
    loc: Loc | None = None
    pp: PP | None = None
    front_time: bool = False
    zh_time_first: bool = False   # Chinese puts the time word first even when English does not
    gerade: bool = True           # German "gerade" marks the English progressive


def _obj_kind(obj: Nominal | None) -> str:
    """Where a German object goes: pronouns first, definite before adverbials of place,
    indefinite and bare objects last in the middle field."""
    if obj is None:
        return ""
    if isinstance(obj, Coord):
        return "late"
    if obj.det == "pron":
        return "pron"
    if obj.det in ("def", "this", "poss", "name"):
        return "early"
    return "late"


def _is_kein(c: Clause) -> bool:
    return c.neg and isinstance(c.obj, NP) and c.obj.det == "neg"


# English ---------------------------------------------------------------------

def _en_verb_group(c: Clause, agr: str, question: bool) -> tuple[list[str], list[str]]:
    """(auxiliary words, main verb words); in a question the first auxiliary goes first."""
    agr = _en_agr(agr)
    neg = ["not"] if c.neg else []
    v = c.verb
    if v is None:
        return [en_be(agr, c.tense == "past")] + neg, []
    third = agr == "3sg"
    if c.tense == "present":
        if c.neg or question:
            return ["does" if third else "do"] + neg, [v.en]
        return [], [en_3sg(v) if third else v.en]
    if c.tense == "progressive":
        return [en_be(agr)] + neg, [en_ing(v)]
    if c.tense == "past":
        if c.neg or question:
            return ["did"] + neg, [v.en]
        return [], [v.en_past]
    if c.tense == "future":
        return ["will"] + neg, [v.en]
    m = c.modal
    if m is L.CAN:
        return ["cannot" if c.neg else "can"], [v.en]
    if m is L.WANT_TO and (c.neg or question):
        return ["does" if third else "do"] + neg, ["want", "to", v.en]
    return [], [(m.en_3sg if third else m.en_other), v.en]


def en_clause(c: Clause, question: bool = False, gap: str = "", antecedent: NP | None = None) -> str:
    """English clause; `gap` "subj"/"obj" renders a relative clause on `antecedent`."""
    agr = agreement(antecedent if gap == "subj" else c.subj)
    aux, main = _en_verb_group(c, agr, question)
    pre_main = [c.freq.en] if c.freq else []
    v = c.verb
    after: list[str] = []
    if v is not None and v.en_tail:
        after.append(v.en_tail)
    if c.obj is not None and gap != "obj":
        after.append(en_np(c.obj, "acc"))
    if c.pred is not None:
        after.append(("very " if c.very else "") + c.pred.en)
    places = [c.loc.en()] if c.loc else []
    pps = [c.pp.en()] if c.pp else []
    after += (places + pps) if (v is not None and v.motion) else (pps + places)
    if c.time and not c.front_time:
        after.append(c.time.en)
    if gap == "subj":
        rel = "who" if antecedent.noun is not None and antecedent.noun.human else "that"
        words = [rel] + aux + pre_main + main + after
    elif gap == "obj":
        words = ["that", en_np(c.subj)] + aux + pre_main + main + after
    elif question:
        words = aux[:1] + [en_np(c.subj)] + aux[1:] + pre_main + main + after
    else:
        words = [en_np(c.subj)] + aux + pre_main + main + after
    if c.time and c.front_time:
        words = [c.time.en] + words
    return " ".join(words)


# German ----------------------------------------------------------------------

@dataclass
class DeParts:
    """The fields of a German clause; the renderers arrange them in V2, V1 or verb-final order."""

    subject: str
    finite: str
    middle: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)   # participle / infinitive
    prefix: str = ""                                # separable prefix of the finite verb
    front: str = ""                                 # element before the finite verb in V2

    def main(self) -> str:
        """V2: front (or subject) + finite verb + rest; the prefix closes the clause."""
        if self.front:
            words = [self.front, self.finite, self.subject]
        else:
            words = [self.subject, self.finite]
        return _join(words + self.middle + self.tail + [self.prefix])

    def v1(self) -> str:
        """Finite verb first: yes/no questions and main clauses after a fronted subordinate clause."""
        return _join([self.finite, self.subject] + self.middle + self.tail + [self.prefix])

    def final(self) -> str:
        """Verb-final order of subordinate and relative clauses (dass er sie anruft)."""
        return _join([self.front, self.subject] + self.middle + self.tail + [self.prefix + self.finite])


def _join(words: list[str]) -> str:
    return " ".join(w for w in words if w)


def _de_object(c: Clause) -> str:
    v = c.verb
    if v.de_prep:
        return f"{v.de_prep} {de_np(c.obj, 'acc')}"
    return de_np(c.obj, v.de_case)


def de_clause(c: Clause, gap: str = "", antecedent: NP | None = None) -> DeParts:
    """The German fields of a clause; with `gap` the relative pronoun goes in `front`."""
    agr = agreement(antecedent if gap == "subj" else c.subj)
    v = c.verb
    i = _AGR_INDEX[agr]
    prefix = ""
    tail: list[str] = []
    if v is None:
        finite = (DE_SEIN_PAST if c.tense == "past" else DE_SEIN_PRESENT)[i]
    elif c.tense == "past":
        finite = de_aux(v, agr)
        tail = [v.de_pp]
    elif c.tense == "modal":
        finite = c.modal.de_present[i]
        tail = [v.de]
    else:
        finite = de_present(v, agr)
        prefix = v.de_prefix
    kind = _obj_kind(c.obj) if gap != "obj" else ""
    if v is not None and v.de_prep and kind:
        kind = "late"   # prepositional objects stay at the end of the middle field
    obj = _de_object(c) if kind else ""
    m: list[str] = []
    if kind == "pron":
        m.append(obj)
    if c.tense == "progressive" and not c.neg and c.gerade:
        m.append("gerade")
    if c.time and not c.front_time:
        m.append(c.time.de)
    if c.freq:
        m.append(c.freq.de)
    if kind == "early":
        m.append(obj)
    if c.neg and not _is_kein(c):
        m.append("nicht")
    if c.pp:
        m.append(c.pp.de())
    if v is not None and v.de_manner:
        m.append(v.de_manner)
    if c.loc:
        m.append(c.loc.de())
    if kind == "late":
        m.append(obj)
    if v is not None and v.de_tail:
        m.append(v.de_tail)
    if c.pred is not None:
        m.append(("sehr " if c.very else "") + c.pred.de)
    subject = "" if gap == "subj" else de_np(c.subj, "nom")
    front = ""
    if gap:
        case = "nom" if gap == "subj" else (v.de_case if v is not None else "acc")
        front = de_relative_pronoun(antecedent.de_gender, antecedent.number, case)
    elif c.time and c.front_time:
        front = c.time.de
    return DeParts(subject, finite, m, tail, prefix, front)


# Chinese ---------------------------------------------------------------------

def _zh_verb(c: Clause) -> str:
    v = c.verb
    obj = c.obj
    if isinstance(obj, NP) and obj.noun is not None:
        for tag, zh in v.zh_by_tag:
            if tag in obj.noun.tags:
                return zh
    return v.zh


def zh_clause(c: Clause, question: bool = False, gap: str = "", whether: bool = False) -> str:
    """Chinese clause: [time] subject [time] [都] [adverb] [neg] [正在] [pp] [place] verb [了] object.

    question: yes/no question with 吗 (past: ...了吗); gap: relative clause body
    without 了 ("subj": no subject, "obj": no object); whether: 是否 before the predicate.
    """
    v = c.verb
    head: list[str] = []
    time_first = c.front_time or c.zh_time_first
    if c.time and time_first:
        head.append(c.time.zh)
    if gap != "subj":
        head.append(zh_np(c.subj))
    if c.time and not time_first:
        head.append(c.time.zh)
    body: list[str] = []
    if whether:
        body.append("是否")
    if c.time and c.time.zh.startswith("每"):
        body.append("都")
    if c.freq:
        body.append(c.freq.zh)
    past = c.tense == "past"
    if v is None:       # copula
        if c.pred is not None:
            if question:
                body.append(c.pred.zh_q)
            elif c.neg:
                body.append(c.pred.zh_neg)
            else:
                body.append(c.pred.zh_very if c.very else c.pred.zh_pred)
        else:
            body.append(("不" if c.neg else "") + c.loc.zh())
        return "".join(head + body) + ("吗" if question else "")
    if c.neg:
        # 没有 negates completed events, 没 possession (没 + 有), 不 everything else (不喝, 不会)
        body.append("没" if v.key == "have" else "没有" if past else "不")
    if c.tense == "modal":
        body.append(c.modal.zh)
    pp = c.pp.zh() if c.pp else ""
    loc = c.loc.zh() if (c.loc and not v.motion and not v.zh_loc_after) else ""
    # 和...一起 precedes the place (和他哥哥一起在公园里), 给 follows it (在厨房里给她爸爸烤)
    adverbials = [a for a in ([pp, loc] if c.pp is None or c.pp.kind == "with" else [loc, pp]) if a]
    if c.tense == "progressive":
        if adverbials and adverbials[0].startswith("在"):
            body += ["正" + adverbials[0]] + adverbials[1:]     # 正在 + 在花园里 -> 正在花园里
        else:
            body += ["正在"] + adverbials
    else:
        body += adverbials
    quantified = isinstance(c.obj, NP) and c.obj.det in ("indef", "num")
    # 了 after the verb for completed actions with an object; a past question puts
    # 了 before 吗 unless the object is counted (你买了一辆车吗).
    perfective = past and not c.neg and not gap and (not question or quantified)
    aspect = "了" if perfective else ""
    body.append(_zh_predicate(c, aspect, gap))
    text = "".join(head + body)
    if question:
        text += "吗" if (not past or quantified) else "了吗"
    return text


def _zh_predicate(c: Clause, aspect: str, gap: str) -> str:
    v = c.verb
    if v.motion:
        return v.zh_frame.format(a=aspect, d=c.loc.zh())
    if v.zh_loc_after:
        return v.zh + c.loc.zh()
    if c.obj is None:
        # intransitive and verb-object compounds take sentence-final 了 (他们昨天学习了, 弹钢琴了)
        return (v.zh_intr or v.zh) + aspect
    if gap == "obj":
        return _zh_verb(c)
    obj = zh_np(c.obj, neg=c.neg and c.obj.det == "neg")
    if v.zh_frame:
        return v.zh_frame.format(o=obj, a=aspect)
    return _zh_verb(c) + aspect + obj


# ---------------------------------------------------------------------------
# Sampling helpers
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Rendered:
    """A pattern's output before capitalisation and final punctuation."""

    en: str
    de: str
    zh: str
    question: bool = False


def _pick(rng: random.Random, seq):
    return seq[rng.randrange(len(seq))]


def _weighted(rng: random.Random, options: tuple[tuple[object, float], ...]):
    total = sum(w for _, w in options)
    r = rng.random() * total
    for value, weight in options:
        r -= weight
        if r < 0:
            return value
    return options[-1][0]


def _has(noun: Noun, tags: tuple[str, ...]) -> bool:
    return any(t in noun.tags for t in tags)


@lru_cache(maxsize=None)
def _nouns(tags: tuple[str, ...], talks: bool = False) -> tuple[Noun, ...]:
    pool = L.TALK_NOUNS if talks else L.GENERAL_NOUNS
    return tuple(n for n in pool if _has(n, tags) and not n.kin and "container" not in n.tags)


def _noun(key: str) -> Noun:
    return L.noun(key)


@lru_cache(maxsize=None)
def _adjectives(noun: Noun, attributive: bool = True) -> tuple[Adjective, ...]:
    pool = L.TALK_ADJECTIVES if "talks" in noun.domains and "general" not in noun.domains \
        else L.GENERAL_ADJECTIVES
    return tuple(a for a in pool if any(t in noun.tags for t in a.tags) and (a.attributive or not attributive))


def _count(rng: random.Random, large: float = 0.15) -> int:
    return _pick(rng, LARGE_COUNTS) if rng.random() < large else _pick(rng, SMALL_COUNTS)


def _np(rng: random.Random, noun: Noun, dets: tuple[str, ...], adj_p: float = 0.35,
        possessor: Pronoun | None = None, large: float = 0.15, sg: bool = False) -> NP:
    """A noun phrase with a determiner from `dets` that fits the noun, maybe an adjective."""
    allowed = tuple(d for d in dets if _det_fits(noun, d)) or ("def",)
    det = _pick(rng, allowed)
    if det == "indef" or (sg and det in ("def", "poss", "this", "neg") and noun.has_singular):
        number = "sg"
    elif det in ("num", "many", "some", "all"):
        number = "pl"
    elif not noun.has_singular:
        number = "pl"
    elif not noun.has_plural:
        number = "sg"
    elif det == "none":
        number = "pl"
    else:
        # "the films", "his cars" are rarer than "the film", "his car"
        number = "pl" if rng.random() < 0.15 else "sg"
    count = _count(rng, large) if det == "num" else 0
    poss = (possessor or _pick(rng, L.GENERAL_PRONOUNS)) if det == "poss" else None
    adj = None
    if rng.random() < adj_p:
        options = tuple(a for a in _adjectives(noun)
                        # 我的+红色的+车 stacks two 的: possessives take only bare adjectives
                        if not (det == "poss" and a.zh_attr.endswith("的")))
        if options:
            adj = _pick(rng, options)
    return NP(noun, det, number, adj, poss, count)


def _det_fits(noun: Noun, det: str) -> bool:
    if det == "poss" and _has(noun, ("food", "drink", "soup")):
        return False        # "drinks our water" sounds odd; food is "the" or bare
    if noun.mass:
        return det in ("def", "none", "neg", "poss")
    if not noun.has_singular:
        return det in ("def", "poss", "none", "neg")
    return True


def _person(rng: random.Random, tags: tuple[str, ...] = ("person",), *, pronoun: bool = True,
            plural: bool = True, sexed: bool = False, names: float = 0.3, kin: float = 0.25,
            pronouns: tuple[Pronoun, ...] = L.GENERAL_PRONOUNS) -> NP:
    """A person: a name, a pronoun, a relative ("my mother") or a noun ("the teacher")."""
    generic = any(t in ("person", "adult", "young") for t in tags)
    r = rng.random()
    if generic and r < names:
        return name_np(_pick(rng, L.NAMES))
    if generic and pronoun and r < names + 0.2:
        return pron_np(_pick(rng, pronouns))
    kin_nouns = tuple(n for n in L.KIN if _has(n, tags) and (plural or n.has_singular)
                      and (not sexed or _has(n, ("male", "female"))))
    if kin_nouns and r < names + 0.2 + kin:
        noun = _pick(rng, kin_nouns)
        return NP(noun, "poss", "sg" if noun.has_singular else "pl", possessor=_pick(rng, L.GENERAL_PRONOUNS))
    people = tuple(n for n in L.PEOPLE if _has(n, tags) and (not sexed or _has(n, ("male", "female")))
                   and ("baby" in tags or "baby" not in n.tags))
    if not people:
        return name_np(_pick(rng, L.NAMES))
    noun = _pick(rng, people)
    number = "pl" if plural and not sexed and rng.random() < 0.3 else "sg"
    adj = None
    if rng.random() < 0.2:
        options = _adjectives(noun)
        adj = _pick(rng, options) if options else None
    return NP(noun, "def", number, adj)


def _same_referent(a: Nominal | None, b: Nominal | None) -> bool:
    """Whether two noun phrases would read as the same person (Max ... Max, they ... them)."""
    if not isinstance(a, NP) or not isinstance(b, NP):
        return False
    if isinstance(a.head, Pronoun) and isinstance(b.head, Pronoun):
        return a.head.person == b.head.person and a.head.number == b.head.number
    return en_np(a) == en_np(b)


def _pronoun_for(x: NP) -> Pronoun:
    """The pronoun that refers back to a person: he/she/they (er/sie, 他/她/他们)."""
    if isinstance(x.head, Pronoun):
        return x.head
    if x.number == "pl":
        return L.THEY
    sex = x.head.sex if isinstance(x.head, Name) else ("m" if "male" in x.head.tags else "f")
    return L.HE if sex == "m" else L.SHE


def _animal(rng: random.Random, tags: tuple[str, ...] = ("animal",), noun: Noun | None = None) -> NP:
    noun = noun or _pick(rng, _nouns(tags))
    # only pets belong to someone: "my dog", not "our elephants"
    return _np(rng, noun, ("def", "poss") if "pet" in noun.tags else ("def",), adj_p=0.2)


def _animal_places(animal: Noun) -> tuple[str, ...]:
    for tag, places in L.ANIMAL_PLACES:
        if tag in animal.tags:
            return places
    return ("garden",)


def _owner(subj: Nominal | None) -> Pronoun | None:
    """Possessor for the subject's own things ("his room"), when the subject is a person."""
    if isinstance(subj, NP) and (isinstance(subj.head, (Pronoun, Name)) or
                                 (subj.noun is not None and subj.noun.human)):
        if isinstance(subj.head, Pronoun):
            return subj.head
        if subj.noun is not None and not _has(subj.noun, ("male", "female")) and subj.number == "sg":
            return None   # das Kind ... sein/ihr: avoid guessing the sex
        return _pronoun_for(subj)
    return None


def _place(rng: random.Random, keys: tuple[str, ...], owner: Pronoun | None = None, poss: float = 0.2) -> Loc:
    noun = _noun(_pick(rng, keys))
    if owner is not None and "home" in noun.tags and rng.random() < poss:
        return Loc("at", NP(noun, "poss", possessor=owner))
    return Loc("at", NP(noun, "def"))


def _object(rng: random.Random, verb: Verb, dets: tuple[str, ...], *, pronoun: bool = True,
            adj_p: float = 0.35, owner: Pronoun | None = None) -> NP:
    """An object that suits the verb: a person, a language, a drink in a container or a thing."""
    tags = verb.obj_tags
    if "person" in tags or "young" in tags:
        return _person(rng, ("young",) if "young" in tags else ("person",),
                       pronoun=pronoun and not verb.en_tail == "up")
    if "language" in tags:
        if verb.key == "speak" and rng.random() < 0.3:
            return NP(_noun("language"), "num", "pl", count=_pick(rng, (2, 3, 4, 5)))
        return NP(_pick(rng, L.LANGUAGES), "name")
    if "container" in tags and rng.random() < 0.3 and any(d in dets for d in ("indef", "num")):
        container = _pick(rng, L.CONTAINERS)
        drink = _pick(rng, tuple(d for d in L.DRINKS if _has(d, container.tags)))
        det = _pick(rng, tuple(d for d in dets if d in ("indef", "num")) or ("indef",))
        number = "pl" if det == "num" else "sg"
        return NP(container, det, number, count=_count(rng, 0) if det == "num" else 0, content=drink)
    nouns = tuple(n for n in _nouns(tags) if "person" not in n.tags)
    if verb.obj_dets:
        dets = tuple(d for d in dets if d in verb.obj_dets) or verb.obj_dets
    return _np(rng, _pick(rng, nouns), dets, adj_p, sg=verb.obj_sg, possessor=owner)


# Verb pools, in lexicon order.
_INTRANSITIVE = tuple(v for v in L.GENERAL_VERBS if not v.obj_tags)
_PRESENT_VERBS = tuple(v for v in L.GENERAL_VERBS if not v.past_only and v.habitual)
_PROGRESSIVE_VERBS = tuple(v for v in L.GENERAL_VERBS if not v.past_only and not v.stative and v.progressive)
_PAST_VERBS = tuple(v for v in L.GENERAL_VERBS if not v.stative)
_SKILLS = tuple(v for v in L.GENERAL_VERBS if v.skill)


def _subject_for(rng: random.Random, verb: Verb, *, plural: bool = True) -> tuple[NP, Verb]:
    """A subject that can do `verb`; animals eat with their own verb (fressen)."""
    animal_ok = any(t in ("animal", "pet", "bird") for t in verb.subj_tags)
    if verb.key == "eat" and rng.random() < 0.3:
        animal = _noun(_pick(rng, tuple(k for k, _ in L.ANIMAL_FOOD)))
        return _np(rng, animal, ("def", "poss"), adj_p=0.2), L.ANIMAL_EAT
    if animal_ok and (rng.random() < 0.35 or not any(t in ("person", "adult", "young", "baby")
                                                    for t in verb.subj_tags)):
        tags = tuple(t for t in verb.subj_tags if t in ("animal", "pet", "bird"))
        return _animal(rng, tags), verb
    return _person(rng, verb.subj_tags, plural=plural), verb


def _animal_food(rng: random.Random, animal: NP, dets: tuple[str, ...]) -> NP:
    foods = dict(L.ANIMAL_FOOD).get(animal.head.key, ("meat",))
    return _np(rng, _noun(_pick(rng, foods)), dets, adj_p=0.15)


def _clause(rng: random.Random, tense: str, *, obj_dets: tuple[str, ...] | None = None,
            place_p: float = 0.45, adverbial: bool = True, front: float = 0.35,
            verbs: tuple[Verb, ...] | None = None, pronoun_obj: bool = True, pp_p: float = 0.2) -> Clause:
    """A general-domain clause in the present, progressive or past."""
    if verbs is None:
        verbs = {"present": _PRESENT_VERBS, "progressive": _PROGRESSIVE_VERBS, "past": _PAST_VERBS}[tense]
    verb = _pick(rng, verbs)
    subj, verb = _subject_for(rng, verb)
    freq = time = None
    if adverbial and tense == "present" and not verb.stative:
        if rng.random() < 0.5:
            freq = L.NEVER if rng.random() < 0.12 else _pick(rng, L.FREQUENCIES)
        else:
            time = _pick(rng, L.HABITUAL_TIMES)
    if tense == "past":
        animal = isinstance(subj, NP) and subj.noun is not None and "animal" in subj.noun.tags
        time = _past_time(rng, recent=animal or not verb.habitual or verb.past_only or not verb.obj_tags)
    if obj_dets is None:
        obj_dets = {"present": ("def", "indef", "none", "none", "poss"),
                    "progressive": ("def", "indef", "poss", "none"),
                    "past": ("indef", "num", "def", "poss", "none")}[tense]
    if tense == "present":
        # habits take bare plurals, mass nouns or known things: "often reads books";
        # "never" and "like" not even "an apple"
        drop = ("indef", "num") if freq is L.NEVER or verb.key == "like" else ("num",)
        obj_dets = tuple(d for d in obj_dets if d not in drop) or ("none",)
    if verb.obj_dets:
        obj_dets = tuple(d for d in obj_dets if d in verb.obj_dets) or verb.obj_dets
    if verb.key == "have":
        obj_dets = ("indef", "num", "num")
    if verb.key in _CREATION and tense != "past":
        obj_dets = ("indef", "none")      # one writes letters, not "the book", every Saturday
    obj = None
    owner = _owner(subj)
    if verb is L.ANIMAL_EAT:
        obj = _animal_food(rng, subj, obj_dets)
    elif verb.obj_tags:
        obj = _object(rng, verb, obj_dets, pronoun=pronoun_obj, owner=owner)
        while _same_referent(subj, obj):    # "Max helped Max", "they invited them"
            obj = _object(rng, verb, obj_dets, pronoun=pronoun_obj, owner=owner)
    loc = None
    is_animal = isinstance(subj, NP) and subj.noun is not None and "animal" in subj.noun.tags
    places = _animal_places(subj.noun) if is_animal else _verb_places(verb, obj)
    if verb is L.ANIMAL_EAT and "pet" in subj.noun.tags:
        places = ("kitchen", "garden")
    if places and not verb.stative and (rng.random() < place_p or verb.needs_place or is_animal):
        loc = _place(rng, places, owner)
    pp = _companion_pp(rng, verb, subj, obj) if owner is not None and rng.random() < pp_p else None
    return Clause(subj, verb, obj, tense=tense, time=time, freq=freq, loc=loc, pp=pp,
                  front_time=time is not None and rng.random() < front)


_FOR_VERBS = ("buy", "bake", "cook", "bring", "paint")
_WITH_VERBS = ("play", "dance", "sing", "swim", "football", "tennis", "chess", "cards", "study", "eat", "watch_tv",
               "ride_bike", "drink", "read")
_BENEFICIARIES = ("mother", "father", "grandmother", "grandfather", "sister", "brother", "parents", "son",
                  "daughter", "friend")


def _companion_pp(rng: random.Random, verb: Verb, subj: NP, obj: Nominal | None) -> PP | None:
    """for my mother (für + accusative, 给) / with his friends (mit + dative, 和...一起)."""
    owner = _owner(subj)
    if owner is None:
        return None
    if verb.key in _FOR_VERBS and isinstance(obj, NP) and obj.det in ("indef", "num", "none"):
        noun = _noun(_pick(rng, _BENEFICIARIES))
        return PP("for", NP(noun, "poss", "sg" if noun.has_singular else "pl", possessor=owner))
    if verb.key in _WITH_VERBS:
        young = isinstance(subj.head, Noun) and "young" in subj.head.tags
        # a son studies with his brother or his mother, not "with his son"
        noun = _noun(_pick(rng, _BENEFICIARIES[:7] + _BENEFICIARIES[9:] if young else _BENEFICIARIES))
        number = "pl" if not noun.has_singular or (noun.key == "friend" and rng.random() < 0.5) else "sg"
        return PP("with", NP(noun, "poss", number, possessor=owner))
    return None


_RECENT_TIMES = tuple(t for t in L.PAST_TIMES if t.en in ("yesterday", "this morning", "yesterday evening",
                                                          "last Sunday", "last week"))


_CREATION = ("write", "paint", "bake", "cook")


def _verb_places(verb: Verb, obj: Nominal | None) -> tuple[str, ...]:
    """Places for the action; what one buys decides where one buys it."""
    if verb.key in ("buy", "sell") and isinstance(obj, NP) and obj.noun is not None:
        noun = obj.content or obj.noun
        if _has(noun, ("bakeable",)):
            return ("bakery", "market", "supermarket") if verb.key == "buy" else ("bakery", "market")
        if _has(noun, ("food", "drink")):
            return ("supermarket", "market") if verb.key == "buy" else ("market",)
        return ("shop",)
    return verb.places


def _past_time(rng: random.Random, recent: bool = False) -> Phrase:
    """A past time; `recent` for small events (found the key yesterday, not "last year")."""
    if rng.random() < 0.2:
        n = _pick(rng, (2, 3, 4, 5))
        en_unit, de_unit, zh_unit = _pick(rng, L.AGO_UNITS[:1] if recent else L.AGO_UNITS)
        return Phrase(f"{en_number(n)} {en_unit} ago", f"vor {de_number(n)} {de_unit}", f"{zh_number(n)}{zh_unit}前")
    return _pick(rng, _RECENT_TIMES if recent else L.PAST_TIMES)


def _render(c: Clause, question: bool = False) -> Rendered:
    parts = de_clause(c)
    return Rendered(en_clause(c, question), parts.v1() if question else parts.main(),
                    zh_clause(c, question), question)


# ---------------------------------------------------------------------------
# General-domain patterns
# ---------------------------------------------------------------------------

def g_present_simple(rng: random.Random) -> Rendered:
    """Habitual present with frequency adverb or time, German V2 inversion after a fronted time."""
    return _render(_clause(rng, "present"))


def g_present_progressive(rng: random.Random) -> Rendered:
    return _render(_clause(rng, "progressive", place_p=0.6))


def g_past_event(rng: random.Random) -> Rendered:
    """Perfekt with haben or sein and a past time; Chinese 了 after the verb."""
    return _render(_clause(rng, "past", place_p=0.35))


def g_motion_past(rng: random.Random) -> Rendered:
    """Motion to a destination: German Perfekt with sein, in/an/auf + accusative, zu/nach + dative."""
    verb = _pick(rng, L.MOTIONS)
    subj = _person(rng, ("adult",), sexed=True)      # grown-ups drive and fly
    recent = False
    if "city" in verb.obj_tags and ("dest" not in verb.obj_tags or rng.random() < 0.5):
        loc = Loc("to", city=_pick(rng, L.CITIES))
    else:
        loc = Loc("to", NP(_pick(rng, _nouns(("dest",))), "def"))
        recent = True      # a walk to the supermarket is news for a week, not for five years
    pp = None
    if rng.random() < 0.35:
        owner = _pronoun_for(subj)
        companion = _pick(rng, ("parents", "friend", "mother", "father", "grandmother", "brother", "sister",
                                "dog", "child"))
        noun = _noun(companion)
        number = "pl" if companion in ("parents", "child") or (companion == "friend" and rng.random() < 0.5) \
            else "sg"
        pp = PP("with", NP(noun, "poss", number, possessor=owner))
    time = _past_time(rng, recent=recent)
    return _render(Clause(subj, verb, tense="past", time=time, loc=loc, pp=pp, front_time=rng.random() < 0.4))


def _copula_subject(rng: random.Random, past: bool) -> tuple[NP, tuple[Adjective, ...], Phrase | None, bool]:
    """(subject, fitting predicates, time, Chinese time first) for a copula clause."""
    kind = _weighted(rng, (("weather", 0.4), ("person", 2.0), ("food", 1.5), ("thing", 2.0),
                           ("shop", 0.6 if not past else 0), ("room", 0.6 if not past else 0)))
    if kind == "weather":
        time = _pick(rng, L.PAST_TIMES[:4]) if past else (L.TODAY if rng.random() < 0.6 else None)
        return NP(L.WEATHER, "def"), L.WEATHER_ADJECTIVES, time, True
    if kind == "person":
        subj = _person(rng, ("person",))
        preds = tuple(a for a in L.GENERAL_ADJECTIVES if _person_pred_fits(subj, a))
        time = (_pick(rng, (L.PAST_TIMES[0], L.PAST_TIMES[5])) if past
                else (L.TODAY if rng.random() < 0.3 else None))
        if time is not None:   # states of the day only
            preds = tuple(a for a in preds if a.key in ("tired", "hungry", "happy", "sad", "busy"))
        return subj, preds, time, False
    if kind == "food":
        noun = _pick(rng, _nouns(("food", "drink", "soup")))
        subj = _np(rng, noun, ("def", "this", "poss"), adj_p=0)
        preds = tuple(a for a in L.GENERAL_ADJECTIVES if a.key in ("hot", "cold", "delicious", "sweet", "fresh")
                      and any(t in noun.tags for t in a.tags))
        return subj, preds, None, False
    if kind == "thing":
        noun = _pick(rng, _nouns(("vehicle", "clothing", "furniture", "book", "film", "message", "device",
                                  "picture", "flower", "building", "heavy")))
        subj = _np(rng, noun, ("def", "this", "poss"), adj_p=0)
        preds = tuple(a for a in L.GENERAL_ADJECTIVES if any(t in noun.tags for t in a.tags))
        if past:
            preds = tuple(a for a in preds if a.key in ("interesting", "boring", "long", "short", "expensive"))
        return subj, preds, None, False
    if kind == "shop":
        noun = _pick(rng, _nouns(("shop",)))
        if rng.random() < 0.5:    # open today; famous for good
            return NP(noun, "def"), (_ADJ["open"],), (L.TODAY if rng.random() < 0.5 else None), False
        preds = tuple(a for a in L.GENERAL_ADJECTIVES if a.key == "famous" and any(t in noun.tags for t in a.tags))
        return NP(noun, "def"), preds, None, False
    noun = _pick(rng, _nouns(("room",)))
    subj = NP(noun, "poss" if rng.random() < 0.4 else "def", possessor=_pick(rng, L.GENERAL_PRONOUNS))
    preds = tuple(a for a in L.GENERAL_ADJECTIVES if a.key in ("clean", "dirty", "warm", "quiet"))
    return subj, preds, None, False


_ADJ = {a.key: a for a in L.GENERAL_ADJECTIVES}


def _person_pred_fits(subj: NP, adj: Adjective) -> bool:
    if adj.key in ("young", "friendly", "busy"):
        # adults only, and not "I am very young"
        return not isinstance(subj.head, Pronoun) and (isinstance(subj.head, Name) or "adult" in subj.head.tags)
    return adj.key in ("tired", "hungry", "happy", "sad")


def _copula_clause(rng: random.Random, *, neg_p: float = 0.25, very_p: float = 0.35,
                   question: bool = False) -> Clause:
    past = rng.random() < 0.3
    subj, preds, time, time_first = _copula_subject(rng, past)
    if not preds:
        return _copula_clause(rng, neg_p=neg_p, very_p=very_p, question=question)
    pred = _pick(rng, preds)
    if question:
        return Clause(subj, pred=pred, tense="past" if past else "present", time=time,
                      zh_time_first=time_first)
    neg = bool(pred.zh_neg) and rng.random() < neg_p
    very = not neg and bool(pred.zh_very) and rng.random() < very_p
    front = time is not None and time is not L.TODAY and rng.random() < 0.5
    return Clause(subj, pred=pred, very=very, neg=neg, tense="past" if past else "present", time=time,
                  front_time=front, zh_time_first=time_first)


def g_copula(rng: random.Random) -> Rendered:
    """Predicate adjectives: very / not; German sein (war in the past), Chinese 很 + adjective."""
    return _render(_copula_clause(rng))


# Where things are, what sensibly is there, whether it can be "my ...", how many at most.
_EXIST_PLACES = (
    ("garden", ("dog", "cat", "rabbit", "bird", "tree", "flower"), True, 12),
    ("park", ("bird", "tree", "flower", "duck", "dog"), False, 500),
    ("kitchen", ("apple", "banana", "orange", "cake", "cookie", "bread", "egg", "potato"), True, 12),
    ("fridge", ("apple", "orange", "tomato", "carrot", "cheese", "egg", "milk", "juice", "water", "wine"),
     True, 12),
    ("zoo", ("bear", "monkey", "elephant", "lion"), False, 12),
    ("lake", ("fish", "duck"), False, 500),
    ("street", ("car", "bus", "bicycle"), False, 100),
    ("living_room", ("sofa", "lamp", "table", "chair", "picture", "cat", "flower"), True, 6),
    ("classroom", ("chair", "table", "computer", "picture"), False, 40),
    ("library", ("book", "computer"), False, 500),
    ("farm", ("horse", "cow", "sheep", "duck"), False, 200),
    ("bag", ("book", "key", "umbrella", "pencil", "apple", "phone"), True, 5),
    ("box", ("book", "ball", "photo", "pencil"), False, 12),
)


def g_existential(rng: random.Random) -> Rendered:
    """There is/are ... -> "es gibt" + accusative -> 有/没有, with numbers and "no"."""
    place_key, tags, poss_ok, most = _pick(rng, _EXIST_PLACES)
    place = _noun(place_key)
    if poss_ok and rng.random() < 0.3:
        where = NP(place, "poss", possessor=_pick(rng, L.GENERAL_PRONOUNS))
    else:
        where = NP(place, "def")
    noun = _noun(_pick(rng, tags))
    if noun.mass:
        thing = _np(rng, noun, ("neg",), adj_p=0.2)
    else:
        det = _weighted(rng, (("indef", 1.0), ("num", 2.0), ("many", 0.7 if most > 12 else 0), ("neg", 1.0)))
        number = "sg" if det == "indef" else "pl"      # "there are no apples"
        counts = SMALL_COUNTS + tuple(n for n in LARGE_COUNTS if n <= most)
        count = _pick(rng, tuple(n for n in counts if n <= most)) if det == "num" else 0
        options = _adjectives(noun)
        adj = _pick(rng, options) if options and rng.random() < 0.3 else None
        thing = NP(noun, det, number, adj, count=count)
    en_prep = place.en_at or "in"
    de_prep = place.de_at or "in"
    zh_where = zh_np(where) + (place.zh_at or "里")
    be = "are" if thing.number == "pl" else "is"
    today = place_key in ("park", "lake", "street", "fridge", "kitchen", "garden") and rng.random() < 0.3
    en = _join([f"there {be} {en_np(thing, 'acc', neg='no')} {en_prep} {en_np(where)}", "today" if today else ""])
    where_de = de_pp(de_prep, where, "dat")
    if today:   # Heute gibt es im Park viele Vögel.
        de = DeParts("es", "gibt", [where_de, de_np(thing, "acc")], front="heute").main()
    else:
        de = DeParts("es", "gibt", [de_np(thing, "acc")], front=where_de).main()
    zh = ("今天" if today else "") + zh_where + ("没有" if thing.det == "neg" else "有") + zh_np(thing)
    return Rendered(en, de, zh)


# Negation frames: verbs that sensibly take "no X" (kein) or "not the X" (nicht).
_NEG_KEIN_PRESENT = ("eat", "drink", "like", "read", "need")
_NEG_NICHT_PRESENT = ("like", "need", "help", "call", "visit")
_NEG_KEIN_PAST = ("buy", "eat", "drink", "cook", "bake", "write", "see", "bring", "watch", "paint")
_NEG_NICHT_PAST = ("find", "open", "close", "clean", "tidy", "wash", "visit", "help", "call", "invite",
                   "pick_up", "read", "buy", "eat", "meet", "see")


def g_negation(rng: random.Random) -> Rendered:
    """German kein with indefinite objects, nicht with definite ones; Chinese 不 / 没有."""
    kind = _weighted(rng, (("have", 1.0), ("present_kein", 1.5), ("present_nicht", 1.0),
                           ("past_kein", 1.5), ("past_nicht", 1.5), ("past_intr", 0.8), ("cannot", 1.0)))
    if kind == "cannot":
        verb = _pick(rng, _SKILLS)
        return _render(Clause(_person(rng, ("person",)), verb, tense="modal", modal=L.CAN, neg=True))
    subj = _person(rng, ("person",))
    owner = _owner(subj)
    if kind == "have":
        have = L.verb("have")
        return _render(Clause(subj, have, _object(rng, have, ("neg",), adj_p=0.3), neg=True))
    if kind == "past_intr":
        verb = _pick(rng, tuple(v for v in _INTRANSITIVE if v.key in ("sleep", "work", "swim", "study", "cry",
                                                                     "football", "tennis", "piano", "dance")))
        subj, verb = _subject_for(rng, verb)
        return _render(Clause(subj, verb, tense="past", neg=True, time=_past_time(rng, recent=True)))
    tense = "present" if kind.startswith("present") else "past"
    keys = {"present_kein": _NEG_KEIN_PRESENT, "present_nicht": _NEG_NICHT_PRESENT,
            "past_kein": _NEG_KEIN_PAST, "past_nicht": _NEG_NICHT_PAST}[kind]
    verb = L.verb(_pick(rng, keys))
    if kind.endswith("kein"):
        obj = _object(rng, replace(verb, obj_dets=()), ("neg",), adj_p=0.25)
        if tense == "present" and obj.noun is not None and obj.noun.has_plural and obj.content is None:
            obj = replace(obj, number="pl")     # "does not like cats", not "a cat"
    else:
        obj = _object(rng, verb, ("def", "poss", "this"), adj_p=0.25, owner=owner)
        while _same_referent(subj, obj):
            obj = _object(rng, verb, ("def", "poss", "this"), adj_p=0.25, owner=owner)
    time = _past_time(rng, recent=True) if tense == "past" and rng.random() < 0.6 else None
    return _render(Clause(subj, verb, obj, tense=tense, neg=True, time=time))


@dataclass(frozen=True)
class Matrix:
    """A verb taking a clause: "says that" / "sagt, dass" / 说; "does not know whether" ..."""

    en_3sg: str
    en_other: str
    de: tuple[str, ...]      # present table
    de_middle: str           # nicht
    de_tail: str             # wissen (möchte wissen)
    zh: str
    whether: bool


_WISSEN = ("weiß", "weißt", "weiß", "wissen", "wisst", "wissen")
_MOECHTE = ("möchte", "möchtest", "möchte", "möchten", "möchtet", "möchten")
MATRIX_VERBS = (
    Matrix("says", "say", ("sage", "sagst", "sagt", "sagen", "sagt", "sagen"), "", "", "说", False),
    Matrix("thinks", "think", ("glaube", "glaubst", "glaubt", "glauben", "glaubt", "glauben"), "", "", "觉得",
           False),
    Matrix("knows", "know", _WISSEN, "", "", "知道", False),
    Matrix("does not know", "do not know", _WISSEN, "nicht", "", "不知道", True),
    Matrix("asks", "ask", ("frage", "fragst", "fragt", "fragen", "fragt", "fragen"), "", "", "问", True),
    Matrix("wants to know", "want to know", _MOECHTE, "", "wissen", "想知道", True),
)


def _embedded_clause(rng: random.Random, whether: bool) -> Clause:
    kind = _weighted(rng, (("present", 1.0), ("progressive", 0.8), ("past", 1.5), ("copula", 0.0 if whether else 1.0)))
    if kind == "copula":
        c = _copula_clause(rng)
    else:
        c = _clause(rng, kind, front=0.0)
    if whether and c.time is not None and c.time.zh.startswith("每"):
        c = replace(c, time=None)   # 是否 and 每...都 do not combine well
    if whether and c.freq is L.NEVER:
        c = replace(c, freq=None)
    return replace(c, front_time=False)


def g_complement_clause(rng: random.Random) -> Rendered:
    """that / whether clauses: German ", dass" / ", ob" with the verb last; Chinese 是否."""
    matrix = _pick(rng, MATRIX_VERBS)
    subj = _person(rng, ("person",))
    agr = agreement(subj)
    inner = _embedded_clause(rng, matrix.whether)
    while _same_referent(subj, inner.subj):   # "Anna says that Anna ..."
        inner = _embedded_clause(rng, matrix.whether)
    en_verb = matrix.en_3sg if agr == "3sg" else matrix.en_other
    en = f"{en_np(subj)} {en_verb} {'whether' if matrix.whether else 'that'} {en_clause(inner)}"
    main = DeParts(de_np(subj), matrix.de[_AGR_INDEX[agr]], [matrix.de_middle], [matrix.de_tail])
    de = f"{main.main()}, {'ob' if matrix.whether else 'dass'} {de_clause(inner).final()}"
    zh = zh_np(subj) + matrix.zh + zh_clause(inner, whether=matrix.whether)
    return Rendered(en, de, zh)


# Adverbial clauses come as curated pairs, so that "because" gives a reason and
# "although" a contrast. A Part is a ready clause: English, German verb-final, Chinese.
@dataclass(frozen=True)
class Part:
    en: str
    de_final: str
    zh: str


_WEATHER_BAD = (
    Part("it is raining", "es regnet", "在下雨"),
    Part("it is snowing", "es schneit", "在下雪"),
    Part("it is very cold", "es sehr kalt ist", "天气很冷"),
    Part("the weather is bad", "das Wetter schlecht ist", "天气不好"),
)
_WEATHER_GOOD = (
    Part("it is warm", "es warm ist", "天气暖和"),
    Part("the sun is shining", "die Sonne scheint", "出太阳"),
    Part("the weather is nice", "das Wetter schön ist", "天气好"),
    Part("it is not raining", "es nicht regnet", "不下雨"),
)
_WEATHER_IF = (   # generic conditions: "if it rains"
    Part("it rains", "es regnet", "下雨"),
    Part("it snows", "es schneit", "下雪"),
    Part("it is cold", "es kalt ist", "天气冷"),
)


@dataclass(frozen=True)
class VP:
    """A person's verb phrase in three languages; German as clause fields for V2, V1 or verb-final."""

    en: str
    de: DeParts
    zh: str


def _person_vp(rng: random.Random, subj: NP, options: tuple[tuple[str, str, str, str], ...],
               future: bool = False) -> VP:
    """A verb phrase for `subj` from (English base, German middle field, German verb key, Chinese)."""
    en_base, de_rest, verb_key, zh = _pick(rng, options)
    agr = agreement(subj)
    verb = _VP_VERBS[verb_key]
    if future:
        en_vp = "will " + en_base
    else:
        first, _, rest = en_base.partition(" ")
        en_vp = _en_present_word(first, agr) + (" " + rest if rest else "")
    parts = DeParts(de_np(subj), de_present(verb, agr), [de_rest], [], verb.de_prefix)
    return VP(f"{en_np(subj)} {en_vp}", parts, f"{zh_np(subj)}{zh}")


_EN_IRREGULAR_PRESENT = {"have": "has", "go": "goes", "stay": "stays"}


def _en_present_word(base: str, agr: str) -> str:
    if _en_agr(agr) != "3sg":
        return base
    return en_3sg(Verb(base, base, base, "", "", "", en_3sg=_EN_IRREGULAR_PRESENT.get(base, "")))


_VP_VERBS = {
    "bleiben": Verb("stay", "stay", "stayed", "bleiben", "geblieben", ""),
    "mitnehmen": Verb("take", "take", "took", "mitnehmen", "mitgenommen", "", de_prefix="mit", de_du="nimmst",
                      de_er="nimmt"),
    "tragen": Verb("wear", "wear", "wore", "tragen", "getragen", "", de_du="trägst", de_er="trägt"),
    "trinken": L.verb("drink"),
    "lesen": L.verb("read"),
    "gehen": L.verb("go"),
    "schwimmen": L.verb("swim"),
    "spielen": L.verb("football"),
    "essen": L.verb("eat"),
    "fahren": L.verb("ride_bike"),
    "spielen_intr": L.verb("play"),
}

_BAD_WEATHER_VPS = (   # (English, German rest, German verb, Chinese)
    ("stay at home", "zu Hause", "bleiben", "待在家里"),
    ("take an umbrella", "einen Regenschirm", "mitnehmen", "带上一把伞"),
    ("wear a warm coat", "einen warmen Mantel", "tragen", "穿上一件暖和的外套"),
    ("drink hot tea at home", "zu Hause heißen Tee", "trinken", "在家喝热茶"),
    ("read a book at home", "zu Hause ein Buch", "lesen", "在家看书"),
)
_GOOD_WEATHER_VPS = (
    ("go to the beach", "an den Strand", "gehen", "去海滩"),
    ("go to the park", "in den Park", "gehen", "去公园"),
    ("swim in the lake", "im See", "schwimmen", "在湖里游泳"),
    ("play football in the park", "im Park Fußball", "spielen", "在公园里踢足球"),
    ("eat in the garden", "im Garten", "essen", "在花园里吃饭"),
    ("ride a bike", "Fahrrad", "fahren", "骑自行车"),
)
_OUTDOOR_VPS = (   # progressive, for "although it is raining, ..."
    ("play in the garden", "im Garten", "spielen_intr", "在花园里玩"),
    ("play football in the park", "im Park Fußball", "spielen", "在公园里踢足球"),
    ("swim in the lake", "im See", "schwimmen", "在湖里游泳"),
    ("ride a bike", "Fahrrad", "fahren", "骑自行车"),
)

# "S is tired because PRONOUN worked all day": (adjective key, English reason, German
# verb-final reason, Chinese reason); {p} is the pronoun, {poss} its possessive.
_STATE_REASONS = (
    ("tired", "{p} worked all day", "{p} den ganzen Tag gearbeitet {aux_h}", "{p}工作了一整天"),
    ("tired", "{p} slept badly", "{p} schlecht geschlafen {aux_h}", "{p}没睡好"),
    ("tired", "{p} got up at five o'clock", "{p} um fünf Uhr aufgestanden {aux_s}", "{p}五点就起床了"),
    ("tired", "{p} worked in the garden all day", "{p} den ganzen Tag im Garten gearbeitet {aux_h}",
     "{p}在花园里工作了一整天"),
    ("hungry", "{p} did not have breakfast", "{p} nicht gefrühstückt {aux_h}", "{p}没有吃早饭"),
    ("hungry", "{p} did not eat anything today", "{p} heute noch nichts gegessen {aux_h}", "{p}今天什么都没吃"),
    ("sad", "{p} lost {poss} key", "{p} {poss_de_m_acc} Schlüssel verloren {aux_h}", "{p}把钥匙弄丢了"),
    ("sad", "{p} lost {poss} phone", "{p} {poss_de_n_acc} Handy verloren {aux_h}", "{p}把手机弄丢了"),
    ("sad", "{p} lost {poss} umbrella", "{p} {poss_de_m_acc} Regenschirm verloren {aux_h}", "{p}把伞弄丢了"),
    ("happy", "{p} found {poss} key", "{p} {poss_de_m_acc} Schlüssel gefunden {aux_h}", "{p}找到了{poss_zh}钥匙"),
    ("happy", "{p} found {poss} phone", "{p} {poss_de_n_acc} Handy gefunden {aux_h}", "{p}找到了{poss_zh}手机"),
    ("happy", "{p} bought a new bicycle", "{p} ein neues Fahrrad gekauft {aux_h}", "{p}买了一辆新自行车"),
    ("happy", "the weather is nice", "das Wetter schön ist", "天气很好"),
    ("happy", "{poss} friends are visiting {o}", "{poss_de_pl} Freunde {o_de} besuchen",
     "{poss_zh}朋友来看{o_zh}了"),
)


def _fill_reason(template: str, lang: str, pron: Pronoun) -> str:
    i = _AGR_INDEX[f"{pron.person}{pron.number}"]
    values = {
        "en": {"p": pron.en, "poss": pron.en_poss, "o": pron.en_acc},
        "de": {"p": pron.de, "aux_h": DE_HABEN_PRESENT[i], "aux_s": DE_SEIN_PRESENT[i],
               "poss_de_m_acc": pron.de_poss + "en", "poss_de_n_acc": pron.de_poss,
               "poss_de_pl": pron.de_poss + "e", "o_de": pron.de_acc},
        "zh": {"p": pron.zh, "poss_zh": pron.zh + "的", "o_zh": pron.zh},
    }[lang]
    return template.format(**values)


def g_adverbial_clause(rng: random.Random) -> Rendered:
    """because / if / although clauses: German weil, wenn, obwohl with verb-final order and
    V1 in the main clause after a fronted subordinate clause."""
    kind = _weighted(rng, (("because_weather", 1.0), ("because_state", 1.6), ("if_future", 1.0),
                           ("if_generic", 0.8), ("although", 0.8)))
    if kind == "because_state":
        subj = _person(rng, ("person",), sexed=True)
        adj_key, en_r, de_r, zh_r = _pick(rng, _STATE_REASONS)
        adj = next(a for a in L.GENERAL_ADJECTIVES if a.key == adj_key)
        pron = _pronoun_for(subj)
        very = rng.random() < 0.3
        main = Clause(subj, pred=adj, very=very)
        en = f"{en_clause(main)} because {_fill_reason(en_r, 'en', pron)}"
        de = f"{de_clause(main).main()}, weil {_fill_reason(de_r, 'de', pron)}"
        zh = f"{zh_clause(main)}，因为{_fill_reason(zh_r, 'zh', pron)}"
        return Rendered(en, de, zh)
    subj = _person(rng, ("person",), sexed=True)
    if kind == "because_weather":
        cond = _pick(rng, _WEATHER_BAD)
        vp = _person_vp(rng, subj, _BAD_WEATHER_VPS)
        if rng.random() < 0.5:
            return Rendered(f"{vp.en} because {cond.en}", f"{vp.de.main()}, weil {cond.de_final}",
                            f"{vp.zh}，因为{cond.zh}")
        return Rendered(f"because {cond.en}, {vp.en}", f"weil {cond.de_final}, {vp.de.v1()}",
                        f"因为{cond.zh}，所以{vp.zh}")
    if kind == "if_future":
        cond = _pick(rng, _WEATHER_GOOD)
        time = _pick(rng, L.FUTURE_TIMES[:1] + L.FUTURE_TIMES[4:5])
        vp = _person_vp(rng, subj, _GOOD_WEATHER_VPS, future=True)
        en_cond = f"{cond.en} {time.en}"
        de_cond = _insert_time_de(cond.de_final, time.de)
        zh_cond = time.zh + cond.zh
        return Rendered(f"if {en_cond}, {vp.en}", f"wenn {de_cond}, {vp.de.v1()}",
                        f"如果{zh_cond}，{_zh_jiu(vp.zh, subj)}")
    if kind == "if_generic":
        cond = _pick(rng, _WEATHER_IF)
        vp = _person_vp(rng, subj, _BAD_WEATHER_VPS)
        return Rendered(f"if {cond.en}, {vp.en}", f"wenn {cond.de_final}, {vp.de.v1()}",
                        f"如果{cond.zh}，{_zh_jiu(vp.zh, subj)}")
    cond = _pick(rng, _WEATHER_BAD)
    subj = _person(rng, ("young",), sexed=False) if rng.random() < 0.5 else subj
    en_base, de_rest, verb_key, zh = _pick(rng, _OUTDOOR_VPS)
    agr = agreement(subj)
    verb = _VP_VERBS[verb_key]
    en_vp = f"{en_be(_en_agr(agr))} {en_ing(verb)} {en_base.partition(' ')[2]}".strip()
    main = DeParts(de_np(subj), de_present(verb, agr), [de_rest], [], verb.de_prefix)
    # 还是 + progressive 在: 还是在湖里游泳, 还是在骑自行车
    zh_vp = zh if zh.startswith("在") else "在" + zh
    return Rendered(f"although {cond.en}, {en_np(subj)} {en_vp}", f"obwohl {cond.de_final}, {main.v1()}",
                    f"虽然{cond.zh}，但是{zh_np(subj)}还是{zh_vp}")


def _insert_time_de(cond_final: str, time: str) -> str:
    subject, _, rest = cond_final.partition(" ")
    if cond_final.startswith("die Sonne") or cond_final.startswith("das Wetter"):
        first, second, rest = cond_final.split(" ", 2)
        return f"{first} {second} {time} {rest}"
    return f"{subject} {time} {rest}"


def _zh_jiu(vp: str, subj: NP) -> str:
    """Insert 就 after the subject: 我们就去海滩."""
    s = zh_np(subj)
    return s + "就" + vp[len(s):]


# Relative clauses ------------------------------------------------------------

@dataclass(frozen=True)
class RelNP:
    """A noun phrase with a relative clause, in three languages."""

    en: str
    de: str        # "der Kuchen, den ... hat" (the closing comma is added by the caller)
    zh: str


def relative_np(antecedent: NP, clause: Clause, gap: str, case: str = "nom") -> RelNP:
    """`antecedent` with a relative clause whose subject ("subj") or object ("obj") it is:
    the cake that my mother baked / der Kuchen, den meine Mutter gebacken hat / 我妈妈烤的那个蛋糕."""
    en = f"{en_np(antecedent, case)} {en_clause(clause, gap=gap, antecedent=antecedent)}"
    de = f"{de_np(antecedent, case)}, {de_clause(clause, gap=gap, antecedent=antecedent).final()}"
    noun = antecedent.noun
    head = noun.zh
    if antecedent.number == "sg" and noun.zh_def == "dem":
        head = "那" + noun.mw + head        # 我妈妈烤的那个蛋糕
    elif antecedent.number == "pl" and noun.human:
        head = head + "们"
    zh = f"{zh_clause(clause, gap=gap)}的{head}"
    return RelNP(en, de, zh)


_NEXT_DOOR = Phrase("next door", "nebenan", "在隔壁")

# Things made or bought by someone, and what can then be said about them.
_REL_OBJECT_VERBS = ("buy", "bake", "cook", "write", "paint", "find", "sell", "watch", "read", "bring")
_REL_PREDICATES = (   # noun tags -> adjective keys
    (("food", "soup"), ("delicious", "sweet", "hot", "cold", "fresh")),
    (("book", "film"), ("interesting", "boring")),
    (("message",), ("long", "short")),
    (("vehicle", "clothing", "device", "furniture"), ("expensive", "cheap", "new", "old", "red", "blue")),
    (("picture", "flower"), ("beautiful",)),
)


def _person_rel_vp(rng: random.Random) -> Clause:
    """What a person does, for "the woman who ...": present tense, subject gapped."""
    kind = _pick(rng, ("work", "live_city", "live_next", "activity", "sell", "have", "speak"))
    if kind == "work":
        return Clause(None, L.verb("work"), loc=_place(rng, ("hospital", "bakery", "library", "supermarket",
                                                              "restaurant", "airport", "office")))
    if kind == "live_city":
        return Clause(None, L.LIVE, loc=Loc("at", city=_pick(rng, L.CITIES)))
    if kind == "live_next":
        return Clause(None, L.LIVE, loc=Loc("at", fixed=_NEXT_DOOR))
    if kind == "activity":
        return Clause(None, L.verb(_pick(rng, ("piano", "guitar", "tennis", "chess"))))
    if kind == "sell":
        sell = L.verb("sell")
        thing = _noun(_pick(rng, ("flower", "apple", "potato", "carrot", "cheese", "bread", "tomato")))
        return Clause(None, sell, NP(thing, "none", "sg" if thing.mass else "pl"),
                      loc=Loc("at", NP(_noun("market"), "def")))
    if kind == "have":
        pet = _noun(_pick(rng, ("dog", "cat", "horse", "rabbit")))
        return Clause(None, L.verb("have"), NP(pet, "num", "pl", count=_pick(rng, (2, 3, 4, 5))))
    return Clause(None, L.verb("speak"), NP(_pick(rng, L.LANGUAGES), "name"))


def g_relative_clause(rng: random.Random) -> Rendered:
    """Relative clauses: German pronoun agreeing in gender and number, case from its role
    (der/den/dem, die/denen), verb last, commas; Chinese clause + 的 before the noun."""
    kind = _weighted(rng, (("know", 1.0), ("met", 0.8), ("thing", 1.6), ("where", 0.7), ("helped", 0.8),
                           ("person_subject", 0.8)))
    if kind in ("know", "met", "person_subject"):
        noun = _pick(rng, tuple(n for n in L.PEOPLE if "describable" in n.tags))
        person = NP(noun, "def", "pl" if rng.random() < 0.25 else "sg")
        rel = relative_np(person, _person_rel_vp(rng), "subj", "acc" if kind != "person_subject" else "nom")
        if kind == "person_subject":
            pred = _pick(rng, tuple(a for a in L.GENERAL_ADJECTIVES if a.key in ("friendly", "busy", "tired",
                                                                                 "happy", "young")))
            be = en_be(_en_agr(agreement(person)))
            de_be = DE_SEIN_PRESENT[_AGR_INDEX[agreement(person)]]
            very = rng.random() < 0.4
            return Rendered(f"{rel.en} {be} {'very ' if very else ''}{pred.en}",
                            f"{rel.de}, {de_be} {'sehr ' if very else ''}{pred.de}",
                            f"{rel.zh}{pred.zh_very if very else pred.zh_pred}")
        subj = _person(rng, ("person",))
        while isinstance(subj.head, Noun) and subj.head is person.head:   # "the tourists know the tourist ..."
            subj = _person(rng, ("person",))
        agr = agreement(subj)
        if kind == "know":
            know = L.KNOW
            en = f"{en_np(subj)} {_en_present_word('know', agr)} {rel.en}"
            de = f"{de_np(subj)} {de_present(know, agr)} {rel.de}"
            return Rendered(en, de, f"{zh_np(subj)}认识{rel.zh}")
        time = _past_time(rng, recent=True)
        front = rng.random() < 0.5
        aux = DE_HABEN_PRESENT[_AGR_INDEX[agr]]
        en_main = f"{en_np(subj)} met {rel.en}"
        en = f"{time.en} {en_main}" if front else f"{en_main} {time.en}"
        # the relative clause follows the participle (Nachfeld): "... getroffen, der nebenan wohnt"
        rel_de_np, _, rel_de_clause = rel.de.partition(", ")
        if front:
            de = f"{time.de} {aux} {de_np(subj)} {rel_de_np} getroffen, {rel_de_clause}"
        else:
            de = f"{de_np(subj)} {aux} {time.de} {rel_de_np} getroffen, {rel_de_clause}"
        zh = f"{time.zh}{zh_np(subj)}" if front else f"{zh_np(subj)}{time.zh}"
        return Rendered(en, de, f"{zh}见到了{rel.zh}")
    if kind == "helped":
        noun = _pick(rng, tuple(n for n in L.PEOPLE if "describable" in n.tags))
        person = NP(noun, "def", "pl" if rng.random() < 0.3 else "sg")
        helper = _person(rng, ("person",), plural=False)
        while _same_referent(helper, person):
            helper = _person(rng, ("person",), plural=False)
        c = Clause(helper, L.verb("help"), person, tense="past", time=_past_time(rng, recent=True))
        rel = relative_np(person, c, "obj")
        main = Clause(person, L.LIVE, loc=Loc("at", city=_pick(rng, L.CITIES)))
        agr = agreement(person)
        return Rendered(f"{rel.en} {en_clause(main).partition(en_np(person) + ' ')[2]}",
                        f"{rel.de}, {de_present(L.LIVE, agr)} {main.loc.de()}",
                        f"{rel.zh}住{main.loc.zh()}")
    # things: "the cake that my mother baked yesterday is delicious" / "where is the cake that ..."
    verb = L.verb(_pick(rng, _REL_OBJECT_VERBS))
    preds = ()
    while not preds:
        noun = _pick(rng, tuple(n for n in _nouns(verb.obj_tags) if "person" not in n.tags))
        preds = next((keys for tags, keys in _REL_PREDICATES if _has(noun, tags)), ())
    thing = NP(noun, "def", "pl" if noun.has_plural and rng.random() < 0.25 else "sg")
    maker = _person(rng, ("person",))
    # a time only for lasting things: "the cake that she baked last week is fresh" would contradict itself
    lasting = not _has(noun, ("food", "soup", "drink"))
    time = _past_time(rng, recent=True) if lasting and rng.random() < 0.6 else None
    c = Clause(maker, verb, thing, tense="past", time=time)
    rel = relative_np(thing, c, "obj")
    agr = agreement(thing)
    if kind == "where":
        return Rendered(f"where {en_be(_en_agr(agr))} {rel.en}",
                        f"wo {DE_SEIN_PRESENT[_AGR_INDEX[agr]]} {rel.de}",
                        f"{rel.zh}在哪里", question=True)
    adjs = tuple(a for a in L.GENERAL_ADJECTIVES if a.key in preds and any(t in noun.tags for t in a.tags))
    pred = _pick(rng, adjs)
    very = bool(pred.zh_very) and rng.random() < 0.35
    past = noun.key == "film" or verb.key == "watch"
    be = en_be(_en_agr(agr), past)
    de_be = (DE_SEIN_PAST if past else DE_SEIN_PRESENT)[_AGR_INDEX[agr]]
    return Rendered(f"{rel.en} {be} {'very ' if very else ''}{pred.en}",
                    f"{rel.de}, {de_be} {'sehr ' if very else ''}{pred.de}",
                    f"{rel.zh}{pred.zh_very if very else pred.zh_pred}")


# Questions -------------------------------------------------------------------

def g_yes_no_question(rng: random.Random) -> Rendered:
    """Do-support and inversion in English, V1 in German, 吗 (past: 了吗) in Chinese."""
    kind = _weighted(rng, (("present", 1.0), ("progressive", 0.8), ("past", 1.4), ("copula", 1.0),
                           ("where", 0.6), ("can", 0.6)))
    if kind == "copula":
        c = _copula_clause(rng, question=True)
        if c.tense == "past":   # 他们昨天饿吗 is odd; ask about now
            c = replace(c, tense="present", time=None)
        return _render(c, question=True)
    if kind == "where":
        subj = _person(rng, ("person",), pronoun=False)
        if rng.random() < 0.4:
            loc = Loc("at", home=True)
        else:
            loc = _place(rng, ("garden", "park", "kitchen", "living_room", "office", "library", "supermarket",
                               "station", "zoo", "hospital"), _owner(subj))
        return _render(Clause(subj, loc=loc), question=True)
    if kind == "can":
        subj = _person(rng, ("person",))
        return _render(Clause(subj, _pick(rng, _SKILLS), tense="modal", modal=L.CAN), question=True)
    c = _clause(rng, kind, front=0.0, obj_dets=("def", "poss", "indef", "none"))
    return _render(replace(c, freq=None if c.freq is L.NEVER else c.freq), question=True)


_WHO = Name("who", "wer", "谁", "")   # a question word that behaves like a third-person subject
_WHAT_PAST_VERBS = ("buy", "cook", "bake", "eat", "read", "write", "paint", "drink", "bring", "see")
_WHAT_PROGRESSIVE_VERBS = ("read", "cook", "eat", "drink", "write", "watch", "bake")
_WHO_VERBS = ("eat", "drink", "open", "buy", "bake", "call", "paint", "write", "find", "close", "clean")


def g_wh_question(rng: random.Random) -> Rendered:
    """Wh-questions: German wh-word + finite verb; Chinese wh-word in situ (什么, 谁, 哪里, 为什么)."""
    kind = _weighted(rng, (("where_do", 1.0), ("where_is", 0.8), ("what_past", 1.2), ("what_now", 0.8),
                           ("who", 1.0), ("when", 1.0), ("why_state", 0.8), ("why_do", 0.6),
                           ("how_many", 1.2)))
    if kind == "where_do":
        verb = L.verb(_pick(rng, ("work", "live", "study", "swim", "football", "eat")))
        subj = _person(rng, ("person",) if verb.key != "study" else ("young",))
        agr = agreement(subj)
        p = DeParts(de_np(subj), de_present(verb, agr), [verb.de_tail], [], verb.de_prefix, front="wo")
        zh_verb = "住在哪里" if verb is L.LIVE else "在哪里" + (verb.zh_intr or verb.zh)
        en_main = verb.en + (" " + verb.en_tail if verb.en_tail else "")
        return Rendered(f"where {'does' if _en_agr(agr) == '3sg' else 'do'} {en_np(subj)} {en_main}",
                        p.main(), zh_np(subj) + zh_verb, question=True)
    if kind == "where_is":
        thing = _noun(_pick(rng, ("key", "umbrella", "phone", "bag", "book", "coat", "jacket", "car", "bicycle")))
        owner = _pick(rng, L.GENERAL_PRONOUNS)
        x = NP(thing, "poss", "pl" if rng.random() < 0.25 else "sg", possessor=owner)
        if rng.random() < 0.3:
            x = NP(_pick(rng, _nouns(("dest",))), "def")
        agr = agreement(x)
        return Rendered(f"where {en_be(_en_agr(agr))} {en_np(x)}",
                        f"wo {DE_SEIN_PRESENT[_AGR_INDEX[agr]]} {de_np(x)}",
                        f"{zh_np(x)}在哪里", question=True)
    if kind in ("what_past", "what_now"):
        past = kind == "what_past"
        verb = L.verb(_pick(rng, _WHAT_PAST_VERBS if past else _WHAT_PROGRESSIVE_VERBS))
        subj = _person(rng, ("person",))
        agr = agreement(subj)
        time = _past_time(rng, recent=True) if past and rng.random() < 0.7 else None
        loc = _place(rng, verb.places, _owner(subj)) if verb.places and rng.random() < 0.3 else None
        c = Clause(subj, verb, tense="past" if past else "progressive", time=time, loc=loc)
        if past:
            en = f"what did {en_np(subj)} {verb.en}"
        else:
            en = f"what {en_be(_en_agr(agr))} {en_np(subj)} {en_ing(verb)}"
        en = _join([en, c.loc.en() if loc else "", time.en if time else ""])
        p = de_clause(c)
        p.front = "was"
        zh_subj = zh_np(subj) + (time.zh if time else "")
        zh_loc = loc.zh() if loc else ""
        zh_v = _zh_verb(Clause(subj, verb))
        zh = f"{zh_subj}{zh_loc}{zh_v}了什么" if past else f"{zh_subj}{'正' + zh_loc if zh_loc else '在'}{zh_v}什么"
        return Rendered(en, p.main(), zh, question=True)
    if kind == "who":
        verb = L.verb(_pick(rng, _WHO_VERBS))
        if verb.key == "call":
            obj = pron_np(_pick(rng, (L.I, L.YOU, L.HE, L.SHE, L.WE, L.THEY)))
        else:
            obj = _object(rng, verb, ("def", "poss", "this"), adj_p=0.2)
        time = _past_time(rng, recent=True) if rng.random() < 0.6 else None
        who = NP(_WHO, "name")
        c = Clause(who, verb, obj, tense="past", time=time)
        return Rendered(en_clause(c), de_clause(c).main(), zh_clause(c), question=True)
    if kind == "when":
        verb = _pick(rng, L.ROUTINE_VERBS)
        subj = _routine_subject(rng, verb)
        agr = agreement(subj)
        p = DeParts(de_np(subj), de_present(verb, agr), [verb.de_tail], [], verb.de_prefix, front="wann")
        en_main = verb.en + (" " + verb.en_tail if verb.en_tail else "")
        return Rendered(f"when {'does' if _en_agr(agr) == '3sg' else 'do'} {en_np(subj)} {en_main}",
                        p.main(), f"{zh_np(subj)}什么时候{verb.zh}", question=True)
    if kind == "why_state":
        subj = _person(rng, ("person",))
        adj = _pick(rng, tuple(a for a in L.GENERAL_ADJECTIVES if a.key in ("tired", "hungry", "sad", "happy",
                                                                            "busy")))
        agr = agreement(subj)
        today = rng.random() < 0.5
        return Rendered(f"why {en_be(_en_agr(agr))} {en_np(subj)} so {adj.en}{' today' if today else ''}",
                        _join(["warum", DE_SEIN_PRESENT[_AGR_INDEX[agr]], de_np(subj),
                               "heute" if today else "", "so", adj.de]),
                        f"{zh_np(subj)}{'今天' if today else ''}为什么这么{adj.zh_q}", question=True)
    if kind == "why_do":
        if rng.random() < 0.2:
            subj = NP(_pick(rng, tuple(n for n in L.PEOPLE if _has(n, ("baby", "young")))), "def")
            c = Clause(subj, L.verb("cry"), tense="progressive", gerade=False)
            p = de_clause(c)
            p.front = "warum"
            return Rendered(f"why {en_be(_en_agr(agreement(subj)))} {en_np(subj)} crying", p.main(),
                            f"{zh_np(subj)}为什么在哭", question=True)
        verb_key, things, dets = _pick(rng, _WHY_DID)
        verb = L.verb(verb_key)
        subj = _person(rng, ("person",))
        if things:
            obj = _np(rng, _noun(_pick(rng, things)), dets, adj_p=0.3, possessor=_owner(subj), sg=True)
        else:
            obj = _person(rng, ("person",))
            while _same_referent(subj, obj):
                obj = _person(rng, ("person",))
        c = Clause(subj, verb, obj, tense="past")
        p = de_clause(c)
        p.front = "warum"
        # 为什么 after the subject; the past question keeps 了 after the verb (为什么卖了他的车)
        s = zh_np(subj)
        zh = zh_clause(c)
        return Rendered("why " + en_clause(c, question=True), p.main(), s + "为什么" + zh[len(s):],
                        question=True)
    # how many
    sub = _pick(rng, ("have", "buy", "there"))
    if sub == "there":
        place_key, keys, _, most = _pick(rng, _EXIST_PLACES)
        noun = _noun(_pick(rng, keys))
        if noun.mass:
            noun = _noun("book")
            place_key = "library"
        place = _noun(place_key)
        where = NP(place, "def")
        x = NP(noun, "how_many", "pl")
        return Rendered(f"{en_np(x)} {noun.en_pl} are there {place.en_at or 'in'} {en_np(where)}"
                        .replace(f"{noun.en_pl} {noun.en_pl}", noun.en_pl),
                        f"{de_np(x, 'acc')} gibt es {de_pp(place.de_at or 'in', where, 'dat')}",
                        f"{zh_np(where)}{place.zh_at or '里'}有{zh_np(x)}", question=True)
    verb = L.verb(sub)
    subj = _person(rng, ("person",))
    keys = (("dog", "cat", "rabbit", "car", "bicycle", "computer", "child", "son", "daughter") if sub == "have"
            else ("apple", "banana", "orange", "egg", "book", "flower", "pencil", "cake", "tomato", "potato"))
    noun = _noun(_pick(rng, keys))
    x = NP(noun, "how_many", "pl")
    agr = agreement(subj)
    if sub == "have":
        aux = "does" if _en_agr(agr) == "3sg" else "do"
        en = f"{en_np(x)} {aux} {en_np(subj)} have"
        p = DeParts(de_np(subj), de_present(verb, agr), front=de_np(x, "acc"))
        zh = f"{zh_np(subj)}有{zh_np(x)}"
    else:
        time = _past_time(rng, recent=True) if rng.random() < 0.5 else None
        en = _join([f"{en_np(x)} did {en_np(subj)} buy", time.en if time else ""])
        p = DeParts(de_np(subj), de_aux(verb, agr), [time.de if time else ""], [verb.de_pp],
                    front=de_np(x, "acc"))
        zh = f"{zh_np(subj)}{time.zh if time else ''}买了{zh_np(x)}"
    return Rendered(en, p.main(), zh, question=True)


_WHY_DID = (   # (verb, objects, determiners); no objects: a person
    ("sell", ("car", "bicycle", "computer", "sofa"), ("poss",)),
    ("buy", ("car", "bicycle", "computer", "phone", "umbrella", "coat"), ("indef",)),
    ("clean", ("kitchen", "living_room", "room"), ("def", "poss")),
    ("visit", (), ()),
    ("call", (), ()),
)


# Coordination ----------------------------------------------------------------

_CONTRAST_VERBS = ("drink", "eat", "like", "read")


def g_coordination(rng: random.Random) -> Rendered:
    """and / but: coordinated subjects with plural agreement, contrasted clauses (aber, 但是),
    coordinated objects (Brot, Käse und Äpfel / 面包、奶酪和苹果)."""
    kind = _weighted(rng, (("subjects", 1.2), ("contrast", 1.0), ("but_not", 1.0), ("and_clauses", 0.8),
                           ("objects", 1.0)))
    if kind == "subjects":
        if rng.random() < 0.3:
            keys = _pick(rng, (("cat", "dog"), ("dog", "rabbit"), ("cat", "rabbit")))
            parts = tuple(NP(_noun(k), "def") for k in keys)
            verb = L.verb(_pick(rng, ("sleep", "play")))
            loc = _place(rng, ("garden", "living_room", "kitchen"))
        else:
            first = name_np(_pick(rng, L.NAMES))
            second = _person(rng, ("person",), pronoun=False, plural=False, names=0.5, kin=0.4)
            if second.head == first.head:
                second = NP(_noun("friend"), "poss", possessor=_pronoun_for(first))
            parts = (first, second)
            verb = _pick(rng, tuple(v for v in _INTRANSITIVE if "person" in v.subj_tags and v.places))
            loc = _place(rng, verb.places) if rng.random() < 0.7 else None
        tense = _pick(rng, ("progressive", "past", "present"))
        time = _past_time(rng, recent=True) if tense == "past" else (
            _pick(rng, L.HABITUAL_TIMES) if tense == "present" else None)
        return _render(Clause(Coord(parts), verb, tense=tense, time=time, loc=loc))
    if kind == "objects":
        verb = L.verb(_pick(rng, ("buy", "eat", "bring")))
        foods = ("bread", "cheese", "apple", "banana", "orange", "egg", "cake", "cookie", "tomato", "potato",
                 "carrot", "chocolate", "meat", "rice")
        keys = _sample_distinct(rng, foods if verb.key != "bring" else foods + ("flower", "wine", "juice"),
                                _pick(rng, (2, 2, 3)))
        objs = tuple(NP(_noun(k), "none", "sg" if _noun(k).mass else "pl") for k in keys)
        subj = _person(rng, ("person",))
        c = Clause(subj, verb, Coord(objs), tense="past", time=_past_time(rng, recent=True),
                   front_time=rng.random() < 0.3)
        return _render(c)
    if kind == "contrast":
        verb = L.verb(_pick(rng, _CONTRAST_VERBS))
        first, second = _distinct_people(rng)
        noun_a, noun_b = _distinct_nouns(rng, verb)
        a = Clause(first, verb, _bare(noun_a))
        b = Clause(second, verb, _bare(noun_b))
        return Rendered(f"{en_clause(a)}, but {en_clause(b)}", f"{de_clause(a).main()}, aber {de_clause(b).main()}",
                        f"{zh_clause(a)}，但是{zh_clause(b)}")
    if kind == "but_not":
        verb = L.verb(_pick(rng, ("like", "drink", "eat")))
        subj = _person(rng, ("person",), sexed=True)
        noun_a, noun_b = _distinct_nouns(rng, verb)
        a = Clause(subj, verb, _bare(noun_a))
        b = Clause(pron_np(_pronoun_for(subj)), verb, replace(_bare(noun_b), det="neg"), neg=True)
        return Rendered(f"{en_clause(a)}, but {en_clause(b)}", f"{de_clause(a).main()}, aber {de_clause(b).main()}",
                        f"{zh_clause(a)}，但是{zh_clause(b)}")
    # two clauses, the second without its own time: "Every morning Anna drinks coffee in the
    # kitchen and her brother reads the newspaper."
    tense = _pick(rng, ("progressive", "present", "past"))
    while True:
        a = _clause(rng, tense, place_p=0.5, pp_p=0.0)
        b = _clause(rng, tense, place_p=0.5, pp_p=0.0, adverbial=False)
        if isinstance(a.subj, NP) and isinstance(b.subj, NP) and en_np(a.subj) != en_np(b.subj):
            break
    a, b = replace(a, gerade=False), replace(b, gerade=False, time=None, freq=None)
    return Rendered(f"{en_clause(a)} and {en_clause(b)}", f"{de_clause(a).main()} und {de_clause(b).main()}",
                    f"{zh_clause(a)}，{zh_clause(b)}")


def _bare(noun: Noun) -> NP:
    return NP(noun, "none", "sg" if noun.mass else "pl")


def _sample_distinct(rng: random.Random, options: tuple[str, ...], k: int) -> tuple[str, ...]:
    chosen: list[str] = []
    while len(chosen) < k:
        item = _pick(rng, options)
        if item not in chosen:
            chosen.append(item)
    return tuple(chosen)


def _distinct_people(rng: random.Random) -> tuple[NP, NP]:
    first = _person(rng, ("person",))
    while True:
        second = _person(rng, ("person",))
        if en_np(second) != en_np(first):
            return first, second


_CONTRAST_POOLS = {   # contrasts within one kind of thing: tea versus coffee, cats versus dogs
    "drink": (("coffee", "tea", "milk", "water", "juice", "wine"),),
    "eat": (("meat", "cheese", "rice", "chocolate", "bread"), ("apple", "banana", "orange", "carrot", "tomato"),
            ("cake", "cookie", "chocolate")),
    "like": (("dog", "cat", "bird", "horse", "rabbit"), ("coffee", "tea", "milk", "juice"),
             ("cake", "cookie", "chocolate", "apple", "banana"), ("film", "book", "song")),
    "read": (("book", "newspaper", "letter", "email"),),
}


def _distinct_nouns(rng: random.Random, verb: Verb) -> tuple[Noun, Noun]:
    a, b = _sample_distinct(rng, _pick(rng, _CONTRAST_POOLS[verb.key]), 2)
    return _noun(a), _noun(b)


# Modal verbs -----------------------------------------------------------------

_HAVE_TO_VERBS = ("work", "clean", "tidy", "visit", "help", "call", "pick_up", "cook", "buy", "wash", "write",
                  "study", "learn", "bake")
_WANT_TO_VERBS = ("buy", "learn", "visit", "football", "tennis", "chess", "swim", "cook", "bake", "paint",
                  "watch", "read", "write", "sing", "dance", "invite", "ride_bike", "call")
_NEAR_FUTURE = tuple(t for t in L.FUTURE_TIMES if t.en in ("tomorrow", "tonight", "on Saturday"))

def g_modal(rng: random.Random) -> Rendered:
    """can / have to / want to: German modal + infinitive at the end (muss ... abholen);
    Chinese 会 / 得 / 想 before the verb phrase."""
    modal = _weighted(rng, ((L.CAN, 1.0), (L.HAVE_TO, 1.2), (L.WANT_TO, 1.2)))
    if modal is L.CAN:
        verb = _pick(rng, _SKILLS)
        subj = _person(rng, ("person",))
        obj = None
        if verb.key == "speak":
            return g_modal(rng)
        return _render(Clause(subj, verb, obj, tense="modal", modal=modal))
    time = _pick(rng, L.FUTURE_TIMES)
    front = rng.random() < 0.4
    subj = _person(rng, ("person",), sexed=True)
    if modal is L.WANT_TO and rng.random() < 0.4:
        verb = _pick(rng, L.MOTIONS)
        if "city" in verb.obj_tags and ("dest" not in verb.obj_tags or rng.random() < 0.5):
            loc = Loc("to", city=_pick(rng, L.CITIES))
        else:
            loc = Loc("to", NP(_pick(rng, _nouns(("dest",))), "def"))
            time = _pick(rng, _NEAR_FUTURE)   # a walk to the zoo is planned for tomorrow, not next year
        return _render(Clause(subj, verb, tense="modal", modal=modal, time=time, loc=loc, front_time=front))
    verb = L.verb(_pick(rng, _HAVE_TO_VERBS if modal is L.HAVE_TO else _WANT_TO_VERBS))
    owner = _owner(subj)
    dets = ("indef", "none") if verb.key in _CREATION + ("buy",) else ("def", "poss", "indef", "none")
    obj = _object(rng, verb, dets, owner=owner) if verb.obj_tags else None
    while _same_referent(subj, obj):
        obj = _object(rng, verb, dets, owner=owner)
    loc = _place(rng, _verb_places(verb, obj), owner) if verb.places and rng.random() < 0.4 else None
    return _render(Clause(subj, verb, obj, tense="modal", modal=modal, time=time, loc=loc, front_time=front))


# Prepositions ----------------------------------------------------------------

_TRANSPORT = (   # by bus -> mit dem Bus fahren -> 坐公交车
    (Phrase("by bus", "mit dem Bus", "坐公交车"), "fahren"),
    (Phrase("by train", "mit dem Zug", "坐火车"), "fahren"),
    (Phrase("by bike", "mit dem Fahrrad", "骑自行车"), "fahren"),
    (Phrase("by car", "mit dem Auto", "开车"), "fahren"),
    (Phrase("on foot", "zu Fuß", "走路"), "gehen"),
)
_ERRANDS = (Phrase("to work", "zur Arbeit", "去上班"), Phrase("to school", "zur Schule", "去上学"),
            Phrase("to the city centre", "in die Stadt", "进城"))
_SPATIAL = (   # (English, German + dative, Chinese localiser), and the things they sensibly go with
    (("under", "unter", "下面"), ("table", "sofa", "chair", "tree", "car")),
    (("behind", "hinter", "后面"), ("sofa", "tree", "door", "house")),
    (("in front of", "vor", "前面"), ("door", "house", "window")),
    (("next to", "neben", "旁边"), ("sofa", "tree", "door", "lamp")),
)
_FAHREN = Verb("fahren", "go", "went", "fahren", "gefahren", "", de_du="fährst", de_er="fährt", de_aux="sein")
_GEHEN = L.verb("go")


def g_prepositional(rng: random.Random) -> Rendered:
    """Prepositions and their cases: für + accusative, mit/bei/aus/zu + dative, unter/hinter/vor/
    neben + dative for location; Chinese 给, 和...一起, 来自, 在...下面."""
    kind = _weighted(rng, (("for", 1.2), ("with", 1.0), ("from", 0.4), ("transport", 1.0), ("lives_with", 0.3),
                           ("spatial", 1.0)))
    if kind == "for":
        verb = L.verb(_pick(rng, ("buy", "bake", "cook", "bring", "paint")))
        subj = _person(rng, ("person",), sexed=True)
        owner = _pronoun_for(subj)
        benef = _pick(rng, ("mother", "father", "grandmother", "grandfather", "sister", "brother", "parents",
                            "son", "daughter", "friend"))
        noun = _noun(benef)
        target = NP(noun, "poss", "pl" if not noun.has_singular else "sg", possessor=owner)
        obj = _object(rng, verb, ("indef", "num", "none"), adj_p=0.3)
        if verb.key == "buy" and rng.random() < 0.5:
            obj = _np(rng, _noun(_pick(rng, ("present", "flower", "book", "cake", "coat", "umbrella"))),
                      ("indef", "num"), adj_p=0.3)
        past = rng.random() < 0.6
        time = _past_time(rng, recent=True) if past else None
        return _render(Clause(subj, verb, obj, tense="past" if past else "progressive", time=time,
                              pp=PP("for", target), front_time=past and rng.random() < 0.3))
    if kind == "with":
        subj = _person(rng, ("person",), sexed=True)
        owner = _pronoun_for(subj)
        if rng.random() < 0.5:
            partner = NP(_noun(_pick(rng, ("dog", "cat", "rabbit"))), "poss", possessor=owner)
            verb = L.verb("play")
        else:
            partner = NP(_noun(_pick(rng, ("grandfather", "grandmother", "father", "mother", "brother", "sister",
                                           "friend", "son", "daughter"))), "poss", possessor=owner)
            if partner.noun.key == "friend" and rng.random() < 0.5:
                partner = replace(partner, number="pl")
            verb = L.verb(_pick(rng, ("chess", "tennis", "cards", "football", "cook", "dance", "sing")))
        loc = _place(rng, verb.places, owner) if verb.places else None
        tense = _pick(rng, ("present", "progressive", "past"))
        time = (_past_time(rng, recent=True) if tense == "past"
                else _pick(rng, L.HABITUAL_TIMES) if tense == "present" else None)
        return _render(Clause(subj, verb, tense=tense, time=time, loc=loc, pp=PP("with", partner)))
    if kind == "from":
        subj = _person(rng, ("person",))
        city = _pick(rng, L.CITIES)
        agr = agreement(subj)
        come = Verb("come", "come", "came", "kommen", "gekommen", "")
        return Rendered(f"{en_np(subj)} {_en_present_word('come', agr)} from {city.en}",
                        f"{de_np(subj)} {de_present(come, agr)} aus {city.de}", f"{zh_np(subj)}来自{city.zh}")
    if kind == "transport":
        subj = _person(rng, ("person",))
        mode, de_verb = _pick(rng, _TRANSPORT)
        errand = _pick(rng, _ERRANDS)
        time = _pick(rng, L.HABITUAL_TIMES[:1] + L.FREQUENCIES) if rng.random() < 0.7 else None
        agr = agreement(subj)
        verb = _FAHREN if de_verb == "fahren" else _GEHEN
        adverb = [time.de] if time else []
        de = DeParts(de_np(subj), de_present(verb, agr), adverb + [mode.de, errand.de]).main()
        freq = time is not None and time in L.FREQUENCIES
        en_verb = _en_present_word("go", agr)
        en = _join([en_np(subj), time.en if freq else "", en_verb, errand.en, mode.en,
                    time.en if time and not freq else ""])
        dou = "都" if time and time.zh.startswith("每") else ""
        return Rendered(en, de, f"{zh_np(subj)}{time.zh if time else ''}{dou}{mode.zh}{errand.zh}")
    if kind == "lives_with":
        subj = _person(rng, ("person",), sexed=True, kin=0.0)
        owner = _pronoun_for(subj)
        host = NP(_noun(_pick(rng, ("grandmother", "grandfather", "parents", "sister", "brother", "friend"))),
                  "poss", possessor=owner)
        host = replace(host, number="pl" if not host.noun.has_singular else "sg")
        agr = agreement(subj)
        return Rendered(f"{en_np(subj)} {_en_present_word('live', agr)} with {en_np(host, 'acc')}",
                        f"{de_np(subj)} {de_present(L.LIVE, agr)} bei {de_np(host, 'dat')}",
                        f"{zh_np(subj)}和{zh_np(host)}一起住")
    animal = _animal(rng, ("pet",))
    prep, spots = _pick(rng, _SPATIAL)
    spot = NP(_noun(_pick(rng, spots)), "def")
    verb = L.verb(_pick(rng, ("sleep", "play")))
    tense = _pick(rng, ("progressive", "present"))
    freq = _pick(rng, L.FREQUENCIES) if tense == "present" else None
    return _render(Clause(animal, verb, tense=tense, freq=freq, loc=Loc("at", spot, spatial=prep)))


# Daily routine ---------------------------------------------------------------

def _routine_subject(rng: random.Random, verb: Verb) -> NP:
    """Who or what: a person, a shop, a film, or a train to a city (der Zug nach Wien, 去维也纳的火车)."""
    if "person" in verb.subj_tags:
        return _person(rng, ("person",))
    noun = _pick(rng, _nouns(verb.subj_tags))
    if "transport" in noun.tags and rng.random() < 0.6:
        city = _pick(rng, L.CITIES)
        return NP(Phrase(f"the {noun.en} to {city.en}", f"{DE_DEFINITE['nom'][noun.gender]} {noun.de} nach {city.de}",
                         f"去{city.zh}的{noun.zh}"), "name")
    return NP(noun, "def")


_ROUTINE_HOURS = {   # sensible clock times and day parts per verb
    "get_up": (tuple(range(5, 10)), ("in the morning",)),
    "come_home": (tuple(range(4, 10)), ("in the evening",)),
    "arrive": (tuple(range(1, 13)), ("in the morning", "in the evening")),
    "leave": (tuple(range(1, 13)), ("in the morning", "in the evening")),
    "start": (tuple(range(6, 10)), ("in the evening",)),
    "open_shop": (tuple(range(7, 11)), ("in the morning",)),
    "close_shop": (tuple(range(5, 10)), ("in the evening",)),
}
_DAY_PARTS = (Phrase("in the morning", "morgens", "早上"), Phrase("in the evening", "abends", "晚上"))


def g_routine(rng: random.Random) -> Rendered:
    """Separable verbs with clock times: "steht um sechs Uhr auf", "kommt um acht Uhr an", 六点起床."""
    verb = _pick(rng, L.ROUTINE_VERBS)
    subj = _routine_subject(rng, verb)
    hours, parts = _ROUTINE_HOURS[verb.key]
    hour = _pick(rng, hours)
    clock = clock_time(hour)
    part = None
    if rng.random() < 0.4 and 5 <= hour <= 11:
        wanted = _pick(rng, parts)
        part = next(p for p in _DAY_PARTS if p.en == wanted)
    daily = "person" in verb.subj_tags and rng.random() < 0.4
    freq = _pick(rng, L.FREQUENCIES[:2] + L.FREQUENCIES[3:]) if not daily and rng.random() < 0.35 else None
    when = Phrase(_join([clock.en, part.en if part else ""]), _join([clock.de, part.de if part else ""]),
                  (part.zh if part else "") + clock.zh)
    agr = agreement(subj)
    en_v = _en_present_word(verb.en, agr) + (" " + verb.en_tail if verb.en_tail else "")
    en = _join([en_np(subj), freq.en if freq else "", en_v, when.en, "every day" if daily else ""])
    de = DeParts(de_np(subj), de_present(verb, agr), ["jeden Tag" if daily else "", freq.de if freq else "",
                                                      when.de, verb.de_tail], [], verb.de_prefix).main()
    zh = f"{zh_np(subj)}{'每天' if daily else ''}{freq.zh if freq else ''}{when.zh}{verb.zh}"
    return Rendered(en, de, zh)


# ---------------------------------------------------------------------------
# Talks domain
# ---------------------------------------------------------------------------

_T_ADJ = {a.key: a for a in L.TALK_ADJECTIVES}
_SYSTEM_NOUNS = ("model", "method", "approach", "system", "network")
_OUR = L.WE
_PERCENT_BY = tuple(range(2, 41))


def percent(n: int) -> Phrase:
    """Percentages are digits in all three languages: 12 percent / 12 Prozent / 12%."""
    return Phrase(f"{n} percent", f"{n} Prozent", f"{n}%")


@dataclass(frozen=True)
class Subject:
    """A pre-rendered subject (possibly with a relative clause) and its agreement."""

    en: str
    de: str
    zh: str
    agr: str
    gender: str = "n"     # for "it" (er/sie/es)

    @staticmethod
    def of(x: NP) -> "Subject":
        return Subject(en_np(x), de_np(x), zh_np(x), agreement(x), x.de_gender)


def _system(rng: random.Random, plural_p: float = 0.15) -> NP:
    """Our model / the proposed method / this approach / the new models ..."""
    noun = _noun(_pick(rng, _SYSTEM_NOUNS))
    number = "pl" if rng.random() < plural_p else "sg"
    det = _weighted(rng, (("poss", 2.0), ("def", 1.5), ("this", 0.8)))
    adj_keys = ("t_new", "t_proposed", "t_multilingual", "t_small", "t_pretrained", "t_simple", "t_efficient")
    options = tuple(_T_ADJ[k] for k in adj_keys if any(t in noun.tags for t in _T_ADJ[k].tags)
                    or (k == "t_pretrained" and noun.key == "model"))
    adj = None
    if options and rng.random() < (0.7 if det == "def" else 0.3):
        adj = _pick(rng, options)
        if det == "poss" and adj.zh_attr.endswith("的"):
            adj = None
        if adj is not None and adj.key == "t_proposed" and det != "def":
            adj = None
    return NP(noun, det, number, adj, _OUR if det == "poss" else None)


_RIVALS = (   # what our systems are compared with (nominative / dative forms come from de_np)
    ("baseline", None), ("model", "t_original"), ("system", "t_previous"), ("system", "t_commercial"),
    ("system", "t_best"), ("model", "t_large"), ("approach", "t_previous"),
)


def _rival(rng: random.Random) -> NP:
    key, adj = _pick(rng, _RIVALS)
    return NP(_noun(key), "def", "sg", _T_ADJ[adj] if adj else None)


_OUTPERFORM_TARGETS = (   # (English, German, Chinese, 都 for "all")
    ("on all test sets", "auf allen Testsets", "在所有测试集上", True),
    ("on all languages", "in allen Sprachen", "在所有语言上", True),
    ("on long sentences", "bei langen Sätzen", "在长句子上", False),
    ("on noisy audio", "bei verrauschten Audiodaten", "在有噪声的音频上", False),
    ("on every benchmark", "auf jedem Benchmark", "在每个基准测试上", True),
)
_LESS = (   # (English noun, countable, German, Chinese)
    ("training data", False, "Trainingsdaten", "训练数据"), ("data", False, "Daten", "数据"),
    ("memory", False, "Speicher", "内存"), ("parameters", True, "Parameter", "参数"),
    ("GPUs", True, "GPUs", "GPU"), ("training time", False, "Trainingszeit", "训练时间"),
)
_UEBERTREFFEN = Verb("outperform", "outperform", "outperformed", "übertreffen", "übertroffen", "优于",
                     de_du="übertriffst", de_er="übertrifft")
_FUNKTIONIEREN = Verb("work", "work", "worked", "funktionieren", "funktioniert", "")
_BRAUCHEN = L.verb("need")
_MACHEN = Verb("make", "make", "made", "machen", "gemacht", "")
_STEIGEN = Verb("increase", "increase", "increased", "steigen", "gestiegen", "", de_aux="sein")
_SINKEN = Verb("decrease", "decrease", "decreased", "sinken", "gesunken", "", de_aux="sein")


@dataclass(frozen=True)
class TalkClause:
    """A finding about a system, renderable as main clause, V1 clause, dass-clause or Chinese."""

    en_vp: tuple[str, str]          # the English verb phrase for a singular and a plural subject
    de_verb: Verb | None            # None: sein
    de_middle: tuple[str, ...]
    zh_vp: str
    subject: Subject
    kind: str = ""
    zh_rel: str = ""        # as a Chinese relative clause before the noun (在长句子上效果很好的)

    def en(self) -> str:
        vp = self.en_vp[0] if _en_agr(self.subject.agr) == "3sg" else self.en_vp[1]
        return f"{self.subject.en} {vp}"

    def de(self) -> DeParts:
        i = _AGR_INDEX[self.subject.agr]
        finite = DE_SEIN_PRESENT[i] if self.de_verb is None else de_present(self.de_verb, self.subject.agr)
        prefix = self.de_verb.de_prefix if self.de_verb else ""
        return DeParts(self.subject.de, finite, list(self.de_middle), [], prefix)

    def zh(self) -> str:
        return self.subject.zh + self.zh_vp


def _talk_clause(rng: random.Random, subject: Subject | None = None, kinds: tuple[str, ...] | None = None,
                 neg: bool = False, relative: bool = False) -> TalkClause:
    """A result about a system: comparison, outperforming, working well, needing less, fewer errors."""
    if subject is None:
        subject = Subject.of(_system(rng))
    kind = _pick(rng, kinds or ("compare", "outperform", "works_well", "needs_less", "fewer_errors"))
    if kind == "compare":
        cmp = _pick(rng, L.COMPARATIVES)
        rival = _rival(rng)
        nicht = "nicht " if neg else ""
        en_be3, en_bep = ("is not", "are not") if neg else ("is", "are")
        return TalkClause((f"{en_be3} {cmp.en} than {en_np(rival)}", f"{en_bep} {cmp.en} than {en_np(rival)}"),
                          None, (f"{nicht}{cmp.de} als {de_np(rival)}",),
                          f"{'并不' if neg else ''}比{zh_np(rival)}{cmp.zh}", subject, kind)
    if kind == "outperform":
        rival = _rival(rng)
        en_t, de_t, zh_t, dou = _pick(rng, _OUTPERFORM_TARGETS)
        return TalkClause((f"outperforms {en_np(rival, 'acc')} {en_t}", f"outperform {en_np(rival, 'acc')} {en_t}"),
                          _UEBERTREFFEN, (de_np(rival, "acc"), de_t),
                          f"{zh_t}{'都' if dou else ''}优于{zh_np(rival)}", subject, kind)
    if kind == "works_well":
        ch = _pick(rng, L.CHALLENGES)
        if neg:
            return TalkClause((f"does not work well on {ch.en}", f"do not work well on {ch.en}"),
                              _FUNKTIONIEREN, (ch.de, "nicht gut"), f"在{ch.zh}上效果不好", subject, kind)
        return TalkClause((f"works well on {ch.en}", f"work well on {ch.en}"), _FUNKTIONIEREN,
                          (ch.de, "gut"), f"在{ch.zh}上效果很好", subject, kind, f"在{ch.zh}上效果很好的")
    if kind == "needs_less":
        en_n, countable, de_n, zh_n = _pick(rng, _LESS)
        few = "fewer" if countable else "less"
        if rng.random() < 0.5 and not relative:
            rival = _rival(rng)
            return TalkClause((f"needs {few} {en_n} than {en_np(rival)}", f"need {few} {en_n} than {en_np(rival)}"),
                              _BRAUCHEN, (f"weniger {de_n} als {de_np(rival)}",),
                              f"比{zh_np(rival)}需要更少的{zh_n}", subject, kind)
        return TalkClause((f"needs {few} {en_n}", f"need {few} {en_n}"), _BRAUCHEN, (f"weniger {de_n}",),
                          f"需要更少的{zh_n}", subject, kind, f"需要更少{zh_n}的")
    ch = _pick(rng, L.CHALLENGES)
    return TalkClause((f"makes fewer errors on {ch.en}", f"make fewer errors on {ch.en}"), _MACHEN,
                      (ch.de, "weniger Fehler"), f"在{ch.zh}上犯的错误更少", subject, "fewer_errors",
                      f"在{ch.zh}上错误更少的")


def _and_also(rng: random.Random, first: TalkClause) -> Rendered | None:
    """A second finding about the same subject: ", and it needs less memory" / ", und es braucht
    weniger Speicher" / "，而且需要更少的内存"."""
    subj = first.subject
    if not subj.en or first.kind == "metric":
        return None
    kinds = tuple(k for k in ("needs_less", "works_well", "fewer_errors") if k != first.kind)
    plural = subj.agr == "3pl"
    pron = Subject("they" if plural else "it", "sie" if plural else _IT.get(subj.gender, "es"), "", subj.agr)
    second = _talk_clause(rng, pron, kinds)
    return Rendered(second.en(), second.de().main(), "而且" + second.zh_vp)


def _metric_clause(rng: random.Random) -> TalkClause:
    """The accuracy increases by 12 percent / die Genauigkeit steigt um 12 Prozent / 准确率提高了12%."""
    metric = _pick(rng, L.METRICS)
    up = "up" in metric.tags
    p = percent(_pick(rng, _PERCENT_BY))
    subject = Subject.of(NP(metric, "def"))
    word = "increases" if up else "decreases"
    return TalkClause((f"{word} by {p.en}", f"{word[:-1]} by {p.en}"), _STEIGEN if up else _SINKEN,
                      (f"um {p.de}",), f"{'提高' if up else '降低'}了{p.zh}", subject, "metric")


def _talk_object(rng: random.Random, nouns: tuple[str, ...], dets: tuple[str, ...],
                 adj_keys: tuple[str, ...] = (), adj_p: float = 0.5, counts: tuple[int, ...] = (2, 3)) -> NP:
    noun = _noun(_pick(rng, nouns))
    det = _pick(rng, dets)
    number = "pl" if det in ("num", "some", "all") or (det in ("def", "poss") and rng.random() < 0.2) else "sg"
    if det == "indef":
        number = "sg"
    options = tuple(_T_ADJ[k] for k in adj_keys if any(t in noun.tags for t in _T_ADJ[k].tags))
    adj = None
    if options and rng.random() < adj_p:
        adj = _pick(rng, options)
        if det == "poss" and adj.zh_attr.endswith("的"):
            adj = None
    return NP(noun, det, number, adj, _OUR if det == "poss" else None,
              _pick(rng, counts) if det == "num" else 0)


def t_contribution(rng: random.Random) -> Rendered:
    """In this paper, we propose ...: German inversion after the fronted phrase, separable
    vorschlagen / vorstellen / einführen; Chinese 用于...的 before the noun."""
    frame = _pick(rng, L.PAPER_FRAMES)
    verb = _pick(rng, L.TALK_VERBS[:3])
    nouns = tuple(n.key for n in _nouns(verb.obj_tags, talks=True))
    obj = _talk_object(rng, nouns, ("indef", "indef", "indef", "num"),
                       ("t_new", "t_simple", "t_efficient", "t_robust", "t_multilingual", "t_large", "t_public",
                        "t_fast"), adj_p=0.8)
    parts = DeParts("wir", de_present(verb, "1pl"), [], [], verb.de_prefix, front=frame.de)
    adj = obj.adj.zh_compound if obj.adj else ""
    quant = _zh_quantified(obj, obj.noun.mw, "")
    if rng.random() < 0.65 or not _has(obj.noun, ("approach", "system")):
        task = _pick(rng, L.TASKS)
        parts.middle = [f"{de_np(obj, 'acc')} für {task.de}"]
        en = f"{frame.en}, we {verb.en} {en_np(obj, 'acc')} for {task.en}"
        zh = f"{frame.zh}，我们{verb.zh}了{quant}用于{task.zh}的{adj}{obj.noun.zh}"
        return Rendered(en, parts.main(), zh)
    # "... a simple method that works well on long sentences": relative clause in the Nachfeld
    finding = _talk_clause(rng, Subject("", "", "", agreement(obj)), ("works_well",))
    rel = de_relative_pronoun(obj.de_gender, obj.number, "nom")
    parts.middle = [de_np(obj, "acc")]
    head = (obj.adj.zh_compound if obj.adj else "") + obj.noun.zh     # 高效模型, not 高效的模型 after 的
    en = f"{frame.en}, we {verb.en} {en_np(obj, 'acc')} that {finding.en().strip()}"
    de = f"{parts.main()}, {DeParts(rel, finding.de().finite, list(finding.de_middle)).final()}"
    zh = f"{frame.zh}，我们{verb.zh}了{quant}{finding.zh_vp}的{head}"
    return Rendered(en, de, zh)


_FINDING_FRAMES = (   # (English, German subject, finite verb, participle, Chinese)
    ("the results show", "die Ergebnisse", "zeigen", "", "结果表明"),
    ("our experiments show", "unsere Experimente", "zeigen", "", "我们的实验表明"),
    ("this table shows", "diese Tabelle", "zeigt", "", "这张表显示"),
    ("this figure shows", "diese Abbildung", "zeigt", "", "这张图显示"),
    ("we found", "wir", "haben", "festgestellt", "我们发现"),
    ("we observed", "wir", "haben", "beobachtet", "我们观察到"),
    ("we believe", "wir", "glauben", "", "我们认为"),
    ("I think", "ich", "glaube", "", "我认为"),
)


def t_complement_clause(rng: random.Random) -> Rendered:
    """The results show that ...: German ", dass" with the verb last; an optional fronted phrase
    takes the first position (Auf dem Testset zeigen die Ergebnisse, dass ...)."""
    en_m, de_subj, de_fin, de_part, zh_m = _pick(rng, _FINDING_FRAMES)
    finding = _metric_clause(rng) if rng.random() < 0.2 else _talk_clause(rng)
    front = None
    if rng.random() < 0.25 and finding.kind != "metric" and not en_m.startswith(("this", "I ", "we believe")):
        front = _pick(rng, _METRIC_FRONTS[:2] + _METRIC_FRONTS[5:6])
    matrix = DeParts(de_subj, de_fin, [], [de_part], front=front.de if front else "")
    en = _join([f"{front.en}," if front else "", f"{en_m} that {finding.en()}"])
    de = f"{matrix.main()}, dass {finding.de().final()}"
    zh = (f"{front.zh}，" if front else "") + f"{zh_m}，{finding.zh()}"
    extra = _and_also(rng, finding) if rng.random() < 0.3 else None
    if extra is not None:
        # "..., dass unser Modell schneller ist und weniger Speicher braucht": one subject in German
        en = f"{en} and {extra.en.split(' ', 1)[1]}"
        de = f"{de} und {_talk_clause_final_without_subject(extra.de)}"
        zh = f"{zh}，{extra.zh}"
    return Rendered(en, de, zh)


def _talk_clause_final_without_subject(main: str) -> str:
    """Verb-final form of a V2 clause "es braucht weniger Speicher" without its one-word subject."""
    words = main.split(" ")
    finite, rest = words[1], words[2:]
    return " ".join(rest + [finite])


_METRIC_FRONTS = (   # for quality metrics
    Phrase("on the test set", "auf dem Testset", "在测试集上"),
    Phrase("compared to the baseline", "im Vergleich zur Baseline", "与基线相比"),
    Phrase("on long sentences", "bei langen Sätzen", "在长句子上"),
    Phrase("for all languages", "für alle Sprachen", "在所有语言上"),
    Phrase("with the new data set", "mit dem neuen Datensatz", "使用新数据集后"),
    Phrase("in our experiments", "in unseren Experimenten", "在我们的实验中"),
    Phrase("with data augmentation", "mit Datenaugmentierung", "使用数据增强后"),
    Phrase("after fine tuning", "nach dem Feintuning", "微调之后"),
)
_COST_FRONTS = (   # for latency, memory usage, training time
    Phrase("compared to the baseline", "im Vergleich zur Baseline", "与基线相比"),
    Phrase("in our experiments", "in unseren Experimenten", "在我们的实验中"),
    Phrase("with the smaller model", "mit dem kleineren Modell", "使用更小的模型后"),
    Phrase("with the new method", "mit der neuen Methode", "使用新方法后"),
)


def t_metric_change(rng: random.Random) -> Rendered:
    """Numbers and the Perfekt with sein (ist gestiegen / gesunken) or reflexive haben
    (hat sich verbessert); percentages as digits."""
    metric = _pick(rng, L.METRICS)
    up = "up" in metric.tags
    verb = _pick(rng, ("improved", "increased") if up else ("decreased", "dropped"))
    cost = metric.key in ("latency", "memory", "training_time")
    if rng.random() < 0.45 and not cost:   # latency is not "89 percent"; only relative changes
        a = _pick(rng, tuple(range(20, 91)))
        b = a + _pick(rng, tuple(range(2, 9))) if up else a - _pick(rng, tuple(range(2, 15)))
        b = min(b, 99)
        pa, pb = percent(a), percent(b)
        en_amount, de_amount = f"from {pa.en} to {pb.en}", f"von {pa.de} auf {pb.de}"
        zh_change = f"从{pa.zh}{'提高' if up else '降低'}到了{pb.zh}"
    else:
        p = percent(_pick(rng, _PERCENT_BY))
        en_amount, de_amount = f"by {p.en}", f"um {p.de}"
        zh_change = f"{'提高' if up else ('降低' if verb == 'decreased' else '下降')}了{p.zh}"
    subject = de_np(NP(metric, "def"))
    fronts = _COST_FRONTS if metric.key in ("latency", "memory", "training_time") else _METRIC_FRONTS
    front = _pick(rng, fronts) if rng.random() < 0.75 else None
    fronted = front is not None and rng.random() < 0.6
    if verb == "improved":
        # reflexive: "hat sich ... verbessert"; sich precedes a noun subject after inversion
        if fronted:
            de = _join([front.de, "hat sich", subject, de_amount, "verbessert"])
        else:
            de = _join([subject, "hat sich", front.de if front else "", de_amount, "verbessert"])
    else:
        pp = "gestiegen" if up else "gesunken"
        if fronted:
            de = _join([front.de, "ist", subject, de_amount, pp])
        else:
            de = _join([subject, "ist", front.de if front else "", de_amount, pp])
    en_core = f"the {metric.en} {verb} {en_amount}"
    if front is None:
        en = en_core
    elif fronted:
        en = f"{front.en}, {en_core}"
    else:
        en = f"{en_core} {front.en}"
    zh = (f"{front.zh}，" if front else "") + metric.zh + zh_change
    return Rendered(en, de, zh)


def _duration(rng: random.Random) -> Phrase:
    en_sg, en_pl, de_sg, de_pl, zh_unit = _pick(rng, L.DURATION_UNITS)
    n = _pick(rng, (1, 2, 3, 4, 5, 6, 7, 8, 10, 12) + ((24, 48, 72) if en_sg == "hour" else ()))
    if n == 1:
        return Phrase(f"one {en_sg}", f"{de_sg} lang", f"一{zh_unit.removeprefix('个')}")
    return Phrase(f"{en_number(n)} {en_pl}", f"{de_number(n)} {de_pl} lang", f"{zh_number(n)}{zh_unit}")


def _gpus(rng: random.Random) -> Phrase:
    n = _pick(rng, (1, 1, 2, 4, 8, 16, 32, 64))
    if n == 1:
        return _pick(rng, (Phrase("one GPU", "einer GPU", "一块GPU"), Phrase("a single GPU", "einer einzigen GPU",
                                                                          "单块GPU")))
    return Phrase(f"{en_number(n)} GPUs", f"{de_number(n)} GPUs", f"{zh_number(n)}块GPU")


_EVAL_TARGETS = (   # (English, German, Chinese) where a system is evaluated
    lambda rng: (lambda n: Phrase(f"on {en_number(n)} data sets", f"auf {de_number(n)} Datensätzen",
                                  f"在{zh_number(n)}个数据集上"))(_pick(rng, (2, 3, 4, 5, 6))),
    lambda rng: (lambda n: Phrase(f"on {en_number(n)} languages", f"für {de_number(n)} Sprachen",
                                  f"在{zh_number(n)}种语言上"))(_pick(rng, (2, 3, 4, 5, 8, 10, 12))),
    lambda rng: Phrase("on the new test set", "auf dem neuen Testset", "在新的测试集上"),
    lambda rng: Phrase("on noisy audio", "mit verrauschten Audiodaten", "在有噪声的音频上"),
    lambda rng: Phrase("on long sentences", "mit langen Sätzen", "在长句子上"),
)


def t_past_event(rng: random.Random) -> Rendered:
    """What we did: Perfekt with haben, durations (drei Tage lang), GPUs, Chinese 进行了...的训练."""
    kind = _weighted(rng, (("train", 1.3), ("evaluate", 1.0), ("data", 1.0), ("compare", 0.8)))
    if kind == "train":
        trainee = _talk_object(rng, ("model", "system", "network", "baseline"), ("def", "poss", "all"),
                               ("t_multilingual", "t_small", "t_large"), adj_p=0.3)
        if trainee.det == "all":
            trainee = replace(trainee, adj=None)
        dur = _duration(rng)
        gpus = _gpus(rng) if rng.random() < 0.7 else None
        en = _join([f"we trained {en_np(trainee, 'acc')} for {dur.en}", f"on {gpus.en}" if gpus else ""])
        de = _join(["wir haben", de_np(trainee, "acc"), dur.de, f"auf {gpus.de}" if gpus else "", "trainiert"])
        zh = f"我们{'在' + gpus.zh + '上' if gpus else ''}对{zh_np(trainee)}进行了{dur.zh}的训练"
        return Rendered(en, de, zh)
    if kind == "evaluate":
        verb = L.verb(_pick(rng, ("evaluate", "test", "train")))
        sys = _system(rng, plural_p=0.2)
        if verb.key == "train" and not _has(sys.noun, ("trainable",)):
            sys = replace(sys, head=_noun("model"), adj=None if sys.adj and sys.adj.key == "t_proposed" else sys.adj)
        target = _pick(rng, _EVAL_TARGETS)(rng)
        if verb.key == "train" and "Sprachen" not in target.de and "Datensätzen" not in target.de:
            target = Phrase("on the new data set", "auf dem neuen Datensatz", "在新的数据集上")
        en = f"we {verb.en_past} {en_np(sys, 'acc')} {target.en}"
        de = f"wir haben {de_np(sys, 'acc')} {target.de} {verb.de_pp}"
        zh = f"我们{target.zh}{verb.zh}了{zh_np(sys)}"
        return Rendered(en, de, zh)
    if kind == "compare":
        sys = _system(rng, plural_p=0.1)
        rival = _rival(rng)
        target = _pick(rng, _EVAL_TARGETS[:3])(rng)
        if rng.random() < 0.25:
            target = Phrase("on long sentences", "bei langen Sätzen", "在长句子上")
        en = f"we compared {en_np(sys, 'acc')} with {en_np(rival, 'acc')} {target.en}"
        de = f"wir haben {de_np(sys, 'acc')} {target.de} mit {de_np(rival, 'dat')} verglichen"
        zh = f"我们{target.zh}将{zh_np(sys)}与{zh_np(rival)}进行了比较"
        return Rendered(en, de, zh)
    verb = L.verb(_pick(rng, ("collect", "annotate", "release")))
    time = _pick(rng, L.TALK_PAST_TIMES)
    if verb.key == "release" and rng.random() < 0.4:
        obj = NP(_noun("code"), _pick(rng, ("def", "poss")), possessor=_OUR)
    elif rng.random() < 0.4 and verb.key != "release":
        unit = _noun(_pick(rng, ("sentence", "recording")))
        obj = NP(unit, "num", "pl", count=_pick(rng, (200, 500, 1000, 2000, 5000)))
    else:
        obj = _talk_object(rng, ("data_set", "corpus", "benchmark"), ("indef", "indef", "num"),
                           ("t_new", "t_large", "t_multilingual", "t_public"), adj_p=0.7)
    front = rng.random() < 0.5
    en = f"{time.en} we {verb.en_past} {en_np(obj, 'acc')}" if front else \
        f"we {verb.en_past} {en_np(obj, 'acc')} {time.en}"
    de = (f"{time.de} haben wir {de_np(obj, 'acc')} {verb.de_pp}" if front else
          f"wir haben {time.de} {de_np(obj, 'acc')} {verb.de_pp}")
    zh = f"{time.zh}，我们{verb.zh}了{zh_np(obj)}" if front else f"我们{time.zh}{verb.zh}了{zh_np(obj)}"
    return Rendered(en, de, zh)


_SLIDE_NP_KINDS = ("results", "examples", "errors", "architecture", "metric", "system")


def _languages_pp(n: int) -> Phrase:
    return Phrase(f"for {en_number(n)} languages", f"für {de_number(n)} Sprachen", f"在{zh_number(n)}种语言上的")


_ON_TEST_SET = Phrase("on the test set", "auf dem Testset", "在测试集上的")
_ON_LONG = Phrase("on long sentences", "bei langen Sätzen", "在长句子上的")
_ON_NOISY = Phrase("on noisy audio", "bei verrauschten Audiodaten", "在有噪声的音频上的")
_FROM_OURS = Phrase("from our data set", "aus unserem Datensatz", "来自我们数据集的")
_FROM_TEST = Phrase("from the test set", "aus dem Testset", "来自测试集的")


def _slide_np(rng: random.Random) -> RelNP:
    """Something shown on a slide, with an optional prepositional attribute (before the noun in Chinese)."""
    kind = _pick(rng, _SLIDE_NP_KINDS)
    languages = _languages_pp(_pick(rng, (2, 3, 4, 5, 6)))
    if kind == "results":
        x = NP(_noun("result"), _pick(rng, ("def", "poss")), "pl", possessor=_OUR)
        pp = _pick(rng, (None, _ON_TEST_SET, languages, _ON_LONG))
    elif kind == "examples":
        x = NP(_noun(_pick(rng, ("example", "sentence", "recording"))), _pick(rng, ("num", "some")), "pl",
               count=_pick(rng, (2, 3, 4, 5)))
        if x.det == "num" and x.noun.key == "example" and rng.random() < 0.3:
            x = replace(x, adj=_T_ADJ["t_interesting"])
        pp = _pick(rng, (None, _FROM_OURS, _FROM_TEST))
    elif kind == "errors":
        x = NP(_noun("error"), _pick(rng, ("some", "num", "def")), "pl", count=_pick(rng, (2, 3, 4)))
        pp = _pick(rng, (None, _ON_LONG, _ON_NOISY))
    elif kind == "architecture":
        x = NP(_noun(_pick(rng, ("architecture", "encoder", "decoder"))), _pick(rng, ("poss", "def")),
               possessor=_OUR, adj=_T_ADJ["t_new"] if rng.random() < 0.4 else None)
        pp = None
    elif kind == "metric":
        x = NP(_pick(rng, L.METRICS[:5]), "def")
        pp = _pick(rng, (_ON_TEST_SET, languages, _ON_LONG))
    else:
        x = _system(rng)
        pp = None
    if pp is None:
        return RelNP(en_np(x, "acc"), de_np(x, "acc"), zh_np(x))
    if x.det == "poss":
        zh = "我们" + pp.zh + zh_np(replace(x, det="none"))       # 我们在测试集上的结果
    elif x.det in ("num", "some"):
        zh = pp.zh + zh_np(x)                                      # 来自我们数据集的三个例子
    else:
        zh = pp.zh + zh_np(replace(x, det="none"))                 # 在测试集上的准确率
    return RelNP(f"{en_np(x, 'acc')} {pp.en}", f"{de_np(x, 'acc')} {pp.de}", zh)


def t_slide_reference(rng: random.Random) -> Rendered:
    """On this slide you can see ... / As you can see in this table, ...: German inversion
    after a fronted phrase and V1 after the fronted wie-clause; Chinese 如...所示."""
    kind = _weighted(rng, (("see", 1.0), ("as_you_can_see", 1.2), ("shows", 0.8)))
    place, zh_as_shown = _pick(rng, L.SLIDE_PLACES)
    if kind == "see":
        thing = _slide_np(rng)
        here = rng.random() < 0.2
        en_place = "here" if here else place.en
        de_place = "hier" if here else de_capitalise(place.de)
        zh_place = "这里" if here else place.zh
        return Rendered(f"{en_place} you can see {thing.en}", f"{de_place} sehen Sie {thing.de}",
                        f"{zh_place}，大家可以看到{thing.zh}")
    if kind == "shows":
        thing = _slide_np(rng)
        frame = _pick(rng, (("this slide", "diese Folie", "这张幻灯片"), ("this table", "diese Tabelle", "这张表"),
                            ("this figure", "diese Abbildung", "这张图"), ("the next slide", "die nächste Folie",
                                                                            "下一张幻灯片")))
        return Rendered(f"{frame[0]} shows {thing.en}", f"{frame[1]} zeigt {thing.de}", f"{frame[2]}展示了{thing.zh}")
    finding = _metric_clause(rng) if rng.random() < 0.2 else _talk_clause(rng)
    en = f"as you can see {place.en}, {finding.en()}"
    de = f"wie Sie {place.de} sehen, {finding.de().v1()}"
    zh = f"{zh_as_shown}，{finding.zh()}"
    extra = _and_also(rng, finding) if rng.random() < 0.3 else None
    if extra is not None:
        en, de, zh = f"{en}, and {extra.en}", f"{de}, und {extra.de}", f"{zh}，{extra.zh}"
    return Rendered(en, de, zh)


_MADE_BY_US = (   # (noun keys, verb key, German participle) for "the model that we trained"
    (("model", "network", "system", "baseline"), "train"),
    (("method", "approach", "model"), "propose"),
    (("data_set", "corpus"), "collect"),
    (("data_set", "corpus", "model", "method"), "use"),
    (("model", "system", "method"), "evaluate"),
)


def t_relative_clause(rng: random.Random) -> Rendered:
    """The model that we trained ... / A model that uses more data ...: German relative
    pronoun by gender and number (das/den/die), verb last, commas; Chinese clause + 的."""
    kind = _weighted(rng, (("made_by_us", 2.0), ("generic", 0.8), ("we_need", 1.0)))
    if kind == "made_by_us":
        keys, verb_key = _pick(rng, _MADE_BY_US)
        verb = L.verb(verb_key)
        noun = _noun(_pick(rng, keys))
        x = NP(noun, "def", "pl" if rng.random() < 0.2 else "sg")
        time = _pick(rng, L.TALK_PAST_TIMES + (Phrase("in this paper", "in diesem Artikel", "在这篇论文中"),)) \
            if rng.random() < 0.5 else None
        c = Clause(pron_np(L.WE), verb, x, tense="past", time=time)
        rel = relative_np(x, c, "obj")
        # Chinese: "the model that we trained" is 我们训练的模型, without 该
        zh_head = rel.zh
        subject = Subject(rel.en, rel.de + ",", zh_head, agreement(x), x.de_gender)
        if _has(noun, ("dataset",)):
            n = _pick(rng, (200, 500, 1000, 2000, 5000))
            unit = _noun(_pick(rng, ("sentence", "recording", "word")))
            amount = NP(unit, "num", "pl", count=n)
            en_vp = ("contains" if _en_agr(subject.agr) == "3sg" else "contain") + " " + en_np(amount, "acc")
            de = f"{subject.de} {'enthält' if subject.agr == '3sg' else 'enthalten'} {de_np(amount, 'acc')}"
            if rng.random() < 0.5:
                be = "is" if subject.agr == "3sg" else "are"
                return Rendered(f"{subject.en} {be} publicly available",
                                f"{subject.de} {DE_SEIN_PRESENT[_AGR_INDEX[subject.agr]]} öffentlich verfügbar",
                                f"{subject.zh}是公开的")
            return Rendered(f"{subject.en} {en_vp}", de, f"{subject.zh}包含{zh_np(amount)}")
        finding = _talk_clause(rng, subject)
        return Rendered(finding.en(), finding.de().main(), finding.zh())
    if kind == "generic":
        noun = _noun(_pick(rng, ("model", "system", "method", "network")))
        x = NP(noun, "indef")
        cause = _pick(rng, (("uses more data", "mehr Daten verwendet", "使用更多数据的"),
                            ("has more parameters", "mehr Parameter hat", "参数更多的"),
                            ("needs more GPUs", "mehr GPUs braucht", "需要更多GPU的"),
                            ("has more layers", "mehr Schichten hat", "层数更多的"),
                            ("is larger", "größer ist", "更大的"),
                            ("was trained for longer", "länger trainiert wurde", "训练时间更长的"),
                            ("uses more languages", "mehr Sprachen verwendet", "使用更多语言的")))
        # "not always better / more accurate / faster / more efficient" (not "smaller")
        cmp = _pick(rng, tuple(c for c in L.COMPARATIVES if c.en in ("better", "more accurate", "faster",
                                                                      "more efficient", "more robust")))
        rel = de_relative_pronoun(x.de_gender, "sg", "nom")
        return Rendered(f"{en_np(x)} that {cause[0]} is not always {cmp.en}",
                        f"{de_np(x)}, {rel} {cause[1]}, ist nicht immer {cmp.de}",
                        f"{cause[2]}{noun.zh}并不总是{cmp.zh}")
    noun = _noun(_pick(rng, ("model", "system", "method", "approach", "metric", "network", "architecture")))
    adj = _T_ADJ[_pick(rng, ("t_simple", "t_new", "t_efficient", "t_robust"))] if rng.random() < 0.3 else None
    if adj is not None and not any(t in noun.tags for t in adj.tags):
        adj = None
    x = NP(noun, "indef", adj=adj)
    kinds = ("works_well",) if noun.key == "metric" else ("works_well", "needs_less", "fewer_errors")
    finding = _talk_clause(rng, Subject("", "", "", "3sg"), kinds, relative=True)
    rel = de_relative_pronoun(x.de_gender, "sg", "nom")
    de_rel = DeParts(rel, finding.de().finite, list(finding.de_middle)).final()
    who = _pick(rng, (("we need", "wir brauchen", "我们需要"), ("I think we need", "ich glaube, wir brauchen",
                                                                 "我认为我们需要"),
                      ("we want", "wir wollen", "我们想要"), ("in the future, we need", "in Zukunft brauchen wir",
                                                             "将来我们需要")))
    head = (adj.zh_compound if adj else "") + noun.zh
    return Rendered(f"{who[0]} {en_np(x, 'acc')} that {finding.en().strip()}",
                    f"{who[1]} {de_np(x, 'acc')}, {de_rel}",
                    f"{who[2]}{_zh_quantified(x, noun.mw, '')}{finding.zh_rel}{head}")


_TEST_TARGETS = (   # did you also test ... ON X?
    Phrase("on other languages", "für andere Sprachen", "在其他语言上"),
    Phrase("on noisy audio", "mit verrauschten Audiodaten", "在有噪声的音频上"),
    Phrase("on a larger data set", "auf einem größeren Datensatz", "在更大的数据集上"),
    Phrase("on spontaneous speech", "mit spontaner Sprache", "在自发语音上"),
    Phrase("on real user data", "mit echten Nutzerdaten", "在真实的用户数据上"),
)
_SHOWABLE = (   # can you explain / show ... again?
    Phrase("the last slide", "die letzte Folie", "最后一张幻灯片"),
    Phrase("the second table", "die zweite Tabelle", "第二张表"),
    Phrase("this figure", "diese Abbildung", "这张图"),
    Phrase("the architecture", "die Architektur", "架构"),
    Phrase("the results on the test set", "die Ergebnisse auf dem Testset", "测试集上的结果"),
    Phrase("the first example", "das erste Beispiel", "第一个例子"),
    Phrase("your method", "Ihre Methode", "你们的方法"),
)
_TOPICS = (   # questions about ... (zu + dative)
    ("method", "def"), ("result", "def"), ("data_set", "def"), ("experiment", "def"), ("slide", "this"),
    ("model", "poss"), ("metric", "def"), ("baseline", "def"),
)


_USED = (   # did you use ...? (English, German, Chinese)
    ("any external data", "externe Daten", "外部数据"),
    ("any pretrained models", "vortrainierte Modelle", "预训练模型"),
    ("data augmentation", "Datenaugmentierung", "数据增强"),
    ("a language model", "ein Sprachmodell", "语言模型"),
    ("the same test set", "dasselbe Testset", "同样的测试集"),
    ("the same metric", "dieselbe Metrik", "同样的指标"),
    ("any additional annotations", "zusätzliche Annotationen", "额外的标注"),
)


def t_yes_no_question(rng: random.Random) -> Rendered:
    """Questions from the audience: German V1 and formal Sie, Chinese 吗."""
    kind = _weighted(rng, (("also_work", 1.2), ("did_you_test", 1.2), ("available", 0.5), ("can_you", 0.8),
                           ("plan", 0.5), ("any_questions", 0.5), ("is_better", 1.2), ("did_you_use", 1.0)))
    if kind == "is_better":
        x = _system(rng, plural_p=0.1)
        sys = Subject.of(replace(x, possessor=L.YOU_FORMAL) if x.det == "poss" else x)
        cmp = _pick(rng, L.COMPARATIVES)
        rival = _rival(rng)
        be = "is" if sys.agr == "3sg" else "are"
        return Rendered(f"{be} {sys.en} {cmp.en} than {en_np(rival)}",
                        f"{DE_SEIN_PRESENT[_AGR_INDEX[sys.agr]]} {sys.de} {cmp.de} als {de_np(rival)}",
                        f"{sys.zh}比{zh_np(rival)}{cmp.zh}吗", question=True)
    if kind == "did_you_use":
        en, de, zh = _pick(rng, _USED)
        purpose = _pick(rng, (None, Phrase("for training", "für das Training", "在训练中"),
                              Phrase("for the baseline", "für die Baseline", "为基线"),
                              Phrase("in your experiments", "in Ihren Experimenten", "在实验中")))
        return Rendered(_join(["did you use", en, purpose.en if purpose else ""]),
                        _join(["haben Sie", purpose.de if purpose else "", de, "verwendet"]),
                        f"你们{purpose.zh if purpose else ''}使用了{zh}吗", question=True)
    if kind == "also_work":
        x = _system(rng, plural_p=0.1)
        sys = Subject.of(replace(x, possessor=L.YOU_FORMAL) if x.det == "poss" else x)
        ch = _pick(rng, L.CHALLENGES_FOR)
        aux = "does" if _en_agr(sys.agr) == "3sg" else "do"
        finite = de_present(_FUNKTIONIEREN, sys.agr)
        return Rendered(f"{aux} {sys.en} also work for {ch.en}", f"{finite} {sys.de} auch {ch.de}",
                        f"{sys.zh}也适用于{ch.zh}吗", question=True)
    if kind == "did_you_test":
        verb = L.verb(_pick(rng, ("test", "evaluate", "train")))
        things = ("model", "system", "baseline", "network") if verb.key == "train" else \
            ("model", "method", "approach", "system", "baseline")
        thing = NP(_noun(_pick(rng, things)),
                   _pick(rng, ("poss", "poss", "def")), possessor=L.YOU_FORMAL)
        target = _pick(rng, _TEST_TARGETS)
        zh_thing = zh_np(thing) if thing.det == "poss" else zh_np(replace(thing, det="this"))
        return Rendered(f"did you also {verb.en} {en_np(thing, 'acc')} {target.en}",
                        f"haben Sie {de_np(thing, 'acc')} auch {target.de} {verb.de_pp}",
                        f"你们也{target.zh}{verb.zh}过{zh_thing}吗", question=True)
    if kind == "available":
        thing = NP(_noun(_pick(rng, ("data_set", "code", "model", "corpus", "benchmark"))), "def")
        thing = replace(thing, det=_pick(rng, ("def", "poss")), possessor=L.YOU_FORMAL)
        if thing.det == "poss":
            zh_thing = zh_np(thing)
        else:
            zh_thing = zh_np(replace(thing, det="this")) if thing.noun.has_singular and not thing.noun.mass \
                else thing.noun.zh
        return Rendered(f"is {en_np(thing)} publicly available", f"ist {de_np(thing)} öffentlich verfügbar",
                        f"{zh_thing}是公开的吗", question=True)
    if kind == "can_you":
        verb = _pick(rng, (("explain", "erklären", "解释"), ("show", "zeigen", "展示")))
        thing = _pick(rng, _SHOWABLE)
        again = rng.random() < 0.6
        return Rendered(f"can you {verb[0]} {thing.en}{' again' if again else ''}",
                        f"können Sie {thing.de}{' noch einmal' if again else ''} {verb[1]}",
                        f"您能{'再' if again else ''}{verb[2]}一下{thing.zh}吗", question=True)
    if kind == "plan":
        thing = NP(_noun(_pick(rng, ("code", "data_set", "model", "corpus"))), _pick(rng, ("def", "poss")),
                   possessor=L.YOU_FORMAL)
        verb = _pick(rng, (("release", "zu veröffentlichen", "发布"), ("extend", "zu erweitern", "扩展")))
        if verb[0] == "extend" and thing.noun.key in ("code",):
            verb = ("release", "zu veröffentlichen", "发布")
        zh_thing = zh_np(thing) if thing.det == "poss" else thing.noun.zh
        return Rendered(f"do you plan to {verb[0]} {en_np(thing, 'acc')}",
                        f"planen Sie, {de_np(thing, 'acc')} {verb[1]}", f"你们打算{verb[2]}{zh_thing}吗",
                        question=True)
    key, det = _pick(rng, _TOPICS)
    noun = _noun(key)
    x = NP(noun, det, "pl" if key in ("result", "experiment") else "sg", possessor=L.YOU_FORMAL)
    zh_x = zh_np(x) if det != "def" else noun.zh
    return Rendered(f"are there any questions about {en_np(x, 'acc')}", f"gibt es Fragen {de_pp('zu', x, 'dat')}",
                    f"关于{zh_x}，大家有什么问题吗", question=True)


_WHICH_THINGS = ("metric", "data_set", "baseline", "architecture", "encoder", "test_set")


def t_wh_question(rng: random.Random) -> Rendered:
    """Questions from the audience: how many, why, which, where, how large, difference between."""
    kind = _weighted(rng, (("how_many_used", 1.0), ("how_many_has", 0.6), ("why_choose", 0.8), ("which", 0.8),
                           ("how_large", 0.4), ("where_find", 0.5), ("difference", 1.2), ("how_long", 0.5),
                           ("why_better", 1.2), ("what_happens", 1.2), ("how_collect", 0.6)))
    if kind == "why_better":
        x = _system(rng, plural_p=0.1)
        sys = Subject.of(replace(x, possessor=L.YOU_FORMAL) if x.det == "poss" else x)
        ch = _pick(rng, L.CHALLENGES)
        if rng.random() < 0.5:
            aux = "does" if sys.agr == "3sg" else "do"
            return Rendered(f"why {aux} {sys.en} work better on {ch.en}",
                            f"warum {de_present(_FUNKTIONIEREN, sys.agr)} {sys.de} {ch.de} besser",
                            f"为什么{sys.zh}在{ch.zh}上效果更好", question=True)
        aux = "does" if sys.agr == "3sg" else "do"
        return Rendered(f"why {aux} {sys.en} make fewer errors on {ch.en}",
                        f"warum {de_present(_MACHEN, sys.agr)} {sys.de} {ch.de} weniger Fehler",
                        f"为什么{sys.zh}在{ch.zh}上犯的错误更少", question=True)
    if kind == "what_happens":
        cond = _pick(rng, L.CONDITIONS + L.COST_CONDITIONS)
        verb = de_present(cond.de_verb, "formal") if not cond.de_verb.de_prefix else cond.de_verb.de
        front = _pick(rng, (None, Phrase("on long sentences", "bei langen Sätzen", "在长句子上"),
                            Phrase("on the test set", "auf dem Testset", "在测试集上")))
        if cond in L.COST_CONDITIONS:
            front = None
        if front is None:
            return Rendered(f"what happens if you {cond.en}", f"was passiert, wenn Sie {cond.de_middle} {verb}",
                            f"如果你们{cond.zh}，会发生什么", question=True)
        return Rendered(f"what happens {front.en} if you {cond.en}",
                        f"was passiert {front.de}, wenn Sie {cond.de_middle} {verb}",
                        f"如果你们{cond.zh}，{front.zh}会发生什么", question=True)
    if kind == "how_collect":
        verb = _pick(rng, (("collect", "gesammelt", "收集"), ("annotate", "annotiert", "标注"),
                           ("clean", "bereinigt", "清洗")))
        thing = _pick(rng, (Phrase("the data", "die Daten", "数据"), Phrase("the recordings", "die Aufnahmen", "录音"),
                            Phrase("the sentences", "die Sätze", "句子"), Phrase("the test set", "das Testset",
                                                                             "测试集"),
                            Phrase("the training data", "die Trainingsdaten", "训练数据")))
        return Rendered(f"how did you {verb[0]} {thing.en}", f"wie haben Sie {thing.de} {verb[1]}",
                        f"你们是怎么{verb[2]}{thing.zh}的", question=True)
    if kind == "how_many_used":
        noun = _noun(_pick(rng, ("gpu", "annotator", "speaker", "language", "sentence", "layer", "example",
                                 "recording")))
        verb = _pick(rng, (("use", "verwendet", "使用了"), ("collect", "gesammelt", "收集了"))) \
            if noun.key in ("sentence", "recording", "example") else ("use", "verwendet", "使用了")
        x = NP(noun, "how_many", "pl")
        for_ = rng.random() < 0.4
        en = _join([f"how many {noun.en_pl} did you {verb[0]}", "for training" if for_ else ""])
        de = _join([f"wie viele {noun.de_pl} haben Sie", "für das Training" if for_ else "", verb[1]])
        zh = f"你们{'在训练中' if for_ else ''}{verb[2]}多少{noun.mw}{noun.zh}"
        return Rendered(en, de, zh, question=True)
    if kind == "how_many_has":
        sys = _system(rng, plural_p=0.0)
        noun = _noun(_pick(rng, ("layer", "parameter")))
        what = "Schichten" if noun.key == "layer" else "Parameter"
        subj = _pick(rng, ("model", "encoder", "decoder", "network"))
        x = NP(_noun(subj), _pick(rng, ("def", "poss")), possessor=L.YOU_FORMAL)
        return Rendered(f"how many {noun.en_pl} does {en_np(x)} have", f"wie viele {what} hat {de_np(x)}",
                        f"{zh_np(x) if x.det == 'poss' else x.noun.zh}有多少{noun.mw}{noun.zh}", question=True)
    if kind == "why_choose":
        noun = _noun(_pick(rng, ("data_set", "metric", "baseline", "architecture", "test_set", "benchmark")))
        x = NP(noun, "this")
        verb = _pick(rng, (("choose", "gewählt", "选择"), ("use", "verwendet", "使用")))
        return Rendered(f"why did you {verb[0]} {en_np(x, 'acc')}", f"warum haben Sie {de_np(x, 'acc')} {verb[1]}",
                        f"你们为什么{verb[2]}{zh_np(x)}", question=True)
    if kind == "which":
        noun = _noun(_pick(rng, _WHICH_THINGS))
        x = NP(noun, "which")
        for_what = _pick(rng, (None, Phrase("for training", "für das Training", "在训练中"),
                               Phrase("for the evaluation", "für die Evaluation", "在评估中")))
        en = _join([f"which {noun.en} did you use", for_what.en if for_what else ""])
        de = _join([f"{de_np(x, 'acc')} haben Sie", for_what.de if for_what else "", "verwendet"])
        zh = f"你们{for_what.zh if for_what else ''}使用了{zh_np(x)}"
        return Rendered(en, de, zh, question=True)
    if kind == "how_large":
        x = NP(_noun(_pick(rng, ("data_set", "test_set", "model", "corpus"))), _pick(rng, ("def", "poss")),
               possessor=L.YOU_FORMAL, adj=_T_ADJ["t_new"] if rng.random() < 0.4 else None)
        zh_x = zh_np(x).removeprefix("该")
        return Rendered(f"how large is {en_np(x)}", f"wie groß ist {de_np(x)}", f"{zh_x}有多大", question=True)
    if kind == "where_find":
        x = NP(_noun(_pick(rng, ("code", "data_set", "slide", "model", "corpus"))),
               _pick(rng, ("def", "poss")), possessor=L.YOU_FORMAL)
        if x.noun.key == "slide":
            x = replace(x, number="pl")
        zh_x = zh_np(x) if x.det == "poss" else x.noun.zh
        return Rendered(f"where can I find {en_np(x, 'acc')}", f"wo kann ich {de_np(x, 'acc')} finden",
                        f"我在哪里可以找到{zh_x}", question=True)
    if kind == "difference":
        a = _system(rng, plural_p=0.0)
        b = _rival(rng)
        if a.det == "poss":
            a = replace(a, possessor=L.YOU_FORMAL)
        return Rendered(f"what is the difference between {en_np(a, 'acc')} and {en_np(b, 'acc')}",
                        f"was ist der Unterschied zwischen {de_np(a, 'dat')} und {de_np(b, 'dat')}",
                        f"{zh_np(a)}和{zh_np(b)}有什么区别", question=True)
    x = NP(_noun(_pick(rng, ("model", "network", "system", "baseline"))), _pick(rng, ("def", "poss")),
           possessor=L.YOU_FORMAL)
    zh_x = zh_np(x)
    return Rendered(f"how long did you train {en_np(x, 'acc')}", f"wie lange haben Sie {de_np(x, 'acc')} trainiert",
                    f"你们把{zh_x}训练了多长时间", question=True)


_UNUSED = (   # "we did not use any ...": (English, German kein-phrase, Chinese)
    ("any external data", "keine externen Daten", "任何外部数据"),
    ("any pretrained models", "keine vortrainierten Modelle", "任何预训练模型"),
    ("any additional annotations", "keine zusätzlichen Annotationen", "任何额外的标注"),
    ("any data augmentation", "keine Datenaugmentierung", "任何数据增强"),
    ("a language model", "kein Sprachmodell", "语言模型"),
    ("a pretrained encoder", "keinen vortrainierten Encoder", "预训练的编码器"),
    ("any labeled data", "keine annotierten Daten", "任何标注数据"),
)
_NOT_NEEDED = (   # "our method does not need any ..."
    ("any labeled data", "keine annotierten Daten", "任何标注数据"),
    ("any training data", "keine Trainingsdaten", "任何训练数据"),
    ("a GPU", "keine GPU", "GPU"),
    ("any parallel data", "keine parallelen Daten", "任何平行数据"),
    ("a language model", "kein Sprachmodell", "语言模型"),
)


def t_negation(rng: random.Random) -> Rendered:
    """German kein (keine externen Daten, kein Sprachmodell) and nicht; Chinese 没有 / 不 / 并不."""
    kind = _weighted(rng, (("did_not_use", 1.0), ("not_well", 1.0), ("not_better", 1.0), ("not_trained", 0.8),
                           ("not_need", 0.8)))
    if kind == "did_not_use":
        en, de, zh = _pick(rng, _UNUSED)
        when = _pick(rng, (None, Phrase("for training", "für das Training", "在训练中"),
                           Phrase("in our experiments", "in unseren Experimenten", "在我们的实验中"),
                           Phrase("for the baseline", "für die Baseline", "为基线"),
                           Phrase("in this paper", "in diesem Artikel", "在这篇论文中"),
                           Phrase("for the final model", "für das endgültige Modell", "为最终模型")))
        return Rendered(_join(["we did not use", en, when.en if when else ""]),
                        _join(["wir haben", when.de if when else "", de, "verwendet"]),
                        f"我们{when.zh if when else ''}没有使用{zh}")
    if kind == "not_need":
        en, de, zh = _pick(rng, _NOT_NEEDED)
        sys = Subject.of(_system(rng, plural_p=0.1))
        aux = "does" if _en_agr(sys.agr) == "3sg" else "do"
        return Rendered(f"{sys.en} {aux} not need {en}", f"{sys.de} {de_present(_BRAUCHEN, sys.agr)} {de}",
                        f"{sys.zh}不需要{zh}")
    if kind == "not_well":
        finding = _talk_clause(rng, kinds=("works_well",), neg=True)
        return Rendered(finding.en(), finding.de().main(), finding.zh())
    if kind == "not_better":
        finding = _talk_clause(rng, kinds=("compare",), neg=True)
        return Rendered(finding.en(), finding.de().main(), finding.zh())
    verb = L.verb(_pick(rng, ("train", "evaluate", "test")))
    sys = _system(rng, plural_p=0.1)
    target = _pick(rng, _EVAL_TARGETS)(rng)
    return Rendered(f"we did not {verb.en} {en_np(sys, 'acc')} {target.en}",
                    f"wir haben {de_np(sys, 'acc')} nicht {target.de} {verb.de_pp}",
                    f"我们没有{target.zh}{verb.zh}{zh_np(sys)}")


_REASONS = (   # why we use something: (English after "it is", German predicate, Chinese, fitting nouns)
    ("publicly available", "öffentlich verfügbar", "是公开的", ("data_set", "corpus", "benchmark", "model")),
    ("very large", "sehr groß", "非常大", ("data_set", "corpus")),
    ("simple", "einfach", "很简单", ("metric", "approach", "baseline", "architecture")),
    ("very fast", "sehr schnell", "非常快", ("model", "approach", "metric", "architecture")),
    ("widely used", "weit verbreitet", "被广泛使用", ("metric", "data_set", "baseline", "benchmark", "architecture")),
    ("very strong", "sehr stark", "很强", ("baseline",)),
    ("more robust", "robuster", "更鲁棒", ("approach", "model", "architecture")),
)
_IT = {"m": "er", "f": "sie", "n": "es"}


def t_adverbial_clause(rng: random.Random) -> Rendered:
    """if / because / although in talks: German verb-final subordinate clause, V1 main clause
    after it, pronoun er/sie/es by the antecedent's gender; Chinese 如果...就, 因为, 虽然...但."""
    kind = _weighted(rng, (("if", 1.2), ("because", 1.0), ("although", 1.0)))
    if kind == "if":
        if rng.random() < 0.3:
            cond = _pick(rng, L.COST_CONDITIONS)
            # more GPUs or fewer epochs shorten the training, a smaller model also saves latency and memory
            costs = ("training_time",) if cond.en.startswith(("use more GPUs", "train")) else \
                ("latency", "memory", "training_time")
            metric = _pick(rng, tuple(m for m in L.METRICS if m.key in costs))
        else:
            cond = _pick(rng, L.CONDITIONS)
            metric = _pick(rng, L.METRICS[:5])
        up = "up" in metric.tags
        amount = percent(_pick(rng, (2, 3, 5, 10, 15, 20, 30))) if rng.random() < 0.5 else None
        en_verb = ("increases" if up else "decreases") + (f" by about {amount.en}" if amount else "")
        main = DeParts(de_np(NP(metric, "def")), "steigt" if up else "sinkt",
                       [f"um etwa {amount.de}"] if amount else [])
        we = _pick(rng, (("we", "wir", "我们"), ("you", "Sie", "你们")))
        agr = "1pl" if we[0] == "we" else "formal"
        de_cond = _join(["wenn", we[1], cond.de_middle, de_present(cond.de_verb, agr)
                         if not cond.de_verb.de_prefix else cond.de_verb.de])
        zh_change = ("提高" if up else "降低") + (f"大约{amount.zh}" if amount else "")
        return Rendered(f"if {we[0]} {cond.en}, the {metric.en} {en_verb}", f"{de_cond}, {main.v1()}",
                        f"如果{we[2]}{cond.zh}，{metric.zh}就会{zh_change}")
    if kind == "because":
        en_r, de_r, zh_r, keys = _pick(rng, _REASONS)
        noun = _noun(_pick(rng, keys))
        x = NP(noun, "this")
        it = _IT[noun.gender]
        who = _pick(rng, (("we", "wir", "我们", "verwenden", "haben"), ("I", "ich", "我", "verwende", "habe")))
        purpose = _pick(rng, (None, None, Phrase("for training", "für das Training", "在训练中"),
                              Phrase("for the evaluation", "für die Evaluation", "在评估中"),
                              Phrase("in all experiments", "in allen Experimenten", "在所有实验中")))
        pp_en = f" {purpose.en}" if purpose else ""
        pp_de = f" {purpose.de}" if purpose else ""
        pp_zh = purpose.zh if purpose else ""
        if rng.random() < 0.5:
            en = f"{who[0]} use {en_np(x, 'acc')}{pp_en} because it is {en_r}"
            de = f"{who[1]} {who[3]} {de_np(x, 'acc')}{pp_de}, weil {it} {de_r} ist"
            zh = f"{who[2]}{pp_zh}使用{zh_np(x)}，因为它{zh_r}"
        else:
            en = f"{who[0]} chose {en_np(x, 'acc')}{pp_en} because it is {en_r}"
            de = f"{who[1]} {who[4]} {de_np(x, 'acc')}{pp_de} gewählt, weil {it} {de_r} ist"
            zh = f"{who[2]}{pp_zh}选择了{zh_np(x)}，因为它{zh_r}"
        return Rendered(en, de, zh)
    x = _system(rng, plural_p=0.0)
    if x.adj is not None and x.adj.key in ("t_small", "t_simple"):
        x = replace(x, adj=None)
    options = (("simple", "einfach", "很简单"), ("very simple", "sehr einfach", "非常简单"))
    if _has(x.noun, ("system",)):   # models are small, approaches are simple
        options += (("small", "klein", "很小"), ("very small", "sehr klein", "非常小"))
    adj_en, adj_de, adj_zh = _pick(rng, options)
    finding = _talk_clause(rng, Subject("it", _IT[x.de_gender], "它", "3sg"), ("outperform", "works_well"))
    subj = Subject.of(x)
    return Rendered(f"although {subj.en} is {adj_en}, {finding.en()}",
                    f"obwohl {subj.de} {adj_de} ist, {finding.de().v1()}",
                    f"虽然{subj.zh}{adj_zh}，但{finding.zh()}")


def t_quantity(rng: random.Random) -> Rendered:
    """Large numbers as digits (500 Sätze / 500个句子), millions as 万/亿, layers as 层."""
    kind = _weighted(rng, (("contains", 1.4), ("parameters", 0.8), ("layers", 0.7), ("there_are", 1.0)))
    if kind == "contains":
        holder = NP(_noun(_pick(rng, ("data_set", "corpus", "test_set", "benchmark"))), _pick(rng, ("poss", "def",
                                                                                                    "this")),
                    possessor=_OUR, adj=_T_ADJ["t_new"] if rng.random() < 0.3 else None)
        if holder.noun.key == "test_set" and holder.adj is not None:
            holder = replace(holder, adj=None)
        unit, counts = _pick(rng, (("sentence", (500, 1000, 2000, 5000, 200, 300)),
                                   ("recording", (100, 200, 500, 1000)), ("word", (1000, 2000, 5000)),
                                   ("language", (2, 3, 4, 5, 8, 10, 12, 20, 40)),
                                   ("example", (200, 500, 1000)), ("hour", (10, 20, 50, 100, 200, 500))))
        n = _pick(rng, counts)
        if unit == "hour":
            amount = Phrase(f"{en_number(n)} hours of speech", f"{de_number(n)} Stunden Sprachaufnahmen",
                            f"{zh_number(n)}小时的语音")
        else:
            x = NP(_noun(unit), "num", "pl", count=n)
            amount = Phrase(en_np(x, "acc"), de_np(x, "acc"), zh_np(x))
        subj = Subject.of(holder)
        return Rendered(f"{subj.en} contains {amount.en}", f"{subj.de} enthält {amount.de}",
                        f"{subj.zh}包含{amount.zh}")
    if kind == "parameters":
        x = _system(rng, plural_p=0.0)
        if x.noun.key not in ("model", "network", "system"):
            x = replace(x, head=_noun("model"), adj=None)
        en_n, de_n, zh_n = _pick(rng, L.MILLIONS)
        subj = Subject.of(x)
        return Rendered(f"{subj.en} has {en_n} parameters", f"{subj.de} hat {de_n} Parameter",
                        f"{subj.zh}有{zh_n}个参数")
    if kind == "layers":
        part = NP(_noun(_pick(rng, ("encoder", "decoder", "model", "network"))), _pick(rng, ("poss", "def")),
                  possessor=_OUR)
        n = _pick(rng, (2, 3, 4, 6, 8, 10, 12, 24, 32))
        layers = NP(_noun("layer"), "num", "pl", count=n)
        subj = Subject.of(part)
        return Rendered(f"{subj.en} has {en_np(layers, 'acc')}", f"{subj.de} hat {de_np(layers, 'acc')}",
                        f"{subj.zh}有{zh_np(layers)}")
    where = NP(_noun(_pick(rng, ("data_set", "test_set", "corpus"))), _pick(rng, ("poss", "def", "this")),
               possessor=_OUR)
    unit, counts = _pick(rng, (("speaker", (10, 20, 40, 50, 100)), ("language", (3, 4, 5, 8, 10, 12)),
                               ("sentence", (500, 1000, 2000)), ("error", (20, 50, 100))))
    x = NP(_noun(unit), "num", "pl", count=_pick(rng, counts))
    zh_where = zh_np(where).removeprefix("该")
    return Rendered(f"there are {en_np(x, 'acc')} in {en_np(where)}",
                    f"{de_pp('in', where, 'dat')} gibt es {de_np(x, 'acc')}",
                    f"{zh_where}中有{zh_np(x)}")


_TALK_TOPICS = (   # things to talk about: (English, German accusative, Chinese)
    Phrase("the related work", "die verwandten Arbeiten", "相关工作"),
    Phrase("the limitations of our approach", "die Grenzen unseres Ansatzes", "我们方法的局限性"),
    Phrase("future work", "zukünftige Arbeiten", "未来的工作"),
    Phrase("the data", "die Daten", "数据"),
    Phrase("the evaluation", "die Evaluation", "评估"),
    Phrase("the experimental setup", "den Versuchsaufbau", "实验设置"),
)
_EXPLAINABLE = (   # things to explain
    Phrase("the experimental setup", "den Versuchsaufbau", "实验设置"),
    Phrase("the training procedure", "das Trainingsverfahren", "训练过程"),
    Phrase("the evaluation", "die Evaluation", "评估"),
    Phrase("our method", "unsere Methode", "我们的方法"),
    Phrase("the main idea", "die Grundidee", "基本思路"),
)


def t_sequence(rng: random.Random) -> Rendered:
    """Talk structure: First / Next / Finally, ...: German inversion (Als Nächstes zeige ich Ihnen),
    reflexive separable "sich ansehen", mit + dative, über + accusative."""
    seq = _pick(rng, L.SEQUENCERS)
    kind = _weighted(rng, (("show", 1.0), ("compare", 1.0), ("look", 1.0), ("talk", 1.0), ("explain", 0.8)))
    if kind == "show":
        thing = _slide_np(rng)
        speaker = _pick(rng, (("I", "zeige ich", "我"), ("we", "zeigen wir", "我们")))
        return Rendered(f"{seq.en}, {speaker[0]} will show you {thing.en}", f"{seq.de} {speaker[1]} Ihnen {thing.de}",
                        f"{seq.zh}，{speaker[2]}给大家展示{thing.zh}")
    if kind == "compare":
        sys = _system(rng, plural_p=0.1)
        rival = _rival(rng)
        target = _pick(rng, (None,) + tuple(_EVAL_TARGETS[:3]))
        t = target(rng) if target else None
        en = f"{seq.en}, we compare {en_np(sys, 'acc')} with {en_np(rival, 'acc')}"
        return Rendered(_join([en, t.en if t else ""]),
                        _join([f"{seq.de} vergleichen wir {de_np(sys, 'acc')}", t.de if t else "",
                               f"mit {de_np(rival, 'dat')}"]),
                        f"{seq.zh}，我们{t.zh if t else ''}将{zh_np(sys)}与{zh_np(rival)}进行比较")
    if kind == "look":
        thing = _slide_np(rng) if rng.random() < 0.6 else _topic(rng)
        return Rendered(f"{seq.en}, let us look at {thing.en}", f"{seq.de} sehen wir uns {thing.de} an",
                        f"{seq.zh}，我们来看一下{thing.zh}")
    topic = _topic(rng) if kind == "talk" else _topic(rng, _EXPLAINABLE)
    if kind == "talk":
        speaker = _pick(rng, (("I", "spreche ich", "我"), ("we", "sprechen wir", "我们")))
        return Rendered(f"{seq.en}, {speaker[0]} will talk about {topic.en}", f"{seq.de} {speaker[1]} über {topic.de}",
                        f"{seq.zh}，{speaker[2]}来谈谈{topic.zh}")
    speaker = _pick(rng, (("I", "erkläre ich", "我"), ("we", "erklären wir", "我们")))
    return Rendered(f"{seq.en}, {speaker[0]} will explain {topic.en}", f"{seq.de} {speaker[1]} {topic.de}",
                    f"{seq.zh}，{speaker[2]}来解释一下{topic.zh}")


def _topic(rng: random.Random, topics: tuple[Phrase, ...] = _TALK_TOPICS) -> RelNP:
    if rng.random() < 0.5:
        t = _pick(rng, topics)
        return RelNP(t.en, t.de, t.zh)
    x = _system(rng, plural_p=0.0)
    if rng.random() < 0.5:
        x = NP(_noun(_pick(rng, ("data_set", "architecture", "baseline", "metric", "corpus"))),
               _pick(rng, ("poss", "def")), possessor=_OUR)
    return RelNP(en_np(x, "acc"), de_np(x, "acc"), zh_np(x))
# ---------------------------------------------------------------------------
# Pattern tables and sampling
# ---------------------------------------------------------------------------

Pattern = Callable[[random.Random], Rendered]

# (pattern name, generator, weight); a pattern name may appear in both domains with
# domain vocabulary (relative_clause: "the cake that ..." / "the model that ...").
GENERAL_PATTERNS: tuple[tuple[str, Pattern, float], ...] = (
    ("present_simple", g_present_simple, 1.3),
    ("present_progressive", g_present_progressive, 1.0),
    ("past_event", g_past_event, 1.3),
    ("motion", g_motion_past, 0.8),
    ("copula", g_copula, 1.0),
    ("existential", g_existential, 0.65),
    ("negation", g_negation, 1.1),
    ("complement_clause", g_complement_clause, 0.9),
    ("adverbial_clause", g_adverbial_clause, 0.9),
    ("relative_clause", g_relative_clause, 1.0),
    ("yes_no_question", g_yes_no_question, 0.9),
    ("wh_question", g_wh_question, 1.0),
    ("coordination", g_coordination, 0.9),
    ("modal", g_modal, 0.8),
    ("prepositional", g_prepositional, 0.9),
    ("routine", g_routine, 0.55),
)


def _finish(r: Rendered, domain: str, pattern: str) -> Sentence:
    end_en = "?" if r.question else "."
    end_zh = "？" if r.question else "。"
    en = " ".join(r.en.split())
    de = " ".join(r.de.split())
    return Sentence(en[:1].upper() + en[1:] + end_en, de_capitalise(de) + end_en, r.zh + end_zh, domain, pattern)


def sample_pattern(rng: random.Random, domain: str, pattern: str) -> Sentence:
    """One sentence of a given pattern (for tests and inspection)."""
    fn = dict((name, f) for name, f, _ in _PATTERN_TABLES[domain])[pattern]
    while True:
        sentence = _finish(fn(rng), domain, pattern)
        if MIN_WORDS <= len(sentence.en.split()) <= MAX_WORDS:
            return sentence


def sample_sentence(rng: random.Random, domain: str) -> Sentence:
    """A random sentence of `domain`; depends only on the state of `rng`."""
    table = _PATTERN_TABLES[domain]
    while True:
        name, fn, _ = _weighted(rng, tuple(((row, row[2]) for row in table)))
        sentence = _finish(fn(rng), domain, name)
        # Length bounds by rejection: a few short clauses ("Tom is crying.") are redrawn.
        if MIN_WORDS <= len(sentence.en.split()) <= MAX_WORDS:
            return sentence


TALKS_PATTERNS: tuple[tuple[str, Pattern, float], ...] = (
    ("contribution", t_contribution, 1.0),
    ("complement_clause", t_complement_clause, 1.1),
    ("metric_change", t_metric_change, 1.0),
    ("past_event", t_past_event, 1.1),
    ("slide_reference", t_slide_reference, 1.1),
    ("relative_clause", t_relative_clause, 1.0),
    ("yes_no_question", t_yes_no_question, 0.9),
    ("wh_question", t_wh_question, 0.9),
    ("negation", t_negation, 0.9),
    ("adverbial_clause", t_adverbial_clause, 1.0),
    ("quantity", t_quantity, 0.8),
    ("sequence", t_sequence, 1.0),
)
_PATTERN_TABLES = {"general": GENERAL_PATTERNS, "talks": TALKS_PATTERNS}
PATTERNS: tuple[str, ...] = tuple(dict.fromkeys(name for table in (GENERAL_PATTERNS, TALKS_PATTERNS)
                                                for name, _, _ in table))


# ---------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9']+")
_VOCABULARY_PATIENCE = 2000   # samples without a new word before a pattern counts as exhausted


def english_words(text: str) -> list[str]:
    """Lower-cased word types of an English sentence, without numbers written as digits."""
    return [w for w in _WORD.findall(text.lower()) if not w.isdigit()]


@lru_cache(maxsize=None)
def _domain_vocabulary(domain: str) -> frozenset[str]:
    # The grammar's slots are too entangled to enumerate by hand without drifting from the
    # generators, so each pattern is sampled with its own fixed seed until a long run of
    # sentences brings no new word (about 50,000 sentences in all). Tests check independent
    # samples against the result.
    words: set[str] = set()
    for name, _, _ in _PATTERN_TABLES[domain]:
        rng = random.Random(f"vocabulary:{domain}:{name}")
        quiet = 0
        while quiet < _VOCABULARY_PATIENCE:
            new = set(english_words(sample_pattern(rng, domain, name).en)) - words
            if new:
                words |= new
                quiet = 0
            else:
                quiet += 1
    return frozenset(words)


def english_vocabulary(domain: str | None = None) -> frozenset[str]:
    """Lower-cased English word types the grammar can emit in `domain` (None: both domains).

    Numbers written as digits (13 and above, percentages: "42 percent") are not word types;
    one to twelve are spelled out and count as words.
    """
    if domain is None:
        return _domain_vocabulary("general") | _domain_vocabulary("talks")
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; expected one of {DOMAINS}")
    return _domain_vocabulary(domain)
