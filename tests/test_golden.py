"""Every captured request of real daemons (tests/golden/), replayed through the model: same status, headers
and body (ignoring only the order of images with equal Created, which the daemon does not fix)."""
from __future__ import annotations

import pytest
from golden_replay import PROFILES, differences, known_differences, load

CASES = [(profile, interaction["name"]) for profile in PROFILES for interaction in load(profile)["interactions"]]


@pytest.mark.parametrize(("profile", "name"), CASES, ids=[f"{p}/{n}" for p, n in CASES])
def test_model_answers_like_the_real_daemon(profile: str, name: str) -> None:
    golden = load(profile)
    interaction = next(i for i in golden["interactions"] if i["name"] == name)
    problems = differences(golden, interaction)
    known = known_differences().get((profile, name))
    if known:
        assert problems, f"listed as a known difference ({known}) but the model now matches: remove the row"
        pytest.xfail(known)
    assert not problems, f"{profile} {interaction['method']} {interaction['path']}:\n" + "\n".join(problems)


def test_golden_files_cover_every_daemon_and_many_requests() -> None:
    counts = {profile: len(load(profile)["interactions"]) for profile in PROFILES}
    assert all(count >= 50 for count in counts.values()), counts
