"""JSON API: accounts and personal access tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.auth import service
from app.auth.schemas import TokenCreate, TokenIssued, TokenRead, UserCreate, UserRead
from app.deps import DB, CurrentUser, client_key
from app.auth.signup import register

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/register", status_code=201, response_model=UserRead)
def register_account(body: UserCreate, db: DB, request: Request):
    return register(db, email=body.email, password=body.password, display_name=body.display_name,
                    invitation=body.invitation, client=client_key(request))  # fmt: skip


@router.post("/tokens", status_code=201, response_model=TokenIssued)
def issue_token(body: TokenCreate, db: DB, request: Request):
    user = service.authenticate(db, email=body.email, password=body.password, client=client_key(request))
    token, row = service.create_api_token(db, user=user, name=body.name, expires_days=body.expires_days)
    return TokenIssued(id=row.id, name=row.name, token=token, expires_at=row.expires_at)


@router.get("/tokens", response_model=list[TokenRead])
def list_tokens(db: DB, user: CurrentUser):
    return service.list_api_tokens(db, user=user)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: int, db: DB, user: CurrentUser):
    service.revoke_api_token(db, user=user, token_id=token_id)
    return Response(status_code=204)


@router.get("/me", response_model=UserRead)
def me(user: CurrentUser):
    return user
