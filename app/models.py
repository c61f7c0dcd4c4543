"""Every model, imported once so metadata and mappers are complete (Alembic, tests)."""

from app.activity.models import ActivityEvent
from app.auth.models import ApiToken, LoginFailure, User, UserSession
from app.characters.models import Character, CharacterVersion, Look, ReferenceImage
from app.media.models import MediaAsset
from app.projects.models import Invitation, Membership, Project
from app.design.models import Location, StylePreset
from app.generation.models import GenerationJob, Take
from app.storyboard.models import Scene, Shot, ShotCharacter
from app.system.models import InstanceSetting, WorkerProbe

__all__ = [
    "ActivityEvent",
    "ApiToken",
    "Character",
    "CharacterVersion",
    "GenerationJob",
    "Location",
    "Look",
    "MediaAsset",
    "ReferenceImage",
    "Scene",
    "Shot",
    "ShotCharacter",
    "StylePreset",
    "Take",
    "InstanceSetting",
    "Invitation",
    "LoginFailure",
    "Membership",
    "Project",
    "User",
    "UserSession",
    "WorkerProbe",
]
