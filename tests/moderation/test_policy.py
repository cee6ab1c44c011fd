"""The comment policy file: accepted whole or refused whole, versioned by effective date."""

from __future__ import annotations

from datetime import date

import pytest

from archiver.errors import ConfigError
from archiver.moderation.policy import load_policy, parse_policy

TWO_VERSIONS = {
    "policy": {"name": "ocpd", "title": "OCPD comments"},
    "versions": [
        {"version": "2025-2", "effective": date(2025, 6, 1), "published_at": "https://city.example/p2",
         "categories": [{"name": "threats", "title": "Threats", "text": "No threats."},
                        {"name": "doxxing", "title": "Personal information", "text": "No addresses."}]},
        {"version": "2024-1", "effective": "2024-01-01",
         "categories": [{"name": "threats", "title": "Threats", "text": "No threats of violence."}]},
    ],
}


def test_shipped_example_loads_and_says_it_is_an_example():
    policy = load_policy(None)
    assert policy.placeholder and "example" in policy.placeholder_note.lower()
    names = [c.name for c in policy.latest.categories]
    assert {"off-topic", "obscene", "threats", "personal-attacks", "spam"} <= set(names)
    assert all(c.text and c.title for c in policy.latest.categories)


def test_version_in_force_follows_the_effective_date():
    policy = parse_policy(TWO_VERSIONS, "test")
    assert [v.version for v in policy.versions] == ["2024-1", "2025-2"]
    assert policy.in_force(date(2025, 5, 31)).version == "2024-1"
    assert policy.in_force(date(2025, 6, 1)).version == "2025-2"
    assert policy.in_force(date(2025, 6, 1)).category("doxxing").title == "Personal information"
    assert policy.in_force(date(2025, 5, 31)).category("doxxing") is None


def test_a_bad_policy_is_refused_whole_with_every_problem_named(tmp_path):
    bad = tmp_path / "policy.toml"
    bad.write_text('[policy]\nname = "x"\nfavourite = 1\n\n[[versions]]\nversion = "1"\neffective = "2024-13-01"\n\n'
                   '[[versions.categories]]\nname = "Off Topic"\ntitle = "Off-topic"\n\n'
                   '[[versions.categories]]\nname = "spam"\ntitle = "Spam"\ntext = "No spam."\n'
                   '[[versions.categories]]\nname = "spam"\ntitle = "Spam"\ntext = "Again."\n')
    with pytest.raises(ConfigError) as exc:
        load_policy(bad)
    message = str(exc.value)
    for problem in ("policy.title: required text", "policy.favourite: unknown key", "versions[0].effective",
                    "'Off Topic' must be lower case", "categories[0].text: required text",
                    "category 'spam' appears more than once"):
        assert problem in message, problem


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the comment policy .*moderation.policy"):
        load_policy(tmp_path / "nope.toml")
