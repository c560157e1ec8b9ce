"""Watch mode (doorbell): rules, tracking, motion gating, durable events and notifiers.

Data flows one way: the pipeline's gate (`motion.MotionGate`) decides which frames
are detected; the `sink.WatchSink` sink turns results into events (`events`),
snapshots and clips; each event phase is fsynced to ``events.jsonl``, then spooled
(`spool`) and delivered by `delivery.Deliverer` through `notifiers`. `runner.run_watch`
wires it all together for ``lookout watch``.
"""
