"""Capture as it happens: ``archiver listen``, the driver beside the nightly sweep.

Where a platform pushes changes (Graph webhooks for Facebook Pages and Instagram), the listener
receives each delivery (``graph``), keeps it on disk before answering (``pending``), and every
``listen.flush_seconds`` captures the threads the deliveries named through the same capture
pipeline as the nightly job (``archiver.capture.run_account`` with ``targets``): the same WARC
records, the same change decisions, the same index rows. Each delivery's body is kept in the
WARC beside the capture it triggered (``webhook/1`` metadata). ``service`` runs it all.

The nightly job stays the completeness sweep: a listener capture reads only the threads named
and never declares a post deleted because it was not looked at.
"""
