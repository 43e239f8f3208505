"""How runs are followed: poll pacing, timeouts, limits. One value shared by the run services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

DEFAULT_LEASE = timedelta(seconds=60)
"""A delivery claim's lease, renewed every third of it while sending."""


@dataclass(frozen=True)
class RunPolicy:
    poll_after: timedelta
    """With webhooks: poll a run that has been quiet this long."""
    poll_interval: timedelta
    """Without webhooks: how often to poll each run."""
    poll_max_backoff: timedelta
    run_timeout: timedelta
    webhooks: bool = True
    """Whether backends can reach us (a public URL is set)."""
    max_prompt_chars: int = 2000
    max_input_bytes: int = 20_000_000
    delivery_lease: timedelta = DEFAULT_LEASE
    """How long the process that records a run's end holds its delivery before others may."""
    locate_after: timedelta = timedelta(seconds=60)
    """A submit whose answer was lost: look for the run on the backend after this long."""
    pending_give_up: timedelta = timedelta(minutes=15)
    """…and end it when the backend still does not know it after this long."""
    poll_concurrency: int = 8
    """Polls of one sweep in flight at once."""

    @property
    def quiet_poll_delay(self) -> timedelta:
        return self.poll_after if self.webhooks else self.poll_interval

    @property
    def poll_check_every_s(self) -> float:
        """How often to look for runs due a poll: a tenth of the shorter delay, so a poll is
        at most a tenth late; lateness never adds up, as each next poll is due one delay after
        the previous one was due (`RunWatch`)."""
        shorter = min(self.poll_interval, self.poll_after).total_seconds()
        return max(0.25, shorter / 10)
