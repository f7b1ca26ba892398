"""What this agent knows of the workshop's end, and the rules it enforces from it.

The platform hands the end to the agent at boot (``CLARATEACH_AGENT_ENDS_AT`` and
``CLARATEACH_AGENT_GRACE_ENDS_AT``) and again whenever the instructor extends or ends the
workshop (``PUT /control/schedule``). Times are epoch seconds; the clock is the app's
injectable ``AgentContext.clock``.

After the grace period the archive is refused (``410 workshop_ended``): by then the platform
is destroying this host, and a download that starts now could not finish.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from workspace_agent.settings import AgentSettings

#: Minutes before the end at which learners are warned (shared.domain.schedule agrees).
WARNING_MINUTES = (15, 5)


def parse_time(text: str) -> float | None:
    """ISO 8601 with an offset -> epoch seconds; empty -> ``None``; anything else ValueError."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone offset")
    return moment.timestamp()


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class AgentSchedule:
    ends_at: float | None = None
    grace_ends_at: float | None = None

    def set(self, ends_at: float | None, grace_ends_at: float | None) -> None:
        if ends_at is not None and grace_ends_at is not None and grace_ends_at < ends_at:
            raise ValueError("grace_ends_at must not be before ends_at")
        self.ends_at = ends_at
        self.grace_ends_at = grace_ends_at if grace_ends_at is not None else ends_at

    def phase(self, now: float) -> str:
        """``unscheduled``, ``open``, ``ending`` (last 15 min), ``grace`` or ``over``."""
        if self.ends_at is None:
            return "unscheduled"
        if self.grace_ends_at is not None and now >= self.grace_ends_at:
            return "over"
        if now >= self.ends_at:
            return "grace"
        if self.ends_at - now <= WARNING_MINUTES[0] * 60:
            return "ending"
        return "open"

    def downloads_allowed(self, now: float) -> bool:
        return self.phase(now) != "over"

    def view(self, now: float) -> dict[str, object]:
        return {
            "ends_at": iso(self.ends_at),
            "grace_ends_at": iso(self.grace_ends_at),
            "phase": self.phase(now),
            "warning_minutes": list(WARNING_MINUTES),
            "server_time": iso(now),
        }


def agent_schedule(settings: AgentSettings) -> AgentSchedule:
    """The schedule from the agent's configuration (validated at startup)."""
    schedule = AgentSchedule()
    try:
        schedule.set(parse_time(settings.ends_at), parse_time(settings.grace_ends_at))
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"CLARATEACH_AGENT_ENDS_AT / _GRACE_ENDS_AT: {exc}") from None
    return schedule


SCHEDULE = web.AppKey("schedule", AgentSchedule)
