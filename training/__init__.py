"""lookout's training side: datasets -> TFRecords -> Model Garden RetinaNet -> eval -> bundle.

Owns the ``[dataset]`` and ``[train]`` tables (`training.config`) and everything that
imports Model Garden (``official``). Sits on `realtime` (label maps) and `core`;
never imports `lookout` and never draws: long calls take ``on_progress``.
"""
