"""Sample worlds for the demo, tests and benchmarks (synthetic people, hostile text included)."""

from __future__ import annotations

from datetime import datetime, timedelta

from .facebook import FacebookSimulator, FbComment

HOSTILE = [
    "<script>alert('xss')</script> nice try",
    "<img src=x onerror=alert(1)> look at this",
    "\u202eReversed text with RTL override\u202c and \u05e9\u05dc\u05d5\u05dd",
    "Family \U0001F468\u200D\U0001F469\u200D\U0001F467 emoji ZWJ and zero\u200bwidth",
]


def facebook_sample(sim: FacebookSimulator, now: datetime) -> None:
    """A small department page: three posts, comments, replies, hostile text, a photo."""
    day = timedelta(days=1)
    p1 = sim.add_post(101, "Road closure on Drexel Ave near Drexel Town Square tonight 9pm-5am.",
                      now - 3 * day, images=["drexel-closure.jpg"], shares=12, reactions=40)
    p2 = sim.add_post(102, "Thank you to everyone who came to Coffee with a Cop!", now - 2 * day, reactions=85)
    p3 = sim.add_post(103, "Reminder: lock your cars. Several thefts reported on the south side.", now - day)
    c = 0

    def comment(post, text, when, author="Jane Public", parent=None, **kw):
        nonlocal c
        c += 1
        com = FbComment(id=f"{post.id.split('_')[1]}_{5000 + c}", message=text, created_time=when,
                        author_name=author, author_id=str(9000 + c), parent=parent, **kw)
        post.comments.append(com)
        return com

    a = comment(p1, "Is the closure on the whole street or just one lane?", now - 3 * day + timedelta(hours=1))
    comment(p1, "Whole street, detour via 27th St.", now - 3 * day + timedelta(hours=2),
            author="Oak Creek Police Department", parent=a.id)
    comment(p1, HOSTILE[0], now - 3 * day + timedelta(hours=3), author="Troll Account")
    comment(p2, "Great event, thanks officers!", now - 2 * day + timedelta(hours=1), author="Sam Resident")
    comment(p2, HOSTILE[2], now - 2 * day + timedelta(hours=2), author="\u05d3\u05d5\u05d3")
    comment(p2, HOSTILE[3], now - 2 * day + timedelta(hours=3), author="Emoji Fan", image="coffee.jpg")
    comment(p3, "Happened to my neighbor too on 10th Ave.", now - day + timedelta(hours=1), author="Pat Q.")
    comment(p3, HOSTILE[1], now - day + timedelta(hours=2), author="Spam Bot 3000")


def facebook_next_night(sim: FacebookSimulator, now: datetime) -> None:
    """What changes on the page during the day: an edit, a hide, a deletion, a new reply."""
    p1, p2, p3 = sim.posts[:3]
    p1.message += " UPDATE: reopened at 4am."
    p1.comments[2].is_hidden = True  # the department hid the troll's script comment
    p3.comments[1].deleted = True  # the spam bot deleted its comment
    p2.comments.append(FbComment(id=f"{p2.id.split('_')[1]}_5999", message="Will there be another one in May?",
                                 created_time=now - timedelta(hours=3), author_name="Sam Resident",
                                 author_id="9999", parent=p2.comments[0].id))


def facebook_synthetic(sim: FacebookSimulator, now: datetime, posts: int, comments: int, *,
                       spread: bool = False) -> None:
    """A page of ``posts`` posts with ``comments`` comments each (benchmarks). ``spread``: as
    a real Page's threads vary, from 1 to ``2 * comments - 1`` comments (two posts in a row
    have ``2 * comments`` between them, so the page still has ``posts * comments``)."""
    for p in range(posts):
        post = sim.add_post(10_000 + p, f"Post {p}: community update number {p} " + "lorem ipsum " * 8,
                            now - timedelta(hours=p + 1))
        count = comments
        if spread and comments and (p % 2 or p + 1 < posts):  # an odd last post has ``comments``
            first = 1 + (p // 2 * 7919) % (2 * comments - 1)
            count = 2 * comments - first if p % 2 else first
        for n in range(count):
            post.comments.append(FbComment(
                id=f"{10_000 + p}_{p * 100_000 + n}",
                message=f"Comment {n} on post {p}: " + "residents discussing the update " * 3,
                created_time=post.created_time + timedelta(seconds=n + 1),
                author_name=f"Resident {n % 500}", author_id=str(800_000 + n % 500),
            ))
