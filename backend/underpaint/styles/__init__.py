"""Styles: LoRAs trained (peft) on a folder of concept art, kept by name in the data directory.

`underpaint.styles.train.train_style` trains one; the registry (`registry`)
lists them and turns `name` + strength into the `StyleRef` an engine applies.
This package's top level stays light (no torch): the server imports
`resolve_style` from here at start-up.
"""

from .registry import list_styles, read_card, resolve_style

__all__ = ["list_styles", "read_card", "resolve_style"]
