"""Every handler builds its clients at import (Lambda's INIT), not on its first event."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted(
    path.stem for path in (ROOT / "functions" / "handlers").glob("*.py") if path.stem != "__init__"
)

# In a new interpreter: each handler imported on its own (the project's modules forgotten between
# two, as a new sandbox has none), then, for each client factory of functions.repositories that
# the import brought in, whether its client was built.
PROBE = """
import importlib, json, sys
found = {}
for handler in sys.argv[1:]:
    for name in [m for m in sys.modules if m == "functions" or m.startswith("functions.")]:
        del sys.modules[name]
    importlib.import_module(f"functions.handlers.{handler}")
    found[handler] = {
        name: module.client.cache_info().currsize
        for name, module in sys.modules.items()
        if name.startswith("functions.repositories.") and hasattr(module, "client")
    }
print(json.dumps(found))
"""


def test_every_client_a_handler_uses_is_built_by_its_import():
    ran = subprocess.run(
        [sys.executable, "-c", PROBE, *HANDLERS],
        cwd=ROOT,
        env={"PATH": "", "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    built = json.loads(ran.stdout)
    assert set(built) == set(HANDLERS)
    unbuilt = {
        handler: sorted(name for name, size in factories.items() if size != 1)
        for handler, factories in built.items()
    }
    assert unbuilt == {handler: [] for handler in HANDLERS}
    # The factories are found where they are used.
    assert "functions.repositories.dynamodb" in built["acquire_lock"]
    assert "functions.repositories.event_bus" in built["forward_events"]
    assert "functions.repositories.secrets" in built["get_transactions"]
