"""Hand-written medical content for the sample data (written for this project; general medical knowledge)."""

EN_QA = [
    ("What are the first-line drugs for uncomplicated hypertension in adults?",
     "Thiazide diuretics, ACE inhibitors, angiotensin receptor blockers and calcium channel blockers are all "
     "first-line options. The choice depends on age, ethnicity, kidney function and comorbidities such as "
     "diabetes or heart failure."),
    ("How is type 2 diabetes diagnosed?",
     "Type 2 diabetes is diagnosed with a fasting plasma glucose of 7.0 mmol/L (126 mg/dL) or higher, an HbA1c "
     "of 6.5% or higher, or a 2-hour glucose of 11.1 mmol/L (200 mg/dL) or higher during an oral glucose "
     "tolerance test, confirmed by a repeat test in the absence of clear symptoms."),
    ("What is the usual starting dose of metformin?",
     "Metformin is usually started at 500 mg once or twice daily with meals, then increased gradually to "
     "reduce gastrointestinal side effects, up to a maximum of about 2,000 to 2,550 mg per day."),
    ("What are the warning signs of a stroke?",
     "Sudden facial drooping, arm or leg weakness on one side, slurred speech, loss of vision, severe headache "
     "or loss of balance. Remember FAST: Face, Arms, Speech, Time to call emergency services."),
    ("When should a child with fever see a doctor?",
     "A child under three months with a temperature of 38 °C or more needs urgent assessment. Older children "
     "should be seen if the fever lasts more than five days, or if they are drowsy, have a rash that does not "
     "fade under pressure, breathe with difficulty or refuse to drink."),
    ("What is the mechanism of action of statins?",
     "Statins inhibit HMG-CoA reductase, the rate-limiting enzyme of cholesterol synthesis in the liver. Lower "
     "intracellular cholesterol up-regulates LDL receptors, which clear more LDL cholesterol from the blood."),
    ("What are common side effects of ACE inhibitors?",
     "A dry cough, raised potassium, a fall in kidney function, dizziness from low blood pressure and, rarely, "
     "angioedema, which is an emergency."),
    ("How is community-acquired pneumonia treated in healthy adults?",
     "Outpatients without comorbidities are usually treated with amoxicillin, or doxycycline or a macrolide "
     "where local resistance allows, for five days. Severity scores such as CURB-65 guide hospital admission."),
    ("What is the target INR for a patient on warfarin for atrial fibrillation?",
     "The usual target INR is 2.0 to 3.0, with regular monitoring because diet, alcohol and many drugs change "
     "the effect of warfarin."),
    ("What are the symptoms of hypothyroidism?",
     "Tiredness, weight gain, feeling cold, constipation, dry skin, hair thinning, slow heart rate and low "
     "mood. It is confirmed by a raised TSH with a low free T4."),
    ("How should an acute asthma attack be managed at home?",
     "Take one puff of a reliever inhaler such as salbutamol every 30 to 60 seconds, up to ten puffs, while "
     "sitting upright. If symptoms do not improve or get worse, call an ambulance."),
    ("What is sepsis?",
     "Sepsis is a life-threatening organ dysfunction caused by a dysregulated host response to infection. It "
     "needs prompt antibiotics, fluids and monitoring of lactate, blood pressure and urine output."),
    ("Which vaccines are recommended during pregnancy?",
     "Inactivated influenza vaccine in any trimester and pertussis (Tdap) vaccine, ideally between 27 and 36 "
     "weeks, are recommended. Live vaccines such as MMR are avoided during pregnancy."),
    ("What causes iron deficiency anemia?",
     "Blood loss (heavy periods, gastrointestinal bleeding), low dietary intake, malabsorption such as coeliac "
     "disease, and increased needs in pregnancy. In adults, unexplained iron deficiency needs investigation of "
     "the gut."),
    ("How is a migraine different from a tension headache?",
     "Migraine is usually one-sided, pulsating, moderate to severe, worse with activity and comes with nausea "
     "or sensitivity to light and sound. Tension headache is a bilateral, pressing, mild to moderate pain "
     "without those features."),
    ("What is the treatment for anaphylaxis?",
     "Intramuscular adrenaline 0.5 mg (0.5 mL of 1:1000) into the outer thigh for adults, repeated after five "
     "minutes if needed, oxygen, fluids and lying the patient flat with the legs raised."),
    ("What are the risk factors for osteoporosis?",
     "Older age, female sex, early menopause, low body weight, smoking, heavy alcohol use, long-term "
     "corticosteroids, rheumatoid arthritis and a family history of hip fracture."),
    ("How long should antibiotics be taken for a urinary tract infection in women?",
     "Uncomplicated cystitis in non-pregnant women is usually treated for three days with trimethoprim or "
     "nitrofurantoin, depending on local resistance patterns."),
    ("What does a raised troponin indicate?",
     "Troponin is released when heart muscle is damaged. A rise and fall above the 99th percentile supports a "
     "myocardial infarction, but it can also rise in sepsis, pulmonary embolism, myocarditis and kidney "
     "failure."),
    ("What lifestyle changes lower blood pressure?",
     "Reducing salt intake, losing weight, regular aerobic exercise, limiting alcohol, stopping smoking and a "
     "diet rich in fruit, vegetables and low-fat dairy products."),
    ("What are the symptoms of appendicitis?",
     "Pain that starts around the navel and moves to the lower right abdomen, loss of appetite, nausea, "
     "vomiting and a low-grade fever. Pain on pressure at McBurney's point is typical."),
    ("How is tuberculosis treated?",
     "Drug-sensitive tuberculosis is treated with isoniazid, rifampicin, pyrazinamide and ethambutol for two "
     "months, then isoniazid and rifampicin for four more months."),
    ("What is the normal range of serum potassium?",
     "Serum potassium is normally about 3.5 to 5.0 mmol/L. Values above 6.0 mmol/L or with ECG changes need "
     "urgent treatment."),
    ("What are the signs of dehydration in infants?",
     "Fewer wet nappies, a dry mouth, no tears when crying, a sunken fontanelle, sunken eyes, drowsiness and "
     "cold hands and feet."),
    ("Can ibuprofen be taken with high blood pressure?",
     "Regular ibuprofen can raise blood pressure and reduce the effect of antihypertensive drugs, and it can "
     "harm the kidneys. Occasional short use is usually acceptable; paracetamol is often preferred."),
    ("What is gestational diabetes?",
     "Gestational diabetes is high blood glucose first recognised in pregnancy. It is managed with diet, "
     "exercise and, if needed, metformin or insulin, and usually resolves after birth."),
    ("How is gout treated during an acute attack?",
     "An NSAID, colchicine or a short course of corticosteroids. Allopurinol is used for long-term prevention "
     "and is not stopped during an attack if the patient already takes it."),
    ("What is the difference between a virus and a bacterium?",
     "Bacteria are single-celled organisms that can live on their own and are killed by antibiotics. Viruses "
     "are much smaller, need a host cell to replicate and are not affected by antibiotics."),
    ("What are the symptoms of heart failure?",
     "Breathlessness on exertion or lying flat, swollen ankles, tiredness and waking at night short of breath. "
     "An echocardiogram measures the ejection fraction."),
    ("Why is folic acid recommended before pregnancy?",
     "Folic acid 400 micrograms daily from before conception until week 12 lowers the risk of neural tube "
     "defects such as spina bifida."),
]

ES_QA = [
    ("¿Cuáles son los síntomas de la diabetes tipo 2?",
     "Sed excesiva, orinar con frecuencia, cansancio, visión borrosa, pérdida de peso sin causa aparente e "
     "infecciones frecuentes. Muchas personas no tienen síntomas al principio."),
    ("¿Qué es la hipertensión arterial?",
     "Es una presión arterial mantenida igual o superior a 140/90 mmHg. Aumenta el riesgo de infarto, ictus "
     "e insuficiencia renal, por lo que debe controlarse aunque no dé síntomas."),
    ("¿Cómo se trata una crisis de asma?",
     "Con un broncodilatador de acción rápida como el salbutamol inhalado y, según la gravedad, corticoides "
     "orales y oxígeno. Si no mejora, hay que acudir a urgencias."),
    ("¿Qué dosis de paracetamol es segura en adultos?",
     "En adultos sanos, 500 mg a 1 g cada 6 a 8 horas, sin superar 3 a 4 g al día. En personas con "
     "enfermedad hepática o consumo de alcohol la dosis máxima es menor."),
    ("¿Cuáles son los signos de alarma de un infarto?",
     "Dolor opresivo en el pecho que puede irradiarse al brazo izquierdo, el cuello o la mandíbula, sudor "
     "frío, náuseas y falta de aire. Ante estos síntomas hay que llamar al 112."),
    ("¿Qué es la anemia ferropénica?",
     "Es la anemia causada por falta de hierro. Produce cansancio, palidez y falta de aire, y se trata con "
     "suplementos de hierro y buscando la causa, como pérdidas de sangre."),
    ("¿Cuándo se debe vacunar contra la gripe?",
     "Cada otoño, sobre todo las personas mayores de 60 años, las embarazadas, los enfermos crónicos y el "
     "personal sanitario."),
    ("¿Qué efectos secundarios tiene la metformina?",
     "Molestias digestivas como diarrea, náuseas y dolor abdominal, que suelen mejorar con el tiempo. Rara "
     "vez produce acidosis láctica, sobre todo con insuficiencia renal grave."),
    ("¿Cómo se diagnostica la hipertensión?",
     "Con varias mediciones de la presión arterial en días distintos, en consulta o mejor con una "
     "monitorización ambulatoria de 24 horas."),
    ("¿Qué es el ictus?",
     "Es la interrupción del flujo de sangre a una parte del cerebro, por un coágulo o una hemorragia. Es una "
     "urgencia: cada minuto cuenta para el tratamiento."),
    ("¿Cuáles son los síntomas del hipotiroidismo?",
     "Cansancio, aumento de peso, intolerancia al frío, estreñimiento, piel seca y caída del cabello."),
    ("¿Qué hacer ante una quemadura leve?",
     "Enfriar la zona con agua corriente durante 20 minutos, no aplicar hielo ni remedios caseros y cubrir "
     "con un apósito limpio."),
    ("¿Para qué sirven las estatinas?",
     "Para bajar el colesterol LDL y reducir el riesgo de infarto e ictus. Pueden causar dolores musculares "
     "en algunos pacientes."),
    ("¿Cómo se previene la osteoporosis?",
     "Con una dieta rica en calcio y vitamina D, ejercicio físico con carga, evitar el tabaco y el exceso de "
     "alcohol."),
    ("¿Qué es la neumonía?",
     "Es una infección del pulmón que causa fiebre, tos con expectoración y dificultad para respirar. Se "
     "trata con antibióticos cuando es bacteriana."),
    ("¿Cuándo hay que llevar a un niño con fiebre a urgencias?",
     "Si tiene menos de tres meses, si está muy decaído, si tiene manchas en la piel que no desaparecen al "
     "presionar o si le cuesta respirar."),
    ("¿Qué es la apendicitis?",
     "Es la inflamación del apéndice. Produce dolor abdominal que empieza alrededor del ombligo y se desplaza "
     "a la fosa ilíaca derecha, y suele requerir cirugía."),
    ("¿Cómo se transmite la tuberculosis?",
     "Por el aire, cuando una persona con tuberculosis pulmonar activa tose o estornuda."),
    ("¿Qué alimentos convienen a una persona con insuficiencia renal?",
     "Depende de la fase, pero en general se limitan la sal, el potasio, el fósforo y, a veces, las "
     "proteínas, con la ayuda de un dietista."),
    ("¿Qué es la fibrilación auricular?",
     "Es una arritmia en la que las aurículas laten de forma desordenada. Aumenta el riesgo de ictus y suele "
     "requerir anticoagulación."),
]

ZH_QA = [
    ("高血压患者日常生活中应该注意什么？",
     "应低盐饮食，每日食盐不超过5克，控制体重，规律运动，戒烟限酒，保持心情舒畅，并按时服药、定期监测血压。"),
    ("糖尿病的典型症状有哪些？", "典型症状是多饮、多尿、多食和体重下降，即“三多一少”。部分患者没有明显症状。"),
    ("二甲双胍的常见副作用是什么？", "常见副作用是胃肠道反应，如恶心、腹泻和腹胀，一般随餐服用并从小剂量开始可以减轻。"),
    ("什么是冠心病？", "冠心病是冠状动脉粥样硬化导致血管狭窄或阻塞，引起心肌缺血缺氧的心脏病，表现为心绞痛或心肌梗死。"),
    ("发烧时什么情况下需要去医院？", "体温超过39摄氏度持续不退、伴有意识改变、抽搐、呼吸困难或皮疹时，应及时就医。三个月以下婴儿发热应立即就诊。"),
    ("如何预防流感？", "每年接种流感疫苗，勤洗手，咳嗽打喷嚏时遮住口鼻，流感季节避免去人群密集的地方。"),
    ("哮喘急性发作时怎么办？", "立即使用沙丁胺醇等速效支气管扩张剂，保持坐位，如症状不缓解应立即拨打急救电话。"),
    ("什么是脑卒中？", "脑卒中俗称中风，是脑部血管突然破裂或阻塞导致脑组织损伤的疾病，分为缺血性和出血性两类。"),
    ("贫血有哪些表现？", "常见表现有乏力、头晕、面色苍白、心悸和活动后气短。缺铁性贫血是最常见的类型。"),
    ("甲状腺功能减退症怎么治疗？", "通常口服左甲状腺素替代治疗，从小剂量开始，根据促甲状腺激素水平调整剂量，多数需要长期服药。"),
    ("肺炎的主要症状是什么？", "主要症状包括发热、咳嗽、咳痰、胸痛和呼吸困难，老年人症状可能不典型。"),
    ("孕妇为什么要补充叶酸？", "孕前三个月至孕早期每天补充0.4毫克叶酸，可以降低胎儿神经管缺陷的风险。"),
    ("他汀类药物有什么作用？", "他汀类药物可以降低低密度脂蛋白胆固醇，稳定动脉斑块，减少心肌梗死和脑卒中的发生。"),
    ("痛风急性发作期如何处理？", "可使用非甾体抗炎药、秋水仙碱或短期糖皮质激素，多饮水，避免高嘌呤饮食和饮酒。"),
    ("什么是骨质疏松？", "骨质疏松是骨量减少、骨组织微结构破坏，导致骨脆性增加、容易骨折的代谢性骨病，多见于绝经后女性和老年人。"),
    ("如何判断婴儿是否脱水？", "尿量减少、口唇干燥、哭时无泪、前囟凹陷和精神萎靡都是脱水的表现，应及时就医。"),
    ("阑尾炎有什么症状？", "典型表现是转移性右下腹痛，即疼痛先出现在上腹部或脐周，数小时后转移到右下腹，可伴恶心、呕吐和发热。"),
    ("结核病能治愈吗？", "大多数结核病可以治愈，需要按照医嘱规律、全程服用抗结核药物，一般疗程至少六个月。"),
    ("心力衰竭患者为什么要限制饮水和盐？", "限制钠盐和液体摄入可以减轻水钠潴留，缓解水肿和呼吸困难，减少心脏负担。"),
    ("过敏性休克如何急救？", "立即在大腿外侧肌内注射肾上腺素，让患者平卧抬高下肢，吸氧并拨打急救电话。"),
]

AR_QA = [
    ("ما هي أعراض مرض السكري؟", "العطش الشديد وكثرة التبول والتعب وفقدان الوزن غير المبرر وتشوش الرؤية وبطء التئام الجروح."),
    ("كيف يمكن الوقاية من ارتفاع ضغط الدم؟",
     "بتقليل الملح في الطعام وممارسة الرياضة بانتظام والحفاظ على وزن صحي والإقلاع عن التدخين."),
    ("ما هو الربو؟", "الربو مرض مزمن يصيب الشعب الهوائية فيسبب ضيق التنفس والسعال والصفير، ويعالج بالبخاخات الموسعة للشعب والكورتيزون المستنشق."),
    ("متى يجب مراجعة الطبيب عند ارتفاع حرارة الطفل؟",
     "إذا كان عمر الطفل أقل من ثلاثة أشهر، أو استمرت الحمى أكثر من خمسة أيام، أو ظهر طفح جلدي أو صعوبة في التنفس."),
    ("ما هي علامات الجلطة الدماغية؟", "ارتخاء الوجه وضعف الذراع واضطراب الكلام بشكل مفاجئ، ويجب الاتصال بالإسعاف فوراً."),
    ("ما هو فقر الدم؟", "فقر الدم هو انخفاض عدد كريات الدم الحمراء أو الهيموغلوبين، ومن أسبابه نقص الحديد وفقدان الدم."),
    ("ما فوائد حمض الفوليك للحامل؟", "يقلل خطر تشوهات الأنبوب العصبي لدى الجنين، ويؤخذ قبل الحمل وخلال الأشهر الثلاثة الأولى."),
    ("كيف يعالج التهاب الرئة؟", "يعالج الالتهاب الرئوي البكتيري بالمضادات الحيوية مع الراحة وشرب السوائل، وقد يحتاج المريض إلى دخول المستشفى."),
    ("ما هي أعراض قصور الغدة الدرقية؟", "التعب وزيادة الوزن والشعور بالبرد والإمساك وجفاف الجلد وتساقط الشعر."),
    ("ما هي الآثار الجانبية للميتفورمين؟", "اضطرابات الجهاز الهضمي مثل الغثيان والإسهال، وتقل عادة عند تناوله مع الطعام."),
    ("كيف يتم تشخيص ارتفاع ضغط الدم؟", "بقياس ضغط الدم عدة مرات في أيام مختلفة، ويشخص عندما يكون 140/90 ملم زئبق أو أكثر بشكل متكرر."),
    ("ما هو التهاب الزائدة الدودية؟", "هو التهاب الزائدة الدودية يسبب ألماً يبدأ حول السرة ثم ينتقل إلى أسفل البطن الأيمن، وغالباً يحتاج إلى جراحة."),
    ("كيف ينتقل مرض السل؟", "ينتقل السل عن طريق الهواء عندما يسعل أو يعطس شخص مصاب بالسل الرئوي النشط."),
    ("ما هي أعراض النوبة القلبية؟", "ألم ضاغط في الصدر قد يمتد إلى الذراع اليسرى أو الفك، مع تعرق وغثيان وضيق في التنفس."),
    ("ما هو علاج الصدمة التحسسية؟", "حقن الأدرينالين في عضلة الفخذ فوراً، ووضع المريض مستلقياً مع رفع الساقين، والاتصال بالإسعاف."),
    ("لماذا يجب تقليل الملح لمرضى القلب؟", "لأن الملح يسبب احتباس السوائل وارتفاع ضغط الدم، مما يزيد العبء على القلب."),
]

# (question, options, answer letter, explanation) — exam-style, invented for the project.
MCQ_EN = [
    ("A 58-year-old man has crushing chest pain for 40 minutes and ST elevation in leads II, III and aVF. "
     "Which coronary artery is most likely occluded?",
     ["Left anterior descending artery", "Left circumflex artery", "Right coronary artery",
      "Left main coronary artery"], "C",
     "ST elevation in II, III and aVF indicates an inferior infarction, most often from right coronary artery "
     "occlusion. The LAD supplies the anterior wall, the circumflex the lateral wall, and left main occlusion "
     "causes widespread changes."),
    ("Which drug is first-line for most adults with newly diagnosed type 2 diabetes?",
     ["Insulin glargine", "Metformin", "Glibenclamide", "Pioglitazone"], "B",
     "Metformin lowers glucose without weight gain or hypoglycaemia and is first-line unless contraindicated. "
     "Insulin, sulfonylureas and pioglitazone are later options."),
    ("Which electrolyte abnormality is a well-known adverse effect of ACE inhibitors?",
     ["Hyperkalemia", "Hypokalemia", "Hypercalcemia", "Hypernatremia"], "A",
     "ACE inhibitors reduce aldosterone, so potassium is retained. They do not typically cause low potassium, "
     "high calcium or high sodium."),
    ("What is the antidote for paracetamol (acetaminophen) overdose?",
     ["Naloxone", "Flumazenil", "N-acetylcysteine", "Atropine"], "C",
     "N-acetylcysteine replenishes glutathione. Naloxone reverses opioids, flumazenil benzodiazepines, and "
     "atropine treats organophosphate poisoning."),
    ("A 25-year-old woman has heat intolerance, weight loss, a diffuse goitre and exophthalmos. What is the most "
     "likely diagnosis?",
     ["Hashimoto thyroiditis", "Graves disease", "Toxic multinodular goitre", "Subacute thyroiditis"], "B",
     "Exophthalmos with a diffuse goitre and hyperthyroidism is characteristic of Graves disease. Hashimoto "
     "causes hypothyroidism, multinodular goitre is nodular and subacute thyroiditis is painful."),
    ("Which vitamin deficiency causes Wernicke encephalopathy?",
     ["Vitamin B12", "Thiamine (vitamin B1)", "Niacin (vitamin B3)", "Folate"], "B",
     "Thiamine deficiency, often with alcohol use, causes confusion, ataxia and ophthalmoplegia. B12 and folate "
     "deficiency cause megaloblastic anaemia; niacin deficiency causes pellagra."),
    ("What is the most common cause of community-acquired pneumonia?",
     ["Staphylococcus aureus", "Streptococcus pneumoniae", "Klebsiella pneumoniae", "Pseudomonas aeruginosa"],
     "B", "Streptococcus pneumoniae is the most common bacterial cause. The others are less frequent and "
     "associated with specific risk factors."),
    ("Which test is most useful to confirm iron deficiency?",
     ["Serum ferritin", "Mean corpuscular volume", "Reticulocyte count", "Serum vitamin B12"], "A",
     "A low ferritin is the most specific test for iron deficiency. A low MCV is suggestive but not specific, "
     "and the reticulocyte count and B12 do not measure iron stores."),
    ("A patient on warfarin has an INR of 9 without bleeding. What is the most appropriate step?",
     ["Continue the same dose", "Stop warfarin and give oral vitamin K", "Give fresh frozen plasma",
      "Give protamine sulfate"], "B",
     "An INR above 8 without bleeding is managed by stopping warfarin and giving oral vitamin K. Plasma or "
     "prothrombin complex is for major bleeding, and protamine reverses heparin."),
    ("Which organism causes tuberculosis?",
     ["Mycobacterium leprae", "Mycobacterium tuberculosis", "Mycoplasma pneumoniae", "Corynebacterium diphtheriae"],
     "B", "Mycobacterium tuberculosis causes tuberculosis; M. leprae causes leprosy."),
    ("Which of the following is a live attenuated vaccine that should be avoided in pregnancy?",
     ["Tetanus toxoid", "Inactivated influenza", "MMR", "Hepatitis B"], "C",
     "MMR is live attenuated and is avoided in pregnancy. Tetanus toxoid, inactivated influenza and hepatitis B "
     "vaccines are not live."),
    ("What is the first-line treatment for anaphylaxis?",
     ["Oral antihistamine", "Intramuscular adrenaline", "Intravenous hydrocortisone", "Nebulised salbutamol"],
     "B", "Intramuscular adrenaline is first-line; antihistamines and steroids are adjuncts, and salbutamol "
     "treats residual bronchospasm."),
]

MCQ_ES = [
    ("¿Cuál es el fármaco de elección en el tratamiento inicial de la crisis de ausencia típica?",
     ["Carbamazepina", "Etosuximida", "Fenitoína", "Gabapentina"], "B",
     "La etosuximida es de elección en las ausencias típicas; la carbamazepina y la fenitoína pueden empeorarlas."),
    ("¿Qué hallazgo es característico de la anemia ferropénica?",
     ["VCM elevado", "Ferritina baja", "Bilirrubina indirecta elevada", "Reticulocitos muy elevados"], "B",
     "La ferritina baja refleja depósitos de hierro vacíos; el VCM suele estar bajo, no elevado."),
    ("¿Cuál es la causa más frecuente de hipertiroidismo en mujeres jóvenes?",
     ["Enfermedad de Graves", "Bocio multinodular tóxico", "Adenoma tóxico", "Tiroiditis subaguda"], "A",
     "La enfermedad de Graves es la causa más frecuente en mujeres jóvenes."),
    ("¿Qué antídoto se utiliza en la intoxicación por opioides?",
     ["Flumazenilo", "Naloxona", "N-acetilcisteína", "Atropina"], "B",
     "La naloxona revierte la depresión respiratoria por opioides."),
    ("¿Qué arteria se afecta con más frecuencia en el infarto de cara inferior?",
     ["Descendente anterior", "Circunfleja", "Coronaria derecha", "Tronco común"], "C",
     "La coronaria derecha irriga la cara inferior en la mayoría de las personas."),
    ("¿Cuál es el tratamiento de primera línea de la anafilaxia?",
     ["Adrenalina intramuscular", "Antihistamínico oral", "Corticoide inhalado", "Salbutamol oral"], "A",
     "La adrenalina intramuscular es el tratamiento de primera línea."),
]

PUBMEDQA = [
    ("30001001", "Does a structured exercise programme reduce HbA1c in adults with type 2 diabetes?",
     ["Adults with type 2 diabetes were randomised to a 12-week supervised aerobic and resistance exercise "
      "programme or usual care.",
      "HbA1c fell by 0.6 percentage points in the exercise group compared with 0.1 in the control group "
      "(p<0.01)."],
     "A 12-week structured exercise programme lowered HbA1c more than usual care.", "yes",
     ["Diabetes Mellitus, Type 2", "Exercise Therapy", "Glycated Hemoglobin"]),
    ("30001002", "Is vitamin D supplementation associated with fewer asthma exacerbations in children?",
     ["Children with persistent asthma received vitamin D3 or placebo for six months.",
      "The rate of exacerbations requiring oral steroids did not differ between groups."],
     "Vitamin D supplementation did not reduce asthma exacerbations in this trial.", "no",
     ["Asthma", "Vitamin D", "Child"]),
    ("30001003", "Does early mobilisation after hip fracture surgery shorten hospital stay?",
     ["Patients were mobilised within 24 hours or after 48 hours following surgery.",
      "Median length of stay was 9 days versus 11 days, but the difference was not significant after "
      "adjustment for age and frailty."],
     "Early mobilisation may shorten stay, but the evidence after adjustment is inconclusive.", "maybe",
     ["Hip Fractures", "Early Ambulation", "Length of Stay"]),
    ("30001004", "Do statins reduce the risk of recurrent stroke?",
     ["Patients with a recent ischaemic stroke were given a high-intensity statin or placebo.",
      "Recurrent stroke occurred in 11.2% versus 13.1% over five years."],
     "High-intensity statins reduced recurrent stroke after ischaemic stroke.", "yes",
     ["Stroke", "Hydroxymethylglutaryl-CoA Reductase Inhibitors", "Secondary Prevention"]),
    ("30001005", "Is procalcitonin-guided therapy associated with shorter antibiotic courses in pneumonia?",
     ["Adults admitted with lower respiratory tract infection were assigned to procalcitonin-guided or "
      "guideline-based antibiotic decisions.",
      "Antibiotic exposure was 5.7 days versus 8.7 days with similar clinical outcomes."],
     "Procalcitonin guidance shortened antibiotic courses without worse outcomes.", "yes",
     ["Pneumonia", "Procalcitonin", "Anti-Bacterial Agents"]),
    ("30001006", "Does melatonin prevent delirium in elderly medical inpatients?",
     ["Patients aged 70 or over received melatonin 3 mg or placebo nightly.",
      "Delirium incidence was 12.0% and 14.5%; the confidence interval included no effect."],
     "Melatonin did not clearly prevent delirium.", "no", ["Delirium", "Melatonin", "Aged"]),
]

DIALOGUES_EN = [
    ["Doctor, I've had a cough for three weeks and I sometimes bring up yellow phlegm.",
     "I'm sorry to hear that. Do you have a fever, night sweats or weight loss, and do you smoke?",
     "No fever, but I do smoke about ten cigarettes a day.",
     "A cough for three weeks in a smoker needs a closer look. I'd like to listen to your chest and arrange a "
     "chest X-ray. Stopping smoking will also help your cough settle, and we can support you with that."],
    ["I keep getting headaches behind my eyes in the afternoon.",
     "How long have they been happening, and do you notice anything that brings them on, like screens or "
     "missed meals?",
     "For about a month. I work at a computer all day and often skip lunch.",
     "That pattern fits a tension-type headache. Regular meals, water, breaks from the screen and an eye test "
     "are good first steps. If the headaches wake you at night or come with weakness or vomiting, see a doctor "
     "straight away."],
    ["My blood pressure reading at the pharmacy was 152 over 95. Should I worry?",
     "One high reading is not a diagnosis. Have you had it checked before, and do you have headaches, chest "
     "pain or breathlessness?",
     "No symptoms. It's the first time I've checked it.",
     "It's worth confirming with home readings twice a day for a week, then sharing them with your doctor. "
     "Meanwhile, cutting down on salt and alcohol and staying active are helpful."],
]

DIALOGUES_ES = [
    ["Doctora, mi hijo de dos años tiene fiebre de 38,5 desde ayer.",
     "¿Cómo está de ánimo? ¿Come, bebe y moja pañales con normalidad?",
     "Está algo decaído pero bebe bien y juega a ratos.",
     "Si bebe y juega, puede tratarse en casa con paracetamol según su peso y vigilando. Acuda a urgencias si "
     "le cuesta respirar, aparecen manchas que no desaparecen al presionar o la fiebre dura más de tres días."],
    ["Tengo ardor al orinar desde hace dos días.",
     "¿Tiene fiebre, dolor en la zona lumbar o está embarazada?",
     "No, solo el ardor y ganas de orinar a menudo.",
     "Parece una cistitis no complicada. Conviene hacer un análisis de orina y tratarla con un antibiótico "
     "durante tres días; beba abundante agua."],
]

DIALOGUES_ZH = [
    ["医生，我最近总是口渴，晚上起夜好几次。", "这种情况持续多久了？体重有没有变化？家里有人患糖尿病吗？",
     "大概一个月了，瘦了三公斤，我父亲有糖尿病。",
     "这些症状提示可能有糖尿病，建议尽快查空腹血糖和糖化血红蛋白，明确诊断后再制定治疗方案。"],
]

DIALOGUES_AR = [
    ["دكتور، أشعر بألم في صدري عند صعود الدرج.", "منذ متى بدأ الألم؟ وهل يزول عند الراحة؟",
     "منذ أسبوعين تقريباً، ويزول بعد دقائق من الراحة.",
     "قد يكون هذا ذبحة صدرية مستقرة. يجب إجراء تخطيط للقلب واختبار جهد في أقرب وقت، واطلب الإسعاف إذا استمر الألم أكثر من عشر دقائق."],
]

TEXTS = [
    ("en", "Hypertension is one of the most important modifiable risk factors for cardiovascular disease. Blood "
     "pressure should be measured on several occasions before a diagnosis is made, and ambulatory or home "
     "monitoring helps exclude white-coat hypertension. Treatment combines lifestyle changes with drugs chosen "
     "according to age and comorbidities."),
    ("en", "Antimicrobial resistance arises when bacteria survive exposure to antibiotics that would normally "
     "kill them. Overuse in humans and animals, incomplete courses and poor infection control all contribute. "
     "Stewardship programmes promote the right drug, dose and duration for each infection."),
    ("en", "Sepsis remains a leading cause of death in hospitals. Early recognition with screening tools, blood "
     "cultures before antibiotics, timely broad-spectrum therapy and fluid resuscitation improve survival. "
     "Serum lactate helps identify patients with tissue hypoperfusion."),
    ("en", "Iron deficiency is the most common nutritional deficiency worldwide. It affects children, women of "
     "reproductive age and pregnant women in particular, and causes fatigue, reduced exercise tolerance and "
     "impaired cognitive development in children."),
    ("es", "La diabetes mellitus tipo 2 se caracteriza por resistencia a la insulina y un déficit relativo de su "
     "secreción. El tratamiento incluye dieta, ejercicio y fármacos como la metformina, y el control de otros "
     "factores de riesgo cardiovascular como la presión arterial y el colesterol."),
    ("es", "La insuficiencia cardíaca es un síndrome en el que el corazón no bombea sangre suficiente para cubrir "
     "las necesidades del organismo. Sus síntomas principales son la disnea, el cansancio y los edemas en las "
     "piernas."),
    ("zh", "高血压是心脑血管疾病最重要的危险因素之一。诊断需要在不同时间多次测量血压，治疗包括生活方式干预和药物治疗，"
     "药物选择需结合年龄和合并症。长期规律服药并监测血压对于预防脑卒中和心肌梗死非常重要。"),
    ("zh", "抗菌药物耐药是全球公共卫生面临的重大挑战。滥用抗生素、疗程不足和感染控制不到位都会促进耐药菌的产生，"
     "合理用药管理可以减缓耐药的发展。"),
    ("ar", "يعد ارتفاع ضغط الدم من أهم عوامل الخطر القابلة للتعديل لأمراض القلب والأوعية الدموية، ويتطلب التشخيص "
     "قياس الضغط عدة مرات، ويشمل العلاج تغيير نمط الحياة والأدوية المناسبة."),
    ("ar", "مقاومة المضادات الحيوية مشكلة صحية عالمية تنتج عن الإفراط في استخدام هذه الأدوية وعدم إكمال العلاج، "
     "ويساعد الاستخدام الرشيد على الحد منها."),
]
