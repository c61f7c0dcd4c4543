"""Every model, imported once so metadata and mappers are complete (Alembic, tests)."""

from app.activity.models import ActivityEvent
from app.auth.models import ApiToken, LoginFailure, User, UserSession
from app.projects.models import Invitation, Membership, Project
from app.system.models import InstanceSetting, WorkerProbe

__all__ = [
    "ActivityEvent",
    "ApiToken",
    "InstanceSetting",
    "Invitation",
    "LoginFailure",
    "Membership",
    "Project",
    "User",
    "UserSession",
    "WorkerProbe",
]
