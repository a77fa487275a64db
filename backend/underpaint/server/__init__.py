"""The server's wiring: the stores of one data directory opened once (`services`), and the model catalog
`/v1/health` shows (`catalog`). Nothing here knows HTTP; `api` does."""
