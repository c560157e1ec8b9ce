"""lookout's training side: datasets -> TFRecords -> Model Garden RetinaNet -> eval -> bundle."""
