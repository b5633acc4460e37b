"""The platform's calendar: daily partitions and "today" are Brazilian days (the data's own time zone)."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

TIMEZONE = "America/Sao_Paulo"


def today_in_brazil() -> date:
    return datetime.now(ZoneInfo(TIMEZONE)).date()
