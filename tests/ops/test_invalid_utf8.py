"""One comment whose bytes are not valid UTF-8 does not keep its page-mates out of the index."""

from __future__ import annotations

from datetime import timedelta

from archiver.replay import Reply
from tests.ops.support import NOW, SlowFacebook, TOKEN, index_of, run_collect

MARK = "BROKEN-BYTES"


class BrokenBytesFacebook(SlowFacebook):
    """Sends the marker of one comment as bytes that are not UTF-8 (a truncated multi-byte
    sequence and a stray continuation byte), as a misbehaving proxy or platform might."""

    def handle(self, request):
        reply = super().handle(request)
        body, headers = reply.encoded()
        return Reply(reply.status, body.replace(MARK.encode(), b"caf\xc3 \xa9\xff"), headers, reply.reason)


def test_page_mates_of_an_invalid_utf8_comment_are_indexed(replay, make_config):
    from archiver.replay.samples import facebook_sample
    from tests.ops.support import Page

    sim = BrokenBytesFacebook("1000001", "Oak Creek Police Department", token=TOKEN)
    base = replay.mount(sim)
    facebook_sample(sim, NOW - timedelta(days=1))
    page = Page(sim, f"{base}/{sim.version}")
    broken = sim.posts[0].comments[1]
    broken.message = f"Thanks {MARK} officers"
    settings, night = run_collect(make_config([page.account()]), NOW)
    assert night.ok, night.results
    db = index_of(settings)
    assert db.conn.execute("SELECT count(*) FROM items").fetchone()[0] == page.world_size()
    text = db.conn.execute("SELECT text FROM items WHERE platform_id = ?", (broken.id,)).fetchone()[0]
    assert text.startswith("Thanks caf") and text.endswith(" officers") and "\ufffd" in text
    mates = [c.id for c in sim.posts[0].comments if c is not broken]
    found = db.conn.execute(f"SELECT count(*) FROM items WHERE platform_id IN ({','.join('?' * len(mates))})",
                            mates).fetchone()[0]
    assert found == len(mates)
