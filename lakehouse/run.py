"""RunContext: what a job run knows about itself. The clock is read once, where a run starts,
and passed down; logic never calls now()."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

__all__ = ["RunContext"]


@dataclass(frozen=True, kw_only=True)
class RunContext:
    job: str
    run_date: dt.date
    run_id: str
    started_at: dt.datetime

    @classmethod
    def start(cls, job: str, run_date: dt.date) -> RunContext:
        """Called once by a job's entry point."""
        return cls(
            job=job,
            run_date=run_date,
            run_id=f"{job}:{run_date.isoformat()}:{uuid.uuid4().hex[:12]}",
            started_at=dt.datetime.now(dt.UTC),
        )

    def app_id(self, *parts: str) -> str:
        """The Delta app-transaction id of this job for this logical date (and parts)."""
        return ".".join([self.job, *parts, self.run_date.isoformat()])
