"""``earlymem replay``: one machine from firmware map to a loaded kdump kernel, across eras."""

from earlymem.scenario.replay import (
    ReplayResult,
    Scenario,
    era_of,
    load_scenario,
    replay,
    scenario_path,
)

__all__ = ["ReplayResult", "Scenario", "era_of", "load_scenario", "replay", "scenario_path"]
