"""Rubric grading: the model used as a judge or reward model.

Campaigns that build preference data or train a reward model send "grade this answer on a
1-10 rubric", "which of the two responses is better", "score the following response for
helpfulness and harmlessness; output JSON". A teacher grading one essay is the main false
positive; the strongest cues name *responses* or *answers* (model outputs) being rated against
explicit criteria and a numeric scale.
"""

from __future__ import annotations

from typing import ClassVar

from distillguard.detect.signals.base import LearnedSignal


class RubricGradingSignal(LearnedSignal):
    """Uses the model as a grader / reward model (ATLAS AML.T0024.002, AML.T0005.001)."""

    name: ClassVar[str] = "rubric_grading"
    family: ClassVar[str] = "rubric grading (model as judge or reward model)"
    atlas: ClassVar[tuple[str, ...]] = ("AML.T0024.002", "AML.T0005.001", "AML.T0040")
    description: ClassVar[str] = (
        "asks the model to grade, score, rank or compare responses against a rubric or scale"
    )
    CUES: ClassVar[tuple[str, ...]] = (
        "rubric",
        "grade",
        "grading",
        "score",
        "rate the",
        "rate this",
        "rating",
        "evaluate the",
        "evaluate the response",
        "assess the",
        "judge",
        "scale of",
        "scale from",
        "on a scale",
        "out of 0",
        "0 to 0",
        "0 0",
        "criteria",
        "criterion",
        "the response",
        "the responses",
        "the answer",
        "assistant's",
        "response a",
        "response b",
        "answer a",
        "answer b",
        "which response",
        "which answer",
        "is better",
        "more helpful",
        "helpfulness",
        "harmlessness",
        "correctness",
        "factual accuracy",
        "preference",
        "reward",
        "verdict",
        "justify your score",
        "feedback",
        "reward model",
        "scalar",
        "completion",
        "completions",
        "prefer",
        "would a human prefer",
        "quality score",
        "critique",
        "assign a score",
        "on accuracy",
    )
