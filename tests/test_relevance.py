"""The relevance scorer keeps real-looking medical items in six languages and rejects everyday text."""

import pytest

from curation.relevance import DEFAULT_MIN_SCORE, medical_hits, medical_score, tables

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

# Items from the domains the lexicon lists per language: anatomy, cell biology and genetics, biochemistry,
# pharmacology, dentistry, psychology, public health and biostatistics, laboratory and nursing.
DOMAINS = {
    "anatomy": {
        "en": "Which muscle abducts the arm beyond fifteen degrees?\n(A) Deltoid\n(B) Supraspinatus\n(C) Teres minor",
        "es": "¿Qué estructura separa la cavidad torácica de la abdominal?\n(A) El diafragma\n(B) El mediastino",
        "fr": "Quel nerf innerve le muscle deltoïde ?\n(A) Le nerf axillaire\n(B) Le nerf radial\n(C) Le nerf ulnaire",
        "zh": "产生脑脊液的主要结构是\n(A) 脉络丛\n(B) 蛛网膜\n(C) 硬脑膜",
        "ar": "ما العضلة المسؤولة عن ثني الساعد عند المرفق؟\n(A) العضلة ذات الرأسين\n(B) العضلة ثلاثية الرؤوس",
        "hi": "हृदय का कौन सा कक्ष फेफड़ों से ऑक्सीजन युक्त रक्त प्राप्त करता है?\n(A) बायां आलिंद\n(B) दायां निलय",
    },
    "cell_genetics": {
        "en": "In which phase of meiosis does crossing over between homologous chromosomes occur?\n(A) Prophase I"
              "\n(B) Metaphase II",
        "es": "Un varón afectado por una enfermedad ligada al X transmite el alelo a:\n(A) Todas sus hijas\n"
              "(B) Todos sus hijos",
        "fr": "Quel organite assure la synthèse des protéines ?\n(A) Le ribosome\n(B) Le lysosome\n(C) L'appareil de Golgi",
        "zh": "减数分裂时同源染色体之间的交叉互换发生在\n(A) 前期I\n(B) 中期II",
        "ar": "أي من العضيات التالية مسؤول عن إنتاج الطاقة في الخلية؟\n(A) الميتوكوندريا\n(B) جهاز جولجي\n(C) الريبوسوم",
        "hi": "डीएनए प्रतिकृति के दौरान कौन सा एंजाइम टुकड़ों को जोड़ता है?\n(A) लाइगेज\n(B) हेलिकेज",
    },
    "biochemistry": {
        "en": "Which enzyme catalyses the rate-limiting step of glycolysis?\n(A) Phosphofructokinase\n(B) Aldolase",
        "es": "¿Cuál es el producto final de la glucólisis en condiciones aerobias?\n(A) Piruvato\n(B) Lactato",
        "fr": "Le cycle de Krebs se déroule dans la matrice mitochondriale.\n(A) Vrai\n(B) Faux",
        "zh": "三羧酸循环的关键酶是\n(A) 柠檬酸合酶\n(B) 乳酸脱氢酶",
        "ar": "ما هو الإنزيم الذي يحفز الخطوة الأولى في تحلل السكر؟\n(A) هيكسوكيناز\n(B) ألدولاز",
        "hi": "निम्नलिखित में से कौन सा विटामिन वसा में घुलनशील है?\n(A) विटामिन ए\n(B) विटामिन सी",
    },
    "pharmacology": {
        "en": "Which drug reverses an opioid overdose?\n(A) Naloxone\n(B) Flumazenil\n(C) Atropine",
        "es": "¿Qué fármaco es un agonista parcial de los receptores opioides?\n(A) Buprenorfina\n(B) Naloxona",
        "fr": "Quel est l'antidote d'un surdosage en héparine ?\n(A) Sulfate de protamine\n(B) Vitamine K",
        "zh": "首过效应最明显的给药途径是\n(A) 口服\n(B) 舌下\n(C) 静脉注射",
        "ar": "ما هو الترياق المستخدم في حالة الجرعة الزائدة من الباراسيتامول؟\n(A) أسيتيل سيستئين\n(B) نالوكسون",
        "hi": "उच्च रक्तचाप के लिए कौन सी दवा मूत्रवर्धक है?\n(A) फ्यूरोसेमाइड\n(B) एम्लोडिपाइन",
    },
    "dentistry": {
        "en": "Which cement releases fluoride after placement?\n(A) Glass ionomer\n(B) Zinc phosphate",
        "es": "¿Qué diente temporal erupciona primero?\n(A) Incisivo central inferior\n(B) Primer molar",
        "fr": "La parodontite chronique de l'adulte se traite d'abord par :\n(A) Détartrage et surfaçage radiculaire"
              "\n(B) Extraction",
        "zh": "复合树脂充填前牙釉质酸蚀的目的是\n(A) 增加粘接面积\n(B) 去除龋坏",
        "ar": "ما هو السبب الرئيسي لتسوس الأسنان عند الأطفال؟\n(A) البكتيريا العقدية\n(B) نقص الفلورايد",
        "hi": "दांतों की सड़न रोकने में कौन सा तत्व सबसे उपयोगी है?\n(A) फ्लोराइड\n(B) लोहा",
    },
    "psychology": {
        "en": "In classical conditioning, the bell that comes to elicit salivation is the:\n(A) Conditioned stimulus\n"
              "(B) Unconditioned response",
        "es": "Según Piaget, la conservación de la cantidad aparece en el estadio:\n(A) Operaciones concretas\n"
              "(B) Preoperacional",
        "fr": "Le refoulement est un mécanisme de défense décrit par :\n(A) Freud\n(B) Skinner",
        "zh": "经典条件反射理论的提出者是\n(A) 巴甫洛夫\n(B) 斯金纳\n(C) 弗洛伊德",
        "ar": "ما هو العلاج الأكثر فعالية لاضطراب الهلع؟\n(A) العلاج المعرفي السلوكي\n(B) التحليل النفسي",
        "hi": "अवसाद के रोगी में कौन सा लक्षण सबसे आम है?\n(A) उदासी और अनिद्रा\n(B) उन्माद",
    },
    "public_health": {
        "en": "Life expectancy at birth in a population is best estimated from:\n(A) A life table\n(B) A census",
        "es": "La prueba de chi-cuadrado se utiliza para comparar proporciones. En un estudio de casos y controles "
              "se calcula:\n(A) Odds ratio\n(B) Riesgo relativo",
        "fr": "Dans une étude de cohorte, on mesure :\n(A) Le risque relatif\n(B) L'odds ratio\n(C) La prévalence",
        "zh": "流行病学研究中，队列研究可以直接计算\n(A) 相对危险度\n(B) 比值比",
        "ar": "أفضل طريقة للوقاية من الكوليرا هي توفير مياه الشرب النظيفة والصرف الصحي.\n(A) صحيح\n(B) خطأ",
        "hi": "किसी आबादी में जीवन प्रत्याशा बढ़ाने का सबसे प्रभावी उपाय क्या है?\n(A) टीकाकरण\n(B) सड़कें",
    },
    "laboratory_nursing": {
        "en": "Which tube is used to collect a blood sample for a complete blood count?\n(A) EDTA\n(B) Citrate",
        "es": "En la tinción de Gram, las bacterias grampositivas se ven:\n(A) Violetas\n(B) Rojas",
        "fr": "Quelle est la fréquence de surveillance des constantes vitales après une transfusion ?\n"
              "(A) Toutes les 15 minutes\n(B) Une fois par jour",
        "zh": "护士为患者测量生命体征时，首先应\n(A) 核对患者信息\n(B) 记录体温",
        "ar": "ما هي درجة الحرارة المستخدمة في جهاز الأوتوكلاف لتعقيم الأدوات الجراحية؟\n(A) 121 درجة\n(B) 60 درجة",
        "hi": "संक्रमण से बचाव के लिए नर्स को मरीज की देखभाल से पहले क्या करना चाहिए?\n(A) हाथ धोना\n(B) खाना",
    },
}

GENERAL = {
    "en_cooking": "Whisk the eggs with sugar until pale, fold in the flour and bake the sponge for 25 minutes "
                  "at 180 degrees, then let it cool on a wire rack before slicing.",
    "en_software": "Run the installer with the --prefix option to choose the target directory; the configuration "
                   "file is read from your home folder at start-up.",
    "en_memory": "Not enough memory to load the image; close other windows and try again (memory map: 4096 pages).",
    "es_football": "El delantero marcó dos goles en la segunda parte y el equipo local se clasificó para la final "
                   "de la copa tras un partido muy disputado.",
    "es_law": "El arrendatario deberá abonar la renta dentro de los cinco primeros días de cada mes, y el "
              "incumplimiento dará lugar a la resolución del contrato.",
    "es_year": "Este año la feria abre una semana antes y cada expositor tendrá una caseta con dos mesas.",
    "fr_bank": "Le taux d'intérêt du prêt immobilier est fixe pendant vingt ans et les mensualités sont "
               "prélevées sur votre compte courant le cinq de chaque mois.",
    "fr_cooking": "Faites revenir les oignons dans le beurre, ajoutez la crème et laissez mijoter la sauce à feu "
                  "doux pendant dix minutes en remuant.",
    "fr_table": "Sélectionnez une cellule puis la colonne voisine pour fusionner les deux titres du tableau.",
    "zh_football": "主队在下半场连进两球，最终以二比一战胜客队，成功晋级联赛决赛。",
    "zh_bank": "本行将于下月起调整定期存款利率，客户可通过手机银行查询账户余额和转账记录。",
    "zh_software": "请先克隆仓库，再运行配置脚本；如果依赖缺失，安装程序会自动下载并复制所需文件。",
    "ar_cooking": "اخلطي الدقيق مع الزبدة والسكر ثم أضيفي البيض واخبزي الكعكة في الفرن لمدة ثلاثين دقيقة.",
    "ar_law": "يلتزم المستأجر بدفع الإيجار في بداية كل شهر، ويحق للمالك فسخ العقد عند التأخر في السداد.",
    "ar_software": "قد ترغب بتنفيذ الأمر لتحويل الأموال، وكان النص المُختار فارغاً في الخلية الأولى.",
    "hi_cricket": "भारतीय टीम ने अंतिम ओवर में छक्का लगाकर मैच जीत लिया और श्रृंखला अपने नाम कर ली।",
    "hi_bank": "बैंक ने बचत खाते पर ब्याज दर बढ़ा दी है और ग्राहक अब मोबाइल ऐप से पैसे भेज सकते हैं।",
    "hi_software": "छवि को लोड करने हेतु अपर्याप्त स्मृति, कृपया आंतरिक स्मृति खाली करके दोबारा प्रयास करें।",
}


@pytest.mark.parametrize("name", sorted(MEDICAL))
def test_medical_items_are_kept(name: str) -> None:
    text = MEDICAL[name]
    assert medical_score(text) >= DEFAULT_MIN_SCORE, (name, medical_hits(text))


@pytest.mark.parametrize(("domain", "lang"), [(d, lang) for d in sorted(DOMAINS) for lang in sorted(DOMAINS[d])])
def test_items_of_each_domain_are_kept_in_every_language(domain: str, lang: str) -> None:
    text = DOMAINS[domain][lang]
    assert medical_score(text) >= DEFAULT_MIN_SCORE, (domain, lang, medical_hits(text))


@pytest.mark.parametrize("name", sorted(GENERAL))
def test_general_text_is_rejected(name: str) -> None:
    text = GENERAL[name]
    assert medical_score(text) < DEFAULT_MIN_SCORE, (name, medical_hits(text))


def test_morphology_reaches_terms_missing_from_the_lexicon() -> None:
    hits = medical_hits("pembrolizumab, cholangiocarcinoma and hepatosplenomegaly")
    assert hits == ["pembrolizumab", "cholangiocarcinoma", "hepatosplenomegaly"]


def test_hindi_transliterated_morphology_counts() -> None:
    assert medical_hits("ऑस्टियोमाइलाइटिस और कार्सिनोमा") == ["ऑस्टियोमाइलाइटिस", "कार्सिनोमा"]


def test_ordinary_words_with_medical_endings_do_not_count() -> None:
    assert medical_hits("the academia keeps an aroma of nostalgia and a diploma from April") == []


def test_long_text_needs_a_density_of_terms() -> None:
    one_term = "The committee met on Tuesday to discuss the budget of the city library. " * 8 + "fever"
    assert medical_score(one_term) < DEFAULT_MIN_SCORE
    assert medical_score("fever " * 5 + one_term) >= DEFAULT_MIN_SCORE


@pytest.mark.parametrize(("text", "phrase"), [
    ("Life expectancy rose by two years.", "life expectancy"),
    ("Los factores de riesgo cardiovascular", "factores de riesgo"),
    ("La santé publique en France", "sante publique"),
    ("تعتمد الصحة العامة على المياه النظيفة", "الصحة العامة"),
    ("जीवन प्रत्याशा में वृद्धि हुई", "जीवन प्रत्याशा"),
])
def test_multi_word_terms_match_as_one_hit(text: str, phrase: str) -> None:
    assert phrase in medical_hits(text)


def test_multi_word_term_needs_all_its_words_in_order() -> None:
    assert "life expectancy" not in medical_hits("expectancy of life")
    assert medical_hits("life is long") == []


def test_multi_word_terms_are_read_from_the_lexicon() -> None:
    phrases = tables().phrases
    assert ("expectancy",) in dict(phrases["life"])
    assert ("amine",) in dict(phrases["acide"])


def test_a_weak_word_alone_does_not_make_a_text_medical() -> None:
    assert medical_score("Out of memory") < DEFAULT_MIN_SCORE
    assert medical_score("Out of memory, memory map full") < DEFAULT_MIN_SCORE
    assert medical_score("Working memory and attention deficits after the stroke") >= DEFAULT_MIN_SCORE


@pytest.mark.parametrize(("word", "stem"), [
    ("والمستشفى", "hospital after و+ال"),
    ("بالمضادات", "antibiotics after ب+ال"),
    ("للمريض", "patient after لل"),
    ("وسرطان", "cancer after و"),
    ("فالتهاب", "inflammation after ف+ال"),
    ("كالأنسولين", "insulin after ك+ال"),
])
def test_arabic_clitics_are_stripped(word: str, stem: str) -> None:
    assert medical_hits(word) == [word.replace("أ", "ا")], stem


def test_arabic_article_is_not_read_into_hamza_words() -> None:
    """'ألكان' (alkane) must not turn into 'كان' (was), nor 'آلام' (pains) into a stem of 'الأمر' (the command)."""
    assert medical_hits("كان الأمر واضحا وكان الأموال في الحساب") == []


def test_arabic_vowel_marks_do_not_split_words() -> None:
    assert medical_hits("المُختار") == []
    assert medical_hits("المَرِيض") == ["المريض"]


def test_hindi_chandrabindu_and_anusvara_spellings_meet() -> None:
    assert medical_hits("आँतों में सूजन") == medical_hits("आंतों में सूजन") != []


def test_hindi_short_stems_do_not_catch_common_words() -> None:
    """'मुख' (mouth) must not catch 'मुख्य' (main), 'आंत' (gut) not 'आंतरिक' (internal)."""
    assert medical_hits("मुख्य मेन्यू और आंतरिक सेटिंग्स, अस्थिर नेटवर्क") == []


def test_spanish_tilde_words_do_not_collide() -> None:
    """Accent folding makes 'año' (year) 'ano' and 'uña' (nail) 'una': neither may be a medical term."""
    assert medical_hits("una vez al año") == []
