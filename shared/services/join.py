"""The learner join: workshop code -> a seat (new or reconnected) and a learner token.

Rules (docs/protocol.md section 1, security checklist "Join, codes and reconnect"):

* The code is normalised (case, spaces, missing dash or prefix). Malformed, unknown and
  not-running codes all give the same ``WorkshopNotAvailable``, so live codes cannot be told
  apart from dead ones.
* With a ``reconnect_code`` the learner gets the seat whose stored hash matches (a new token
  for the same seat); a wrong code is ``InvalidReconnectCode``. Codes are keyed by workshop,
  so a code only works for its own workshop.
* Otherwise a new seat is claimed with ``store.assign_seat``. A repeated ``client_nonce``
  returns the seat claimed with it; because the reconnect code is derived from the nonce
  (HMAC with a server secret), the repeat also returns the *same* reconnect code, even though
  only its hash is stored.
* Failed attempts count against the caller (``ratelimit.JoinLimiter``); only a caller locked
  out by its own failures is refused, before the code is looked up. Nobody else's failures
  ever refuse a correct code.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, replace
from hashlib import sha256

from shared.auth.signing import derived_secret, signing_key
from shared.auth.tokens import issue_token
from shared.bootstrap import Platform
from shared.domain.codes import (
    CODE_ALPHABET,
    NONCE_MAX,
    NONCE_MIN,
    RECONNECT_CODE_LENGTH,
    hash_client_nonce,
    hash_reconnect_code,
    new_reconnect_code,
    normalize_reconnect_code,
    normalize_workshop_code,
)
from shared.domain.display_names import display_name
from shared.domain.errors import ValidationError
from shared.domain.model import Seat, Workshop, WorkshopStatus, utcnow
from shared.domain.schedule import check_join
from shared.ports.store import SeatRequest
from shared.services.errors import InvalidReconnectCode, Unavailable, WorkshopNotAvailable
from shared.services.ratelimit import JoinLimiter, limiter_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JoinRequest:
    code: str
    reconnect_code: str | None = None
    client_nonce: str | None = None
    #: Optional, as typed (validated here): kept on the seat, shown in the cockpit.
    display_name: str | None = None


@dataclass(frozen=True)
class JoinGrant:
    workshop: Workshop
    seat: Seat
    token: str
    endpoint: str
    reconnect_code: str


def join(
    platform: Platform, request: JoinRequest, client: str, limiter: JoinLimiter | None = None
) -> JoinGrant:
    """Admit ``client`` (its IP) to the workshop behind ``request.code``."""
    limiter = limiter or limiter_for(platform.store)
    _check_nonce(request.client_nonce)
    name = display_name(request.display_name)
    limiter.check_join(client)
    workshop = _running_workshop(platform, request.code)
    if workshop is None:
        limiter.failed_join(client)
        raise WorkshopNotAvailable()
    check_join(workshop.schedule, utcnow(), reconnecting=request.reconnect_code is not None)
    if request.reconnect_code is not None:
        seat, code = _reconnect(platform, workshop, request.reconnect_code)
        if seat is None:
            limiter.failed_reconnect(client, workshop.id)
            raise InvalidReconnectCode()
        if name is not None and name != seat.display_name:  # no name given: keep the old one
            platform.store.rename_seat(workshop.id, seat.number, name)
            seat = replace(seat, display_name=name)
    else:
        seat, code = _claim_seat(platform, workshop, request.client_nonce, name)
    return _grant(platform, workshop, seat, code)


def _check_nonce(nonce: str | None) -> None:
    if nonce is None:
        return
    if not NONCE_MIN <= len(nonce) <= NONCE_MAX or not nonce.isascii() or not nonce.isprintable():
        raise ValidationError(
            "client_nonce", f"must be {NONCE_MIN}-{NONCE_MAX} printable ASCII characters"
        )


def _running_workshop(platform: Platform, raw_code: str) -> Workshop | None:
    code = normalize_workshop_code(raw_code)
    workshop = platform.store.get_workshop_by_code(code) if code else None
    if workshop is None or workshop.status != WorkshopStatus.RUNNING:
        return None
    return workshop


def _reconnect(platform: Platform, workshop: Workshop, raw: str) -> tuple[Seat | None, str]:
    code = normalize_reconnect_code(raw)
    if code is None:
        return None, ""
    seat = platform.store.find_seat_by_reconnect(
        workshop.id, hash_reconnect_code(workshop.id, code)
    )
    if seat is not None:
        platform.store.touch_seat(workshop.id, seat.number)
        log.info("seat reconnected", extra={"workshop_id": workshop.id, "seat": seat.number})
    return seat, code


def _claim_seat(
    platform: Platform, workshop: Workshop, nonce: str | None, name: str | None
) -> tuple[Seat, str]:
    if nonce is None:
        code, nonce_hash = new_reconnect_code(), None
    else:
        code, nonce_hash = (
            _nonce_reconnect_code(platform, workshop.id, nonce),
            hash_client_nonce(workshop.id, nonce),
        )
    seat = platform.store.assign_seat(
        workshop, SeatRequest(hash_reconnect_code(workshop.id, code), nonce_hash, name)
    )
    log.info("seat assigned", extra={"workshop_id": workshop.id, "seat": seat.number})
    return seat, code


def _nonce_reconnect_code(platform: Platform, workshop_id: str, nonce: str) -> str:
    """The reconnect code for a join carrying ``nonce``: same nonce, same code."""
    settings = platform.settings
    secret = derived_secret(platform.secrets, settings.jwt_key_secret, "reconnect-code")
    digest = hmac.new(secret, f"{workshop_id}\n{nonce}".encode(), sha256).digest()
    number = int.from_bytes(digest, "big")  # 256 bits over 31**6: bias is negligible
    symbols = []
    for _ in range(RECONNECT_CODE_LENGTH):
        number, index = divmod(number, len(CODE_ALPHABET))
        symbols.append(CODE_ALPHABET[index])
    return "".join(symbols)


def _grant(platform: Platform, workshop: Workshop, seat: Seat, code: str) -> JoinGrant:
    host = workshop.host(seat.host_index)
    if host is None or not host.endpoint:
        # Running implies every host is ready; if one is not, do not strand a fresh learner.
        log.error(
            "seat's host has no endpoint", extra={"workshop_id": workshop.id, "seat": seat.number}
        )
        raise Unavailable(
            "this seat's host is not reachable yet; try again", code="host_unavailable"
        )
    settings = platform.settings
    token = issue_token(
        signing_key(platform.secrets, settings.jwt_key_secret),
        issuer=settings.jwt_issuer,
        workshop_id=workshop.id,
        host=seat.host_index,
        seat=seat.number,
        ttl_seconds=settings.learner_token_ttl_seconds,
    )
    return JoinGrant(workshop, seat, token, host.endpoint, code)
