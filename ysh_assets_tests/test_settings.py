"""Settings defaults and secret redaction."""

import pytest

from ysh_assets.settings import DEFAULTS, Settings, redact_dsn


def test_defaults_give_the_local_profile():
    settings = Settings.from_env({})
    assert settings.profile == "local"
    assert settings.sources == "live"
    assert settings.object_store_root.startswith("file://") and settings.object_store_root.endswith("/data/objects")
    assert set(DEFAULTS) >= {"YSH_PROFILE", "YSH_PG_DSN", "YSH_S3_ENDPOINT_URL", "YSH_CKAN_URL", "YSH_SOURCES"}


def test_catalog_urls_are_a_json_object_of_url_lists():
    urls = {"YSH_CATALOG_URLS": '{"Solfacil": ["https://example.com/inverters.json"]}'}
    assert Settings.from_env(urls).catalog_urls == {"solfacil": ["https://example.com/inverters.json"]}
    assert Settings.from_env({}).catalog_urls == {}
    for bad in ('["https://example.com/a.json"]', '{"odex": ["ftp://example.com/a.json"]}', "{not json"):
        with pytest.raises(ValueError, match="YSH_CATALOG_URLS"):
            Settings.from_env({"YSH_CATALOG_URLS": bad})


def test_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="YSH_PROFILE"):
        Settings.from_env({"YSH_PROFILE": "cloud"})


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://ysh:s3cret@db:5432/ysh", "postgresql://ysh:***@db:5432/ysh"),
        (
            "postgresql://ysh@db/ysh?password=s3cret&sslmode=require",
            "postgresql://ysh@db/ysh?password=***&sslmode=require",
        ),
        ("host=db user=ysh password=s3cret dbname=ysh", "host=db user=ysh password=*** dbname=ysh"),
        ("host=db password='s3 cret' dbname=ysh", "host=db password=*** dbname=ysh"),
        ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
        ("redis://:s3#cret@cache:6379/0", "redis://:***@cache:6379/0"),
        ("postgresql://ysh:a?b/s3cret#x@db:5432/ysh", "postgresql://ysh:***@db:5432/ysh"),
        ("postgresql://ysh:p@ss:s3cret@db/ysh", "postgresql://ysh:***@db/ysh"),
        ("postgresql://ysh@db/ysh?sslpassword=s3cret", "postgresql://ysh@db/ysh?sslpassword=***"),
        ("host=db sslpassword=s3cret user=ysh", "host=db sslpassword=*** user=ysh"),
        ("postgresql://postgres@127.0.0.1:5432/postgres", "postgresql://postgres@127.0.0.1:5432/postgres"),
    ],
)
def test_redact_dsn_hides_every_password(dsn, shown):
    assert redact_dsn(dsn) == shown
    assert "s3cret" not in redact_dsn(dsn) and "cret" not in redact_dsn(dsn)
