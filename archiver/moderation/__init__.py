"""The moderation record: who removed which comment, when, and under which posted rule.

- ``policy``: the agency's posted comment policy as reviewed, versioned data.
- ``attribution``: what each platform's signal says about who removed a comment.
- ``reasons``: records staff's append-only entries naming the policy category of a removal.
- ``report``: the period's removals with attribution and reasons, totals, method.
- ``consistency``: removed and kept comments with the same words, side by side.
- ``bundle``: the report as a verifiable BagIt bag.
"""
