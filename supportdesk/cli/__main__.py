from supportdesk.cli.start import run

run()
