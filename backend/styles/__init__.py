"""Style LoRA training (peft) and the style registry."""
