"""The ANEEL pipeline's stack (loopback portal, PostgreSQL, S3), shared with the change-log tests."""

from ysh_assets_tests.aneel.test_pipeline import files, portal, stack  # noqa: F401
