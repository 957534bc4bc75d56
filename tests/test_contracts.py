"""contracts/: every shared name is documented where it is defined, and docs/contracts.md is
generated from those comments."""

from infra.reference.contracts_doc import contracts_doc, undocumented_constants


def test_every_contract_has_a_meaning():
    assert undocumented_constants() == []


def test_the_contracts_page_lists_every_name_with_its_value():
    page = contracts_doc()
    assert "| `NAMESPACE` | `gpt-oss` | Namespace of the RayService" in page
    assert "| `GATEWAY_CLIENTS_FILE` | `/etc/gateway/clients/clients.json` |" in page
