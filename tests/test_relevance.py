"""The relevance scorer keeps real-looking medical items in six languages and rejects everyday text."""

import pytest

from curation.relevance import DEFAULT_MIN_SCORE, medical_hits, medical_score

MEDICAL = {
    "en_rare": "Who is at risk for Neuroblastoma?\n(A) Adults over 60\n(B) Children under 5\n(C) Athletes\n(D) None",
    "en_dental": "All of the following are resorbable Guided Tissue Regeneration (GTR) membranes except?\n"
                 "(A) Collagen\n(B) Polylactic acid\n(C) Expanded PTFE\n(D) Polyglycolic acid",
    "en_pharmacy": "A patient on lisinopril develops a dry cough. Which drug is the best substitute?\n"
                   "(A) Losartan\n(B) Enalapril\n(C) Metoprolol\n(D) Amlodipine",
    "es_immuno": "NO forma parte del correceptor del linfocito B:\n(A) CD19\n(B) CD21\n(C) CD81\n(D) CD40",
    "es_public": "¿Cuál es la medida más eficaz para reducir la incidencia de sarampión en una población?\n"
                 "(A) Vacunación masiva\n(B) Aislamiento\n(C) Antibióticos\n(D) Vitamina A",
    "fr_lab": "Une hyperkaliémie à 6,8 mmol/L chez un patient dialysé impose en priorité :\n"
              "(A) Gluconate de calcium IV\n(B) Furosémide\n(C) Régime\n(D) Surveillance",
    "fr_psy": "Quel symptôme oriente vers un épisode dépressif caractérisé ?\n(A) Anhédonie\n(B) Euphorie\n"
              "(C) Logorrhée\n(D) Hyperactivité",
    "zh_lab": "男，45岁。乏力、黄疸2周，血清总胆红素升高，转氨酶明显升高。最可能的诊断是\n(A) 急性病毒性肝炎\n(B) 溶血性贫血\n"
              "(C) 胆囊结石\n(D) 胰头癌",
    "zh_dental": "龋齿最常见的致病菌是\n(A) 变形链球菌\n(B) 大肠杆菌\n(C) 金黄色葡萄球菌\n(D) 白色念珠菌",
    "ar_pharm": "ما هو الدواء المفضل لعلاج ارتفاع ضغط الدم لدى مريض مصاب بالسكري؟\n(A) مثبطات الإنزيم المحول\n"
                "(B) حاصرات بيتا\n(C) مدرات البول\n(D) الأسبرين",
    "ar_rare": "أي من الأعراض التالية يميز متلازمة مارفان؟\n(A) خلع العدسة\n(B) قصر القامة\n(C) تخلف عقلي\n(D) حمى",
    "hi_public": "मलेरिया के संक्रमण को रोकने के लिए सबसे प्रभावी उपाय क्या है?\n(A) मच्छरदानी\n(B) टीकाकरण\n"
                 "(C) एंटीबायोटिक\n(D) विटामिन",
    "hi_lab": "मधुमेह के रोगी में रक्त शर्करा की निगरानी के लिए कौन सी जांच सबसे उपयोगी है?\n(A) HbA1c\n(B) ईसीजी\n"
              "(C) एक्स-रे\n(D) मूत्र",
}

GENERAL = {
    "en_cooking": "Whisk the eggs with sugar until pale, fold in the flour and bake the sponge for 25 minutes "
                  "at 180 degrees, then let it cool on a wire rack before slicing.",
    "en_software": "Run the installer with the --prefix option to choose the target directory; the configuration "
                   "file is read from your home folder at start-up.",
    "es_football": "El delantero marcó dos goles en la segunda parte y el equipo local se clasificó para la final "
                   "de la copa tras un partido muy disputado.",
    "es_law": "El arrendatario deberá abonar la renta dentro de los cinco primeros días de cada mes, y el "
              "incumplimiento dará lugar a la resolución del contrato.",
    "fr_bank": "Le taux d'intérêt du prêt immobilier est fixe pendant vingt ans et les mensualités sont "
               "prélevées sur votre compte courant le cinq de chaque mois.",
    "fr_cooking": "Faites revenir les oignons dans le beurre, ajoutez la crème et laissez mijoter la sauce à feu "
                  "doux pendant dix minutes en remuant.",
    "zh_football": "主队在下半场连进两球，最终以二比一战胜客队，成功晋级联赛决赛。",
    "zh_bank": "本行将于下月起调整定期存款利率，客户可通过手机银行查询账户余额和转账记录。",
    "ar_cooking": "اخلطي الدقيق مع الزبدة والسكر ثم أضيفي البيض واخبزي الكعكة في الفرن لمدة ثلاثين دقيقة.",
    "ar_law": "يلتزم المستأجر بدفع الإيجار في بداية كل شهر، ويحق للمالك فسخ العقد عند التأخر في السداد.",
    "hi_cricket": "भारतीय टीम ने अंतिम ओवर में छक्का लगाकर मैच जीत लिया और श्रृंखला अपने नाम कर ली।",
    "hi_bank": "बैंक ने बचत खाते पर ब्याज दर बढ़ा दी है और ग्राहक अब मोबाइल ऐप से पैसे भेज सकते हैं।",
}


@pytest.mark.parametrize("name", sorted(MEDICAL))
def test_medical_items_are_kept(name: str) -> None:
    text = MEDICAL[name]
    assert medical_score(text) >= DEFAULT_MIN_SCORE, (name, medical_hits(text))


@pytest.mark.parametrize("name", sorted(GENERAL))
def test_general_text_is_rejected(name: str) -> None:
    text = GENERAL[name]
    assert medical_score(text) < DEFAULT_MIN_SCORE, (name, medical_hits(text))


def test_morphology_reaches_terms_missing_from_the_lexicon() -> None:
    hits = medical_hits("pembrolizumab, cholangiocarcinoma and hepatosplenomegaly")
    assert hits == ["pembrolizumab", "cholangiocarcinoma", "hepatosplenomegaly"]


def test_ordinary_words_with_medical_endings_do_not_count() -> None:
    assert medical_hits("the academia keeps an aroma of nostalgia and a diploma from April") == []


def test_long_text_needs_a_density_of_terms() -> None:
    one_term = "The committee met on Tuesday to discuss the budget of the city library. " * 8 + "fever"
    assert medical_score(one_term) < DEFAULT_MIN_SCORE
    assert medical_score("fever " * 5 + one_term) >= DEFAULT_MIN_SCORE
