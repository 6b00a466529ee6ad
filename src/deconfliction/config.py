"""The hub's one validated settings object.

Every setting can be given as an environment variable with the ``DECONFLICTION_`` prefix (e.g.
``DECONFLICTION_HORIZONTAL_BUFFER_M=500``). ``create_app(settings)`` and the CLI pass it down; nothing reads it
from a global.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """What an operator of the hub may tune. Documented in the README's settings table (a test checks)."""

    model_config = SettingsConfigDict(env_prefix="DECONFLICTION_", extra="ignore")

    db: Path = Field(Path("deconfliction.db"), description="SQLite database file (created when missing).")
    host: str = Field("127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(8321, ge=0, le=65535, description="Port the HTTP server listens on.")
    horizontal_buffer_m: float = Field(
        0.0, ge=0, le=100_000, description="Footprints closer than this (metres) conflict."
    )
    vertical_buffer_m: float = Field(
        0.0, ge=0, le=10_000, description="Altitude bands closer than this (metres) conflict."
    )
    time_buffer_s: float = Field(0.0, ge=0, le=86_400, description="Time windows closer than this conflict.")
    coalition_conflicts: bool = Field(
        True, description="Whether operations of coalition partners conflict with each other."
    )
    max_vertices: int = Field(10_000, ge=4, description="Most vertices one footprint may have.")
    max_area_km2: float = Field(250_000.0, gt=0, description="Largest footprint area accepted (km²).")
    sqlite_synchronous: Literal["FULL", "NORMAL", "OFF"] = Field(
        "FULL", description="SQLite synchronous mode; FULL makes every acknowledged write survive power loss."
    )
    batch_max: int = Field(256, ge=1, description="Most writes committed together in one transaction (group commit).")
    sweep_interval_s: float = Field(
        5.0, gt=0, description="How often ended operations and expired conflicts are swept."
    )
    event_heartbeat_s: float = Field(15.0, gt=0, description="Keep-alive comment interval on the event stream.")
    ack_flash_s: float = Field(120.0, gt=0, description="Default acknowledgement deadline of a flash notice (seconds).")
    ack_immediate_s: float = Field(600.0, gt=0, description="Default acknowledgement deadline of an immediate notice.")
    ack_priority_s: float = Field(3600.0, gt=0, description="Default acknowledgement deadline of a priority notice.")
    ack_routine_s: float = Field(86_400.0, gt=0, description="Default acknowledgement deadline of a routine notice.")
    deadline_check_s: float = Field(1.0, gt=0, description="How often missed acknowledgement deadlines are looked for.")
    line_test_interval_s: float = Field(300.0, gt=0, description="How often the hub sends each endpoint a line test.")
    line_test_answer_s: float = Field(60.0, gt=0, description="How long an endpoint has to answer a line test.")
    line_test_missed_down: int = Field(
        3, ge=1, description="An endpoint that answered none of its last N line tests is down."
    )
    webhook_max_attempts: int = Field(
        10, ge=1, description="POSTs of one event before an endpoint's webhook push goes to dead-letter."
    )
    webhook_base_s: float = Field(1.0, gt=0, description="First webhook retry delay; it doubles, with jitter.")
    webhook_cap_s: float = Field(300.0, gt=0, description="Longest webhook retry delay.")
    webhook_timeout_s: float = Field(10.0, gt=0, description="How long one webhook POST may take.")
    webhook_dead_probe_s: float = Field(
        900.0, gt=0, description="How often a dead-lettered webhook is tried again on its own."
    )
    audit_head_interval_s: float = Field(
        60.0, gt=0, le=60, description="Longest time between two signed tree heads, even when nothing changes."
    )
    track_stale_s: float = Field(
        60.0, gt=0, le=3600, description="Position reports older than this are dropped; tracks silent this long end."
    )
    track_parse_workers: int = Field(
        1, ge=0, le=64, description="Processes that parse large position-report batches beside the hub (0: none)."
    )
    track_parse_min_bytes: int = Field(
        32_768, ge=0, description="Batches at least this large (JSON bytes) are parsed in those processes."
    )
    tactical_pass_s: float = Field(1.0, gt=0, le=60, description="How often live tracks are checked for encounters.")
    tactical_lookahead_s: float = Field(
        300.0, gt=0, le=3600, description="How far ahead encounters and intrusions are predicted (s)."
    )
    tactical_horizontal_m: float = Field(
        9_260.0, gt=0, description="Tracks predicted closer than this horizontally (and vertically) lose separation."
    )
    tactical_vertical_m: float = Field(304.8, gt=0, description="Vertical separation minimum of live tracks (m).")
    tactical_same_party: bool = Field(False, description="Whether a party's own tracks are checked against each other.")
    cpu: str = Field(
        "auto",
        pattern=r"^(auto|off|[0-9]+)$",
        description="The one CPU core the hub's threads run on: auto (the core it starts on), a number, or off.",
    )
