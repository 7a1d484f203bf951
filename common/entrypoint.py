"""One decorator for a service's RPC entrypoints: the steps every RPC took by hand, written once
(docs/ARCHITECTURE.md "The shape", "Exactly once").

::

    @entrypoint(schemas.CategoryIn, command=True)
    def put_category(self, actor, args) -> dict:
        return handlers.put_category(self.db, actor, args)

registers the nameko ``rpc`` entrypoint ``put_category(**fields)`` and, on each call:

1. ``command=True``: answers a request answered before from the request log, doing nothing
   again (common.db ``command``, which wraps every following step, as ``@rpc @command`` did);
2. resolves the caller (``caller``, ``record_caller``) and checks its ``level``;
3. loads ``fields`` through ``schema`` with the service's own load function (the class's
   ``load_arguments``, common.service ``ServiceBase``); without a schema ``args`` is the
   arguments as they came;
4. calls the body with ``(actor, args)``: the body calls its use case.

A database failure is answered 503 at nameko's RPC entrypoint (common.service), not here.

The arguments an RPC accepts are what nameko checks each call against (``IncorrectSignature``
otherwise): any keyword (``**fields``: the schema judges them) by default, or exactly the
parameters named by ``params`` (each with its default, None unless given), as org's RPCs take
them. The entrypoint's ``__signature__`` says so, and ``inspect.signature`` (ops/runner.py's
check) and nameko's ``inspect.getcallargs`` both read it, never the body's ``(actor, args)``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nameko.rpc import rpc

from common import db
from common.actor import require_actor


def entrypoint(
    schema: type | None = None,
    *,
    command: bool = False,
    caller: bool = True,
    record_caller: bool = True,
    level: int | None = None,
    params: Sequence[str] | Mapping[str, Any] | None = None,
) -> Callable:
    """An RPC entrypoint whose body takes ``(self, actor, args)``.

    ``schema``: the marshmallow schema ``fields`` are loaded through (None: passed as they are).
    ``command``: answered once per request (common.db ``command``).
    ``caller``: an authenticated caller is required (Unauthenticated otherwise); False for
    system calls (signing in, resolving a token), whose ``actor`` is None when there is none.
    ``record_caller``: in a service that keeps org's people (common.people ``KeepsPeople``),
    the caller's row is brought up to date (its ``_caller()``); False: the actor as it came.
    ``level``: the caller's lowest level (Forbidden below it), checked before loading.
    ``params``: the parameters the RPC takes, by name (default None) or name → default; None:
    any keyword argument.
    """
    if level is not None and not caller:
        raise ValueError("a level needs a caller")

    def decorate(body: Callable) -> Callable:
        signature, defaults = _signature(params)
        names = frozenset(defaults or ())

        def resolve(self):
            if not caller:
                return self.actor
            if record_caller:
                kept = getattr(self, "_caller", None)  # common.people.KeepsPeople
                if kept is not None:
                    return kept()
            return require_actor(self.actor)

        @functools.wraps(body)
        def method(self, *positional, **fields):
            if defaults is not None:
                if positional or not names.issuperset(fields):
                    fields = _bound(signature, self, positional, fields)
                fields = {**defaults, **fields}
            elif positional:
                raise TypeError(f"{body.__name__}() takes keyword arguments only")
            actor = resolve(self)
            if level is not None:
                actor.require_level(level)
            args = fields if schema is None else self.load_arguments(schema, fields)
            return body(self, actor, args)

        final = db.command(method) if command else method
        # what nameko checks the call against (not the body's ``actor, args``: see above)
        final.__signature__ = signature
        return rpc(final)

    return decorate


def _signature(params) -> tuple[inspect.Signature, dict | None]:
    """The entrypoint's signature, and the defaults of its named parameters (None: any
    keyword)."""
    this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if params is None:
        fields = inspect.Parameter("fields", inspect.Parameter.VAR_KEYWORD)
        return inspect.Signature([this, fields]), None
    defaults = dict(params) if isinstance(params, Mapping) else dict.fromkeys(params)
    named = [
        inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)
        for name, default in defaults.items()
    ]
    return inspect.Signature([this, *named]), defaults


def _bound(signature: inspect.Signature, service, positional, fields) -> dict:
    """Positional arguments by name (nameko allows them); TypeError on any the RPC does not
    take, as a plain method would raise."""
    bound = signature.bind(service, *positional, **fields).arguments
    bound.pop("self")
    return bound
