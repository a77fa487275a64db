"""Diffusion engines behind one protocol (`underpaint.engines.base.Engine`)."""
