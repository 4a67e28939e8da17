"""A route class for the hottest endpoints: FastAPI's dependency solver skipped where it has nothing to do.

An endpoint `async def f(request: Request) -> Response` whose only dependencies are `Access` checks
(services/common/auth.py) needs no solving: the checks take the request and raise HTTPException. For such
routes `LeanRoute` calls the checks and the endpoint directly; under load the solver's bookkeeping cost as
much as the consent endpoint's own validation. Everything else is that of any APIRoute: the OpenAPI
operation, matching, exception handlers, middleware. A route that does not have this shape (any other
parameter or dependency) gets FastAPI's own handler, so the class is never a way to skip a dependency."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import fastapi.routing
from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from services.common.auth import Access

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class LeanRoute(APIRoute):
    lean = False  # set when the handler built is the direct one (checked by the tests)

    def get_route_handler(self) -> Handler:
        dependant = self._effective_dependant()
        if dependant is None or not _plain(dependant) or not all(_plain_check(d) for d in dependant.dependencies):
            return super().get_route_handler()
        checks = [d.call for d in dependant.dependencies]
        endpoint = dependant.call
        assert endpoint is not None
        self.lean = True

        async def handler(request: Request) -> Response:
            for check in checks:
                await check(request)  # type: ignore[misc]
            response: Response = await endpoint(request)
            return response

        return handler

    def _effective_dependant(self) -> Dependant | None:
        """The dependant FastAPI would solve: a router's include can add dependencies, and FastAPI passes
        that context while it builds the handler. None (use FastAPI's handler) if that cannot be known."""
        context_var = getattr(fastapi.routing, "_effective_route_context_var", None)
        if context_var is None:
            return None
        context = context_var.get()
        if context is not None and getattr(context, "original_route", None) is self:
            effective: Dependant | None = getattr(context, "dependant", None)
            return effective
        return self.dependant


def _plain(d: Dependant) -> bool:
    """Takes the request and nothing else that FastAPI would have to read or inject."""
    return (
        d.request_param_name is not None
        and not (d.path_params or d.query_params or d.header_params or d.cookie_params or d.body_params)
        and d.websocket_param_name is None
        and d.http_connection_param_name is None
        and d.response_param_name is None
        and d.background_tasks_param_name is None
        and d.security_scopes_param_name is None
    )


def _plain_check(d: Dependant) -> bool:
    return isinstance(d.call, Access) and _plain(d) and not d.dependencies
