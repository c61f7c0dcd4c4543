"""Who may call each route: the expectation the authorization walk holds every route to.

One line per route, written by hand from what the route does, never generated from the routes'
own guards: (method, path) -> an `Action` of app/permissions.py (the caller must be a member of the
route's project whose role allows it; a non-member gets 404, an instance admin included), or
- PUBLIC: anyone, signed in or not;
- ANY_USER: any signed-in account (account-scoped routes: what they address is the caller's own);
- ADMIN: instance admins only (403 for everyone else signed in).
tests/test_authorization_walk.py fails when a route's guard (`Access(action)`, `require_admin`,
`require_user`, or none) disagrees with this table, when a route is missing here, and when a line
names no route; then it calls every route as every kind of caller and checks the answers against
this table and `PERMISSIONS`. A new route gets its line here, chosen by what it changes.
"""

from __future__ import annotations

from enum import StrEnum

from app.permissions import Action


class Audience(StrEnum):
    """Who may call a route that is not project-scoped."""

    public = "public"
    any_user = "any user"
    admin = "admin"


PUBLIC = Audience.public
ANY_USER = Audience.any_user
ADMIN = Audience.admin

VIEW = Action.project_view
EDIT_PROJECT = Action.project_edit
DELETE_PROJECT = Action.project_delete
MEMBERS_VIEW = Action.members_view
MEMBERS = Action.members_manage
STORY = Action.story_edit
CHARACTER = Action.character_edit
LOCK = Action.character_lock
GENERATE = Action.generate

ROUTE_PERMISSIONS: dict[tuple[str, str], Action | Audience] = {
    # ---- the instance --------------------------------------------------------------------------------
    ("GET", "/healthz"): PUBLIC,  # load balancers ask it, signed out
    ("GET", "/openapi.json"): PUBLIC,  # the API's description (the code is open source)
    ("GET", "/docs"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/"): PUBLIC,  # sends you to your projects, or to sign in
    # ---- accounts ------------------------------------------------------------------------------------
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("GET", "/signup"): PUBLIC,
    ("POST", "/signup"): PUBLIC,  # the sign-up mode (open / by invitation) decides inside
    ("POST", "/logout"): ANY_USER,
    ("GET", "/account"): ANY_USER,
    ("POST", "/account/tokens"): ANY_USER,
    ("POST", "/account/tokens/{token_id}/revoke"): ANY_USER,  # your own tokens only: another's is 404
    ("POST", "/api/v1/auth/register"): PUBLIC,
    ("POST", "/api/v1/auth/tokens"): PUBLIC,  # email and password are the credentials
    ("GET", "/api/v1/auth/tokens"): ANY_USER,
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): ANY_USER,
    ("GET", "/api/v1/auth/me"): ANY_USER,
    # ---- instance administration ----------------------------------------------------------------------
    ("GET", "/admin"): ADMIN,
    ("POST", "/admin/signup-mode"): ADMIN,
    ("POST", "/admin/quotas"): ADMIN,
    ("POST", "/admin/users/{user_id}/active"): ADMIN,
    ("POST", "/admin/probes"): ADMIN,
    ("GET", "/admin/probes/{probe_id}"): ADMIN,
    ("GET", "/api/v1/system/quotas"): ADMIN,
    ("PUT", "/api/v1/system/quotas"): ADMIN,
    ("POST", "/api/v1/system/probes"): ADMIN,
    ("GET", "/api/v1/system/probes/{probe_id}"): ADMIN,
    ("GET", "/api/v1/system/signup-mode"): ADMIN,
    ("PUT", "/api/v1/system/signup-mode"): ADMIN,
    # ---- projects --------------------------------------------------------------------------------------
    ("GET", "/projects"): ANY_USER,  # your projects
    ("GET", "/projects/new"): ANY_USER,
    ("POST", "/projects"): ANY_USER,  # anyone signed in starts a project and owns it
    ("GET", "/api/v1/projects"): ANY_USER,
    ("POST", "/api/v1/projects"): ANY_USER,
    ("GET", "/projects/{project_id}"): VIEW,
    ("GET", "/projects/{project_id}/activity"): VIEW,
    ("GET", "/projects/{project_id}/events"): VIEW,  # the live stream carries what the pages show
    ("GET", "/api/v1/projects/{project_id}"): VIEW,
    ("GET", "/api/v1/projects/{project_id}/activity"): VIEW,
    ("GET", "/projects/{project_id}/settings"): EDIT_PROJECT,  # the settings form: only for who may save it
    ("POST", "/projects/{project_id}/settings"): EDIT_PROJECT,  # the budget field needs budget.manage too
    ("PATCH", "/api/v1/projects/{project_id}"): EDIT_PROJECT,
    ("POST", "/projects/{project_id}/delete"): DELETE_PROJECT,
    ("DELETE", "/api/v1/projects/{project_id}"): DELETE_PROJECT,
    # ---- the team ----------------------------------------------------------------------------------------
    ("GET", "/projects/{project_id}/members"): MEMBERS_VIEW,
    ("GET", "/api/v1/projects/{project_id}/members"): MEMBERS_VIEW,
    ("POST", "/projects/{project_id}/members"): MEMBERS,  # which roles one may give: app/permissions.py
    ("POST", "/api/v1/projects/{project_id}/members"): MEMBERS,
    ("POST", "/projects/{project_id}/members/{user_id}/role"): MEMBERS,
    ("PATCH", "/api/v1/projects/{project_id}/members/{user_id}"): MEMBERS,
    ("POST", "/projects/{project_id}/members/{user_id}/remove"): MEMBERS,
    ("DELETE", "/api/v1/projects/{project_id}/members/{user_id}"): MEMBERS,
    ("POST", "/projects/{project_id}/leave"): VIEW,  # any member may leave (the last owner hands over first)
    ("POST", "/api/v1/projects/{project_id}/leave"): VIEW,
    ("GET", "/api/v1/projects/{project_id}/invitations"): MEMBERS,  # links and emails of people not in yet
    ("POST", "/projects/{project_id}/invitations"): MEMBERS,
    ("POST", "/api/v1/projects/{project_id}/invitations"): MEMBERS,
    ("POST", "/projects/{project_id}/invitations/{invitation_id}/revoke"): MEMBERS,
    ("DELETE", "/api/v1/projects/{project_id}/invitations/{invitation_id}"): MEMBERS,
    ("GET", "/invite/{token}"): PUBLIC,  # the link itself is the secret; signed out, it offers sign-up
    ("POST", "/invite/{token}"): ANY_USER,  # accepting joins the account that is signed in
    ("POST", "/api/v1/invitations/{token}/accept"): ANY_USER,
    # ---- characters ----------------------------------------------------------------------------------------
    ("GET", "/projects/{project_id}/characters"): VIEW,
    ("GET", "/api/v1/projects/{project_id}/characters"): VIEW,
    ("POST", "/projects/{project_id}/characters"): CHARACTER,
    ("POST", "/api/v1/projects/{project_id}/characters"): CHARACTER,
    ("GET", "/characters/{character_id}"): VIEW,
    ("GET", "/api/v1/characters/{character_id}"): VIEW,
    ("GET", "/api/v1/characters/{character_id}/versions"): VIEW,
    ("GET", "/api/v1/character-versions/{version_id}"): VIEW,
    ("GET", "/api/v1/characters/{character_id}/shots"): VIEW,
    ("POST", "/characters/{character_id}"): CHARACTER,
    ("PATCH", "/api/v1/characters/{character_id}"): CHARACTER,  # lora_path too: only inside SLATE_LORA_DIR
    ("POST", "/characters/{character_id}/delete"): CHARACTER,  # refused while shots use it
    ("DELETE", "/api/v1/characters/{character_id}"): CHARACTER,
    ("POST", "/characters/{character_id}/lock"): LOCK,  # locking a version is the director's call
    ("POST", "/api/v1/characters/{character_id}/lock"): LOCK,
    # Moving shots onto the character's newest locked version is part of keeping the character: the
    # character editor offers it to whoever edits characters.
    ("POST", "/characters/{character_id}/advance-shots"): CHARACTER,
    ("POST", "/api/v1/characters/{character_id}/advance-shots"): CHARACTER,
    ("POST", "/characters/{character_id}/references"): CHARACTER,
    ("POST", "/api/v1/characters/{character_id}/references"): CHARACTER,
    ("POST", "/looks/{look_id}/references"): CHARACTER,
    ("POST", "/api/v1/looks/{look_id}/references"): CHARACTER,
    ("POST", "/references/{reference_id}"): CHARACTER,
    ("PATCH", "/api/v1/references/{reference_id}"): CHARACTER,
    ("POST", "/references/{reference_id}/move"): CHARACTER,
    ("POST", "/references/{reference_id}/delete"): CHARACTER,
    ("DELETE", "/api/v1/references/{reference_id}"): CHARACTER,
    ("POST", "/characters/{character_id}/lora"): CHARACTER,
    ("POST", "/api/v1/characters/{character_id}/lora"): CHARACTER,
    ("POST", "/characters/{character_id}/lora/settings"): CHARACTER,
    ("POST", "/characters/{character_id}/lora/remove"): CHARACTER,
    ("DELETE", "/api/v1/characters/{character_id}/lora"): CHARACTER,
    ("POST", "/characters/{character_id}/looks"): CHARACTER,
    ("POST", "/api/v1/characters/{character_id}/looks"): CHARACTER,
    ("GET", "/api/v1/looks/{look_id}"): VIEW,
    ("POST", "/looks/{look_id}"): CHARACTER,
    ("PATCH", "/api/v1/looks/{look_id}"): CHARACTER,
    ("POST", "/looks/{look_id}/delete"): CHARACTER,
    ("DELETE", "/api/v1/looks/{look_id}"): CHARACTER,
    ("POST", "/looks/{look_id}/lock"): LOCK,
    ("POST", "/api/v1/looks/{look_id}/lock"): LOCK,
    # ---- locations and styles ----------------------------------------------------------------------------
    ("GET", "/projects/{project_id}/design"): VIEW,
    ("GET", "/api/v1/projects/{project_id}/locations"): VIEW,
    ("POST", "/projects/{project_id}/locations"): STORY,
    ("POST", "/api/v1/projects/{project_id}/locations"): STORY,
    ("GET", "/locations/{location_id}"): VIEW,
    ("GET", "/api/v1/locations/{location_id}"): VIEW,
    ("POST", "/locations/{location_id}"): STORY,
    ("PATCH", "/api/v1/locations/{location_id}"): STORY,
    ("POST", "/locations/{location_id}/delete"): STORY,
    ("DELETE", "/api/v1/locations/{location_id}"): STORY,
    ("POST", "/locations/{location_id}/references"): STORY,
    ("POST", "/api/v1/locations/{location_id}/references"): STORY,
    ("POST", "/locations/{location_id}/references/caption"): STORY,
    ("POST", "/locations/{location_id}/references/delete"): STORY,
    ("GET", "/api/v1/projects/{project_id}/styles"): VIEW,
    ("POST", "/projects/{project_id}/styles"): STORY,
    ("POST", "/api/v1/projects/{project_id}/styles"): STORY,
    ("GET", "/api/v1/projects/{project_id}/style-presets"): VIEW,
    ("POST", "/projects/{project_id}/styles/presets"): STORY,
    ("POST", "/api/v1/projects/{project_id}/style-presets"): STORY,
    ("GET", "/styles/{style_id}"): VIEW,
    ("GET", "/api/v1/styles/{style_id}"): VIEW,
    ("POST", "/styles/{style_id}"): STORY,
    ("PATCH", "/api/v1/styles/{style_id}"): STORY,
    ("POST", "/styles/{style_id}/default"): STORY,
    ("POST", "/api/v1/styles/{style_id}/default"): STORY,
    ("POST", "/styles/{style_id}/delete"): STORY,
    ("DELETE", "/api/v1/styles/{style_id}"): STORY,
    # ---- the storyboard --------------------------------------------------------------------------------------
    ("GET", "/api/v1/camera"): ANY_USER,  # the camera vocabulary: the same for every project
    ("GET", "/projects/{project_id}/storyboard"): VIEW,
    ("GET", "/projects/{project_id}/storyboard/print"): VIEW,
    ("GET", "/api/v1/projects/{project_id}/scenes"): VIEW,
    ("POST", "/projects/{project_id}/scenes"): STORY,
    ("POST", "/api/v1/projects/{project_id}/scenes"): STORY,
    ("POST", "/projects/{project_id}/scenes/renumber"): STORY,
    ("POST", "/api/v1/projects/{project_id}/scenes/renumber"): STORY,
    ("POST", "/projects/{project_id}/shots/status"): STORY,
    ("POST", "/api/v1/projects/{project_id}/shots/status"): STORY,
    ("GET", "/scenes/{scene_id}"): VIEW,
    ("GET", "/api/v1/scenes/{scene_id}"): VIEW,
    ("POST", "/scenes/{scene_id}"): STORY,
    ("PATCH", "/api/v1/scenes/{scene_id}"): STORY,
    ("POST", "/scenes/{scene_id}/delete"): STORY,
    ("DELETE", "/api/v1/scenes/{scene_id}"): STORY,
    ("POST", "/scenes/{scene_id}/renumber"): STORY,
    ("POST", "/api/v1/scenes/{scene_id}/renumber"): STORY,
    ("POST", "/scenes/{scene_id}/move"): STORY,
    ("POST", "/api/v1/scenes/{scene_id}/move"): STORY,
    ("GET", "/api/v1/scenes/{scene_id}/shots"): VIEW,
    ("POST", "/scenes/{scene_id}/shots"): STORY,
    ("POST", "/api/v1/scenes/{scene_id}/shots"): STORY,
    ("GET", "/shots/{shot_id}"): VIEW,
    ("GET", "/api/v1/shots/{shot_id}"): VIEW,
    ("POST", "/shots/{shot_id}"): STORY,
    ("PATCH", "/api/v1/shots/{shot_id}"): STORY,
    ("POST", "/shots/{shot_id}/preview"): STORY,  # the shot editor's live prompt: writes nothing, editors only
    ("POST", "/shots/{shot_id}/delete"): STORY,
    ("DELETE", "/api/v1/shots/{shot_id}"): STORY,
    ("POST", "/shots/{shot_id}/duplicate"): STORY,
    ("POST", "/api/v1/shots/{shot_id}/duplicate"): STORY,
    ("POST", "/shots/{shot_id}/coverage"): STORY,
    ("POST", "/api/v1/shots/{shot_id}/coverage"): STORY,
    ("POST", "/shots/{shot_id}/cast/refresh"): STORY,
    ("POST", "/api/v1/shots/{shot_id}/cast/refresh"): STORY,
    ("POST", "/shots/{shot_id}/move"): STORY,
    ("POST", "/api/v1/shots/{shot_id}/move"): STORY,
    # ---- the screenplay ----------------------------------------------------------------------------------------
    ("GET", "/projects/{project_id}/import"): STORY,
    ("POST", "/projects/{project_id}/import"): STORY,  # writes scenes, shots and characters
    ("POST", "/api/v1/projects/{project_id}/import/fountain"): STORY,
    # ---- generation ----------------------------------------------------------------------------------------
    ("GET", "/shots/{shot_id}/takes"): VIEW,
    ("GET", "/shots/{shot_id}/jobs"): VIEW,
    ("GET", "/api/v1/shots/{shot_id}/takes"): VIEW,
    ("POST", "/shots/{shot_id}/generate"): GENERATE,  # spends the project's GPU budget
    ("POST", "/api/v1/shots/{shot_id}/generate"): GENERATE,
    ("GET", "/api/v1/jobs/{job_id}"): VIEW,
    ("POST", "/jobs/{job_id}/cancel"): GENERATE,  # stopping someone's render is a generation decision
    ("POST", "/api/v1/jobs/{job_id}/cancel"): GENERATE,
    ("POST", "/jobs/{job_id}/retry"): GENERATE,  # spends budget again
    ("POST", "/api/v1/jobs/{job_id}/retry"): GENERATE,
    ("POST", "/jobs/{job_id}/priority"): GENERATE,  # moves a job ahead of others (rush: the rush policy, 403)
    ("PATCH", "/api/v1/jobs/{job_id}"): GENERATE,  # its priority
    ("GET", "/api/v1/takes/{take_id}"): VIEW,
    ("GET", "/api/v1/takes/{take_id}/video"): VIEW,
    ("GET", "/api/v1/takes/{take_id}/poster"): VIEW,
    ("GET", "/api/v1/takes/{take_id}/filmstrip"): VIEW,
    ("GET", "/projects/{project_id}/queue"): VIEW,
    ("GET", "/api/v1/projects/{project_id}/queue"): VIEW,
    # ---- media ----------------------------------------------------------------------------------------------
    ("GET", "/media/{asset_id}"): VIEW,  # a LoRA file: character.edit as well, checked in the route (by kind)
    ("GET", "/media/{asset_id}/thumb"): VIEW,
    # ---- frames: the pictures of cards (a shot's take poster or sketch; a character's or location's sketch) ----
    ("GET", "/shots/{shot_id}/frame"): VIEW,
    ("GET", "/characters/{character_id}/picture"): VIEW,
    ("GET", "/locations/{location_id}/picture"): VIEW,
}
