"""Dates tied to a person: birth, admission, discharge, death (HIPAA Safe Harbor removes every date element
but the year), in en, es, fr, pt, zh, ar and hi.

A date alone is not personal: studies, guidelines and drug approvals carry dates. What makes one identifying
is the event it dates, so a date is taken only when such a keyword comes just before it ("admitted to the ICU
on 3 March 2021", "fecha de ingreso: 12/05/2021", "décédé le 1er mars 2020", "تاريخ الوفاة ٢٠٢١/٣/٥") or, as
Chinese writes it, just after it ("2021年3月5日入院"). A year on its own never matches a date form here.
Keywords are kept in the text; `(?P<KW>` marks the kept part before a date and `(?P<KS>` the part after.
"""

from __future__ import annotations

import re

D = r"[0-9٠-٩]"
_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec|"
    r"enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre|"
    r"janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|d[ée]cembre|"
    r"janeiro|fevereiro|mar[çc]o|maio|junho|julho|setembro|outubro|novembro|dezembro|"
    r"يناير|فبراير|مارس|أبريل|ابريل|إبريل|مايو|يونيو|يونيه|يوليو|يوليه|أغسطس|اغسطس|سبتمبر|أكتوبر|اكتوبر|نوفمبر|"
    r"ديسمبر|كانون الثاني|شباط|آذار|نيسان|أيار|حزيران|تموز|آب|أيلول|تشرين الأول|تشرين الثاني|كانون الأول"
)
MONTH = rf"(?i:(?:{_MONTHS})\b\.?)"
_ORD = r"(?:st|nd|rd|th|er|º|°|o)?"
DATE = (
    rf"(?<!{D}){D}{{4}}\s?年\s?{D}{{1,2}}\s?月(?:\s?{D}{{1,2}}\s?[日号號])?"  # 2021年3月5日, 2021年3月
    rf"|(?<!{D}){D}{{1,2}}\s?月\s?{D}{{1,2}}\s?[日号號]"  # 3月5日
    # numeric dates keep one separator throughout: "0.3/1000" is a rate, not a date
    + "".join(rf"|(?<![0-9٠-٩.,]){D}{{4}}{sep}{D}{{1,2}}{sep}{D}{{1,2}}(?!{D})"  # 2021-03-05
              rf"|(?<![0-9٠-٩.,]){D}{{1,2}}{sep}{D}{{1,2}}{sep}(?:{D}{{4}}|{D}{{2}})(?!{D})"  # 05/03/2021, 5.3.21
              for sep in ("/", r"\.", "-"))
    + rf"|(?<!{D}){D}{{1,2}}{_ORD}\s+(?:of\s+|de\s+)?{MONTH},?\s+(?:de\s+|del\s+)?{D}{{4}}(?!{D})"  # 3 March 2021
    rf"|{MONTH}\s+{D}{{1,2}}{_ORD},?\s+{D}{{4}}(?!{D})"  # March 3, 2021
    rf"|(?<!{D}){D}{{1,2}}{_ORD}\s+(?:of\s+|de\s+)?{MONTH}"  # 3 March
    rf"|{MONTH},?\s+(?:de\s+|del\s+)?{D}{{4}}(?!{D})"  # March 2021, mayo de 2021
    rf"|{MONTH}\s+{D}{{1,2}}{_ORD}(?!{D})"  # March 3
)
_BIRTH = (
    r"(?i:\b(?:born|date\s+of\s+birth|d\.?o\.?b\b\.?|birth\s*date|birthday|"
    r"fecha\s+de\s+nacimiento|f\.\s?nac\.?|nacid[oa]|naci[óo]|"
    r"date\s+de\s+naissance|né(?:e|\(e\))?\s+(?:le|en)|data\s+de\s+nascimento|nascid[oa]))"
    r"|出生日期|出生年月日|出生于|出生於|生于|生於|生日"
    r"|تاريخ الميلاد|تاريخ الولادة|مواليد|وُ?لِ?دَ?ت?|"
    r"जन्म\s*(?:तिथि|दिनांक|की\s+तारीख)"
)
_EVENT = (
    r"(?i:\b(?:admitted|admission(?:\s+date)?|date\s+of\s+(?:admission|discharge|death|surgery|operation|"
    r"procedure|visit|consultation)|discharged|discharge\s+date|died|death\s+date|time\s+of\s+death|d\.?o\.?d\b\.?|"
    r"deceased|passed\s+away|hospitali[sz]ed|"
    r"fecha\s+de\s+(?:ingreso|alta|defunci[óo]n|fallecimiento|muerte|cirug[íi]a|intervenci[óo]n|consulta)|"
    r"ingres[óo]|ingresad[oa]|dad[oa]\s+de\s+alta|alta\s+hospitalaria|falleci[óo]|muri[óo]|hospitalizad[oa]|"
    r"date\s+d['’](?:admission|entr[ée]e|hospitalisation|intervention)|date\s+de\s+(?:sortie|d[ée]c[èe]s)|"
    r"date\s+du\s+d[ée]c[èe]s|(?:admise?|hospitalis[ée]e?|entrée?|sortie?|morte?)\s+le|d[ée]c[ée]d[ée]e?|d[ée]c[èe]s|"
    r"data\s+de\s+(?:admiss[ãa]o|internaç[ãa]o|alta|[óo]bito)|internad[oa]|faleceu))"
    r"|入院日期|入院时间|入院時間|住院日期|出院日期|出院时间|出院時間|死亡日期|死亡时间|死亡時間|手术日期|手術日期|"
    r"去世于|去世於|逝世于|逝世於|病逝于|病逝於|"
    r"تاريخ الدخول|تاريخ القبول|تاريخ الإدخال|تاريخ الخروج|تاريخ الوفاة|تاريخ العملية|"
    r"(?:أُ?دخ?لت?|دخلت?|خرجت?|نقلت?)\s+(?:إلى\s+|الى\s+|من\s+)?المستشفى|توفي(?:ت)?|تُوُ?فِّ?يَ?ت?|"
    r"भर्ती|छुट्टी|मृत्यु\s*(?:तिथि|की\s+तारीख)?"
)
# Between keyword and date: a label mark or a few words, never a digit or the end of a sentence.
_GAP = r"[^\S\n]*[:：\-–]?[^\d\n.;。；!?！？]{0,40}?"
_ZH_AFTER = (r"[^\S\n]*(?:[因在于於经經行][^\d\s的，。；,;]{0,8}?)?(?:入院|住院|出院|死亡|去世|逝世|病逝|出生)"
             r"(?![率数數例人])")

DATE_OF_BIRTH = rf"(?P<KW>(?:{_BIRTH}){_GAP})(?:{DATE})"
# The date-first form is written with digits only (2021年3月5日, 2021-03-05): starting with a digit keeps the
# scan cheap, as the month names are not tried at every position.
ZH_DATE = (rf"(?<!{D}){D}{{4}}\s?年\s?{D}{{1,2}}\s?月(?:\s?{D}{{1,2}}\s?[日号號])?"
           rf"|(?<!{D}){D}{{1,2}}\s?月\s?{D}{{1,2}}\s?[日号號]|(?<!{D}){D}{{4}}[/.-]{D}{{1,2}}[/.-]{D}{{1,2}}(?!{D})")
EVENT_DATE = rf"(?P<KW>(?:{_EVENT}){_GAP})(?:{DATE})|(?=[0-9٠-٩])(?:{ZH_DATE})(?P<KS>{_ZH_AFTER})"

# Lower-case stems of the keywords above: a text with none of them cannot hold such a date, and a substring
# test is far cheaper than running the pattern over every text.
BIRTH_HINTS = ("born", "birth", "dob", "d.o.b", "nac", "naissance", "né", "nascid", "nascimento", "出生", "生于",
               "生於", "生日", "الميلاد", "الولادة", "مواليد", "ولد", "وُل", "ولِ", "जन्म")
EVENT_HINTS = ("admi", "dischar", "died", "death", "dod", "d.o.d", "deceas", "passed", "hospitali", "fecha de",
               "date of", "ingres", "alta", "falleci", "muri", "date d", "date de", "date du", "entrée", "sorti",
               "décé", "décè", "dece", "mort", "data de", "internad", "faleceu", "入院", "住院", "出院", "死亡", "去世",
               "逝世", "病逝", "出生", "手术", "手術", "تاريخ", "المستشفى", "توفي", "تُو", "भर्ती", "छुट्टी", "मृत्यु")

# A study's period dates a cohort, not a person ("patients admitted between June 2002 and May 2009", "infants
# born after June 2011"): a date that opens or closes a period, near a word for a group, is kept.
PERIOD_BEFORE = re.compile(r"(?i:\b(?:between|from|since|until|till|before|after|through|entre|desde|hasta|antes\s+de|"
                           r"despu[ée]s\s+de|depuis|avant\s+le|apr[èe]s\s+le|du|de|del|desde\s+el)\s*$)")
RANGE_AFTER = re.compile(rf"\s*(?:-|–|to|and|through|until|till|al?|y|hasta|au|et|à|至|到|~)\s*(?:{D}|{MONTH})")
COHORT = re.compile(r"(?i:\b(?:patients|subjects|cases|children|infants|neonates|newborns|babies|births|women|men|"
                    r"participants|"
                    r"individuals|people|adults|admissions|discharges|deaths|were|all|consecutive|cohort|pacientes|"
                    r"casos|niños|mujeres|hombres|fueron|ingresos|malades|enfants|femmes|hommes|sujets|cas)\b)"
                    r"|患者们|病例|例患者|名患者|المرضى|مريضا|حالة")
COHORT_WINDOW = 80  # characters before the keyword in which a group word counts


def is_study_period(text: str, start: int, date_start: int, end: int) -> bool:
    """Whether the date matched at text[date_start:end] (its keyword from `start`) bounds a cohort's period."""
    period = PERIOD_BEFORE.search(text, start, date_start) or RANGE_AFTER.match(text, end)
    return period is not None and COHORT.search(text, max(0, start - COHORT_WINDOW), end) is not None
