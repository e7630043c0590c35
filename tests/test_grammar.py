"""Tests of the mini-world grammar: German agreement, Chinese measure words and word order,
English morphology, and the corpus-level properties the mini track relies on (determinism
across processes, vocabulary, pattern coverage, lengths, punctuation, variety, speed).

Expected strings are written by hand, not derived from the code under test.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testsets.miniworld import grammar as G
from testsets.miniworld import lexicon as L
from testsets.miniworld.grammar import NP, Clause, Loc, PP

ROOT = Path(__file__).resolve().parents[1]
N = L.noun
A = {a.key: a for a in L.GENERAL_ADJECTIVES}
V = L.verb


def name(text: str) -> NP:
    return G.name_np(next(n for n in L.NAMES if n.en == text))


def pron(p: L.Pronoun) -> NP:
    return G.pron_np(p)


@pytest.fixture(scope="module")
def general_sample() -> list[G.Sentence]:
    rng = random.Random(11)
    return [G.sample_sentence(rng, "general") for _ in range(15_000)]


@pytest.fixture(scope="module")
def talks_sample() -> list[G.Sentence]:
    rng = random.Random(12)
    return [G.sample_sentence(rng, "talks") for _ in range(6_000)]


# ---------------------------------------------------------------------------
# German agreement
# ---------------------------------------------------------------------------

GERMAN_NP_CASES = [
    # (noun, det, adjective, case, number, possessor, count, expected)
    ("dog", "def", "big", "nom", "sg", None, 0, "der große Hund"),
    ("dog", "def", "big", "acc", "sg", None, 0, "den großen Hund"),
    ("dog", "def", "big", "dat", "sg", None, 0, "dem großen Hund"),
    ("cat", "def", "small", "nom", "sg", None, 0, "die kleine Katze"),
    ("cat", "def", "small", "acc", "sg", None, 0, "die kleine Katze"),
    ("cat", "def", "small", "dat", "sg", None, 0, "der kleinen Katze"),
    ("book", "def", "new", "nom", "sg", None, 0, "das neue Buch"),
    ("book", "def", "new", "acc", "sg", None, 0, "das neue Buch"),
    ("book", "def", "new", "dat", "sg", None, 0, "dem neuen Buch"),
    ("dog", "def", "big", "nom", "pl", None, 0, "die großen Hunde"),
    ("dog", "def", "big", "dat", "pl", None, 0, "den großen Hunden"),
    ("dog", "indef", "big", "nom", "sg", None, 0, "ein großer Hund"),
    ("dog", "indef", "big", "acc", "sg", None, 0, "einen großen Hund"),
    ("dog", "indef", "big", "dat", "sg", None, 0, "einem großen Hund"),
    ("cat", "indef", "small", "nom", "sg", None, 0, "eine kleine Katze"),
    ("cat", "indef", "small", "dat", "sg", None, 0, "einer kleinen Katze"),
    ("book", "indef", "new", "nom", "sg", None, 0, "ein neues Buch"),
    ("book", "indef", "new", "acc", "sg", None, 0, "ein neues Buch"),
    ("book", "indef", "new", "dat", "sg", None, 0, "einem neuen Buch"),
    ("dog", "neg", "big", "nom", "sg", None, 0, "kein großer Hund"),
    ("dog", "neg", "big", "acc", "sg", None, 0, "keinen großen Hund"),
    ("cat", "neg", "small", "dat", "sg", None, 0, "keiner kleinen Katze"),
    ("book", "neg", "new", "acc", "sg", None, 0, "kein neues Buch"),
    ("dog", "neg", "big", "acc", "pl", None, 0, "keine großen Hunde"),
    ("dog", "neg", "big", "dat", "pl", None, 0, "keinen großen Hunden"),
    ("dog", "none", "big", "nom", "pl", None, 0, "große Hunde"),
    ("dog", "none", "big", "dat", "pl", None, 0, "großen Hunden"),
    ("bread", "none", "fresh", "nom", "sg", None, 0, "frisches Brot"),
    ("bread", "none", "fresh", "dat", "sg", None, 0, "frischem Brot"),
    ("coffee", "none", "hot", "nom", "sg", None, 0, "heißer Kaffee"),
    ("coffee", "none", "hot", "acc", "sg", None, 0, "heißen Kaffee"),
    ("milk", "none", "cold", "dat", "sg", None, 0, "kalter Milch"),
    ("car", "poss", "new", "nom", "sg", L.WE, 0, "unser neues Auto"),
    ("cat", "poss", "small", "dat", "sg", L.I, 0, "meiner kleinen Katze"),
    ("dog", "poss", "big", "acc", "sg", L.HE, 0, "seinen großen Hund"),
    ("parents", "poss", None, "dat", "pl", L.SHE, 0, "ihren Eltern"),
    ("child", "num", "small", "nom", "pl", None, 3, "drei kleine Kinder"),
    ("child", "num", "small", "dat", "pl", None, 3, "drei kleinen Kindern"),
    ("car", "num", "red", "acc", "pl", None, 2, "zwei rote Autos"),
    ("apple", "num", None, "acc", "pl", None, 20, "20 Äpfel"),
    ("dog", "this", "big", "acc", "sg", None, 0, "diesen großen Hund"),
    ("book", "this", None, "dat", "sg", None, 0, "diesem Buch"),
    ("car", "def", "expensive", "nom", "sg", None, 0, "das teure Auto"),
    ("coat", "indef", "expensive", "acc", "sg", None, 0, "einen teuren Mantel"),
    # weak masculines and dative plurals
    ("boy", "def", None, "nom", "sg", None, 0, "der Junge"),
    ("boy", "def", None, "acc", "sg", None, 0, "den Jungen"),
    ("boy", "def", None, "dat", "sg", None, 0, "dem Jungen"),
    ("student", "indef", None, "acc", "sg", None, 0, "einen Studenten"),
    ("neighbor", "def", None, "dat", "sg", None, 0, "dem Nachbarn"),
    ("apple", "def", None, "dat", "pl", None, 0, "den Äpfeln"),
    ("car", "def", None, "dat", "pl", None, 0, "den Autos"),
    ("woman", "def", None, "dat", "pl", None, 0, "den Frauen"),
]


@pytest.mark.parametrize("noun,det,adj,case,number,possessor,count,expected", GERMAN_NP_CASES)
def test_german_noun_phrases(noun, det, adj, case, number, possessor, count, expected):
    adjective = A[adj] if adj else None
    assert G.de_noun_phrase(N(noun), det, adjective, case, number, possessor, count) == expected


def test_german_containers_and_contractions():
    cups = NP(N("glass"), "num", "pl", count=2, content=N("water"))
    assert G.de_np(cups, "acc") == "zwei Gläser Wasser"
    assert G.de_np(cups, "dat") == "zwei Gläsern Wasser"
    assert G.de_np(NP(N("cup"), "indef", content=N("coffee")), "acc") == "eine Tasse Kaffee"
    assert G.de_pp("in", NP(N("park")), "dat") == "im Park"
    assert G.de_pp("in", NP(N("office")), "acc") == "ins Büro"
    assert G.de_pp("zu", NP(N("station")), "dat") == "zum Bahnhof"
    assert G.de_pp("zu", NP(N("bakery")), "dat") == "zur Bäckerei"
    assert G.de_pp("in", NP(N("kitchen"), "poss", possessor=L.WE), "dat") == "in unserer Küche"
    # location (dative) versus direction (accusative)
    assert Loc("at", NP(N("park"))).de() == "im Park"
    assert Loc("to", NP(N("park"))).de() == "in den Park"
    assert Loc("at", NP(N("beach"))).de() == "am Strand"
    assert Loc("to", NP(N("beach"))).de() == "an den Strand"
    assert Loc("at", NP(N("market"))).de() == "auf dem Markt"
    assert Loc("to", NP(N("airport"))).de() == "zum Flughafen"
    assert Loc("to", city=L.CITIES[6]).de() == "nach Rom"
    assert PP("with", NP(N("parents"), "poss", "pl", possessor=L.HE)).de() == "mit seinen Eltern"
    assert PP("for", NP(N("mother"), "poss", possessor=L.SHE)).de() == "für ihre Mutter"


@pytest.mark.parametrize("gender,number,case,expected", [
    ("m", "sg", "nom", "der"), ("m", "sg", "acc", "den"), ("m", "sg", "dat", "dem"),
    ("f", "sg", "nom", "die"), ("f", "sg", "acc", "die"), ("f", "sg", "dat", "der"),
    ("n", "sg", "nom", "das"), ("n", "sg", "acc", "das"), ("n", "sg", "dat", "dem"),
    ("m", "pl", "nom", "die"), ("f", "pl", "dat", "denen"),
])
def test_german_relative_pronouns(gender, number, case, expected):
    assert G.de_relative_pronoun(gender, number, case) == expected


@pytest.mark.parametrize("verb,forms", [
    ("read", "lese liest liest lesen lest lesen"),
    ("work", "arbeite arbeitest arbeitet arbeiten arbeitet arbeiten"),
    ("open", "öffne öffnest öffnet öffnen öffnet öffnen"),
    ("dance", "tanze tanzt tanzt tanzen tanzt tanzen"),
    ("call", "rufe rufst ruft rufen ruft rufen"),          # an-rufen: prefix separate
    ("invite", "lade lädst lädt laden ladet laden"),
    ("like", "mag magst mag mögen mögt mögen"),
    ("collect", "sammle sammelst sammelt sammeln sammelt sammeln"),
    ("help", "helfe hilfst hilft helfen helft helfen"),
    ("learn", "lerne lernst lernt lernen lernt lernen"),
    ("have", "habe hast hat haben habt haben"),
])
def test_german_present_conjugation(verb, forms):
    agrs = ("1sg", "2sg", "3sg", "1pl", "2pl", "3pl")
    assert " ".join(G.de_present(V(verb), a) for a in agrs) == forms
    assert G.de_present(V(verb), "formal") == forms.split()[-1]


@pytest.mark.parametrize("verb,aux", [
    ("buy", "hat"), ("sleep", "hat"), ("help", "hat"), ("swim", "ist"), ("run", "ist"),
    ("ride_bike", "ist"), ("go", "ist"), ("travel", "ist"), ("get_up", "ist"), ("arrive", "ist"),
])
def test_perfekt_auxiliary(verb, aux):
    assert G.de_aux(V(verb), "3sg") == aux


def test_clause_orders_in_three_languages():
    # V2 with inversion after a fronted time, Perfekt, Chinese time first and 了
    c = Clause(name("Anna"), V("buy"), NP(N("car"), "indef", adj=A["new"]), tense="past",
               time=L.PAST_TIMES[0], front_time=True)
    assert G.en_clause(c) == "yesterday Anna bought a new car"
    assert G.de_clause(c).main() == "gestern hat Anna ein neues Auto gekauft"
    assert G.zh_clause(c) == "昨天安娜买了一辆新车"

    # separable verb: prefix at the end of a main clause, joined in a subordinate clause
    c = Clause(name("Tom"), V("call"), NP(N("mother"), "poss", possessor=L.HE), time=L.HABITUAL_TIMES[0])
    assert G.en_clause(c) == "Tom calls his mother every day"
    assert G.de_clause(c).main() == "Tom ruft jeden Tag seine Mutter an"
    assert G.de_clause(c).final() == "Tom jeden Tag seine Mutter anruft"
    assert G.zh_clause(c) == "汤姆每天都给他妈妈打电话"

    # Perfekt with sein, verb-final
    c = Clause(pron(L.WE), V("travel"), tense="past", time=L.PAST_TIMES[2], loc=Loc("to", city=L.CITIES[6]))
    assert G.de_clause(c).final() == "wir letztes Jahr nach Rom gereist sind"
    assert G.zh_clause(c) == "我们去年去罗马旅行了"

    # modal with separable infinitive
    c = Clause(name("Anna"), V("pick_up"), NP(N("daughter"), "poss", possessor=L.SHE), tense="modal",
               modal=L.HAVE_TO, time=L.FUTURE_TIMES[0])
    assert G.en_clause(c) == "Anna has to pick up her daughter tomorrow"
    assert G.de_clause(c).main() == "Anna muss morgen ihre Tochter abholen"
    assert G.de_clause(c).final() == "Anna morgen ihre Tochter abholen muss"
    assert G.zh_clause(c) == "安娜明天得去接她女儿"

    # progressive: German "gerade", Chinese 正在 merged with the place
    c = Clause(NP(N("child"), "def", "pl"), V("play"), tense="progressive", loc=Loc("at", NP(N("garden"))))
    assert G.en_clause(c) == "the children are playing in the garden"
    assert G.de_clause(c).main() == "die Kinder spielen gerade im Garten"
    assert G.zh_clause(c) == "孩子们正在花园里玩"

    # dative object and place
    c = Clause(name("Lisa"), V("help"), NP(N("mother"), "poss", possessor=L.SHE), loc=Loc("at", NP(N("kitchen"))),
               freq=L.FREQUENCIES[0])
    assert G.en_clause(c) == "Lisa often helps her mother in the kitchen"
    assert G.de_clause(c).main() == "Lisa hilft oft ihrer Mutter in der Küche"
    assert G.zh_clause(c) == "丽莎经常在厨房里帮助她妈妈"

    # copula with "very"
    c = Clause(NP(N("soup")), pred=A["hot"], very=True)
    assert (G.en_clause(c), G.de_clause(c).main(), G.zh_clause(c)) == (
        "the soup is very hot", "die Suppe ist sehr heiß", "汤非常烫")


def test_negation_kein_versus_nicht():
    c = Clause(name("Tom"), V("drink"), NP(N("coffee"), "neg"), neg=True)
    assert (G.en_clause(c), G.de_clause(c).main(), G.zh_clause(c)) == (
        "Tom does not drink any coffee", "Tom trinkt keinen Kaffee", "汤姆不喝咖啡")
    c = Clause(name("Tom"), V("like"), NP(N("film"), "def", adj=A["new"]), neg=True)
    assert (G.en_clause(c), G.de_clause(c).main(), G.zh_clause(c)) == (
        "Tom does not like the new film", "Tom mag den neuen Film nicht", "汤姆不喜欢那部新电影")
    c = Clause(pron(L.WE), V("buy"), NP(N("bread"), "neg"), tense="past", neg=True, time=L.PAST_TIMES[0])
    assert (G.en_clause(c), G.de_clause(c).main(), G.zh_clause(c)) == (
        "we did not buy any bread yesterday", "wir haben gestern kein Brot gekauft", "我们昨天没有买面包")
    c = Clause(name("Anna"), V("have"), NP(N("car"), "neg", adj=A["red"]), neg=True)
    assert (G.en_clause(c), G.de_clause(c).main(), G.zh_clause(c)) == (
        "Anna does not have a red car", "Anna hat kein rotes Auto", "安娜没有红色的车")
    c = Clause(name("Tom"), V("swim"), tense="modal", modal=L.CAN, neg=True)
    assert (G.en_clause(c), G.de_clause(c).main(), G.zh_clause(c)) == (
        "Tom cannot swim", "Tom kann nicht schwimmen", "汤姆不会游泳")


def test_questions():
    c = Clause(pron(L.YOU), V("find"), NP(N("key"), "poss", possessor=L.YOU), tense="past")
    assert G.en_clause(c, question=True) == "did you find your key"
    assert G.de_clause(c).v1() == "hast du deinen Schlüssel gefunden"
    assert G.zh_clause(c, question=True) == "你找到你的钥匙了吗"
    c = Clause(pron(L.YOU), V("buy"), NP(N("car"), "indef"), tense="past")
    assert G.zh_clause(c, question=True) == "你买了一辆车吗"
    c = Clause(name("Anna"), V("like"), NP(N("coffee"), "none"))
    assert G.en_clause(c, question=True) == "does Anna like coffee"
    assert G.de_clause(c).v1() == "mag Anna Kaffee"
    assert G.zh_clause(c, question=True) == "安娜喜欢咖啡吗"


def test_relative_clauses():
    cake = NP(N("cake"))
    baked = Clause(NP(N("mother"), "poss", possessor=L.I), V("bake"), cake, tense="past", time=L.PAST_TIMES[0])
    rel = G.relative_np(cake, baked, "obj")
    assert rel.en == "the cake that my mother baked yesterday"
    assert rel.de == "der Kuchen, den meine Mutter gestern gebacken hat"
    assert rel.zh == "我妈妈昨天烤的那个蛋糕"
    man = NP(N("man"))
    rel = G.relative_np(man, Clause(pron(L.WE), V("help"), man, tense="past"), "obj")
    assert rel.de == "der Mann, dem wir geholfen haben"          # helfen takes the dative
    assert rel.zh == "我们帮助的那个男人"
    woman = NP(N("woman"))
    rel = G.relative_np(woman, Clause(None, V("work"), loc=Loc("at", NP(N("bakery")))), "subj")
    assert rel.en == "the woman who works in the bakery"
    assert rel.de == "die Frau, die in der Bäckerei arbeitet"
    assert rel.zh == "在面包店工作的那个女人"
    children = NP(N("child"), "def", "pl")
    rel = G.relative_np(children, Clause(None, V("play"), loc=Loc("at", NP(N("garden")))), "subj")
    assert rel.en == "the children who play in the garden"
    assert rel.de == "die Kinder, die im Garten spielen"
    assert rel.zh == "在花园里玩的孩子们"
    data = NP(N("data_set"))
    rel = G.relative_np(data, Clause(pron(L.WE), V("collect"), data, tense="past"), "obj")
    assert rel.de == "der Datensatz, den wir gesammelt haben"
    assert rel.zh == "我们收集的数据集"


def test_german_nouns_are_capitalised():
    for noun in L.ALL_NOUNS:
        for form in (noun.de, noun.de_pl, noun.de_obl):
            if form:
                assert form[0].isupper(), (noun.key, form)


# ---------------------------------------------------------------------------
# Chinese measure words and word order
# ---------------------------------------------------------------------------

CHINESE_NP_CASES = [
    ("dog", "num", None, "pl", None, 2, "两只狗"),
    ("book", "num", None, "pl", None, 3, "三本书"),
    ("car", "indef", None, "sg", None, 0, "一辆车"),
    ("table", "num", None, "pl", None, 12, "十二张桌子"),
    ("apple", "num", None, "pl", None, 20, "20个苹果"),
    ("teacher", "num", None, "pl", None, 3, "三位老师"),
    ("horse", "indef", None, "sg", None, 0, "一匹马"),
    ("tree", "num", None, "pl", None, 5, "五棵树"),
    ("letter", "indef", None, "sg", None, 0, "一封信"),
    ("fish", "num", None, "pl", None, 3, "三条鱼"),
    ("song", "indef", None, "sg", None, 0, "一首歌"),
    ("umbrella", "indef", None, "sg", None, 0, "一把伞"),
    ("computer", "indef", None, "sg", None, 0, "一台电脑"),
    ("newspaper", "indef", None, "sg", None, 0, "一份报纸"),
    ("film", "this", None, "sg", None, 0, "这部电影"),
    ("book", "this", None, "pl", None, 0, "这些书"),
    ("cat", "def", None, "sg", None, 0, "那只猫"),
    ("child", "def", None, "sg", None, 0, "孩子"),
    ("teacher", "def", None, "pl", None, 0, "老师们"),
    ("woman", "def", None, "pl", None, 0, "那些女人"),
    ("flower", "num", "beautiful", "pl", None, 4, "四朵漂亮的花"),
    ("dog", "indef", "big", "sg", None, 0, "一只大狗"),
    ("car", "def", "red", "sg", None, 0, "那辆红色的车"),
    ("mother", "poss", None, "sg", L.I, 0, "我妈妈"),
    ("car", "poss", None, "sg", L.WE, 0, "我们的车"),
    ("method", "indef", None, "sg", None, 0, "一种方法"),
    ("model", "def", None, "sg", None, 0, "该模型"),
    ("slide", "this", None, "sg", None, 0, "这张幻灯片"),
    ("gpu", "num", None, "pl", None, 8, "八块GPU"),
    ("layer", "num", None, "pl", None, 12, "十二层"),
    ("language", "num", None, "pl", None, 3, "三种语言"),
    ("speaker", "num", None, "pl", None, 40, "40位说话人"),
    ("recording", "num", None, "pl", None, 4, "四段录音"),
]


@pytest.mark.parametrize("noun,det,adj,number,possessor,count,expected", CHINESE_NP_CASES)
def test_chinese_noun_phrases(noun, det, adj, number, possessor, count, expected):
    adjective = A[adj] if adj else None
    assert G.zh_noun_phrase(N(noun), det, adjective, number, possessor, count) == expected


def test_chinese_containers_numbers_and_places():
    assert G.zh_np(NP(N("cup"), "num", "pl", count=2, content=N("coffee"))) == "两杯咖啡"
    assert G.zh_np(NP(N("bottle"), "indef", content=N("water"))) == "一瓶水"
    assert G.clock_time(2).zh == "两点"
    assert G.clock_time(1).de == "um ein Uhr"
    assert Loc("at", NP(N("park"))).zh() == "在公园里"
    assert Loc("at", NP(N("market"))).zh() == "在市场上"
    assert Loc("at", NP(N("table")), spatial=("under", "unter", "下面")).zh() == "在桌子下面"
    assert Loc("at", NP(N("garden"), "poss", possessor=L.I)).zh() == "在我的花园里"
    assert G.zh_np(G.Coord((NP(N("bread"), "none"), NP(N("cheese"), "none"), NP(N("apple"), "none", "pl")))) \
        == "面包、奶酪和苹果"


def test_chinese_word_order():
    # time and place before the verb, 都 after 每-phrases, 给 before the verb
    c = Clause(name("Anna"), V("drink"), NP(N("coffee"), "none"), time=L.HABITUAL_TIMES[1],
               loc=Loc("at", NP(N("kitchen"))))
    assert G.zh_clause(c) == "安娜每天早上都在厨房里喝咖啡"
    assert G.de_clause(c).main() == "Anna trinkt jeden Morgen in der Küche Kaffee"
    c = Clause(name("Max"), V("bake"), NP(N("cake"), "indef"), tense="past", time=L.PAST_TIMES[0],
               pp=PP("for", NP(N("grandmother"), "poss", possessor=L.HE)))
    assert G.zh_clause(c) == "马克斯昨天给他奶奶烤了一个蛋糕"
    assert G.de_clause(c).main() == "Max hat gestern für seine Großmutter einen Kuchen gebacken"
    # progressive: 和...一起 before the place, the place before 给
    c = Clause(name("Daniel"), V("tennis"), tense="progressive", loc=Loc("at", NP(N("park"))),
               pp=PP("with", NP(N("brother"), "poss", possessor=L.HE)))
    assert G.zh_clause(c) == "丹尼尔正在和他哥哥一起在公园里打网球"
    assert G.de_clause(c).main() == "Daniel spielt gerade mit seinem Bruder im Park Tennis"
    c = Clause(pron(L.SHE), V("bake"), NP(N("pizza"), "indef"), tense="progressive",
               loc=Loc("at", NP(N("kitchen"), "poss", possessor=L.SHE)),
               pp=PP("for", NP(N("father"), "poss", possessor=L.SHE)))
    assert G.zh_clause(c) == "她正在她的厨房里给她爸爸烤一个披萨"
    assert G.en_clause(c) == "she is baking a pizza for her father in her kitchen"
    # whether-clauses: 是否 after subject and time
    c = Clause(name("Tom"), V("buy"), NP(N("bread"), "none"), tense="past", time=L.PAST_TIMES[0])
    assert G.zh_clause(c, whether=True) == "汤姆昨天是否买了面包"
    # live: place after the verb
    c = Clause(name("Paul"), L.LIVE, loc=Loc("at", city=L.CITIES[3]))
    assert (G.en_clause(c), G.de_clause(c).main(), G.zh_clause(c)) == (
        "Paul lives in Vienna", "Paul wohnt in Wien", "保罗住在维也纳")


# ---------------------------------------------------------------------------
# English morphology
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("word,article", [
    ("apple", "an"), ("dog", "a"), ("user", "a"), ("hour", "an"), ("umbrella", "an"), ("university", "a"),
    ("GPU", "a"), ("email", "an"), ("old", "an"), ("European", "a"),
])
def test_english_articles(word, article):
    assert G.en_article(word) == article


def test_english_verb_and_noun_forms():
    assert [G.en_3sg(V(k)) for k in ("watch", "study", "play", "go", "have", "wash")] == [
        "watches", "studies", "plays", "goes", "has", "washes"]
    assert [G.en_ing(V(k)) for k in ("swim", "dance", "tidy", "run", "write")] == [
        "swimming", "dancing", "tidying", "running", "writing"]
    assert G.en_noun_phrase(N("child"), "num", number="pl", count=3) == "three children"
    assert G.en_noun_phrase(N("mouse"), "def", number="pl") == "the mice"
    assert G.en_noun_phrase(N("sheep"), "num", number="pl", count=2) == "two sheep"
    assert G.en_noun_phrase(N("apple"), "indef", adj=A["old"]) == "an old apple"
    assert G.en_noun_phrase(N("egg"), "indef") == "an egg"
    assert G.en_noun_phrase(N("car"), "neg", neg="no") == "no car"
    assert G.en_noun_phrase(N("apple"), "neg", number="pl") == "any apples"
    assert G.en_noun_phrase(N("apple"), "num", number="pl", count=42) == "42 apples"


# ---------------------------------------------------------------------------
# Corpus-level properties
# ---------------------------------------------------------------------------

_DUMP = """
import random, sys
from testsets.miniworld import grammar as G
for domain in G.DOMAINS:
    rng = random.Random(7)
    for _ in range(300):
        s = G.sample_sentence(rng, domain)
        print(s.pattern, s.en, s.de, s.zh, sep="\\t")
"""


def _dump_in_subprocess(hashseed: str) -> str:
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    out = subprocess.run([sys.executable, "-c", _DUMP], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    return out.stdout


def test_determinism_across_processes():
    first = _dump_in_subprocess("0")
    second = _dump_in_subprocess("4242")
    assert first == second
    here = []
    for domain in G.DOMAINS:
        rng = random.Random(7)
        for _ in range(300):
            s = G.sample_sentence(rng, domain)
            here.append("\t".join((s.pattern, s.en, s.de, s.zh)))
    assert first == "\n".join(here) + "\n"


def test_vocabulary_size_and_overlap():
    general, talks, both = (G.english_vocabulary("general"), G.english_vocabulary("talks"),
                            G.english_vocabulary())
    assert all(re.fullmatch(r"[a-z']+", w) for w in both)
    assert len(both) >= 300
    assert len(general) >= 300 and len(talks) >= 200
    shared = general & talks
    assert len(shared) >= 30                  # a common core of function words and verbs
    assert len(general - talks) >= 150 and len(talks - general) >= 100
    assert {"the", "we", "is", "that", "because", "new"} <= shared
    assert both == general | talks
    with pytest.raises(ValueError):
        G.english_vocabulary("news")


def test_vocabulary_covers_independent_samples(general_sample, talks_sample):
    for sample, domain in ((general_sample, "general"), (talks_sample, "talks")):
        vocab = G.english_vocabulary(domain)
        unknown = {w for s in sample for w in G.english_words(s.en)} - vocab
        assert not unknown, (domain, sorted(unknown)[:20])


def test_patterns_are_reachable(general_sample, talks_sample):
    assert len(G.PATTERNS) >= 12
    assert len(set(G.PATTERNS)) == len(G.PATTERNS)
    general = {s.pattern for s in general_sample}
    talks = {s.pattern for s in talks_sample}
    assert general | talks == set(G.PATTERNS)
    assert len(general) >= 12 and len(talks) >= 12
    # shared constructions, instantiated with each domain's vocabulary
    assert {"relative_clause", "complement_clause", "adverbial_clause", "negation", "yes_no_question",
            "wh_question", "past_event"} <= general & talks


def test_length_bounds(general_sample, talks_sample):
    lengths = [len(s.en.split()) for s in general_sample + talks_sample]
    assert min(lengths) >= G.MIN_WORDS == 4
    assert max(lengths) <= G.MAX_WORDS == 25
    assert min(lengths) <= 5 and max(lengths) >= 20     # the range is actually used
    for domain, sample in (("general", general_sample), ("talks", talks_sample)):
        mean = sum(len(s.en.split()) for s in sample) / len(sample)
        assert 6 <= mean <= 14, (domain, mean)


_ZH_ALLOWED = re.compile(r"^[\u4e00-\u9fff0-9%GPU，、。？]+$")


def test_casing_and_punctuation(general_sample, talks_sample):
    for s in general_sample + talks_sample:
        q = s.en.endswith("?")
        assert s.en.isascii() and s.en[0].isupper() and s.en[-1] in ".?", s.en
        assert not re.search(r"[%&]|  |\s[,.?]|[.?].", s.en), s.en
        assert s.de[0].isupper() and s.de.endswith("?" if q else "."), s
        assert not re.search(r"  |\s[,.?]|[.?].", s.de), s.de
        assert s.zh.endswith("？" if q else "。"), s
        assert _ZH_ALLOWED.match(s.zh), s.zh                # no spaces, full-width punctuation
        assert s.zh.count("。") + s.zh.count("？") == 1, s.zh
        assert s.domain in G.DOMAINS and s.pattern in G.PATTERNS
        # German commas before subordinate and relative clauses
        for conj in (" dass ", " ob ", " weil ", " obwohl "):
            if conj in s.de and not s.de.startswith(conj.strip().capitalize()):
                assert "," + conj in s.de, s.de


def test_variety(talks_sample):
    rng = random.Random(2)
    talks = [G.sample_sentence(rng, "talks") for _ in range(2_000)]
    assert len({s.en for s in talks}) >= 1_700
    rng = random.Random(3)
    started = time.perf_counter()
    general = [G.sample_sentence(rng, "general") for _ in range(15_000)]
    assert time.perf_counter() - started < 5.0
    assert len({s.en for s in general}) >= 13_500


def test_same_english_same_translation(general_sample, talks_sample):
    seen: dict[str, tuple[str, str]] = {}
    for s in general_sample + talks_sample:
        assert seen.setdefault(s.en, (s.de, s.zh)) == (s.de, s.zh), s.en


def test_rejection_sampling_supplies_the_corpus():
    """The project draws ~13,000 general and ~1,800 talks sentences without repeats."""
    used: set[str] = set()
    rng = random.Random(5)
    for domain, count in (("talks", 1_800), ("general", 13_000)):
        drawn = attempts = 0
        while drawn < count:
            attempts += 1
            s = G.sample_sentence(rng, domain)
            if s.en not in used:
                used.add(s.en)
                drawn += 1
        assert attempts < 1.5 * count, (domain, attempts)
