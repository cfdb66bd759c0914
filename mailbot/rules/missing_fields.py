"""missing_fields: GRSoft requests must hold what the regulation lists, else it is asked (seed 002).

GRSoft cannot solve what it cannot see ("Мы не можем решить то, что не в силах описать
заказчик"), so a request must carry: the project (Napoleon name, AceTeam code, or AcePacer in
the subject), the author's name and contact details, a detailed description, the modules
affected, the steps to reproduce, the impact on work, how many employees are affected, and
for Napoleon the database from the mobile device and a link to the exchange folder's
archive. A request lacking any of these opens a ticket waiting for the customer with ONE
reply listing exactly what is missing; the SLA clock waits meanwhile.

Customers do not fill in forms: each field is found whether it is a labelled line
("Код проекта: AT-20417", "Шаги: ...") or plain prose ("у 12 сотрудников", "1. Открыть ...
2. Нажать ...", a signature with a name and a phone), in Russian or English. Where prose is
ambiguous the rule leans to "given": asking a customer for what they already wrote is worse
than an agent asking one question by hand.

Decisions the regulation leaves open:
- `contact` needs a person's name AND a way to reach them written in the mail (a phone, a
  messenger, an e-mail address in the text). The From address alone is not enough: it is
  where our reply goes anyway, and the regulation asks the author to give contact details.
  The name may come from the From display name when it looks like a person's.
- `description` counts the words the customer wrote (greeting, signature and labelled
  project/contact/employee lines left out) against `min_description_words`.
- `exchange_archive_link` is an http(s) URL: a file-sharing or archive link anywhere, or any
  URL after words such as "архив", "обмен", "ссылка", "exchange", "archive", "link" (on its
  line or the line before) — but not a website in the signature.
- `mobile_database` is an attachment whose bytes are a SQLite database, or a ZIP/7z whose
  listing holds a .db/.sqlite file (only the listing is read, with an entry limit).
- The product comes from `_products.ProductTable`, built from the desk's `[rule.product]`
  table at start-up, so the `product` annotation and this rule never disagree. A desk that
  does not run `product` has no products table: then only its customers' projects
  (`Customer.projects`) tell the product.

A basic question is not a fault report (GRSoft: "Даже если вопрос будет касаться каких-то
базовых настроек, ответ вы, скорее всего, получите в виде ссылки на нашу базу знаний"): with
`[kb] basic_questions = true`, a new request that the knowledge base answers (the pipeline
found articles above the desk's threshold), that asks a question (one of `[kb]
question_words`: "как", "где", "how do i"...) and names no fault (none of `[kb] fault_words`:
"ошибк*", "не работает"...) is asked nothing; its acknowledgement carries the links.

On a follow-up in a ticket that waits for the customer, the customer's earlier text and
attachments count together with this mail: a field given earlier (not among the ticket's
`missing`) stays given, and the ticket opens when nothing is owed any more; otherwise the
customer is asked again for exactly what is still missing. A follow-up to a ticket that is
not waiting for the customer asks nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import Field, field_validator

from mailbot.config import DeskSettings
from mailbot.errors import ConfigError
from mailbot.parse import Attachment, Mail
from mailbot.rules import Action, Context, RuleSettings, Verdict
from mailbot.rules._archives import member_names
from mailbot.rules._keywords import KeywordSet, Phrases, check_phrases, fold, searchable
from mailbot.rules._labels import Labels
from mailbot.rules._products import (
    PROJECT_LABELS,
    ProductMatch,
    ProductSettings,
    ProductTable,
    own_text,
    project_named,
)
from mailbot.textnorm import clean_subject

FIELD_CODES = (
    "project",
    "contact",
    "description",
    "modules",
    "steps_to_reproduce",
    "impact",
    "affected_employees",
    "mobile_database",
    "exchange_archive_link",
)
"""Every field a desk may require, in the order replies list them."""

SQLITE_TYPES = frozenset({"application/vnd.sqlite3", "application/x-sqlite3"})
ARCHIVE_TYPES = frozenset(
    {"application/zip", "application/x-zip-compressed", "application/x-7z-compressed"}
)
DATABASE_SUFFIXES = (".db", ".sqlite", ".sqlite3", ".db3")
MAX_ARCHIVE_ENTRIES = 10_000
"""An archive declaring more entries is not listed: a mobile database comes in a small one."""

# -- labels and words ------------------------------------------------------------------------

_NAME_LABELS = Labels.of(
    (
        "имя",
        "фио",
        "ф.и.о",
        "ф.и.о.",
        "контактное лицо",
        "автор",
        "автор обращения",
        "ваше имя",
        "name",
        "full name",
        "your name",
        "contact person",
        "author",
    )
)
_CONTACT_LABELS = Labels.of(
    (
        "контакт",
        "контакты",
        "контактные данные",
        "контактная информация",
        "имя и контактные данные",
        "ваше имя и контактные данные",
        "телефон",
        "тел",
        "тел.",
        "моб",
        "моб.",
        "мобильный",
        "сотовый",
        "contact",
        "contacts",
        "contact details",
        "contact info",
        "contact information",
        "your name and contact details",
        "name and contact details",
        "phone",
        "tel",
        "tel.",
        "mobile",
        "cell",
    )
)
_MODULE_LABELS = Labels.of(
    (
        "модуль",
        "модули",
        "приложение",
        "приложения",
        "раздел",
        "подсистема",
        "компонент",
        "затронутые модули",
        "затронутые приложения",
        "приложения или модули",
        "module",
        "modules",
        "application",
        "applications",
        "app",
        "component",
        "affected modules",
        "affected applications",
        "applications or modules affected",
    )
)
_STEP_LABELS = Labels.of(
    (
        "шаги",
        "шаги воспроизведения",
        "шаги для воспроизведения",
        "порядок действий",
        "порядок воспроизведения",
        "как воспроизвести",
        "воспроизведение",
        "steps",
        "steps to reproduce",
        "how to reproduce",
        "reproduction steps",
        "repro steps",
    )
)
_IMPACT_LABELS = Labels.of(
    (
        "влияние",
        "влияние на работу",
        "на что влияет",
        "чем мешает",
        "чем мешает работать",
        "последствия",
        "impact",
        "impact on work",
        "business impact",
        "effect",
    )
)
_EMPLOYEE_LABELS = Labels.of(
    (
        "затронуто сотрудников",
        "количество сотрудников",
        "кол-во сотрудников",
        "число сотрудников",
        "сколько сотрудников",
        "количество затронутых сотрудников",
        "сотрудников",
        "сотрудники",
        "затронуто пользователей",
        "количество пользователей",
        "кол-во пользователей",
        "пользователей",
        "affected employees",
        "employees affected",
        "number of employees",
        "number of employees affected",
        "employees",
        "affected users",
        "users affected",
        "number of users",
        "users",
    )
)
_NOT_DESCRIPTION_LABELS = Labels.of(
    PROJECT_LABELS.names, _NAME_LABELS.names, _CONTACT_LABELS.names, _EMPLOYEE_LABELS.names
)
_ALL_LABELS = Labels.of(
    _NOT_DESCRIPTION_LABELS.names, _MODULE_LABELS.names, _STEP_LABELS.names, _IMPACT_LABELS.names
)

_MODULE_WORDS = Phrases.of(
    {
        "ru": [
            "модул*",
            "раздел*",
            "вкладк*",
            "подсистем*",
            "мобильн* приложени*",
            "приложени* наполеон*",
            "приложени* на телефон*",
            "приложени* на планшет*",
            "приложени* на устройств*",
            "офисн* част*",
            "личн* кабинет*",
            "веб-кабинет*",
            "админк*",
            "карточк*",
            "экран*",
            "на мобильн* устройств*",
            "приложени* {aceteam,acepacer,эйстим*,эйспейсер*}",
            "{открыл*,открываю,открываем,открыть} приложени*",
            "{запускаю,запускаем,запустил*,запустить} приложени*",
            "панел* администратор*",
        ],
        "en": [
            "module*",
            "app",
            "apps",
            "application",
            "applications",
            "mobile app*",
            "web portal",
            "admin panel",
            "back office",
            "section",
            "screen",
        ],
    }
)
_STEP_WORDS = Phrases.of(
    {
        "ru": [
            "шаг*",
            "порядок действий",
            "последовательност* действий",
            "чтобы воспроизвести",
            "как воспроизвести",
            "для воспроизведения",
        ],
        "en": ["steps", "step 1", "to reproduce", "reproduction steps", "repro steps"],
    }
)
# "Воспроизводится так: ...", "it happens like this": the steps follow in prose.
_STEP_CUES = Phrases.of(
    {
        "ru": [
            "{воспроизводи*,повторя*,происходит,получается,бывает} так",
            "{чтобы,чтоб,как} {повторить,воспроизвести} ... {берете,берешь,берем,открываете,"
            "открываешь,заходите,заходишь,нажимаете,жмете}",
            "{чтобы,чтоб} {повторить,воспроизвести}",
            "{повторить,воспроизвести} {можно,легко,просто} {так,}",
        ],
        "en": [
            "{happens,reproduces,reproduce it,reproduce this} like this",
            "here is how",
            "here's how",
            "to reproduce it",
        ],
    }
)
# "Сначала ..., потом ...": one thing done after another in a sentence.
_SEQUENCE = re.compile(
    r"(?<!\w)(?:сначала|сперва|вначале|first|at first)(?!\w).*?"
    r"(?<!\w)(?:потом|затем|после этого|после чего|далее|then|after that|next)(?!\w)",
    re.IGNORECASE,
)
_THEN = re.compile(
    r"(?<!\w)(?:потом|затем|после этого|после чего|and then|after that)(?!\w)", re.IGNORECASE
)
# "Шаги пришлю позже", "steps will follow", "не знаю, как воспроизвести": no steps given.
_NO_STEPS = re.compile(
    r"(?<!\w)(?:пришл(?:ю|ем)|вышл(?:ю|ем)|опиш(?:у|ем)|напиш(?:у|ем)|отправл(?:ю|им)|"
    r"отправим|позже|позднее|"
    r"не знаю|не знаем|не понима\w*|не можем понять|не получается воспроизвести|не удается|"
    r"will follow|will send|later|don't know|do not know|cannot reproduce|can't reproduce)(?!\w)",
    re.IGNORECASE,
)
# Two different actions told in sequence ("открываем заказ, нажимаем «Отправить»") are steps.
_ACTIONS = tuple(
    Phrases.of(group)
    for group in (
        ("открыва*", "открыл*", "открыть", "открою", "откройте", "open", "opens", "opened"),
        ("нажима*", "нажал*", "нажать", "нажму", "нажмите", "жму", "жмем", "press", "pressed"),
        ("кликаю", "кликаем", "кликнул*", "кликнуть", "click*", "tap", "tapped", "тапа*", "тапну*"),
        ("выбира*", "выбрал*", "выбрать", "выберите", "select", "selected", "choose", "chose"),
        ("ввожу", "вводим", "ввел*", "ввести", "введите", "enter", "entered", "type in"),
        ("захожу", "заходим", "зашел", "зашли", "зайти", "зайдите", "go to", "went to", "log in"),
        ("перехожу", "переходим", "перешел", "перешли", "перейти", "перейдите", "navigate*"),
        ("запуска*", "запустил*", "запустить", "launch*", "start the", "started the"),
        ("создаю", "создаем", "создаете", "создаешь", "создал*", "создать", "create", "created"),
        ("сохраняю", "сохраняем", "сохранил*", "сохранить", "save", "saved"),
        ("переключа*", "переключил*", "switch", "switched", "switch back"),
        ("прокручива*", "прокрутил*", "листаю", "scroll*"),
        ("заполня*", "заполнил*", "заполнить", "fill in", "fills in", "filled in"),
        (
            "отправляю",
            "отправляем",
            "отправляете",
            "отправил*",
            "отправить",
            "submit*",
            "send",
            "sent",
        ),
        ("синхронизиру*", "запускаю обмен", "запускаем обмен", "sync", "synced", "synchronise*"),
        ("добавляю", "добавляем", "добавил*", "добавить", "добавляете", "add", "added"),
        ("меняю", "меняем", "меняете", "меняешь", "поменял*", "изменяю", "изменил*", "changed"),
        ("удаляю", "удаляем", "удалил*", "удалить", "удаляете", "delete*", "remove*"),
        ("авторизу*", "логинюсь", "залогин*", "log out", "logged out", "sign in", "signed in"),
        ("закрываю", "закрываем", "закрывает", "закрывают", "закрыл*", "закрыть", "close*"),
        ("беру", "берем", "берете", "берешь", "взял*", "взять"),
        ("ставлю", "ставим", "ставишь", "ставите", "поставил*", "поставить"),
        ("пробую", "пробуем", "пробуете", "пытаюсь", "пытаемся", "try", "tried"),
        ("жмет", "жмут", "жмешь", "жмете", "фотографиру*", "сфотографир*"),
    )
)
_IMPACT_WORDS = Phrases.of(
    {
        "ru": [
            "влия*",
            "меша*",
            "не мо* работать",
            "не мо* нормально работать",
            "невозможно работать",
            "нельзя работать",
            "работа сто*",
            "работа останов*",
            "работа парализ*",
            "парализ*",
            "простаива*",
            "простой",
            "простои",
            "срыва*",
            "сорва*",
            "теря*",
            "потеря{ли,ем} {время,времени,деньги,клиент*,заказ*,выручк*,продаж*,данные}",
            "потер{и,ь} {время,времени,денег,клиент*,заказ*,выручк*,продаж*}",
            "из-за этого",
            "из-за этой",
            "в результате",
            "как следствие",
            "сто{ит,ят,ит вся} {отгрузк*,склад,производств*,работа,продаж*}",
            "{отгрузк*,склад,производств*,продажи} сто{ит,ят,ит}",
            "приходится",
            "придется",
            "жалу{ются,ется}",
            "жалоб*",
            "отказыва{ются,ется}",
            "ругаются",
            "задержива*",
            "задерж{ка,ки,ку}",
            "уезжа* без",
            "сидят и ждут",
            "сидят без работы",
            "убыт*",
            "штраф*",
            "не мо* отгруж*",
            "не мо* прин* заказ*",
            "не мо* оформ*",
            "не мо* отправ* заказ*",
            "не получа* работать",
            "не получа* прин* заказ*",
            "не получа* отгруж*",
            "не получа* оформ*",
            "невозможно прин* заказ*",
            "невозможно отгруж*",
            "невозможно оформ*",
            "заказы не уход*",
            "заказы не доход*",
            "критичн*",
            "блокиру*",
            "остановлен*",
            # what the business cannot do any more, told without a label: pay people, visit
            # the route, meet the plan, hand in a report, deliver
            "{зарплат*,преми*,бонус*,аванс*,мотиваци*} ... {не можем,не сможем,не получится,"
            "не получается,невозможно,нельзя,задерж*,сорв*,не успе*}",
            "{не можем,не сможем,не получится,не получается,невозможно} ... {выплатить,начислить,"
            "рассчитать,посчитать} ... {зарплат*,преми*,бонус*,аванс*}",
            "{маршрут*,визит*,точк*} ... не {был,была,было,были} посещен*",
            "{маршрут*,визит*,точк*} ... {не посещ*,не отработ*,сорван*,пропущен*}",
            "{остал*,оста*} без {визит*,товар*,заказ*,доставк*,отгрузк*}",
            "план* ... {не выполн*,не выполнен*,не выполним*,провал*,не закро*,не закры*}",
            "{ездят,ездили,катаются,работают,работали,работаем} "
            "{впустую,вслепую,на бумаге,вручную}",
            "{на бумаге,вручную,руками} ... {вбива*,забива*,пишут,писали,оформля*,считаем,считают,"
            "переносим,переносят}",
            "{претензи*,недовоз*,недогруз*,неустойк*,недовольн*}",
            "{отгрузк*,склад,работа,доставк*,продажи,торговля,все} встал*",
            "встал* {отгрузк*,работа,склад,доставк*,продажи}",
            "{машины,водители,экспедиторы,агенты,торговые} ... не {выехал*,поехал*,уехал*}",
            "{сдать,закрыть,отчитаться,отгрузить,доставить} ... не {можем,сможем,получится,успеем,"
            "успеваем}",
            "не {можем,сможем,получится,успеем,успеваем} ... {сдать,закрыть,отчитаться,отгрузить,"
            "доставить}",
            "{полки,витрины} ... пуст*",
            "товар ... не {доехал*,доставлен*,привезли,довезли}",
        ],
        "en": [
            "impact*",
            "cannot work",
            "can't work",
            "can not work",
            "unable to work",
            "cannot take orders",
            "can't take orders",
            "cannot ship",
            "can't ship",
            "blocks",
            "blocking",
            "blocked",
            "prevents",
            "preventing",
            "standstill",
            "downtime",
            "losing",
            "lost orders",
            "lost sales",
            "delays",
            "delayed",
            "so the",
            "so our",
            "so we",
            "because of this",
            "as a result",
            "complain*",
            "refuse*",
            "wasting",
            "lose",
            "nothing to",
            "critical",
            "halted",
            "{missed,missing,skipped} ... {visits,deliveries,orders,shipments}",
            "{not,won't,will not,can't,cannot,didn't,did not} {hit,meet,reach,make} ... "
            "{target*,plan,quota}",
            "{pay,paying,calculate} ... {salar*,bonus*,commission*,wages}",
            "{work*,doing,enter*,typing,writing,process*} ... {on paper,manually,by hand}",
            "{empty shelves,unhappy,penalt*}",
        ],
    }
)
_EVERYONE_WORDS = Phrases.of(
    {
        "ru": [
            "у всех",
            "у каждого",
            "только у меня",
            "у меня одного",
            "только я",
            "только у одного",
            "весь отдел",
            "вся команда",
            "все наши",
        ],
        "en": [
            "everyone",
            "everybody",
            "all of us",
            "only me",
            "just me",
            "only i",
            "whole team",
            "entire team",
        ],
    }
)
_LINK_HINT_WORDS = Phrases.of(
    {
        "ru": ["архив*", "обмен*", "каталог*", "папк*", "ссылк*", "выгрузк*", "скача*", "выложил*"],
        "en": ["exchange", "archive*", "folder", "link", "download*", "uploaded"],
    }
)
_FILE_SHARING_HOSTS = (
    "disk.yandex.",
    "yadi.sk",
    "cloud.mail.ru",
    "drive.google.com",
    "docs.google.com",
    "dropbox.com",
    "dropboxusercontent.com",
    "onedrive.live.com",
    "1drv.ms",
    "sharepoint.com",
    "mega.nz",
    "mega.io",
    "wetransfer.com",
    "we.tl",
    "files.fm",
    "sendspace.com",
    "mediafire.com",
    "box.com",
    "icloud.com",
    "fex.net",
)
_ARCHIVE_SUFFIXES = (".zip", ".7z", ".rar", ".tar.gz", ".tgz", ".tar")

# -- patterns ----------------------------------------------------------------------------------

_SIGN_OFF = re.compile(
    r"^\s*(?P<phrase>с уважением|с наилучшими пожеланиями|всего доброго|всего хорошего|"
    r"best regards|kind regards|warm regards|regards|best wishes|yours sincerely|sincerely|"
    r"cheers|br)\b[\s,.!:;-]*(?P<rest>.*)$",
    re.IGNORECASE,
)
_THANKS = re.compile(
    r"^\s*(?:заранее спасибо|спасибо|благодарю|thanks in advance|thank you|many thanks|thanks)"
    r"\b[\s,.!:;-]*(?P<rest>.*)$",
    re.IGNORECASE,
)
_GREETING = re.compile(
    r"^\s*(?:добрый день|добрый вечер|доброе утро|здравствуйте|здравствуй|привет|приветствую|"
    r"коллеги|уважаемые|уважаемый|hello|hi|dear|good morning|good afternoon|greetings)\b",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"\w+")
_PHONE_CANDIDATE = re.compile(r"\+?\d[\d \t()\-]{5,20}\d")
_PHONE_LABEL = re.compile(
    r"(?:тел|телефон|моб|мобильный|сот|сотовый|phone|tel|mob|mobile|cell|whatsapp|viber|"
    r"вотсап|ватсап)\.?\s*[:.\-]?\s*$",
    re.IGNORECASE,
)
_MESSENGER = re.compile(
    r"(?:telegram|телеграм\w*|tg|skype|скайп)\s*[:\-]?\s*@?[\w.]{3,}", re.IGNORECASE
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NAME_WORD = re.compile(r"^(?:[A-ZА-ЯЁ][a-zа-яё'’-]+|[A-ZА-ЯЁ]\.(?:[A-ZА-ЯЁ]\.)?)$")
# fmt: off
_NOT_NAMES = frozenset({
    "ооо", "оао", "зао", "пао", "ао", "ип", "чп", "тов", "llc", "ltd", "inc", "gmbh", "corp",
    "co", "support", "поддержка", "техподдержка", "отдел", "компания", "company", "team",
    "admin", "администратор", "info", "office", "sales", "менеджер", "инженер", "директор",
    "руководитель", "специалист", "бухгалтер", "manager", "engineer", "director", "head",
    "specialist", "тел", "телефон", "phone", "mobile", "email", "e-mail", "моб", "сот",
    "привет", "hello", "thanks", "спасибо", "regards", "уважением",
    "наполеон", "наполеона", "наполеоне", "napoleon", "aceteam", "acepacer", "android", "ios",
    "iphone", "windows", "excel", "whatsapp", "viber", "telegram", "skype",
})
# fmt: on
_SEGMENT_SPLIT = re.compile(r"[,;|/–—]|\s-\s")
_LIST_ITEM = re.compile(r"(?<!\S)([1-9])[.)]\s+\S")
_ARROWS = re.compile(r"\S\s*(?:->|→|=>|\s>\s)\s*\S[^\n]*?(?:->|→|=>|\s>\s)\s*\S")
_PEOPLE = (
    r"(?:сотрудник\w*|пользовател\w*|представител\w*|агент\w*|человек\w*|чел\b\.?|"
    r"менеджер\w*|водител\w*|экспедитор\w*|мерчендайзер\w*|супервайзер\w*|работник\w*|"
    r"юзер\w*|продавц\w*|курьер\w*|коллег\w*|employees?|users?|people|persons?|reps?|"
    r"representatives?|agents?|staff|drivers?|managers?|colleagues?|workers?|salespeople|"
    r"couriers?|merchandisers?|торговы[хем]|торговым|исполнител\w*|техник\w*|инженер\w*|"
    r"technicians?|engineers?)"
)
_NUMBER = (
    r"(?:\d{1,5}|один|одна|одного|одной|одному|одним|два|две|двух|двум|три|трех|трем|четыре|"
    r"четырех|пять|пяти|шесть|шести|семь|семи|восемь|восьми|девять|девяти|десять|десяти|"
    r"двадцать|двадцати|сто|ста|все|всех|всем|всеми|каждого|каждый|оба|обоих|one|two|three|"
    r"four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|fifty|hundred|"
    r"all|every|both|each|двое|двоих|трое|троих|четверо|четверых|пятеро|пятерых|шестеро|"
    r"шестерых|семеро|семерых|несколько|нескольких)"
)
_NOT_BETWEEN = r"(?!(?:у|в|во|на|для|с|со|от|по|к|ко|при|for|in|on|at|by|with|from|to)\b)"
_COUNT = re.compile(
    rf"(?<!\w){_NUMBER}(?:\s+{_NOT_BETWEEN}[\w-]+){{0,2}}?\s+{_PEOPLE}(?!\w)"
    rf"|(?<!\w){_PEOPLE}\s*(?::|=|-|–|—)\s*{_NUMBER}(?!\w)"
    # "таких у нас человек 20", "сотрудников около 15": a count in digits after the word
    rf"|(?<!\w){_PEOPLE}\s+(?:около\s+|примерно\s+|about\s+)?\d{{1,5}}(?![\w.,:-]\d)(?!\w)"
)
_ACTORS = (
    r"(?:сотрудник\w*|пользовател\w*|представител\w*|агент\w*|торговы[ех]|менеджер\w*|"
    r"руководител\w*|супервайзер\w*|водител\w*|экспедитор\w*|мерчендайзер\w*|курьер\w*|"
    r"оператор\w*|продавц\w*|бухгалтери\w*|бухгалтер\w*|склад\w*|офис\w*|клиент\w*|"
    r"заказчик\w*|покупател\w*|люди|коллег\w*|employees|users|reps|agents|managers|drivers|"
    r"technicians|staff|customers|clients|warehouse|colleagues|people|we|they)"
)
_CANNOT = re.compile(
    rf"(?<!\w){_ACTORS}(?:\s+[\w-]+){{0,3}}?\s+(?:не\s+(?:мо[гж]\w*|вид\w*|получа\w*|"
    r"успева\w*|прин\w*|зна\w*|сда\w*|попада\w*)|"
    r"(?:cannot|can't|can not|can ?no longer|don't|do not|are unable to)\s+\w+)"
)
_PURPOSE = re.compile(r"(?:чтобы|чтоб|so that|to make sure|in order)\W*(?:\w+\W+){0,2}$")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_PURCHASE = re.compile(
    r"(?<!\w)(?:лиценз\w*|тариф\w*|сколько стоит|стоимост\w*|цен[аыу]|докуп\w*|купить|"
    r"приобре\w*|коммерческ\w*|(?:входит|входят|включен\w*) в|licen[cs]e\w*|pricing|price|"
    r"how much|buy|purchase|included in)(?!\w)"
)
_QUESTION_START = re.compile(
    r"^\W*(?:подскажите|скажите|как|почему|зачем|можно|будет|влияет|мешает|помешает|"
    r"does|do|did|will|would|can|could|is|are|how|what|why|should)\b",
    re.IGNORECASE,
)
_URL = re.compile(r"https?://[^\s<>\"'«»()\[\]]+", re.IGNORECASE)
_HREF = re.compile(
    r"<a\b[^>]*?href\s*=\s*[\"']?(https?://[^\"'\s>]+)[^>]*>(.{0,300}?)</a>",
    re.IGNORECASE | re.DOTALL,
)
_TAG = re.compile(r"<[^>]*>")


# -- the material a decision is made on -------------------------------------------------------


@dataclass(frozen=True)
class _Material:
    subject: str
    texts: tuple[str, ...]
    """The customer's own texts: this mail's first, then the earlier ones on the ticket."""
    attachments: tuple[Attachment, ...]
    earlier_types: tuple[str, ...]
    html: str | None
    from_name: str

    @property
    def text(self) -> str:
        return "\n\n".join(self.texts)


def _words_found(text: str, words: Phrases) -> str | None:
    return words.first(fold(text))


def _words(text: str) -> int:
    """Words with at least one letter ("AT-20417" is one, "12" none)."""
    return sum(1 for token in _TOKEN.findall(text) if not token.isdigit())


def _numbered_list(text: str) -> bool:
    """Items 1 and 2 of a numbered list, on lines of their own or inline."""
    seen_first = False
    for match in _LIST_ITEM.finditer(text):
        if match.group(1) == "1":
            seen_first = True
        elif match.group(1) == "2" and seen_first:
            return True
    return False


def _sign_off(lines: Sequence[str]) -> int:
    """Index of the line where the signature begins ("С уважением,"), len(lines) if none."""
    for index, line in enumerate(lines):
        if _SIGN_OFF.match(line):
            return index
        thanks = _THANKS.match(line)
        if thanks and _words(thanks.group("rest")) <= 3:
            return index
    return len(lines)


def _body_lines(text: str) -> list[str]:
    """The lines of a text up to its sign-off, greeting lines left out."""
    lines = text.splitlines()
    return [
        line
        for line in lines[: _sign_off(lines)]
        if not (_GREETING.match(line) and _words(line) <= 6)
    ]


# -- contact -----------------------------------------------------------------------------------


def _person(segment: str) -> bool:
    """A person's name: one to three capitalised words or initials, not a company or a role."""
    words = [w.strip(",;") for w in segment.replace("«", " ").replace("»", " ").split()]
    if not 1 <= len(words) <= 3:
        return False
    for word in words:
        if not _NAME_WORD.match(word) or fold(word).strip(".") in _NOT_NAMES:
            return False
    return True


def _contact_spans(line: str) -> list[tuple[int, int]]:
    """Where a line gives a way to reach someone: phones, messengers, e-mail addresses."""
    spans = []
    for match in _PHONE_CANDIDATE.finditer(line):
        digits = sum(ch.isdigit() for ch in match.group(0))
        plus = match.group(0).startswith("+")
        labelled_phone = _PHONE_LABEL.search(line[max(0, match.start() - 25) : match.start()])
        trunk = match.group(0)[0] in "78" and digits == 11
        if (plus and 10 <= digits <= 15) or trunk or (labelled_phone and 5 <= digits <= 15):
            spans.append(match.span())
    spans.extend(m.span() for m in _MESSENGER.finditer(line))
    spans.extend(m.span() for m in _EMAIL.finditer(line))
    return sorted(spans)


def _names_in(text: str) -> bool:
    """Some comma-separated part of `text` is a person's name ("Иван Петров, ООО Ромашка")."""
    return any(_person(part.strip(" .:")) for part in _SEGMENT_SPLIT.split(text))


def _name_ends(text: str) -> bool:
    """Some part of `text` is a name, or ends in one after a word in lower case: "спросить
    Ольгу", "наш администратор Елена", "ask for Maria Lopez" (not a sentence's first word)."""
    for part in _SEGMENT_SPLIT.split(text):
        words = part.strip(' .:;!()"«»').split()
        if words and _person(" ".join(words)):
            return True
        for size in (2, 1):
            before = words[-size - 1] if len(words) > size else ""
            after_lower = before.islower() or fold(before) in {"я", "i"}
            if after_lower and _person(" ".join(words[-size:])):
                return True
    return False


def _contact(m: _Material) -> bool:
    has_name = _person(m.from_name.strip())
    has_details = False
    for text in m.texts:
        lines = text.splitlines()
        has_name = has_name or _NAME_LABELS.first(text) is not None
        for index, line in enumerate(lines):
            spans = _contact_spans(line)
            if spans:
                has_details = True
                # "Иван Петров, +7 916 ...", or a signature block with the name above
                before = [line[: spans[0][0]], *lines[max(0, index - 3) : index]]
                has_name = has_name or any(_names_in(b) for b in before)
                # in a sentence: "по номеру +7 916 ..., Алексей", "наш администратор Елена,
                # её телефон 8 495 ...", "пишите на a.ivanov@..., Андрей Иванов"
                has_name = has_name or _name_ends(line[: spans[0][0]])
                has_name = has_name or _name_ends(line[spans[-1][1] :])
            sign_off = _SIGN_OFF.match(line) or _THANKS.match(line)
            if sign_off is not None and not has_name:
                after = [sign_off.group("rest"), *lines[index + 1 : index + 3]]
                has_name = any(_person(_SEGMENT_SPLIT.split(a)[0].strip(" .:")) for a in after)
        for _label, value in _CONTACT_LABELS.all(text):
            # the label says it is a contact: "Контакты: 123-45-67" needs no phone format
            digits = sum(ch.isdigit() for ch in value)
            has_details = has_details or digits >= 5 or bool(_contact_spans(value))
            has_name = has_name or _names_in(value)
        if has_name and has_details:
            return True
    return False


# -- the other text fields -----------------------------------------------------------------------


def _description_words(m: _Material) -> int:
    count = 0
    for text in m.texts:
        for line in _body_lines(text):
            if _NOT_DESCRIPTION_LABELS.first(line) is None:
                count += _words(line)
    return count


def _modules(m: _Material) -> bool:
    """A label, or a module named in a sentence that is not about what a licence holds or
    costs ("какие модули входят в лицензию?", "хотим докупить модуль"): those ask about a
    purchase, they name no module the fault affects."""
    if any(_MODULE_LABELS.first(t) for t in m.texts):
        return True
    sentences = [fold(s) for s in _SENTENCE.findall(m.text)]
    if any(_MODULE_WORDS.first(s) is not None and _PURCHASE.search(s) is None for s in sentences):
        return True
    # the subject names what the text is about: a purchase question's subject names no fault
    subject = fold(m.subject)
    return _MODULE_WORDS.first(subject) is not None and not any(
        _PURCHASE.search(s) for s in sentences
    )


def _steps(m: _Material) -> bool:
    """A label, a numbered list, arrows, or prose: a step word or a cue ("воспроизводится
    так:"), one thing done after another ("сначала ..., потом ..."), two different actions.
    A sentence that asks ("какие шаги нужны?"), promises the steps for later ("шаги пришлю
    позже") or cannot give them ("не знаю, как воспроизвести") gives none."""
    text = m.text
    labelled = any(not _NO_STEPS.search(fold(v)) for _label, v in _STEP_LABELS.all(text))
    if labelled or _numbered_list(text) or _ARROWS.search(text):
        return True
    told = [
        fold(s)
        for s in _SENTENCE.findall(text)
        if not s.rstrip().endswith("?") and not _NO_STEPS.search(fold(s))
    ]
    for sentence in told:
        if _STEP_WORDS.first(sentence) is not None or _STEP_CUES.first(sentence) is not None:
            return True
        if _SEQUENCE.search(sentence):
            return True
        then = _THEN.search(sentence)
        if then and any(g.first(sentence[then.end() :]) is not None for g in _ACTIONS):
            return True  # "делаю синхронизацию, потом перехожу в маршрут"
    actions = sum(1 for group in _ACTIONS if any(group.first(s) for s in told))
    return actions >= 2


def _asks(sentence: str) -> bool:
    """A question about influence ("влияет ли настройка...?", "does X impact Y?") states none."""
    if not sentence.rstrip().endswith("?"):
        return False
    return bool(re.search(r"(?<!\w)ли(?!\w)", sentence)) or bool(_QUESTION_START.match(sentence))


def _impact(m: _Material) -> bool:
    """A label, or a sentence telling what the problem stops: the customer's words for it
    ("из-за этого стоит отгрузка"), or people who cannot do their work ("менеджеры не видят
    задачи"). Questions and purposes ("чтобы торговые не видели цены") state no impact; a
    stated lack of impact ("на работу не влияет") is an answer too, and counts."""
    if _IMPACT_LABELS.first(m.text) is not None:
        return True
    for sentence in _SENTENCE.findall(m.text):
        if _asks(sentence):
            continue
        folded = fold(sentence)
        if _IMPACT_WORDS.first(folded) is not None:
            return True
        for found in _CANNOT.finditer(folded):
            if not _PURPOSE.search(folded[: found.start()]):
                return True
    return False


def _employees(m: _Material) -> bool:
    if _EMPLOYEE_LABELS.first(m.text) is not None:
        return True
    folded = "\n".join(fold(line) for line in m.text.splitlines())
    return bool(_COUNT.search(folded)) or _EVERYONE_WORDS.first(fold(m.text)) is not None


# -- attachments and links -----------------------------------------------------------------------


def _is_database(attachment: Attachment) -> bool:
    if attachment.sniffed_type in SQLITE_TYPES:
        return True
    if attachment.content.startswith(b"SQLite format 3\x00"):
        return True
    if attachment.sniffed_type in ARCHIVE_TYPES or attachment.content[:4] == b"PK\x03\x04":
        names = member_names(attachment.content, MAX_ARCHIVE_ENTRIES)
        return any(n.lower().endswith(DATABASE_SUFFIXES) for n in names)
    return False


def _database(m: _Material) -> bool:
    # an archive sent earlier was listed when it came: if it held a database, the field was
    # given then and is not asked again, so only a bare database counts from history
    if any(t in SQLITE_TYPES for t in m.earlier_types):
        return True
    return any(_is_database(a) for a in m.attachments)


def _sharing(url: str) -> bool:
    lower = url.lower()
    host = lower.split("://", 1)[-1].split("/", 1)[0]
    path = lower.split("?", 1)[0]
    return any(h in host for h in _FILE_SHARING_HOSTS) or path.endswith(_ARCHIVE_SUFFIXES)


def _link(m: _Material) -> bool:
    for text in m.texts:
        body = _sign_off(text.splitlines())
        previous = ""
        for index, line in enumerate(text.splitlines()):
            for url in _URL.finditer(line):
                if _sharing(url.group(0)):
                    return True
                hint = f"{previous}\n{line}"
                if index < body and _words_found(hint, _LINK_HINT_WORDS) is not None:
                    return True
            if line.strip():
                previous = line
    if m.html:
        for url, anchor in _HREF.findall(m.html[:1_000_000]):
            if _sharing(url) or _words_found(_TAG.sub(" ", anchor), _LINK_HINT_WORDS):
                return True
    return False


# -- the rule ------------------------------------------------------------------------------------


class MissingFields:
    name = "missing_fields"
    description = "a request must hold what the regulation lists; what is missing is asked for"

    class Settings(RuleSettings):
        fields: list[str] = Field(default_factory=lambda: list(FIELD_CODES[:7]))
        """Fields every request must hold."""
        product_fields: dict[str, list[str]] = Field(default_factory=dict)
        """Product -> further fields its requests must hold (the product as `product` finds it);
        none unless the desk says (GRSoft: Napoleon's mobile database and exchange archive)."""
        min_description_words: int = Field(15, ge=0)
        """Fewer words than this, greeting and signature left out, is no detailed description."""

        @field_validator("fields")
        @classmethod
        def _fields(cls, value: list[str]) -> list[str]:
            return _known(value)

        @field_validator("product_fields")
        @classmethod
        def _product_fields(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
            for codes in value.values():
                _known(codes)
            return value

    def __init__(
        self,
        settings: Settings,
        products: ProductTable,
        basic_questions: BasicQuestions | None = None,
    ) -> None:
        self.settings = settings
        self.products = products
        self.basic_questions = basic_questions
        wanted = {*settings.fields, *(f for fs in settings.product_fields.values() for f in fs)}
        self.codes = tuple(code for code in FIELD_CODES if code in wanted)

    @classmethod
    def for_desk(cls, desk: DeskSettings, settings: Settings) -> MissingFields:
        """The product is judged with the desk's `[rule.product]` table, as `product` judges it;
        basic questions with the desk's `[kb]` words."""
        table = desk.rule.get("product") if "product" in desk.rules else None
        products = ProductSettings.model_validate(table).products if table is not None else {}
        basic = BasicQuestions.for_desk(desk) if desk.kb.basic_questions else None
        return cls(settings, ProductTable(products, desk.customers), basic)

    def detect(self, mail: Mail, context: Context) -> frozenset[str]:
        """Every field this mail gives, on its own, whatever its product requires."""
        material = self._material(mail, (own_text(mail.text),), ())
        match = self.products.detect(material.subject, material.text, context.customer)
        return frozenset(code for code in FIELD_CODES if self._found(code, material, match))

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        thread = context.history.thread
        text = own_text(mail.text)
        if self.basic_questions is not None and self.basic_questions.answered(mail, context):
            return None
        if thread is None:
            material = self._material(mail, (text,), ())
            missing, product = self._missing(material, context, given=set())
            follow = ""
        else:
            if thread.state != "waiting_customer":
                return None
            earlier = own_text(thread.text_so_far)
            material = self._material(mail, (text, earlier), thread.attachments_so_far)
            # what was required when the customer was asked, less what they still owed, was
            # given then; a product found only now may add its own fields
            then = self.products.detect(mail.subject, earlier, context.customer)
            required_then = self._required(then.product if then else None)
            given = {code for code in required_then if code not in thread.missing}
            missing, product = self._missing(material, context, given=given, owed=thread.missing)
            follow = f"; follow-up on {thread.number}"
        if not missing:
            return None
        return Verdict(
            self.name,
            Action.ask,
            self.name,
            f"missing {', '.join(missing)} (product {product or 'unknown'}){follow}",
            missing=missing,
        )

    @staticmethod
    def _material(mail: Mail, texts: tuple[str, ...], earlier: tuple[str, ...]) -> _Material:
        return _Material(
            subject=mail.subject,
            texts=tuple(_ALL_LABELS.without_blanks(t) for t in texts if t),
            attachments=mail.attachments,
            earlier_types=earlier,
            html=mail.html,
            from_name=mail.from_name,
        )

    def _required(self, product: str | None, owed: Sequence[str] = ()) -> list[str]:
        extra = self.settings.product_fields.get(product, []) if product else []
        wanted = {*self.settings.fields, *extra, *owed}
        return [code for code in FIELD_CODES if code in wanted]

    def _missing(
        self,
        m: _Material,
        context: Context,
        given: set[str],
        owed: Sequence[str] = (),
    ) -> tuple[tuple[str, ...], str | None]:
        """Fields still missing, in reply order, and the product they were judged for.

        What the customer was asked for stays asked for until found, whatever this mail
        says of the product.
        """
        match = self.products.detect(m.subject, m.text, context.customer)
        product = match.product if match else None
        missing = [
            code
            for code in self._required(product, owed)
            if code not in given and not self._found(code, m, match)
        ]
        return tuple(missing), product

    def _found(self, code: str, m: _Material, match: ProductMatch | None) -> bool:
        if code == "project":
            named = (f"{clean_subject(m.subject)}\n{t}" for t in m.texts)
            return any(project_named(t, match, self.products) for t in named)
        if code == "contact":
            return _contact(m)
        if code == "description":
            return _description_words(m) >= self.settings.min_description_words
        if code == "modules":
            return _modules(m)
        if code == "steps_to_reproduce":
            return _steps(m)
        if code == "impact":
            return _impact(m)
        if code == "affected_employees":
            return _employees(m)
        if code == "mobile_database":
            return _database(m)
        return _link(m)


@dataclass(frozen=True)
class BasicQuestions:
    """How a basic question is told from a fault report: simple on purpose, and labelled.

    A question word and no fault word, in the subject or what the customer newly wrote.
    "Где включить печать счетов?" is a question; "Где ошибка? Печать счетов не работает" is a
    fault report, and gets the questionnaire even when an article matches its words.
    """

    questions: KeywordSet
    faults: KeywordSet

    @classmethod
    def for_desk(cls, desk: DeskSettings) -> BasicQuestions:
        for key in ("question_words", "fault_words"):
            try:
                check_phrases(getattr(desk.kb, key))
            except ValueError as exc:
                raise ConfigError(f"desk {desk.name}: kb.{key}: {exc}") from exc
        return cls(KeywordSet.of(desk.kb.question_words), KeywordSet.of(desk.kb.fault_words))

    def answered(self, mail: Mail, context: Context) -> bool:
        """A new request the knowledge base answers that asks how or where, naming no fault."""
        if not context.articles or not context.is_new_request:
            return False
        text = searchable(mail)
        return self.questions.matches(text) and not self.faults.matches(text)


def _known(codes: list[str]) -> list[str]:
    unknown = [c for c in codes if c not in FIELD_CODES]
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}; known: {', '.join(FIELD_CODES)}")
    return codes


RULE = MissingFields
