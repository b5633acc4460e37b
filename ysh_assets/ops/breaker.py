"""A circuit breaker's states, apart from where they are kept and how they change (the stores in
`ysh_assets.ops.quotas` make each transition atomic).

Closed: calls go through and consecutive failures are counted; the `failures`-th opens it. Open: calls are
refused until `open_until`; after that one caller at a time gets a half-open trial (state `half_open`,
`open_until` then being the end of its lease). The trial's success closes it (back to `BreakerState()`);
its failure re-opens it for another cool-down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

State = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class BreakerPolicy:
    failures: int  # consecutive failures that open the breaker
    cooldown_seconds: float  # how long it stays open before half-opening (and how long a trial's lease lasts)


@dataclass(frozen=True)
class BreakerState:
    state: State = "closed"
    failures: int = 0  # consecutive failures so far
    open_until: float | None = None  # epoch seconds: the cool-down's end (open) or the trial lease's (half_open)
    last_error: str | None = None

    def effective(self, now: float) -> State:
        """The state a caller sees at `now`: an open breaker whose cool-down is over is half-open."""
        if self.state == "open" and self.open_until is not None and now >= self.open_until:
            return "half_open"
        return self.state
