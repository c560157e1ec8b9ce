"""The multi-source engine: N sources, one detector, results back to each source's sinks.

`job.run_job` is the one entry point every verb (annotate, live, watch, predict) uses;
`streams.Engine` holds the threads; `lanes` the per-source queues and their flow policies;
`stats` what a run did, per source and in total.
"""
