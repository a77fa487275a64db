"""The server's wiring: the stores of one data directory (`services`) and the engines the workers keep
loaded, with the model catalog (`engine_pool`). Imports nothing of the job queue or the paint services."""
