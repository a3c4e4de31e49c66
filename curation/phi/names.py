"""People's names where the text labels them as names: "Patient name: John Smith", "my name is Sarah",
"Nombre: Ana Pérez", "nom du patient : Jean Dupont", "姓名：张伟", "اسم المريض: أحمد علي".

No pattern finds names in free prose (that needs a named-entity model), but a label or a self-introduction
says what follows is a name, so what follows can be taken with few mistakes: capitalised words in Latin
script, two to four Han characters, or one or two Arabic words. A capitalised name after a title (Dr., Mr.,
Sra.) is a separate, opt-in pattern: titles also precede eponyms and authors ("Dr. Ruiz's sign").
"""

from __future__ import annotations

_CAP = r"[A-ZÁÉÍÓÚÑÀÂÇÈÊËÎÏÔÙÛÜ][a-záéíóúñàâçèêëîïôùûüß'’-]+"
LATIN_NAME = rf"{_CAP}(?:[^\S\n]+(?:(?:de|del|de\s+la|da|dos|van|von|le|la|bin|al|el)[^\S\n]+)?{_CAP}){{0,3}}"
_LATIN_LABEL = (
    r"(?i:\b(?:(?:patient|client|resident)['’]?s?[^\S\n]+(?:full[^\S\n]+)?name|name[^\S\n]+of[^\S\n]+(?:the[^\S\n]+)?"
    r"patient|full[^\S\n]+name|first[^\S\n]+name|last[^\S\n]+name|surname|"
    r"nombre(?:[^\S\n]+(?:del?|de[^\S\n]+la)[^\S\n]+paciente|[^\S\n]+completo|[^\S\n]+y[^\S\n]+apellidos?)|"
    r"apellidos?|nom(?:[^\S\n]+(?:du|de[^\S\n]+la)[^\S\n]+patiente?|[^\S\n]+de[^\S\n]+famille|[^\S\n]+et[^\S\n]+"
    r"pr[ée]nom)|pr[ée]nom|nome[^\S\n]+do[^\S\n]+paciente)[^\S\n]*[:：][^\S\n]*)"
    r"|(?i:\b(?:my[^\S\n]+name[^\S\n]+is|me[^\S\n]+llamo|mi[^\S\n]+nombre[^\S\n]+es|je[^\S\n]+m['’]appelle|"
    r"meu[^\S\n]+nome[^\S\n]+[ée]|mi[^\S\n]+chiamo)[^\S\n]+)"
)
HAN_NAME = r"[\u4e00-\u9fff]{2,4}"
_HAN_LABEL = r"(?:患者|病人)?姓名[^\S\n]*[:：][^\S\n]*"
ARABIC_NAME = r"[\u0621-\u064A\u0660-\u066F]+(?:[^\S\n]+(?!و)[\u0621-\u064A]+)?"
_ARABIC_LABEL = r"(?:اسم\s+المريضة?|الاسم(?:\s+الكامل)?)[^\S\n]*[:：][^\S\n]*|اسمي[^\S\n]+"
_HINDI_LABEL = r"(?:मरीज़?\s+का\s+)?नाम[^\S\n]*[:：][^\S\n]*|मेरा\s+नाम\s+"
HINDI_NAME = r"[\u0900-\u097F]+(?:[^\S\n]+[\u0900-\u097F]+)?(?=[^\S\n]*(?:है|$|[,.।]))"

LABELLED_NAME = (rf"(?P<KW>{_LATIN_LABEL}){LATIN_NAME}|(?P<KW>{_HAN_LABEL}){HAN_NAME}"
                 rf"|(?P<KW>{_ARABIC_LABEL}){ARABIC_NAME}|(?P<KW>{_HINDI_LABEL}){HINDI_NAME}")
TITLED_NAME = r"(?P<KW>\b(?:Dr|Dra|Mr|Mrs|Ms|Sr|Sra|Srta|Prof)\.?\s+)[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?"

# Lower-case stems of the labels: a text with none of them has no labelled name.
HINTS = ("name", "nombre", "apellido", "nom", "prénom", "prenom", "nome", "llamo", "appelle", "chiamo", "姓名",
         "اسم", "नाम")
# Those of the self-introductions, the only labels not followed by a colon.
INTRO_HINTS = ("name", "nombre", "nome", "llamo", "appelle", "chiamo", "اسمي", "नाम")
