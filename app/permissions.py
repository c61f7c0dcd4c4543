"""Roles and what each may do: the one permission table.

`deps.access(...)` checks it on every project-scoped route; templates ask
`can(role, action)` to hide controls a member may not use.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    owner = "owner"
    director = "director"
    producer = "producer"
    editor = "editor"
    artist = "artist"
    viewer = "viewer"


ROLE_LABELS = {
    Role.owner: "Owner",
    Role.director: "Director",
    Role.producer: "Producer",
    Role.editor: "Editor",
    Role.artist: "Artist / AI cinematographer",
    Role.viewer: "Viewer / client",
}


class Action(StrEnum):
    project_view = "project.view"
    project_edit = "project.edit"
    project_delete = "project.delete"
    members_view = "members.view"
    members_manage = "members.manage"
    budget_manage = "budget.manage"
    story_edit = "story.edit"  # scenes, shots, locations, styles, import
    character_edit = "character.edit"
    character_lock = "character.lock"
    generate = "generate"
    review_decide = "review.decide"  # approve / reject
    review_circle = "review.circle"
    comment = "comment"
    timeline_edit = "timeline.edit"
    render = "render"


_ALL = frozenset(Action)
_READ = frozenset({Action.project_view, Action.members_view, Action.comment})

PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.owner: _ALL,
    Role.director: _ALL - {Action.project_delete},
    Role.producer: _READ
    | {
        Action.project_edit,
        Action.members_manage,
        Action.budget_manage,
        Action.review_circle,
        Action.render,
    },
    Role.editor: _READ | {Action.timeline_edit, Action.render, Action.review_circle},
    Role.artist: _READ
    | {Action.story_edit, Action.character_edit, Action.generate, Action.review_circle},
    Role.viewer: _READ,
}


def can(role: Role | str | None, action: Action | str) -> bool:
    """Whether a member with `role` may do `action`."""
    if role is None:
        return False
    return Action(action) in PERMISSIONS[Role(role)]


def grantable_roles(role: Role | str) -> list[Role]:
    """The roles a member with `role` may give to others: only an owner makes owners."""
    if Role(role) == Role.owner:
        return list(Role)
    return [r for r in Role if r != Role.owner]
