"""Roles and what each may do: the one permission table.

`deps.access(...)` checks it on every project-scoped route; templates ask
`can(role, action)` to hide controls a member may not use. Below the table, the
rule for granting roles (who may give, change or take away which role).
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


# ---- who may give which role ---------------------------------------------------
# The one rule for the team, next to the table it protects:
# - only members allowed `members.manage` change the team;
# - a role is given only at or below the giver's own rank, and only owners make owners or directors;
# - nobody changes their own role (another owner does it; leaving stays allowed);
# - nobody changes the role of, or removes, someone ranked above them.
# Invitations are grants too: checked when created (an issued link is honoured when accepted).

RANK: dict[Role, int] = {
    Role.owner: 6,
    Role.director: 5,
    Role.producer: 4,
    Role.editor: 3,
    Role.artist: 2,
    Role.viewer: 1,
}
OWNER_GRANTS = frozenset({Role.owner, Role.director})


def _article(role: Role) -> str:
    return f"an {role.value}" if role.value[0] in "aeiou" else f"a {role.value}"


def grant_refusal(actor_role: Role | str, role: Role | str) -> str | None:
    """Why a member with `actor_role` may not give `role` to someone else (None: they may)."""
    actor, wanted = Role(actor_role), Role(role)
    if not can(actor, Action.members_manage):
        return f"{_article(actor)} cannot change the team"
    if wanted in OWNER_GRANTS and actor != Role.owner:
        return f"only an owner can make someone {_article(wanted)}"
    if RANK[wanted] > RANK[actor]:
        return f"{_article(actor)} can give roles up to {actor.value} only"
    return None


def may_grant(actor_role: Role | str, role: Role | str) -> bool:
    """Whether a member with `actor_role` may give `role` to someone else."""
    return grant_refusal(actor_role, role) is None


def grantable_roles(actor_role: Role | str) -> list[Role]:
    """The roles a member with `actor_role` may give to others, highest first (the pages' menus)."""
    return [r for r in Role if may_grant(actor_role, r)]


def may_manage(actor_role: Role | str, member_role: Role | str) -> bool:
    """Whether a member with `actor_role` may change or remove a member with `member_role` (not their own)."""
    actor = Role(actor_role)
    return can(actor, Action.members_manage) and RANK[Role(member_role)] <= RANK[actor]


def role_change_refusal(
    actor_role: Role | str, member_role: Role | str, role: Role | str, *, own: bool
) -> str | None:
    """Why a member with `actor_role` may not turn a `member_role` into `role` (None: they may)."""
    if own:
        who = "another owner" if Role(actor_role) == Role.owner else "an owner"
        return f"nobody changes their own role; ask {who}"
    if can(actor_role, Action.members_manage) and not may_manage(actor_role, member_role):
        return f"{_article(Role(actor_role))} cannot change the role of {_article(Role(member_role))}"
    return grant_refusal(actor_role, role)


def removal_refusal(actor_role: Role | str, member_role: Role | str, *, own: bool) -> str | None:
    """Why a member with `actor_role` may not remove a `member_role` (None: they may; anyone may leave)."""
    if own:
        return None  # leaving; the service keeps the last owner
    if not can(actor_role, Action.members_manage):
        return f"{_article(Role(actor_role))} cannot change the team"
    if not may_manage(actor_role, member_role):
        return f"{_article(Role(actor_role))} cannot remove {_article(Role(member_role))}"
    return None
