"""Physical passes -> control images. Every convention a model cares about lives here, once."""
