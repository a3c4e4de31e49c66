"""E-mail addresses, plain and obfuscated ("ana at clinic dot org", "ana(at)clinic.org", "ana arroba clinic
punto es", "ana [at] clinic [dot] org", "ana@clinic dot com").

The word "at" is common in prose ("seen at St. Mary's", "available at nice.org.uk"), so a bare " at " counts
only when the domain spells its dots as words ("dot", "punto", "point"); bracketed forms and the language words
for @ (es/pt "arroba", fr "arobase", it "chiocciola", zh "艾特") are never prose and take a literal dot too.
"""

from __future__ import annotations

LOCAL = r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*"
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
TLD = r"[A-Za-z]{2,24}\b"
# After a bare "at", the last label must be a real top-level domain: "at risk dot the" is prose.
SPOKEN_TLD = r"(?i:com|org|net|edu|gov|mil|int|info|biz|io|health|[a-z]{2})\b"
PLAIN = LOCAL + r"@" + LABEL + r"(?:\." + LABEL + r")*\." + TLD

_AT_WORDS = r"at|arroba|arobase|arrobase|chiocciola"
_DOT_WORDS = r"dot|punto|point|ponto|punkt|点"
# "@" said as a word but set apart so it cannot be prose: (at) [at] {at} <at>, the language words, 艾特.
AT_MARKED = (rf"\s*(?:[(\[{{<]\s*(?i:{_AT_WORDS}|@)\s*[)\]}}>]|\s(?i:arroba|arobase|arrobase|chiocciola)\s|"
             rf"\s?艾特\s?|\s?＠\s?|\s+@\s*|@\s+)\s*")
# A dot said as a word: bracketed in any language, or bare in the language of a marked @ ("punto", "point").
DOT_BRACKETED = rf"\s*[(\[{{<]\s*(?i:{_DOT_WORDS}|\.)\s*[)\]}}>]\s*"
DOT_WORD = rf"{DOT_BRACKETED}|\s+(?i:{_DOT_WORDS})\s+|点"
DOT_ANY = rf"(?:{DOT_WORD}|\.|\s+\.\s+)"
# After a bare "at" only "dot" or a bracket will do: "at the point of care" is prose, not an address.
DOT_EN = rf"(?:{DOT_BRACKETED}|\s+(?i:dot)\s+)"
DOT_EN_ANY = rf"(?:{DOT_EN}|\.)"

# The name before the @ may spell its dots too ("ana dot lopez at clinic dot org").
SPOKEN_LOCAL = rf"{LOCAL}(?:(?:{DOT_WORD})[A-Za-z0-9_%+-]+)*"

OBFUSCATED = (
    # a marked @, then dots written either way
    SPOKEN_LOCAL + rf"(?:{AT_MARKED})" + LABEL + rf"(?:{DOT_ANY}{LABEL})*{DOT_ANY}" + TLD
    # "@" or a bare "at", then at least one dot spelt "dot" or bracketed: "ana at clinic dot org", "ana@clinic dot com"
    + rf"|{SPOKEN_LOCAL}(?:@|\s+(?i:at)\s+){LABEL}(?:{DOT_EN_ANY}{LABEL})*?{DOT_EN}(?:{LABEL}{DOT_EN_ANY})*{SPOKEN_TLD}"
)
EMAIL = PLAIN + "|" + OBFUSCATED

# What any form above must contain (lower-cased): texts without one skip the pattern.
HINTS = ("@", "＠", "艾特", "arroba", "arobase", "arrobase", "chiocciola", "dot", "at)", "at ]", "at]", "at )", "at}",
         "at>", "[.]", "(.)")
