"""The core stays free of the screen and the network: domain and services import no Textual or HTTP stack."""

import subprocess
import sys


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
