"""Capture: one way of turning a platform's API answers into WARC records and index rows, and
the three drivers that decide what to read and when.

The one writer: ``session`` (``CaptureSession``: the WARC records of each exchange, the change
decisions, the commits to store and index) and ``account`` (``run_account``: one account's run
of its collector through a session, inside the platform's quota budget). The drivers call
``run_account`` and nothing else of capture:

- ``nightly``: ``collect``, the sweep over every account each night, the completeness pass;
- ``listen``: ``archiver listen``, the threads that webhook deliveries and stream events name
  (received by ``archiver.listen``), captured within minutes;
- ``poll``: the quota-aware poller for platforms that push nothing: fresh threads often, old
  ones rarely.

So every driver writes the same records, decides changes the same way and charges the same
budget, and a fix to capture is made in one place.

The nightly sweep's names and the shared ones are exported here. The listen and poll drivers
are imported from their modules (``archiver.capture.listen``, ``archiver.capture.poll``): the
nightly job then never loads the webhook app (Flask) it does not serve.
"""

from .account import AccountResult, archived_to, new_run_id, polled, run_account
from .nightly import CollectReport, collect
from .session import CaptureSession, Interrupted

__all__ = ["AccountResult", "CaptureSession", "CollectReport", "Interrupted", "archived_to", "collect", "new_run_id",
           "polled", "run_account"]
