"""Synthetic-data generation wrappers: "generate N diverse training examples".

Campaigns turn the model into a data factory: "generate 20 diverse question-answer pairs in
JSONL", "write 50 variations of this instruction", "produce training examples for fine-tuning
a model". A user who wants "5 names for my cat" is the main false positive; the cues that
carry weight mention datasets, training, diversity, fixed output schemas and large counts.
"""

from __future__ import annotations

from typing import ClassVar

from distillguard.detect.signals.base import LearnedSignal


class SyntheticDataSignal(LearnedSignal):
    """Asks for bulk synthetic training data (ATLAS AML.T0005.001, AML.T0024.002)."""

    name: ClassVar[str] = "synthetic_data"
    family: ClassVar[str] = "synthetic-data generation"
    atlas: ClassVar[tuple[str, ...]] = ("AML.T0005.001", "AML.T0024.002", "AML.T0040")
    description: ClassVar[str] = (
        "asks for many diverse examples, instruction/response pairs or dataset rows in a fixed "
        "schema, for training another model"
    )
    CUES: ClassVar[tuple[str, ...]] = (
        "generate",
        "diverse",
        "examples",
        "training examples",
        "training data",
        "dataset",
        "data set",
        "fine-tuning",
        "fine tuning",
        "finetuning",
        "fine-tune",
        "synthetic",
        "variations",
        "paraphrases",
        "instruction",
        "instructions",
        "pairs",
        "question-answer pairs",
        "input-output",
        "jsonl",
        "json",
        "json object",
        "json array",
        "each example",
        "each line",
        "different topics",
        "unique",
        "samples",
        "rows",
        "seed task",
        "new tasks",
        "create 0",
        "generate 0",
        "write 0",
        "produce 0",
        "list of 0",
        "training set",
        "training pairs",
        "more examples",
        "new examples",
        "variants",
        "augment",
        "augmentation",
        "rewrites",
        "one per line",
        "json lines",
        "come up with",
        "diversity",
        "seed",
        "conversations",
        "transcripts",
        "user queries",
        "reference answer",
        "supervised",
        "0 examples",
        "0 variations",
        "0 samples",
        "0 pairs",
        "0 new",
        "0 more",
        "0 diverse",
        "0 different",
        "0 distinct",
        "ejemplos",
        "exemples",
        "beispiele",
        "exemplos",
        "entrenamiento",
        "entraînement",
        "treinamento",
        "datensatz",
        "conjunto de datos",
        "jeu de données",
        "pares",
        "paires",
    )
