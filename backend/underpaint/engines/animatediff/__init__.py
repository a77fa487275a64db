"""The `animatediff` engine: SD1.5 + AnimateDiff motion modules + ControlNets (`engine`), its model-set
config (`config`), loading, context windows and the tiny random-weight builder."""
