"""Calls keygate's operations through the package generated from its document, as a
user's code would; `mypy --strict` (.ci/generated_clients.sh) checks that each call
and each field read fits the document. Never run."""

from keygate_client import AuthenticatedClient, Client
from keygate_client.api.clients import register_client
from keygate_client.api.oauth import get_metadata, post_token
from keygate_client.api.usage import get_usage
from keygate_client.models import RegisterClient, ServerMetadata, UsageReport
from keygate_client.types import Unset


def register(admin_key: str) -> list[str]:
    api = AuthenticatedClient(base_url="http://127.0.0.1:8080", token=admin_key)
    created = register_client.sync(
        client=api,
        body=RegisterClient(
            name="billing",
            scopes=["read", "write"],
            audiences=["https://billing.example"],
        ),
    )
    if created is None or not hasattr(created, "client_secret"):
        return []
    return list(getattr(created, "scopes"))


def issuer() -> str:
    document = get_metadata.sync(client=Client(base_url="http://127.0.0.1:8080"))
    if isinstance(document, ServerMetadata):
        return document.issuer
    return ""


def tokens_issued(admin_key: str, client_id: str) -> int:
    api = AuthenticatedClient(base_url="http://127.0.0.1:8080", token=admin_key)
    report = get_usage.sync(client=api, client_id=client_id)
    if not isinstance(report, UsageReport):
        return 0
    return sum(period.tokens.issued for period in report.data)


_unused = (post_token, Unset)
