"""Generated medical-style text for benchmarks: a vocabulary large enough that records differ."""

from __future__ import annotations

import random

TERMS = (
    "hypertension diabetes insulin metformin asthma bronchitis pneumonia sepsis anemia hemoglobin "
    "myocardial infarction troponin angina statin cholesterol arrhythmia atrial fibrillation warfarin "
    "anticoagulation stroke thrombolysis migraine epilepsy seizure levetiracetam dementia delirium "
    "hypothyroidism levothyroxine cortisol adrenal insufficiency nephropathy creatinine dialysis "
    "hepatitis cirrhosis ascites pancreatitis lipase appendicitis cholecystitis ultrasound biopsy "
    "carcinoma metastasis chemotherapy radiotherapy immunotherapy lymphoma leukemia neutropenia fever "
    "antibiotic amoxicillin azithromycin ceftriaxone vancomycin resistance vaccine influenza measles "
    "tuberculosis isoniazid rifampicin malaria artemisinin dengue dehydration electrolytes potassium "
    "sodium hyponatremia edema furosemide heart failure ejection fraction echocardiogram dyspnea cough "
    "wheezing inhaler corticosteroid prednisone arthritis gout allopurinol osteoporosis fracture "
    "pregnancy preeclampsia gestational postpartum neonatal jaundice pediatric dosage milligram "
    "kilogram intravenous oral subcutaneous contraindication adverse effect hypersensitivity rash"
).split()
WORDS = (
    "the a patient with of and in is are was should be treated first line therapy for symptoms "
    "include may present common cause risk factors diagnosis management recommended dose daily "
    "monitor levels after before during chronic acute severe mild history examination shows "
    "elevated reduced normal test result indicates requires urgent referral follow up weeks months"
).split()


def medical_sentence(rng: random.Random, lo: int, hi: int) -> str:
    n = rng.randint(lo, hi)
    words = [rng.choice(TERMS) if rng.random() < 0.35 else rng.choice(WORDS) for _ in range(n)]
    words[0] = words[0].capitalize()
    return " ".join(words)
