"""A local API server on a free port, started once per test module."""

import uuid

import pytest
import requests

from infra.composition import serving
from infra.local.runtime import active_runtime


class Api:
    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()

    def balance(self, user_id: str | None) -> requests.Response:
        params = {} if user_id is None else {"userId": user_id}
        return self.session.get(f"{self.url}/balance", params=params, timeout=30)

    def history(self, user_id: str | None, **params: str) -> requests.Response:
        query = params if user_id is None else {"userId": user_id, **params}
        return self.session.get(f"{self.url}/transactions", params=query, timeout=30)

    def summaries(self, user_id: str | None, **params: str) -> requests.Response:
        query = params if user_id is None else {"userId": user_id, **params}
        return self.session.get(f"{self.url}/summaries", params=query, timeout=30)

    def transact(
        self, body: object = None, key: str | None = "auto", *, raw: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:  # fmt: skip
        sent = {"Content-Type": "application/json", **(headers or {})}
        if key is not None:
            sent.setdefault("Idempotent-Key", uuid.uuid4().hex if key == "auto" else key)
        kwargs = {"data": raw.encode()} if raw is not None else {"json": body}
        return self.session.post(f"{self.url}/transactions", headers=sent, timeout=30, **kwargs)

    def transfer(
        self, body: object = None, key: str | None = "auto", *, raw: str | None = None
    ) -> requests.Response:
        sent = {"Content-Type": "application/json"}
        if key is not None:
            sent["Idempotent-Key"] = uuid.uuid4().hex if key == "auto" else key
        kwargs = {"data": raw.encode()} if raw is not None else {"json": body}
        return self.session.post(f"{self.url}/transfers", headers=sent, timeout=30, **kwargs)

    def hold(
        self, body: object = None, key: str | None = "auto", *, raw: str | None = None
    ) -> requests.Response:
        sent = {"Content-Type": "application/json"}
        if key is not None:
            sent["Idempotent-Key"] = uuid.uuid4().hex if key == "auto" else key
        kwargs = {"data": raw.encode()} if raw is not None else {"json": body}
        return self.session.post(f"{self.url}/holds", headers=sent, timeout=30, **kwargs)

    def capture(self, hold_id: str, body: object) -> requests.Response:
        return self.session.post(f"{self.url}/holds/{hold_id}/capture", json=body, timeout=30)

    def void(self, hold_id: str, body: object) -> requests.Response:
        return self.session.post(f"{self.url}/holds/{hold_id}/void", json=body, timeout=30)

    def get_hold(self, hold_id: str, user_id: str | None) -> requests.Response:
        params = {} if user_id is None else {"userId": user_id}
        return self.session.get(f"{self.url}/holds/{hold_id}", params=params, timeout=30)

    def reverse(
        self, transaction_id: str, body: object = None, *, raw: str | None = None
    ) -> requests.Response:
        kwargs = {"data": raw.encode()} if raw is not None else {"json": body}
        return self.session.post(
            f"{self.url}/transactions/{transaction_id}/reversal",
            headers={"Content-Type": "application/json"},
            timeout=30,
            **kwargs,
        )


@pytest.fixture(scope="module")
def api():
    with serving() as url:
        yield Api(url)


@pytest.fixture
def aws(api):
    return active_runtime()


@pytest.fixture
def user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"
