"""Generator of the labelled tiny real trainings in ``corpus/generated`` (see its README).

``data`` builds tasks, tokenizers and models; ``spec`` is one grid cell; ``grid`` lists the
cells; ``train`` trains one and writes its files; ``labels`` labels it from its construction
and its numbers; ``generate`` runs it all and writes ``index.jsonl``.
"""
