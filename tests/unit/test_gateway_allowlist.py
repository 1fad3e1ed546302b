"""The optional allow-list of the gateway's addresses (GATEWAY_ALLOWED_IPS) is enforced on the
callbacks, before the token, and a forged X-Forwarded-For is never believed."""

from __future__ import annotations

import pytest
from flask import Flask

from ussd_app.config import ConfigError, Settings
from ussd_app.gateway import plain, require_gateway_token


class TestGatewayAllowList:
    @staticmethod
    def app(allowed: str, proxies: int = 0) -> Flask:
        settings = Settings.from_env(
            {"GATEWAY_ALLOWED_IPS": allowed, "GATEWAY_TRUSTED_PROXIES": str(proxies)}
        )
        app = Flask(__name__)
        app.config.update(
            GATEWAY_TOKEN="tok",
            GATEWAY_NETWORKS=settings.gateway_networks,
            GATEWAY_TRUSTED_PROXIES=settings.gateway_trusted_proxies,
        )

        @app.post("/hook")
        @require_gateway_token
        def hook() -> object:
            return plain("ok")

        return app

    @staticmethod
    def status(app: Flask, addr: str, xff: str | None = None, token: str = "tok") -> int:
        headers = {"X-Forwarded-For": xff} if xff is not None else {}
        res = app.test_client().post(
            f"/hook?token={token}", headers=headers, environ_base={"REMOTE_ADDR": addr}
        )
        return res.status_code

    def test_empty_allows_any_address(self) -> None:
        assert self.status(self.app(""), "203.0.113.9") == 200

    def test_only_listed_networks_may_call(self) -> None:
        app = self.app("196.201.214.0/24, 2001:db8::/32, 198.51.100.7")
        assert self.status(app, "196.201.214.20") == 200
        assert self.status(app, "198.51.100.7") == 200
        assert self.status(app, "2001:db8::5") == 200
        assert self.status(app, "::ffff:196.201.214.20") == 200
        assert self.status(app, "203.0.113.9") == 403
        assert self.status(app, "196.201.215.1") == 403

    def test_an_allowed_address_still_needs_the_token(self) -> None:
        assert self.status(self.app("196.201.214.0/24"), "196.201.214.20", token="no") == 403

    def test_a_forged_forwarded_header_is_not_believed(self) -> None:
        app = self.app("196.201.214.0/24")
        assert self.status(app, "203.0.113.9", xff="196.201.214.20") == 403

    def test_behind_a_trusted_proxy_its_entry_is_used(self) -> None:
        app = self.app("196.201.214.0/24", proxies=1)
        assert self.status(app, "10.0.0.2", xff="196.201.214.20") == 200
        # The caller may put anything on the left; only the proxy's own entry counts.
        assert self.status(app, "10.0.0.2", xff="196.201.214.20, 203.0.113.9") == 403
        assert self.status(app, "10.0.0.2") == 403  # the proxy added nothing

    @pytest.mark.parametrize("bad", ["10.0.0.300/8", "gateway", "1.2.3.4/40"])
    def test_bad_entries_are_refused_at_start(self, bad: str) -> None:
        with pytest.raises(ConfigError, match="GATEWAY_ALLOWED_IPS"):
            Settings.from_env({"GATEWAY_ALLOWED_IPS": f"10.0.0.0/8,{bad}"})
