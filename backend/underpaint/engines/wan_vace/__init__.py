"""The `wan-vace` engine: Wan 2.1 VACE from one control video (`engine`), its loading, windows,
video-to-video start and the tiny random-weight builder."""
