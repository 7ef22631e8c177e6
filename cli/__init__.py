"""The `sabiscore` command line: the one package allowed to reach every layer (the domain
`sabiscore/`, `models/`, `tasks/`, `flows/`, `bentos/`). `python -m cli` is `sabiscore`."""
