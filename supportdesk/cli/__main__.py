from supportdesk.cli.main import run

run()
