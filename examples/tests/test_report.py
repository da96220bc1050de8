"""Tests of imagetools.report: the real docker CLI against the fake daemon via DOCKER_HOST."""
import os
import shutil

import pytest
from imagetools.report import ReportError, collect, parse_size, render, summarize


@pytest.fixture
def docker_cli(dockerimages_host, tmp_path, monkeypatch):
    """DOCKER_HOST points at the fake; a private DOCKER_CONFIG keeps the user's config untouched."""
    if shutil.which("docker") is None:
        reason = "the docker CLI is not installed"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, so not skipping: {reason}")
        pytest.skip(reason)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    return dockerimages_host


def test_report_on_the_built_in_images(docker_cli):
    summary = summarize(collect())
    assert summary.repositories["example/base"] == ("1.0", "latest")
    assert summary.repositories["tool"] == ("latest",)
    assert summary.images == len({row["ID"] for row in collect()})
    assert "example/app: 1.2.3" in render(summary)


@pytest.mark.dockerimages(profile="docker-26.1", images=[
    {"tags": ["web:1", "web:2"], "layers": [{"digest": "sha256:" + "1" * 64, "size": 5_000_000}]},
    {"tags": ["db:15"], "layers": [{"digest": "sha256:" + "2" * 64, "size": 2_000_000}]},
    {"layers": [{"digest": "sha256:" + "3" * 64, "size": 1_000_000}]},
])
def test_report_counts_rows_and_sizes(docker_cli):
    summary = summarize(collect())
    assert (summary.images, summary.rows, summary.untagged) == (3, 4, 1)
    assert dict(summary.repositories) == {"db": ("15",), "web": ("1", "2")}
    assert summary.total_bytes == 8_000_000


@pytest.mark.dockerimages(images=[{"tags": ["only:1"]}])
def test_report_follows_changes_made_during_the_test(docker_cli, dockerimages_fake):
    assert summarize(collect()).images == 1
    dockerimages_fake.add({"tags": ["later:1"]})
    dockerimages_fake.tag("only:1", "only:2")
    summary = summarize(collect())
    assert dict(summary.repositories) == {"later": ("1",), "only": ("1", "2")}


def test_daemon_errors_become_report_errors(docker_cli, dockerimages_fake):
    dockerimages_fake.fail_next(status=500, message="disk on fire", path="/images/json")
    with pytest.raises(ReportError, match="disk on fire"):
        collect()


@pytest.mark.parametrize("text,expected", [
    ("7.39MB", 7_390_000), ("2.05kB", 2050), ("0B", 0), ("1.2GB", 1_200_000_000),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected
