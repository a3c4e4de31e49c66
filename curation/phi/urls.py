"""URLs that name a person or a person's record; ordinary links (articles, guidelines, doi.org, who.int) stay.

A URL is personal data only through what its path or query says, so the host is rarely judged. It is taken
when a path segment that stands for a person or a record (patients, users, profile, people, members, records,
chart, ehr, expediente, dossier, 患者 ...) is followed by a segment that is not one of the generic pages such
sites have (information, education, leaflets, login ...), when a segment is a home page (/~jdoe), when a query
parameter carries a person or record key (id, patient, mrn, name, email, dob, record ...), when a host that
serves patients' records (ehr., mychart., patients.) has a number in its path, and for a profile on a social
network (facebook.com/jane.doe, linkedin.com/in/...). A URL ends at white space, a quote or an angle bracket,
and does not take the sentence's closing punctuation.
"""

from __future__ import annotations

_PERSON = (r"patients?|pacientes?|patient[_-]?(?:id|record|chart)s?|users?|profiles?|perfil(?:es)?|people|persons?|"
           r"personas?|members?|miembros?|clients?|clientes?|u|accounts?|cuentas?|residents?|"
           r"records?|medical[_-]?records?|health[_-]?records?|charts?|mrn|ehr|emr|phr|registros?|expedientes?|"
           r"historias?(?:[_-]?cl[ií]nicas?)?|historiales?|dossiers?(?:[_-]patients?)?|malades?|患者|病人|病历|病歷|"
           r"encounters?|admissions?|ingresos?|discharges?|altas?|visits?|consultas?")
# Pages that follow a person word on public sites without naming anyone.
_GENERIC = (r"info|information|informacion|información|education|educacion|educación|resources?|recursos|leaflets?|"
            r"guides?|guia|guía|faqs?|help|ayuda|aide|care|services?|servicios|rights|derechos|droits|safety|"
            r"seguridad|securite|sécurité|portal|login|logout|signin|sign-in|signup|register|search|buscar|index|home|"
            r"inicio|accueil|about|contact|contacto|news|noticias|stories|testimonials?|forms?|formularios?|"
            r"visitors?|visitantes|families|familias|familles|en|es|fr|zh|ar|de|pt|it|hi|new|list|all")
_QUERY_KEYS = (r"id|pid|uid|ids|mrn|nhc|nhs(?:[_-]?(?:no|number))?|ssn|dob|email|e-mail|mail|phone|tel|"
               r"(?:patient|pt|paciente|person|user|usuario|member|subject|client|resident|account|record|chart|"
               r"encounter|visit|admission|episode|case|dossier|expediente|historia)(?:[_-]?(?:id|no|num|number|"
               r"name|nombre|code))?|(?:first|last|full|given|family|sur|user|nick)[_-]?name|name|nombre|"
               r"apellidos?|nom|prenom|prénom|fname|lname|surname")
_HOST = r"(?:https?://|www\.)[^\s/?#<>\"'）)\]]+"
# A host that serves patients' own records (ehr., mychart., patients.): a number in its path is a record.
_RECORD_HOST = r"(?:[^\s/?#<>\"']*[.-])?(?i:ehr|emr|phr|mychart|patients?|pacientes?|records?|charts?)[.-]"\
               r"[^\s/?#<>\"'）)\]]+"
# A profile on a social network is a person: any first segment but the site's own pages.
_SOCIAL = r"(?i:(?:facebook|fb|twitter|x|instagram|tiktok|linkedin|weibo|threads)\.com|vk\.com|t\.me)"
_SOCIAL_PAGES = (r"groups?|pages?|hashtag|explore|watch|share|sharer|events?|help|about|policies|privacy|legal|"
                 r"login|signup|search|home|intent|i|company|school|jobs|feed|reel|p|status|video|search|"
                 r"legal|terms|settings|notifications|messages|marketplace|gaming|topics?")
_SEG = r"[^\s/?#<>\"'()\[\]（）]"
_SEGS = rf"(?:{_SEG}*[^\s/?#<>\"'()\[\]（）.,;:!?。，；])"  # a segment, without the sentence's closing mark
_REST = r"(?:[^\s<>\"']*[^\s<>\"'.,;:!?)\]）。，；])?"  # the rest of the URL, never its closing punctuation

URL = (
    rf"{_HOST}(?:/{_SEG}*)*?"
    rf"(?:/(?i:{_PERSON})/(?!(?i:{_GENERIC})(?:[/?#.\s]|$)){_SEGS}"
    rf"|/~{_SEGS}"
    rf"|(?:[?&;][^\s&;#<>\"']*)*?[?&;](?i:{_QUERY_KEYS})=[^\s&#<>\"'.,;)]"
    rf"){_REST}"
    rf"|(?:https?://)?(?:www\.|m\.)?{_SOCIAL}/(?:in/|u/|@)?(?!(?i:{_SOCIAL_PAGES})(?:[/?#.\s]|$)){_SEG}{_SEGS}{_REST}"
    rf"|(?:https?://|www\.){_RECORD_HOST}(?:/{_SEG}*)*?/{_SEG}*\d{{4,}}{_REST}"
)

HINTS = ("http", "www.")  # every URL above starts with one of these
