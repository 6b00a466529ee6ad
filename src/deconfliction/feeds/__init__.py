"""Feeds: live position reports from outside sources into a running hub, over its HTTP API.

A feed is a client of the hub like any other: it holds a party's (or an endpoint's) token and posts batches to
``POST /v1/tracks``. ``sbs`` turns an ADS-B receiver's SBS-1 (BaseStation) lines into reports, ``replay`` reads
recorded state vectors (CSV or Parquet) and plays them back shifted to now, ``client`` posts batches with retries,
``ingest`` runs the live SBS loop. ``report`` is the report as the feeds build it, checked against the hub's limits
before it is sent, so one implausible value never gets a whole batch of 1,000 refused.
"""
