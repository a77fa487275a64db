"""The server's engines: the engine each worker keeps loaded between jobs, and the model catalog that
says which model sets this machine can paint with (`engine_pool`). Imports nothing of the job queue or the
paint services."""
