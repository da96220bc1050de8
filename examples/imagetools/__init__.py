"""imagetools: a tiny downstream project whose tests use the pytest-dockerimages fixtures."""
