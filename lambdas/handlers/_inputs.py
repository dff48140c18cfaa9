"""Inputs the state machine passes to the steps after Validate (Powertools Parser models)."""

from __future__ import annotations

from pydantic import BaseModel, Field

RUN_ID = r"^[a-z0-9](-*[a-z0-9]){0,62}$"


class RunRef(BaseModel):
    run_id: str = Field(pattern=RUN_ID)


class JobRef(RunRef):
    job_arn: str = Field(min_length=1)


class PollInput(JobRef):
    deadline: str = Field(min_length=1)
