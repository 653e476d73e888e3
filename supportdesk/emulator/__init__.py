"""A local stand-in for the stores: Apple App Store Server API, Google Play Developer API (with its OAuth2
token endpoint and the RTDN Pub/Sub subscription) and a Stripe-shaped card processor, on one port.

Run it with ``supportdesk store-emulator --data DIR`` (``supportdesk.cli.emulator_cmd``) or, in tests, with
``supportdesk.emulator.server.start_in_thread``. Layout on ``http://127.0.0.1:PORT``:

- ``/apple/inApps/...``: ``apple``, ``apple_notifications`` (ES256 API JWT; JWS payloads signed by a test chain
  from ``pki``)
- ``/google/token``, ``/google/androidpublisher/v3/...``: ``google``; ``/google/pubsub/v1/...``: ``pubsub``
- ``/web/v1/...``: ``web`` (stripe-python works with ``base_addresses={"api": ".../web"}``)
- ``/_emulator/...``: ``control`` (faults, clock, consumption answers, reset; never faulted)

The clock (``clock``) is the wall clock, or fixed by ``--now`` until ``/_emulator/clock`` moves it; the stores'
look-back windows and every "now" the stores report follow it, while token expiry follows the wall clock.
Fault grammar: ``faults``. Config keys and the files written beside the config: ``config``.
By default it behaves as the real services are documented to (``state.Realism``; docs/stores.md): Apple's
per-endpoint rate limits (``ratelimit``) and ``--environment``, batchGet failing whole, held Pub/Sub pulls with an
ack deadline, charges without embedded refunds, Google partial refunds.
Nothing here imports ``supportdesk.services``, ``supportdesk.db`` or ``supportdesk.tui``.
"""
