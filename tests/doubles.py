"""Test doubles shared by several test modules."""

from __future__ import annotations

from typing import Any

import redis


class DeadRedis:
    """A Redis client whose every call fails as if the server were down."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise redis.exceptions.ConnectionError("redis is down")

        return fail
