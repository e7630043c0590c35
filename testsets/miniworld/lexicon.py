"""Word lists of the mini world: English, German and Chinese forms with their features.

Every entry carries what the renderers in `grammar` need and nothing they would have
to guess: German gender, plural, weak-masculine oblique form, participle and perfect
auxiliary; Chinese measure word and how a definite noun is rendered; English
irregular forms. Semantic tags restrict which nouns a verb or adjective combines
with, so that sentences stay sensible ("the rabbit eats carrots", not "the rabbit
reads carrots").

All collections are tuples in a fixed order: the grammar samples from them with a
seeded `random.Random`, and sets would make the output depend on PYTHONHASHSEED.
"""

from __future__ import annotations

from dataclasses import dataclass

GENERAL = ("general",)
TALKS = ("talks",)
BOTH = ("general", "talks")


@dataclass(frozen=True)
class Noun:
    key: str
    en: str               # singular ("" for plural-only nouns)
    en_pl: str            # plural ("" for mass nouns)
    de: str               # nominative singular ("" for plural-only nouns)
    de_pl: str            # nominative plural ("" for mass nouns)
    gender: str           # "m", "f", "n"; "pl" for plural-only nouns
    zh: str
    mw: str               # Chinese measure word ("" for mass nouns)
    tags: tuple[str, ...]
    domains: tuple[str, ...] = GENERAL
    de_obl: str = ""      # accusative/dative singular of weak masculines (der Junge, den Jungen)
    zh_def: str = "dem"   # definite singular: "dem" -> 那+MW+noun, "bare" -> noun, "gai" -> 该+noun (papers)
    human: bool = False   # Chinese plural 们, relative "who"
    kin: bool = False     # only with a possessor; Chinese drops 的 after a singular pronoun (我妈妈)
    mass: bool = False
    # Places: English preposition of location, German prepositions of location (dative)
    # and direction (accusative / zu+dative), Chinese localiser after the noun.
    en_at: str = ""
    de_at: str = ""
    de_to: str = ""
    zh_at: str = ""

    @property
    def countable(self) -> bool:
        return not self.mass

    @property
    def has_singular(self) -> bool:
        return bool(self.en)

    @property
    def has_plural(self) -> bool:
        return bool(self.en_pl)


@dataclass(frozen=True)
class Pronoun:
    key: str
    en: str
    en_acc: str
    en_poss: str
    de: str
    de_acc: str
    de_dat: str
    de_poss: str          # possessive stem, declined like "ein"
    zh: str
    person: int
    number: str           # "sg" / "pl"


@dataclass(frozen=True)
class Name:
    en: str
    de: str
    zh: str
    sex: str


@dataclass(frozen=True)
class Phrase:
    """A fixed trilingual expression (time adverbials, task names, fixed frames)."""

    en: str
    de: str
    zh: str


@dataclass(frozen=True)
class Adjective:
    key: str
    en: str
    de: str               # predicative form
    zh_attr: str          # attributive, with 的 where Chinese needs it (大狗, 红色的车)
    zh_pred: str          # predicate with the default degree adverb (很大)
    zh_very: str          # "very" + adjective ("" when "very" does not fit)
    zh_neg: str           # negated predicate ("" when negation is not used)
    zh_q: str             # predicate before 吗 in a yes/no question
    tags: tuple[str, ...]
    de_stem: str = ""     # attributive stem when it differs (teuer -> teur-)
    attributive: bool = True
    zh_cmpd: str = ""     # compound form without 的 after another 的-modifier (用于翻译的新方法)

    @property
    def de_attr_stem(self) -> str:
        return self.de_stem or self.de

    @property
    def zh_compound(self) -> str:
        return self.zh_cmpd or self.zh_attr.removesuffix("的")


@dataclass(frozen=True)
class Verb:
    key: str
    en: str               # base form
    en_past: str
    de: str               # infinitive including a separable prefix (anrufen)
    de_pp: str            # past participle (angerufen)
    zh: str               # transitive verb (or the whole predicate for intransitives)
    obj_tags: tuple[str, ...] = ()
    subj_tags: tuple[str, ...] = ("person",)
    en_3sg: str = ""
    en_ing: str = ""
    en_tail: str = ""     # particle or fixed complement right after the verb (pick UP, play FOOTBALL)
    de_prefix: str = ""   # separable prefix (an-rufen)
    de_du: str = ""       # present 2sg when irregular (liest)
    de_er: str = ""       # present 3sg when irregular (liest)
    de_present: tuple[str, ...] = ()   # full present table ich..sie when irregular (mag, magst ...)
    de_aux: str = "haben"
    de_case: str = "acc"  # case of the object (helfen + dative)
    de_prep: str = ""     # prepositional object (warten auf + acc)
    de_tail: str = ""     # fixed complement at the end of the middle field (Fußball spielen)
    de_manner: str = ""   # fixed manner adverb before places (zu Fuß gehen)
    zh_intr: str = ""     # predicate when used without object (吃饭, 睡觉)
    zh_frame: str = ""    # predicate with object {o} and aspect {a} (给{o}打{a}电话)
    zh_by_tag: tuple[tuple[str, str], ...] = ()   # verb by object tag (visit: 看望 people, 参观 places)
    zh_loc_after: bool = False   # Chinese place after the verb (住在柏林, not 在柏林住)
    stative: bool = False        # like/have/need: no progressive, no past patterns
    past_only: bool = False      # see/find/meet/lose: only perfective uses
    progressive: bool = True     # has a natural progressive reading
    skill: bool = False          # combines with "can" (Chinese 会)
    places: tuple[str, ...] = ()  # keys of PLACES where the action sensibly happens
    motion: bool = False         # destination instead of object; zh_frame has {d}
    habitual: bool = True        # natural with "often", "every day" (not: "closes the window every day")
    obj_dets: tuple[str, ...] = ()   # determiners that suit its objects (open THE window, not "windows")
    obj_sg: bool = False         # one object at a time (found his key)
    needs_place: bool = False    # says little without a place ("the children play in the garden")


def _n(key, en, en_pl, de, de_pl, gender, zh, mw, tags, **kw) -> Noun:
    return Noun(key, en, en_pl, de, de_pl, gender, zh, mw, tuple(tags.split()), **kw)


def _person(key, en, en_pl, de, de_pl, gender, zh, mw, tags, **kw) -> Noun:
    return _n(key, en, en_pl, de, de_pl, gender, zh, mw, "person " + tags, human=True, **kw)


def _place(key, en, en_pl, de, de_pl, gender, zh, mw, tags, en_at, de_at, de_to, zh_at) -> Noun:
    return _n(key, en, en_pl, de, de_pl, gender, zh, mw, "place " + tags, zh_def="bare",
              en_at=en_at, de_at=de_at, de_to=de_to, zh_at=zh_at)


# ---------------------------------------------------------------------------
# General domain nouns
# ---------------------------------------------------------------------------

PEOPLE = (
    _person("man", "man", "men", "Mann", "Männer", "m", "男人", "个", "describable adult male"),
    _person("woman", "woman", "women", "Frau", "Frauen", "f", "女人", "个", "describable adult female"),
    _person("child", "child", "children", "Kind", "Kinder", "n", "孩子", "个", "young offspring", zh_def="bare"),
    _person("boy", "boy", "boys", "Junge", "Jungen", "m", "男孩", "个", "young male", de_obl="Jungen"),
    _person("girl", "girl", "girls", "Mädchen", "Mädchen", "n", "女孩", "个", "young"),
    _person("teacher", "teacher", "teachers", "Lehrer", "Lehrer", "m", "老师", "位", "describable adult", zh_def="bare"),
    _person("doctor", "doctor", "doctors", "Arzt", "Ärzte", "m", "医生", "位", "describable adult", zh_def="bare"),
    _person("student", "student", "students", "Student", "Studenten", "m", "学生", "个", "describable adult",
            de_obl="Studenten", zh_def="bare"),
    _person("friend", "friend", "friends", "Freund", "Freunde", "m", "朋友", "个", "adult"),
    _person("neighbor", "neighbor", "neighbors", "Nachbar", "Nachbarn", "m", "邻居", "个", "describable adult",
            de_obl="Nachbarn", zh_def="bare"),
    _person("baby", "baby", "babies", "Baby", "Babys", "n", "宝宝", "个", "baby", zh_def="bare"),
    _person("waiter", "waiter", "waiters", "Kellner", "Kellner", "m", "服务员", "个", "describable adult", zh_def="bare"),
    _person("driver", "driver", "drivers", "Fahrer", "Fahrer", "m", "司机", "个", "describable adult", zh_def="bare"),
    _person("police_officer", "police officer", "police officers", "Polizist", "Polizisten", "m", "警察", "个",
            "describable adult", de_obl="Polizisten", zh_def="bare"),
    _person("farmer", "farmer", "farmers", "Bauer", "Bauern", "m", "农民", "个", "describable adult",
            de_obl="Bauern", zh_def="bare"),
    _person("baker", "baker", "bakers", "Bäcker", "Bäcker", "m", "面包师", "个", "describable adult", zh_def="bare"),
    _person("tourist", "tourist", "tourists", "Tourist", "Touristen", "m", "游客", "个", "describable adult",
            de_obl="Touristen", zh_def="bare"),
)

KIN = (
    _person("mother", "mother", "", "Mutter", "", "f", "妈妈", "个", "adult kin female", kin=True),
    _person("father", "father", "", "Vater", "", "m", "爸爸", "个", "adult kin male", kin=True),
    _person("grandmother", "grandmother", "", "Großmutter", "", "f", "奶奶", "个", "adult kin female",
            kin=True),
    _person("grandfather", "grandfather", "", "Großvater", "", "m", "爷爷", "个", "adult kin male", kin=True),
    _person("brother", "brother", "", "Bruder", "", "m", "哥哥", "个", "adult kin male", kin=True),
    _person("sister", "sister", "", "Schwester", "", "f", "姐姐", "个", "adult kin female", kin=True),
    _person("son", "son", "sons", "Sohn", "Söhne", "m", "儿子", "个", "young kin offspring male", kin=True),
    _person("daughter", "daughter", "daughters", "Tochter", "Töchter", "f", "女儿", "个",
            "young kin offspring female", kin=True),
    _person("parents", "", "parents", "", "Eltern", "pl", "父母", "", "adult kin", kin=True),
)

ANIMALS = (
    _n("dog", "dog", "dogs", "Hund", "Hunde", "m", "狗", "只", "animal pet"),
    _n("cat", "cat", "cats", "Katze", "Katzen", "f", "猫", "只", "animal pet"),
    _n("bird", "bird", "birds", "Vogel", "Vögel", "m", "鸟", "只", "animal bird wild"),
    _n("horse", "horse", "horses", "Pferd", "Pferde", "n", "马", "匹", "animal farm paintable"),
    _n("cow", "cow", "cows", "Kuh", "Kühe", "f", "牛", "头", "animal farm"),
    _n("fish", "fish", "fish", "Fisch", "Fische", "m", "鱼", "条", "animal water_animal"),
    _n("mouse", "mouse", "mice", "Maus", "Mäuse", "f", "老鼠", "只", "animal"),
    _n("rabbit", "rabbit", "rabbits", "Kaninchen", "Kaninchen", "n", "兔子", "只", "animal pet"),
    _n("duck", "duck", "ducks", "Ente", "Enten", "f", "鸭子", "只", "animal farm water_animal wild"),
    _n("sheep", "sheep", "sheep", "Schaf", "Schafe", "n", "羊", "只", "animal farm"),
    _n("bear", "bear", "bears", "Bär", "Bären", "m", "熊", "只", "animal zoo", de_obl="Bären"),
    _n("monkey", "monkey", "monkeys", "Affe", "Affen", "m", "猴子", "只", "animal zoo", de_obl="Affen"),
    _n("elephant", "elephant", "elephants", "Elefant", "Elefanten", "m", "大象", "头", "animal zoo",
       de_obl="Elefanten"),
    _n("lion", "lion", "lions", "Löwe", "Löwen", "m", "狮子", "头", "animal zoo", de_obl="Löwen"),
)

# What animals eat: animals "fressen" in German, so they get their own verb.
# Where animals are seen and fed.
ANIMAL_PLACES = (("pet", ("garden", "living_room", "kitchen")), ("bird", ("garden", "park")),
                 ("water_animal", ("lake", "park")), ("zoo", ("zoo",)), ("farm", ("farm",)))
ANIMAL_FOOD = (
    ("dog", ("meat", "cookie")), ("cat", ("meat", "cheese")), ("mouse", ("cheese", "bread")),
    ("rabbit", ("carrot", "apple")), ("horse", ("apple", "carrot")), ("monkey", ("banana", "orange")),
    ("elephant", ("banana", "apple")), ("duck", ("bread",)), ("bird", ("bread",)), ("bear", ("meat",)),
)

FOOD = (
    _n("apple", "apple", "apples", "Apfel", "Äpfel", "m", "苹果", "个", "food fruit washable_food"),
    _n("banana", "banana", "bananas", "Banane", "Bananen", "f", "香蕉", "根", "food fruit"),
    _n("orange", "orange", "oranges", "Orange", "Orangen", "f", "橙子", "个", "food fruit"),
    _n("egg", "egg", "eggs", "Ei", "Eier", "n", "鸡蛋", "个", "food cookable freshable"),
    _n("cake", "cake", "cakes", "Kuchen", "Kuchen", "m", "蛋糕", "个", "food sweet bakeable"),
    _n("sandwich", "sandwich", "sandwiches", "Sandwich", "Sandwiches", "n", "三明治", "个", "food"),
    _n("pizza", "pizza", "pizzas", "Pizza", "Pizzas", "f", "披萨", "个", "food bakeable"),
    _n("tomato", "tomato", "tomatoes", "Tomate", "Tomaten", "f", "西红柿", "个", "food vegetable washable_food"),
    _n("potato", "potato", "potatoes", "Kartoffel", "Kartoffeln", "f", "土豆", "个", "food vegetable cookable"),
    _n("carrot", "carrot", "carrots", "Karotte", "Karotten", "f", "胡萝卜", "根", "food vegetable washable_food"),
    _n("cookie", "cookie", "cookies", "Keks", "Kekse", "m", "饼干", "块", "food sweet bakeable"),
    _n("bread", "bread", "", "Brot", "", "n", "面包", "", "food bakeable freshable", mass=True, zh_def="bare"),
    _n("rice", "rice", "", "Reis", "", "m", "米饭", "", "food cookable", mass=True, zh_def="bare"),
    _n("soup", "soup", "", "Suppe", "", "f", "汤", "", "soup cookable", mass=True, zh_def="bare"),
    _n("cheese", "cheese", "", "Käse", "", "m", "奶酪", "", "food", mass=True, zh_def="bare"),
    _n("meat", "meat", "", "Fleisch", "", "n", "肉", "", "food cookable freshable", mass=True, zh_def="bare"),
    _n("chocolate", "chocolate", "", "Schokolade", "", "f", "巧克力", "", "food sweet", mass=True,
       zh_def="bare"),
)

DRINKS = (
    _n("coffee", "coffee", "", "Kaffee", "", "m", "咖啡", "", "drink hotdrink", mass=True, zh_def="bare"),
    _n("tea", "tea", "", "Tee", "", "m", "茶", "", "drink hotdrink", mass=True, zh_def="bare"),
    _n("milk", "milk", "", "Milch", "", "f", "牛奶", "", "drink colddrink", mass=True, zh_def="bare"),
    _n("water", "water", "", "Wasser", "", "n", "水", "", "drink colddrink", mass=True, zh_def="bare"),
    _n("juice", "juice", "", "Saft", "", "m", "果汁", "", "drink colddrink", mass=True, zh_def="bare"),
    _n("wine", "wine", "", "Wein", "", "m", "葡萄酒", "", "drink colddrink", mass=True, zh_def="bare"),
)

# Containers take a drink as content: "two cups of coffee" -> "zwei Tassen Kaffee" ->
# "两杯咖啡"; the container's Chinese is the measure word itself. The tag names the
# kind of drink that fits.
CONTAINERS = (
    _n("cup", "cup", "cups", "Tasse", "Tassen", "f", "", "杯", "container hotdrink"),
    _n("glass", "glass", "glasses", "Glas", "Gläser", "n", "", "杯", "container colddrink"),
    _n("bottle", "bottle", "bottles", "Flasche", "Flaschen", "f", "", "瓶", "container colddrink"),
)

THINGS = (
    _n("book", "book", "books", "Buch", "Bücher", "n", "书", "本", "readable writable buyable book"),
    _n("newspaper", "newspaper", "newspapers", "Zeitung", "Zeitungen", "f", "报纸", "份", "readable buyable"),
    _n("letter", "letter", "letters", "Brief", "Briefe", "m", "信", "封", "readable writable message"),
    _n("email", "email", "emails", "E-Mail", "E-Mails", "f", "电子邮件", "封", "readable writable message"),
    _n("car", "car", "cars", "Auto", "Autos", "n", "车", "辆", "vehicle washable buyable needable street_thing"),
    _n("bicycle", "bicycle", "bicycles", "Fahrrad", "Fahrräder", "n", "自行车", "辆",
       "vehicle washable buyable needable street_thing"),
    _n("bus", "bus", "buses", "Bus", "Busse", "m", "公交车", "辆", "transport street_thing", zh_def="bare"),
    _n("train", "train", "trains", "Zug", "Züge", "m", "火车", "列", "transport", zh_def="bare"),
    _n("table", "table", "tables", "Tisch", "Tische", "m", "桌子", "张", "furniture buyable needable heavy"),
    _n("chair", "chair", "chairs", "Stuhl", "Stühle", "m", "椅子", "把", "furniture buyable needable"),
    _n("sofa", "sofa", "sofas", "Sofa", "Sofas", "n", "沙发", "张", "furniture buyable heavy"),
    _n("key", "key", "keys", "Schlüssel", "Schlüssel", "m", "钥匙", "把", "small losable needable"),
    _n("umbrella", "umbrella", "umbrellas", "Regenschirm", "Regenschirme", "m", "伞", "把",
       "small losable needable buyable colored"),
    _n("phone", "phone", "phones", "Handy", "Handys", "n", "手机", "部", "device losable needable buyable"),
    _n("computer", "computer", "computers", "Computer", "Computer", "m", "电脑", "台", "device needable buyable"),
    _n("bag", "bag", "bags", "Tasche", "Taschen", "f", "包", "个", "box losable openable colored buyable"),
    _n("box", "box", "boxes", "Kiste", "Kisten", "f", "箱子", "个", "box openable heavy"),
    _n("window", "window", "windows", "Fenster", "Fenster", "n", "窗户", "扇", "openable closable"),
    _n("door", "door", "doors", "Tür", "Türen", "f", "门", "扇", "openable closable"),
    _n("shirt", "shirt", "shirts", "Hemd", "Hemden", "n", "衬衫", "件", "clothing washable buyable"),
    _n("coat", "coat", "coats", "Mantel", "Mäntel", "m", "外套", "件", "clothing warmclothing buyable needable"),
    _n("jacket", "jacket", "jackets", "Jacke", "Jacken", "f", "夹克", "件", "clothing warmclothing buyable needable"),
    _n("hat", "hat", "hats", "Hut", "Hüte", "m", "帽子", "顶", "clothing buyable"),
    _n("ball", "ball", "balls", "Ball", "Bälle", "m", "球", "个", "toy buyable colored"),
    _n("flower", "flower", "flowers", "Blume", "Blumen", "f", "花", "朵", "plant flower buyable paintable"),
    _n("tree", "tree", "trees", "Baum", "Bäume", "m", "树", "棵", "plant tree paintable"),
    _n("present", "present", "presents", "Geschenk", "Geschenke", "n", "礼物", "份", "gift buyable"),
    _n("picture", "picture", "pictures", "Bild", "Bilder", "n", "画", "幅", "picture paintable"),
    _n("photo", "photo", "photos", "Foto", "Fotos", "n", "照片", "张", "photo"),
    _n("film", "film", "films", "Film", "Filme", "m", "电影", "部", "film"),
    _n("song", "song", "songs", "Lied", "Lieder", "n", "歌", "首", "song writable"),
    _n("lamp", "lamp", "lamps", "Lampe", "Lampen", "f", "灯", "盏", "furniture buyable needable"),
    _n("pencil", "pencil", "pencils", "Bleistift", "Bleistifte", "m", "铅笔", "支", "small buyable needable"),
    _n("house", "house", "houses", "Haus", "Häuser", "n", "房子", "栋", "building paintable", zh_def="bare"),
    _n("concert", "concert", "concerts", "Konzert", "Konzerte", "n", "音乐会", "场", "event", zh_def="bare"),
)

PLACES = (
    _place("park", "park", "parks", "Park", "Parks", "m", "公园", "个", "outdoor dest",
           "in", "in", "in", "里"),
    _place("garden", "garden", "gardens", "Garten", "Gärten", "m", "花园", "个", "outdoor home",
           "in", "in", "in", "里"),
    _place("kitchen", "kitchen", "kitchens", "Küche", "Küchen", "f", "厨房", "个", "home_room room home",
           "in", "in", "in", "里"),
    _place("living_room", "living room", "living rooms", "Wohnzimmer", "Wohnzimmer", "n", "客厅", "个",
           "home_room room home", "in", "in", "in", "里"),
    _place("room", "room", "rooms", "Zimmer", "Zimmer", "n", "房间", "个", "home_room room home", "in", "in", "in", "里"),
    _place("office", "office", "offices", "Büro", "Büros", "n", "办公室", "个", "home_room room work dest",
           "in", "in", "in", "里"),
    _place("classroom", "classroom", "classrooms", "Klassenzimmer", "Klassenzimmer", "n", "教室", "个",
           "room", "in", "in", "in", "里"),
    _place("hospital", "hospital", "hospitals", "Krankenhaus", "Krankenhäuser", "n", "医院", "家",
           "work dest", "in", "in", "in", ""),
    _place("library", "library", "libraries", "Bibliothek", "Bibliotheken", "f", "图书馆", "个",
           "work dest shop", "in", "in", "in", ""),
    _place("supermarket", "supermarket", "supermarkets", "Supermarkt", "Supermärkte", "m", "超市", "家",
           "work dest shop buyplace", "in", "in", "in", ""),
    _place("market", "market", "markets", "Markt", "Märkte", "m", "市场", "个", "work dest buyplace",
           "at", "auf", "auf", "上"),
    _place("station", "station", "stations", "Bahnhof", "Bahnhöfe", "m", "火车站", "个", "dest",
           "at", "an", "zu", ""),
    _place("restaurant", "restaurant", "restaurants", "Restaurant", "Restaurants", "n", "餐厅", "家",
           "work dest shop eatplace", "in", "in", "in", ""),
    _place("museum", "museum", "museums", "Museum", "Museen", "n", "博物馆", "个", "dest shop sight",
           "in", "in", "in", ""),
    _place("cinema", "cinema", "cinemas", "Kino", "Kinos", "n", "电影院", "家", "dest shop",
           "in", "in", "in", ""),
    _place("beach", "beach", "beaches", "Strand", "Strände", "m", "海滩", "个", "outdoor dest",
           "on", "an", "an", "上"),
    _place("bakery", "bakery", "bakeries", "Bäckerei", "Bäckereien", "f", "面包店", "家",
           "work dest shop buyplace", "in", "in", "in", ""),
    _place("airport", "airport", "airports", "Flughafen", "Flughäfen", "m", "机场", "个", "work dest",
           "at", "an", "zu", ""),
    _place("zoo", "zoo", "zoos", "Zoo", "Zoos", "m", "动物园", "个", "outdoor dest sight",
           "at", "in", "in", "里"),
    _place("lake", "lake", "lakes", "See", "Seen", "m", "湖", "个", "water", "in", "in", "", "里"),
    _place("street", "street", "streets", "Straße", "Straßen", "f", "街", "条", "outdoor", "on", "auf", "", "上"),
    _place("shop", "shop", "shops", "Laden", "Läden", "m", "商店", "家", "work dest shop buyplace",
           "in", "in", "in", ""),
    _place("fridge", "fridge", "fridges", "Kühlschrank", "Kühlschränke", "m", "冰箱", "个", "container_place",
           "in", "in", "", "里"),
    _place("farm", "farm", "farms", "Bauernhof", "Bauernhöfe", "m", "农场", "个", "outdoor",
           "on", "auf", "", "里"),
)

WEATHER = _n("weather", "weather", "", "Wetter", "", "n", "天气", "", "weather", mass=True, zh_def="bare")

GENERAL_NOUNS = PEOPLE + KIN + ANIMALS + FOOD + DRINKS + CONTAINERS + THINGS + PLACES + (WEATHER,)

NAMES = (
    Name("Anna", "Anna", "安娜", "f"), Name("Maria", "Maria", "玛丽亚", "f"), Name("Lisa", "Lisa", "丽莎", "f"),
    Name("Emma", "Emma", "艾玛", "f"), Name("Sarah", "Sarah", "莎拉", "f"), Name("Julia", "Julia", "朱莉娅", "f"),
    Name("Tom", "Tom", "汤姆", "m"), Name("Peter", "Peter", "彼得", "m"), Name("Paul", "Paul", "保罗", "m"),
    Name("David", "David", "大卫", "m"), Name("Max", "Max", "马克斯", "m"), Name("Daniel", "Daniel", "丹尼尔", "m"),
)

CITIES = (
    Phrase("Berlin", "Berlin", "柏林"), Phrase("Hamburg", "Hamburg", "汉堡"), Phrase("Munich", "München", "慕尼黑"),
    Phrase("Vienna", "Wien", "维也纳"), Phrase("Paris", "Paris", "巴黎"), Phrase("London", "London", "伦敦"),
    Phrase("Rome", "Rom", "罗马"), Phrase("Madrid", "Madrid", "马德里"), Phrase("Beijing", "Peking", "北京"),
    Phrase("Shanghai", "Shanghai", "上海"), Phrase("Tokyo", "Tokio", "东京"),
)

# School languages: bare in German (Deutsch lernen).
LANGUAGES = (
    Phrase("German", "Deutsch", "德语"), Phrase("English", "Englisch", "英语"), Phrase("Chinese", "Chinesisch", "中文"),
    Phrase("French", "Französisch", "法语"), Phrase("Spanish", "Spanisch", "西班牙语"),
    Phrase("Italian", "Italienisch", "意大利语"), Phrase("Japanese", "Japanisch", "日语"),
)

# ---------------------------------------------------------------------------
# Pronouns
# ---------------------------------------------------------------------------

I = Pronoun("i", "I", "me", "my", "ich", "mich", "mir", "mein", "我", 1, "sg")
YOU = Pronoun("you", "you", "you", "your", "du", "dich", "dir", "dein", "你", 2, "sg")
HE = Pronoun("he", "he", "him", "his", "er", "ihn", "ihm", "sein", "他", 3, "sg")
SHE = Pronoun("she", "she", "her", "her", "sie", "sie", "ihr", "ihr", "她", 3, "sg")
WE = Pronoun("we", "we", "us", "our", "wir", "uns", "uns", "unser", "我们", 1, "pl")
THEY = Pronoun("they", "they", "them", "their", "sie", "sie", "ihnen", "ihr", "他们", 3, "pl")
# Talks address the audience formally (Sie); the Chinese depends on the frame (大家,
# 你们, 您), so `zh` here is only the possessive default (你们的).
YOU_FORMAL = Pronoun("you_formal", "you", "you", "your", "Sie", "Sie", "Ihnen", "Ihr", "你们", 2, "pl")

GENERAL_PRONOUNS = (I, YOU, HE, SHE, WE, THEY)

# ---------------------------------------------------------------------------
# General adjectives
# ---------------------------------------------------------------------------


def _a(key, en, de, zh_attr, zh_pred, zh_very, zh_neg, zh_q, tags, **kw) -> Adjective:
    return Adjective(key, en, de, zh_attr, zh_pred, zh_very, zh_neg, zh_q, tuple(tags.split()), **kw)


GENERAL_ADJECTIVES = (
    _a("big", "big", "groß", "大", "很大", "非常大", "不大", "大", "animal vehicle furniture building tree box"),
    _a("small", "small", "klein", "小", "很小", "非常小", "不小", "小", "animal vehicle furniture building tree box"),
    _a("old", "old", "alt", "旧", "很旧", "非常旧", "不旧", "旧", "vehicle furniture building clothing book"),
    _a("new", "new", "neu", "新", "很新", "非常新", "不新", "新",
       "vehicle furniture building clothing book device film"),
    _a("young", "young", "jung", "年轻的", "很年轻", "非常年轻", "不年轻", "年轻", "describable"),
    _a("red", "red", "rot", "红色的", "是红色的", "", "不是红色的", "是红色的", "vehicle clothing colored"),
    _a("blue", "blue", "blau", "蓝色的", "是蓝色的", "", "不是蓝色的", "是蓝色的", "vehicle clothing colored"),
    _a("green", "green", "grün", "绿色的", "是绿色的", "", "不是绿色的", "是绿色的", "vehicle clothing colored"),
    _a("black", "black", "schwarz", "黑色的", "是黑色的", "", "不是黑色的", "是黑色的",
       "vehicle clothing colored pet"),
    _a("white", "white", "weiß", "白色的", "是白色的", "", "不是白色的", "是白色的",
       "vehicle clothing colored pet farm"),
    _a("beautiful", "beautiful", "schön", "漂亮的", "很漂亮", "非常漂亮", "不漂亮", "漂亮",
       "clothing flower building picture"),
    _a("expensive", "expensive", "teuer", "很贵的", "很贵", "非常贵", "不贵", "贵",
       "vehicle clothing device furniture", de_stem="teur"),
    _a("cheap", "cheap", "billig", "便宜的", "很便宜", "非常便宜", "不便宜", "便宜",
       "vehicle clothing device furniture"),
    _a("interesting", "interesting", "interessant", "有趣的", "很有意思", "非常有意思", "没有意思", "有意思",
       "book film"),
    _a("boring", "boring", "langweilig", "无聊的", "很无聊", "非常无聊", "不无聊", "无聊", "book film"),
    _a("fresh", "fresh", "frisch", "新鲜的", "很新鲜", "非常新鲜", "不新鲜", "新鲜", "fruit vegetable freshable"),
    _a("hot", "hot", "heiß", "热", "很烫", "非常烫", "不烫", "烫", "hotdrink soup"),
    _a("cold", "cold", "kalt", "冷", "很凉", "非常凉", "不凉", "凉", "colddrink soup"),
    _a("delicious", "delicious", "lecker", "好吃的", "很好吃", "非常好吃", "不好吃", "好吃", "food"),
    _a("sweet", "sweet", "süß", "甜的", "很甜", "非常甜", "不甜", "甜", "fruit sweet"),
    _a("heavy", "heavy", "schwer", "很重的", "很重", "非常重", "不重", "重", "heavy"),
    _a("clean", "clean", "sauber", "干净的", "很干净", "非常干净", "不干净", "干净", "vehicle clothing"),
    _a("dirty", "dirty", "schmutzig", "脏的", "很脏", "非常脏", "不脏", "脏", "vehicle clothing"),
    _a("warm", "warm", "warm", "暖和的", "很暖和", "非常暖和", "不暖和", "暖和", "warmclothing"),
    _a("long", "long", "lang", "很长的", "很长", "非常长", "不长", "长", "message film"),
    _a("short", "short", "kurz", "很短的", "很短", "非常短", "不短", "短", "message film"),
    _a("quiet", "quiet", "ruhig", "安静的", "很安静", "非常安静", "不安静", "安静", "room_pred"),
    _a("friendly", "friendly", "freundlich", "友好的", "很友好", "非常友好", "不友好", "友好", "describable"),
    _a("famous", "famous", "berühmt", "有名的", "很有名", "非常有名", "", "有名", "sight eatplace"),
    # Predicative only: the Chinese attributive forms (疲惫的, 饥饿的) sound literary here.
    _a("tired", "tired", "müde", "", "很累", "非常累", "不累", "累", "person animal", attributive=False),
    _a("hungry", "hungry", "hungrig", "", "很饿", "非常饿", "不饿", "饿", "person animal", attributive=False),
    _a("happy", "happy", "glücklich", "", "很高兴", "非常高兴", "不高兴", "高兴", "person", attributive=False),
    _a("sad", "sad", "traurig", "", "很难过", "非常难过", "不难过", "难过", "person", attributive=False),
    _a("busy", "busy", "beschäftigt", "", "很忙", "非常忙", "不忙", "忙", "adult", attributive=False),
    _a("open", "open", "geöffnet", "", "开门", "", "不开门", "开门", "shop", attributive=False),
)

# Weather adjectives: "the weather is cold" -> 天气很冷 (not 很凉 as for soup).
WEATHER_ADJECTIVES = (
    _a("w_nice", "nice", "schön", "", "很好", "非常好", "不好", "好", "weather", attributive=False),
    _a("w_cold", "cold", "kalt", "", "很冷", "非常冷", "不冷", "冷", "weather", attributive=False),
    _a("w_warm", "warm", "warm", "", "很暖和", "非常暖和", "不暖和", "暖和", "weather", attributive=False),
    _a("w_hot", "hot", "heiß", "", "很热", "非常热", "不热", "热", "weather", attributive=False),
)

# ---------------------------------------------------------------------------
# General verbs
# ---------------------------------------------------------------------------

V = Verb
GENERAL_VERBS = (
    V("eat", "eat", "ate", "essen", "gegessen", "吃", ("food",), ("person",), de_du="isst", de_er="isst",
      zh_intr="吃饭", places=("kitchen", "garden", "restaurant", "park")),
    V("drink", "drink", "drank", "trinken", "getrunken", "喝", ("drink", "container"),
      places=("kitchen", "garden", "office", "living_room", "restaurant")),
    V("buy", "buy", "bought", "kaufen", "gekauft", "买", ("food", "drink", "buyable"),
      places=("supermarket", "market", "bakery", "shop"), obj_dets=("def", "indef", "none", "num", "this")),
    V("sell", "sell", "sold", "verkaufen", "verkauft", "卖", ("food", "buyable"), places=("market", "shop"),
      obj_dets=("none", "poss")),
    V("cook", "cook", "cooked", "kochen", "gekocht", "煮", ("cookable",), zh_intr="做饭", places=("kitchen",)),
    V("bake", "bake", "baked", "backen", "gebacken", "烤", ("bakeable",), places=("kitchen",)),
    V("read", "read", "read", "lesen", "gelesen", "看", ("readable",), de_du="liest", de_er="liest",
      zh_intr="看书", places=("garden", "living_room", "park", "library", "kitchen", "room")),
    V("write", "write", "wrote", "schreiben", "geschrieben", "写", ("writable",),
      places=("office", "room", "living_room", "kitchen", "library")),
    V("see", "see", "saw", "sehen", "gesehen", "看到", ("animal", "vehicle", "person"), ("person",),
      de_du="siehst", de_er="sieht", past_only=True, places=("park", "zoo", "street", "garden")),
    V("watch", "watch", "watched", "sehen", "gesehen", "看", ("film",), de_du="siehst", de_er="sieht",
      places=("cinema", "living_room"), obj_dets=("def", "indef", "this", "none")),
    V("like", "like", "liked", "mögen", "gemocht", "喜欢",
      ("animal", "food", "drink", "book", "film", "song", "vehicle", "clothing", "flower"),
      de_present=("mag", "magst", "mag", "mögen", "mögt", "mögen"), stative=True),
    V("need", "need", "needed", "brauchen", "gebraucht", "需要", ("needable",), stative=True,
      obj_dets=("indef", "def", "poss"), obj_sg=True),
    V("have", "have", "had", "haben", "gehabt", "有", ("pet", "vehicle", "device", "offspring", "furniture"),
      en_3sg="has", de_present=("habe", "hast", "hat", "haben", "habt", "haben"), stative=True),
    V("find", "find", "found", "finden", "gefunden", "找到", ("losable",), past_only=True,
      obj_dets=("def", "poss"), obj_sg=True),
    V("lose", "lose", "lost", "verlieren", "verloren", "丢", ("losable",), past_only=True,
      obj_dets=("def", "poss"), obj_sg=True),
    V("open", "open", "opened", "öffnen", "geöffnet", "打开", ("openable",), habitual=False, progressive=False,
      obj_dets=("def", "poss"), obj_sg=True),
    V("close", "close", "closed", "schließen", "geschlossen", "关上", ("closable",), de_du="schließt",
      habitual=False, progressive=False, obj_dets=("def", "poss"), obj_sg=True),
    V("clean", "clean", "cleaned", "putzen", "geputzt", "打扫", ("home_room",), de_du="putzt",
      obj_dets=("def", "poss"), obj_sg=True),
    V("wash", "wash", "washed", "waschen", "gewaschen", "洗", ("washable", "washable_food"), de_du="wäschst",
      de_er="wäscht", obj_dets=("def", "poss")),
    V("visit", "visit", "visited", "besuchen", "besucht", "看望", ("person", "sight"),
      zh_by_tag=(("sight", "参观"),)),
    V("meet", "meet", "met", "treffen", "getroffen", "见到", ("person",), de_du="triffst", de_er="trifft",
      past_only=True, places=("park", "station", "restaurant", "museum", "library", "supermarket")),
    V("help", "help", "helped", "helfen", "geholfen", "帮助", ("person",), de_du="hilfst", de_er="hilft",
      de_case="dat", places=("kitchen", "garden", "office")),
    V("call", "call", "called", "anrufen", "angerufen", "打电话", ("person",), de_prefix="an",
      zh_frame="给{o}打{a}电话"),
    V("invite", "invite", "invited", "einladen", "eingeladen", "邀请", ("person",), de_prefix="ein",
      de_du="lädst", de_er="lädt", progressive=False),
    V("pick_up", "pick", "picked", "abholen", "abgeholt", "接", ("young",), de_prefix="ab", en_tail="up",
      zh_frame="去接{a}{o}", progressive=False),
    V("paint", "paint", "painted", "malen", "gemalt", "画", ("paintable",), places=("garden", "park", "room"),
      obj_dets=("def", "indef", "none")),
    V("bring", "bring", "brought", "mitbringen", "mitgebracht", "带来", ("food", "gift", "flower", "drink"),
      de_prefix="mit", progressive=False),
    V("learn", "learn", "learned", "lernen", "gelernt", "学", ("language",)),
    V("speak", "speak", "spoke", "sprechen", "gesprochen", "说", ("language",), de_du="sprichst",
      de_er="spricht", zh_frame="会说{o}", stative=True),
    V("wait", "wait", "waited", "warten", "gewartet", "等", ("transport", "person"), de_prep="auf",
      en_tail="for", places=("station",)),
    V("tidy", "tidy", "tidied", "aufräumen", "aufgeräumt", "收拾", ("home_room",), de_prefix="auf",
      obj_dets=("def", "poss"), obj_sg=True),
    # intransitive
    V("sleep", "sleep", "slept", "schlafen", "geschlafen", "睡觉", (), ("person", "animal"),
      de_du="schläfst", de_er="schläft", places=("living_room", "room", "garden")),
    V("work", "work", "worked", "arbeiten", "gearbeitet", "工作", (), ("adult",),
      places=("office", "hospital", "library", "supermarket", "bakery", "restaurant", "airport", "garden",
              "market", "shop")),
    V("play", "play", "played", "spielen", "gespielt", "玩", (), ("young", "pet"), needs_place=True,
      places=("park", "garden", "living_room", "beach", "street", "room")),
    V("swim", "swim", "swam", "schwimmen", "geschwommen", "游泳", (), ("person",), de_aux="sein",
      en_ing="swimming", skill=True, places=("lake",)),
    V("run", "run", "ran", "rennen", "gerannt", "跑", (), ("young", "pet"), de_aux="sein",
      en_ing="running", habitual=False, needs_place=True, places=("park", "garden", "beach", "street")),
    V("sing", "sing", "sang", "singen", "gesungen", "唱歌", (), ("person",), skill=True,
      places=("living_room", "kitchen", "garden")),
    V("dance", "dance", "danced", "tanzen", "getanzt", "跳舞", (), ("person",), de_du="tanzt", skill=True,
      places=("living_room", "kitchen", "garden")),
    V("cry", "cry", "cried", "weinen", "geweint", "哭", (), ("baby", "young")),
    V("laugh", "laugh", "laughed", "lachen", "gelacht", "笑", (), ("person",)),
    V("study", "study", "studied", "lernen", "gelernt", "学习", (), ("young",), needs_place=True,
      places=("library", "room", "classroom", "kitchen")),
    V("watch_tv", "watch", "watched", "fernsehen", "ferngesehen", "看电视", (), ("person",),
      en_tail="TV", de_prefix="fern", de_du="siehst", de_er="sieht", places=("living_room", "room")),
    # Activities with a fixed complement, which German keeps at the end of the middle field.
    V("football", "play", "played", "spielen", "gespielt", "踢足球", (), ("person",), en_tail="football",
      de_tail="Fußball", skill=True, places=("park", "garden", "beach", "street")),
    V("tennis", "play", "played", "spielen", "gespielt", "打网球", (), ("person",), en_tail="tennis",
      de_tail="Tennis", skill=True, places=("park",)),
    V("chess", "play", "played", "spielen", "gespielt", "下棋", (), ("person",), en_tail="chess",
      de_tail="Schach", skill=True, places=("living_room", "park", "garden")),
    V("piano", "play", "played", "spielen", "gespielt", "弹钢琴", (), ("person",), en_tail="the piano",
      de_tail="Klavier", skill=True, places=("living_room", "room")),
    V("guitar", "play", "played", "spielen", "gespielt", "弹吉他", (), ("person",), en_tail="the guitar",
      de_tail="Gitarre", skill=True, places=("living_room", "garden", "park", "room", "beach")),
    V("cards", "play", "played", "spielen", "gespielt", "打牌", (), ("person",), en_tail="cards",
      de_tail="Karten", places=("living_room", "kitchen", "garden")),
    V("ride_bike", "ride", "rode", "fahren", "gefahren", "骑自行车", (), ("person",), en_tail="a bike",
      de_tail="Fahrrad", de_du="fährst", de_er="fährt", de_aux="sein", skill=True, places=("park",)),
)

LIVE = V("live", "live", "lived", "wohnen", "gewohnt", "住", (), ("person",), zh_loc_after=True, stative=True)
KNOW = V("know", "know", "knew", "kennen", "gekannt", "认识", ("person",), stative=True)

# Animals eat ("fressen" in German) only what ANIMAL_FOOD gives them.
ANIMAL_EAT = V("eat_animal", "eat", "ate", "fressen", "gefressen", "吃", ("food",), ("animal",),
               de_du="frisst", de_er="frisst", places=("garden", "kitchen", "park", "zoo"))


def _motion(key, en, en_past, de, de_pp, zh_frame, dest, **kw) -> Verb:
    # obj_tags name the kinds of destination: "dest" places and/or "city".
    return Verb(key, en, en_past, de, de_pp, "", dest, ("person",), zh_frame=zh_frame, de_aux="sein",
                motion=True, **kw)


MOTIONS = (
    _motion("go", "go", "went", "gehen", "gegangen", "去{a}{d}", ("dest",), en_3sg="goes"),
    _motion("walk", "walk", "walked", "gehen", "gegangen", "走路去{a}{d}", ("dest",), de_manner="zu Fuß"),
    _motion("drive", "drive", "drove", "fahren", "gefahren", "开车去{a}{d}", ("dest", "city"),
            de_du="fährst", de_er="fährt"),
    _motion("fly", "fly", "flew", "fliegen", "geflogen", "坐飞机去{a}{d}", ("city",)),
    _motion("travel", "travel", "traveled", "reisen", "gereist", "去{d}旅行{a}", ("city",), de_du="reist"),
)

# Separable verbs of the daily routine, with a clock time: "Anna steht um sechs Uhr auf."
ROUTINE_VERBS = (
    V("get_up", "get", "got", "aufstehen", "aufgestanden", "起床", (), ("person",), en_tail="up",
      de_prefix="auf", de_aux="sein", en_ing="getting"),
    V("come_home", "come", "came", "kommen", "gekommen", "回家", (), ("person",), en_tail="home",
      de_tail="nach Hause", de_aux="sein"),
    V("arrive", "arrive", "arrived", "ankommen", "angekommen", "到", (), ("transport",), de_prefix="an",
      de_aux="sein"),
    V("leave", "leave", "left", "abfahren", "abgefahren", "开", (), ("transport",), de_prefix="ab",
      de_du="fährst", de_er="fährt", de_aux="sein"),
    V("start", "start", "started", "anfangen", "angefangen", "开始", (), ("film", "event"), de_prefix="an",
      de_du="fängst", de_er="fängt"),
    V("open_shop", "open", "opened", "aufmachen", "aufgemacht", "开门", (), ("shop",), de_prefix="auf"),
    V("close_shop", "close", "closed", "zumachen", "zugemacht", "关门", (), ("shop",), de_prefix="zu"),
)


@dataclass(frozen=True)
class Modal:
    key: str
    en_3sg: str
    en_other: str
    de_present: tuple[str, ...]
    zh: str


CAN = Modal("can", "can", "can", ("kann", "kannst", "kann", "können", "könnt", "können"), "会")
HAVE_TO = Modal("have_to", "has to", "have to", ("muss", "musst", "muss", "müssen", "müsst", "müssen"), "得")
WANT_TO = Modal("want_to", "wants to", "want to", ("will", "willst", "will", "wollen", "wollt", "wollen"), "想")

# ---------------------------------------------------------------------------
# Time expressions (general)
# ---------------------------------------------------------------------------

P = Phrase
HABITUAL_TIMES = (      # Chinese 每 phrases take 都 before the verb
    P("every day", "jeden Tag", "每天"), P("every morning", "jeden Morgen", "每天早上"),
    P("every evening", "jeden Abend", "每天晚上"), P("every week", "jede Woche", "每个星期"),
    P("every Sunday", "jeden Sonntag", "每个星期天"), P("every Saturday", "jeden Samstag", "每个星期六"),
    P("every weekend", "jedes Wochenende", "每个周末"),
)
FREQUENCIES = (
    P("often", "oft", "经常"), P("usually", "normalerweise", "通常"), P("sometimes", "manchmal", "有时候"),
    P("always", "immer", "总是"),
)
NEVER = P("never", "nie", "从来不")
PAST_TIMES = (
    P("yesterday", "gestern", "昨天"), P("last week", "letzte Woche", "上个星期"),
    P("last year", "letztes Jahr", "去年"), P("last summer", "letzten Sommer", "去年夏天"),
    P("this morning", "heute Morgen", "今天早上"), P("yesterday evening", "gestern Abend", "昨天晚上"),
    P("last Sunday", "letzten Sonntag", "上个星期天"), P("last month", "letzten Monat", "上个月"),
)
FUTURE_TIMES = (
    P("tomorrow", "morgen", "明天"), P("next week", "nächste Woche", "下个星期"),
    P("next year", "nächstes Jahr", "明年"), P("tonight", "heute Abend", "今天晚上"),
    P("on Saturday", "am Samstag", "星期六"), P("next summer", "nächsten Sommer", "明年夏天"),
)
TODAY = P("today", "heute", "今天")
# "N units ago": German vor + dative plural, Chinese N+unit+前 (个 before 星期 and 月).
AGO_UNITS = (
    ("days", "Tagen", "天"), ("weeks", "Wochen", "个星期"), ("years", "Jahren", "年"), ("months", "Monaten", "个月"),
)

# ---------------------------------------------------------------------------
# Talks domain
# ---------------------------------------------------------------------------

TALK_NOUNS = (
    _n("model", "model", "models", "Modell", "Modelle", "n", "模型", "个", "system trainable releasable",
       domains=TALKS, zh_def="gai"),
    _n("method", "method", "methods", "Methode", "Methoden", "f", "方法", "种", "approach", domains=TALKS,
       zh_def="gai"),
    _n("approach", "approach", "approaches", "Ansatz", "Ansätze", "m", "方法", "种", "approach",
       domains=TALKS, zh_def="gai"),
    _n("system", "system", "systems", "System", "Systeme", "n", "系统", "个", "system trainable",
       domains=TALKS, zh_def="gai"),
    _n("network", "network", "networks", "Netzwerk", "Netzwerke", "n", "网络", "个", "system trainable",
       domains=TALKS, zh_def="gai"),
    _n("baseline", "baseline", "baselines", "Baseline", "Baselines", "f", "基线", "个", "baseline trainable",
       domains=TALKS, zh_def="bare"),
    _n("data_set", "data set", "data sets", "Datensatz", "Datensätze", "m", "数据集", "个",
       "dataset releasable", domains=TALKS, zh_def="bare"),
    _n("test_set", "test set", "test sets", "Testset", "Testsets", "n", "测试集", "个", "testset",
       domains=TALKS, zh_def="bare"),
    _n("corpus", "corpus", "corpora", "Korpus", "Korpora", "n", "语料库", "个", "dataset releasable",
       domains=TALKS, zh_def="bare"),
    _n("experiment", "experiment", "experiments", "Experiment", "Experimente", "n", "实验", "个", "experiment",
       domains=TALKS, zh_def="bare"),
    _n("result", "result", "results", "Ergebnis", "Ergebnisse", "n", "结果", "个", "result", domains=TALKS,
       zh_def="bare"),
    _n("task", "task", "tasks", "Aufgabe", "Aufgaben", "f", "任务", "个", "task", domains=TALKS, zh_def="bare"),
    _n("language", "language", "languages", "Sprache", "Sprachen", "f", "语言", "种", "language_t",
       domains=BOTH, zh_def="bare"),
    _n("sentence", "sentence", "sentences", "Satz", "Sätze", "m", "句子", "个", "unit text", domains=TALKS,
       zh_def="bare"),
    _n("word", "word", "words", "Wort", "Wörter", "n", "词", "个", "unit text", domains=TALKS, zh_def="bare"),
    _n("example", "example", "examples", "Beispiel", "Beispiele", "n", "例子", "个", "example", domains=TALKS,
       zh_def="bare"),
    _n("slide", "slide", "slides", "Folie", "Folien", "f", "幻灯片", "张", "slide", domains=TALKS, zh_def="bare"),
    _n("figure", "figure", "figures", "Abbildung", "Abbildungen", "f", "图", "张", "figure", domains=TALKS,
       zh_def="bare"),
    _n("table_t", "table", "tables", "Tabelle", "Tabellen", "f", "表", "张", "figure", domains=TALKS,
       zh_def="bare"),
    _n("parameter", "parameter", "parameters", "Parameter", "Parameter", "m", "参数", "个", "unit",
       domains=TALKS, zh_def="bare"),
    _n("gpu", "GPU", "GPUs", "GPU", "GPUs", "f", "GPU", "块", "gpu", domains=TALKS, zh_def="bare"),
    _n("speaker", "speaker", "speakers", "Sprecher", "Sprecher", "m", "说话人", "位", "person unit",
       domains=TALKS, zh_def="bare", human=True),
    _n("annotator", "annotator", "annotators", "Annotator", "Annotatoren", "m", "标注员", "位", "person",
       domains=TALKS, zh_def="bare", human=True),
    _n("user", "user", "users", "Nutzer", "Nutzer", "m", "用户", "个", "person", domains=TALKS, zh_def="bare",
       human=True),
    _n("error", "error", "errors", "Fehler", "Fehler", "m", "错误", "个", "error", domains=TALKS, zh_def="bare"),
    _n("question", "question", "questions", "Frage", "Fragen", "f", "问题", "个", "question", domains=TALKS,
       zh_def="bare"),
    _n("problem", "problem", "problems", "Problem", "Probleme", "n", "问题", "个", "question", domains=TALKS,
       zh_def="bare"),
    _n("idea", "idea", "ideas", "Idee", "Ideen", "f", "想法", "个", "idea", domains=TALKS, zh_def="bare"),
    _n("metric", "metric", "metrics", "Metrik", "Metriken", "f", "指标", "个", "metric_n", domains=TALKS,
       zh_def="bare"),
    _n("encoder", "encoder", "encoders", "Encoder", "Encoder", "m", "编码器", "个", "component",
       domains=TALKS, zh_def="bare"),
    _n("decoder", "decoder", "decoders", "Decoder", "Decoder", "m", "解码器", "个", "component",
       domains=TALKS, zh_def="bare"),
    _n("architecture", "architecture", "architectures", "Architektur", "Architekturen", "f", "架构", "种",
       "architecture", domains=TALKS, zh_def="bare"),
    _n("layer", "layer", "layers", "Schicht", "Schichten", "f", "", "层", "layer", domains=TALKS, zh_def="bare"),
    _n("recording", "recording", "recordings", "Aufnahme", "Aufnahmen", "f", "录音", "段", "unit audio",
       domains=TALKS, zh_def="bare"),
    _n("benchmark", "benchmark", "benchmarks", "Benchmark", "Benchmarks", "m", "基准测试", "个", "testset",
       domains=TALKS, zh_def="bare"),
    _n("code", "code", "", "Code", "", "m", "代码", "", "releasable_code", domains=TALKS, mass=True, zh_def="bare"),
    _n("colleague", "colleague", "colleagues", "Kollege", "Kollegen", "m", "同事", "位", "person",
       domains=TALKS, de_obl="Kollegen", zh_def="bare", human=True),
)

# Quality measures, rendered without article in Chinese and with the definite article
# in English and German (the accuracy / die Genauigkeit / 准确率).
METRICS = (
    _n("accuracy", "accuracy", "", "Genauigkeit", "", "f", "准确率", "", "metric up", domains=TALKS,
       mass=True, zh_def="bare"),
    _n("precision", "precision", "", "Präzision", "", "f", "精确率", "", "metric up", domains=TALKS,
       mass=True, zh_def="bare"),
    _n("recall", "recall", "", "Trefferquote", "", "f", "召回率", "", "metric up", domains=TALKS,
       mass=True, zh_def="bare"),
    _n("error_rate", "error rate", "", "Fehlerrate", "", "f", "错误率", "", "metric down", domains=TALKS,
       mass=True, zh_def="bare"),
    _n("wer", "word error rate", "", "Wortfehlerrate", "", "f", "词错误率", "", "metric down", domains=TALKS,
       mass=True, zh_def="bare"),
    _n("latency", "latency", "", "Latenz", "", "f", "延迟", "", "metric down", domains=TALKS, mass=True,
       zh_def="bare"),
    _n("memory", "memory usage", "", "Speicherverbrauch", "", "m", "内存占用", "", "metric down",
       domains=TALKS, mass=True, zh_def="bare"),
    _n("training_time", "training time", "", "Trainingszeit", "", "f", "训练时间", "", "metric down",
       domains=TALKS, mass=True, zh_def="bare"),
)


def _ta(key, en, de, zh_attr, zh_pred, tags, **kw) -> Adjective:
    return Adjective(key, en, de, zh_attr, zh_pred, "", "", "", tuple(tags.split()), **kw)


TALK_ADJECTIVES = (
    _ta("t_new", "new", "neu", "新", "很新", "approach system dataset metric_n architecture benchmark_t"),
    _ta("t_simple", "simple", "einfach", "简单的", "很简单", "approach system architecture example metric_n"),
    _ta("t_efficient", "efficient", "effizient", "高效的", "很高效", "approach system architecture"),
    _ta("t_robust", "robust", "robust", "鲁棒的", "很鲁棒", "approach system"),
    _ta("t_large", "large", "groß", "大型", "很大", "system dataset"),
    _ta("t_small", "small", "klein", "小型", "很小", "system dataset"),
    _ta("t_multilingual", "multilingual", "mehrsprachig", "多语言", "", "system dataset benchmark_t"),
    _ta("t_pretrained", "pretrained", "vortrainiert", "预训练", "", "system_model"),
    _ta("t_public", "public", "öffentlich", "公开的", "", "dataset benchmark_t"),
    _ta("t_fast", "fast", "schnell", "快速的", "很快", "approach"),
    _ta("t_interesting", "interesting", "interessant", "有意思的", "很有意思", "result example question idea"),
    _ta("t_important", "important", "wichtig", "重要的", "很重要", "result question idea task"),
    _ta("t_difficult", "difficult", "schwierig", "困难的", "很难", "task example"),
    _ta("t_good", "good", "gut", "很好的", "很好", "result idea question"),
    _ta("t_different", "different", "verschieden", "不同的", "", "different"),
    _ta("t_proposed", "proposed", "vorgeschlagen", "所提出的", "", "approach system"),
    _ta("t_original", "original", "ursprünglich", "原始", "", "system"),
    _ta("t_previous", "previous", "vorherig", "之前的", "", "system"),
    _ta("t_commercial", "commercial", "kommerziell", "商业", "", "system"),
    _ta("t_best", "best", "best", "最好的", "", "system"),
)

# Comparatives: "X is faster than Y" -> "X ist schneller als Y" -> "X比Y更快".
COMPARATIVES = (
    P("faster", "schneller", "更快"), P("better", "besser", "更好"), P("more accurate", "genauer", "更准确"),
    P("more robust", "robuster", "更鲁棒"), P("smaller", "kleiner", "更小"),
    P("more efficient", "effizienter", "更高效"), P("simpler", "einfacher", "更简单"),
)

TALK_VERBS = (
    V("propose", "propose", "proposed", "vorschlagen", "vorgeschlagen", "提出", ("approach", "system", "metric_n"),
      ("person",), de_prefix="vor", de_du="schlägst", de_er="schlägt"),
    V("present", "present", "presented", "vorstellen", "vorgestellt", "介绍",
      ("approach", "system", "dataset", "metric_n", "benchmark_t"), ("person",), de_prefix="vor"),
    V("introduce", "introduce", "introduced", "einführen", "eingeführt", "引入",
      ("approach", "metric_n", "dataset", "benchmark_t"), ("person",), de_prefix="ein"),
    V("train", "train", "trained", "trainieren", "trainiert", "训练", ("trainable",), ("person",)),
    V("evaluate", "evaluate", "evaluated", "evaluieren", "evaluiert", "评估", ("trainable", "approach"),
      ("person",)),
    V("test", "test", "tested", "testen", "getestet", "测试", ("trainable", "approach"), ("person",)),
    V("use", "use", "used", "verwenden", "verwendet", "使用",
      ("trainable", "approach", "dataset", "metric_n", "testset"), ("person",)),
    V("collect", "collect", "collected", "sammeln", "gesammelt", "收集", ("dataset", "audio"), ("person",), de_present=("sammle", "sammelst", "sammelt", "sammeln", "sammelt", "sammeln")),
    V("annotate", "annotate", "annotated", "annotieren", "annotiert", "标注", ("dataset", "text", "audio"),
      ("person",)),
    V("release", "release", "released", "veröffentlichen", "veröffentlicht", "发布",
      ("releasable", "releasable_code"), ("person",)),
    V("choose", "choose", "chose", "wählen", "gewählt", "选择", ("dataset", "metric_n", "baseline", "architecture"),
      ("person",)),
)

# Tasks after "for": German without article where German speakers drop it.
TASKS = (
    P("machine translation", "maschinelle Übersetzung", "机器翻译"),
    P("speech recognition", "Spracherkennung", "语音识别"),
    P("speech translation", "Sprachübersetzung", "语音翻译"),
    P("text classification", "Textklassifikation", "文本分类"),
    P("sentiment analysis", "Sentimentanalyse", "情感分析"),
    P("question answering", "die Beantwortung von Fragen", "问答"),
    P("text summarization", "Textzusammenfassung", "文本摘要"),
    P("named entity recognition", "die Erkennung von Eigennamen", "命名实体识别"),
    P("language modeling", "Sprachmodellierung", "语言建模"),
    P("dialogue systems", "Dialogsysteme", "对话系统"),
    P("information extraction", "Informationsextraktion", "信息抽取"),
    P("image captioning", "die Beschreibung von Bildern", "图像描述生成"),
)

# Conditions that make a model better ("if we use more data, ..."), rendered as
# German middle field + infinitive, so that the verb can be conjugated for "wir".
@dataclass(frozen=True)
class Condition:
    en: str               # after "we"
    de_middle: str
    de_verb: Verb
    zh: str               # after 我们


def _talk_verb(key: str) -> Verb:
    for v in TALK_VERBS:
        if v.key == key:
            return v
    raise KeyError(key)


ADD = V("add", "add", "added", "hinzufügen", "hinzugefügt", "增加", (), ("person",),
        de_prefix="hinzu")
TRAIN = _talk_verb("train")
USE = _talk_verb("use")
CONDITIONS = (
    Condition("use more training data", "mehr Trainingsdaten", USE, "使用更多的训练数据"),
    Condition("use a larger model", "ein größeres Modell", USE, "使用更大的模型"),
    Condition("add more layers", "mehr Schichten", ADD, "增加更多的层"),
    Condition("train the model for longer", "das Modell länger", TRAIN, "把模型训练得更久"),
    Condition("use data augmentation", "Datenaugmentierung", USE, "使用数据增强"),
    Condition("add more languages", "mehr Sprachen", ADD, "增加更多的语言"),
    Condition("use the new data set", "den neuen Datensatz", USE, "使用新的数据集"),
    Condition("use a pretrained encoder", "einen vortrainierten Encoder", USE, "使用预训练的编码器"),
    Condition("add more speakers", "mehr Sprecher", ADD, "增加更多的说话人"),
    Condition("use cleaner data", "sauberere Daten", USE, "使用更干净的数据"),
)
# Conditions that make a model cheaper (latency, memory, training time go down).
COST_CONDITIONS = (
    Condition("use a smaller model", "ein kleineres Modell", USE, "使用更小的模型"),
    Condition("use fewer layers", "weniger Schichten", USE, "使用更少的层"),
    Condition("use more GPUs", "mehr GPUs", USE, "使用更多的GPU"),
    Condition("train the model for fewer epochs", "das Modell weniger Epochen lang", TRAIN, "减少训练轮数"),
)

# Where a system works well or fails: German "bei" + dative, Chinese 在...上.
CHALLENGES = (
    P("long sentences", "bei langen Sätzen", "长句子"),
    P("short sentences", "bei kurzen Sätzen", "短句子"),
    P("noisy audio", "bei verrauschten Audiodaten", "有噪声的音频"),
    P("spontaneous speech", "bei spontaner Sprache", "自发语音"),
    P("small data sets", "bei kleinen Datensätzen", "小型数据集"),
    P("rare words", "bei seltenen Wörtern", "罕见词"),
    P("other languages", "bei anderen Sprachen", "其他语言"),
    P("unseen domains", "bei unbekannten Domänen", "未见过的领域"),
)
# The same targets after "also work for": German "für" + accusative.
CHALLENGES_FOR = (
    P("long sentences", "für lange Sätze", "长句子"),
    P("short sentences", "für kurze Sätze", "短句子"),
    P("noisy audio", "für verrauschte Audiodaten", "有噪声的音频"),
    P("spontaneous speech", "für spontane Sprache", "自发语音"),
    P("small data sets", "für kleine Datensätze", "小型数据集"),
    P("rare words", "für seltene Wörter", "罕见词"),
    P("other languages", "für andere Sprachen", "其他语言"),
    P("unseen domains", "für unbekannte Domänen", "未见过的领域"),
)

# Discourse openers of a talk, all followed by V2 inversion in German.
PAPER_FRAMES = (
    P("In this paper", "In diesem Artikel", "在这篇论文中"),
    P("In this talk", "In diesem Vortrag", "在这次报告中"),
    P("In this work", "In dieser Arbeit", "在这项工作中"),
)
SLIDE_PLACES = (   # (phrase, Chinese for "as shown in ...")
    (P("on this slide", "auf dieser Folie", "在这张幻灯片上"), "如这张幻灯片所示"),
    (P("in this table", "in dieser Tabelle", "在这张表中"), "如这张表所示"),
    (P("in this figure", "in dieser Abbildung", "在这张图中"), "如这张图所示"),
    (P("on the next slide", "auf der nächsten Folie", "在下一张幻灯片上"), "如下一张幻灯片所示"),
    (P("in the last table", "in der letzten Tabelle", "在最后一张表中"), "如最后一张表所示"),
)
SEQUENCERS = (
    P("First", "Zuerst", "首先"), P("Next", "Als Nächstes", "接下来"), P("Then", "Dann", "然后"),
    P("Finally", "Zum Schluss", "最后"), P("Now", "Jetzt", "现在"),
)
TALK_PAST_TIMES = (
    P("last year", "letztes Jahr", "去年"), P("last month", "letzten Monat", "上个月"),
    P("in our previous paper", "in unserem früheren Artikel", "在我们之前的论文中"),
    P("for this paper", "für diesen Artikel", "为了这篇论文"),
)
DURATION_UNITS = (   # (en singular, en plural, de singular acc, de plural, zh unit)
    ("day", "days", "einen Tag", "Tage", "天"),
    ("hour", "hours", "eine Stunde", "Stunden", "个小时"),
    ("week", "weeks", "eine Woche", "Wochen", "周"),
)

# Large quantities: digits in all three languages; Chinese counts in 万 and 亿.
MILLIONS = (
    ("10 million", "10 Millionen", "1000万"), ("50 million", "50 Millionen", "5000万"),
    ("100 million", "100 Millionen", "1亿"), ("300 million", "300 Millionen", "3亿"),
    ("600 million", "600 Millionen", "6亿"), ("2 billion", "2 Milliarden", "20亿"),
    ("7 billion", "7 Milliarden", "70亿"),
)

ALL_NOUNS = GENERAL_NOUNS + TALK_NOUNS + METRICS
ALL_VERBS = GENERAL_VERBS + (ANIMAL_EAT, LIVE, KNOW) + MOTIONS + ROUTINE_VERBS + TALK_VERBS + (ADD,)


def verb(key: str) -> Verb:
    for v in ALL_VERBS:
        if v.key == key:
            return v
    raise KeyError(key)


def noun(key: str) -> Noun:
    for n in ALL_NOUNS:
        if n.key == key:
            return n
    raise KeyError(key)
