"""The differential check's pure parts: comparing two answers, the probes, the report's figures."""
from __future__ import annotations

from pytest_dockerimages._core.profiles import get_profile
from pytest_dockerimages._real.check import Answer, CheckReport, Probe, diff_all

JSON = {"Content-Type": "application/json"}



def test_an_excused_probe_counts_only_where_the_bodies_differ_and_the_report_gives_the_share() -> None:
    profile = get_profile("docker-29.7-containerd")
    until = Probe("GET", '/images/json?filters={"until":["87600h"]}')
    plain, broken = Probe("GET", "/images/json"), Probe("GET", "/images/json?all=1")
    answers = {until.target: (b"[]\n", b"[]\n"), plain.target: (b"[]\n", b"[]\n"),
               broken.target: (b"[]\n", b'[{"Id":"x"}]\n')}
    report = diff_all([until, plain, broken], lambda p: Answer(200, JSON, answers[p.target][0]),
                      lambda p: Answer(200, JSON, answers[p.target][1]), profile, CheckReport(profile.name))
    assert (report.probes, len(report.known), report.identical) == (3, 0, 2)
    assert "2 of 3 answers identical (66.7 %)" in report.render()
    answers[until.target] = (b"[]\n", b'[{"Id":"x","Created":1}]\n')
    again = diff_all([until], lambda p: Answer(200, JSON, answers[p.target][0]),
                     lambda p: Answer(200, JSON, answers[p.target][1]), profile, CheckReport(profile.name))
    assert (again.ok, len(again.known), again.identical) == (True, 1, 0)
    assert "known (1 requests): until on the containerd store" in again.render()
