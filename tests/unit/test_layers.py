"""The core stays free of the screen and the network: domain and services import no Textual or HTTP stack."""

import os
import subprocess
import sys
from pathlib import Path


def test_domain_and_services_do_not_import_textual_or_store_sdks():
    code = (
        "import sys\n"
        "import supportdesk.domain.money, supportdesk.domain.ledger, supportdesk.domain.records, supportdesk.domain.query\n"
        "import supportdesk.services.ledger, supportdesk.services.lookup, supportdesk.services.importer\n"
        "import supportdesk.services.reconcile, supportdesk.services.notifications, supportdesk.services.sync_first\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'stripe', 'httpx', 'google', 'appstoreserverlibrary')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_domain_imports_no_sql():
    code = "import sys, supportdesk.domain.money, supportdesk.domain.ledger, supportdesk.domain.query\n" \
           "print([m for m in sys.modules if m.startswith(('sqlalchemy', 'sqlmodel'))])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_in_pyproject_hold():
    """The arrows in pyproject.toml's [tool.importlinter] (`lint-imports` in ./dev lint runs them too)."""
    code = ("import sys\nfrom importlinter.cli import lint_imports\n"
            "sys.exit(lint_imports(no_cache=True, no_logo=True))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_the_desk_and_the_settings_load_no_front_end():
    code = ("import sys, supportdesk.desk.context, supportdesk.config_file\n"
            "supportdesk.config_file.validate({}, 'none')\n"
            "print([m for m in sys.modules if m.split('.')[0] in ('textual', 'typer', 'httpx')"
            " or m.startswith(('supportdesk.cli', 'supportdesk.tui'))])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
