from decimal import Decimal

from functions.settings import Settings


def test_defaults_are_documented_values():
    settings = Settings.from_env({})
    assert settings.default_balance == Decimal("100.00")
    assert settings.currency == "USD"
    assert settings.lock_lease_seconds == 25
    assert (
        settings.transactions_table_name,
        settings.aggregates_table_name,
        settings.ledger_table_name,
    ) == ("transactions", "transactions_aggregate", "ledger")


def test_environment_overrides_defaults():
    settings = Settings.from_env({"DEFAULT_BALANCE": "5.00", "LOCK_LEASE_SECONDS": "3"})
    assert (settings.default_balance, settings.lock_lease_seconds) == (Decimal("5.00"), 3)
