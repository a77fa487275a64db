"""A style's card: what a trained LoRA is, what it was trained on, and how the training went.

The card travels with the LoRA in `<data dir>/styles/<name>/card.json`. It is
what lets a style be used safely later: the base model set it fits (checked
whenever the style is applied), the trigger word to put in prompts, and the
evidence that training worked (the loss curve, held-out validation loss and
renders).
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

CARD_FORMAT: Final = "underpaint.style/1"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CardImage(_Record):
    """One image of the training folder: relative name, caption used, content hash, held out or trained on."""

    file: str
    caption: str
    sha256: str
    held_out: bool = False


class CardRender(_Record):
    """A validation render made at the end of training (paths relative to the style folder)."""

    prompt: str
    styled: str
    unstyled: str
    reference: str | None = None


class StyleCard(_Record):
    format: Literal["underpaint.style/1"] = CARD_FORMAT
    name: str
    created: str
    base_model: str
    engine: str
    base: str
    trigger: str
    steps: int
    rank: int
    lora_alpha: float
    resolution: int
    crop: Literal["center"] = "center"
    learning_rate: float
    batch_size: int
    seed: int
    precision: str
    gradient_checkpointing: bool
    device: str
    images: list[CardImage]
    images_hash: str
    loss_curve: list[float]
    loss_start: float
    loss_end: float
    validation_loss_before: float | None = None
    validation_loss_after: float | None = None
    validation: list[CardRender] = []
    train_seconds: float
    steps_per_second: float
    lora_file: str
    lora_sha256: str

    def summary(self) -> StyleSummary:
        return StyleSummary(
            **self.model_dump(include=set(StyleSummary.model_fields) - {"images", "held_out"}),
            images=len(self.images),
            held_out=sum(1 for image in self.images if image.held_out),
        )


class StyleSummary(_Record):
    """What a style list shows (`GET /v1/styles`, `underpaint styles list`): the card without its tables."""

    name: str
    base_model: str
    engine: str
    trigger: str
    created: str
    steps: int
    rank: int
    resolution: int
    images: int  # in the training folder, held-out ones included
    held_out: int
    loss_start: float
    loss_end: float
    validation_loss_before: float | None = None
    validation_loss_after: float | None = None
