"""The assertion helpers' implementation; import them from `pytest_dockerimages.assertions`."""
