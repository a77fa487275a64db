"""Temporal QC: how much a painted shot flickers along the scene's true motion (Blender's Vector pass).

- warp: the warp error of one frame pair, occlusions and pixels leaving the frame masked out
- report: every pair of a folder of frames over a shot, the summary and the worst ranges
- plot: the error curve and per-pair heat maps as PNGs for people
"""
