"""The page: ``lookout serve`` and ``lookout watch --serve`` (events, clips, live tiles).

`server.PageServer` runs `app.create_app` on uvicorn; `views` shapes what the page and the
JSON API show; `security` holds every security default; `live` turns a running watch's
latest frames into tiles at a capped rate. The page only reads the events folder, through
its owners in `realtime.watch` (`events.EventIndex`, `spool.read_deliveries`).
"""
