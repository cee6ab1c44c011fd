"""What the platforms push, and how it is received: the inbound side of ``archiver listen``.

Where a platform pushes changes, the listener receives them: Graph webhook deliveries for
Facebook Pages and Instagram (``graph``: the verification handshake and the signature check),
Mastodon's user stream (``mastodon``) and Bluesky's Jetstream (``jetstream``), both reconnecting
with a bounded backoff and their status on disk (``streams``). ``receiver`` holds them for the
configured accounts and keeps each delivery or event on disk before acknowledging it
(``pending``); ``subscribe`` subscribes the app to a Page's webhooks.

Nothing here captures: the listen driver (``archiver.capture.listen``) turns what waits in
``pending`` into targeted captures through the same pipeline as the nightly sweep
(``archiver.capture.run_account`` with ``targets``). The nightly job stays the completeness
sweep: a listener capture reads only the threads named and never declares a post deleted
because it was not looked at.
"""
