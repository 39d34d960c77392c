"""The Salesforce feature, installed by ``create_app``: its jobs and its REST routes (the
settings pages live in the settings web app)."""

from __future__ import annotations

from flask import Flask

from server.crm import timeline
from server.jobs import Jobs
from server.salesforce import api, links, tasks


def install(app: Flask, jobs: Jobs) -> None:
    tasks.register(jobs)
    api.register(app)
    timeline.annotate_with(links.timeline_ids)
